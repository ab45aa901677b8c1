/* api/admin: the policy set's life (describe, reload, dry-run, replay) and
 * the manual clock.
 *
 * Compiling a policy set and running its tests can take milliseconds, so it
 * happens on a libuv worker thread (a new, private lua_State: nothing shared);
 * the loop thread then swaps the set in between two requests and frees the
 * old one, so every request runs on one version from start to end. A set
 * that fails to load, or whose tests fail, is refused with 422 and the old
 * set keeps serving. Dry-run evaluates its one case with the candidate on the
 * loop thread; replay re-decides its (at most 1,000) cases on the worker that
 * loaded the candidate, through read transactions of its own, and the loop
 * thread only sends the answer. Replays over any range are jobs (jobs.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/timers.h"
#include "case/codec.h"
#include "case/replay.h"
#include "util/jsonw.h"
#include "util/log.h"

#define REPLAY_DEFAULT 100
#define REPLAY_MAX 1000

typedef struct policy_job policy_job;
typedef void (*policy_job_done)(policy_job *job);

struct policy_job {
    uv_work_t work;
    server *s;
    http_request *req;
    json_t *in;      /* request body (sources, case, ...) */
    int run_tests;
    policy_set *set; /* the loaded candidate, or NULL */
    char err[2048];
    policy_job_done done;
    /* replay: runs on the worker too, after the load (replay_on_worker) */
    int replay;
    store *db;
    char *merchant;  /* the token's merchant: only its cases; NULL all */
    json_t *active;  /* replay without sources: the active version's kept files */
    char *answer;    /* the answer's text, or NULL (err says why) */
};

static void replay_on_worker(policy_job *job);

static void load_on_worker(uv_work_t *w) {
    policy_job *job = w->data;
    policy_config cfg = {.dir = job->active ? NULL : job->s->cfg.policies_dir,
                         .sources = job->active ? job->active
                                    : job->in ? json_object_get(job->in, "sources") : NULL};
    if (job->run_tests) {
        int passed = 0, failed = 0;
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        int rc = policy_run_tests(&cfg, out, &passed, &failed, job->err, sizeof job->err);
        if (out) fclose(out);
        if (rc != 0) {
            /* Name the first failing test: err only counts them (or, when
             * the set does not load, already says why). */
            const char *line = text ? strstr(text, "not ok - ") : NULL;
            if (line != NULL && strncmp(line + 9, "load: ", 6) == 0) line = NULL;
            if (job->err[0] == '\0')
                snprintf(job->err, sizeof job->err, "policy tests failed (%d passed, %d failed)", passed,
                         failed);
            size_t n = strlen(job->err);
            if (line != NULL)
                snprintf(job->err + n, sizeof job->err - n, ": %.*s", (int)strcspn(line + 9, "\n"), line + 9);
        }
        free(text);
        if (rc != 0) return;
    }
    if (policy_set_load(&cfg, &job->set, job->err, sizeof job->err) != 0) job->set = NULL;
    else if (job->replay) replay_on_worker(job);
}

static void after_load(uv_work_t *w, int status) {
    policy_job *job = w->data;
    job->s->policy_busy = 0;
    if (status != 0 && job->set) { /* cancelled: never happens once queued, but be exact */
        policy_set_free(job->set);
        job->set = NULL;
    }
    job->done(job);
    json_decref(job->in);
    json_decref(job->active);
    free(job->merchant);
    free(job->answer);
    free(job);
}

