/* case/decide: asking the policies from the domain (see internal.h).
 *
 * Every call leaves a timeline note: a "decision" with module, function,
 * policy version, the names of its arguments (their values are in the
 * request's one policy.inputs note), the output and the policy's log lines;
 * or a "policy.error" when the policy failed, looped, broke a cap or answered
 * something of the wrong shape. The caller then falls back to a safe default
 * (manual review, the spec's routing) so no case is lost. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

static const char *const OUTCOMES[] = {"approve", "reject", "review", NULL};
static const char *const PAYERS[] = {"buyer", "merchant", NULL};

const policy_field SCHEMA_EVALUATE[4] = {{"outcome", PF_STRING, OUTCOMES},
                                         {"reason_code", PF_STRING, NULL},
                                         {"message", PF_STRING, NULL},
                                         {"shipping_paid_by", PF_STRING, PAYERS}};
const policy_field SCHEMA_REFUND[2] = {{"amount_cents", PF_INTEGER, NULL}, {"breakdown", PF_ANY, NULL}};
const policy_field SCHEMA_COMPENSATE[2] = {{"coupon_cents", PF_INTEGER, NULL}, {"reason", PF_STRING, NULL}};
const policy_field SCHEMA_ROUTE[3] = {{"queue", PF_STRING, NULL}, {"priority", PF_INTEGER, NULL}, {"skills", PF_STRINGS, NULL}};
const policy_field SCHEMA_TARGETS[3] = {
    {"first_response", PF_INTEGER, NULL}, {"resolution", PF_INTEGER, NULL}, {"business", PF_BOOLEAN, NULL}};
const policy_field SCHEMA_ON_BREACH[4] = {{"escalate", PF_BOOLEAN, NULL},
                                          {"queue", PF_STRING, NULL},
                                          {"priority", PF_INTEGER, NULL},
                                          {"next_after", PF_INTEGER, NULL}};
const policy_field SCHEMA_WARNINGS[1] = {{"percents", PF_ANY, NULL}};
const policy_field SCHEMA_ESCALATE[4] = {{"priority", PF_INTEGER, NULL},
                                         {"queue", PF_STRING, NULL},
                                         {"alert_merchant", PF_BOOLEAN, NULL},
                                         {"next_after", PF_INTEGER, NULL}};
const policy_field SCHEMA_PLAN[2] = {{"send_after", PF_INTEGER, NULL}, {"questions", PF_ANY, NULL}};
const policy_field SCHEMA_ON_ANSWER[3] = {{"followup", PF_BOOLEAN, NULL}, {"queue", PF_STRING, NULL}, {"reason", PF_STRING, NULL}};
const policy_field SCHEMA_RELATIONSHIP[2] = {{"send_after", PF_INTEGER, NULL}, {"questions", PF_ANY, NULL}};

static const char *const ARG_NAMES[] = {"case", "order", "answer", "step", "buyer", "kind"};

/* ---- members ---- */

emitter *mw_begin(members_w *m) {
    m->tb = (textbuf){0};
    jsonw_init(&m->w, &m->tb);
    emitter *e = jsonw_emitter(&m->w);
    emit_object(e);
    return e;
}

char *mw_take(members_w *m) {
    emit_object_end(jsonw_emitter(&m->w));
    size_t len;
    char *text = tb_take(&m->tb, &len);
    if (text == NULL || len < 2) {
        free(text);
        return NULL;
    }
    memmove(text, text + 1, len - 2); /* drop the braces */
    text[len - 2] = '\0';
    return text;
}

int note_from(as_changes *ch, const char *type, const as_actor *who, int64_t at, members_w *m) {
    char *members = mw_take(m);
    if (members == NULL) {
        ch->failed = 1;
        return -1;
    }
    return changes_note(ch, type, who, at, members);
}

void event_from(as_changes *ch, const char *type, int64_t at, members_w *m, as_event_case with_case) {
    char *members = mw_take(m);
    if (members == NULL) ch->failed = 1;
    else changes_event(ch, type, at, members, with_case);
}

