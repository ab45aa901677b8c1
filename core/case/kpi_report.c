/* case/kpi_report: the KPI report's figures from the aggregates (kpi.h).
 *
 * Cost: one range scan per record kind over the days of the range (days x
 * groups records, and their histogram chunks), plus, for an edge day the
 * range cuts, the cases on the smaller side of the cut (bounded by one
 * day's volume; none when the cut leaves no case of the day outside). */
#include <stdlib.h>
#include <string.h>

#include "case/indexes.h"
#include "case/kpi.h"
#include "case/records.h"

/* ---- tables of groups ---- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void group_free(kpi_group *g) {
    for (int h = 0; h < KPI_NHIST; h++) kpi_hist_free(&g->h[h]);
}

static void table_free(kpi_table *t) {
    group_free(&t->totals);
    for (size_t i = 0; i < t->n; i++) group_free(&t->g[i]);
    free(t->g);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static int rehash(kpi_table *t) {
    size_t nslot = t->nslot ? t->nslot * 2 : 64;
    size_t *slot = calloc(nslot, sizeof *slot);
    if (slot == NULL) return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = hash_str(t->g[i].key) & (nslot - 1);
        while (slot[j]) j = (j + 1) & (nslot - 1);
        slot[j] = i + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
    return 0;
}

static kpi_group *group_for(kpi_table *t, const char *key) {
    if ((t->n + 1) * 2 > t->nslot && rehash(t) != 0) return NULL;
    size_t j = hash_str(key) & (t->nslot - 1);
    while (t->slot[j]) {
        kpi_group *g = &t->g[t->slot[j] - 1];
        if (strcmp(g->key, key) == 0) return g;
        j = (j + 1) & (t->nslot - 1);
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        kpi_group *grown = realloc(t->g, cap * sizeof *grown);
        if (grown == NULL) return NULL;
        t->g = grown;
        t->cap = cap;
    }
    kpi_group *g = &t->g[t->n];
    memset(g, 0, sizeof *g);
    size_t len = strlen(key);
    if (len >= sizeof g->key) len = sizeof g->key - 1;
    memcpy(g->key, key, len);
    t->slot[j] = ++t->n;
    return g;
}

static int age_bucket(int64_t today, int64_t day) {
    int64_t d = today - day;
    return d < 1 ? 0 : d < 3 ? 1 : d < 7 ? 2 : 3;
}

static int64_t active_of(const kpi_counters *c) {
    return c->v[KC_ST_OPEN + ST_OPEN] + c->v[KC_ST_OPEN + ST_AWAITING_CUSTOMER] + c->v[KC_ST_OPEN + ST_IN_PROGRESS];
}

static void counters_add(kpi_group *g, const kpi_counters *c, int sign, int age) {
    for (int i = 0; i < KPI_NCOUNTERS; i++) g->c.v[i] += sign * c->v[i];
    g->age[age] += sign * active_of(c);
}

/* ---- the report being built ---- */

typedef struct {
    kpi_report *r;
    const kpi_query *q;
    int64_t today;
    int err;
} build;

/* The tables a day's figures go to: the whole range's, and its own. */
static int tables_of(build *b, int64_t day, kpi_table *out[2]) {
    out[0] = &b->r->all;
    out[1] = b->r->days && day >= b->r->day0 && (size_t)(day - b->r->day0) < b->r->ndays
                 ? &b->r->days[day - b->r->day0]
                 : NULL;
    return out[1] ? 2 : 1;
}

static kpi_group *target(build *b, kpi_table *t, const char *key) {
    if (key == NULL) return &t->totals;
    kpi_group *g = group_for(t, key);
    if (g == NULL) b->err = STORE_ENOMEM;
    return g;
}

static void decision_add(build *b, int outcome, const char *reason, int64_t n) {
    kpi_report *r = b->r;
    for (size_t i = 0; i < r->ndec; i++)
        if (r->dec[i].outcome == outcome && strcmp(r->dec[i].reason, reason) == 0) {
            r->dec[i].n += n;
            return;
        }
    if (r->ndec == r->capdec) {
        size_t cap = r->capdec ? r->capdec * 2 : 16;
        kpi_decision_count *grown = realloc(r->dec, cap * sizeof *grown);
        if (grown == NULL) {
            b->err = STORE_ENOMEM;
            return;
        }
        r->dec = grown;
        r->capdec = cap;
    }
    kpi_decision_count *d = &r->dec[r->ndec++];
    memset(d, 0, sizeof *d);
    d->outcome = outcome;
    size_t len = strlen(reason);
    if (len >= sizeof d->reason) len = sizeof d->reason - 1;
    memcpy(d->reason, reason, len);
    d->n = n;
}

