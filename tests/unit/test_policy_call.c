/* Calling policies: arguments and results, merchant overrides and the floor,
 * policy_value, policy_has, the ctx bindings and the statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <string.h>

#include <cmocka.h>

#include "test_policy_util.h"

static const char RETURNS[] =
    "local M = {}\n"
    "function M.evaluate(case, order, ctx)\n"
    "  if case.days <= 7 then return {outcome = 'approve', by = 'default'} end\n"
    "  return {outcome = 'reject', by = 'default'}\n"
    "end\n"
    "function M.window() return 7 end\n"
    "return M\n";

/* m1 rejects everything; the floor restores the default's approval. */
static const char M1_RETURNS[] =
    "local M = {}\n"
    "function M.evaluate(case, order, ctx) return {outcome = 'reject', by = 'm1', merchant = ctx.merchant_id} end\n"
    "return M\n";

static const char FLOOR[] =
    "local M = {}\n"
    "function M.returns_evaluate(result, case, order, ctx)\n"
    "  local d = require('returns').evaluate(case, order, ctx)\n"
    "  if d.outcome == 'approve' and (result == nil or result.outcome ~= 'approve') then\n"
    "    return {outcome = 'approve', by = 'floor', was = result and result.by}\n"
    "  end\n"
    "  return result\n"
    "end\n"
    "return M\n";

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

/* returns.evaluate(case{days}, order) for merchant, its ctx.log lines going
 * to logs (may be NULL); the result's fields. */
static json_t *evaluate_logged(pdir *d, const char *merchant, int days, json_t *logs) {
    json_t *args[2] = {json_pack("{s:i}", "days", days), json_null()};
    policy_ctx ctx = {.now = 1767225600, .log = logs};
    json_t *r = NULL;
    int rc = policy_call(d->ps, merchant, "returns", "evaluate", args, 2, &ctx, &r, d->err,
                         sizeof d->err);
    if (rc != 0) fprintf(stderr, "call failed: %s\n", d->err);
    assert_int_equal(rc, 0);
    json_decref(args[0]);
    json_decref(args[1]);
    return r;
}

static json_t *evaluate(pdir *d, const char *merchant, int days) {
    return evaluate_logged(d, merchant, days, NULL);
}

static void default_module_answers_without_override(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = evaluate(d, NULL, 3);
    assert_string_equal(json_string_value(json_object_get(r, "by")), "default");
    json_decref(r);
    r = evaluate(d, "m2", 30); /* no override: the default, no floor */
    assert_string_equal(json_string_value(json_object_get(r, "outcome")), "reject");
    json_decref(r);
}

static void merchant_override_wins(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = evaluate(d, "m1", 30); /* outside the window: the floor keeps m1's answer */
    assert_string_equal(json_string_value(json_object_get(r, "by")), "m1");
    assert_string_equal(json_string_value(json_object_get(r, "merchant")), "m1");
    json_decref(r);
}

static void floor_raises_an_override_result(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = evaluate(d, "m1", 3);
    assert_string_equal(json_string_value(json_object_get(r, "outcome")), "approve");
    assert_string_equal(json_string_value(json_object_get(r, "by")), "floor");
    assert_string_equal(json_string_value(json_object_get(r, "was")), "m1");
    json_decref(r);
}

/* An override that raises gives no answer: the floor answers the default's
 * and the call's logs say what failed. */
static void failing_override_gets_the_floors_answer(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/m3/returns.lua",
               "return {evaluate = function() error('m3 is broken') end}\n");
    pdir_load_ok(d);
    json_t *logs = json_array();
    json_t *r = evaluate_logged(d, "m3", 3, logs);
    assert_string_equal(json_string_value(json_object_get(r, "outcome")), "approve");
    assert_string_equal(json_string_value(json_object_get(r, "by")), "floor");
    assert_int_equal(json_array_size(logs), 1);
    const char *line = json_string_value(json_array_get(logs, 0));
    assert_non_null(strstr(line, "merchant returns.evaluate failed"));
    assert_non_null(strstr(line, "m3 is broken"));
    json_decref(r);
    json_decref(logs);
}

/* A looping or memory-hungry override spends the call's budget; the floor
 * still answers, on a budget of its own. */