static void start_job_as(server *s, http_request *req, json_t *in, int run_tests, policy_job_done done,
                         const principal *replay_for) {
    if (s->policy_busy) {
        json_decref(in);
        http_response_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "another policy load is in progress", NULL);
        return;
    }
    policy_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        json_decref(in);
        http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return;
    }
    job->s = s;
    job->req = req;
    job->in = in;
    job->run_tests = run_tests;
    job->done = done;
    job->work.data = job;
    if (replay_for) {
        job->replay = 1;
        job->db = s->db;
        job->merchant = replay_for->merchant ? strdup(replay_for->merchant) : NULL;
        /* without sources the candidate is the set being served, not the
         * directory (edited since, or rolled back from) */
        if (!json_object_get(in, "sources") && s->history.active[0])
            job->active = history_files(s, s->history.active);
        if ((replay_for->merchant && job->merchant == NULL) ||
            (!json_object_get(in, "sources") && s->history.active[0] && job->active == NULL)) {
            json_decref(in);
            free(job->merchant);
            free(job);
            http_respond_error(req, 503, "unavailable", "the active version's files could not be read", NULL);
            return;
        }
    }
    int rc = uv_queue_work(s->loop, &job->work, load_on_worker, after_load);
    if (rc != 0) {
        json_decref(in);
        json_decref(job->active);
        free(job->merchant);
        free(job);
        http_respond_error(req, 503, "unavailable", uv_strerror(rc), NULL);
        return;
    }
    s->policy_busy = 1;
}

static void start_job(server *s, http_request *req, json_t *in, int run_tests, policy_job_done done) {
    start_job_as(s, req, in, run_tests, done, NULL);
}

static void reply_rejected(server *s, http_request *req, const char *err) {
    reply_policy_rejected(s, req, err, NULL);
}

static double rate(uint64_t part, uint64_t whole) { return whole ? (double)part / (double)whole : 0; }

void shadow_reset(server *s) {
    memset(&s->shadow_tally, 0, sizeof s->shadow_tally);
    s->shadow_since = clock_now(&s->clock);
}

/* summary: {since, evaluated, agreed, errors, agreement_rate, by_module}: only
 * eligibility runs in shadow, so by_module holds it alone. */
json_t *shadow_describe(server *s) {
    if (s->shadow == NULL) return NULL;
    json_t *d = policy_set_describe(s->shadow);
    const as_shadow_tally *t = &s->shadow_tally;
    json_t *module = json_pack("{s:I,s:I,s:I,s:f}", "evaluated", (json_int_t)t->evaluated, "agreed",
                               (json_int_t)t->agreed, "errors", (json_int_t)t->errors, "agreement_rate",
                               rate(t->agreed, t->evaluated));
    json_t *summary = json_pack("{s:I,s:I,s:I,s:I,s:f,s:{s:o*}}", "since", (json_int_t)s->shadow_since, "evaluated",
                                (json_int_t)t->evaluated, "agreed", (json_int_t)t->agreed, "errors",
                                (json_int_t)t->errors, "agreement_rate", rate(t->agreed, t->evaluated), "by_module",
                                "eligibility", module);
    if (d) json_object_set_new(d, "summary", summary);
    else json_decref(summary);
    return d;
}

static json_t *describe_sets(server *s) {
    json_t *d = policy_set_describe(s->policies);
    if (d && s->shadow) json_object_set_new(d, "shadow", shadow_describe(s));
    return d;
}

void h_admin_policies(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    (void)p;
    (void)who;
    http_respond_json(req, 200, describe_sets(s));
}

void h_admin_shadow_stop(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    (void)who;
    if (s->shadow) policy_set_free(s->shadow);
    s->shadow = NULL;
    shadow_reset(s);
    http_respond_json(req, 200, describe_sets(s));
}

/* ---- dry-run: the opening of a case, nothing stored ---- */

/* What dry-run reads: the store's counts, but the given order's buyer
 * details (the order need not be stored). */
typedef struct {
    server *s;
    const as_order *order;
} dry_reads;

static int dry_customer(void *ud, const char *merchant_id, const char *buyer_id, as_customer *out) {
    dry_reads *r = ud;
    if (customer_read(r->s->db, merchant_id, buyer_id, clock_now(&r->s->clock), 0, out) != 0) return -1;
    const as_order *o = r->order;
    if (o && strcmp(o->buyer_id, buyer_id) == 0) { /* the dry-run order's own details win */
        if (o->buyer.tier) snprintf(out->tier, sizeof out->tier, "%s", o->buyer.tier);
        if (o->buyer.lifetime_spend_cents != AS_NONE) out->lifetime_spend_cents = o->buyer.lifetime_spend_cents;
    }
    return 0;
}

