/* store: a full map grows (x2 up to map_max) and retries; past map_max the
 * batches fail with STORE_EFULL while reads and later small writes go on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store/keys.h"
#include "test_store_util.h"

#define SMALL_MAP ((size_t)128 << 10)
#define BIG_VALUE ((size_t)1 << 20)

static store_batch *big_put(store *s, const char *key, char fill) {
    static char value[BIG_VALUE];
    memset(value, fill, sizeof value);
    store_batch *b = store_batch_new(s);
    store_batch_put(b, DB_ORDERS, key, strlen(key), value, sizeof value);
    return b;
}

static void writes_past_the_initial_map_grow_it(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, SMALL_MAP, (size_t)64 << 20);
    commit_result rs[4];
    const char *keys[4] = {"big0", "big1", "big2", "big3"};
    for (int i = 0; i < 4; i++) {
        rs[i] = (commit_result){1, 0};
        store_submit(big_put(f.s, keys[i], (char)('a' + i)), on_result, &rs[i]);
    }
    run_until(&f.loop, &rs[3].runs);
    for (int i = 0; i < 4; i++) assert_int_equal(rs[i].status, 0);
    store_stats st;
    store_get_stats(f.s, &st);
    assert_true(st.map_size >= 4 * BIG_VALUE);
    char *v = read_committed(f.s, DB_ORDERS, "big2", 4);
    assert_non_null(v);
    assert_int_equal(strlen(v), BIG_VALUE);
    assert_int_equal(v[BIG_VALUE - 1], 'c');
    free(v);
    fixture_down(&f);
}

static void reopen_with_a_smaller_map_keeps_the_file_size(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, SMALL_MAP, (size_t)64 << 20);
    assert_int_equal(commit_wait(&f, big_put(f.s, "grown", 'g')), 0);
    assert_int_equal(commit_wait(&f, big_put(f.s, "grown2", 'h')), 0);
    fixture_close_store(&f);
    char file[128];
    snprintf(file, sizeof file, "%s/data.mdb", f.dir);
    struct stat sb;
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(fixture_open_sized(&f, SMALL_MAP, (size_t)64 << 20), 0);
    store_stats st;
    store_get_stats(f.s, &st);
    assert_true(st.map_size >= (size_t)sb.st_size);
    char *v = read_committed(f.s, DB_ORDERS, "grown2", 6);
    assert_non_null(v);
    assert_int_equal(v[0], 'h');
    free(v);
    assert_int_equal(put_wait(&f, DB_META, "after", "reopen"), 0);
    fixture_down(&f);
}

static void past_map_max_fails_with_efull_and_the_store_goes_on(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, SMALL_MAP, SMALL_MAP);
    assert_int_equal(put_wait(&f, DB_ORDERS, "before", "kept"), 0);
    commit_result big = {1, 0}, same_turn = {1, 0};
    store_submit(big_put(f.s, "huge", 'x'), on_result, &big);
    store_batch *b = store_batch_new(f.s); /* built before the failure was known */
    store_batch_put(b, DB_ORDERS, "small", 5, "s", 1);
    store_submit(b, on_result, &same_turn);
    run_until(&f.loop, &same_turn.runs);
    assert_int_equal(big.status, STORE_EFULL);
    assert_int_equal(same_turn.status, STORE_EFULL);
    char *lv;
    size_t ln;
    assert_int_equal(store_get_latest(f.s, DB_ORDERS, "huge", 4, &lv, &ln), STORE_ENOTFOUND);
    assert_null(read_committed(f.s, DB_ORDERS, "huge", 4));
    char *v = read_committed(f.s, DB_ORDERS, "before", 6);
    assert_string_equal(v, "kept");
    free(v);
    assert_int_equal(put_wait(&f, DB_ORDERS, "later", "fits"), 0);
    b = store_batch_new(f.s);
    store_batch_del(b, DB_ORDERS, "before", 6);
    assert_int_equal(commit_wait(&f, b), 0);
    assert_null(read_committed(f.s, DB_ORDERS, "before", 6));
    v = read_committed(f.s, DB_ORDERS, "later", 5);
    assert_string_equal(v, "fits");
    free(v);
    store_stats st;
    store_get_stats(f.s, &st);
    assert_int_equal(st.failed_batches, 2);
    assert_int_equal(st.map_size, SMALL_MAP);
    fixture_down(&f);
}


/* The writer must remap while a read is open: it waits for the read to end
 * (mdb_env_set_mapsize under a live transaction would be undefined), and the
 * read's values stay valid meanwhile. */
static void growth_while_a_read_is_open_completes_after_it(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, SMALL_MAP, (size_t)64 << 20);
    assert_int_equal(put_wait(&f, DB_ORDERS, "o", "stable"), 0);
    store_read *rd;
    assert_int_equal(store_read_begin(f.s, &rd), 0);
    const void *v;
    size_t vlen;
    assert_int_equal(store_read_get(rd, DB_ORDERS, "o", 1, &v, &vlen), 0);
    commit_result r = {1, 0};
    store_submit(big_put(f.s, "grow", 'g'), on_result, &r);
    store_batch *b = store_batch_new(f.s);
    store_batch_put(b, DB_ORDERS, "o2", 2, "x", 1);
    commit_result r2 = {1, 0};
    store_submit(b, on_result, &r2);
    assert_memory_equal(v, "stable", vlen);
    char *nested = read_committed(f.s, DB_ORDERS, "o", 1); /* a second read at once */
    assert_string_equal(nested, "stable");
    free(nested);
    store_read_end(rd);
    run_until(&f.loop, &r2.runs);
    assert_int_equal(r.status, 0);
    assert_int_equal(r2.status, 0);
    fixture_down(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_past_the_initial_map_grow_it),
        cmocka_unit_test(reopen_with_a_smaller_map_keeps_the_file_size),
        cmocka_unit_test(past_map_max_fails_with_efull_and_the_store_goes_on),
        cmocka_unit_test(growth_while_a_read_is_open_completes_after_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