static void override_that_loops_or_hogs_memory_gets_the_floor_too(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/m4/returns.lua", "return {evaluate = function() while true do end end}\n");
    pdir_write(d, "merchants/m5/returns.lua",
               "return {evaluate = function() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1 << 20) .. i end end}\n");
    pdir_load_ok(d);
    const char *merchants[] = {"m4", "m5"};
    /* allocating is charged too (8 bytes a unit): 8 MiB of it spends the
     * budget before the 32 MiB cap is reached */
    const char *why[] = {"instruction budget exceeded", "exceeded"};
    for (int i = 0; i < 2; i++) {
        json_t *logs = json_array();
        json_t *r = evaluate_logged(d, merchants[i], 3, logs);
        assert_string_equal(json_string_value(json_object_get(r, "by")), "floor");
        assert_non_null(strstr(json_string_value(json_array_get(logs, 0)), why[i]));
        json_decref(r);
        json_decref(logs);
    }
    /* and the state serves the next call as usual */
    json_t *r = evaluate(d, NULL, 3);
    assert_string_equal(json_string_value(json_object_get(r, "by")), "default");
    json_decref(r);
}

/* An override that edits its arguments cannot move the floor: the floor
 * judges by its own copies of the inputs. */
static void floor_judges_by_inputs_the_override_cannot_change(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/m6/returns.lua",
               "return {evaluate = function(case) case.days = 30 return {outcome = 'reject', by = 'm6'} end}\n");
    pdir_load_ok(d);
    json_t *r = evaluate(d, "m6", 3);
    assert_string_equal(json_string_value(json_object_get(r, "outcome")), "approve");
    assert_string_equal(json_string_value(json_object_get(r, "by")), "floor");
    json_decref(r);
}

static void override_falls_back_to_default_per_function(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, "m1", "returns", "window", NULL, &r), 0);
    assert_int_equal(json_integer_value(r), 7);
    json_decref(r);
    assert_true(policy_has(d->ps, "m1", "returns", "window"));
    assert_true(policy_has(d->ps, NULL, "returns", "evaluate"));
    assert_false(policy_has(d->ps, "m1", "returns", "nothing"));
    assert_false(policy_has(d->ps, NULL, "nomodule", "evaluate"));
}

static void unresolved_function_is_an_error(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "returns", "nothing", NULL, &r), -1);
    assert_string_equal(d->err, "no such function returns.nothing");
    assert_null(r);
}

static void nil_result_is_json_null_and_errors_carry_a_traceback(void **state) {
    pdir *d = *state;
    pdir_write(d, "x.lua", "return {none = function() end,\n"
                           "  boom = function() error('bad input') end,\n"
                           "  fn = function() return {f = print or type} end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "x", "none", NULL, &r), 0);
    assert_true(json_is_null(r));
    json_decref(r);
    assert_int_equal(pdir_call0(d, NULL, "x", "boom", NULL, &r), -1);
    assert_true(strncmp(d->err, "x.lua:2: bad input", 18) == 0);
    assert_non_null(strstr(d->err, "stack traceback:"));
    assert_int_equal(pdir_call0(d, NULL, "x", "fn", NULL, &r), -1);
    assert_non_null(strstr(d->err, "cannot convert a function"));
}

static void policy_value_reads_tables_and_calls_functions(void **state) {
    pdir *d = *state;
    pdir_write(d, "risk.lua", "return {rules = {complaints_per_sku_24h = 5},\n"
                              "  now = function(ctx) return {now = ctx.now, m = ctx.merchant_id} end}\n");
    pdir_write(d, "merchants/m1/risk.lua", "return {rules = {complaints_per_sku_24h = 9}}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    policy_ctx ctx = {.now = 1767225600};
    assert_int_equal(policy_value(d->ps, NULL, "risk", "rules", &ctx, &r, d->err, sizeof d->err), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "complaints_per_sku_24h")), 5);
    json_decref(r);
    assert_int_equal(policy_value(d->ps, "m1", "risk", "rules", &ctx, &r, d->err, sizeof d->err), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "complaints_per_sku_24h")), 9);
    json_decref(r);
    assert_int_equal(policy_value(d->ps, "m1", "risk", "now", &ctx, &r, d->err, sizeof d->err), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "now")), 1767225600);
    assert_string_equal(json_string_value(json_object_get(r, "m")), "m1");
    json_decref(r);
    assert_int_equal(policy_value(d->ps, NULL, "risk", "absent", &ctx, &r, d->err, sizeof d->err), 0);
    assert_true(json_is_null(r));
    json_decref(r);
}

