/* policy_run_tests: the harness a policy set's own tests run in, its output
 * lines and its verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_policy_util.h"

static const char RETURNS[] =
    "local M = {}\n"
    "function M.evaluate(case, order, ctx)\n"
    "  ctx.log('evaluating')\n"
    "  if ctx.days_since(order.delivered_at) <= 7 then\n"
    "    return {outcome = 'approve', returns = ctx.customer(case.buyer_id).returns_30d}\n"
    "  end\n"
    "  return {outcome = 'reject'}\n"
    "end\n"
    "return M\n";

static const char M1_RETURNS[] =
    "return {evaluate = function(case, order, ctx) return {outcome = 'reject', by = 'm1'} end}\n";

static const char FLOOR[] =
    "return {returns_evaluate = function(result, case, order, ctx)\n"
    "  local d = require('returns').evaluate(case, order, ctx)\n"
    "  if d.outcome == 'approve' then return {outcome = 'approve', by = 'floor'} end\n"
    "  return result\n"
    "end}\n";

static const char PASSING[] =
    "local NOW = 1767225600\n"
    "local function order(days) return {delivered_at = NOW - days * DAY} end\n"
    "test('no-reason return inside 7 days is approved', function()\n"
    "  local x = make_ctx{now = NOW, customers = {b = {returns_30d = 3}}}\n"
    "  eq(policy.returns.evaluate({buyer_id = 'b'}, order(7), x), {outcome = 'approve', returns = 3})\n"
    "  eq(ctx_logs(x), {'evaluating'})\n"
    "end)\n"
    "test('unknown buyers have no history', function()\n"
    "  eq(policy.returns.evaluate({buyer_id = 'z'}, order(1), make_ctx{}).returns, 0)\n"
    "end)\n"
    "test('merchant override then floor', function()\n"
    "  local m1 = policy.merchant('m1').returns\n"
    "  eq(m1.evaluate({buyer_id = 'z'}, order(1), make_ctx{}), {outcome = 'approve', by = 'floor'})\n"
    "  eq(m1.evaluate({buyer_id = 'z'}, order(8), make_ctx{}).by, 'm1')\n"
    "  eq(policy.merchant('nobody').returns.evaluate({buyer_id = 'z'}, order(8), make_ctx{}).outcome, 'reject')\n"
    "end)\n"
    "test('business time follows the calendar', function()\n"
    "  local x = make_ctx{now = NOW}\n"
    "  eq(x.business_seconds(NOW, NOW + 4 * DAY), 2 * DAY)\n"
    "  eq(x.add_business_seconds(NOW, 3 * DAY), NOW + 5 * DAY)\n"
    "  ok(x.now == NOW and HOUR == 3600)\n"
    "end)\n"
    "helper_global = 1\n"
    "test('globals are writable in a test file', function() helper_global = 2 ok(helper_global == 2) end)\n";

static const char FAILING[] =
    "test('a wrong expectation', function() eq({a = 1, b = {2}}, {a = 1, b = {3}}, 'deep') end)\n"
    "test('a falsy value', function() ok(false, 'should be true') end)\n"
    "test('a runaway test', function() while true do end end)\n"
    "test('still runs after the others', function() ok(true) end)\n";

static int setup(void **state) {
    pdir *d = malloc(sizeof *d);
    assert_non_null(d);
    pdir_up(d);
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "merchants/m1/returns.lua", M1_RETURNS);
    pdir_write(d, "floor.lua", FLOOR);
    *state = d;
    return 0;
}

static int teardown(void **state) {
    pdir_down(*state);
    free(*state);
    return 0;
}

typedef struct {
    char *text;
    size_t len;
    int rc, passed, failed;
} run_out;

static run_out run_budget(pdir *d, const json_t *sources, uint64_t budget) {
    run_out o = {0};
    FILE *f = open_memstream(&o.text, &o.len);
    assert_non_null(f);
    policy_config cfg = {.dir = d->dir, .sources = sources, .instr_budget = budget};
    o.rc = policy_run_tests(&cfg, f, &o.passed, &o.failed, d->err, sizeof d->err);
    fclose(f);
    return o;
}

static run_out run(pdir *d, const json_t *sources) {
    return run_budget(d, sources, 0);
}

static void passing_tests_pass(void **state) {
    pdir *d = *state;
    pdir_write(d, "tests/returns_test.lua", PASSING);
    run_out o = run(d, NULL);
    if (o.rc != 0) fprintf(stderr, "%s", o.text);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.passed, 5);
    assert_int_equal(o.failed, 0);
    assert_non_null(strstr(o.text, "ok - tests/returns_test.lua: no-reason return inside 7 days is approved\n"));
    assert_true(o.len >= 20 && strcmp(o.text + o.len - 20, "\n5 passed, 0 failed\n") == 0);
    free(o.text);
}

static void failures_are_counted_and_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "tests/a_test.lua", PASSING);
    pdir_write(d, "tests/b_test.lua", FAILING);
    run_out o = run(d, NULL);
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.passed, 6);
    assert_int_equal(o.failed, 3);
    assert_non_null(strstr(o.text, "not ok - tests/b_test.lua: a wrong expectation: tests/b_test.lua:1: "
                                   "deep: expected {a = 1, b = {3}} got {a = 1, b = {2}}\n"));
    assert_non_null(strstr(o.text, "not ok - tests/b_test.lua: a falsy value: tests/b_test.lua:2: should be true\n"));
    assert_non_null(strstr(o.text, "not ok - tests/b_test.lua: a runaway test: instruction budget exceeded\n"));
    assert_non_null(strstr(o.text, "ok - tests/b_test.lua: still runs after the others\n"));
    assert_true(strcmp(o.text + o.len - 20, "\n6 passed, 3 failed\n") == 0);
    /* files run in name order */
    assert_true(strstr(o.text, "a_test.lua") < strstr(o.text, "b_test.lua"));
    free(o.text);
}

