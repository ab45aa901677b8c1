/* api/reports: GET /v1/reports/kpi, service figures over a time range.
 *
 * The figures come from the aggregates the commit maintains (case/kpi.h):
 * the cost is days x groups records, not the cases of the range (see
 * case/kpi_report.c for the edge days). Per group: case counts, resolution
 * rate, first-response and resolution times (p50/p90, seconds), SLA
 * attainment, CSAT, NPS, the open backlog by status and age, decisions,
 * refunds, SLA warnings and escalation levels; JSON, or CSV on
 * `Accept: text/csv`; with interval=day also one entry per day.
 *
 * The report is built on a worker thread with its own read transaction:
 * whole days cost days x groups records, but a range that cuts a day reads
 * that day's cases (5k cases, ~170 ms, on a 1M-case store), and no agent's
 * request may wait behind it on the loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "case/kpi.h"
#include "util/log.h"

#define SERIES_DAYS_MAX 366

static const char *by_name(char by) {
    return by == 'a' ? "agent" : by == 'q' ? "queue" : by == 'y' ? "type" : by == 'm' ? "merchant" : NULL;
}

static json_t *ratio(int64_t num, int64_t den) { return den > 0 ? json_real((double)num / (double)den) : json_null(); }

static json_t *pctl(const kpi_hist *h, int pct) {
    int64_t v;
    return kpi_hist_percentile(h, pct, &v) == 0 ? json_integer(v) : json_null();
}

static json_t *nps_of(const int64_t *v) {
    return v[KC_NPS_N] ? json_real(100.0 * ((double)v[KC_PROMOTERS] - (double)v[KC_DETRACTORS]) / (double)v[KC_NPS_N])
                       : json_null();
}

static json_t *counts(const int64_t *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *warnings_json(const int64_t *v) {
    json_t *o = json_object();
    for (int k = 0; k < SLA__KINDS; k++)
        json_object_set_new(o, sla_kind_name((sla_kind)k),
                            json_pack("{s:I,s:I}", "warned", (json_int_t)v[KC_WARNED + k], "met",
                                      (json_int_t)v[KC_WARNED_MET + k]));
    return o;
}

static json_t *group_json(const kpi_group *g, const char *group_by, const char *key) {
    const int64_t *v = g->c.v;
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:o,s:{s:o,s:o},s:{s:o,s:o},s:o,s:o,s:I,s:o}", "group_by", group_by,
                          "key", key, "cases", (json_int_t)v[KC_CASES], "resolved", (json_int_t)v[KC_RESOLVED],
                          "resolution_rate", ratio(v[KC_RESOLVED], v[KC_CASES]), "first_response_seconds", "p50",
                          pctl(&g->h[KH_FIRST_RESPONSE], 50), "p90", pctl(&g->h[KH_FIRST_RESPONSE], 90),
                          "resolution_seconds", "p50", pctl(&g->h[KH_RESOLUTION], 50), "p90",
                          pctl(&g->h[KH_RESOLUTION], 90), "sla_attainment", ratio(v[KC_SLA_MET], v[KC_WITH_SLA]),
                          "csat", v[KC_CSAT_N] ? json_real((double)v[KC_CSAT_SUM] / (double)v[KC_CSAT_N]) : json_null(),
                          "survey_answers", (json_int_t)v[KC_CSAT_N], "nps", nps_of(v));
    if (o == NULL) return NULL;
    json_object_set_new(o, "backlog",
                        json_pack("{s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "open", (json_int_t)v[KC_ST_OPEN + ST_OPEN],
                                  "awaiting_customer", (json_int_t)v[KC_ST_OPEN + ST_AWAITING_CUSTOMER],
                                  "in_progress", (json_int_t)v[KC_ST_OPEN + ST_IN_PROGRESS], "unassigned",
                                  (json_int_t)v[KC_UNASSIGNED], "age", "lt_1d", (json_int_t)g->age[0], "1d_3d",
                                  (json_int_t)g->age[1], "3d_7d", (json_int_t)g->age[2], "ge_7d",
                                  (json_int_t)g->age[3]));
    json_object_set_new(o, "rejected", json_integer(v[KC_ST_OPEN + ST_REJECTED]));
    json_object_set_new(o, "decisions", json_pack("{s:I,s:I,s:I}", "approve", (json_int_t)v[KC_APPROVE], "reject",
                                                  (json_int_t)v[KC_REJECT], "review", (json_int_t)v[KC_REVIEW]));
    json_object_set_new(o, "refunded_cents", json_integer(v[KC_REFUNDED_CENTS]));
    json_object_set_new(o, "escalated", json_integer(v[KC_ESCALATED]));
    json_object_set_new(o, "escalation_levels", counts(v + KC_ESC_LEVEL, 9));
    json_object_set_new(o, "sla_warnings", warnings_json(v));
    json_object_set_new(o, "csat_counts", counts(v + KC_CSAT_1, 5));
    json_object_set_new(o, "nps_counts", counts(v + KC_NPS_0, 11));
    return o;
}

static int by_cases(const void *a, const void *b) {
    const kpi_group *x = a, *y = b;
    if (x->c.v[KC_CASES] != y->c.v[KC_CASES]) return x->c.v[KC_CASES] > y->c.v[KC_CASES] ? -1 : 1;
    return strcmp(x->key, y->key);
}

static const char *key_shown(const char *key) { return key[0] ? key : "(none)"; }

/* Groups with no case left (everything taken away by an edge day) are not
 * shown; the rest by cases, most first, then by key. */