static json_t *customer_cb(void *ud, const char *buyer_id) {
    (*(int *)ud)++;
    if (strcmp(buyer_id, "b1") != 0) return NULL;
    return json_pack("{s:i,s:s}", "returns_30d", 6, "tier", "vip");
}

static void ctx_binds_now_days_customer_and_log(void **state) {
    pdir *d = *state;
    pdir_write(d, "c.lua",
               "return {f = function(ctx)\n"
               "  ctx.log('first'); ctx.log(42)\n"
               "  local c = ctx.customer('b1')\n"
               "  return {now = ctx.now, days = ctx.days_since(ctx.now - 36 * 3600),\n"
               "          returns = c.returns_30d, tier = c.tier, other = ctx.customer('zz') == nil,\n"
               "          nobody = ctx.customer(nil) == nil}\n"
               "end,\n"
               "spam = function(ctx) for i = 1, 500 do ctx.log(i) end end,\n"
               "poke = function(ctx) ctx.now = 1 end}\n");
    pdir_load_ok(d);
    int asked = 0;
    json_t *log = json_array();
    policy_ctx ctx = {.now = 1767225600, .customer = customer_cb, .ud = &asked, .log = log};
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "c", "f", &ctx, &r), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "now")), 1767225600);
    assert_true(json_real_value(json_object_get(r, "days")) == 1.5);
    assert_int_equal(json_integer_value(json_object_get(r, "returns")), 6);
    assert_string_equal(json_string_value(json_object_get(r, "tier")), "vip");
    assert_true(json_is_true(json_object_get(r, "other")));
    assert_true(json_is_true(json_object_get(r, "nobody")));
    assert_int_equal(asked, 2); /* a nil buyer is not looked up */
    assert_int_equal(json_array_size(log), 2);
    assert_string_equal(json_string_value(json_array_get(log, 1)), "42");
    json_decref(r);
    json_array_clear(log);
    assert_int_equal(pdir_call0(d, NULL, "c", "spam", &ctx, &r), 0);
    json_decref(r);
    assert_int_equal(json_array_size(log), 101); /* 100 lines and what was dropped */
    assert_string_equal(json_string_value(json_array_get(log, 99)), "100");
    assert_non_null(strstr(json_string_value(json_array_get(log, 100)), "400 more lines"));
    assert_int_equal(pdir_call0(d, NULL, "c", "poke", &ctx, &r), -1);
    assert_non_null(strstr(d->err, "ctx is read-only"));
    policy_ctx bare = {.now = 5};
    assert_int_equal(pdir_call0(d, NULL, "c", "spam", &bare, &r), 0); /* no log array: dropped */
    json_decref(r);
    json_decref(log);
}

/* ctx.log had no limit: 100 lines of 8 MB made one case create take 30 s and
 * stored them on the timeline (a call cannot make an 8 MB string any more:
 * allocating is charged; 1 MB lines show the same). A line is cut at 1024
 * bytes (on a character boundary, with a marker), a call keeps 16 KiB, and
 * one last line counts what was dropped. */
