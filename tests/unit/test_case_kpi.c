/* case/kpi: the aggregates' math (kpi.h).
 *
 * Buckets are at most 1% wide and exact below 256 s; a histogram takes a
 * value back exactly; merged histograms equal the histogram of the union;
 * percentiles are exact when a bucket's values are equal and within 1%
 * otherwise; counters survive their encoding; and a case's changes, applied
 * as subtract-before/add-after, leave the records equal to a recomputation
 * from the case as it is now (a reassignment moves it between agents, a
 * reopen takes its resolution back). Store-backed: kpi_rebuild and
 * kpi_verify agree, and verify finds a record that was tampered with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "case/codec.h"
#include "case/kpi.h"
#include "case/records.h"
#include "test_store_util.h"

/* ---- buckets and histograms ---- */

static void buckets_are_exact_below_256_and_at_most_1pct_wide(void **state) {
    (void)state;
    for (int64_t v = 0; v < 256; v++) {
        assert_int_equal(kpi_bucket(v), v);
        assert_int_equal(kpi_bucket_low((int)v), v);
        assert_int_equal(kpi_bucket_high((int)v), v + 1);
    }
    assert_int_equal(kpi_bucket(-5), 0); /* a clock set back counts as 0 */
    int prev = -1;
    for (int64_t v = 256; v < ((int64_t)1 << 40); v += v / 97 + 1) {
        int b = kpi_bucket(v);
        assert_true(b >= prev);
        prev = b;
        assert_true(kpi_bucket_low(b) <= v && v < kpi_bucket_high(b));
        int64_t width = kpi_bucket_high(b) - kpi_bucket_low(b);
        assert_true(width * 100 <= kpi_bucket_low(b)); /* <= 1% of any value in it */
        assert_int_equal(kpi_bucket(kpi_bucket_low(b)), b);
        assert_int_equal(kpi_bucket(kpi_bucket_high(b) - 1), b);
    }
    assert_true(kpi_bucket(INT64_MAX) / KPI_CHUNK < 256); /* a chunk number fits its key byte */
}

static int64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (int64_t)(*s >> 1);
}

static void hist_of(kpi_hist *h, const int64_t *v, size_t n) {
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < n; i++) assert_int_equal(kpi_hist_add(h, kpi_bucket(v[i]), 1, v[i]), 0);
}

static void assert_hist_equal(const kpi_hist *a, const kpi_hist *b) {
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->b[i].idx, b->b[i].idx);
        assert_int_equal(a->b[i].count, b->b[i].count);
        assert_int_equal(a->b[i].sum, b->b[i].sum);
    }
}

static void a_value_taken_back_leaves_the_histogram_of_the_rest(void **state) {
    (void)state;
    uint64_t seed = 42;
    int64_t v[400];
    for (int i = 0; i < 400; i++) v[i] = rnd(&seed) % 500000;
    kpi_hist all, rest;
    hist_of(&all, v, 400);
    for (int i = 0; i < 400; i += 3) assert_int_equal(kpi_hist_add(&all, kpi_bucket(v[i]), -1, -v[i]), 0);
    int64_t kept[400];
    size_t n = 0;
    for (int i = 0; i < 400; i++)
        if (i % 3) kept[n++] = v[i];
    hist_of(&rest, kept, n);
    assert_hist_equal(&all, &rest);
    for (size_t i = 0; i < n; i++) assert_int_equal(kpi_hist_add(&all, kpi_bucket(kept[i]), -1, -kept[i]), 0);
    assert_int_equal(all.n, 0); /* emptied bins go away */
    kpi_hist_free(&all);
    kpi_hist_free(&rest);
}