static int64_t dry_complaints(void *ud, const char *merchant_id, const char *sku, int64_t since) {
    return complaints_count(((dry_reads *)ud)->s->db, merchant_id, sku, since);
}

/* Prefixes a domain error's field with the member it came from ("case.",
 * "order.") and answers it. */
static void reply_member_error(http_request *req, as_error *err, const char *member) {
    char field[sizeof err->field + 16];
    snprintf(field, sizeof field, "%s.%s", member, err->field[0] ? err->field : "?");
    snprintf(err->field, sizeof err->field, "%.*s", (int)sizeof err->field - 1, field);
    reply_error(req, err);
}

/* The dry-run body's case as POST /v1/cases would take it: the order given
 * names it, and a channel may be left out (web). */
static json_t *dry_case_body(const json_t *in_case, const as_order *order) {
    json_t *c = json_deep_copy(in_case);
    if (c == NULL) return NULL;
    if (order && json_object_get(c, "order_id") == NULL) json_object_set_new(c, "order_id", json_string(order->order_id));
    if (json_object_get(c, "channel") == NULL) json_object_set_new(c, "channel", json_string("web"));
    return c;
}

static void dry_run_with(server *s, http_request *req, policy_set *set, json_t *in) {
    json_t *jorder = json_object_get(in, "order");
    as_order order;
    as_error err = {0};
    order_init(&order);
    int has_order = json_is_object(jorder);
    if (has_order && order_input_parse(&order, jorder, &err) != 0) {
        reply_member_error(req, &err, "order");
        return;
    }
    if (!has_order && case_type_needs_decision((case_type)case_type_from_name(
                          json_string_value(json_object_get(json_object_get(in, "case"), "type"))))) {
        reply_invalid(req, "order", "is required: the case's type is decided on its order");
        return;
    }
    json_t *jcase = dry_case_body(json_object_get(in, "case"), has_order ? &order : NULL);
    const char *photos[20];
    case_input ci;
    if (jcase == NULL || case_input_parse(&ci, jcase, photos, 20, &err) != 0) {
        if (jcase == NULL) as_fail(&err, AS_ENOMEM, NULL, "out of memory");
        reply_member_error(req, &err, "case");
    } else if (ci.order_id && !has_order) {
        reply_invalid(req, "order", "is required for a case with an order_id");
    } else {
        dry_reads dr = {s, has_order ? &order : NULL};
        as_reads reads = {.ud = &dr, .customer = dry_customer, .complaints = dry_complaints};
        uint64_t scratch = s->seqs.next_case;
        as_decider d = {.policies = set, .now = clock_now(&s->clock), .reads = &reads, .next_case_seq = &scratch};
        as_ledger ledger; /* the order as given, with no claims on it yet */
        ledger_init(&ledger);
        as_changes ch;
        as_actor admin = {"admin", ""};
        if (case_open(&d, &ci, has_order ? &order : NULL, &ledger, &admin, scratch++, &ch, &err) != 0) {
            if (err.code == AS_EINVAL) reply_member_error(req, &err, "case");
            else reply_error(req, &err);
        } else {
            char *answer = case_preview(&ch, policy_set_version(set));
            if (answer) http_respond(req, 200, "application/json", answer, strlen(answer));
            else http_respond_error(req, 503, "unavailable", "out of memory", NULL);
            free(answer);
            changes_free(&ch);
        }
        ledger_free(&ledger);
    }
    json_decref(jcase);
    order_free(&order);
}

static void dry_run_done(policy_job *job) {
    if (job->set == NULL) {
        reply_rejected(job->s, job->req, job->err);
        return;
    }
    dry_run_with(job->s, job->req, job->set, job->in);
    policy_set_free(job->set);
}

