/* store: committed reads, the pending-write overlay, callback order, group
 * commit, prefix scans, durability across reopen, and per-batch failures. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store/keys.h"
#include "store/pack.h"
#include "test_store_util.h"

static int setup(void **state) {
    store_fixture *f = malloc(sizeof *f);
    assert_non_null(f);
    fixture_up(f, 0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_down(*state);
    free(*state);
    return 0;
}

static void put_then_get_after_commit(void **state) {
    store_fixture *f = *state;
    assert_int_equal(put_wait(f, DB_CASES, "C1", "{\"a\":1}"), 0);
    char *v = read_committed(f->s, DB_CASES, "C1", 2);
    assert_string_equal(v, "{\"a\":1}");
    free(v);
    assert_null(read_committed(f->s, DB_ORDERS, "C1", 2)); /* databases are separate */
    assert_null(read_committed(f->s, DB_CASES, "C2", 2));
}

static void latest_sees_pending_writes_committed_reads_do_not(void **state) {
    store_fixture *f = *state;
    assert_int_equal(put_wait(f, DB_ORDERS, "o1", "v1"), 0);
    assert_int_equal(put_wait(f, DB_ORDERS, "o2", "keep"), 0);
    store_read *rd;
    assert_int_equal(store_read_begin(f->s, &rd), 0);
    store_batch *b = store_batch_new(f->s);
    store_batch_put(b, DB_ORDERS, "o1", 2, "v2", 2);
    store_batch_del(b, DB_ORDERS, "o2", 2);
    store_batch_put(b, DB_ORDERS, "o3", 2, "new", 3);
    commit_result r = {1, 0};
    store_submit(b, on_result, &r);
    const void *v;
    size_t vlen;
    assert_int_equal(store_read_get(rd, DB_ORDERS, "o1", 2, &v, &vlen), 0);
    assert_memory_equal(v, "v1", 2);
    assert_int_equal(store_read_get(rd, DB_ORDERS, "o3", 2, &v, &vlen), STORE_ENOTFOUND);
    char *lv;
    size_t ln;
    assert_int_equal(store_get_latest(f->s, DB_ORDERS, "o1", 2, &lv, &ln), 0);
    assert_int_equal(ln, 2);
    assert_string_equal(lv, "v2");
    free(lv);
    assert_int_equal(store_get_latest(f->s, DB_ORDERS, "o2", 2, &lv, &ln), STORE_ENOTFOUND);
    assert_int_equal(store_get_latest(f->s, DB_ORDERS, "o3", 2, &lv, &ln), 0);
    free(lv);
    store_read_end(rd);
    run_until(&f->loop, &r.runs);
    assert_int_equal(r.status, 0);
    char *c = read_committed(f->s, DB_ORDERS, "o1", 2);
    assert_string_equal(c, "v2");
    free(c);
    assert_null(read_committed(f->s, DB_ORDERS, "o2", 2));
    assert_int_equal(store_get_latest(f->s, DB_ORDERS, "o2", 2, &lv, &ln), STORE_ENOTFOUND);
}

static void latest_keeps_a_newer_pending_value_when_an_older_batch_completes(void **state) {
    store_fixture *f = *state;
    commit_result r1 = {1, 0}, r2 = {1, 0};
    store_batch *b1 = store_batch_new(f->s);
    store_batch_put(b1, DB_META, "k", 1, "one", 3);
    store_submit(b1, on_result, &r1);
    store_batch *b2 = store_batch_new(f->s);
    store_batch_put(b2, DB_META, "k", 1, "two", 3);
    store_submit(b2, on_result, &r2);
    char *lv;
    size_t ln;
    assert_int_equal(store_get_latest(f->s, DB_META, "k", 1, &lv, &ln), 0);
    assert_string_equal(lv, "two");
    free(lv);
    run_until(&f->loop, &r2.runs);
    assert_int_equal(r1.status, 0);
    assert_int_equal(store_get_latest(f->s, DB_META, "k", 1, &lv, &ln), 0);
    assert_string_equal(lv, "two");
    free(lv);
}

