/* time/clock: a manual clock moves only forward and only when told; a real
 * clock follows the system time and refuses to be moved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "time/clock.h"

static void manual_clock_starts_where_told_and_stays(void **state) {
    (void)state;
    as_clock c;
    clock_init_manual(&c, 1773392400);
    assert_int_equal(clock_now(&c), 1773392400);
    assert_int_equal(clock_now(&c), 1773392400);
}

static void manual_clock_advances_by_the_step(void **state) {
    (void)state;
    as_clock c;
    clock_init_manual(&c, 1000);
    assert_int_equal(clock_advance(&c, 7200), 0);
    assert_int_equal(clock_now(&c), 8200);
    assert_int_equal(clock_advance(&c, 0), 0);
    assert_int_equal(clock_now(&c), 8200);
}

static void manual_clock_refuses_a_negative_advance(void **state) {
    (void)state;
    as_clock c;
    clock_init_manual(&c, 1000);
    assert_int_equal(clock_advance(&c, -1), -1);
    assert_int_equal(clock_now(&c), 1000);
}

static void manual_clock_refuses_an_advance_that_overflows(void **state) {
    (void)state;
    as_clock c;
    clock_init_manual(&c, INT64_MAX - 10);
    assert_int_equal(clock_advance(&c, 11), -1);
    assert_true(clock_now(&c) == INT64_MAX - 10);
    assert_int_equal(clock_advance(&c, 10), 0);
    assert_true(clock_now(&c) == INT64_MAX);
}

static void manual_clock_set_anywhere_from_1970(void **state) {
    (void)state;
    as_clock c;
    clock_init_manual(&c, 1000);
    assert_int_equal(clock_set(&c, 5000), 0);
    assert_int_equal(clock_now(&c), 5000);
    assert_int_equal(clock_set(&c, 5000), 0);
    assert_int_equal(clock_set(&c, 4999), 0);
    assert_int_equal(clock_now(&c), 4999);
    assert_int_equal(clock_set(&c, -1), -1);
    assert_int_equal(clock_now(&c), 4999);
}

static void real_clock_follows_system_time(void **state) {
    (void)state;
    as_clock c;
    clock_init_real(&c);
    int64_t before = (int64_t)time(NULL);
    int64_t now = clock_now(&c);
    int64_t after = (int64_t)time(NULL);
    assert_true(before <= now && now <= after);
}

static void real_clock_refuses_advance_and_set(void **state) {
    (void)state;
    as_clock c;
    clock_init_real(&c);
    assert_int_equal(clock_advance(&c, 60), -1);
    assert_int_equal(clock_set(&c, (int64_t)time(NULL) + 3600), -1);
    assert_true(clock_now(&c) < (int64_t)time(NULL) + 60);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manual_clock_starts_where_told_and_stays),
        cmocka_unit_test(manual_clock_advances_by_the_step),
        cmocka_unit_test(manual_clock_refuses_a_negative_advance),
        cmocka_unit_test(manual_clock_refuses_an_advance_that_overflows),
        cmocka_unit_test(manual_clock_set_anywhere_from_1970),
        cmocka_unit_test(real_clock_follows_system_time),
        cmocka_unit_test(real_clock_refuses_advance_and_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
