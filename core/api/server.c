/* api/server: wiring. The route table, the dispatch of each request (route,
 * authenticate, authorise, call the resource handler), start-up in a safe
 * order, and the graceful stop on SIGTERM/SIGINT: stop accepting, let the
 * requests in flight finish (their commits included), close the store. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/console.h"
#include "api/timers.h"
#include "case/migrate.h"
#include "util/log.h"

void metrics_on_response(void *ud, const http_request *req, int status, uint64_t duration_us);

/* Who may call a route: bit per role. */
#define R_ADMIN (1u << ROLE_ADMIN)
#define R_AGENT (1u << ROLE_AGENT)
#define R_SERVICE (1u << ROLE_SERVICE)
#define R_ANY (R_ADMIN | R_AGENT | R_SERVICE)
#define R_PUBLIC 0u /* no token needed */
/* Acts on every merchant (policies, agents, the clock): refused to a token
 * bound to one merchant, whatever its role. */
#define R_PLATFORM (1u << 8)

typedef struct {
    const char *method, *pattern, *label;
    api_handler handler;
    unsigned roles;
} route_def;

static const route_def routes[] = {
    {"GET", "/healthz", "GET /healthz", h_healthz, R_PUBLIC},
    {"GET", "/metrics", "GET /metrics", h_metrics, R_PUBLIC},
    {"GET", "/openapi.json", "GET /openapi.json", h_openapi, R_PUBLIC},
    {"GET", "/console", "GET /console", h_console_root, R_PUBLIC},
    {"GET", "/console/", "GET /console/", h_console_file, R_PUBLIC},
    {"GET", "/console/{file}", "GET /console/{file}", h_console_file, R_PUBLIC},
    {"GET", "/v1/me", "GET /v1/me", h_me, R_ANY},
    {"POST", "/v1/orders", "POST /v1/orders", h_order_put, R_ANY},
    {"GET", "/v1/orders/{id}", "GET /v1/orders/{id}", h_order_get, R_ANY},
    {"POST", "/v1/orders/{id}/tracking", "POST /v1/orders/{id}/tracking", h_order_tracking, R_ANY},
    {"PUT", "/v1/orders/{id}/prices/{sku}", "PUT /v1/orders/{id}/prices/{sku}", h_order_price, R_ANY},
    {"POST", "/v1/cases", "POST /v1/cases", h_case_create, R_ANY},
    {"GET", "/v1/cases", "GET /v1/cases", h_case_list, R_ANY},
    {"GET", "/v1/cases/{id}", "GET /v1/cases/{id}", h_case_get, R_ANY},
    {"POST", "/v1/cases/{id}/actions", "POST /v1/cases/{id}/actions", h_case_action, R_ANY},
    {"GET", "/v1/cases/{id}/actions", "GET /v1/cases/{id}/actions", h_case_allowed, R_ANY},
    {"GET", "/v1/cases/{id}/timeline", "GET /v1/cases/{id}/timeline", h_case_timeline, R_ANY},
    {"POST", "/v1/cases/{id}/survey", "POST /v1/cases/{id}/survey", h_case_survey, R_ANY},
    {"GET", "/v1/customers/{buyer_id}/cases", "GET /v1/customers/{buyer_id}/cases", h_customer_cases, R_ANY},
    {"GET", "/v1/customers/{buyer_id}/nps", "GET /v1/customers/{buyer_id}/nps", h_nps_get, R_ANY},
    {"POST", "/v1/customers/{buyer_id}/nps", "POST /v1/customers/{buyer_id}/nps", h_nps_answer, R_ANY},
    {"GET", "/v1/surveys", "GET /v1/surveys", h_survey_answers, R_ANY},
    {"POST", "/v1/agents", "POST /v1/agents", h_agent_put, R_ANY | R_PLATFORM},
    {"GET", "/v1/agents", "GET /v1/agents", h_agent_list, R_ANY},
    {"POST", "/v1/agents/{id}/availability", "POST /v1/agents/{id}/availability", h_agent_availability,
     R_ADMIN | R_AGENT},
    {"GET", "/v1/agents/{id}/next", "GET /v1/agents/{id}/next", h_agent_next, R_ADMIN | R_AGENT},
    {"POST", "/v1/agents/{id}/next", "POST /v1/agents/{id}/next", h_agent_take_next, R_ADMIN | R_AGENT},
    {"GET", "/v1/alerts", "GET /v1/alerts", h_alerts, R_ANY},
    {"GET", "/v1/reports/kpi", "GET /v1/reports/kpi", h_reports_kpi, R_ANY},
    {"GET", "/v1/events", "GET /v1/events", h_events, R_ANY},
    {"GET", "/v1/admin/policies", "GET /v1/admin/policies", h_admin_policies, R_ADMIN},
    {"POST", "/v1/admin/policies/reload", "POST /v1/admin/policies/reload", h_admin_reload, R_ADMIN | R_PLATFORM},
    {"POST", "/v1/admin/policies/dry-run", "POST /v1/admin/policies/dry-run", h_admin_dry_run, R_ADMIN},
    {"POST", "/v1/admin/policies/replay", "POST /v1/admin/policies/replay", h_admin_replay, R_ADMIN},
    {"POST", "/v1/admin/policies/shadow", "POST /v1/admin/policies/shadow", h_admin_shadow, R_ADMIN | R_PLATFORM},
    {"DELETE", "/v1/admin/policies/shadow", "DELETE /v1/admin/policies/shadow", h_admin_shadow_stop,
     R_ADMIN | R_PLATFORM},
    {"GET", "/v1/admin/policies/versions", "GET /v1/admin/policies/versions", h_admin_versions, R_ADMIN},
    {"POST", "/v1/admin/policies/versions", "POST /v1/admin/policies/versions", h_admin_version_upload,
     R_ADMIN | R_PLATFORM},
    {"GET", "/v1/admin/policies/versions/{version}", "GET /v1/admin/policies/versions/{version}",
     h_admin_version_get, R_ADMIN},
    {"POST", "/v1/admin/policies/activate", "POST /v1/admin/policies/activate", h_admin_activate,
     R_ADMIN | R_PLATFORM},
    {"POST", "/v1/admin/policies/rollback", "POST /v1/admin/policies/rollback", h_admin_rollback,
     R_ADMIN | R_PLATFORM},
    {"POST", "/v1/admin/clock", "POST /v1/admin/clock", h_admin_clock, R_ADMIN | R_PLATFORM},
    {"GET", "/v1/admin/routes", "GET /v1/admin/routes", h_admin_routes, R_ADMIN},
    {"POST", "/v1/admin/jobs/replay", "POST /v1/admin/jobs/replay", h_job_replay, R_ADMIN},
    {"GET", "/v1/admin/jobs", "GET /v1/admin/jobs", h_jobs_list, R_ADMIN},
    {"GET", "/v1/admin/jobs/{id}", "GET /v1/admin/jobs/{id}", h_job_get, R_ADMIN},
    {"DELETE", "/v1/admin/jobs/{id}", "DELETE /v1/admin/jobs/{id}", h_job_cancel, R_ADMIN},
    {"GET", "/v1/admin/jobs/{id}/diffs", "GET /v1/admin/jobs/{id}/diffs", h_job_diffs, R_ADMIN},
};
_Static_assert(sizeof routes / sizeof routes[0] + 1 <= METRIC_ROUTES,
               "METRIC_ROUTES must hold every route's label and \"unmatched\"");

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* GET /v1/admin/routes: the route table as the router has it, with who may
 * call each route; tests/e2e/test_roles.py checks its role x route matrix
 * covers every one. */