static json_t *groups_json(kpi_table *t, char by) {
    json_t *a = json_array();
    if (t->n) qsort(t->g, t->n, sizeof *t->g, by_cases); /* qsort may not be given NULL */
    for (size_t i = 0; i < t->n; i++)
        if (t->g[i].c.v[KC_CASES] > 0) json_array_append_new(a, group_json(&t->g[i], by_name(by), key_shown(t->g[i].key)));
    return a;
}

static int by_count(const void *a, const void *b) {
    const kpi_decision_count *x = a, *y = b;
    if (x->outcome != y->outcome) return x->outcome - y->outcome;
    return strcmp(x->reason, y->reason);
}

static json_t *decisions_json(kpi_report *r) {
    int64_t total = 0;
    for (size_t i = 0; i < r->ndec; i++) total += r->dec[i].n;
    if (r->ndec) qsort(r->dec, r->ndec, sizeof *r->dec, by_count);
    json_t *a = json_array();
    for (size_t i = 0; i < r->ndec; i++) {
        const kpi_decision_count *d = &r->dec[i];
        if (d->n <= 0 || outcome_name((as_outcome)d->outcome) == NULL) continue;
        json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:o}", "outcome", outcome_name((as_outcome)d->outcome),
                                           "reason_code", d->reason, "cases", (json_int_t)d->n, "rate",
                                           ratio(d->n, total)));
    }
    return a;
}