/* ---- views ---- */

void decide_begin(decide_req *q, const as_decider *d, as_changes *ch, const as_actor *who,
                  const as_case *kase, const as_order *order) {
    memset(q, 0, sizeof *q);
    q->d = d;
    q->ch = ch;
    q->who = who;
    q->kase = kase;
    q->order = order;
    q->merchant = kase && kase->merchant_id[0] ? kase->merchant_id : NULL;
    for (int s = 0; s < 2; s++)
        for (int a = 0; a < DECIDE_ARGS_MAX; a++) q->views[s][a] = -1;
    q->inputs_note = -1;
}

void decide_begin_buyer(decide_req *q, const as_decider *d, as_changes *ch, const as_nps *buyer) {
    decide_begin(q, d, ch, NULL, NULL, NULL);
    q->buyer = buyer;
    q->merchant = buyer->merchant_id[0] ? buyer->merchant_id : NULL;
}

static policy_set *set_of(const decide_req *q, int shadow) {
    return shadow ? q->d->shadow : q->d->policies;
}

void decide_end(decide_req *q) {
    for (int s = 0; s < 2; s++)
        for (int a = 0; a < DECIDE_ARGS_MAX; a++)
            if (q->views[s][a] >= 0) policy_view_free(set_of(q, s), q->views[s][a]);
}

static void encode_case(emitter *e, const void *ud) {
    const decide_req *q = ud;
    case_encode_view(q->kase, q->order, e);
}

static void encode_order(emitter *e, const void *ud) { order_encode_view(((const decide_req *)ud)->order, e); }

static void encode_answer(emitter *e, const void *ud) {
    const survey_answer *a = ((const decide_req *)ud)->answer;
    emit_object(e);
    emit_kint(e, "csat", a->csat);
    if (a->nps != AS_NONE) emit_kint(e, "nps", a->nps);
    if (a->comment) emit_kstr(e, "comment", a->comment);
    emit_object_end(e);
}

static void encode_step(emitter *e, const void *ud) {
    const escalation_step *st = ((const decide_req *)ud)->step;
    emit_object_n(e, 3);
    emit_kint(e, "level", st->level);
    if (st->kind) emit_kstr(e, "kind", st->kind);
    if (st->since != AS_NONE) emit_kint(e, "since", st->since);
    emit_object_end(e);
}

/* A relationship survey's subject: the buyer, the merchant and the rounds
 * so far (no contact data). */
static void encode_buyer(emitter *e, const void *ud) {
    const as_nps *n = ((const decide_req *)ud)->buyer;
    emit_object_n(e, 6);
    emit_kstr(e, "buyer_id", n->buyer_id);
    if (n->merchant_id[0]) emit_kstr(e, "merchant_id", n->merchant_id);
    emit_kint(e, "rounds", n->rounds);
    if (n->last_sent_at != AS_NONE) emit_kint(e, "last_sent_at", n->last_sent_at);
    if (n->last_answered_at != AS_NONE) emit_kint(e, "last_answered_at", n->last_answered_at);
    if (n->last_nps != AS_NONE) emit_kint(e, "last_nps", n->last_nps);
    emit_object_end(e);
}

static const policy_encode_fn ENCODERS[DECIDE_ARGS_MAX] = {encode_case, encode_order, encode_answer, encode_step,
                                                           encode_buyer};

/* The view of arg in the set (built on first use); -1 with err. */
static int view_of(decide_req *q, int shadow, decide_arg arg, char *err, size_t errlen) {
    int *v = &q->views[shadow][arg];
    if (*v < 0 && policy_view_new(set_of(q, shadow), ENCODERS[arg], q, v, err, errlen) != 0) *v = -1;
    return *v;
}

