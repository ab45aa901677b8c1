/* store/keys: encoded keys sort like their fields, and never overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/keys.h"

static int key_cmp(const store_key *a, const store_key *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->buf, b->buf, n);
    if (c != 0) return c;
    return a->len < b->len ? -1 : (a->len > b->len ? 1 : 0);
}

static void u64_byte_order_is_numeric_order(void **state) {
    (void)state;
    const uint64_t v[] = {0, 1, 255, 256, 65535, 65536, (uint64_t)1 << 40, UINT64_MAX - 1,
                          UINT64_MAX};
    for (size_t i = 0; i + 1 < sizeof v / sizeof v[0]; i++) {
        store_key a, b;
        key_init(&a);
        key_init(&b);
        key_u64(&a, v[i]);
        key_u64(&b, v[i + 1]);
        assert_int_equal(a.len, 8);
        assert_true(key_cmp(&a, &b) < 0);
        assert_true(key_get_u64(a.buf) == v[i]);
    }
    store_key k;
    key_init(&k);
    key_u64(&k, 0x0102030405060708ULL);
    const unsigned char want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(k.buf, want, 8);
}

static void string_terminator_sorts_prefix_first(void **state) {
    (void)state;
    store_key ab, abc, b;
    key_init(&ab);
    key_init(&abc);
    key_init(&b);
    key_str(&ab, "ab");
    key_str(&abc, "abc");
    key_str(&b, "b");
    assert_int_equal(ab.len, 3);
    assert_int_equal(ab.buf[2], 0);
    assert_true(key_cmp(&ab, &abc) < 0);
    assert_true(key_cmp(&abc, &b) < 0);
    /* A string field followed by a number: "ab"|9 still sorts before "abc"|0. */
    key_u64(&ab, 9);
    key_u64(&abc, 0);
    assert_true(key_cmp(&ab, &abc) < 0);
    assert_false(ab.overflow);
}

static void fields_compose_in_order(void **state) {
    (void)state;
    store_key k;
    key_init(&k);
    key_u8(&k, 'c');
    key_str(&k, "status");
    key_raw(&k, "xy", 2);
    key_u64(&k, 7);
    assert_int_equal(k.len, 1 + 7 + 2 + 8);
    assert_int_equal(k.buf[0], 'c');
    assert_memory_equal(k.buf + 1, "status\0xy", 9);
    assert_true(key_get_u64(k.buf + 10) == 7);
}

/* The key sits before a canary so a write past buf would show. */
typedef struct {
    store_key k;
    unsigned char canary[64];
} guarded_key;

static void overflow_marks_the_key_and_writes_nothing_past_it(void **state) {
    (void)state;
    guarded_key g;
    memset(g.canary, 0xAB, sizeof g.canary);
    key_init(&g.k);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    key_str(&g.k, big);
    assert_true(g.k.overflow);
    assert_true(g.k.len > STORE_KEY_MAX);
    key_u64(&g.k, 1); /* later fields are no-ops */
    key_raw(&g.k, big, 10);
    assert_true(g.k.len > STORE_KEY_MAX);
    for (size_t i = 0; i < sizeof g.canary; i++) assert_int_equal(g.canary[i], 0xAB);
}

static void exact_fit_is_not_overflow(void **state) {
    (void)state;
    guarded_key g;
    memset(g.canary, 0xCD, sizeof g.canary);
    unsigned char fill[STORE_KEY_MAX - 8];
    memset(fill, 'y', sizeof fill);
    key_init(&g.k);
    key_raw(&g.k, fill, sizeof fill);
    key_u64(&g.k, 42);
    assert_false(g.k.overflow);
    assert_int_equal(g.k.len, STORE_KEY_MAX);
    key_u8(&g.k, 1); /* one byte too many */
    assert_true(g.k.overflow);
    assert_true(g.k.len > STORE_KEY_MAX);
    for (size_t i = 0; i < sizeof g.canary; i++) assert_int_equal(g.canary[i], 0xCD);
    char s510[STORE_KEY_MAX];
    memset(s510, 'z', sizeof s510 - 1);
    s510[sizeof s510 - 1] = '\0';
    key_init(&g.k);
    key_str(&g.k, s510); /* 510 bytes + terminator = 511 */
    assert_false(g.k.overflow);
    assert_int_equal(g.k.len, STORE_KEY_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(u64_byte_order_is_numeric_order),
        cmocka_unit_test(string_terminator_sorts_prefix_first),
        cmocka_unit_test(fields_compose_in_order),
        cmocka_unit_test(overflow_marks_the_key_and_writes_nothing_past_it),
        cmocka_unit_test(exact_fit_is_not_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
