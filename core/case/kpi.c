/* case/kpi: the aggregates' math and records (see kpi.h). */
#include <stdlib.h>
#include <string.h>

#include "case/kpi.h"

/* ---- varints (LEB128 of the value as uint64: a negative one is 10 bytes
 * and decodes back to itself) ---- */

static size_t put_varint(unsigned char *p, int64_t sv) {
    uint64_t v = (uint64_t)sv;
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Bytes read, or 0 for a truncated or overlong varint. */
static size_t get_varint(const unsigned char *p, size_t len, int64_t *out) {
    uint64_t v = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = (int64_t)v;
            return i + 1;
        }
    }
    return 0;
}

/* ---- histograms ---- */

int kpi_bucket(int64_t v) {
    if (v < 256) return v < 0 ? 0 : (int)v;
    int e = 63 - __builtin_clzll((unsigned long long)v); /* 8..62 */
    int m = (int)((uint64_t)v >> (e - 7));                /* 128..255 */
    return 256 + (e - 8) * 128 + (m - 128);
}

int64_t kpi_bucket_low(int idx) {
    if (idx < 256) return idx;
    int e = 8 + (idx - 256) / 128, m = 128 + (idx - 256) % 128;
    return (int64_t)m << (e - 7);
}

int64_t kpi_bucket_high(int idx) {
    if (idx < 256) return idx + 1;
    int e = 8 + (idx - 256) / 128;
    return kpi_bucket_low(idx) + ((int64_t)1 << (e - 7));
}

void kpi_hist_free(kpi_hist *h) {
    free(h->b);
    memset(h, 0, sizeof *h);
}

/* The first bin at or after `from` whose idx is not below idx: galloping
 * from `from`, so ascending lookups (a chunk's buckets) cost one pass. */
static size_t lower_bound(const kpi_hist *h, size_t from, int idx) {
    size_t lo = from, step = 1;
    while (lo + step <= h->n && h->b[lo + step - 1].idx < idx) {
        lo += step;
        step *= 2;
    }
    size_t hi = lo + step <= h->n ? lo + step - 1 : h->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->b[mid].idx < idx) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Adds into bin idx, given every bin before *pos has a lower idx; *pos is
 * left at idx's bin (or where it would go). */
static int hist_add_at(kpi_hist *h, size_t *pos, int idx, int64_t count, int64_t sum) {
    size_t lo = *pos = lower_bound(h, *pos, idx);
    if (lo < h->n && h->b[lo].idx == idx) {
        h->b[lo].count += count;
        h->b[lo].sum += sum;
        if (h->b[lo].count == 0 && h->b[lo].sum == 0) {
            memmove(h->b + lo, h->b + lo + 1, (h->n - lo - 1) * sizeof *h->b);
            h->n--;
        }
        return 0;
    }
    if (count == 0 && sum == 0) return 0;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        kpi_bin *grown = realloc(h->b, cap * sizeof *grown);
        if (grown == NULL) return -1;
        h->b = grown;
        h->cap = cap;
    }
    memmove(h->b + lo + 1, h->b + lo, (h->n - lo) * sizeof *h->b);
    h->b[lo] = (kpi_bin){idx, count, sum};
    h->n++;
    return 0;
}

int kpi_hist_add(kpi_hist *h, int idx, int64_t count, int64_t sum) {
    size_t pos = 0;
    return hist_add_at(h, &pos, idx, count, sum);
}

int kpi_hist_merge(kpi_hist *dst, const kpi_hist *src, int sign) {
    for (size_t i = 0; i < src->n; i++)
        if (kpi_hist_add(dst, src->b[i].idx, sign * src->b[i].count, sign * src->b[i].sum) != 0) return -1;
    return 0;
}

int64_t kpi_hist_count(const kpi_hist *h) {
    int64_t n = 0;
    for (size_t i = 0; i < h->n; i++) n += h->b[i].count;
    return n;
}

