/* api/api.h: what the resource files of core/api/ share (internal to api/).
 *
 * The struct server itself, the principal (who is calling), the handler
 * signature, request helpers (body parsing, field validation, tenancy), the
 * reply-after-commit path, and the record helpers of records.c. */
#ifndef AS_API_API_H
#define AS_API_API_H

#include <jansson.h>
#include <stdint.h>

#include "api/server.h"
#include "case/agents.h"
#include "case/commit.h"
#include "case/domain.h"
#include "case/records.h"
#include "http/http.h"
#include "http/router.h"
#include "policy/policy.h"
#include "store/keys.h"
#include "store/store.h"
#include "time/clock.h"
#include "util/textbuf.h"
#include "webhook/webhook.h"

typedef enum { ROLE_ADMIN, ROLE_AGENT, ROLE_SERVICE } api_role;

typedef struct {
    char *token;
    api_role role;
    char *merchant; /* NULL: all merchants */
    char *agent;    /* NULL: not an agent identity */
} principal;

/* policy_errors.c: failures by module, function and merchant. */
#define POLICY_ERRORS_MAX 512
typedef struct {
    char module[24], function[32];
    as_id merchant; /* "" for the platform's own cases */
    uint64_t total;
    int64_t window_start, alerted_window;
    uint32_t window_count;
} policy_error_count;
typedef struct {
    policy_error_count keys[POLICY_ERRORS_MAX];
    size_t n;
    uint64_t overflow;
} policy_errors;

/* history.c: which kept policy version is active (mirrors DB_META). */
typedef struct {
    char active[65], previous[65]; /* "" when none */
    char dir[65];                  /* the policies directory's version as last read */
    uint64_t next_activation;
} policy_history;

typedef struct server server;
typedef struct jobs jobs; /* jobs.c: background replays */
typedef void (*api_handler)(server *s, http_request *req, const route_params *p,
                            const principal *who);

/* Route labels the request metrics keep: every route of the table plus
 * "unmatched" (server.c checks at compile time that they fit). */
#define METRIC_ROUTES 96
#define METRIC_STATUSES 16

/* looplag.c: how late the loop thread runs a periodic check. */
#define LAG_BUCKETS 11
typedef struct {
    uv_timer_t timer;
    int started;
    uint64_t last_ns;
    double last_s, max_s, sum_s;
    uint64_t count, buckets[LAG_BUCKETS]; /* cumulative, as Prometheus buckets are */
} loop_lag;

typedef struct {
    const char *route[METRIC_ROUTES];
    int status[METRIC_STATUSES];
    uint64_t count[METRIC_ROUTES][METRIC_STATUSES];
    uint64_t duration_us[METRIC_ROUTES];
    uint64_t requests;
} api_metrics;

struct server {
    uv_loop_t *loop;
    server_config cfg;
    http_server *http;
    router *routes;
    store *db;
    policy_set *policies;
    policy_set *shadow; /* candidate evaluated beside the active set, never enforced */
    int policy_busy; /* a reload/dry-run/replay is compiling on a worker */
    as_clock clock;
    principal *tokens;
    size_t ntokens;
    as_agents agents; /* mirror of DB_AGENTS: assignment never reads the disk */
    uint64_t mirrors_epoch; /* the store epoch the mirrors were last rebuilt for */
    int64_t kpi_offset; /* the KPI aggregates' day zone (case/kpi.h), fixed when they are built */
    /* KPI reports, one built at a time (api/reports.c): the others wait here */
    struct report_job *kpi_head, *kpi_tail;
    unsigned kpi_waiting;
    int kpi_building;
    as_seqs seqs; /* next_event: alert ids only; feed seqs are the store's (store_batch_put_seq) */
    as_reads reads; /* what live decisions read (work.c) */
    as_policy_monitor monitor; /* where live decisions count policy failures */
    policy_errors policy_errors;
    policy_history history; /* kept versions: history.c, versions.c */
    api_metrics metrics;
    uv_signal_t sigterm, sigint;
    int stopping;
    int64_t started_at;
    uint64_t start_ns;    /* uv_hrtime at server_start: the "listening" log says how long the start took */
    uv_timer_t tick;      /* real clock: fires due timers */
    int tick_active;
    int timers_busy;      /* a timer round is waiting for its commit */
    struct timer_waiter *timer_waiters; /* callers that came while it was busy */
    webhook *webhook;     /* --webhook: pushes the feed, or NULL */
    jobs *jobs;           /* background replays (jobs.c) */
    as_shadow_tally shadow_tally; /* the shadow's agreement since shadow_since (admin.c) */
    int64_t shadow_since;
    loop_lag lag;         /* looplag.c */
};