static void batch_sees_its_own_newest_write_then_the_store(void **state) {
    store_fixture *f = *state;
    assert_int_equal(put_wait(f, DB_META, "k", "committed"), 0);
    store_batch *pending = store_batch_new(f->s);
    store_batch_put(pending, DB_META, "p", 1, "pending", 7);
    commit_result r = {1, 0};
    store_submit(pending, on_result, &r);
    store_batch *b = store_batch_new(f->s);
    char *v;
    size_t n;
    assert_int_equal(store_batch_get_latest(b, DB_META, "k", 1, &v, &n), 0);
    assert_string_equal(v, "committed");
    free(v);
    assert_int_equal(store_batch_get_latest(b, DB_META, "p", 1, &v, &n), 0);
    assert_string_equal(v, "pending");
    free(v);
    store_batch_put(b, DB_META, "k", 1, "one", 3);
    store_batch_put(b, DB_META, "k", 1, "two", 3);
    assert_int_equal(store_batch_get_latest(b, DB_META, "k", 1, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v, "two");
    free(v);
    store_batch_del(b, DB_META, "p", 1);
    assert_int_equal(store_batch_get_latest(b, DB_META, "p", 1, &v, &n), STORE_ENOTFOUND);
    assert_int_equal(store_batch_get_latest(b, DB_ORDERS, "k", 1, &v, &n), STORE_ENOTFOUND);
    store_batch_free(b);
    run_until(&f->loop, &r.runs);
    assert_int_equal(r.status, 0);
}

/* Past 64 ops a batch finds its own writes through a hash index: the newest
 * write of each key wins, a delete hides it, a deferred value stays unseen,
 * and keys written after the index was built are found too. */
static void a_big_batch_finds_its_newest_writes_through_its_index(void **state) {
    store_fixture *f = *state;
    assert_int_equal(put_wait(f, DB_META, "committed", "c"), 0);
    store_batch *b = store_batch_new(f->s);
    char key[32], val[32], *v;
    size_t n;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 500; i++) {
            snprintf(key, sizeof key, "k%d", i);
            snprintf(val, sizeof val, "v%d.%d", i, round);
            store_batch_put(b, DB_META, key, strlen(key), val, strlen(val));
            if (i == 250 && round == 1) { /* a lookup mid-way builds the index; later writes join it */
                assert_int_equal(store_batch_get_latest(b, DB_META, "k3", 2, &v, &n), 0);
                assert_string_equal(v, "v3.1");
                free(v);
            }
        }
    store_batch_del(b, DB_META, "k7", 2);
    store_batch_put(b, DB_ORDERS, "k8", 2, "other db", 8);
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "k%d", i);
        int rc = store_batch_get_latest(b, DB_META, key, strlen(key), &v, &n);
        if (i == 7) {
            assert_int_equal(rc, STORE_ENOTFOUND);
            continue;
        }
        assert_int_equal(rc, 0);
        snprintf(val, sizeof val, "v%d.2", i);
        assert_string_equal(v, val);
        assert_int_equal(n, strlen(val));
        free(v);
    }
    assert_int_equal(store_batch_get_latest(b, DB_ORDERS, "k8", 2, &v, &n), 0);
    assert_string_equal(v, "other db");
    free(v);
    assert_int_equal(store_batch_get_latest(b, DB_META, "committed", 9, &v, &n), 0); /* not in the batch */
    assert_string_equal(v, "c");
    free(v);
    assert_int_equal(commit_wait(f, b), 0);
    char *stored = read_committed(f->s, DB_META, "k499", 4);
    assert_string_equal(stored, "v499.2");
    free(stored);
}

typedef struct {
    store *s;
    int rc;
    char got[32];
} reader_arg;

static void *read_on_a_thread(void *p) {
    reader_arg *a = p;
    store_read *rd;
    a->rc = store_read_begin_detached(a->s, &rd);
    if (a->rc != 0) return NULL;
    const void *v;
    size_t vlen;
    a->rc = store_read_get(rd, DB_META, "k", 1, &v, &vlen);
    if (a->rc == 0) snprintf(a->got, sizeof a->got, "%.*s", (int)vlen, (const char *)v);
    store_read_end(rd);
    return NULL;
}

/* A detached read is another thread's own: it sees committed data while the
 * loop thread's cached reads go on beside it. */
static void a_detached_read_works_on_another_thread(void **state) {
    store_fixture *f = *state;
    assert_int_equal(put_wait(f, DB_META, "k", "from the loop"), 0);
    store_read *mine;
    assert_int_equal(store_read_begin(f->s, &mine), 0); /* a loop read open meanwhile */
    reader_arg a = {f->s, -99, ""};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_on_a_thread, &a), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    store_read_end(mine);
    assert_int_equal(a.rc, 0);
    assert_string_equal(a.got, "from the loop");
    assert_int_equal(put_wait(f, DB_META, "k", "later"), 0); /* the writer is not held up after */
}

typedef struct {
    int order[64];
    int n;
} order_log;