/* policy.merchant(id) resolves like the server: an override that raises
 * gives the floor nil, and its error goes to the call's logs. */
static void a_raising_override_reaches_the_floor_in_tests_too(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/m2/returns.lua", "return {evaluate = function() error('m2 broke') end}\n");
    pdir_write(d, "tests/m2_test.lua",
               "test('the floor answers for a broken override', function()\n"
               "  local x = make_ctx{now = 1767225600}\n"
               "  local r = policy.merchant('m2').returns.evaluate({buyer_id = 'z'},\n"
               "                                                  {delivered_at = 1767225600 - DAY}, x)\n"
               "  eq(r, {outcome = 'approve', by = 'floor'})\n"
               "  local logs = ctx_logs(x)\n"
               "  ok(logs[1]:find('merchant returns.evaluate failed, the floor answered: ', 1, true), logs[1])\n"
               "  ok(logs[1]:find('m2 broke', 1, true), logs[1])\n"
               "  eq(logs[2], 'evaluating') -- then the floor asked the default\n"
               "end)\n");
    run_out o = run(d, NULL);
    if (o.rc != 0) fprintf(stderr, "%s", o.text);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.passed, 1);
    free(o.text);
}

static void broken_test_file_is_a_failure(void **state) {
    pdir *d = *state;
    pdir_write(d, "tests/broken_test.lua", "test('x', function() end)\nlocal = 1\n");
    run_out o = run(d, NULL);
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.failed, 1);
    assert_non_null(strstr(o.text, "not ok - tests/broken_test.lua: tests/broken_test.lua:2:"));
    free(o.text);
}

static void set_that_does_not_load_fails(void **state) {
    pdir *d = *state;
    pdir_write(d, "routing.lua", "return 1 +\n");
    run_out o = run(d, NULL);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.text, "not ok - load: routing.lua:"));
    assert_non_null(strstr(d->err, "routing.lua:"));
    free(o.text);
}

static void no_tests_is_not_a_failure(void **state) {
    pdir *d = *state;
    run_out o = run(d, NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.text, "0 passed, 0 failed\n");
    free(o.text);
}

static void sources_add_tests_and_candidate_files(void **state) {
    pdir *d = *state;
    json_t *src = json_pack("{s:s,s:s}", "returns.lua",
                            "return {evaluate = function() return {outcome = 'review'} end}",
                            "tests/candidate_test.lua",
                            "test('candidate reviews', function()\n"
                            "  eq(policy.returns.evaluate({}, {}, make_ctx{}).outcome, 'review') end)\n");
    run_out o = run(d, src);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.passed, 1);
    json_decref(src);
    free(o.text);
}

static uint64_t ms_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* A reload runs the candidate's tests first: a test file or a test that
 * wedged the harness (a looping message handler) held the reload worker for
 * ever, and every later load answered 503. Now each fails alone, quickly. */