/* ---- webhooks.c: the feed pushed to --webhook ---- */
int webhooks_start(server *s);
/* Events became durable: push them now if the deliverer is idle. */
void webhooks_poke(server *s);
void webhooks_stop(server *s);

/* ---- auth.c ---- */
int auth_load(server *s);
void auth_free(server *s);
/* NULL if the Authorization header names no known token. */
const principal *auth_lookup(const server *s, const http_request *req);
int principal_sees_merchant(const principal *who, const char *merchant_id);
const char *role_name(api_role r);

/* ---- request.c: bodies in, errors out ---- */
/* Parses the body as a JSON object; on failure answers 400 and returns NULL. */
json_t *req_json_body(http_request *req);
void reply_invalid(http_request *req, const char *field, const char *message);
void reply_not_found(http_request *req, const char *what);
void reply_forbidden(http_request *req, const char *message);
/* The answer to a domain error: one table maps each code to its status. */
void reply_error(http_request *req, const as_error *err);
void reply_store_error(http_request *req, int err);
/* Every query parameter must be one of known (NULL-terminated): 400 naming
 * the first that is not. 0 or -1 (answered). */
int req_query_known(http_request *req, const char *const *known);
/* For endpoints without query parameters: any is 400 unknown_parameter. */
int req_no_query(http_request *req);
/* Every member of obj must be one of known: 400 unknown_field naming it. */
int req_only_known(http_request *req, const json_t *obj, const char *const *known);
/* For requests that take no body: none, blanks or {} pass; any member is
 * 400 unknown_field naming it, and anything else 400 invalid_json. */
int req_no_body(http_request *req);
/* Field validation for the bodies the api reads itself (agents, admin). Each
 * answers 400 invalid_field naming `field` and returns -1 when the value is
 * missing (if required) or of the wrong type. */
int req_string(http_request *req, json_t *obj, const char *field, int required, const char **out);
int req_id(http_request *req, json_t *obj, const char *field, int required, const char **out);
int req_int(http_request *req, json_t *obj, const char *field, int required, int64_t min, int64_t max,
            int64_t *out, int *present);
int req_bool(http_request *req, json_t *obj, const char *field, int *out);
/* A candidate's `sources`: an object of file name to source text, or null to
 * leave a file out (absent passes unless required). Another type is the
 * caller's mistake (400 naming the member), not a set that failed to load
 * (422). */
int req_sources(http_request *req, const json_t *obj, int required);

/* ---- commit.c: answering writes only once they are durable ---- */
/* Submits the batch; answers req with status and the text (stolen,
 * NUL-terminated JSON) once the commit is durable, or with the storage
 * error. An Idempotency-Key's answer is stored in the same batch. */
void commit_and_reply_text(server *s, store_batch *b, http_request *req, const principal *who,
                           int status, char *text);
/* Idempotency: returns 1 if the request carried an Idempotency-Key whose
 * first answer exists (and has answered it), 0 otherwise. */
int idem_replay(server *s, http_request *req, const principal *who);
/* After a write that will never reach disk (a failed commit, or a batch
 * dropped before it was submitted): the agents mirror may hold its load
 * changes and is rebuilt, once per store epoch for failed commits. */
void mirrors_repair(server *s, int dropped);