typedef struct {
    order_log *log;
    int id;
    int status;
} order_item;

static void on_ordered(int status, void *ud) {
    order_item *it = ud;
    it->status = status;
    it->log->order[it->log->n++] = it->id;
}

static void callbacks_run_in_submit_order(void **state) {
    store_fixture *f = *state;
    order_log log = {.n = 0};
    order_item items[64];
    for (int i = 0; i < 64; i++) {
        items[i] = (order_item){&log, i, 1};
        store_batch *b = store_batch_new(f->s);
        char key[16];
        int n = snprintf(key, sizeof key, "k%d", i);
        if (i % 5 != 4) store_batch_put(b, DB_META, key, (size_t)n, "x", 1); /* some barriers */
        store_submit(b, on_ordered, &items[i]);
    }
    while (log.n < 64) uv_run(&f->loop, UV_RUN_ONCE);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(log.order[i], i);
        assert_int_equal(items[i].status, 0);
    }
}

typedef struct {
    store_fixture *f;
    commit_result *earlier;
    int n;
    int ok;
} barrier_check;

static void on_barrier(int status, void *ud) {
    barrier_check *c = ud;
    c->ok = status == 0;
    for (int i = 0; i < c->n; i++) c->ok = c->ok && c->earlier[i].runs == 1;
    char *v = read_committed(c->f->s, DB_META, "b9", 2);
    c->ok = c->ok && v != NULL;
    free(v);
    c->n = -1;
}

/* A deferred value: its text, and how often the store released it. */
typedef struct {
    const char *text; /* NULL: serialising fails */
    int released;
} deferred_value;

static char *serialize_value(void *v, size_t *len) {
    deferred_value *d = v;
    if (d->text == NULL) return NULL;
    *len = strlen(d->text);
    return strdup(d->text);
}

static void release_value(void *v) { ((deferred_value *)v)->released++; }

static void deferred_values_are_written_by_the_writer_and_released_once(void **state) {
    store_fixture *f = *state;
    deferred_value ok = {"{\"seq\":1}", 0}, bad = {NULL, 0};
    commit_result r1 = {1, 0}, r2 = {1, 0}, r3 = {1, 0};
    store_batch *b1 = store_batch_new(f->s);
    store_batch_put(b1, DB_META, "plain", 5, "p", 1);
    store_batch_put_deferred(b1, DB_TIMELINE, "t1", 2, &ok, serialize_value, release_value);
    store_submit(b1, on_result, &r1);
    store_batch *b2 = store_batch_new(f->s); /* its value cannot be serialised */
    store_batch_put(b2, DB_META, "other", 5, "o", 1);
    store_batch_put_deferred(b2, DB_TIMELINE, "t2", 2, &bad, serialize_value, release_value);
    store_submit(b2, on_result, &r2);
    store_batch *b3 = store_batch_new(f->s);
    store_batch_put(b3, DB_META, "third", 5, "3", 1);
    store_submit(b3, on_result, &r3);
    char *lv;
    size_t ln;
    assert_int_equal(store_pending(f->s), 3);
    /* pending: the plain value is visible, the deferred one is not */
    assert_int_equal(store_get_latest(f->s, DB_META, "plain", 5, &lv, &ln), 0);
    free(lv);
    assert_int_equal(store_get_latest(f->s, DB_TIMELINE, "t1", 2, &lv, &ln), STORE_ENOTFOUND);
    run_until(&f->loop, &r3.runs);
    assert_int_equal(r1.status, 0);
    assert_int_equal(r2.status, STORE_ENOMEM);
    assert_int_equal(r3.status, STORE_ENOMEM); /* built while b2 was pending: fails with it */
    assert_int_equal(store_pending(f->s), 0);
    char *c = read_committed(f->s, DB_TIMELINE, "t1", 2);
    assert_string_equal(c, "{\"seq\":1}");
    free(c);
    assert_null(read_committed(f->s, DB_TIMELINE, "t2", 2));
    assert_null(read_committed(f->s, DB_META, "other", 5));
    assert_null(read_committed(f->s, DB_META, "third", 5));
    assert_int_equal(put_wait(f, DB_META, "after", "a"), 0); /* the next epoch commits */
    assert_int_equal(ok.released, 1);
    assert_int_equal(bad.released, 1);
    /* a batch that already failed releases what it is given at once */
    store_batch *b4 = store_batch_new(f->s);
    static const unsigned char too_long[STORE_KEY_MAX + 1];
    store_batch_put(b4, DB_META, too_long, sizeof too_long, "", 0);
    deferred_value late = {"x", 0};
    store_batch_put_deferred(b4, DB_TIMELINE, "t4", 2, &late, serialize_value, release_value);
    assert_int_equal(late.released, 1);
    store_batch_free(b4);
    assert_int_equal(late.released, 1);
}