int kpi_hist_percentile(const kpi_hist *h, int pct, int64_t *out) {
    int64_t n = kpi_hist_count(h);
    if (n <= 0) return -1;
    int64_t rank = (n * pct + 99) / 100, seen = 0;
    if (rank < 1) rank = 1;
    for (size_t i = 0; i < h->n; i++) {
        seen += h->b[i].count;
        if (seen >= rank && h->b[i].count > 0) {
            const kpi_bin *b = &h->b[i];
            *out = (b->sum + b->count / 2) / b->count;
            return 0;
        }
    }
    return -1;
}

/* ---- a case's contribution ---- */

int kpi_case_resolved(const as_case *c) {
    return c->status == ST_RESOLVED || (c->status == ST_CLOSED && c->stage != STG_CANCELLED);
}

void kpi_contrib_of(const as_case *c, kpi_contrib *out) {
    memset(out, 0, sizeof *out);
    int64_t *v = out->c.v;
    v[KC_CASES] = 1;
    int resolved = kpi_case_resolved(c);
    v[KC_RESOLVED] = resolved;
    if (c->sla.first_response_due != AS_NONE || c->sla.resolution_due != AS_NONE) {
        v[KC_WITH_SLA] = 1;
        v[KC_SLA_MET] = c->sla.breached == 0;
    }
    if ((int)c->status >= 0 && c->status < ST__COUNT) v[KC_ST_OPEN + c->status] = 1;
    v[KC_UNASSIGNED] = case_status_active(c->status) && !c->assignee[0];
    v[KC_APPROVE] = c->decision.outcome == OUT_APPROVE;
    v[KC_REJECT] = c->decision.outcome == OUT_REJECT;
    v[KC_REVIEW] = c->decision.outcome == OUT_REVIEW;
    v[KC_ESCALATED] = c->escalated != 0;
    v[KC_REFUNDED_CENTS] = c->refund.refunded_cents > 0 ? c->refund.refunded_cents : 0;
    if (c->survey.csat != AS_NONE) {
        v[KC_CSAT_N] = 1;
        v[KC_CSAT_SUM] = c->survey.csat;
        if (c->survey.csat >= 1 && c->survey.csat <= 5) v[KC_CSAT_1 + c->survey.csat - 1] = 1;
    }
    if (c->survey.nps != AS_NONE) {
        v[KC_NPS_N] = 1;
        v[KC_PROMOTERS] = c->survey.nps >= 9;
        v[KC_DETRACTORS] = c->survey.nps <= 6;
        if (c->survey.nps >= 0 && c->survey.nps <= 10) v[KC_NPS_0 + c->survey.nps] = 1;
    }
    for (int i = 0; i < c->sla.nwarnings && i < SLA_WARNINGS_MAX; i++) {
        const as_sla_warning *w = &c->sla.warnings[i];
        if (w->sent_at == AS_NONE || (int)w->kind < 0 || w->kind >= SLA__KINDS) continue;
        v[KC_WARNED + w->kind] = 1;
        v[KC_WARNED_MET + w->kind] = !case_breached(c, w->kind);
    }
    for (int64_t l = 1; l <= 9 && l <= c->sla.escalation_level; l++) v[KC_ESC_LEVEL + l - 1] = 1;
    out->time[KH_FIRST_RESPONSE] = c->first_response_at != AS_NONE ? c->first_response_at - c->created_at : AS_NONE;
    out->time[KH_RESOLUTION] = resolved && c->resolved_at != AS_NONE ? c->resolved_at - c->created_at : AS_NONE;
    for (int h = 0; h < KPI_NHIST; h++)
        if (out->time[h] != AS_NONE && out->time[h] < 0) out->time[h] = 0;
}

void kpi_contrib_survey_only(kpi_contrib *k) {
    for (int i = 0; i < KPI_NCOUNTERS; i++)
        if (i < KC_CSAT_N || i >= KC_WARNED) k->c.v[i] = 0;
    for (int h = 0; h < KPI_NHIST; h++) k->time[h] = AS_NONE;
}

int kpi_contrib_apply(const kpi_contrib *k, int sign, kpi_counters *c, kpi_hist h[KPI_NHIST]) {
    for (int i = 0; i < KPI_NCOUNTERS; i++) c->v[i] += sign * k->c.v[i];
    for (int i = 0; h && i < KPI_NHIST; i++)
        if (k->time[i] != AS_NONE && kpi_hist_add(&h[i], kpi_bucket(k->time[i]), sign, sign * k->time[i]) != 0)
            return -1;
    return 0;
}