/* The policy.inputs note: every argument of the request once. */
static int inputs_note(decide_req *q, const char *kind) {
    if (q->inputs_note >= 0) return q->inputs_note;
    members_w m;
    emitter *e = mw_begin(&m);
    if (q->kase) {
        emit_key(e, "case");
        case_encode_view(q->kase, q->order, e);
    }
    if (q->buyer) {
        emit_key(e, "buyer");
        encode_buyer(e, q);
    }
    if (q->order) {
        emit_key(e, "order");
        order_encode_view(q->order, e);
    }
    if (q->answer) {
        emit_key(e, "answer");
        encode_answer(e, q);
    }
    if (q->step) {
        emit_key(e, "step");
        encode_step(e, q);
    }
    if (kind) emit_kstr(e, "kind", kind);
    q->inputs_note = note_from(q->ch, "policy.inputs", q->who, q->d->now, &m);
    return q->inputs_note;
}

/* ---- ctx ---- */

static json_t *customer_cb(void *ud, const char *buyer_id) {
    decide_req *q = ud;
    if (!q->customer_read || strcmp(q->customer_id, buyer_id) != 0) {
        AS_IDSET(q->customer_id, buyer_id);
        q->customer_read = q->d->reads && q->d->reads->customer &&
                                   q->d->reads->customer(q->d->reads->ud, q->merchant, buyer_id, &q->customer) == 0
                               ? 1 : -1;
    }
    if (q->customer_read < 0) return NULL;
    const as_customer c = q->customer;
    json_t *out = json_pack("{s:I,s:I}", "returns_30d", (json_int_t)c.returns_30d, "cases_30d",
                            (json_int_t)c.cases_30d);
    if (out == NULL) return NULL;
    json_object_set_new(out, "lifetime_spend_cents",
                        json_integer(c.lifetime_spend_cents == AS_NONE ? 0 : c.lifetime_spend_cents));
    if (c.tier[0]) json_object_set_new(out, "tier", json_string(c.tier));
    return out;
}

/* ---- calls ---- */

static void record(decide_req *q, const char *type, const char *module, const char *fn,
                   const char *version, const decide_arg *args, int nargs, const char *output,
                   const char *error, json_t *logs, const char *kind) {
    int inputs = inputs_note(q, kind);
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "module", module);
    emit_kstr(e, "function", fn);
    emit_kstr(e, "policy_version", version);
    if (error) emit_kstr(e, "merchant_id", q->merchant);
    emit_key(e, "args");
    emit_array(e);
    for (int i = 0; i < nargs; i++) emit_str(e, ARG_NAMES[args[i]]);
    emit_array_end(e);
    if (output) {
        emit_key(e, "output");
        e->ops->raw(e, output, strlen(output));
    }
    if (error) emit_kstr(e, "error", error);
    if (logs && json_array_size(logs) > 0) {
        /* through the writer, line by line: a log line may hold any byte
         * (NUL included), which Jansson's own text would keep as \u0000 */
        size_t i;
        json_t *line;
        emit_key(e, "logs");
        emit_array(e);
        json_array_foreach(logs, i, line) {
            if (json_is_string(line)) e->ops->string(e, json_string_value(line), json_string_length(line));
            else emit_null(e);
        }
        emit_array_end(e);
    }
    int n = note_from(q->ch, type, q->who, q->d->now, &m);
    if (n >= 0) q->ch->notes[n].inputs_ref = inputs;
}

/* A policy failed: counted where the operator watches (metrics, the alert
 * rate), and past the rate an alert rides with the change. */
static void count_failure(decide_req *q, const char *module, const char *fn) {
    const as_policy_monitor *m = q->d->monitor;
    if (m == NULL || !m->failed(m->ud, module, fn, q->merchant, q->d->now)) return;
    members_w mw;
    emitter *e = mw_begin(&mw);
    emit_kstr(e, "module", module);
    emit_kstr(e, "function", fn);
    emit_kstr(e, "merchant_id", q->merchant);
    changes_alert(q->ch, "policy_errors", q->d->now, mw_take(&mw),
                  "policy_errors: %s.%s of merchant %s fails past the alert rate", module, fn,
                  q->merchant ? q->merchant : "(platform)");
}