void h_admin_routes(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    (void)s;
    (void)p;
    (void)who;
    json_t *list = json_array();
    static const api_role all[] = {ROLE_ADMIN, ROLE_AGENT, ROLE_SERVICE};
    for (size_t i = 0; list && i < NROUTES; i++) {
        json_t *roles = json_array();
        for (size_t r = 0; roles && r < sizeof all / sizeof *all; r++)
            if (routes[i].roles & (1u << all[r])) json_array_append_new(roles, json_string(role_name(all[r])));
        json_array_append_new(list, json_pack("{s:s,s:s,s:o*,s:b,s:b}", "method", routes[i].method, "path",
                                              routes[i].pattern, "roles", roles, "public",
                                              routes[i].roles == R_PUBLIC, "merchant_scoped",
                                              !(routes[i].roles & R_PLATFORM)));
    }
    http_respond_json(req, 200, json_pack("{s:o*}", "routes", list));
}

void server_config_defaults(server_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->data_dir = "./var";
    cfg->policies_dir = "./policies";
    cfg->max_body = 1 << 20;
    cfg->max_pending_writes = 20000;
    cfg->policy_error_alert = 20;
    cfg->map_size = (size_t)256 << 20;
    cfg->map_max = (size_t)64 << 30;
}

/* With --max-pending-writes batches waiting for the disk, further writes get
 * 503: memory stays bounded when clients outrun the disk, and they back off. */