static void barrier_completes_after_every_earlier_batch(void **state) {
    store_fixture *f = *state;
    commit_result rs[10];
    for (int i = 0; i < 10; i++) {
        rs[i] = (commit_result){1, 0};
        store_batch *b = store_batch_new(f->s);
        char key[4] = {'b', (char)('0' + i), 0};
        store_batch_put(b, DB_META, key, 2, "v", 1);
        store_submit(b, on_result, &rs[i]);
    }
    barrier_check c = {f, rs, 10, 0};
    store_batch *barrier = store_batch_new(f->s);
    assert_int_equal(store_batch_ops(barrier), 0);
    store_submit(barrier, on_barrier, &c);
    while (c.n != -1) uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(c.ok);
}

#define GROUP_N 200

static void submits_in_one_turn_share_commits(void **state) {
    store_fixture *f = *state;
    static commit_result rs[GROUP_N];
    for (int i = 0; i < GROUP_N; i++) {
        rs[i] = (commit_result){1, 0};
        store_key k;
        key_init(&k);
        key_u64(&k, (uint64_t)i);
        store_batch *b = store_batch_new(f->s);
        store_batch_put(b, DB_EVENTS, k.buf, k.len, "event", 5);
        store_submit(b, on_result, &rs[i]);
    }
    store_stats st;
    store_get_stats(f->s, &st);
    assert_true(st.pending > 0);
    run_until(&f->loop, &rs[GROUP_N - 1].runs);
    for (int i = 0; i < GROUP_N; i++) assert_int_equal(rs[i].status, 0);
    store_get_stats(f->s, &st);
    print_message("group commit: %llu batches in %llu commits, max %llu per commit\n",
                  (unsigned long long)st.batches, (unsigned long long)st.commits,
                  (unsigned long long)st.max_batches_per_commit);
    assert_int_equal(st.batches, GROUP_N);
    assert_int_equal(st.pending, 0);
    assert_true(st.commits < GROUP_N);
    assert_true(st.max_batches_per_commit > 1);
    uint64_t hist_total = 0;
    for (int i = 0; i < 8; i++) hist_total += st.batch_size_hist[i];
    assert_int_equal(hist_total, st.commits);
    assert_true(st.map_size > 0);
}

static void null_submit_reports_nomem_from_the_loop(void **state) {
    store_fixture *f = *state;
    commit_result r = {1, 0};
    store_submit(NULL, on_result, &r);
    assert_int_equal(r.runs, 0); /* not from inside store_submit */
    run_until(&f->loop, &r.runs);
    assert_int_equal(r.status, STORE_ENOMEM);
}


/* Index-like keys 'a' | field | n, with neighbours on both sides. */
static void idx_key(store_key *k, const char *field, uint64_t n) {
    key_init(k);
    key_u8(k, 'a');
    key_str(k, field);
    key_u64(k, n);
}

static void fill_index(store_fixture *f) {
    store_batch *b = store_batch_new(f->s);
    const char *fields[] = {"w", "x", "xa", "y"};
    for (int fi = 0; fi < 4; fi++)
        for (uint64_t n = 1; n <= 5; n++) {
            store_key k;
            idx_key(&k, fields[fi], n * 10);
            store_batch_put(b, DB_INDEX, k.buf, k.len, fields[fi], strlen(fields[fi]));
        }
    const unsigned char ff1[] = {0x01, 0xff, 0x01}, ff2[] = {0x01, 0xff, 0xff}, two[] = {0x02};
    store_batch_put(b, DB_INDEX, ff1, 3, "f1", 2);
    store_batch_put(b, DB_INDEX, ff2, 3, "f2", 2);
    store_batch_put(b, DB_INDEX, two, 1, "t", 1);
    assert_int_equal(commit_wait(f, b), 0);
}