int64_t kpi_day_of(int64_t t, int64_t offset) {
    int64_t l = t + offset;
    return l >= 0 ? l / KPI_DAY : -((-l + KPI_DAY - 1) / KPI_DAY);
}

int64_t kpi_day_start(int64_t day, int64_t offset) { return day * KPI_DAY - offset; }

/* ---- keys ---- */

void kpi_prefix(store_key *k, char kind, const char *scope, char by) {
    key_init(k);
    key_u8(k, IDX_KPI);
    key_u8(k, (uint8_t)kind);
    key_str(k, scope);
    key_u8(k, (uint8_t)by);
}

/* Days are stored biased, so a day before 1970 still sorts first. */
#define DAY_BIAS 0x80000000LL

void kpi_key_day(store_key *k, int64_t day) {
    uint64_t d = (uint64_t)(day + DAY_BIAS);
    unsigned char b[4] = {(unsigned char)(d >> 24), (unsigned char)(d >> 16), (unsigned char)(d >> 8),
                          (unsigned char)d};
    key_raw(k, b, 4);
}

static int64_t get_day(const unsigned char *p) {
    return (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) - DAY_BIAS;
}

int kpi_key_parse(const unsigned char *key, size_t klen, size_t plen, int hist, int64_t *day, const char **group,
                  int *kind, int *chunk) {
    if (klen < plen + 5) return -1;
    *day = get_day(key + plen);
    const unsigned char *g = key + plen + 4, *nul = memchr(g, 0, klen - plen - 4);
    if (nul == NULL) return -1;
    *group = (const char *)g;
    size_t rest = klen - (size_t)(nul + 1 - key);
    if (!hist) return rest == 0 ? 0 : -1;
    if (rest != 2) return -1;
    *kind = nul[1];
    *chunk = nul[2];
    return *kind < KPI_NHIST ? 0 : -1;
}

void kpi_decisions_prefix(store_key *k, const char *scope) {
    key_init(k);
    key_u8(k, IDX_KPI);
    key_u8(k, 'd');
    key_str(k, scope);
}

int kpi_decision_key_parse(const unsigned char *key, size_t klen, size_t plen, int64_t *day, int *outcome,
                           const char **reason) {
    if (klen < plen + 6 || key[klen - 1] != 0) return -1;
    *day = get_day(key + plen);
    *outcome = key[plen + 4];
    *reason = (const char *)key + plen + 5;
    return 0;
}

/* ---- values ---- */

size_t kpi_counters_encode(const kpi_counters *c, unsigned char *out) {
    int last = KPI_NCOUNTERS;
    while (last > 0 && c->v[last - 1] == 0) last--;
    size_t n = 0;
    for (int i = 0; i < last; i++) n += put_varint(out + n, c->v[i]);
    return n;
}

int kpi_counters_decode(const void *val, size_t vlen, kpi_counters *out) {
    memset(out, 0, sizeof *out);
    const unsigned char *p = val;
    size_t off = 0;
    for (int i = 0; off < vlen; i++) {
        size_t used = i < KPI_NCOUNTERS ? get_varint(p + off, vlen - off, &out->v[i]) : 0;
        if (used == 0) return -1;
        off += used;
    }
    return 0;
}

int kpi_count_decode(const void *val, size_t vlen, int64_t *out) {
    return get_varint(val, vlen, out) == vlen && vlen > 0 ? 0 : -1;
}

typedef struct {
    int64_t count[KPI_CHUNK], sum[KPI_CHUNK];
} chunk_vals;

static int chunk_decode(const void *val, size_t vlen, chunk_vals *out) {
    memset(out, 0, sizeof *out);
    const unsigned char *p = val;
    size_t off = 0;
    while (off < vlen) {
        int i = p[off++];
        size_t a, b;
        if (i >= KPI_CHUNK || (a = get_varint(p + off, vlen - off, &out->count[i])) == 0 ||
            (b = get_varint(p + off + a, vlen - off - a, &out->sum[i])) == 0)
            return -1;
        off += a + b;
    }
    return 0;
}