static void ctx_log_cuts_lines_and_counts_what_it_drops(void **state) {
    pdir *d = *state;
    pdir_write(d, "c.lua",
               "return {big = function(ctx)\n"
               "  local s = string.rep('x', 1 << 20)\n"
               "  for i = 1, 100 do ctx.log(s) end\n"
               "end,\n"
               "utf8 = function(ctx) ctx.log(string.rep('a', 1023) .. '\\u{4e2d}' .. 'tail') end,\n"
               "small = function(ctx) for i = 1, 3 do ctx.log('line ' .. i) end end}\n");
    pdir_load_ok(d);
    json_t *log = json_array(), *r = NULL;
    policy_ctx ctx = {.now = 0, .log = log};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(pdir_call0(d, NULL, "c", "big", &ctx, &r), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
    json_decref(r);
    assert_int_equal(json_array_size(log), 17); /* 16 lines of 1 KiB, then the count */
    size_t kept = 0;
    for (size_t i = 0; i < 16; i++) {
        const char *line = json_string_value(json_array_get(log, i));
        assert_non_null(strstr(line, "[ctx.log: cut, 1024 of 1048576 bytes kept]"));
        kept += strspn(line, "x");
    }
    assert_int_equal(kept, 16384);
    assert_string_equal(json_string_value(json_array_get(log, 16)),
                        "[ctx.log: 84 more lines (88080384 bytes) dropped; a call keeps at most 100 "
                        "lines and 16384 bytes]");
    json_array_clear(log);
    assert_int_equal(pdir_call0(d, NULL, "c", "utf8", &ctx, &r), 0); /* the cut never splits a character */
    assert_int_equal(strspn(json_string_value(json_array_get(log, 0)), "a"), 1023);
    assert_non_null(strstr(json_string_value(json_array_get(log, 0)), "a [ctx.log: cut, 1023 of 1030"));
    json_array_clear(log);
    assert_int_equal(pdir_call0(d, NULL, "c", "small", &ctx, &r), 0); /* each call starts afresh */
    assert_int_equal(json_array_size(log), 3);
    json_decref(log);
}

/* ctx.customer is a store read the meter cannot see: each lookup is charged
 * and the records of one call are kept for it, so asking again is free. */
static void ctx_customer_lookups_are_charged_and_kept_per_call(void **state) {
    pdir *d = *state;
    pdir_write(d, "c.lua",
               "return {again = function(ctx)\n"
               "  local a = ctx.customer('b1') a.returns_30d = 0\n"
               "  for i = 1, 50 do a = ctx.customer('b1') end\n"
               "  return a.returns_30d\n"
               "end,\n"
               "many = function(ctx) for i = 1, 1e6 do ctx.customer('b' .. i) end end}\n");
    pdir_load_ok(d);
    int asked = 0;
    policy_ctx ctx = {.now = 0, .customer = customer_cb, .ud = &asked};
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "c", "again", &ctx, &r), 0);
    assert_int_equal(json_integer_value(r), 6); /* a new table each time */
    assert_int_equal(asked, 1);
    json_decref(r);
    assert_int_equal(pdir_call0(d, NULL, "c", "again", &ctx, &r), 0);
    assert_int_equal(asked, 2); /* the next call asks the store again */
    json_decref(r);
    asked = 0;
    assert_int_equal(pdir_call0(d, NULL, "c", "many", &ctx, &r), -1);
    assert_non_null(strstr(d->err, "instruction budget exceeded in ctx.customer"));
    assert_true(asked <= 100); /* 10,000 units each */
}