static int by_answers(const void *a, const void *b) {
    const kpi_group *x = a, *y = b;
    if (x->c.v[KC_CSAT_N] != y->c.v[KC_CSAT_N]) return x->c.v[KC_CSAT_N] > y->c.v[KC_CSAT_N] ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* The case surveys answered, by the channel the case came in on. */
static json_t *channels_json(kpi_table *t) {
    json_t *a = json_array();
    if (t->n) qsort(t->g, t->n, sizeof *t->g, by_answers);
    for (size_t i = 0; i < t->n; i++) {
        const int64_t *v = t->g[i].c.v;
        if (v[KC_CSAT_N] <= 0) continue;
        json_array_append_new(a, json_pack("{s:s,s:I,s:o,s:I,s:o}", "channel", key_shown(t->g[i].key), "answers",
                                           (json_int_t)v[KC_CSAT_N], "csat",
                                           json_real((double)v[KC_CSAT_SUM] / (double)v[KC_CSAT_N]), "nps_answers",
                                           (json_int_t)v[KC_NPS_N], "nps", nps_of(v)));
    }
    return a;
}

/* The part of the series' day i the range covers. */
static void day_bounds(const kpi_query *q, const kpi_report *r, size_t i, int64_t *from, int64_t *to) {
    int64_t ds = kpi_day_start(r->day0 + (int64_t)i, q->offset), de = kpi_day_start(r->day0 + (int64_t)i + 1, q->offset);
    *from = ds > q->from ? ds : q->from;
    *to = de < q->to ? de : q->to;
}

/* ---- CSV ---- */

static void csv_row(textbuf *tb, int64_t from, int64_t to, const char *by, const char *key, const kpi_group *g) {
    const int64_t *v = g->c.v;
    int64_t fr50, fr90, rs50, rs90;
    int f1 = kpi_hist_percentile(&g->h[KH_FIRST_RESPONSE], 50, &fr50) == 0;
    int f2 = kpi_hist_percentile(&g->h[KH_FIRST_RESPONSE], 90, &fr90) == 0;
    int r1 = kpi_hist_percentile(&g->h[KH_RESOLUTION], 50, &rs50) == 0;
    int r2 = kpi_hist_percentile(&g->h[KH_RESOLUTION], 90, &rs90) == 0;
    tb_printf(tb, "%" PRId64 ",%" PRId64 ",%s,\"", from, to, by);
    for (const char *p = key; *p; p++) {
        tb_append(tb, p, 1);
        if (*p == '"') tb_append(tb, p, 1); /* a quote is doubled */
    }
    tb_printf(tb, "\",%" PRId64 ",%" PRId64 ",", v[KC_CASES], v[KC_RESOLVED]);
    if (v[KC_CASES]) tb_printf(tb, "%.6f", (double)v[KC_RESOLVED] / (double)v[KC_CASES]);
    int64_t p[4] = {fr50, fr90, rs50, rs90};
    int has[4] = {f1, f2, r1, r2};
    for (int i = 0; i < 4; i++) {
        if (has[i]) tb_printf(tb, ",%" PRId64, p[i]);
        else tb_printf(tb, ",");
    }
    tb_printf(tb, ",");
    if (v[KC_WITH_SLA]) tb_printf(tb, "%.6f", (double)v[KC_SLA_MET] / (double)v[KC_WITH_SLA]);
    tb_printf(tb, ",");
    if (v[KC_CSAT_N]) tb_printf(tb, "%.6f", (double)v[KC_CSAT_SUM] / (double)v[KC_CSAT_N]);
    tb_printf(tb, ",%" PRId64 ",", v[KC_CSAT_N]);
    if (v[KC_NPS_N])
        tb_printf(tb, "%.6f", 100.0 * ((double)v[KC_PROMOTERS] - (double)v[KC_DETRACTORS]) / (double)v[KC_NPS_N]);
    tb_printf(tb, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "\r\n",
              v[KC_REFUNDED_CENTS], v[KC_ST_OPEN + ST_OPEN], v[KC_ST_OPEN + ST_AWAITING_CUSTOMER],
              v[KC_ST_OPEN + ST_IN_PROGRESS], v[KC_UNASSIGNED], v[KC_ST_OPEN + ST_REJECTED]);
}

static void csv_table(textbuf *tb, int64_t from, int64_t to, kpi_table *t, char by) {
    csv_row(tb, from, to, "all", "all", &t->totals);
    if (t->n) qsort(t->g, t->n, sizeof *t->g, by_cases); /* qsort may not be given NULL */
    for (size_t i = 0; i < t->n; i++)
        if (t->g[i].c.v[KC_CASES] > 0) csv_row(tb, from, to, by_name(by), key_shown(t->g[i].key), &t->g[i]);
}

static char *render_csv(const kpi_query *q, kpi_report *r, size_t *len) {
    textbuf tb = {0};
    tb_printf(&tb, "from,to,group_by,key,cases,resolved,resolution_rate,first_response_p50,first_response_p90,"
                   "resolution_p50,resolution_p90,sla_attainment,csat,survey_answers,nps,refunded_cents,open,"
                   "awaiting_customer,in_progress,unassigned,rejected\r\n");
    csv_table(&tb, q->from, q->to, &r->all, q->by);
    for (size_t i = 0; i < r->ndays; i++) {
        int64_t from, to;
        day_bounds(q, r, i, &from, &to);
        csv_table(&tb, from, to, &r->days[i], q->by);
    }
    return tb_take(&tb, len);
}

/* ---- the request ---- */

static int query_time(http_request *req, const char *name, int64_t dflt, int64_t *out) {
    char num[32];
    *out = dflt;
    int got = http_query_param(req, name, num, sizeof num);
    if (got == 0 || (got == 1 && !num[0])) return 0;
    char *end;
    long long v = got == 1 ? strtoll(num, &end, 10) : -1;
    if (got != 1 || *end || v < 0 || v > ((int64_t)1 << 40)) {
        reply_invalid(req, name, "must be unix seconds");
        return -1;
    }
    *out = v;
    return 0;
}

static int wants_csv(const http_request *req) {
    const char *accept = http_request_header(req, "accept");
    return accept && strstr(accept, "text/csv") != NULL;
}

/* At most this many reports wait for the one being built; more are 503. */
#define REPORTS_WAITING_MAX 32

typedef struct report_job {
    uv_work_t work;
    struct report_job *next; /* waiting for the one being built */
    server *s;
    http_request *req;
    store *db;
    kpi_query q;
    char *scope, by[32]; /* scope: the query's, owned */
    int csv, rc;
    kpi_report r;
    char *text; /* the answer, rendered on the worker */
    size_t len;
} report_job;

static void report_work(uv_work_t *w);
static void report_done(uv_work_t *w, int status);
static void report_next(server *s);
static char *render_json(const kpi_query *q, const char *by, kpi_report *r, size_t *len);

void h_reports_kpi(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    static const char *const known[] = {"from", "to", "group_by", "interval", NULL};
    if (req_query_known(req, known) != 0) return;
    int64_t now = clock_now(&s->clock), from, to;
    char by[32] = "", interval[16] = "";
    if (query_time(req, "from", now - 30 * 86400, &from) != 0 || query_time(req, "to", now + 1, &to) != 0) return;
    if (from >= to) {
        reply_invalid(req, "to", "must be later than from");
        return;
    }
    kpi_query q = {.from = from, .to = to, .now = now, .offset = s->kpi_offset,
                   .scope = who->merchant ? who->merchant : "*"};
    if (http_query_param(req, "group_by", by, sizeof by) < 0) by[0] = '?';
    q.by = !by[0] ? 0 : !strcmp(by, "agent") ? 'a' : !strcmp(by, "queue") ? 'q' : !strcmp(by, "type") ? 'y'
         : !strcmp(by, "merchant") ? 'm' : '?';
    if (q.by == '?') {
        reply_invalid(req, "group_by", "must be agent, queue, type or merchant");
        return;
    }
    if (http_query_param(req, "interval", interval, sizeof interval) != 0 && strcmp(interval, "day") != 0) {
        reply_invalid(req, "interval", "must be day");
        return;
    }
    q.daily = interval[0] != 0;
    if (q.daily && kpi_day_of(to - 1, q.offset) - kpi_day_of(from, q.offset) >= SERIES_DAYS_MAX) {
        reply_invalid(req, "interval", "a daily series covers at most 366 days");
        return;
    }
    report_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        reply_store_error(req, STORE_ENOMEM);
        return;
    }
    j->req = req;
    j->db = s->db;
    j->q = q;
    if ((j->scope = strdup(q.scope)) == NULL) {
        free(j);
        reply_store_error(req, STORE_ENOMEM);
        return;
    }
    j->q.scope = j->scope;
    snprintf(j->by, sizeof j->by, "%s", by);
    j->csv = wants_csv(req);
    j->work.data = j;
    j->s = s;
    if (s->kpi_building && s->kpi_waiting >= REPORTS_WAITING_MAX) {
        free(j->scope);
        free(j);
        http_response_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "overloaded", "too many KPI reports are waiting; retry shortly", NULL);
        return;
    }
    if (s->kpi_tail) s->kpi_tail->next = j;
    else s->kpi_head = j;
    s->kpi_tail = j;
    s->kpi_waiting++;
    if (!s->kpi_building) report_next(s);
}