static size_t chunk_encode(const chunk_vals *c, unsigned char *out) {
    size_t n = 0;
    for (int i = 0; i < KPI_CHUNK; i++) {
        if (c->count[i] == 0 && c->sum[i] == 0) continue;
        out[n++] = (unsigned char)i;
        n += put_varint(out + n, c->count[i]);
        n += put_varint(out + n, c->sum[i]);
    }
    return n;
}

int kpi_chunk_merge(kpi_hist *h, int chunk, const void *val, size_t vlen, int sign) {
    const unsigned char *p = val;
    size_t off = 0, pos = 0;
    int prev = -1;
    while (off < vlen) {
        int i = p[off++];
        int64_t count, sum;
        size_t a, b;
        if (i >= KPI_CHUNK || i <= prev || (a = get_varint(p + off, vlen - off, &count)) == 0 ||
            (b = get_varint(p + off + a, vlen - off - a, &sum)) == 0)
            return -1;
        off += a + b;
        prev = i;
        if (hist_add_at(h, &pos, chunk * KPI_CHUNK + i, sign * count, sign * sum) != 0) return -1;
    }
    return 0;
}

/* ---- the change of a case ---- */

/* A record a case counts in: scope, grouping, group key. */
typedef struct {
    const char *scope;
    char by;
    const char *key;
    store_key k; /* 'K' | 'c' | ... (the counters' key) */
} group_ref;

#define GROUPS_MAX 11

static void ref_add(group_ref *r, int *n, const char *scope, char by, const char *key, int64_t day) {
    group_ref *g = &r[(*n)++];
    g->scope = scope;
    g->by = by;
    g->key = key;
    kpi_prefix(&g->k, 'c', scope, by);
    kpi_key_day(&g->k, day);
    key_str(&g->k, key);
}

static int groups_of(const as_case *c, int64_t offset, group_ref *r) {
    int n = 0;
    int64_t day = kpi_day_of(c->created_at, offset);
    const char *type = case_type_name(c->type);
    ref_add(r, &n, "*", 't', "", day);
    ref_add(r, &n, "*", 'a', c->assignee, day);
    ref_add(r, &n, "*", 'q', c->queue, day);
    ref_add(r, &n, "*", 'y', type ? type : "", day);
    ref_add(r, &n, "*", 'm', c->merchant_id, day);
    const char *channel = case_channel_name(c->channel);
    ref_add(r, &n, "*", 'n', channel ? channel : "", day);
    if (c->merchant_id[0]) {
        ref_add(r, &n, c->merchant_id, 'n', channel ? channel : "", day);
        ref_add(r, &n, c->merchant_id, 't', "", day);
        ref_add(r, &n, c->merchant_id, 'a', c->assignee, day);
        ref_add(r, &n, c->merchant_id, 'q', c->queue, day);
        ref_add(r, &n, c->merchant_id, 'y', type ? type : "", day);
    }
    return n;
}