/* A result over the conversion limits is a policy error, like a budget. */
static void oversized_results_are_policy_errors(void **state) {
    pdir *d = *state;
    pdir_write(d, "c.lua",
               "return {dag = function() local t = {1} for i = 1, 26 do t = {t, t} end return t end,\n"
               "        text = function() local s = string.rep('x', 1 << 20) return {s, s, s} end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    policy_stats before, after;
    policy_get_stats(d->ps, &before);
    assert_int_equal(pdir_call0(d, NULL, "c", "dag", NULL, &r), -1);
    assert_non_null(strstr(d->err, "c.dag returned a value JSON cannot hold: too large for JSON: "
                                   "more than 20000 values"));
    assert_int_equal(pdir_call0(d, NULL, "c", "text", NULL, &r), -1);
    assert_non_null(strstr(d->err, "bytes of text"));
    policy_get_stats(d->ps, &after);
    assert_int_equal(after.errors - before.errors, 2);
}

/* module.fn(a, b, ctx) for merchant (NULL: the platform); the integer result. */
static int64_t call_ints_for(pdir *d, const char *merchant, const char *module, const char *fn,
                             int64_t a, int64_t b) {
    json_t *args[2] = {json_integer(a), json_integer(b)};
    policy_ctx ctx = {.now = 1767574800, .merchant_id = merchant};
    json_t *r = NULL;
    int rc = policy_call(d->ps, merchant, module, fn, args, 2, &ctx, &r, d->err, sizeof d->err);
    if (rc != 0) fprintf(stderr, "call failed: %s\n", d->err);
    assert_int_equal(rc, 0);
    int64_t v = json_integer_value(r);
    json_decref(r);
    json_decref(args[0]);
    json_decref(args[1]);
    return v;
}

static int64_t call_ints(pdir *d, const char *module, const char *fn, int64_t a, int64_t b) {
    return call_ints_for(d, NULL, module, fn, a, b);
}

static const char SLA_FNS[] =
    "  due = function(ts, s, ctx) return ctx.add_business_seconds(ts, s) end,\n"
    "  count = function(a, b, ctx) return ctx.business_seconds(a, b) end}\n";

/* Mon 2026-01-05 09:00 UTC+8 is 1767574800; Fri 2026-01-09 17:00 is
 * 1767949200; Mon 2026-01-12 10:00 is 1768183200. */
static void ctx_business_time_uses_the_sla_calendar(void **state) {
    pdir *d = *state;
    char src[1024];
    snprintf(src, sizeof src, "return {calendar = {workdays = {1, 2, 3, 4, 5},\n"
             "  hours = {{'09:00', '12:00'}, {'13:30', '18:00'}}, utc_offset = 28800,\n"
             "  holidays = {}, workday_overrides = {}},\n%s", SLA_FNS);
    pdir_write(d, "sla.lua", src);
    pdir_load_ok(d);
    /* one working day (7.5 h) and one hour from Monday 09:00: Tuesday 10:00 */
    assert_int_equal(call_ints(d, "sla", "due", 1767574800, 27000 + 3600), 1767574800 + 86400 + 3600);
    /* Friday 17:00 to Monday 10:00: one hour each side of the weekend */
    assert_int_equal(call_ints(d, "sla", "count", 1767949200, 1768183200), 7200);
}

static void calendar_may_be_a_function_of_ctx(void **state) {
    pdir *d = *state;
    char src[1024];
    snprintf(src, sizeof src, "return {calendar = function(ctx)\n"
             "  return {workdays = {1, 2, 3, 4, 5, 6, 7}, hours = {{'10:00', '11:00'}}} end,\n%s",
             SLA_FNS);
    pdir_write(d, "sla.lua", src);
    pdir_load_ok(d);
    /* 00:00 UTC Thursday: one hour of work per day, every day */
    assert_int_equal(call_ints(d, "sla", "count", 1767225600, 1767225600 + 2 * 86400), 7200);
}

static void without_sla_the_calendar_is_the_default_week(void **state) {
    pdir *d = *state;
    char src[1024];
    snprintf(src, sizeof src, "return {\n%s", SLA_FNS);
    pdir_write(d, "t.lua", src);
    pdir_load_ok(d);
    /* Thursday 2026-01-01 00:00 UTC to Monday: Thursday and Friday, whole days */
    assert_int_equal(call_ints(d, "t", "count", 1767225600, 1767225600 + 4 * 86400), 2 * 86400);
}

static void bad_calendar_is_a_load_error_naming_sla(void **state) {
    pdir *d = *state;
    pdir_write(d, "sla.lua", "return {calendar = {workdays = {}}}\n");
    assert_int_equal(pdir_load(d), -1);
    assert_true(strncmp(d->err, "sla.lua: calendar", 17) == 0);
    pdir_write(d, "sla.lua", "return {calendar = 'weekdays'}\n");
    assert_int_equal(pdir_load(d), -1);
    assert_true(strncmp(d->err, "sla.lua: calendar", 17) == 0);
}

/* Monday 2026-01-05 09:00 UTC+8 plus 3600 s of business time. */
static int64_t due_in_an_hour(const calendar *cal) {
    return calendar_add_business_seconds(cal, 1767574800, 3600);
}

static void merchant_calendar_overrides_the_default_once_built(void **state) {
    pdir *d = *state;
    pdir_write(d, "sla.lua", "return {calendar = {workdays = {1, 2, 3, 4, 5},\n"
               "  hours = {{'09:00', '18:00'}}, utc_offset = 28800}}\n");
    pdir_write(d, "merchants/m1/sla.lua", "return {calendar = {workdays = {1, 2, 3, 4, 5},\n"
               "  hours = {{'09:00', '09:30'}}, utc_offset = 28800, holidays = {}}}\n");
    pdir_write(d, "merchants/m2/sla.lua", "return {calendar = {workdays = {}}}\n");
    pdir_load_ok(d);
    char err[256];
    const calendar *platform = policy_calendar(d->ps, NULL, err, sizeof err);
    assert_non_null(platform);
    assert_int_equal(due_in_an_hour(platform), 1767574800 + 3600);
    assert_ptr_equal(policy_calendar(d->ps, "m0", err, sizeof err), platform);
    assert_string_equal(err, "");
    const calendar *m1 = policy_calendar(d->ps, "m1", err, sizeof err);
    assert_ptr_not_equal(m1, platform);
    /* half an hour on Monday, the other half on Tuesday at 09:00 */
    assert_int_equal(due_in_an_hour(m1), 1767574800 + 86400 + 1800);
    assert_ptr_equal(policy_calendar(d->ps, "m1", err, sizeof err), m1);
    /* a calendar that does not build: the default, and the reason */
    assert_ptr_equal(policy_calendar(d->ps, "m2", err, sizeof err), platform);
    assert_true(err[0] != '\0');
}

/* The platform's sla.due for merchant (NULL: the platform) */
static int64_t due_for(pdir *d, const char *merchant, int64_t ts, int64_t secs) {
    return call_ints_for(d, merchant, "sla", "due", ts, secs);
}

static void ctx_business_time_follows_the_merchant_calendar(void **state) {
    pdir *d = *state;
    char src[1024];
    snprintf(src, sizeof src, "return {calendar = {workdays = {1, 2, 3, 4, 5},\n"
             "  hours = {{'09:00', '18:00'}}, utc_offset = 28800},\n%s", SLA_FNS);
    pdir_write(d, "sla.lua", src);
    pdir_write(d, "merchants/m1/sla.lua", "return {calendar = {workdays = {1, 2, 3, 4, 5},\n"
               "  hours = {{'09:00', '09:30'}}, utc_offset = 28800}}\n");
    pdir_load_ok(d);
    /* the platform's function, run for m1, counts on m1's half-hour days */
    assert_int_equal(due_for(d, "m1", 1767574800, 3600), 1767574800 + 86400 + 1800);
    assert_int_equal(due_for(d, NULL, 1767574800, 3600), 1767574800 + 3600);
    assert_int_equal(due_for(d, "m0", 1767574800, 3600), 1767574800 + 3600);
    /* and again once m1's calendar is cached */
    assert_int_equal(due_for(d, "m1", 1767574800, 3600), 1767574800 + 86400 + 1800);
    /* the same as the calendar the core's SLA due times use */
    char err[64];
    assert_int_equal(due_for(d, "m1", 1767574800, 3600), due_in_an_hour(policy_calendar(d->ps, "m1", err, sizeof err)));
}

static void stats_count_calls_and_errors(void **state) {
    pdir *d = *state;
    pdir_load_ok(d);
    json_t *r = evaluate(d, NULL, 1);
    json_decref(r);
    assert_int_equal(pdir_call0(d, NULL, "returns", "nothing", NULL, &r), -1);
    policy_stats st;
    policy_get_stats(d->ps, &st);
    assert_int_equal(st.calls, 2);
    assert_int_equal(st.errors, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(default_module_answers_without_override, setup, teardown),
        cmocka_unit_test_setup_teardown(merchant_override_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(floor_raises_an_override_result, setup, teardown),
        cmocka_unit_test_setup_teardown(failing_override_gets_the_floors_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(override_that_loops_or_hogs_memory_gets_the_floor_too, setup, teardown),
        cmocka_unit_test_setup_teardown(floor_judges_by_inputs_the_override_cannot_change, setup, teardown),
        cmocka_unit_test_setup_teardown(override_falls_back_to_default_per_function, setup, teardown),
        cmocka_unit_test_setup_teardown(unresolved_function_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(nil_result_is_json_null_and_errors_carry_a_traceback, setup, teardown),
        cmocka_unit_test_setup_teardown(policy_value_reads_tables_and_calls_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(ctx_binds_now_days_customer_and_log, setup, teardown),
        cmocka_unit_test_setup_teardown(ctx_business_time_uses_the_sla_calendar, setup, teardown),
        cmocka_unit_test_setup_teardown(calendar_may_be_a_function_of_ctx, setup, teardown),
        cmocka_unit_test_setup_teardown(without_sla_the_calendar_is_the_default_week, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_calendar_is_a_load_error_naming_sla, setup, teardown),
        cmocka_unit_test_setup_teardown(merchant_calendar_overrides_the_default_once_built, setup, teardown),
        cmocka_unit_test_setup_teardown(ctx_business_time_follows_the_merchant_calendar, setup, teardown),
        cmocka_unit_test_setup_teardown(stats_count_calls_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(ctx_log_cuts_lines_and_counts_what_it_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(ctx_customer_lookups_are_charged_and_kept_per_call, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_results_are_policy_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