void h_admin_dry_run(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"case", "order", "sources", NULL};
    (void)p;
    (void)who;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    json_t *kase = json_object_get(in, "case"), *order = json_object_get(in, "order");
    if (req_only_known(req, in, known) != 0) {
    } else if (!json_is_object(kase) || case_type_from_name(json_string_value(json_object_get(kase, "type"))) < 0) {
        reply_invalid(req, "case.type", "case must be an object with a valid type");
    } else if (order && !json_is_null(order) && !json_is_object(order)) {
        reply_invalid(req, "order", "must be an object");
    } else if (req_sources(req, in, 0) != 0) {
        /* answered */
    } else if (json_object_get(in, "sources")) {
        start_job(s, req, in, 0, dry_run_done);
        return;
    } else {
        dry_run_with(s, req, s->policies, in);
    }
    json_decref(in);
}

/* ---- replay: stored cases re-decided by a candidate, nothing stored ----
 * On the worker that loaded the candidate (its own lua_State), through its
 * own short read transactions (case/replay.h): the loop thread only answers.
 * Newest first through the every-case index, whose values carry each case's
 * created_at and type, so cases of other types are skipped unread. */

#define REPLAY_CHUNK 256 /* index entries per read transaction */

static void decision_json(emitter *e, const as_decision *d) {
    emit_object(e);
    emit_kstr(e, "outcome", outcome_name(d->outcome));
    emit_kstr(e, "reason_code", d->reason_code);
    emit_kstr(e, "message", d->message);
    emit_kstr(e, "policy_version", d->policy_version);
    emit_object_end(e);
}

static int same(const char *a, const char *b) { return (a == NULL && b == NULL) || (a && b && !strcmp(a, b)); }

/* Re-opens one stored case with the candidate; 1 if the decision differs
 * (its diff emitted), 0 if not, -1 if it could not run. */
static int replay_case(store_read *rd, policy_set *cand, const as_case *c, emitter *diffs) {
    as_changes ch;
    as_error err;
    if (replay_open(rd, cand, c, &ch, &err) != 0) return -1;
    const as_decision *b = &c->decision, *a = &ch.after->decision;
    int rc = a->outcome != b->outcome || !same(a->reason_code, b->reason_code);
    if (rc) {
        emit_object(diffs);
        emit_kstr(diffs, "case_id", c->case_id);
        emit_key(diffs, "before");
        decision_json(diffs, b);
        emit_key(diffs, "after");
        decision_json(diffs, a);
        emit_object_end(diffs);
    }
    changes_free(&ch);
    return rc;
}

typedef struct {
    int64_t since, limit, evaluated, changed;
    uint64_t before; /* the next entry is of a seq below this; 0: from the newest */
    int stop;
} replay_walk;

/* One chunk of the index, newest first. 0, or a store error. */
static int replay_chunk(policy_job *job, replay_walk *rw, emitter *e) {
    store_key prefix, from;
    case_index_prefix(&prefix, "all", "");
    from = prefix;
    if (rw->before) key_u64(&from, rw->before - 1);
    store_read *rd;
    store_iter *it = NULL;
    int rc = store_read_begin_detached(job->db, &rd);
    if (rc != 0) return rc;
    rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, rw->before ? from.buf : NULL,
                         rw->before ? from.len : 0, 1, &it);
    const void *k, *v;
    size_t klen, vlen;
    int n = 0;
    while (rc == 0 && !rw->stop && rw->evaluated < rw->limit && n++ < REPLAY_CHUNK) {
        int next = store_iter_next(it, &k, &klen, &v, &vlen);
        if (next <= 0 || klen < 8 || vlen < 9) {
            rc = next < 0 ? next : 0;
            rw->stop = 1;
            break;
        }
        uint64_t seq = key_get_u64((const char *)k + klen - 8);
        rw->before = seq;
        if ((int64_t)key_get_u64(v) < rw->since) { /* older than since: done */
            rw->stop = 1;
            break;
        }
        char type[32];
        snprintf(type, sizeof type, "%.*s", (int)(vlen - 8), (const char *)v + 8);
        int t = case_type_from_name(type);
        if (t < 0 || !case_type_needs_decision((case_type)t)) continue;
        as_case c;
        if (case_read_seq(rd, seq, &c) != 0) {
            case_free(&c);
            continue;
        }
        if (replay_eligible(&c) && (job->merchant == NULL || !strcmp(c.merchant_id, job->merchant))) {
            rw->changed += replay_case(rd, job->set, &c, e) == 1;
            rw->evaluated++;
        }
        case_free(&c);
    }
    if (it) store_iter_close(it);
    store_read_end(rd);
    return rc;
}