static int same_key(const store_key *a, const store_key *b) {
    return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

static void counters_apply(const kpi_sink *s, const store_key *k, const kpi_counters *delta) {
    char *old = NULL;
    size_t olen = 0;
    int rc = s->get(s->ud, k, &old, &olen);
    if (rc != 0 && rc != STORE_ENOTFOUND) { /* unread is not zero: never overwrite the figures */
        s->fail(s->ud, rc);
        return;
    }
    kpi_counters c;
    if (kpi_counters_decode(rc == 0 ? old : "", rc == 0 ? olen : 0, &c) != 0) {
        free(old);
        s->fail(s->ud, STORE_EIO);
        return;
    }
    free(old);
    for (int i = 0; i < KPI_NCOUNTERS; i++) c.v[i] += delta->v[i];
    unsigned char buf[KPI_NCOUNTERS * 10];
    size_t n = kpi_counters_encode(&c, buf);
    if (n == 0) s->del(s->ud, k);
    else s->put(s->ud, k, buf, n);
}

static void chunk_apply(const kpi_sink *s, const store_key *k, int off, int64_t dcount, int64_t dsum) {
    char *old = NULL;
    size_t olen = 0;
    int rc = s->get(s->ud, k, &old, &olen);
    if (rc != 0 && rc != STORE_ENOTFOUND) {
        s->fail(s->ud, rc);
        return;
    }
    chunk_vals *c = malloc(sizeof *c);
    unsigned char *buf = malloc(KPI_CHUNK * 21);
    if (c == NULL || buf == NULL || chunk_decode(rc == 0 ? old : "", rc == 0 ? olen : 0, c) != 0) {
        s->fail(s->ud, c && buf ? STORE_EIO : STORE_ENOMEM);
    } else {
        c->count[off] += dcount;
        c->sum[off] += dsum;
        size_t n = chunk_encode(c, buf);
        if (n == 0) s->del(s->ud, k);
        else s->put(s->ud, k, buf, n);
    }
    free(old);
    free(c);
    free(buf);
}

static void hist_move(const kpi_sink *s, const group_ref *g, int kind, int64_t v, int sign) {
    int idx = kpi_bucket(v);
    store_key k;
    kpi_prefix(&k, 'h', g->scope, g->by);
    key_raw(&k, g->k.buf + k.len, g->k.len - k.len); /* day | key, as the counters' */
    key_u8(&k, (uint8_t)kind);
    key_u8(&k, (uint8_t)(idx / KPI_CHUNK));
    chunk_apply(s, &k, idx % KPI_CHUNK, sign, sign * v);
}

/* One record's change: after's contribution less before's (either NULL). A
 * channel record counts the survey figures alone. */
static void record_update(const kpi_sink *s, const group_ref *g, const kpi_contrib *was, const kpi_contrib *now) {
    kpi_contrib sw, sn;
    if (g->by == 'n') {
        if (was) {
            sw = *was;
            kpi_contrib_survey_only(&sw);
            was = &sw;
        }
        if (now) {
            sn = *now;
            kpi_contrib_survey_only(&sn);
            now = &sn;
        }
    }
    kpi_counters delta;
    int changed = 0;
    for (int i = 0; i < KPI_NCOUNTERS; i++) {
        delta.v[i] = (now ? now->c.v[i] : 0) - (was ? was->c.v[i] : 0);
        changed |= delta.v[i] != 0;
    }
    if (changed) counters_apply(s, &g->k, &delta);
    for (int h = 0; h < KPI_NHIST; h++) {
        int64_t a = was ? was->time[h] : AS_NONE, b = now ? now->time[h] : AS_NONE;
        if (a == b) continue;
        if (a != AS_NONE) hist_move(s, g, h, a, -1);
        if (b != AS_NONE) hist_move(s, g, h, b, +1);
    }
}

/* A policy's reason_code has no length bound of its own: the key keeps its
 * first AS_SKU_MAX bytes (cut on a character boundary), so a long code can
 * never make the key overflow and fail the case's batch. */
static void decision_key(store_key *k, const char *scope, const as_case *c, int64_t offset) {
    const char *reason = c->decision.reason_code ? c->decision.reason_code : "";
    size_t n = strlen(reason);
    if (n > AS_SKU_MAX) {
        n = AS_SKU_MAX;
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80) n--; /* not inside a character */
    }
    char cut[AS_SKU_MAX + 1];
    memcpy(cut, reason, n);
    cut[n] = '\0';
    kpi_decisions_prefix(k, scope);
    kpi_key_day(k, kpi_day_of(c->created_at, offset));
    key_u8(k, (uint8_t)c->decision.outcome);
    key_str(k, cut);
}

static void decision_add(const kpi_sink *s, const store_key *k, int64_t delta) {
    char *old = NULL;
    size_t olen = 0;
    int rc = s->get(s->ud, k, &old, &olen);
    int64_t n = 0;
    if ((rc != 0 && rc != STORE_ENOTFOUND) || (rc == 0 && kpi_count_decode(old, olen, &n) != 0)) {
        free(old);
        s->fail(s->ud, rc != 0 ? rc : STORE_EIO);
        return;
    }
    free(old);
    n += delta;
    unsigned char buf[10];
    if (n == 0) s->del(s->ud, k);
    else s->put(s->ud, k, buf, put_varint(buf, n));
}

