/* store: sequenced puts (a feed) are numbered by the writer at commit, in
 * commit order, from 1 and without gaps: a failed commit (full map, a batch
 * that failed alone, the batches that fail with a failed one) hands its
 * numbers back, a retried transaction numbers the same, and a reopened store
 * counts on. The loop learns the durable seq as batches complete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/keys.h"
#include "test_store_util.h"

#define HEAD "{\"seq\":"
#define SMALL_MAP ((size_t)128 << 10)
#define BIG_VALUE ((size_t)1 << 20)

/* A sequenced feed record whose tail names it: {"seq":N,"n":"name"}. */
static void put_event(store_batch *b, const char *name) {
    char tail[64];
    int n = snprintf(tail, sizeof tail, ",\"n\":\"%s\"}", name);
    store_batch_put_seq(b, DB_EVENTS, HEAD, strlen(HEAD), tail, (size_t)n);
}

static store_batch *events_batch(store *s, const char *a, const char *b) {
    store_batch *batch = store_batch_new(s);
    if (a) put_event(batch, a);
    if (b) put_event(batch, b);
    return batch;
}

static void add_big(store_batch *b, const char *key) {
    static char value[BIG_VALUE];
    memset(value, 'x', sizeof value);
    store_batch_put(b, DB_ORDERS, key, strlen(key), value, sizeof value);
}

/* The committed feed, as "N:name N:name ...", checking every key is the
 * seq its value names. */
static void feed_text(store *s, char *out, size_t outlen) {
    store_read *rd;
    store_iter *it;
    assert_int_equal(store_read_begin(s, &rd), 0);
    assert_int_equal(store_iter_open(rd, DB_EVENTS, NULL, 0, NULL, 0, 0, &it), 0);
    const void *k, *v;
    size_t klen, vlen, used = 0;
    out[0] = '\0';
    while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
        assert_int_equal(klen, 8);
        unsigned long long seq;
        char name[32];
        char text[128];
        assert_true(vlen < sizeof text);
        memcpy(text, v, vlen);
        text[vlen] = '\0';
        assert_int_equal(sscanf(text, "{\"seq\":%llu,\"n\":\"%31[^\"]\"}", &seq, name), 2);
        assert_int_equal(seq, key_get_u64(k));
        used += (size_t)snprintf(out + used, outlen - used, "%s%llu:%s", used ? " " : "", seq, name);
        assert_true(used < outlen);
    }
    store_iter_close(it);
    store_read_end(rd);
}

static void assert_feed(store *s, const char *want) {
    char got[1024];
    feed_text(s, got, sizeof got);
    assert_string_equal(got, want);
}

typedef struct {
    store *s;
    uint64_t seen; /* store_seq_durable inside the callback */
    int status, runs;
} seq_result;

static void on_seq_result(int status, void *ud) {
    seq_result *r = ud;
    r->status = status;
    r->seen = store_seq_durable(r->s, DB_EVENTS);
    r->runs++;
}

static void numbered_in_commit_order_from_one(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    assert_int_equal(store_seq_durable(f.s, DB_EVENTS), 0);
    seq_result r1 = {f.s, 0, 1, 0}, r2 = {f.s, 0, 1, 0}, r3 = {f.s, 0, 1, 0};
    store_submit(events_batch(f.s, "a", "b"), on_seq_result, &r1);
    store_submit(events_batch(f.s, "c", NULL), on_seq_result, &r2);
    store_submit(events_batch(f.s, NULL, NULL), on_seq_result, &r3); /* a barrier */
    run_until(&f.loop, &r3.runs);
    assert_int_equal(r1.status, 0);
    assert_int_equal(r2.status, 0);
    assert_int_equal(r1.seen, 2); /* known before the batch's callback runs */
    assert_int_equal(r2.seen, 3);
    assert_int_equal(r3.seen, 3);
    assert_feed(f.s, "1:a 2:b 3:c");
    fixture_down(&f);
}

/* A pending record has no key yet: the overlay does not hold it. */
static void pending_records_are_invisible_until_committed(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    store_batch *b = events_batch(f.s, "a", NULL);
    store_key k;
    key_init(&k);
    key_u64(&k, 1);
    char *v;
    size_t n;
    assert_int_equal(store_batch_get_latest(b, DB_EVENTS, k.buf, k.len, &v, &n), STORE_ENOTFOUND);
    commit_result r = {1, 0};
    store_submit(b, on_result, &r);
    assert_int_equal(store_get_latest(f.s, DB_EVENTS, k.buf, k.len, &v, &n), STORE_ENOTFOUND);
    run_until(&f.loop, &r.runs);
    assert_int_equal(r.status, 0);
    v = read_committed(f.s, DB_EVENTS, k.buf, k.len);
    assert_string_equal(v, "{\"seq\":1,\"n\":\"a\"}");
    free(v);
    fixture_down(&f);
}

