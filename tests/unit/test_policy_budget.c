/* Budgets: a runaway loop or a memory hog fails its own call only, even when
 * the script tries to swallow the error with pcall, and the set keeps
 * answering the next call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_policy_util.h"

static const char HOG[] =
    "local M = {}\n"
    "function M.spin() while true do end end\n"
    "function M.spin_in_pcall()\n"
    "  while true do pcall(function() while true do end end) end\n"
    "end\n"
    "function M.spin_in_xpcall()\n"
    "  for i = 1, 1e9 do xpcall(function() while true do end end, function(e) return e end) end\n"
    "  return 'escaped'\n"
    "end\n"
    "function M.swallow_once()\n"
    "  pcall(function() while true do end end)\n"
    "  return 'escaped'\n"
    "end\n"
    "function M.hog()\n"
    "  local t = {}\n"
    "  for i = 1, 1e8 do t[i] = {i, i, i, i} end\n"
    "  return #t\n"
    "end\n"
    "function M.big_string() return #string.rep('x', 1 << 30) end\n"
    "function M.hog_in_pcall()\n"
    "  local ok, e = pcall(function() return string.rep('x', 1 << 30) end)\n"
    "  return {ok = ok, e = tostring(e)}\n"
    "end\n"
    "function M.fine(x) return {ok = true, n = 40 + 2} end\n"
    "function M.work(n) local s = 0 for i = 1, n do s = s + i end return s end\n"
    "return M\n";

static int setup(void **state) {
    pdir *d = malloc(sizeof *d);
    assert_non_null(d);
    pdir_up(d);
    pdir_write(d, "hog.lua", HOG);
    *state = d;
    return 0;
}

static int teardown(void **state) {
    pdir_down(*state);
    free(*state);
    return 0;
}

/* hog.fine still answers after whatever came before. */
static void assert_still_usable(pdir *d) {
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "hog", "fine", NULL, &r), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "n")), 42);
    json_decref(r);
}

static void expect_budget_error(pdir *d, const char *fn) {
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "hog", fn, NULL, &r), -1);
    assert_null(r);
    assert_true(strncmp(d->err, "instruction budget exceeded", 27) == 0);
}

static void infinite_loop_hits_the_instruction_budget(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    expect_budget_error(d, "spin");
    assert_still_usable(d);
}

static void pcall_cannot_swallow_the_budget(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    expect_budget_error(d, "spin_in_pcall");
    expect_budget_error(d, "spin_in_xpcall");
    expect_budget_error(d, "swallow_once");
    assert_still_usable(d);
}

static void budget_is_per_call_and_configurable(void **state) {
    pdir *d = *state;
    assert_int_equal(pdir_load_cfg(d, 100000, 0, NULL), 0);
    json_t *n = json_integer(1000), *r = NULL;
    policy_ctx ctx = {.now = 0};
    /* ~4 instructions per iteration: 1000 fit, many times over */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(policy_call(d->ps, NULL, "hog", "work", &n, 1, &ctx, &r, d->err,
                                     sizeof d->err), 0);
        assert_int_equal(json_integer_value(r), 500500);
        json_decref(r);
    }
    json_decref(n);
    n = json_integer(1000000);
    assert_int_equal(policy_call(d->ps, NULL, "hog", "work", &n, 1, &ctx, &r, d->err,
                                 sizeof d->err), -1);
    assert_true(strncmp(d->err, "instruction budget exceeded", 27) == 0);
    json_decref(n);
}

static void huge_table_hits_the_memory_cap(void **state) {
    pdir *d = *state;
    assert_int_equal(pdir_load_cfg(d, UINT64_MAX / 64, 4u << 20, NULL), 0);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "hog", "hog", NULL, &r), -1);
    assert_string_equal(d->err, "memory cap exceeded");
    assert_still_usable(d);
    assert_int_equal(pdir_call0(d, NULL, "hog", "big_string", NULL, &r), -1);
    assert_string_equal(d->err, "memory cap exceeded");
    assert_still_usable(d);
}

static void memory_error_caught_by_the_script_is_its_business(void **state) {
    pdir *d = *state;
    assert_int_equal(pdir_load_cfg(d, 0, 4u << 20, NULL), 0);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "hog", "hog_in_pcall", NULL, &r), 0);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "e")), "not enough memory"));
    json_decref(r);
    assert_still_usable(d);
}

static void runaway_top_level_fails_the_load(void **state) {
    pdir *d = *state;
    pdir_write(d, "loop.lua", "while true do end\nreturn {}\n");
    assert_int_equal(pdir_load(d), -1);
    assert_true(strncmp(d->err, "instruction budget exceeded", 27) == 0);
}

static void load_counts_against_the_memory_cap(void **state) {
    pdir *d = *state;
    pdir_write(d, "fat.lua", "local t = {} for i = 1, 1e6 do t[i] = i end return {t = t}\n");
    assert_int_equal(pdir_load_cfg(d, UINT64_MAX / 64, 1u << 20, NULL), -1);
    assert_string_equal(d->err, "memory cap exceeded");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(infinite_loop_hits_the_instruction_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(pcall_cannot_swallow_the_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(budget_is_per_call_and_configurable, setup, teardown),
        cmocka_unit_test_setup_teardown(huge_table_hits_the_memory_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_error_caught_by_the_script_is_its_business, setup, teardown),
        cmocka_unit_test_setup_teardown(runaway_top_level_fails_the_load, setup, teardown),
        cmocka_unit_test_setup_teardown(load_counts_against_the_memory_cap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
