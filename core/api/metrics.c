/* api/metrics: /healthz and /metrics (Prometheus text), and the per-answer
 * hook that counts requests by route and status. Counters live in the server
 * object (api_metrics); routes are the router's static labels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/textbuf.h"

void metrics_on_response(void *ud, const http_request *req, int status, uint64_t duration_us) {
    server *s = ud;
    api_metrics *m = &s->metrics;
    const char *route = http_request_route(req);
    if (route == NULL) route = "unmatched";
    m->requests++;
    int r, st;
    /* labels are the route table's own strings: the pointer usually decides */
    for (r = 0; r < METRIC_ROUTES && m->route[r] && m->route[r] != route && strcmp(m->route[r], route) != 0;
         r++) {}
    if (r == METRIC_ROUTES) return; /* more labels than slots: counted in requests only */
    if (m->route[r] == NULL) m->route[r] = route;
    for (st = 0; st < METRIC_STATUSES && m->status[st] && m->status[st] != status; st++) {}
    if (st == METRIC_STATUSES) return;
    m->status[st] = status;
    m->count[r][st]++;
    m->duration_us[r] += duration_us;
}

void h_healthz(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    (void)p;
    (void)who;
    http_respond_json(req, 200, json_pack("{s:s,s:s,s:I}", "status", s->stopping ? "stopping" : "ok",
                                          "version", policy_set_version(s->policies), "now",
                                          (json_int_t)clock_now(&s->clock)));
}

static void write_http_metrics(const api_metrics *m, textbuf *tb) {
    tb_printf(tb, "# HELP aftersale_http_requests_total Requests answered, by route and status.\n"
                  "# TYPE aftersale_http_requests_total counter\n");
    for (int r = 0; r < METRIC_ROUTES && m->route[r]; r++)
        for (int st = 0; st < METRIC_STATUSES && m->status[st]; st++)
            if (m->count[r][st])
                tb_printf(tb, "aftersale_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                          m->route[r], m->status[st], (unsigned long long)m->count[r][st]);
    tb_printf(tb, "# HELP aftersale_http_request_seconds_total Time spent answering, by route.\n"
                  "# TYPE aftersale_http_request_seconds_total counter\n");
    for (int r = 0; r < METRIC_ROUTES && m->route[r]; r++)
        tb_printf(tb, "aftersale_http_request_seconds_total{route=\"%s\"} %.6f\n", m->route[r],
                  (double)m->duration_us[r] / 1e6);
}

/* One family of one sample: its HELP and TYPE lines, then the value. */
static void metric_int(textbuf *tb, const char *name, const char *type, const char *help, uint64_t value) {
    tb_printf(tb, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
              (unsigned long long)value);
}

static void counter_u64(textbuf *tb, const char *name, const char *help, uint64_t value) {
    metric_int(tb, name, "counter", help, value);
}

static void counter_seconds(textbuf *tb, const char *name, const char *help, uint64_t us) {
    tb_printf(tb, "# HELP %s %s\n# TYPE %s counter\n%s %.6f\n", name, help, name, name, (double)us / 1e6);
}

static void write_store_metrics(server *s, textbuf *tb) {
    store_stats st;
    store_get_stats(s->db, &st);
    counter_u64(tb, "aftersale_store_commits_total", "Transactions committed (each one fsync).", st.commits);
    counter_u64(tb, "aftersale_store_batches_total",
                "Batches completed, committed or failed, barriers included.", st.batches);
    counter_u64(tb, "aftersale_store_failed_batches_total", "Batches that failed.", st.failed_batches);
    counter_seconds(tb, "aftersale_store_commit_seconds_total", "Time spent in transactions and commits.",
                    st.commit_us_total);
    counter_u64(tb, "aftersale_store_bytes_written_total", "Key and value bytes of the puts committed.",
                st.bytes_written);
    metric_int(tb, "aftersale_store_map_bytes", "gauge", "Size of the LMDB map.", st.map_size);
    metric_int(tb, "aftersale_store_pending_batches", "gauge", "Batches submitted and not yet completed.",
               st.pending);
    static const char *const le[] = {"1", "3", "7", "15", "31", "63", "127", "+Inf"};
    unsigned long long cum = 0;
    tb_printf(tb, "# HELP aftersale_store_batches_per_commit Batches group-committed per transaction.\n"
                  "# TYPE aftersale_store_batches_per_commit histogram\n");
    for (int i = 0; i < 8; i++) {
        cum += st.batch_size_hist[i];
        tb_printf(tb, "aftersale_store_batches_per_commit_bucket{le=\"%s\"} %llu\n", le[i], cum);
    }
    tb_printf(tb, "aftersale_store_batches_per_commit_sum %llu\naftersale_store_batches_per_commit_count %llu\n",
              (unsigned long long)st.batches_committed, (unsigned long long)st.commits);
}

static void write_policy_metrics(server *s, textbuf *tb) {
    policy_stats ps;
    policy_get_stats(s->policies, &ps);
    counter_u64(tb, "aftersale_policy_calls_total", "Policy calls of the active set.", ps.calls);
    counter_u64(tb, "aftersale_policy_errors_total", "Policy calls that failed, looped or broke a cap.", ps.errors);
    counter_seconds(tb, "aftersale_policy_call_seconds_total", "Time spent in policy calls.", ps.call_us_total);
}

void h_metrics(server *s, http_request *req, const route_params *p, const principal *who) {
    if (req_no_query(req) != 0) return;
    (void)p;
    (void)who;
    textbuf tb = {0};
    write_http_metrics(&s->metrics, &tb);
    write_store_metrics(s, &tb);
    write_policy_metrics(s, &tb);
    policy_errors_metrics(s, &tb);
    looplag_metrics(s, &tb);
    metric_int(&tb, "aftersale_http_connections", "gauge", "Open client connections.",
               http_server_connections(s->http));
    metric_int(&tb, "aftersale_events_last_seq", "gauge", "Highest durable seq of the events feed.",
               store_seq_durable(s->db, DB_EVENTS));
    if (s->webhook) {
        webhook_stats ws;
        webhook_get_stats(s->webhook, &ws);
        metric_int(&tb, "aftersale_webhook_delivered_seq", "gauge", "Highest feed seq the endpoint acknowledged.",
                   ws.delivered_seq);
        counter_u64(&tb, "aftersale_webhook_deliveries_total", "Pages delivered.", ws.deliveries);
        counter_u64(&tb, "aftersale_webhook_failures_total", "Delivery attempts that failed.", ws.failures);
    }
    size_t len;
    char *text = tb_take(&tb, &len);
    if (text == NULL) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}
