/* case/steps: the policy-driven steps the operations share: routing, SLA
 * targets, goodwill, the survey plan, the refund amount, and assignment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

int64_t clamp_priority(int64_t p) { return p < 1 ? 1 : p > 5 ? 5 : p; }

/* Queue when routing fails: the spec's default routing. */
static const char *fallback_queue(const as_case *c) {
    if (c->followup) return "quality";
    switch (c->type) {
    case CASE_CONSULTATION:
    case CASE_LOGISTICS: return "customer_service";
    case CASE_REPAIR: return "tech_support";
    case CASE_COMPLAINT: return "quality";
    default: return "after_sales";
    }
}

void step_route(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE};
    policy_result r;
    int ok = decide_call(q, "routing", "route", args, 1, NULL, SCHEMA_ROUTE, NFIELDS(SCHEMA_ROUTE), &r) == 0;
    const char *queue = ok && r.f[RT_QUEUE].present ? r.f[RT_QUEUE].s : NULL;
    if (queue && !as_id_valid(queue)) {
        decide_answer_error(q, "routing", "route", "queue '%.64s' is not a queue name (A-Z a-z 0-9 . _ : -)", queue);
        queue = NULL;
    }
    AS_IDSET(c->queue, queue ? queue : fallback_queue(c));
    c->priority = clamp_priority(ok && r.f[RT_PRIORITY].present ? r.f[RT_PRIORITY].i : 3);
    free(c->skills);
    c->skills = NULL;
    c->nskills = 0;
    const policy_fval *sk = ok ? &r.f[RT_SKILLS] : NULL;
    if (sk && sk->n > 0 && (c->skills = calloc(sk->n, sizeof *c->skills)) != NULL) {
        for (size_t i = 0; i < sk->n; i++)
            if (as_id_valid(sk->list[i])) AS_IDSET(c->skills[c->nskills++], sk->list[i]);
    } else if (sk && sk->n > 0) {
        q->ch->failed = 1;
    }
    policy_result_free(&r);
}

#define WARNINGS_PER_TARGET (SLA_WARNINGS_MAX / SLA__KINDS)

/* sla.warnings' percents: integers 1..99, sorted, each once, at most
 * WARNINGS_PER_TARGET. 0 and *n, or -1 (recorded) for an answer of another
 * shape. */
static int warning_percents(decide_req *q, const policy_result *r, int64_t out[WARNINGS_PER_TARGET], int *n) {
    *n = 0;
    if (r->nil || !r->f[WN_PERCENTS].present) return 0;
    json_t *doc = json_loads(r->output, 0, NULL);
    json_t *list = json_object_get(doc, "percents");
    size_t i;
    json_t *v;
    int rc = json_is_array(list) ? 0 : -1;
    json_array_foreach(list, i, v) {
        json_int_t p = json_integer_value(v);
        if (!json_is_integer(v) || p < 1 || p > 99) rc = -1;
        int at = 0, dup = 0;
        while (rc == 0 && at < *n && out[at] <= p) dup |= out[at++] == p;
        if (rc != 0 || dup) continue;
        if (*n == WARNINGS_PER_TARGET) {
            rc = -1;
            break;
        }
        memmove(&out[at + 1], &out[at], (size_t)(*n - at) * sizeof *out);
        out[at] = p;
        (*n)++;
    }
    json_decref(doc);
    if (rc != 0) {
        *n = 0;
        decide_answer_error(q, "sla", "warnings", "percents must be a list of at most %d integers from 1 to 99",
                            WARNINGS_PER_TARGET);
    }
    return rc;
}

static int by_due(const void *a, const void *b) {
    int64_t x = ((const as_sla_warning *)a)->due, y = ((const as_sla_warning *)b)->due;
    return x < y ? -1 : x > y;
}

/* sla.warnings: for each target, the instants at its percents of the
 * target's time (working time on the calendar when the target is). */
static void step_warnings(decide_req *q, as_case *c, const int64_t secs[SLA__KINDS], const calendar *cal) {
    static const decide_arg args[] = {ARG_CASE};
    if (!decide_has(q, "sla", "warnings")) return;
    policy_result r;
    if (decide_call(q, "sla", "warnings", args, 1, NULL, SCHEMA_WARNINGS, NFIELDS(SCHEMA_WARNINGS), &r) != 0) return;
    int64_t pct[WARNINGS_PER_TARGET];
    int n;
    if (warning_percents(q, &r, pct, &n) == 0) {
        c->sla.nwarnings = 0;
        for (int k = 0; k < SLA__KINDS; k++) {
            for (int i = 0; secs[k] > 0 && i < n; i++) {
                int64_t part = secs[k] / 100 * pct[i] + secs[k] % 100 * pct[i] / 100;
                int64_t at = cal ? calendar_add_business_seconds(cal, c->created_at, part)
                                 : part > INT64_MAX - c->created_at ? CALENDAR_NEVER : c->created_at + part;
                if (at == CALENDAR_NEVER) continue;
                c->sla.warnings[c->sla.nwarnings++] = (as_sla_warning){(sla_kind)k, pct[i], at, AS_NONE};
            }
        }
        qsort(c->sla.warnings, (size_t)c->sla.nwarnings, sizeof c->sla.warnings[0], by_due);
    }
    policy_result_free(&r);
}