static void a_wedging_test_fails_alone(void **state) {
    pdir *d = *state;
    pdir_write(d, "tests/a_test.lua", "xpcall(error, function() while true do end end)\n");
    pdir_write(d, "tests/b_test.lua",
               "test('a handler that loops', function() xpcall(error, function() while true do end end) end)\n"
               "test('then the next test runs', function() ok(true) end)\n");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_out o = run(d, NULL);
    assert_true(ms_since(&t0) < 5000);
    assert_int_equal(o.rc, -1);
    assert_non_null(strstr(o.text, "not ok - tests/a_test.lua: instruction budget exceeded"));
    assert_non_null(strstr(o.text, "not ok - tests/b_test.lua: a handler that loops: instruction budget exceeded"));
    assert_non_null(strstr(o.text, "ok - tests/b_test.lua: then the next test runs\n"));
    free(o.text);
}

/* A test file may declare tests in a loop: a run stops after 2000 tests. */
static void a_run_stops_after_too_many_tests(void **state) {
    pdir *d = *state;
    pdir_write(d, "tests/many_test.lua", "for i = 1, 100000 do test('t' .. i, function() end) end\n");
    run_out o = run(d, NULL);
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.passed, 2000);
    assert_non_null(strstr(o.text, "not ok - tests: too many tests: a run stops after 2000\n"));
    free(o.text);
}

/* Each test gets 50 call budgets, and the whole run 200: a set whose tests
 * all spin stops after four of them. */
static void a_run_has_one_budget_for_all_its_tests(void **state) {
    pdir *d = *state;
    pdir_write(d, "tests/spin_test.lua",
               "for i = 1, 10 do test('spin ' .. i, function() while true do end end) end\n");
    run_out o = run_budget(d, NULL, 100000);
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.failed, 5); /* four tests and the run */
    assert_non_null(strstr(o.text, "not ok - tests/spin_test.lua: spin 4: instruction budget exceeded"));
    assert_null(strstr(o.text, "spin 5"));
    assert_non_null(strstr(o.text, "not ok - tests: the test run's budget is spent"));
    free(o.text);
}

/* The harness is as strict as the server: make_ctx's fields are out of
 * reach, ctx.log has the server's limits, and the floor judges copies of
 * the inputs and of the override's answer. */
static void the_harness_holds_to_the_server_rules(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/m3/returns.lua",
               "return {evaluate = function(case, order, ctx)\n"
               "  order.delivered_at = 0 -- the floor must not see this\n"
               "  return setmetatable({}, {__index = function() return 'approve' end})\n"
               "end}\n");
    pdir_write(d, "tests/h_test.lua",
               "test('ctx fields', function()\n"
               "  local x = make_ctx{}\n"
               "  local iter, st = pairs(x)\n"
               "  ok(st == nil)\n"
               "  ok(not pcall(function() x.customer = nil end))\n"
               "  local n = 0 for k in pairs(x) do n = n + 1 end\n"
               "  eq(n, 6) -- no merchant_id\n"
               "end)\n"
               "test('ctx.log limits', function()\n"
               "  local x = make_ctx{}\n"
               "  for i = 1, 200 do x.log(string.rep('y', 2000)) end\n"
               "  local l = ctx_logs(x)\n"
               "  eq(#l, 17)\n"
               "  ok(l[1]:find('[ctx.log: cut, 1024 of 2000 bytes kept]', 1, true), l[1])\n"
               "  ok(l[17]:find('184 more lines', 1, true), l[17])\n"
               "end)\n"
               "test('the floor gets copies', function()\n"
               "  local x = make_ctx{now = 1767225600}\n"
               "  local r = policy.merchant('m3').returns.evaluate({buyer_id = 'z'},\n"
               "                                                  {delivered_at = 1767225600 - DAY}, x)\n"
               "  eq(r, {outcome = 'approve', by = 'floor'})\n"
               "end)\n"
               "test('modules are read-only', function()\n"
               "  ok(not pcall(function() policy.returns.evaluate = nil end))\n"
               "  ok(type(policy.returns.evaluate) == 'function')\n"
               "end)\n");
    run_out o = run(d, NULL);
    if (o.rc != 0) fprintf(stderr, "%s", o.text);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.passed, 4);
    free(o.text);
}

int main(void) {
    alarm(300); /* a budget that does not hold fails the test instead of hanging it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_wedging_test_fails_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(a_run_stops_after_too_many_tests, setup, teardown),
        cmocka_unit_test_setup_teardown(a_run_has_one_budget_for_all_its_tests, setup, teardown),
        cmocka_unit_test_setup_teardown(the_harness_holds_to_the_server_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(passing_tests_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(failures_are_counted_and_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_raising_override_reaches_the_floor_in_tests_too, setup, teardown),
        cmocka_unit_test_setup_teardown(broken_test_file_is_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(set_that_does_not_load_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(no_tests_is_not_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(sources_add_tests_and_candidate_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