/* The group key of a case for the report's grouping, or NULL for none. */
static const char *case_group(const as_case *c, char by) {
    switch (by) {
    case 'a': return c->assignee;
    case 'q': return c->queue;
    case 'y': return case_type_name(c->type);
    case 'm': return c->merchant_id;
    default: return NULL;
    }
}

static int sees(const kpi_query *q, const as_case *c) {
    return strcmp(q->scope, "*") == 0 || strcmp(q->scope, c->merchant_id) == 0;
}

/* A case read one by one, added (sign +1) or taken away (-1). */
static void case_apply(build *b, const as_case *c, int sign) {
    if (!sees(b->q, c)) return;
    kpi_contrib k;
    kpi_contrib_of(c, &k);
    int64_t day = kpi_day_of(c->created_at, b->q->offset);
    kpi_table *ts[2];
    int nt = tables_of(b, day, ts);
    const char *key = case_group(c, b->q->by);
    for (int i = 0; i < nt; i++) {
        kpi_group *gs[2] = {&ts[i]->totals, b->q->by ? target(b, ts[i], key ? key : "") : NULL};
        for (int j = 0; j < 2 && gs[j]; j++) {
            counters_add(gs[j], &k.c, sign, age_bucket(b->today, day));
            for (int h = 0; h < KPI_NHIST; h++)
                if (k.time[h] != AS_NONE &&
                    kpi_hist_add(&gs[j]->h[h], kpi_bucket(k.time[h]), sign, sign * k.time[h]) != 0)
                    b->err = STORE_ENOMEM;
        }
    }
    const char *channel = case_channel_name(c->channel);
    kpi_group *ch = target(b, &b->r->channels, channel ? channel : "");
    kpi_contrib_survey_only(&k);
    if (ch) counters_add(ch, &k.c, sign, 0);
    if (c->decision.outcome != OUT_NONE)
        decision_add(b, c->decision.outcome, c->decision.reason_code ? c->decision.reason_code : "", sign);
    b->r->scanned++;
}

/* ---- cases in creation-time order ('K' 't') ---- */

/* Counts (sign 0) or applies (+1, -1) the cases created in [t1, t2). */
static int created_range(build *b, store_read *rd, int64_t t1, int64_t t2, int sign, uint64_t *count) {
    if (t1 >= t2) return 0;
    store_key prefix, from;
    key_init(&prefix);
    key_u8(&prefix, IDX_KPI);
    key_u8(&prefix, 't');
    kpi_created_key(&from, t1, 0);
    store_iter *it;
    int rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, from.buf, from.len, 0, &it);
    if (rc != 0) return rc;
    const void *k, *v;
    size_t klen, vlen;
    while (b->err == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        if (klen != prefix.len + 16) continue;
        const unsigned char *key = k;
        if ((int64_t)key_get_u64(key + prefix.len) >= t2) break;
        if (count) (*count)++;
        if (sign == 0) continue;
        as_case c;
        if (case_read_seq(rd, key_get_u64(key + prefix.len + 8), &c) != 0) continue;
        case_apply(b, &c, sign);
        case_free(&c);
    }
    store_iter_close(it);
    return rc < 0 ? rc : b->err;
}

/* ---- an edge day ---- */

typedef enum { DAY_RECORDS, DAY_SCANNED } day_source;

/* The part [a, b) of day d the range covers: records when none of the
 * day's cases lies outside it; else the smaller side read case by case. */
static int edge_day(build *b, store_read *rd, int64_t d, day_source *src) {
    int64_t off = b->q->offset, ds = kpi_day_start(d, off), de = kpi_day_start(d + 1, off);
    int64_t a = b->q->from > ds ? b->q->from : ds, e = b->q->to < de ? b->q->to : de;
    uint64_t inside = 0, outside = 0;
    int rc;
    *src = DAY_RECORDS;
    if ((rc = created_range(b, rd, ds, a, 0, &outside)) != 0 || (rc = created_range(b, rd, e, de, 0, &outside)) != 0)
        return rc;
    if (outside == 0) return 0;
    if ((rc = created_range(b, rd, a, e, 0, &inside)) != 0) return rc;
    if (inside <= outside) {
        *src = DAY_SCANNED;
        return created_range(b, rd, a, e, +1, NULL);
    }
    if ((rc = created_range(b, rd, ds, a, -1, NULL)) != 0) return rc;
    return created_range(b, rd, e, de, -1, NULL);
}