/* ---- policy_errors.c ---- */
/* as_policy_monitor.failed for the live decider (ud: the server). */
int policy_errors_failed(void *ud, const char *module, const char *fn, const char *merchant, int64_t now);
void policy_errors_metrics(const server *s, textbuf *tb);

/* ---- work.c: running domain operations for requests ---- */
/* The decider of live work: the active set and its shadow, the clock (or
 * `now`), the store's reads, the agents mirror. */
void live_decider(server *s, as_decider *d, int64_t now);
/* 1 if the agent may work the merchant's cases: some token naming it sees
 * that merchant, or no token names it. */
int agent_may_work(server *s, const char *agent_id, const char *merchant);
as_actor actor_of(const principal *who);
/* Writes a change set and answers `status` with the text answer_of makes
 * from the stored case text (NULL: the case text itself) once durable. */
void changes_reply(server *s, http_request *req, const principal *who, as_decider *d, as_changes *ch, int status);
/* Writes a change set into a batch of the caller's (timers, catch-up). */
void changes_into(server *s, store_batch *b, as_decider *d, const as_changes *ch);
/* The case as loaded for an update (pending writes included) if the caller
 * may see it; answers 404 and returns -1 otherwise. */
int case_load_for(server *s, http_request *req, const principal *who, const char *case_id, int latest,
                  as_case *out);
/* Fires the case's timers already due (a batch of their own, ahead), before
 * a request changes it; *c is the case as they left it. (timers.c) */
void timers_catch_up(server *s, as_case *c);

/* ---- history.c: kept policy versions in the store (keys in its header) ---- */
/* One activation being written: what s->history becomes once it is durable. */
typedef struct {
    char version[65], previous[65], how[16];
    int64_t at;
    uint64_t n;
} history_change;
int history_version_ok(const char *v); /* 64 lower-case hex digits */
/* {role, agent?, merchant?, token_sha256 (12 hex)}: who did it, never the token. */
json_t *history_who(const principal *who);
int history_load_state(server *s);
/* Keeps a loaded version in b: its files (each once, by sha256) and its
 * record (created, or updated with these files and tests). -1: no memory. */
int history_keep(server *s, store_batch *b, const char *version, const json_t *files, const json_t *tests,
                 const json_t *by, int64_t now);
void history_change_init(server *s, history_change *c, const char *version, const char *how);
/* The activation in b: the active pointer, its record, the version's
 * activated_at, and policy.activated on the feed. */
void history_activate(store_batch *b, const history_change *c, const json_t *by, const json_t *tests);
void history_dir_seen(store_batch *b, const char *version);
/* After b is durable: s->history follows c. */
void history_applied(server *s, const history_change *c);
json_t *history_record(server *s, const char *version);
/* The record with each file's text as `source`, or NULL. */
json_t *history_record_sources(server *s, const char *version);
/* {"name": "text"} of a kept version (what loads it again), or NULL. */
json_t *history_files(server *s, const char *version);
/* {versions (newest activated or loaded first, at most limit), total, active, previous, activations} */
json_t *history_list(server *s, size_t limit);

/* ---- versions.c: loading sets (reload, shadow, upload, activate, rollback, start) ---- */
int versions_start(server *s);
/* 422 policy_rejected: file and line from err, the version still serving,
 * every failing test when tests failed (failures stolen, may be NULL). */
void reply_policy_rejected(server *s, http_request *req, const char *err, json_t *failures);

/* ---- backlog.c: waiting cases given out as capacity frees ---- */
/* Gives the agent cases from its queues' backlogs, best first, up to its
 * free capacity (and a bound per call), as changes into b; exclude names a
 * case not to take (0: none). Answers how many. */
int backlog_fill(server *s, store_batch *b, as_decider *d, const char *agent_id, uint64_t exclude);
/* After ch went into b: the agent it freed takes from the backlog. */
void backlog_after(server *s, store_batch *b, as_decider *d, const as_changes *ch);
/* Adds the agent ch freed to a list (at most max, each once), for a caller
 * that fills once its other changes are in (a timer round). */