/* Map full past map_max: the failed batch and the one built before the loop
 * knew both fail; their numbers go to the next batches that commit. */
static void a_failed_commit_hands_its_numbers_back(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, SMALL_MAP, SMALL_MAP);
    assert_int_equal(commit_wait(&f, events_batch(f.s, "a", "b")), 0);
    for (int i = 0; i < 3; i++) {
        store_batch *big = events_batch(f.s, "lost1", "lost2");
        add_big(big, "huge");
        seq_result r1 = {f.s, 0, 1, 0}, r2 = {f.s, 0, 1, 0};
        store_submit(big, on_seq_result, &r1);
        store_submit(events_batch(f.s, "lost3", NULL), on_seq_result, &r2);
        run_until(&f.loop, &r2.runs);
        assert_int_equal(r1.status, STORE_EFULL);
        assert_int_equal(r2.status, STORE_EFULL);
        assert_int_equal(r2.seen, 2);
    }
    assert_int_equal(commit_wait(&f, events_batch(f.s, "c", NULL)), 0);
    assert_int_equal(store_seq_durable(f.s, DB_EVENTS), 3);
    assert_feed(f.s, "1:a 2:b 3:c");
    fixture_down(&f);
}

/* In one group: a batch that fails alone (its builder gave up) sits between
 * two that commit; the numbers run on across it. */
static void a_batch_that_fails_alone_takes_no_number(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    commit_result r1 = {1, 0}, r2 = {1, 0}, r3 = {1, 0};
    store_submit(events_batch(f.s, "a", NULL), on_result, &r1);
    store_batch *bad = events_batch(f.s, "lost", NULL);
    store_batch_fail(bad, STORE_ENOMEM);
    put_event(bad, "lost2"); /* a no-op after the failure */
    store_submit(bad, on_result, &r2);
    store_submit(events_batch(f.s, "b", "c"), on_result, &r3);
    run_until(&f.loop, &r3.runs);
    assert_int_equal(r1.status, 0);
    assert_int_equal(r2.status, STORE_ENOMEM);
    assert_int_equal(r3.status, 0);
    assert_feed(f.s, "1:a 2:b 3:c");
    fixture_down(&f);
}

/* A group whose first attempt fills the map is retried after the map grows:
 * the retry gives the same numbers, once. */
static void a_retried_transaction_numbers_the_same(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, SMALL_MAP, (size_t)64 << 20);
    commit_result rs[3];
    static const char *const names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        store_batch *b = events_batch(f.s, names[i], NULL);
        char key[8];
        snprintf(key, sizeof key, "big%d", i);
        add_big(b, key);
        rs[i] = (commit_result){1, 0};
        store_submit(b, on_result, &rs[i]);
    }
    run_until(&f.loop, &rs[2].runs);
    for (int i = 0; i < 3; i++) assert_int_equal(rs[i].status, 0);
    store_stats st;
    store_get_stats(f.s, &st);
    assert_true(st.map_size > SMALL_MAP); /* it did grow */
    assert_feed(f.s, "1:a 2:b 3:c");
    assert_int_equal(store_seq_durable(f.s, DB_EVENTS), 3);
    fixture_down(&f);
}

static void a_reopened_store_counts_on(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    assert_int_equal(commit_wait(&f, events_batch(f.s, "a", "b")), 0);
    fixture_close_store(&f);
    assert_int_equal(fixture_open_sized(&f, 0, 0), 0);
    assert_int_equal(store_seq_durable(f.s, DB_EVENTS), 2); /* from the committed last key */
    assert_int_equal(commit_wait(&f, events_batch(f.s, "c", NULL)), 0);
    assert_int_equal(store_seq_durable(f.s, DB_EVENTS), 3);
    assert_feed(f.s, "1:a 2:b 3:c");
    fixture_down(&f);
}

/* A db holding a key that is not a seq cannot take sequenced puts. */
static void a_db_with_other_keys_refuses_sequenced_puts(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    assert_int_equal(put_wait(&f, DB_EVENTS, "not-a-seq", "x"), 0);
    assert_int_equal(commit_wait(&f, events_batch(f.s, "a", NULL)), STORE_EIO);
    fixture_down(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbered_in_commit_order_from_one),
        cmocka_unit_test(pending_records_are_invisible_until_committed),
        cmocka_unit_test(a_failed_commit_hands_its_numbers_back),
        cmocka_unit_test(a_batch_that_fails_alone_takes_no_number),
        cmocka_unit_test(a_retried_transaction_numbers_the_same),
        cmocka_unit_test(a_reopened_store_counts_on),
        cmocka_unit_test(a_db_with_other_keys_refuses_sequenced_puts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