static void replay_on_worker(policy_job *job) {
    replay_walk rw = {.since = json_integer_value(json_object_get(job->in, "since")),
                      .limit = json_integer_value(json_object_get(job->in, "limit"))};
    if (rw.limit <= 0 || rw.limit > REPLAY_MAX) rw.limit = REPLAY_DEFAULT;
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    emit_key(e, "diffs");
    emit_array(e);
    int rc = 0;
    while (rc == 0 && !rw.stop && rw.evaluated < rw.limit) rc = replay_chunk(job, &rw, e);
    emit_array_end(e);
    emit_kint(e, "evaluated", rw.evaluated);
    emit_kint(e, "changed", rw.changed);
    emit_kstr(e, "policy_version", policy_set_version(job->set));
    emit_object_end(e);
    if (rc != 0 || tb.failed) {
        snprintf(job->err, sizeof job->err, "%s", rc != 0 ? store_strerror(rc) : "out of memory");
        tb_free(&tb);
        return;
    }
    job->answer = tb.buf;
}

static void replay_done(policy_job *job) {
    if (job->set == NULL) {
        reply_rejected(job->s, job->req, job->err);
        return;
    }
    if (job->answer) http_respond(job->req, 200, "application/json", job->answer, strlen(job->answer));
    else http_respond_error(job->req, 503, "unavailable", job->err, NULL);
    policy_set_free(job->set);
}

void h_admin_replay(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"sources", "since", "limit", NULL};
    (void)p;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    int64_t n;
    if (req_only_known(req, in, known) != 0) {
    } else if (req_sources(req, in, 0) != 0) {
        /* answered */
    } else if (req_int(req, in, "since", 0, 0, INT64_MAX / 2, &n, NULL) == 0 &&
               req_int(req, in, "limit", 0, 1, REPLAY_MAX, &n, NULL) == 0) {
        start_job_as(s, req, in, 0, replay_done, who);
        return;
    }
    json_decref(in);
}

/* The manual clock stays within what every timestamp of the API may be
 * (orders' and tracking's `at` are at most 2^40): a clock far past it made
 * each due instant computed from it overflow. */
#define CLOCK_MAX ((int64_t)1 << 40)

/* The clock moved: answer once every timer due by then has fired durably. */
static void clock_timers_fired(int status, void *ud) {
    http_request *req = ud;
    server *s = http_request_data(req);
    if (status != 0) reply_store_error(req, status);
    else http_respond_json(req, 200, json_pack("{s:I}", "now", (json_int_t)clock_now(&s->clock)));
}

void h_admin_clock(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    (void)who;
    if (!s->clock.manual) {
        reply_not_found(req, "the manual clock (start with --clock manual)");
        return;
    }
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    static const char *const known[] = {"advance", "set", NULL};
    int64_t advance = 0, set = 0;
    int has_advance = 0, has_set = 0;
    if (req_only_known(req, in, known) == 0 && req_int(req, in, "advance", 0, 0, CLOCK_MAX, &advance, &has_advance) == 0 &&
        req_int(req, in, "set", 0, 0, CLOCK_MAX, &set, &has_set) == 0) {
        if (has_advance == has_set) {
            reply_invalid(req, "advance", "give either advance (seconds) or set (unix seconds)");
        } else if (has_advance && advance > CLOCK_MAX - clock_now(&s->clock)) {
            reply_invalid(req, "advance", "would move the clock past 2^40 (the last instant any timestamp may name)");
        } else if (has_set && clock_set(&s->clock, set) != 0) {
            reply_invalid(req, "set", "unix seconds from 1970");
        } else {
            if (has_advance) clock_advance(&s->clock, advance);
            http_request_set_data(req, s);
            timers_run(s, clock_timers_fired, req);
        }
    }
    json_decref(in);
}
