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
#include "http/http.h"
#include "http/router.h"
#include "policy/policy.h"
#include "store/keys.h"
#include "store/store.h"
#include "time/clock.h"
#include "webhook/webhook.h"

typedef enum { ROLE_ADMIN, ROLE_AGENT, ROLE_SERVICE } api_role;

typedef struct {
    char *token;
    api_role role;
    char *merchant; /* NULL: all merchants */
    char *agent;    /* NULL: not an agent identity */
} principal;

typedef struct server server;
typedef void (*api_handler)(server *s, http_request *req, const route_params *p,
                            const principal *who);

#define METRIC_ROUTES 48
#define METRIC_STATUSES 16

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
    json_t *agents; /* agent_id -> agent object, mirror of DB_AGENTS */
    uint64_t mirrors_epoch; /* the store epoch the mirrors were last rebuilt for */
    uint64_t next_case_seq;
    uint64_t next_event_seq; /* alert ids; feed seqs are the store's (store_batch_put_seq) */
    uint64_t next_timeline_seq;
    api_metrics metrics;
    uv_signal_t sigterm, sigint;
    int stopping;
    int64_t started_at;
    int64_t now_override; /* non-zero: when the work in hand happens (server_now) */
    /* What ctx.customer answers as of, while an admin re-decides a stored case
     * (replay: only the buyer's cases before it count) or tries an order that
     * is not stored (dry-run: the order's own buyer details count). */
    struct {
        uint64_t before_seq;   /* non-zero: count the buyer's cases below this seq */
        const char *buyer_id;  /* with buyer: the dry-run order's buyer */
        const json_t *buyer;
    } customer_as_of;
    uv_timer_t tick;      /* real clock: fires due timers */
    int tick_active;
    int timers_busy;      /* a timer round is waiting for its commit */
    struct timer_waiter *timer_waiters; /* callers that came while it was busy */
    webhook *webhook;     /* --webhook: pushes the feed, or NULL */
};

/* When the work in hand happens: the clock, except while a timer fires (its
 * due time, however late a jump of the manual clock delivers it) or a stored
 * case is re-decided (its creation time). Everything stamped goes by this. */
static inline int64_t server_now(const server *s) {
    return s->now_override ? s->now_override : clock_now(&s->clock);
}

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

/* ---- request.c ---- */
/* Parses the body as a JSON object; on failure answers 400 and returns NULL. */
json_t *req_json_body(http_request *req);
/* Field validation. Each answers 400 invalid_field naming `field` and returns
 * -1 when the value is missing (if required) or of the wrong type. */
int req_string(http_request *req, json_t *obj, const char *field, int required,
               const char **out);
int req_id(http_request *req, json_t *obj, const char *field, int required, const char **out);
int req_int(http_request *req, json_t *obj, const char *field, int required, int64_t min,
            int64_t max, int64_t *out, int *present);
int req_bool(http_request *req, json_t *obj, const char *field, int *out);
void reply_invalid(http_request *req, const char *field, const char *message);
void reply_not_found(http_request *req, const char *what);
void reply_forbidden(http_request *req, const char *message);
int id_valid(const char *id);
/* Masks phone and email in an order's buyer object for non-admins (in place). */
void mask_order_pii(json_t *order, const principal *who);

/* ---- commit.c: answering writes only once they are durable ---- */
/* Submits the batch; answers req with status and body (stolen) when the
 * commit is durable, or with the storage error. If idem_key is non-NULL the
 * answer is stored under it in the same transaction. */
void commit_and_reply(server *s, store_batch *b, http_request *req, const principal *who,
                      int status, json_t *body);
/* The same with the answer already serialised (text, stolen, NUL-terminated):
 * a handler that stored a document answers with the bytes it stored instead
 * of serialising it twice. */
void commit_and_reply_text(server *s, store_batch *b, http_request *req, const principal *who,
                           int status, char *text);
/* Idempotency: returns 1 if the request carried an Idempotency-Key whose
 * first answer exists (and has answered it), 0 otherwise. */
