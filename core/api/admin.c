/* api/admin: the policy set's life (describe, reload, dry-run, replay) and
 * the manual clock.
 *
 * Compiling a policy set and running its tests can take milliseconds, so it
 * happens on a libuv worker thread (a new, private lua_State: nothing shared);
 * the loop thread then swaps the set in between two requests and frees the
 * old one, so every request runs on one version from start to end. A set
 * that fails to load, or whose tests fail, is refused with 422 and the old
 * set keeps serving. Dry-run and replay evaluate with a candidate set on the
 * loop thread by making it the active set for the length of one synchronous
 * evaluation, then putting the active set back. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/decide.h"
#include "api/timers.h"
#include "case/case.h"
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
};

static void load_on_worker(uv_work_t *w) {
    policy_job *job = w->data;
    policy_config cfg = {.dir = job->s->cfg.policies_dir,
                         .sources = job->in ? json_object_get(job->in, "sources") : NULL};
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
    free(job);
}

static void start_job(server *s, http_request *req, json_t *in, int run_tests,
                      policy_job_done done) {
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
    int rc = uv_queue_work(s->loop, &job->work, load_on_worker, after_load);
    if (rc != 0) {
        json_decref(in);
        free(job);
        http_respond_error(req, 503, "unavailable", uv_strerror(rc), NULL);
        return;
    }
    s->policy_busy = 1;
}

/* 422 policy_rejected with the file and line parsed from "file:line: msg". */
static int path_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == '/';
}

/* Where an error points a policy author: the first "name.lua:LINE" in it (a
 * syntax error, a failing test's assertion, the require that found nothing),
 * or else the first "name.lua" (a bad calendar, a module that returns no
 * table). line stays 0 when there is none. */
static void error_location(const char *err, char *file, size_t filelen, int *line) {
    file[0] = '\0';
    *line = 0;
    for (const char *p = strstr(err, ".lua"); p != NULL; p = strstr(p + 4, ".lua")) {
        const char *start = p;
        while (start > err && path_char(start[-1])) start--;
        if (start == p) continue;
        int has_line = p[4] == ':' && isdigit((unsigned char)p[5]);
        if (file[0] == '\0' || has_line)
            snprintf(file, filelen, "%.*s", (int)(p + 4 - start), start);
        if (has_line) {
            *line = atoi(p + 5);
            return;
        }
    }
}

static void reply_rejected(server *s, http_request *req, const char *err) {
    char file[256];
    int line;
    error_location(err, file, sizeof file, &line);
    /* (Jansson's pack has no optional integer: build the details by hand) */
    json_t *d = json_object();
    if (file[0]) json_object_set_new(d, "file", json_string(file));
    if (line > 0) json_object_set_new(d, "line", json_integer(line));
    json_object_set_new(d, "version", json_string(policy_set_version(s->policies)));
    http_respond_error(req, 422, "policy_rejected", err, d);
}

static json_t *describe_sets(server *s) {
    json_t *d = policy_set_describe(s->policies);
    if (d && s->shadow) json_object_set_new(d, "shadow", policy_set_describe(s->shadow));
    return d;
}

void h_admin_policies(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    (void)who;
    http_respond_json(req, 200, describe_sets(s));
}

static void shadow_done(policy_job *job) {
    server *s = job->s;
    if (job->set == NULL) {
        reply_rejected(s, job->req, job->err);
        return;
    }
    policy_set_set_loaded_at(job->set, clock_now(&s->clock));
    if (s->shadow) policy_set_free(s->shadow);
    s->shadow = job->set;
    log_emit(LOG_INFO, "shadow policies started", json_pack("{s:s}", "version", policy_set_version(s->shadow)));
    http_respond_json(job->req, 200, describe_sets(s));
}

/* Each source is a file's text, or null to leave the file out: another type
 * is the caller's mistake (400 naming it), not a candidate set that failed
 * to load (422). Answers and returns 1 on the first such member. */
static int sources_mistyped(http_request *req, const json_t *in) {
    const char *name;
    json_t *text;
    json_object_foreach(json_object_get(in, "sources"), name, text) {
        if (!json_is_string(text) && !json_is_null(text)) {
            char field[300];
            snprintf(field, sizeof field, "sources.%s", name);
            reply_invalid(req, field, "must be the file's source text (a string), or null to leave it out");
            return 1;
        }
    }
    return 0;
}

/* {sources:{...}}: the candidate set (the policies dir with these files
 * replaced) runs in shadow on every new case until stopped or replaced. */