/* Builds the first waiting report, if none is being built. One at a time:
 * a report's read transaction holds the store's resize lock shared for its
 * whole run, and reports overlapping one another would keep a writer that
 * must grow the map waiting for as long as they kept coming; between two
 * reports, it gets its turn. */
static void report_next(server *s) {
    while (!s->kpi_building && s->kpi_head) {
        report_job *j = s->kpi_head;
        s->kpi_head = j->next;
        if (s->kpi_head == NULL) s->kpi_tail = NULL;
        s->kpi_waiting--;
        int rc = uv_queue_work(s->loop, &j->work, report_work, report_done);
        if (rc == 0) {
            s->kpi_building = 1;
            return;
        }
        http_respond_error(j->req, 503, "unavailable", uv_strerror(rc), NULL);
        free(j->scope);
        free(j);
    }
}

/* On the worker: the report, and its answer's text (a report grouped by
 * merchant or agent is hundreds of groups: milliseconds of JSON). */
static void report_work(uv_work_t *w) {
    report_job *j = w->data;
    j->rc = kpi_report_build_detached(j->db, &j->q, &j->r);
    if (j->rc != 0) return;
    j->text = j->csv ? render_csv(&j->q, &j->r, &j->len) : render_json(&j->q, j->by, &j->r, &j->len);
    kpi_report_free(&j->r);
    if (j->text == NULL) j->rc = STORE_ENOMEM;
}

