/* api/reports: GET /v1/reports/kpi, service figures over a time range.
 *
 * Cases created in [from, to) are read newest first from the "all" index
 * (bounded by KPI_SCAN_MAX) and grouped by agent, queue, type or merchant.
 * Per group: case counts, resolution rate, first-response and resolution
 * times (p50/p90, seconds), SLA attainment (share of cases with an SLA target
 * and no breach), CSAT average and NPS (promoters - detractors, in percent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

#define KPI_SCAN_MAX 200000

typedef struct {
    int64_t *v;
    size_t n, cap;
} series;

typedef struct {
    char key[160];
    uint64_t cases, resolved, with_sla, sla_met, csat_n, csat_sum, nps_n, promoters, detractors;
    series first_response, resolution;
} kpi_group;

typedef struct {
    kpi_group *g;
    size_t n, cap;
} kpi_table;

static int series_add(series *s, int64_t v) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        int64_t *grown = realloc(s->v, cap * sizeof *grown);
        if (grown == NULL) return -1;
        s->v = grown;
        s->cap = cap;
    }
    s->v[s->n++] = v;
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile; JSON null for an empty series. */
static json_t *percentile(series *s, int pct) {
    if (s->n == 0) return json_null();
    qsort(s->v, s->n, sizeof *s->v, cmp_i64);
    size_t rank = (s->n * (size_t)pct + 99) / 100;
    return json_integer(s->v[rank ? rank - 1 : 0]);
}

static kpi_group *group_for(kpi_table *t, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->g[i].key, key)) return &t->g[i];
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        kpi_group *grown = realloc(t->g, cap * sizeof *grown);
        if (grown == NULL) return NULL;
        t->g = grown;
        t->cap = cap;
    }
    kpi_group *g = &t->g[t->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->key, sizeof g->key, "%s", key);
    return g;
}

static void count_case(kpi_group *g, const as_case *k) {
    int64_t created = k->created_at;
    g->cases++;
    /* resolved and its times agree: a rejection sets resolved_at too, but it
     * is not a resolution (it would report instant "resolutions") */
    int resolved = k->status == ST_RESOLVED || (k->status == ST_CLOSED && k->stage != STG_CANCELLED);
    if (resolved) g->resolved++;
    if (k->first_response_at != AS_NONE) series_add(&g->first_response, k->first_response_at - created);
    if (resolved && k->resolved_at != AS_NONE) series_add(&g->resolution, k->resolved_at - created);
    if (k->sla.first_response_due != AS_NONE || k->sla.resolution_due != AS_NONE) {
        g->with_sla++;
        if (k->sla.breached == 0) g->sla_met++;
    }
    if (k->survey.csat != AS_NONE) {
        g->csat_n++;
        g->csat_sum += (uint64_t)k->survey.csat;
    }
    if (k->survey.nps != AS_NONE) {
        g->nps_n++;
        g->promoters += k->survey.nps >= 9;
        g->detractors += k->survey.nps <= 6;
    }
}

static json_t *ratio(uint64_t num, uint64_t den) {
    return den ? json_real((double)num / (double)den) : json_null();
}

static json_t *group_json(kpi_group *g, const char *group_by) {
    json_t *nps = g->nps_n ? json_real(100.0 * ((double)g->promoters - (double)g->detractors) / (double)g->nps_n)
                           : json_null();
    return json_pack("{s:s,s:s,s:I,s:I,s:o,s:{s:o,s:o},s:{s:o,s:o},s:o,s:o,s:I,s:o}", "group_by", group_by,
                     "key", g->key, "cases", (json_int_t)g->cases, "resolved", (json_int_t)g->resolved,
                     "resolution_rate", ratio(g->resolved, g->cases), "first_response_seconds", "p50",
                     percentile(&g->first_response, 50), "p90", percentile(&g->first_response, 90),
                     "resolution_seconds", "p50", percentile(&g->resolution, 50), "p90",
                     percentile(&g->resolution, 90), "sla_attainment", ratio(g->sla_met, g->with_sla),
                     "csat", g->csat_n ? json_real((double)g->csat_sum / (double)g->csat_n) : json_null(),
                     "survey_answers", (json_int_t)g->csat_n, "nps", nps);
}