void h_admin_shadow(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    (void)who;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    if (!json_is_object(json_object_get(in, "sources"))) {
        reply_invalid(req, "sources", "is required: an object of file name to source text");
        json_decref(in);
        return;
    }
    if (sources_mistyped(req, in)) {
        json_decref(in);
        return;
    }
    start_job(s, req, in, 1, shadow_done);
}

void h_admin_shadow_stop(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    (void)who;
    if (s->shadow) policy_set_free(s->shadow);
    s->shadow = NULL;
    http_respond_json(req, 200, describe_sets(s));
}

static void reload_done(policy_job *job) {
    server *s = job->s;
    if (job->set == NULL) {
        log_emit(LOG_WARN, "policy reload refused", json_pack("{s:s}", "error", job->err));
        reply_rejected(s, job->req, job->err);
        return;
    }
    policy_set *old = s->policies;
    policy_set_set_loaded_at(job->set, clock_now(&s->clock));
    s->policies = job->set;
    policy_carry_stats(s->policies, old);
    policy_set_free(old);
    log_emit(LOG_INFO, "policies reloaded", json_pack("{s:s}", "version", policy_set_version(s->policies)));
    http_respond_json(job->req, 200, describe_sets(s));
}

void h_admin_reload(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    (void)who;
    start_job(s, req, NULL, 1, reload_done);
}

/* The decisions the active set makes for one case, nothing stored. */
static json_t *evaluate(server *s, json_t *kase, const json_t *order) {
    json_t *notes = json_array();
    json_t *out = json_object();
    case_type t = case_type_from_name(json_string_value(json_object_get(kase, "type")));
    if (case_type_needs_decision(t))
        json_object_set_new(out, "eligibility", decide_eligibility(s, kase, order, notes));
    int64_t amount;
    if (order && t != CASE_COMPLAINT && t != CASE_CONSULTATION && t != CASE_LOGISTICS &&
        decide_refund(s, kase, order, notes, &amount) == 0)
        json_object_set_new(out, "refund", json_pack("{s:I}", "amount_cents", (json_int_t)amount));
    decide_route(s, kase, order, notes);
    decide_sla(s, kase, order, notes);
    decide_compensation(s, kase, order, notes);
    json_object_set_new(out, "routing", json_pack("{s:O,s:O,s:O}", "queue", json_object_get(kase, "queue"),
                                                  "priority", json_object_get(kase, "priority"), "skills",
                                                  json_object_get(kase, "skills")));
    json_object_set(out, "sla", json_object_get(kase, "sla"));
    json_object_set(out, "compensation", json_object_get(kase, "compensation"));
    json_object_set_new(out, "notes", notes);
    return out;
}

/* A dry-run case gets the fields a stored case would have. */
static json_t *dry_run_case(server *s, const json_t *in_case, const json_t *order) {
    json_t *k = json_deep_copy(in_case);
    if (json_object_get(k, "created_at") == NULL)
        json_object_set_new(k, "created_at", json_integer(clock_now(&s->clock)));
    json_object_set_new(k, "sla", json_pack("{s:n,s:n,s:b,s:[]}", "first_response_due", "resolution_due",
                                            "business", 0, "breached"));
    json_object_set_new(k, "compensation", json_null());
    if (order && !json_object_get(k, "merchant_id"))
        json_object_set(k, "merchant_id", json_object_get(order, "merchant_id"));
    if (order && !json_object_get(k, "buyer_id"))
        json_object_set(k, "buyer_id", json_object_get(order, "buyer_id"));
    return k;
}

static void dry_run_with(server *s, http_request *req, policy_set *set, json_t *in) {
    policy_set *active = s->policies;
    s->policies = set;
    json_t *order = json_object_get(in, "order");
    if (!json_is_object(order)) order = NULL;
    json_t *kase = dry_run_case(s, json_object_get(in, "case"), order);
    s->customer_as_of.buyer_id = json_string_value(json_object_get(kase, "buyer_id"));
    s->customer_as_of.buyer = json_object_get(order, "buyer");
    json_t *out = evaluate(s, kase, order);
    s->customer_as_of.buyer_id = NULL;
    s->customer_as_of.buyer = NULL;
    json_object_set_new(out, "policy_version", json_string(policy_set_version(set)));
    s->policies = active;
    json_decref(kase);
    http_respond_json(req, 200, out);
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
    (void)p;
    (void)who;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    json_t *kase = json_object_get(in, "case"), *order = json_object_get(in, "order");
    const char *type = json_string_value(json_object_get(kase, "type"));
    if (!json_is_object(kase) || case_type_from_name(type) < 0) {
        reply_invalid(req, "case.type", "case must be an object with a valid type");
    } else if (order && !json_is_null(order) && !json_is_object(order)) {
        reply_invalid(req, "order", "must be an object");
    } else if (json_object_get(in, "sources") && !json_is_object(json_object_get(in, "sources"))) {
        reply_invalid(req, "sources", "must be an object of file name to source text");
    } else if (sources_mistyped(req, in)) {
        /* answered */
    } else if (json_object_get(in, "sources")) {
        start_job(s, req, in, 0, dry_run_done);
        return;
    } else {
        dry_run_with(s, req, s->policies, in);
    }
    json_decref(in);
}