static void decisions_update(const kpi_sink *s, int64_t offset, const as_case *before, const as_case *after) {
    const char *scopes[2][2] = {{"*", NULL}, {"*", NULL}};
    const as_case *cs[2] = {before, after};
    store_key keys[2][2];
    int has[2][2] = {{0}};
    for (int w = 0; w < 2; w++) {
        const as_case *c = cs[w];
        if (c == NULL || c->decision.outcome == OUT_NONE) continue;
        scopes[w][1] = c->merchant_id[0] ? c->merchant_id : NULL;
        for (int i = 0; i < 2; i++)
            if (scopes[w][i]) {
                decision_key(&keys[w][i], scopes[w][i], c, offset);
                has[w][i] = 1;
            }
    }
    for (int i = 0; i < 2; i++) {
        if (has[0][i] && has[1][i] && same_key(&keys[0][i], &keys[1][i])) continue;
        if (has[0][i]) decision_add(s, &keys[0][i], -1);
        if (has[1][i]) decision_add(s, &keys[1][i], +1);
    }
}

void kpi_created_key(store_key *k, int64_t created, uint64_t seq) {
    key_init(k);
    key_u8(k, IDX_KPI);
    key_u8(k, 't');
    key_u64(k, (uint64_t)(created < 0 ? 0 : created));
    key_u64(k, seq);
}

/* The case in creation-time order (written once: created_at never changes). */
static void created_update(const kpi_sink *s, const as_case *before, const as_case *after) {
    if (before && after && before->created_at == after->created_at && before->seq == after->seq) return;
    store_key k;
    if (before) {
        kpi_created_key(&k, before->created_at, before->seq);
        s->del(s->ud, &k);
    }
    if (after) {
        kpi_created_key(&k, after->created_at, after->seq);
        s->put(s->ud, &k, "", 0);
    }
}

void kpi_update(const kpi_sink *s, int64_t offset, const as_case *before, const as_case *after) {
    group_ref was[GROUPS_MAX], now[GROUPS_MAX];
    int nw = before ? groups_of(before, offset, was) : 0, nn = after ? groups_of(after, offset, now) : 0;
    kpi_contrib cw, cn;
    if (before) kpi_contrib_of(before, &cw);
    if (after) kpi_contrib_of(after, &cn);
    int paired[GROUPS_MAX] = {0};
    for (int i = 0; i < nw; i++) {
        const kpi_contrib *match = NULL;
        for (int j = 0; j < nn && !match; j++)
            if (!paired[j] && same_key(&was[i].k, &now[j].k)) {
                paired[j] = 1;
                match = &cn;
            }
        record_update(s, &was[i], &cw, match);
    }
    for (int j = 0; j < nn; j++)
        if (!paired[j]) record_update(s, &now[j], NULL, &cn);
    decisions_update(s, offset, before, after);
    created_update(s, before, after);
}

/* ---- the batch as a sink ---- */

static int batch_get(void *ud, const store_key *k, char **val, size_t *vlen) {
    return store_batch_get_latest(ud, DB_INDEX, k->buf, k->len, val, vlen);
}
static void batch_put(void *ud, const store_key *k, const void *val, size_t vlen) {
    store_batch_put(ud, DB_INDEX, k->buf, k->len, val, vlen);
}
static void batch_del(void *ud, const store_key *k) { store_batch_del(ud, DB_INDEX, k->buf, k->len); }
static void batch_fail(void *ud, int err) { store_batch_fail(ud, err); }

void kpi_sink_batch(kpi_sink *s, store_batch *b) {
    *s = (kpi_sink){b, batch_get, batch_put, batch_del, batch_fail};
}

void kpi_update_batch(store_batch *b, int64_t offset, const as_case *before, const as_case *after) {
    kpi_sink s;
    kpi_sink_batch(&s, b);
    kpi_update(&s, offset, before, after);
}