static int write_backlog_full(server *s, http_request *req) {
    const char *m = http_request_method(req);
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) return 0;
    if (store_pending(s->db) < s->cfg.max_pending_writes) return 0;
    http_response_header(req, "Retry-After", "1");
    http_respond_error(req, 503, "overloaded",
                       "too many writes are waiting for the disk; retry shortly", NULL);
    return 1;
}

/* A path is public when its GET route is (/healthz, /metrics): only there do
 * 404 and 405 answer without a token; anywhere else a caller learns nothing,
 * not even which routes exist, before it authenticates. */
static int path_is_public(server *s, const char *path) {
    void *h;
    const char *label;
    route_params params;
    char allow[64];
    return router_match(s->routes, "GET", path, &h, &label, &params, allow, sizeof allow) == ROUTE_FOUND &&
           ((const route_def *)h)->roles == R_PUBLIC;
}

static void reply_unauthorized(http_request *req) {
    http_response_header(req, "WWW-Authenticate", "Bearer");
    http_respond_error(req, 401, "unauthorized", "a valid bearer token is required", NULL);
}

static void dispatch(http_request *req, void *ud) {
    server *s = ud;
    void *h;
    const char *label;
    route_params params;
    char allow[64];
    route_result rr = router_match(s->routes, http_request_method(req), http_request_path(req), &h,
                                   &label, &params, allow, sizeof allow);
    const route_def *def = rr == ROUTE_FOUND ? h : NULL;
    if (def) http_request_set_route(req, def->label); /* metrics count a 401 by its route too */
    int public = def ? def->roles == R_PUBLIC : path_is_public(s, http_request_path(req));
    const principal *who = public ? NULL : auth_lookup(s, req);
    if (!public && who == NULL) {
        reply_unauthorized(req);
        return;
    }
    if (rr == ROUTE_NOT_FOUND) {
        http_respond_error(req, 404, "not_found", "no such endpoint", NULL);
        return;
    }
    if (rr == ROUTE_METHOD_NOT_ALLOWED) {
        http_response_header(req, "Allow", allow);
        http_respond_error(req, 405, "method_not_allowed", "method not allowed on this path",
                           json_pack("{s:s}", "allow", allow));
        return;
    }
    if (rr == ROUTE_BAD_PARAM) {
        http_respond_error(req, 400, "invalid_field", "a path parameter is badly encoded or too long",
                           json_pack("{s:s}", "field", "path"));
        return;
    }
    if (!public && !(def->roles & (1u << who->role))) {
        reply_forbidden(req, "this role may not call this endpoint");
        return;
    }
    if (!public && (def->roles & R_PLATFORM) && who->merchant) {
        reply_forbidden(req, "this token is bound to a merchant; this endpoint acts on every merchant");
        return;
    }
    if (write_backlog_full(s, req)) return;
    def->handler(s, req, &params, who);
}

static int build_routes(server *s) {
    s->routes = router_new();
    if (s->routes == NULL) return -1;
    for (size_t i = 0; i < NROUTES; i++)
        if (router_add(s->routes, routes[i].method, routes[i].pattern, (void *)&routes[i],
                       routes[i].label) != 0)
            return -1;
    return 0;
}

static void on_signal(uv_signal_t *h, int signum) {
    server *s = h->data;
    log_emit(LOG_INFO, "stopping", json_pack("{s:i}", "signal", signum));
    server_stop(s);
}

/* The store creates the data directory itself, and fsyncs its parent so the
 * new directory (and with it the first acknowledged write) survives a power
 * loss; creating it here first would skip that. */
static int open_storage(server *s) {
    store_config sc = {.path = s->cfg.data_dir, .map_size = s->cfg.map_size, .map_max = s->cfg.map_max};
    int rc = store_open(&s->db, s->loop, &sc);
    if (rc != 0) {
        log_msg(LOG_ERROR, "cannot open the store in %s: %s", s->cfg.data_dir, store_strerror(rc));
        return -1;
    }
    migrate_report mr;
    rc = store_migrate(s->db, &mr);
    if (rc == STORE_EINVAL && mr.from > AS_SCHEMA) {
        log_msg(LOG_ERROR, "the data in %s was written by a newer build (schema %d; this build reads up to %d)",
                s->cfg.data_dir, mr.from, AS_SCHEMA);
        return -1;
    }
    if (rc != 0) {
        log_msg(LOG_ERROR, "cannot upgrade the data in %s: %s", s->cfg.data_dir, store_strerror(rc));
        return -1;
    }
    if (mr.from != mr.to)
        log_emit(LOG_INFO, "data upgraded",
                 json_pack("{s:i,s:i,s:I,s:I,s:I,s:I}", "from_schema", mr.from, "to_schema", mr.to, "orders",
                           (json_int_t)mr.orders, "cases", (json_int_t)mr.cases, "ledgers", (json_int_t)mr.ledgers,
                           "ms", (json_int_t)mr.ms));
    if (seqs_load(s->db, &s->seqs) != 0 || agents_read_all(s->db, &s->agents) != 0) {
        log_msg(LOG_ERROR, "cannot read the store's counters or agents");
        return -1;
    }
    return 0;
}