/* Re-decides one stored case with the candidate as of its creation time. */
static void replay_case(server *s, policy_set *cand, json_t *kase, json_t *diffs, int *changed) {
    const char *order_id = json_string_value(json_object_get(kase, "order_id"));
    json_t *order = order_id ? rec_load(s, DB_ORDERS, order_id, 0) : NULL;
    json_t *notes = json_array();
    policy_set *active = s->policies;
    s->policies = cand;
    s->now_override = json_integer_value(json_object_get(kase, "created_at"));
    s->customer_as_of.before_seq = case_seq_of(json_string_value(json_object_get(kase, "case_id")));
    json_t *after = decide_eligibility(s, kase, order, notes);
    s->customer_as_of.before_seq = 0;
    s->now_override = 0;
    s->policies = active;
    json_t *before = json_object_get(kase, "decision");
    const char *fields[] = {"outcome", "reason_code"};
    int differs = 0;
    for (int i = 0; i < 2; i++)
        differs |= !json_equal(json_object_get(before, fields[i]), json_object_get(after, fields[i]));
    if (differs) {
        (*changed)++;
        json_array_append_new(diffs, json_pack("{s:O,s:O,s:O}", "case_id", json_object_get(kase, "case_id"),
                                               "before", before ? before : json_null(), "after", after));
    }
    json_decref(after);
    json_decref(notes);
    json_decref(order);
}

static void replay_done(policy_job *job) {
    server *s = job->s;
    if (job->set == NULL) {
        reply_rejected(s, job->req, job->err);
        return;
    }
    int64_t since = json_integer_value(json_object_get(job->in, "since"));
    int64_t limit = json_integer_value(json_object_get(job->in, "limit"));
    if (limit <= 0 || limit > REPLAY_MAX) limit = REPLAY_DEFAULT;
    json_t *diffs = json_array();
    int evaluated = 0, changed = 0;
    const principal *who = http_request_data(job->req); /* a bound token replays its merchant's cases */
    /* Newest first over the "all" index; stop at `since` or the limit. */
    for (uint64_t seq = s->next_case_seq; seq-- > 1 && evaluated < limit;) {
        char id[32];
        case_id_format(seq, id, sizeof id);
        json_t *kase = rec_load(s, DB_CASES, id, 0);
        if (kase == NULL) continue;
        int stop = json_integer_value(json_object_get(kase, "created_at")) < since;
        case_type t = case_type_from_name(json_string_value(json_object_get(kase, "type")));
        if (!stop && case_type_needs_decision(t) &&
            principal_sees_merchant(who, json_string_value(json_object_get(kase, "merchant_id")))) {
            replay_case(s, job->set, kase, diffs, &changed);
            evaluated++;
        }
        json_decref(kase);
        if (stop) break;
    }
    http_respond_json(job->req, 200, json_pack("{s:i,s:i,s:o,s:s}", "evaluated", evaluated, "changed",
                                               changed, "diffs", diffs, "policy_version",
                                               policy_set_version(job->set)));
    policy_set_free(job->set);
}

void h_admin_replay(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    int64_t n;
    if (json_object_get(in, "sources") && !json_is_object(json_object_get(in, "sources"))) {
        reply_invalid(req, "sources", "must be an object of file name to source text");
    } else if (sources_mistyped(req, in)) {
        /* answered */
    } else if (req_int(req, in, "since", 0, 0, INT64_MAX / 2, &n, NULL) == 0 &&
               req_int(req, in, "limit", 0, 1, REPLAY_MAX, &n, NULL) == 0) {
        http_request_set_data(req, (void *)who);
        start_job(s, req, in, 0, replay_done);
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
    int64_t advance = 0, set = 0;
    int has_advance = 0, has_set = 0;
    if (req_int(req, in, "advance", 0, 0, CLOCK_MAX, &advance, &has_advance) == 0 &&
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