static int query_time(http_request *req, const char *name, int64_t dflt, int64_t *out) {
    char num[32];
    *out = dflt;
    if (http_query_param(req, name, num, sizeof num) != 1 || !num[0]) return 0;
    char *end;
    long long v = strtoll(num, &end, 10);
    if (*end || v < 0) {
        reply_invalid(req, name, "must be unix seconds");
        return -1;
    }
    *out = v;
    return 0;
}

/* Scans the cases of [from, to) into the table. */
static int scan_cases(server *s, const principal *who, int64_t from, int64_t to, const char *field,
                      kpi_table *t) {
    store_key prefix;
    case_index_prefix(&prefix, "all", "");
    store_read *rd;
    store_iter *it = NULL;
    int rc = store_read_begin(s->db, &rd);
    if (rc != 0) return rc;
    rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 1, &it);
    const void *k, *v;
    size_t klen, vlen;
    for (int n = 0; rc == 0 && n < KPI_SCAN_MAX && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1; n++) {
        rc = 0;
        int64_t created = vlen >= 8 ? (int64_t)key_get_u64(v) : 0;
        if (created < from) break;
        if (created >= to) continue;
        as_case kase;
        if (case_read_seq(rd, key_get_u64((const unsigned char *)k + klen - 8), &kase) != 0) continue;
        if (principal_sees_merchant(who, kase.merchant_id[0] ? kase.merchant_id : NULL)) {
            count_case(&t->g[0], &kase); /* the totals */
            const char *key = field ? case_index_value(&kase, field) : NULL;
            kpi_group *g = field ? group_for(t, key ? key : "(none)") : NULL;
            if (g) count_case(g, &kase);
        }
        case_free(&kase);
    }
    if (it) store_iter_close(it);
    store_read_end(rd);
    return rc < 0 ? rc : 0;
}

void h_reports_kpi(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    int64_t now = clock_now(&s->clock), from, to;
    char by[32] = "";
    if (query_time(req, "from", now - 30 * 86400, &from) != 0 || query_time(req, "to", now + 1, &to) != 0) return;
    if (from >= to) {
        reply_invalid(req, "to", "must be later than from");
        return;
    }
    http_query_param(req, "group_by", by, sizeof by);
    const char *field = !by[0] ? "" : !strcmp(by, "agent") ? "assignee" : !strcmp(by, "queue") ? "queue"
                      : !strcmp(by, "type") ? "type" : !strcmp(by, "merchant") ? "merchant_id" : NULL;
    if (field == NULL) {
        reply_invalid(req, "group_by", "must be agent, queue, type or merchant");
        return;
    }
    kpi_table t = {0};
    int rc = group_for(&t, "all") ? scan_cases(s, who, from, to, field[0] ? field : NULL, &t) : STORE_ENOMEM;
    json_t *groups = json_array(), *totals = rc == 0 ? group_json(&t.g[0], "all") : NULL;
    for (size_t i = 1; rc == 0 && i < t.n; i++) json_array_append_new(groups, group_json(&t.g[i], by));
    for (size_t i = 0; i < t.n; i++) {
        free(t.g[i].first_response.v);
        free(t.g[i].resolution.v);
    }
    free(t.g);
    if (rc != 0) {
        json_decref(groups);
        reply_store_error(req, rc);
        return;
    }
    http_respond_json(req, 200, json_pack("{s:I,s:I,s:s?,s:o,s:o}", "from", (json_int_t)from, "to",
                                          (json_int_t)to, "group_by", by[0] ? by : NULL, "totals", totals,
                                          "groups", groups));
}