/* ---- records ---- */

/* Every record of (kind, scope, by) for days [d0, d1] but the skipped ones,
 * into the groups (as_key: the group every record goes to, e.g. a merchant
 * scope's own 'm' group from its totals; NULL the record's key; "" totals
 * of the tables). */
static int read_records(build *b, store_read *rd, char kind, char by, int totals, const char *as_key,
                        int64_t d0, int64_t d1, const int64_t skip[2], kpi_table *only) {
    store_key prefix, from;
    kpi_prefix(&prefix, kind, b->q->scope, by);
    from = prefix;
    kpi_key_day(&from, d0);
    store_iter *it;
    int rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, from.buf, from.len, 0, &it);
    if (rc != 0) return rc;
    const void *k, *v;
    size_t klen, vlen;
    while (b->err == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        int64_t day;
        const char *group;
        int hist = 0, chunk = 0;
        if (kpi_key_parse(k, klen, prefix.len, kind == 'h', &day, &group, &hist, &chunk) != 0) continue;
        if (day > d1) break;
        if (day == skip[0] || day == skip[1]) continue;
        b->r->records++;
        kpi_table *ts[2] = {only, NULL};
        int nt = only ? 1 : tables_of(b, day, ts);
        for (int i = 0; i < nt; i++) {
            kpi_group *g = totals ? &ts[i]->totals : target(b, ts[i], as_key ? as_key : group);
            if (g == NULL) break;
            if (kind == 'c') {
                kpi_counters c;
                if (kpi_counters_decode(v, vlen, &c) != 0) {
                    b->err = STORE_EIO;
                    break;
                }
                counters_add(g, &c, +1, age_bucket(b->today, day));
            } else if (kpi_chunk_merge(&g->h[hist], chunk, v, vlen, +1) != 0) {
                b->err = STORE_EIO;
            }
        }
    }
    store_iter_close(it);
    return rc < 0 ? rc : b->err;
}

static int read_decisions(build *b, store_read *rd, int64_t d0, int64_t d1, const int64_t skip[2]) {
    store_key prefix, from;
    kpi_decisions_prefix(&prefix, b->q->scope);
    from = prefix;
    kpi_key_day(&from, d0);
    store_iter *it;
    int rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, from.buf, from.len, 0, &it);
    if (rc != 0) return rc;
    const void *k, *v;
    size_t klen, vlen;
    while (b->err == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        int64_t day, n;
        int outcome;
        const char *reason;
        if (kpi_decision_key_parse(k, klen, prefix.len, &day, &outcome, &reason) != 0) continue;
        if (day > d1) break;
        if (day == skip[0] || day == skip[1]) continue;
        if (kpi_count_decode(v, vlen, &n) != 0) b->err = STORE_EIO;
        else decision_add(b, outcome, reason, n);
    }
    store_iter_close(it);
    return rc < 0 ? rc : b->err;
}

/* Active cases the scope sees whose next SLA due is in [now, now + 1 h):
 * the work list by due, from now (bounded by an hour's dues). */
static int due_next_hour(build *b, store_read *rd) {
    store_key prefix, from;
    int all = strcmp(b->q->scope, "*") == 0;
    work_prefix(&prefix, WORK_BY_DUE, all ? "all" : "merchant_id", all ? "" : b->q->scope);
    from = prefix;
    key_u64(&from, (uint64_t)(b->q->now < 0 ? 0 : b->q->now));
    store_iter *it;
    int rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, from.buf, from.len, 0, &it);
    if (rc != 0) return rc;
    const void *k, *v;
    size_t klen, vlen;
    while ((rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        if (work_key_due(k, klen) >= (uint64_t)(b->q->now + 3600)) break;
        b->r->due_next_hour++;
    }
    store_iter_close(it);
    return rc < 0 ? rc : 0;
}