int idem_replay(server *s, http_request *req, const principal *who);
void reply_store_error(http_request *req, int err);

/* ---- records.c: documents, indexes, timeline, events ---- */
json_t *rec_load(server *s, store_db db, const char *id, int latest);
void batch_poison(store_batch *b);
/* Answers 200 with the stored bytes as they are (the fast path for callers
 * that need no masking or tenancy check). 0, STORE_ENOTFOUND or an error. */
int rec_respond_raw(server *s, http_request *req, store_db db, const char *id);
void rec_put(store_batch *b, store_db db, const char *id, const json_t *doc);
/* rec_put that also answers the stored text (malloc'd, the caller frees), or
 * NULL when serialising failed (the batch is then poisoned). */
char *rec_put_text(store_batch *b, store_db db, const char *id, const json_t *doc);
void case_index_update(store_batch *b, const json_t *before, const json_t *after);
uint64_t case_seq_of(const char *case_id);
void case_id_format(uint64_t seq, char *out, size_t outlen);
/* The case with that sequence number as of the read transaction, or NULL. */
json_t *case_read_seq(store_read *rd, uint64_t seq);
void timeline_append(server *s, store_batch *b, const char *case_id, const char *type,
                     const principal *who, json_t *data);
/* Appends a feed event about subject (a case, an order or an alert: the
 * envelope takes its case_id, order_id and merchant_id, which is what a
 * merchant-bound token's feed is filtered on). data is stolen. */
void event_append(server *s, store_batch *b, const char *type, const json_t *subject,
                  json_t *data);
/* The same with data already serialised (e.g. the case text case_save
 * stored), so a document is not serialised twice. A NULL data poisons b. */
void event_append_text(server *s, store_batch *b, const char *type, const json_t *subject,
                       const char *data);
/* obj's JSON text with one more member `key` whose value is `text` (JSON
 * already), appended last; malloc'd, NULL on failure. */
char *json_with_member(const json_t *obj, const char *key, const char *text);
void counters_put(server *s, store_batch *b);
int counters_load(server *s);
void buyer_profile_put(store_batch *b, const char *buyer_id, const json_t *buyer);
/* {returns_30d, cases_30d, lifetime_spend_cents, tier} for ctx.customer. */
json_t *customer_profile(server *s, const char *buyer_id);
/* Counts a new case in its buyer's activity (what ctx.customer's 30-day
 * figures are summed from). */
void buyer_activity_add(store_batch *b, const json_t *kase);
/* Cases assigned to agent_id that are still active (committed data): the
 * load of an agent registered after it was assigned cases by hand. */
int64_t agent_open_cases(server *s, const char *agent_id);
/* Rebuilds the agents mirror: committed data, then what pending batches wrote. */
int agents_load(server *s);
/* After a write that will never reach disk (a failed commit, or a batch
 * dropped before it was submitted): the mirrors may hold its changes and are
 * rebuilt, once per store epoch for failed commits. */
void mirrors_repair(server *s, int dropped);

/* ---- decide.c: asking the policies ---- */
void policy_ctx_init(server *s, policy_ctx *ctx, const char *merchant_id, json_t *log);
/* What a policy is given: the case (with its order line as case.item) or the
 * order (no case ids, no buyer phone or email), null members left out as a
 * policy sees them (nil). Later changes to the case do not reach a view, so
 * a decision records the inputs as they were. */
json_t *policy_case_view(const json_t *kase, const json_t *order);
json_t *policy_order_view(const json_t *order);

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
void h_alerts(server *s, http_request *req, const route_params *p, const principal *who);
void h_customer_cases(server *s, http_request *req, const route_params *p, const principal *who);
void h_agent_put(server *s, http_request *req, const route_params *p, const principal *who);
void h_agent_list(server *s, http_request *req, const route_params *p, const principal *who);
void h_events(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_policies(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_reload(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_dry_run(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_replay(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_shadow(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_shadow_stop(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_clock(server *s, http_request *req, const route_params *p, const principal *who);
void h_admin_routes(server *s, http_request *req, const route_params *p, const principal *who);

#endif