static void report_done(uv_work_t *w, int status) {
    report_job *j = w->data;
    server *s = j->s;
    s->kpi_building = 0;
    if (status != 0) { /* cancelled before it ran: nothing was built */
        http_respond_error(j->req, 503, "unavailable", "the report was cancelled; retry", NULL);
    } else if (j->rc != 0) {
        reply_store_error(j->req, j->rc);
    } else {
        http_respond(j->req, 200, j->csv ? "text/csv; charset=utf-8" : "application/json", j->text, j->len);
    }
    free(j->text);
    free(j->scope);
    free(j);
    report_next(s);
}

static char *render_json(const kpi_query *q, const char *by, kpi_report *r, size_t *len) {
    json_t *out = json_pack("{s:I,s:I,s:s?,s:s?,s:o,s:o}", "from", (json_int_t)q->from, "to", (json_int_t)q->to,
                            "group_by", by[0] ? by : NULL, "interval", q->daily ? "day" : NULL, "totals",
                            group_json(&r->all.totals, "all", "all"), "groups", groups_json(&r->all, q->by));
    json_object_set_new(out, "decisions", decisions_json(r));
    json_object_set_new(out, "surveys_by_channel", channels_json(&r->channels));
    json_object_set_new(out, "due_next_hour", json_integer(r->due_next_hour));
    if (q->daily) {
        json_t *series = json_array();
        for (size_t i = 0; i < r->ndays; i++) {
            int64_t from, to;
            day_bounds(q, r, i, &from, &to);
            json_array_append_new(series, json_pack("{s:I,s:I,s:o,s:o}", "from", (json_int_t)from, "to",
                                                    (json_int_t)to, "totals",
                                                    group_json(&r->days[i].totals, "all", "all"), "groups",
                                                    groups_json(&r->days[i], q->by)));
        }
        json_object_set_new(out, "series", series);
    }
    json_object_set_new(out, "source", json_pack("{s:I,s:I,s:I}", "records", (json_int_t)r->records, "cases_read",
                                                 (json_int_t)r->scanned, "utc_offset", (json_int_t)q->offset));
    char *text = out ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(out);
    *len = text ? strlen(text) : 0;
    return text;
}

/* ---- start ---- */

int kpi_start(server *s) {
    int rc = kpi_meta_read(s->db, &s->kpi_offset);
    if (rc == 0) return 0;
    if (rc != STORE_ENOTFOUND) {
        log_msg(LOG_ERROR, "cannot read the KPI aggregates' settings: %s", store_strerror(rc));
        return -1;
    }
    char err[256] = "";
    const calendar *cal = policy_calendar(s->policies, NULL, err, sizeof err);
    int64_t offset = cal ? calendar_utc_offset(cal) : 0;
    kpi_rebuild_report r;
    rc = kpi_rebuild(s->db, offset, &r);
    if (rc != 0) {
        log_msg(LOG_ERROR, "cannot build the KPI aggregates: %s", store_strerror(rc));
        return -1;
    }
    s->kpi_offset = offset;
    log_emit(LOG_INFO, "kpi aggregates built",
             json_pack("{s:I,s:I,s:I,s:I}", "cases", (json_int_t)r.cases, "records", (json_int_t)r.records,
                       "utc_offset", (json_int_t)offset, "ms", (json_int_t)r.ms));
    return 0;
}