static int report_init(const kpi_query *q, kpi_report *r) {
    memset(r, 0, sizeof *r);
    r->day0 = kpi_day_of(q->from, q->offset);
    if (q->daily) {
        r->ndays = (size_t)(kpi_day_of(q->to - 1, q->offset) - r->day0 + 1);
        r->days = calloc(r->ndays, sizeof *r->days);
        if (r->days == NULL) return STORE_ENOMEM;
    }
    return 0;
}

void kpi_report_free(kpi_report *r) {
    table_free(&r->all);
    table_free(&r->channels);
    for (size_t i = 0; i < r->ndays; i++) table_free(&r->days[i]);
    free(r->days);
    free(r->dec);
    memset(r, 0, sizeof *r);
}

static int report_build(store *db, const kpi_query *q, kpi_report *r, int detached) {
    int rc = report_init(q, r);
    if (rc != 0) return rc;
    build b = {r, q, kpi_day_of(q->now, q->offset), 0};
    store_read *rd;
    if ((rc = detached ? store_read_begin_detached(db, &rd) : store_read_begin(db, &rd)) != 0) {
        kpi_report_free(r);
        return rc;
    }
    int64_t d0 = kpi_day_of(q->from, q->offset), d1 = kpi_day_of(q->to - 1, q->offset);
    int64_t skip[2] = {INT64_MIN, INT64_MIN};
    day_source src;
    if (q->from > kpi_day_start(d0, q->offset) || (d0 == d1 && q->to < kpi_day_start(d1 + 1, q->offset))) {
        rc = edge_day(&b, rd, d0, &src);
        if (src == DAY_SCANNED) skip[0] = d0;
    }
    if (rc == 0 && d1 != d0 && q->to < kpi_day_start(d1 + 1, q->offset)) {
        rc = edge_day(&b, rd, d1, &src);
        if (src == DAY_SCANNED) skip[1] = d1;
    }
    int merchant = strcmp(q->scope, "*") != 0;
    if (rc == 0) rc = read_records(&b, rd, 'c', 't', 1, NULL, d0, d1, skip, NULL);
    if (rc == 0) rc = read_records(&b, rd, 'h', 't', 1, NULL, d0, d1, skip, NULL);
    if (rc == 0) rc = read_records(&b, rd, 'c', 'n', 0, NULL, d0, d1, skip, &r->channels);
    if (rc == 0 && q->by) {
        char by = merchant && q->by == 'm' ? 't' : q->by;
        const char *as_key = merchant && q->by == 'm' ? q->scope : NULL;
        rc = read_records(&b, rd, 'c', by, 0, as_key, d0, d1, skip, NULL);
        if (rc == 0) rc = read_records(&b, rd, 'h', by, 0, as_key, d0, d1, skip, NULL);
    }
    if (rc == 0) rc = read_decisions(&b, rd, d0, d1, skip);
    if (rc == 0) rc = due_next_hour(&b, rd);
    store_read_end(rd);
    if (rc == 0) rc = b.err;
    if (rc != 0) kpi_report_free(r);
    return rc;
}

int kpi_report_build(store *db, const kpi_query *q, kpi_report *r) { return report_build(db, q, r, 0); }

int kpi_report_build_detached(store *db, const kpi_query *q, kpi_report *r) { return report_build(db, q, r, 1); }

int kpi_report_scan(store *db, const kpi_query *q, kpi_report *r) {
    int rc = report_init(q, r);
    if (rc != 0) return rc;
    build b = {r, q, kpi_day_of(q->now, q->offset), 0};
    store_read *rd;
    if ((rc = store_read_begin(db, &rd)) != 0) {
        kpi_report_free(r);
        return rc;
    }
    store_key prefix;
    case_index_prefix(&prefix, "all", "");
    store_iter *it;
    rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it);
    const void *k, *v;
    size_t klen, vlen;
    while (rc == 0 && b.err == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        rc = 0;
        int64_t created = vlen >= 8 ? (int64_t)key_get_u64(v) : 0;
        if (created < q->from || created >= q->to) continue;
        as_case c;
        if (case_read_seq(rd, key_get_u64((const unsigned char *)k + klen - 8), &c) != 0) continue;
        case_apply(&b, &c, +1);
        case_free(&c);
    }
    if (rc == 0 || rc == 1) rc = due_next_hour(&b, rd);
    if (it) store_iter_close(it);
    store_read_end(rd);
    if (rc == 0) rc = b.err;
    if (rc != 0) kpi_report_free(r);
    return rc;
}
