/* Budgets: a runaway loop or a memory hog fails its own call only, even when
 * the script tries to swallow the error with pcall, and the set keeps
 * answering the next call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

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
    "function M.handler_loops() return xpcall(error, function() while true do end end) end\n"
    "function M.handler_loops_after_budget()\n"
    "  return xpcall(function() while true do end end, function() while true do end end)\n"
    "end\n"
    "function M.error_tostring_loops()\n"
    "  error(setmetatable({}, {__tostring = function() while true do end end}))\n"
    "end\n"
    "function M.close_loops()\n"
    "  local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
    "  while true do end\n"
    "end\n"
    "function M.empty_rep() return #string.rep('', math.maxinteger, '') end\n"
    "local long = setmetatable({}, {__len = function() return 1 << 62 end})\n"
    "function M.insert() table.insert(long, 1, 'x') end\n"
    "function M.remove() table.remove(long, 1) end\n"
    "function M.move() table.move({}, 1, 1 << 62, 2) end\n"
    "function M.sort()\n"
    "  table.sort(setmetatable({}, {__len = function() return (1 << 31) - 2 end}), tonumber)\n"
    "end\n"
    "function M.table_ops()\n"
    "  local t = {5, 1, 4}\n"
    "  table.insert(t, 2, 9); table.insert(t, 7); table.sort(t)\n"
    "  local r = table.remove(t, 1)\n"
    "  local m = table.move(t, 1, 2, 3, {})\n"
    "  table.sort(t, function(a, b) return a > b end)\n"
    "  return {t, r, m}\n"
    "end\n"
    "function M.compare_long()\n"
    "  local a, b = string.rep('x', 1 << 20) .. 'a', string.rep('x', 1 << 20) .. 'b'\n"
    "  local n = 0\n"
    "  for i = 1, 1e9 do if a == b then n = n + 1 end end\n"
    "end\n"
    "function M.churn(ctx)\n"
    "  for i = 1, 1e9 do\n"
    "    if i % 100 == 0 then ctx.log(i) end\n"
    "    local s = string.rep('x', 4096)\n"
    "  end\n"
    "end\n"
    "function M.scan_long()\n"
    "  local s = string.rep('x', 2 << 20)\n"
    "  for i = 1, 1e9 do utf8.len(s) end\n"
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

/* Milliseconds of this thread's CPU time since t0 (taken on the same
 * clock): what the limits count, whatever else runs on the machine. */
static uint64_t ms_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    return (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Lua calls a message handler before unwinding, and for the budget's own
 * error that is inside the count hook, with hooks off: a handler that loops
 * there looped for ever (100% CPU, the loop thread gone). */
static void message_handlers_cannot_outlive_the_budget(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    struct timespec t0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    expect_budget_error(d, "handler_loops");
    expect_budget_error(d, "handler_loops_after_budget");
    expect_budget_error(d, "error_tostring_loops"); /* the host's own handler asks __tostring */
    expect_budget_error(d, "close_loops");
    assert_true(ms_since(&t0) < 2000);
    assert_still_usable(d);
}

/* The same at a module's top level wedged every later reload. */
static void message_handler_at_load_cannot_outlive_the_budget(void **state) {
    pdir *d = *state;
    pdir_write(d, "wedge.lua", "xpcall(error, function() while true do end end)\nreturn {}\n");
    struct timespec t0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    assert_int_equal(pdir_load(d), -1);
    assert_true(strncmp(d->err, "instruction budget exceeded", 27) == 0);
    assert_true(ms_since(&t0) < 2000);
}

/* C functions whose loops no instruction and no allocation sees charge
 * their work, and still do their job. */
static void c_functions_charge_their_loops(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "hog", "empty_rep", NULL, &r), 0);
    assert_int_equal(json_integer_value(r), 0);
    json_decref(r);
    const char *fns[] = {"insert", "remove", "move", "sort"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pdir_call0(d, NULL, "hog", fns[i], NULL, &r), -1);
        char want[64];
        snprintf(want, sizeof want, "instruction budget exceeded in table.%s", fns[i]);
        if (strstr(d->err, want) == NULL) fail_msg("%s: %s", fns[i], d->err);
    }
    assert_int_equal(pdir_call0(d, NULL, "hog", "table_ops", NULL, &r), 0);
    char *s = json_dumps(r, JSON_COMPACT);
    assert_string_equal(s, "[[9,7,5,4],1,{\"3\":4,\"4\":5}]");
    free(s);
    json_decref(r);
    assert_still_usable(d);
}

/* Comparing two 1 MiB strings is one instruction: no charge sees it, the
 * time limit does. */
static void time_limit_stops_work_no_charge_sees(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = NULL;
    struct timespec t0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    assert_int_equal(pdir_call0(d, NULL, "hog", "compare_long", NULL, &r), -1);
    assert_non_null(strstr(d->err, "time limit exceeded (100 ms)"));
    assert_true(ms_since(&t0) < 1000);
    assert_still_usable(d);
}

/* Allocating is work: 4 KiB strings made and dropped in a loop spend the
 * budget (8 bytes a unit, 512 a string) in under 2000 turns, where the
 * instructions alone would allow 100,000. */
static void allocating_spends_the_budget(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *log = json_array(), *r = NULL;
    policy_ctx ctx = {.now = 0, .log = log};
    assert_int_equal(pdir_call0(d, NULL, "hog", "churn", &ctx, &r), -1);
    /* where fresh memory is slow (page faults under a sanitizer's allocator)
     * the time limit may come first: the turns are what the charge bounds */
    assert_true(strncmp(d->err, "instruction budget exceeded", 27) == 0 ||
                strncmp(d->err, "time limit exceeded", 19) == 0);
    size_t n = json_array_size(log);
    assert_true(n > 0);
    const char *last = json_string_value(json_array_get(log, n - 1));
    if (atoi(last) > 2000) fail_msg("%s turns before the budget was spent", last);
    json_decref(log);
}

/* One instruction can scan a whole object (utf8.len of 2 MiB here): while
 * the state holds big objects the hook fires more often, so the time limit
 * is not overshot by a thousand such instructions. */
static void big_objects_shorten_the_hook_period(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = NULL;
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        assert_int_equal(pdir_call0(d, NULL, "hog", "scan_long", NULL, &r), -1);
        assert_non_null(strstr(d->err, "time limit exceeded (100 ms)"));
        uint64_t ms = ms_since(&t0);
        if (ms < best) best = ms;
    }
    if (best > 150) fail_msg("the call took %llu ms of CPU past a limit of 100 ms", (unsigned long long)best);
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
    alarm(300); /* a budget that does not hold fails the test instead of hanging it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(infinite_loop_hits_the_instruction_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(pcall_cannot_swallow_the_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(budget_is_per_call_and_configurable, setup, teardown),
        cmocka_unit_test_setup_teardown(huge_table_hits_the_memory_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_error_caught_by_the_script_is_its_business, setup, teardown),
        cmocka_unit_test_setup_teardown(runaway_top_level_fails_the_load, setup, teardown),
        cmocka_unit_test_setup_teardown(load_counts_against_the_memory_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(message_handlers_cannot_outlive_the_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(message_handler_at_load_cannot_outlive_the_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(c_functions_charge_their_loops, setup, teardown),
        cmocka_unit_test_setup_teardown(time_limit_stops_work_no_charge_sees, setup, teardown),
        cmocka_unit_test_setup_teardown(allocating_spends_the_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(big_objects_shorten_the_hook_period, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