void step_sla(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE};
    policy_result r;
    if (decide_call(q, "sla", "targets", args, 1, NULL, SCHEMA_TARGETS, NFIELDS(SCHEMA_TARGETS), &r) != 0) return;
    int64_t secs[SLA__KINDS] = {0, 0};
    int business = r.f[SL_BUSINESS].present && r.f[SL_BUSINESS].b;
    const calendar *cal = NULL;
    if (business) {
        char err[256] = "";
        cal = policy_calendar(q->d->policies, q->merchant, err, sizeof err);
        if (err[0]) decide_answer_error(q, "sla", "calendar", "%s", err);
    }
    int64_t *due[2] = {&c->sla.first_response_due, &c->sla.resolution_due};
    int fields[2] = {SL_FIRST_RESPONSE, SL_RESOLUTION};
    for (int i = 0; i < 2; i++) {
        const policy_fval *v = &r.f[fields[i]];
        if (!v->present || v->i <= 0) continue;
        int64_t at = cal ? calendar_add_business_seconds(cal, c->created_at, v->i)
                         : v->i > INT64_MAX - c->created_at ? CALENDAR_NEVER : c->created_at + v->i;
        /* a target never reached (a calendar without working time left, a
         * target past the last second) is no target: null, no timer */
        if (at != CALENDAR_NEVER) {
            *due[i] = at;
            secs[i] = v->i;
        }
    }
    c->sla.business = business && cal != NULL;
    policy_result_free(&r);
    step_warnings(q, c, secs, cal);
}

void step_compensate(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE, ARG_ORDER};
    if (!decide_has(q, "compensation", "compensate")) return;
    policy_result r;
    if (decide_call(q, "compensation", "compensate", args, q->order ? 2 : 1, NULL, SCHEMA_COMPENSATE,
                    NFIELDS(SCHEMA_COMPENSATE), &r) != 0)
        return;
    if (r.f[CP_COUPON].present && r.f[CP_COUPON].i > 0) {
        c->compensation.coupon_cents = r.f[CP_COUPON].i;
        if (as_strset(&c->compensation.reason, r.f[CP_REASON].s) != 0) q->ch->failed = 1;
    }
    policy_result_free(&r);
}

void step_survey_plan(decide_req *q, as_case *c) {
    static const decide_arg args[] = {ARG_CASE};
    as_survey *sv = &c->survey;
    /* one survey per case: a case resolved again after a reopen is not asked twice */
    if (sv->sent_at != AS_NONE || sv->csat != AS_NONE || !decide_has(q, "survey", "plan")) return;
    policy_result r;
    if (decide_call(q, "survey", "plan", args, 1, NULL, SCHEMA_PLAN, NFIELDS(SCHEMA_PLAN), &r) != 0) return;
    if (!r.nil && r.f[PL_SEND_AFTER].present && r.f[PL_SEND_AFTER].i >= 0 &&
        r.f[PL_SEND_AFTER].i <= INT64_MAX - q->d->now) { /* a survey past the last second is none */
        sv->due_at = q->d->now + r.f[PL_SEND_AFTER].i;
        json_t *out = json_loads(r.output, 0, NULL);
        json_t *questions = json_object_get(out, "questions");
        free(sv->questions_json);
        sv->questions_json = json_is_array(questions) ? json_dumps(questions, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(out);
    }
    policy_result_free(&r);
}

int step_refund_amount(decide_req *q, int64_t *amount) {
    static const decide_arg args[] = {ARG_CASE, ARG_ORDER};
    policy_result r;
    if (decide_call(q, "compensation", "refund", args, q->order ? 2 : 1, NULL, SCHEMA_REFUND,
                    NFIELDS(SCHEMA_REFUND), &r) != 0)
        return -1;
    int ok = r.f[RF_AMOUNT].present && r.f[RF_AMOUNT].i >= 0;
    if (ok) *amount = r.f[RF_AMOUNT].i;
    else decide_answer_error(q, "compensation", "refund", "amount_cents must be a non-negative integer");
    policy_result_free(&r);
    return ok ? 0 : -1;
}

void step_assign(const as_decider *d, as_changes *ch, const as_actor *who, as_case *c, const char *by) {
    if (d->agents == NULL) return;
    const as_agent *a = agents_pick(d->agents, c->queue, c->skills, c->nskills);
    const char *now = a ? a->agent_id : "";
    if (strcmp(now, c->assignee) == 0) return;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_key(e, "agent_id");
    emit_str(e, a ? a->agent_id : NULL);
    emit_key(e, "from");
    emit_str(e, c->assignee[0] ? c->assignee : NULL);
    emit_kstr(e, "by", by);
    note_from(ch, "assignment", who, d->now, &m);
    AS_IDSET(c->assignee, now);
}

json_t *risk_rules(const as_decider *d, const char *merchant) {
    json_t *rules = NULL;
    char err[256];
    policy_ctx ctx = {.now = d->now, .merchant_id = merchant};
    if (policy_value(d->policies, merchant, "risk", "rules", &ctx, &rules, err, sizeof err) != 0) {
        json_decref(rules);
        return NULL;
    }
    return rules;
}

int64_t risk_rule_of(const json_t *rules, const char *name, int64_t dflt) {
    json_t *x = json_object_get(rules, name);
    return json_is_integer(x) && json_integer_value(x) > 0 ? json_integer_value(x) : dflt;
}

int64_t risk_rule(const as_decider *d, const char *merchant, const char *name, int64_t dflt) {
    json_t *rules = risk_rules(d, merchant);
    int64_t v = risk_rule_of(rules, name, dflt);
    json_decref(rules);
    return v;
}