/* Runs a scan and returns the u64 suffixes it saw (or values' first byte). */
static int scan(store_fixture *f, const store_key *prefix, const store_key *from, int reverse,
                uint64_t *out, int max) {
    store_read *rd;
    store_iter *it;
    assert_int_equal(store_read_begin(f->s, &rd), 0);
    assert_int_equal(store_iter_open(rd, DB_INDEX, prefix ? prefix->buf : NULL,
                                     prefix ? prefix->len : 0, from ? from->buf : NULL,
                                     from ? from->len : 0, reverse, &it),
                     0);
    const void *k, *v;
    size_t klen, vlen;
    int n = 0, rc;
    while ((rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        assert_true(n < max);
        out[n++] = klen >= 8 ? key_get_u64((const unsigned char *)k + klen - 8) : 0;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(store_iter_next(it, &k, &klen, &v, &vlen), 0); /* stays at the end */
    store_iter_close(it);
    store_read_end(rd);
    return n;
}

static void expect_seq(const uint64_t *got, int n, const uint64_t *want, int wn) {
    assert_int_equal(n, wn);
    for (int i = 0; i < n; i++) assert_int_equal(got[i], want[i]);
}

static void prefix_scans_forward_and_reverse_stay_in_the_prefix(void **state) {
    store_fixture *f = *state;
    fill_index(f);
    store_key prefix, from;
    key_init(&prefix);
    key_u8(&prefix, 'a');
    key_str(&prefix, "x");
    uint64_t got[64];
    int n = scan(f, &prefix, NULL, 0, got, 64);
    expect_seq(got, n, (uint64_t[]){10, 20, 30, 40, 50}, 5);
    n = scan(f, &prefix, NULL, 1, got, 64);
    expect_seq(got, n, (uint64_t[]){50, 40, 30, 20, 10}, 5);
    idx_key(&from, "x", 30); /* exact key */
    n = scan(f, &prefix, &from, 0, got, 64);
    expect_seq(got, n, (uint64_t[]){30, 40, 50}, 3);
    n = scan(f, &prefix, &from, 1, got, 64);
    expect_seq(got, n, (uint64_t[]){30, 20, 10}, 3);
    idx_key(&from, "x", 35); /* between keys */
    n = scan(f, &prefix, &from, 0, got, 64);
    expect_seq(got, n, (uint64_t[]){40, 50}, 2);
    n = scan(f, &prefix, &from, 1, got, 64);
    expect_seq(got, n, (uint64_t[]){30, 20, 10}, 3);
    idx_key(&from, "x", 99); /* past the last */
    n = scan(f, &prefix, &from, 0, got, 64);
    assert_int_equal(n, 0);
    n = scan(f, &prefix, &from, 1, got, 64);
    expect_seq(got, n, (uint64_t[]){50, 40, 30, 20, 10}, 5);
}

static void scans_from_outside_the_prefix_clamp_to_it(void **state) {
    store_fixture *f = *state;
    fill_index(f);
    store_key prefix, from;
    key_init(&prefix);
    key_u8(&prefix, 'a');
    key_str(&prefix, "x");
    uint64_t got[64];
    idx_key(&from, "w", 30); /* before the prefix */
    int n = scan(f, &prefix, &from, 0, got, 64);
    expect_seq(got, n, (uint64_t[]){10, 20, 30, 40, 50}, 5);
    n = scan(f, &prefix, &from, 1, got, 64);
    assert_int_equal(n, 0);
    idx_key(&from, "y", 30); /* after the prefix */
    n = scan(f, &prefix, &from, 0, got, 64);
    assert_int_equal(n, 0);
    n = scan(f, &prefix, &from, 1, got, 64);
    expect_seq(got, n, (uint64_t[]){50, 40, 30, 20, 10}, 5);
}

static void scans_without_prefix_cover_the_whole_db(void **state) {
    store_fixture *f = *state;
    fill_index(f);
    uint64_t got[64];
    assert_int_equal(scan(f, NULL, NULL, 0, got, 64), 23);
    assert_int_equal(scan(f, NULL, NULL, 1, got, 64), 23);
    store_key from;
    idx_key(&from, "y", 30);
    int n = scan(f, NULL, &from, 1, got, 64);
    assert_int_equal(n, 3 + 15 + 3); /* y30..y10, xa/x/w, then 0x02 and the two 0x01 0xff keys */
    n = scan(f, NULL, &from, 0, got, 64);
    assert_int_equal(n, 3);
}

static void reverse_scan_of_a_prefix_ending_in_ff(void **state) {
    store_fixture *f = *state;
    fill_index(f);
    store_key prefix;
    key_init(&prefix);
    key_raw(&prefix, "\x01\xff", 2);
    store_read *rd;
    store_iter *it;
    assert_int_equal(store_read_begin(f->s, &rd), 0);
    assert_int_equal(store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 1, &it), 0);
    const void *k, *v;
    size_t klen, vlen;
    assert_int_equal(store_iter_next(it, &k, &klen, &v, &vlen), 1);
    assert_memory_equal(v, "f2", 2);
    assert_int_equal(store_iter_next(it, &k, &klen, &v, &vlen), 1);
    assert_memory_equal(v, "f1", 2);
    assert_int_equal(store_iter_next(it, &k, &klen, &v, &vlen), 0);
    store_read_end(rd); /* closes the iterator the caller left open */
}

static void data_survives_reopen(void **state) {
    store_fixture *f = *state;
    assert_int_equal(put_wait(f, DB_AGENTS, "ag1", "{\"name\":\"Ann\"}"), 0);
    fixture_close_store(f);
    assert_int_equal(fixture_open_sized(f, 0, 0), 0);
    char *v = read_committed(f->s, DB_AGENTS, "ag1", 3);
    assert_string_equal(v, "{\"name\":\"Ann\"}");
    free(v);
}

/* The data directory is created if missing, private to the server (0700). */
static void open_creates_a_missing_private_directory(void **state) {
    store_fixture *f = *state;
    fixture_close_store(f);
    char sub[96];
    snprintf(sub, sizeof sub, "%s/data/", f->dir); /* a trailing slash is fine too */
    store_config cfg = {.path = sub};
    assert_int_equal(store_open(&f->s, &f->loop, &cfg), 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(put_wait(f, DB_META, "k", "v"), 0);
    fixture_close_store(f);
    assert_int_equal(store_open(&f->s, &f->loop, &cfg), 0);
    char *v = read_committed(f->s, DB_META, "k", 1);
    assert_string_equal(v, "v");
    free(v);
}

typedef struct {
    store *s;
    int status, alone, runs;
} alone_result;

static void on_alone(int status, void *ud) {
    alone_result *r = ud;
    r->status = status;
    r->alone = store_failed_alone(r->s);
    r->runs++;
}

/* A batch that fails on its own says so to its callback (the API rebuilds
 * its mirrors then); the epoch does not move, and later batches commit. */
static void a_batch_failing_alone_says_so_and_keeps_the_epoch(void **state) {
    store_fixture *f = *state;
    alone_result bad = {f->s, 1, -1, 0}, good = {f->s, 1, -1, 0};
    uint64_t epoch = store_epoch(f->s);
    store_batch *b = store_batch_new(f->s);
    store_batch_fail(b, STORE_ENOMEM);
    store_submit(b, on_alone, &bad);
    store_batch *g = store_batch_new(f->s);
    store_batch_put(g, DB_META, "g", 1, "1", 1);
    store_submit(g, on_alone, &good);
    run_until(&f->loop, &good.runs);
    assert_int_equal(bad.status, STORE_ENOMEM);
    assert_int_equal(bad.alone, 1);
    assert_int_equal(good.status, 0);
    assert_int_equal(good.alone, 0);
    assert_true(store_epoch(f->s) == epoch);
}

static void failed_or_overflowed_batch_fails_alone(void **state) {
    store_fixture *f = *state;
    commit_result ra = {1, 0}, rb = {1, 0}, rc = {1, 0}, rd = {1, 0};
    store_batch *a = store_batch_new(f->s);
    store_batch_put(a, DB_CASES, "A", 1, "a", 1);
    store_submit(a, on_result, &ra);
    store_batch *b = store_batch_new(f->s);
    store_batch_put(b, DB_CASES, "B", 1, "b", 1);
    store_batch_fail(b, STORE_ENOMEM); /* a value that could not be built */
    store_batch_fail(b, STORE_EIO);    /* the first error stays */
    store_batch_put(b, DB_CASES, "B2", 2, "b", 1); /* ignored after the first error */
    assert_int_equal(store_batch_ops(b), 1);
    store_submit(b, on_result, &rb);
    store_batch *c = store_batch_new(f->s);
    store_key big;
    key_init(&big);
    char longid[600];
    memset(longid, 'i', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    key_str(&big, longid);
    store_batch_put(c, DB_CASES, "C", 1, "c", 1);
    store_batch_put(c, DB_CASES, big.buf, big.len, "x", 1); /* overflow flag unchecked */
    store_submit(c, on_result, &rc);
    store_batch *d = store_batch_new(f->s);
    store_batch_put(d, DB_CASES, "D", 1, "d", 1);
    store_submit(d, on_result, &rd);
    char *lv;
    size_t ln;
    assert_int_equal(store_get_latest(f->s, DB_CASES, "B", 1, &lv, &ln), STORE_ENOTFOUND);
    run_until(&f->loop, &rd.runs);
    assert_int_equal(ra.status, 0);
    assert_int_equal(rb.status, STORE_ENOMEM);
    assert_int_equal(rc.status, STORE_EINVAL);
    assert_int_equal(rd.status, 0);
    char *v;
    assert_non_null(v = read_committed(f->s, DB_CASES, "A", 1));
    free(v);
    assert_non_null(v = read_committed(f->s, DB_CASES, "D", 1));
    free(v);
    assert_null(read_committed(f->s, DB_CASES, "B", 1));
    assert_null(read_committed(f->s, DB_CASES, "C", 1));
    store_stats st;
    store_get_stats(f->s, &st);
    assert_int_equal(st.failed_batches, 2);
}

typedef struct {
    store *s;
    commit_result late;
    int first;
} close_chain;

static void on_flushed_then_submit(int status, void *ud) {
    close_chain *c = ud;
    c->first = status == 0 ? 2 : -1;
    store_submit(store_batch_new(c->s), on_result, &c->late);
}

static void close_flushes_queued_batches_and_refuses_later_ones(void **state) {
    store_fixture *f = *state;
    close_chain c = {f->s, {1, 0}, 0};
    store_batch *b = store_batch_new(f->s);
    store_batch_put(b, DB_META, "flush", 5, "me", 2);
    store_submit(b, on_flushed_then_submit, &c);
    fixture_close_store(f); /* callbacks run inside store_close */
    assert_int_equal(c.first, 2);
    assert_int_equal(c.late.runs, 1);
    assert_int_equal(c.late.status, STORE_ECLOSED);
    assert_int_equal(fixture_open_sized(f, 0, 0), 0);
    char *v = read_committed(f->s, DB_META, "flush", 5);
    assert_string_equal(v, "me");
    free(v);
}

static void bad_arguments_are_errors_not_crashes(void **state) {
    store_fixture *f = *state;
    store_read *rd;
    store_iter *it = (store_iter *)1;
    assert_int_equal(store_read_begin(f->s, &rd), 0);
    const void *v;
    size_t vlen;
    assert_int_equal(store_read_get(rd, DB_META, "", 0, &v, &vlen), STORE_EINVAL);
    assert_int_equal(store_read_get(rd, DB__COUNT, "k", 1, &v, &vlen), STORE_EINVAL);
    static const unsigned char too_long[STORE_KEY_MAX + 1];
    assert_int_equal(store_iter_open(rd, DB_META, NULL, 0, too_long, sizeof too_long, 0, &it),
                     STORE_EINVAL);
    assert_null(it);
    store_read_end(rd);
    assert_string_equal(store_strerror(STORE_EFULL), "storage full");
    store_batch *b = store_batch_new(f->s);
    store_batch_put(b, DB_META, "k", 1, NULL, 3);
    assert_int_equal(commit_wait(f, b), STORE_EINVAL);
    store_batch_free(store_batch_new(f->s)); /* never submitted */
}

/* Case ids, timeline and feed keys are put with MDB_APPEND first: a key that
 * does not sort last, or replaces one, must still land, in order. */
static void out_of_order_puts_in_the_appended_databases_keep_every_key(void **state) {
    store_fixture *f = *state;
    const uint64_t first[] = {10, 20, 30};
    const uint64_t second[] = {25, 5, 40, 20, 40}; /* between, before, after, again, the last again */
    const uint64_t *rounds[] = {first, second};
    const int sizes[] = {3, 5};
    for (int r = 0; r < 2; r++) {
        store_batch *b = store_batch_new(f->s);
        for (int i = 0; i < sizes[r]; i++) {
            store_key k;
            key_init(&k);
            key_u64(&k, rounds[r][i]);
            char v[16];
            snprintf(v, sizeof v, "r%d", r);
            store_batch_put(b, DB_EVENTS, k.buf, k.len, v, strlen(v));
        }
        assert_int_equal(commit_wait(f, b), 0);
    }
    const uint64_t want[] = {5, 10, 20, 25, 30, 40};
    const char *want_val[] = {"r1", "r0", "r1", "r1", "r0", "r1"};
    store_read *rd;
    assert_int_equal(store_read_begin(f->s, &rd), 0);
    store_iter *it;
    assert_int_equal(store_iter_open(rd, DB_EVENTS, NULL, 0, NULL, 0, 0, &it), 0);
    const void *k, *v;
    size_t klen, vlen;
    int n = 0;
    while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
        assert_true(n < 6);
        store_key expect;
        key_init(&expect);
        key_u64(&expect, want[n]);
        assert_memory_equal(k, expect.buf, expect.len);
        assert_int_equal(vlen, 2);
        assert_memory_equal(v, want_val[n], 2);
        n++;
    }
    assert_int_equal(n, 6);
    store_iter_close(it);
    store_read_end(rd);
}

/* The history databases (feed, timelines) are stored packed: the raw value
 * is a tagged zstd frame far smaller than the text, store_read_text and
 * store_get_latest give the text back, the statistics count what was stored,
 * cases are packed alike, and every other database keeps its values as put. */
static void history_values_are_stored_packed_and_read_as_text(void **state) {
    store_fixture *f = *state;
    char text[1200];
    int n = snprintf(text, sizeof text, "{\"seq\":7,\"type\":\"decision\",\"at\":1793584800,\"actor\":"
                     "{\"role\":\"admin\"},\"data\":{\"module\":\"returns\",\"function\":\"evaluate\"");
    while (n < 1000) n += snprintf(text + n, sizeof text - (size_t)n, ",\"k%d\":\"the same words again\"", n);
    n += snprintf(text + n, sizeof text - (size_t)n, "}}");
    store_stats before, after;
    store_get_stats(f->s, &before);
    assert_int_equal(put_wait(f, DB_TIMELINE, "case1", text), 0);
    store_get_stats(f->s, &after);
    assert_int_equal(put_wait(f, DB_CASES, "case1", text), 0);
    assert_int_equal(put_wait(f, DB_ORDERS, "order1", text), 0);

    store_read *rd;
    assert_int_equal(store_read_begin(f->s, &rd), 0);
    const void *v;
    size_t vlen;
    assert_int_equal(store_read_get(rd, DB_TIMELINE, "case1", 5, &v, &vlen), 0);
    assert_true(pack_is_packed(v, vlen));
    assert_true(vlen * 4 < (size_t)n);
    /* what was stored is what the statistics count */
    assert_int_equal(after.bytes_written - before.bytes_written, 5 + vlen);
    const char *t;
    size_t tlen;
    assert_int_equal(store_read_text(rd, v, vlen, &t, &tlen), 0);
    assert_int_equal(tlen, (size_t)n);
    assert_memory_equal(t, text, tlen);
    /* cases are packed too; every other database keeps what was put */
    assert_int_equal(store_read_get(rd, DB_CASES, "case1", 5, &v, &vlen), 0);
    assert_true(pack_is_packed(v, vlen));
    assert_int_equal(store_read_text(rd, v, vlen, &t, &tlen), 0);
    assert_memory_equal(t, text, tlen);
    assert_int_equal(store_read_get(rd, DB_ORDERS, "order1", 6, &v, &vlen), 0);
    assert_int_equal(vlen, (size_t)n);
    assert_memory_equal(v, text, vlen);
    store_read_end(rd);

    char *latest;
    size_t llen;
    assert_int_equal(store_get_latest(f->s, DB_TIMELINE, "case1", 5, &latest, &llen), 0);
    assert_int_equal(llen, (size_t)n);
    assert_string_equal(latest, text);
    free(latest);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_then_get_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(latest_sees_pending_writes_committed_reads_do_not, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            latest_keeps_a_newer_pending_value_when_an_older_batch_completes, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_sees_its_own_newest_write_then_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(a_big_batch_finds_its_newest_writes_through_its_index, setup, teardown),
        cmocka_unit_test_setup_teardown(a_detached_read_works_on_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(deferred_values_are_written_by_the_writer_and_released_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(callbacks_run_in_submit_order, setup, teardown),
        cmocka_unit_test_setup_teardown(barrier_completes_after_every_earlier_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(submits_in_one_turn_share_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(null_submit_reports_nomem_from_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(prefix_scans_forward_and_reverse_stay_in_the_prefix, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(scans_from_outside_the_prefix_clamp_to_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(scans_without_prefix_cover_the_whole_db, setup, teardown),
        cmocka_unit_test_setup_teardown(reverse_scan_of_a_prefix_ending_in_ff, setup, teardown),
        cmocka_unit_test_setup_teardown(data_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(open_creates_a_missing_private_directory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_or_overflowed_batch_fails_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(a_batch_failing_alone_says_so_and_keeps_the_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(close_flushes_queued_batches_and_refuses_later_ones, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_are_errors_not_crashes, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_order_puts_in_the_appended_databases_keep_every_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(history_values_are_stored_packed_and_read_as_text, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