/* The merchant's override failed and the floor answered: a policy.error of
 * its own, before the floor's decision, so a broken override is never a
 * silent floor. */
static void record_override_failure(decide_req *q, const char *module, const char *fn, const decide_arg *args,
                                    int nargs, const char *error, const char *kind) {
    int inputs = inputs_note(q, kind);
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "module", module);
    emit_kstr(e, "function", fn);
    emit_kstr(e, "policy_version", policy_set_version(q->d->policies));
    emit_kstr(e, "merchant_id", q->merchant);
    emit_kstr(e, "stage", "override");
    emit_kstr(e, "error", error);
    emit_kstr(e, "then", "the floor answered");
    emit_key(e, "args");
    emit_array(e);
    for (int i = 0; i < nargs; i++) emit_str(e, ARG_NAMES[args[i]]);
    emit_array_end(e);
    int n = note_from(q->ch, "policy.error", q->who, q->d->now, &m);
    if (n >= 0) q->ch->notes[n].inputs_ref = inputs;
    count_failure(q, module, fn);
}

static int call_on(decide_req *q, int shadow, const char *module, const char *fn, const decide_arg *args,
                   int nargs, const char *kind, const policy_field *schema, int nfields, policy_result *out) {
    policy_set *ps = set_of(q, shadow);
    char err[1024] = "";
    policy_arg pargs[DECIDE_ARGS_MAX + 1];
    int rc = 0;
    for (int i = 0; i < nargs && rc == 0; i++) {
        pargs[i].view = args[i] == ARG_KIND ? -1 : view_of(q, shadow, args[i], err, sizeof err);
        pargs[i].str = args[i] == ARG_KIND ? kind : NULL;
        if (args[i] != ARG_KIND && pargs[i].view < 0) rc = -1;
    }
    json_t *logs = json_array();
    policy_ctx ctx = {.now = q->d->now, .merchant_id = q->merchant, .customer = customer_cb, .ud = q, .log = logs};
    if (rc == 0)
        rc = policy_call_views(ps, q->merchant, module, fn, pargs, nargs, schema, nfields, &ctx, out, err,
                               sizeof err);
    if (rc == 0 && !shadow && out->override_error)
        record_override_failure(q, module, fn, args, nargs, out->override_error, kind);
    else if (rc != 0 && !shadow)
        count_failure(q, module, fn);
    const char *type = shadow ? (rc == 0 ? "shadow.decision" : "shadow.error") : (rc == 0 ? "decision" : "policy.error");
    record(q, type, module, fn, policy_set_version(ps), args, nargs, rc == 0 ? out->output : NULL,
           rc == 0 ? NULL : err, logs, kind);
    json_decref(logs);
    return rc;
}

int decide_call(decide_req *q, const char *module, const char *fn, const decide_arg *args, int nargs,
                const char *kind, const policy_field *schema, int nfields, policy_result *out) {
    return call_on(q, 0, module, fn, args, nargs, kind, schema, nfields, out);
}

int decide_shadow(decide_req *q, const char *module, const char *fn, const decide_arg *args, int nargs,
                  const policy_field *schema, int nfields, policy_result *out) {
    memset(out, 0, sizeof *out);
    if (q->d->shadow == NULL) return 1;
    return call_on(q, 1, module, fn, args, nargs, NULL, schema, nfields, out) == 0 ? 0 : -1;
}

void decide_answer_error(decide_req *q, const char *module, const char *fn, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "module", module);
    emit_kstr(e, "function", fn);
    emit_kstr(e, "policy_version", policy_set_version(q->d->policies));
    emit_kstr(e, "merchant_id", q->merchant);
    emit_kstr(e, "error", msg);
    note_from(q->ch, "policy.error", q->who, q->d->now, &m);
    count_failure(q, module, fn);
}

int decide_has(decide_req *q, const char *module, const char *fn) {
    return policy_has(q->d->policies, q->merchant, module, fn);
}