static int start_http(server *s) {
    http_config hc;
    http_config_defaults(&hc);
    hc.host = s->cfg.host;
    hc.port = s->cfg.port;
    hc.max_body_bytes = s->cfg.max_body;
    hc.idle_timeout_ms = s->cfg.idle_timeout_ms;
    hc.request_timeout_ms = s->cfg.request_timeout_ms;
    hc.max_connections = s->cfg.max_connections;
    hc.access_log = !s->cfg.quiet;
    hc.handler = dispatch;
    hc.on_response = metrics_on_response;
    hc.ud = s;
    int rc = http_server_new(&s->http, s->loop, &hc);
    if (rc == 0) rc = http_server_listen(s->http);
    if (rc != 0) {
        log_msg(LOG_ERROR, "cannot listen on %s:%d: %s", s->cfg.host, s->cfg.port, uv_strerror(rc));
        return -1;
    }
    log_emit(LOG_INFO, "listening",
             json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:f}", "host", s->cfg.host, "port", http_server_port(s->http),
                       "data", s->cfg.data_dir, "policies", s->cfg.policies_dir, "policy_version",
                       policy_set_version(s->policies), "clock", s->clock.manual ? "manual" : "real", "start_ms",
                       (double)(uv_hrtime() - s->start_ns) / 1e6));
    return 0;
}

static int watch_signals(server *s) {
    int rc = uv_signal_init(s->loop, &s->sigterm);
    if (rc == 0) rc = uv_signal_init(s->loop, &s->sigint);
    if (rc != 0) return -1;
    s->sigterm.data = s->sigint.data = s;
    if (uv_signal_start(&s->sigterm, on_signal, SIGTERM) != 0 ||
        uv_signal_start(&s->sigint, on_signal, SIGINT) != 0)
        return -1;
    return 0;
}

int server_start(server **out, uv_loop_t *loop, const server_config *cfg) {
    server *s = calloc(1, sizeof *s);
    if (s == NULL) return -1;
    *out = s;
    s->loop = loop;
    s->start_ns = uv_hrtime();
    s->cfg = *cfg;
    agents_init(&s->agents);
    clock_init_real(&s->clock);
    if (cfg->manual_clock) clock_init_manual(&s->clock, clock_now(&s->clock));
    s->started_at = clock_now(&s->clock);
    if (build_routes(s) != 0 || open_storage(s) != 0 || auth_load(s) != 0 ||
        versions_start(s) != 0 || kpi_start(s) != 0 || watch_signals(s) != 0 || timers_start(s) != 0 ||
        webhooks_start(s) != 0 || jobs_start(s) != 0 || start_http(s) != 0 ||
        looplag_start(s) != 0) /* lag: from the first turn */
        return -1;
    return 0;
}

static void on_drained(void *ud) {
    server *s = ud;
    /* Every answer has been written; flush what is still queued, then let the
     * loop end by closing our remaining handles. */
    store_close(s->db);
    s->db = NULL;
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

void server_stop(server *s) {
    if (s->stopping) return;
    s->stopping = 1;
    timers_stop(s);
    webhooks_stop(s);
    jobs_stop(s);
    looplag_stop(s);
    if (s->http) http_server_shutdown(s->http, on_drained, s);
    else on_drained(s);
}

void server_free(server *s) {
    if (s == NULL) return;
    if (s->http) http_server_free(s->http);
    jobs_stop(s); /* a start that failed after these began */
    looplag_stop(s);
    if (s->db) store_close(s->db);
    if (s->policies) policy_set_free(s->policies);
    if (s->shadow) policy_set_free(s->shadow);
    router_free(s->routes);
    auth_free(s);
    agents_free(&s->agents);
    free(s);
}