void backlog_note_freed(const as_changes *ch, as_id *agents, size_t *n, size_t max);

/* ---- surveys.c: relationship surveys ---- */
/* The buyer was active with the merchant: survey.relationship plans a round
 * into b unless one is planned. */
void nps_activity(server *s, store_batch *b, as_decider *d, const char *merchant_id, const char *buyer_id);
/* An "nps" timer (id "buyer/merchant") came due: the round is sent. */
void nps_fire_due(server *s, store_batch *b, const char *id, int64_t at);

/* ---- admin.c ---- */
/* The shadow set's description with its summary (agreement since it
 * started), or NULL when none runs. */
json_t *shadow_describe(server *s);
/* A shadow set starts (or stops): its counts start again. */
void shadow_reset(server *s);

/* ---- jobs.c: replays over any range, each on a thread of its own ---- */
int jobs_start(server *s);
/* Cancels every job and joins the running one's thread (before the store closes). */
void jobs_stop(server *s);

/* ---- looplag.c ---- */
int looplag_start(server *s);
void looplag_stop(server *s);
void looplag_metrics(const server *s, textbuf *tb);

/* ---- handlers, one file per resource ---- */
void h_healthz(server *s, http_request *req, const route_params *p, const principal *who);
void h_metrics(server *s, http_request *req, const route_params *p, const principal *who);
void h_order_put(server *s, http_request *req, const route_params *p, const principal *who);
void h_order_get(server *s, http_request *req, const route_params *p, const principal *who);
void h_order_tracking(server *s, http_request *req, const route_params *p, const principal *who);
void h_order_price(server *s, http_request *req, const route_params *p, const principal *who);
void h_case_create(server *s, http_request *req, const route_params *p, const principal *who);
void h_case_get(server *s, http_request *req, const route_params *p, const principal *who);
void h_case_list(server *s, http_request *req, const route_params *p, const principal *who);
void h_case_timeline(server *s, http_request *req, const route_params *p, const principal *who);
void h_case_action(server *s, http_request *req, const route_params *p, const principal *who);
void h_case_survey(server *s, http_request *req, const route_params *p, const principal *who);
void h_reports_kpi(server *s, http_request *req, const route_params *p, const principal *who);
/* The KPI aggregates' zone; builds them from the stored cases when the data
 * directory has none (written before them, or a rebuild cut short). */
int kpi_start(server *s);
void h_alerts(server *s, http_request *req, const route_params *p, const principal *who);
void h_customer_cases(server *s, http_request *req, const route_params *p, const principal *who);
void h_agent_put(server *s, http_request *req, const route_params *p, const principal *who);
void h_agent_list(server *s, http_request *req, const route_params *p, const principal *who);
void h_nps_get(server *s, http_request *req, const route_params *p, const principal *who);
void h_nps_answer(server *s, http_request *req, const route_params *p, const principal *who);
void h_survey_answers(server *s, http_request *req, const route_params *p, const principal *who);
void h_agent_availability(server *s, http_request *req, const route_params *p, const principal *who);
void h_agent_next(server *s, http_request *req, const route_params *p, const principal *who);
void h_agent_take_next(server *s, http_request *req, const route_params *p, const principal *who);
void h_events(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_policies(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_reload(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_dry_run(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_replay(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_shadow(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_shadow_stop(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_versions(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_version_get(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_version_upload(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_activate(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_rollback(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_clock(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_routes(server *s, http_request *req, const route_params *p, const principal *who);
void h_job_replay(server *s, http_request *req, const route_params *p, const principal *who);
void h_jobs_list(server *s, http_request *req, const route_params *p, const principal *who);
void h_job_get(server *s, http_request *req, const route_params *p, const principal *who);
void h_job_diffs(server *s, http_request *req, const route_params *p, const principal *who);
void h_job_cancel(server *s, http_request *req, const route_params *p, const principal *who);

#endif