static void merged_histograms_are_the_histogram_of_the_union(void **state) {
    (void)state;
    uint64_t seed = 7;
    int64_t v[300];
    for (int i = 0; i < 300; i++) v[i] = rnd(&seed) % 100000;
    kpi_hist a, b, u;
    hist_of(&a, v, 120);
    hist_of(&b, v + 120, 180);
    hist_of(&u, v, 300);
    assert_int_equal(kpi_hist_merge(&a, &b, +1), 0);
    assert_hist_equal(&a, &u);
    assert_int_equal(kpi_hist_merge(&a, &b, -1), 0); /* and a merge taken back */
    kpi_hist first;
    hist_of(&first, v, 120);
    assert_hist_equal(&a, &first);
    kpi_hist_free(&a);
    kpi_hist_free(&b);
    kpi_hist_free(&u);
    kpi_hist_free(&first);
}

static int cmp64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static int64_t nearest_rank(int64_t *v, size_t n, int pct) {
    qsort(v, n, sizeof *v, cmp64);
    size_t rank = (n * (size_t)pct + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

static void percentiles_are_exact_or_within_1pct(void **state) {
    (void)state;
    uint64_t seed = 99;
    for (int round = 0; round < 50; round++) {
        size_t n = 1 + (size_t)(rnd(&seed) % 200);
        int64_t v[200];
        int64_t scale = round % 2 ? 250 : 3 * 86400;
        for (size_t i = 0; i < n; i++) v[i] = rnd(&seed) % scale;
        kpi_hist h;
        hist_of(&h, v, n);
        for (int pct = 1; pct <= 100; pct += 7) {
            int64_t got, want = nearest_rank(v, n, pct);
            assert_int_equal(kpi_hist_percentile(&h, pct, &got), 0);
            if (want < 256) assert_int_equal(got, want);
            else assert_true(llabs(got - want) * 100 <= want);
        }
        kpi_hist_free(&h);
    }
    /* values that share their bucket and are equal are answered exactly */
    int64_t same[5] = {7200, 7200, 7200, 86400, 86400};
    kpi_hist h;
    hist_of(&h, same, 5);
    int64_t got;
    assert_int_equal(kpi_hist_percentile(&h, 50, &got), 0);
    assert_int_equal(got, 7200);
    assert_int_equal(kpi_hist_percentile(&h, 90, &got), 0);
    assert_int_equal(got, 86400);
    kpi_hist_free(&h);
    kpi_hist empty = {0};
    assert_int_equal(kpi_hist_percentile(&empty, 50, &got), -1);
}

static void counters_survive_their_encoding(void **state) {
    (void)state;
    kpi_counters c = {{0}}, back;
    unsigned char buf[KPI_NCOUNTERS * 10];
    assert_int_equal(kpi_counters_encode(&c, buf), 0); /* all zero: no bytes (the record is deleted) */
    c.v[KC_CASES] = 1;
    c.v[KC_WITH_SLA] = 1;
    c.v[KC_SLA_MET] = 1;
    assert_int_equal(kpi_counters_encode(&c, buf), 3); /* a create's figures are a few bytes */
    c.v[KC_REFUNDED_CENTS] = (int64_t)1 << 50;
    c.v[KC_ESC_LEVEL + 8] = -1; /* never stored, but not corrupted either */
    size_t n = kpi_counters_encode(&c, buf);
    assert_int_equal(kpi_counters_decode(buf, n, &back), 0);
    assert_memory_equal(&c, &back, sizeof c);
    assert_int_equal(kpi_counters_decode(buf, n - 1, &back), -1); /* torn */
}

/* ---- changes equal recomputation ---- */

typedef struct {
    unsigned char key[STORE_KEY_MAX];
    size_t klen;
    unsigned char val[4096];
    size_t vlen;
} rec;

typedef struct {
    rec r[256];
    size_t n;
} mem;

static rec *find(mem *m, const store_key *k) {
    for (size_t i = 0; i < m->n; i++)
        if (m->r[i].klen == k->len && !memcmp(m->r[i].key, k->buf, k->len)) return &m->r[i];
    return NULL;
}

static int mem_get(void *ud, const store_key *k, char **val, size_t *vlen) {
    rec *r = find(ud, k);
    if (r == NULL) return STORE_ENOTFOUND;
    *val = malloc(r->vlen + 1);
    memcpy(*val, r->val, r->vlen);
    *vlen = r->vlen;
    return 0;
}

static void mem_put(void *ud, const store_key *k, const void *val, size_t vlen) {
    mem *m = ud;
    rec *r = find(m, k);
    if (r == NULL) {
        assert_true(m->n < 256);
        r = &m->r[m->n++];
        memcpy(r->key, k->buf, k->len);
        r->klen = k->len;
    }
    assert_true(vlen <= sizeof r->val);
    memcpy(r->val, val, vlen);
    r->vlen = vlen;
}

static void mem_del(void *ud, const store_key *k) {
    mem *m = ud;
    rec *r = find(m, k);
    if (r) *r = m->r[--m->n];
}

static void mem_fail(void *ud, int err) {
    (void)ud;
    fail_msg("sink failed: %d", err);
}

static void assert_mem_equal(mem *a, mem *b) {
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        store_key k;
        memcpy(k.buf, a->r[i].key, a->r[i].klen);
        k.len = a->r[i].klen;
        rec *other = find(b, &k);
        assert_non_null(other);
        assert_int_equal(other->vlen, a->r[i].vlen);
        assert_memory_equal(other->val, a->r[i].val, a->r[i].vlen);
    }
}

#define OFF 28800
#define T 1793584800

static mem *live, *fresh;

/* The records kept through every change equal those of the case as it is. */
static void step(as_case *before, as_case *after) {
    kpi_sink s = {live, mem_get, mem_put, mem_del, mem_fail};
    kpi_update(&s, OFF, before, after);
    memset(fresh, 0, sizeof *fresh);
    kpi_sink f = {fresh, mem_get, mem_put, mem_del, mem_fail};
    kpi_update(&f, OFF, NULL, after);
    assert_mem_equal(live, fresh);
    case_free(before);
    assert_int_equal(case_copy(before, after), 0);
}

static void changes_leave_what_a_recomputation_gives(void **state) {
    (void)state;
    live = calloc(1, sizeof *live);
    fresh = calloc(1, sizeof *fresh);
    as_case was, c;
    case_init(&was);
    case_init(&c);
    strcpy(c.case_id, "C0000000001");
    c.type = CASE_RETURN;
    c.status = ST_OPEN;
    c.created_at = T;
    AS_IDSET(c.merchant_id, "m1");
    AS_IDSET(c.queue, "after_sales");
    c.decision.outcome = OUT_REVIEW;
    as_strset(&c.decision.reason_code, "needs_review");
    c.sla.first_response_due = T + 7200;
    kpi_sink s = {live, mem_get, mem_put, mem_del, mem_fail};
    kpi_update(&s, OFF, NULL, &c); /* created */
    assert_int_equal(case_copy(&was, &c), 0);
    AS_IDSET(c.assignee, "a1"); /* assigned */
    step(&was, &c);
    c.first_response_at = T + 600; /* replied */
    step(&was, &c);
    AS_IDSET(c.assignee, "a2"); /* reassigned: moves between agent groups */
    step(&was, &c);
    c.decision.outcome = OUT_APPROVE; /* settled: another decision record */
    as_strset(&c.decision.reason_code, "approved_by_agent");
    c.status = ST_RESOLVED;
    c.resolved_at = T + 90000; /* resolved the next day */
    c.refund.refunded_cents = 5000;
    step(&was, &c);
    c.status = ST_IN_PROGRESS; /* reopened: the resolution is taken back */
    c.resolved_at = AS_NONE;
    c.sla.breached = 1u << SLA_RESOLUTION;
    c.sla.escalation_level = 2;
    step(&was, &c);
    c.status = ST_CLOSED;
    c.resolved_at = T + 200000;
    c.survey.csat = 2;
    c.survey.nps = 9;
    step(&was, &c);
    /* and removing the case leaves nothing */
    kpi_update(&s, OFF, &was, NULL);
    assert_int_equal(live->n, 0);
    case_free(&was);
    case_free(&c);
    free(live);
    free(fresh);
}

static void a_rejection_is_neither_resolved_nor_a_resolution_time(void **state) {
    (void)state;
    as_case c;
    case_init(&c);
    c.status = ST_REJECTED;
    c.created_at = T;
    c.resolved_at = T + 5;
    kpi_contrib k;
    kpi_contrib_of(&c, &k);
    assert_int_equal(k.c.v[KC_CASES], 1);
    assert_int_equal(k.c.v[KC_RESOLVED], 0);
    assert_int_equal(k.time[KH_RESOLUTION], AS_NONE);
    c.status = ST_CLOSED;
    c.stage = STG_CANCELLED;
    kpi_contrib_of(&c, &k);
    assert_int_equal(k.c.v[KC_RESOLVED], 0);
    c.stage = STG_CLOSED;
    kpi_contrib_of(&c, &k);
    assert_int_equal(k.c.v[KC_RESOLVED], 1);
    assert_int_equal(k.time[KH_RESOLUTION], 5);
    case_free(&c);
}

static int keys_overflowed;
static void no_overflow_put(void *ud, const store_key *k, const void *val, size_t vlen) {
    if (k->overflow || k->len > STORE_KEY_MAX) keys_overflowed++;
    else mem_put(ud, k, val, vlen);
}

/* A policy's reason_code has no bound of its own: the decisions record keys
 * a long one by its first 128 bytes, cut between characters, and never
 * overflows its key (which failed the case's whole batch). */
static void a_long_reason_code_is_cut_in_its_key(void **state) {
    (void)state;
    mem *m = calloc(1, sizeof *m);
    kpi_sink s = {m, mem_get, no_overflow_put, mem_del, mem_fail};
    as_case c;
    case_init(&c);
    strcpy(c.case_id, "C0000000001");
    strcpy(c.merchant_id, "m-0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567");
    c.type = CASE_RETURN;
    c.status = ST_OPEN;
    c.created_at = T;
    c.decision.outcome = OUT_REVIEW;
    char *reason = malloc(730);
    memset(reason, 'x', 127);
    memcpy(reason + 127, "\xC3\xA9", 2); /* a 2-byte character across the 128th byte */
    memset(reason + 129, 'y', 600);
    reason[729] = '\0';
    c.decision.reason_code = reason;
    keys_overflowed = 0;
    kpi_update(&s, OFF, NULL, &c);
    assert_int_equal(keys_overflowed, 0);
    int found = 0;
    for (size_t i = 0; i < m->n; i++) {
        const unsigned char *k = m->r[i].key;
        size_t n = m->r[i].klen;
        /* the decisions records end with the outcome, the code cut before the
         * character it would split (127 bytes), and its NUL */
        if (n > 129 && k[n - 129] == OUT_REVIEW && !memcmp(k + n - 128, reason, 127) && k[n - 1] == '\0') found++;
    }
    assert_int_equal(found, 2); /* the platform's scope and the merchant's */
    case_free(&c);
    free(m);
}

static void days_follow_the_zone(void **state) {
    (void)state;
    /* T is 10:00 at +08:00: the day starts at 00:00 local, 16:00 UTC before */
    int64_t d = kpi_day_of(T, OFF);
    assert_int_equal(kpi_day_start(d, OFF), T - 10 * 3600);
    assert_int_equal(kpi_day_of(T - 10 * 3600 - 1, OFF), d - 1);
    assert_int_equal(kpi_day_of(-1, 0), -1);
}

/* ---- store-backed: rebuild and verify ---- */

static void rebuild_and_verify_agree_and_verify_finds_tampering(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    store_batch *b = store_batch_new(f.s);
    for (int i = 1; i <= 30; i++) { /* cases stored as the commit would, aggregates included */
        as_case c;
        case_init(&c);
        c.seq = (uint64_t)i;
        case_id_format(c.seq, c.case_id);
        c.type = (case_type)(i % CASE__TYPES);
        c.status = (case_status)(i % ST__COUNT);
        c.created_at = T + i * 20000;
        if (i % 2) c.first_response_at = c.created_at + i * 97;
        snprintf(c.assignee, sizeof c.assignee, "a%d", i % 3);
        AS_IDSET(c.merchant_id, i % 4 ? "m1" : "m2");
        size_t len;
        char *text = case_to_json(&c, &len);
        store_key k;
        key_init(&k);
        key_str(&k, c.case_id);
        store_batch_put(b, DB_CASES, k.buf, k.len, text, len);
        free(text);
        case_index_prefix(&k, "all", ""); /* the created-order index the report bisects */
        key_u64(&k, c.seq);
        unsigned char created[8];
        for (int j = 0; j < 8; j++) created[j] = (unsigned char)((uint64_t)c.created_at >> (56 - 8 * j));
        store_batch_put(b, DB_INDEX, k.buf, k.len, created, 8);
        kpi_update_batch(b, OFF, NULL, &c);
        case_free(&c);
    }
    assert_int_equal(commit_wait(&f, b), 0);
    kpi_rebuild_report r;
    assert_int_equal(kpi_meta_read(f.s, &(int64_t){0}), STORE_ENOTFOUND);
    assert_int_equal(kpi_rebuild(f.s, OFF, &r), 0);
    assert_int_equal(r.cases, 30);
    int64_t off = 0;
    assert_int_equal(kpi_meta_read(f.s, &off), 0);
    assert_int_equal(off, OFF);
    assert_int_equal(kpi_verify(f.s, OFF, &r), 0);
    assert_int_equal(r.mismatched + r.missing + r.extra, 0);
    /* a record changed behind the aggregates' back is found */
    store_key k;
    kpi_prefix(&k, 'c', "*", 't');
    kpi_key_day(&k, kpi_day_of(T + 20000, OFF));
    key_str(&k, "");
    b = store_batch_new(f.s);
    store_batch_put(b, DB_INDEX, k.buf, k.len, "\x07", 1);
    assert_int_equal(commit_wait(&f, b), 0);
    assert_int_equal(kpi_verify(f.s, OFF, &r), 0);
    assert_int_equal(r.mismatched, 1);
    /* and the report's figures from records equal those from the cases */
    assert_int_equal(kpi_rebuild(f.s, OFF, &r), 0);
    kpi_query q = {.from = T + 30000, .to = T + 500000, .now = T + 600000, .offset = OFF, .scope = "m1", .by = 'a'};
    kpi_report agg, scan;
    assert_int_equal(kpi_report_build(f.s, &q, &agg), 0);
    assert_int_equal(kpi_report_scan(f.s, &q, &scan), 0);
    assert_true(agg.scanned > 0); /* both edges were cut through a day of cases */
    assert_memory_equal(&agg.all.totals.c, &scan.all.totals.c, sizeof agg.all.totals.c);
    assert_hist_equal(&agg.all.totals.h[KH_FIRST_RESPONSE], &scan.all.totals.h[KH_FIRST_RESPONSE]);
    kpi_report_free(&agg);
    kpi_report_free(&scan);
    fixture_down(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_are_exact_below_256_and_at_most_1pct_wide),
        cmocka_unit_test(a_value_taken_back_leaves_the_histogram_of_the_rest),
        cmocka_unit_test(merged_histograms_are_the_histogram_of_the_union),
        cmocka_unit_test(percentiles_are_exact_or_within_1pct),
        cmocka_unit_test(counters_survive_their_encoding),
        cmocka_unit_test(changes_leave_what_a_recomputation_gives),
        cmocka_unit_test(a_rejection_is_neither_resolved_nor_a_resolution_time),
        cmocka_unit_test(days_follow_the_zone),
        cmocka_unit_test(a_long_reason_code_is_cut_in_its_key),
        cmocka_unit_test(rebuild_and_verify_agree_and_verify_finds_tampering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
