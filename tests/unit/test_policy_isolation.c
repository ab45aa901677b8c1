/* Merchants and the platform cannot reach each other through the policy
 * modules: require() hands out read-only views, so a merchant's override
 * cannot rewrite a default module, a table inside one or the floor, at load
 * or in a call; ctx's fields are not reachable; the floor judges a copy of
 * the override's answer. Reading through a view works as reading the module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_policy_util.h"

static const char RETURNS[] =
    "local M = {WINDOW_DAYS = 7, REASONS = {no_reason = true, quality = true}}\n"
    "function M.evaluate(case, order, ctx)\n"
    "  if M.REASONS[case.reason] and ctx.now - order.delivered_at <= M.WINDOW_DAYS * 86400 then\n"
    "    return {outcome = 'approve', by = 'default'}\n"
    "  end\n"
    "  return {outcome = 'reject', by = 'default'}\n"
    "end\n"
    "return M\n";

static const char FLOOR[] =
    "local M = {}\n"
    "function M.returns_evaluate(result, case, order, ctx)\n"
    "  local d = require('returns').evaluate(case, order, ctx)\n"
    "  if d.outcome == 'approve' and (type(result) ~= 'table' or result.outcome ~= 'approve') then\n"
    "    return {outcome = 'approve', by = 'floor'}\n"
    "  end\n"
    "  return result\n"
    "end\n"
    "return M\n";

static const char ROUTING[] =
    "local M = {QUEUES = {['return'] = 'after_sales', complaint = 'quality'},\n"
    "           ORDER = {'after_sales', 'quality'}}\n"
    "function M.route(case, ctx) return {queue = M.QUEUES[case.type] or 'customer_service'} end\n"
    "function M:first() return self.ORDER[1] end\n"
    "local counter = {n = 0}\n"
    "function M.bump() counter.n = counter.n + 1 return counter.n end\n"
    "return M\n";

/* m2 rejects everything: the floor must undo it for a 7-day return. */
static const char M2_RETURNS[] =
    "return {evaluate = function() return {outcome = 'reject', by = 'm2'} end}\n";

static const int64_t NOW = 1767225600;

static int setup(void **state) {
    pdir *d = malloc(sizeof *d);
    assert_non_null(d);
    pdir_up(d);
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "floor.lua", FLOOR);
    pdir_write(d, "routing.lua", ROUTING);
    pdir_write(d, "merchants/m2/returns.lua", M2_RETURNS);
    *state = d;
    return 0;
}

static int teardown(void **state) {
    pdir_down(*state);
    free(*state);
    return 0;
}

/* returns.evaluate of a no-reason return delivered 3 days ago; "outcome/by". */
static void expect_evaluate(pdir *d, const char *merchant, const char *want) {
    json_t *args[2] = {json_pack("{s:s,s:s}", "type", "return", "reason", "no_reason"),
                       json_pack("{s:I}", "delivered_at", (json_int_t)(NOW - 3 * 86400))};
    policy_ctx ctx = {.now = NOW};
    json_t *r = NULL;
    int rc = policy_call(d->ps, merchant, "returns", "evaluate", args, 2, &ctx, &r, d->err,
                         sizeof d->err);
    if (rc != 0) fail_msg("%s: %s", merchant ? merchant : "platform", d->err);
    char got[64];
    snprintf(got, sizeof got, "%s/%s", json_string_value(json_object_get(r, "outcome")),
             json_string_value(json_object_get(r, "by")));
    if (strcmp(got, want) != 0) fail_msg("%s: %s, expected %s", merchant ? merchant : "platform", got, want);
    json_decref(r);
    json_decref(args[0]);
    json_decref(args[1]);
}

static void expect_queue(pdir *d, const char *merchant, const char *want) {
    json_t *kase = json_pack("{s:s}", "type", "return");
    policy_ctx ctx = {.now = NOW};
    json_t *r = NULL;
    assert_int_equal(policy_call(d->ps, merchant, "routing", "route", &kase, 1, &ctx, &r, d->err,
                                 sizeof d->err), 0);
    assert_string_equal(json_string_value(json_object_get(r, "queue")), want);
    json_decref(r);
    json_decref(kase);
}

/* Everyone still gets the platform's rules. */
static void nobody_else_affected(pdir *d) {
    expect_evaluate(d, NULL, "approve/default");
    expect_evaluate(d, "m1", "approve/default"); /* m1 has no override */
    expect_evaluate(d, "m2", "approve/floor");   /* m2's rejection meets the floor */
    expect_queue(d, NULL, "after_sales");
    expect_queue(d, "m1", "after_sales");
}

/* issue 9: merchants/mleak/returns.lua rewrote shared modules at load. */
static void an_override_cannot_rewrite_modules_at_load(void **state) {
    pdir *d = *state;
    const char *attacks[] = {
        "require('returns').evaluate = function() return {outcome = 'reject'} end\nreturn {}\n",
        "require('floor').returns_evaluate = function(r) return r end\nreturn {}\n",
        "require('returns').REASONS.no_reason = nil\nreturn {}\n",
        "require('routing').QUEUES['return'] = 'nowhere'\nreturn {}\n",
        "rawset(require('returns'), 'evaluate', function() return {outcome = 'reject'} end)\nreturn {}\n",
    };
    for (size_t i = 0; i < sizeof attacks / sizeof *attacks; i++) {
        pdir_write(d, "merchants/mleak/returns.lua", attacks[i]);
        assert_int_equal(pdir_load(d), -1);
        if (strstr(d->err, "merchants/mleak/returns.lua:1:") == NULL ||
            (strstr(d->err, "policy modules are read-only") == NULL &&
             strstr(d->err, "rawset on a protected table") == NULL))
            fail_msg("%s: %s", attacks[i], d->err);
    }
    pdir_write(d, "merchants/mleak/returns.lua", "return {}\n");
    pdir_load_ok(d);
    nobody_else_affected(d);
}

/* issue 9: the same inside a call, which the override may catch. */
static void an_override_cannot_rewrite_modules_in_a_call(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/mleak/returns.lua",
               "local function try(f) local ok, e = pcall(f) assert(not ok) return e end\n"
               "return {evaluate = function(case, order, ctx)\n"
               "  local errors = {\n"
               "    try(function() require('returns').evaluate = function() return {outcome = 'reject'} end end),\n"
               "    try(function() require('floor').returns_evaluate = function(r) return r end end),\n"
               "    try(function() require('returns').REASONS.no_reason = nil end),\n"
               "    try(function() require('routing').QUEUES['return'] = 'nowhere' end),\n"
               "    try(function() table.insert(require('routing').ORDER, 1, 'nowhere') end),\n"
               "    try(function() rawset(require('floor'), 'returns_evaluate', print) end),\n"
               "    try(function() setmetatable(require('routing').QUEUES, nil) end),\n"
               "    try(function() for k, v in pairs(require('routing')) do\n"
               "      if type(v) == 'table' then v.x = 1 end end end),\n"
               "  }\n"
               "  for _, e in ipairs(errors) do ctx.log(e) end\n"
               "  return {outcome = 'reject', by = 'mleak', n = #errors}\n"
               "end}\n");
    pdir_load_ok(d);
    json_t *logs = json_array();
    json_t *args[2] = {json_pack("{s:s,s:s}", "type", "return", "reason", "no_reason"),
                       json_pack("{s:I}", "delivered_at", (json_int_t)(NOW - 3 * 86400))};
    policy_ctx ctx = {.now = NOW, .log = logs};
    json_t *r = NULL;
    assert_int_equal(policy_call(d->ps, "mleak", "returns", "evaluate", args, 2, &ctx, &r, d->err,
                                 sizeof d->err), 0);
    assert_string_equal(json_string_value(json_object_get(r, "by")), "floor");
    assert_int_equal(json_array_size(logs), 8);
    for (size_t i = 0; i < json_array_size(logs); i++) {
        const char *line = json_string_value(json_array_get(logs, i));
        if (strstr(line, "read-only") == NULL && strstr(line, "protected") == NULL)
            fail_msg("attempt %zu: %s", i + 1, line);
    }
    json_decref(r);
    json_decref(logs);
    json_decref(args[0]);
    json_decref(args[1]);
    nobody_else_affected(d);
}

/* A view reads like the module: fields, nested tables (the same view each
 * time), length, ipairs, pairs, methods; the module's own code keeps its
 * tables. */
static void a_view_reads_like_the_module(void **state) {
    pdir *d = *state;
    pdir_write(d, "reader.lua",
               "return {f = function()\n"
               "  local r = require('routing')\n"
               "  local keys = {}\n"
               "  for k, v in pairs(r) do keys[#keys + 1] = k .. ':' .. type(v) end\n"
               "  table.sort(keys)\n"
               "  local order = {}\n"
               "  for i, q in ipairs(r.ORDER) do order[i] = q end\n"
               "  return {queue = r.QUEUES['return'], n = #r.ORDER, order = table.concat(order, ','),\n"
               "          same = r.QUEUES == require('routing').QUEUES, first = r:first(),\n"
               "          keys = table.concat(keys, ' '), bumps = r.bump() + r.bump(),\n"
               "          unpacked = select('#', table.unpack(r.ORDER)), kind = type(r)}\n"
               "end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "reader", "f", NULL, &r), 0);
    json_t *want = json_pack("{s:s,s:i,s:s,s:b,s:s,s:s,s:i,s:i,s:s}", "queue", "after_sales", "n", 2,
                             "order", "after_sales,quality", "same", 1, "first", "after_sales", "keys",
                             "ORDER:table QUEUES:table bump:function first:function route:function",
                             "bumps", 3, "unpacked", 2, "kind", "table");
    if (!json_equal(r, want)) {
        char *s = json_dumps(r, JSON_SORT_KEYS);
        fail_msg("got %s", s);
    }
    json_decref(want);
    json_decref(r);
}

/* A merchant's calendar built from the default's view converts as the
 * tables the view shows. */
static void values_built_from_views_convert(void **state) {
    pdir *d = *state;
    pdir_write(d, "sla.lua",
               "return {calendar = {workdays = {1, 2, 3}, hours = {{'09:00', '17:00'}}, utc_offset = 3600}}\n");
    pdir_write(d, "merchants/m3/sla.lua",
               "return {calendar = function(ctx)\n"
               "  local c = {}\n"
               "  for k, v in pairs(require('sla').calendar) do c[k] = v end\n"
               "  c.utc_offset = 0\n"
               "  return c\n"
               "end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    policy_ctx ctx = {.now = NOW};
    assert_int_equal(policy_value(d->ps, "m3", "sla", "calendar", &ctx, &r, d->err, sizeof d->err), 0);
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"hours\":[[\"09:00\",\"17:00\"]],\"utc_offset\":0,\"workdays\":[1,2,3]}");
    free(s);
    json_decref(r);
}

static json_t *customer(void *ud, const char *buyer) {
    (void)ud;
    (void)buyer;
    return json_pack("{s:i}", "returns_30d", 1);
}

/* pairs(ctx) handed out the table behind ctx as the loop's state: writing it
 * changed ctx.customer for every later call of every merchant. */
static void ctx_fields_are_not_reachable_through_pairs(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/mleak/returns.lua",
               "return {evaluate = function(case, order, ctx)\n"
               "  local iter, st = pairs(ctx)\n"
               "  local names = {}\n"
               "  for k, v in pairs(ctx) do names[#names + 1] = k end\n"
               "  table.sort(names)\n"
               "  local ok = pcall(function() st.customer = function() return {returns_30d = 99} end end)\n"
               "  return {outcome = 'approve', by = table.concat(names, ','), wrote = ok,\n"
               "          state_is_ctx = rawequal(st, ctx)}\n"
               "end}\n");
    pdir_write(d, "merchants/m1/returns.lua",
               "return {evaluate = function(case, order, ctx)\n"
               "  return {outcome = 'approve', by = 'm1', seen = ctx.customer('b').returns_30d}\n"
               "end}\n");
    pdir_load_ok(d);
    json_t *args[2] = {json_pack("{s:s,s:s}", "type", "return", "reason", "no_reason"),
                       json_pack("{s:I}", "delivered_at", (json_int_t)(NOW - 3 * 86400))};
    policy_ctx ctx = {.now = NOW, .customer = customer};
    json_t *r = NULL;
    assert_int_equal(policy_call(d->ps, "mleak", "returns", "evaluate", args, 2, &ctx, &r, d->err,
                                 sizeof d->err), 0);
    assert_string_equal(json_string_value(json_object_get(r, "by")),
                        "add_business_seconds,business_seconds,customer,days_since,log,merchant_id,now");
    assert_true(json_is_false(json_object_get(r, "wrote")));
    assert_true(json_is_true(json_object_get(r, "state_is_ctx")));
    json_decref(r);
    assert_int_equal(policy_call(d->ps, "m1", "returns", "evaluate", args, 2, &ctx, &r, d->err,
                                 sizeof d->err), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "seen")), 1);
    json_decref(r);
    json_decref(args[0]);
    json_decref(args[1]);
}

/* The floor gets the override's answer as the host would store it: a plain
 * copy, so an answer that says 'approve' only through __index (and stores
 * as nothing) cannot get past it, nor change after the floor read it. */
static void the_floor_judges_a_copy_of_the_answer(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/mleak/returns.lua",
               "return {evaluate = function(case, order, ctx)\n"
               "  return setmetatable({by = 'mleak'}, {__index = function(_, k)\n"
               "    if k == 'outcome' then return 'approve' end end})\n"
               "end}\n");
    pdir_load_ok(d);
    expect_evaluate(d, "mleak", "approve/floor");
}

/* A merchant's module is a new instance in each call: its top-level locals
 * start again, so it keeps no state from call to call, and none of its
 * memory. One that kept 512 KiB per call in a local of its file filled the
 * set's memory cap in 36 calls, and then another merchant's calls failed. */
static void a_merchant_keeps_nothing_between_calls(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/mleak/routing.lua",
               "local keep, n = {}, 0\n"
               "return {route = function(case, ctx)\n"
               "  n = n + 1\n"
               "  keep[#keep + 1] = string.rep('x', 1 << 19) .. n\n"
               "  return {queue = 'q' .. n}\n"
               "end}\n");
    pdir_write(d, "merchants/m1/routing.lua",
               "return {route = function(case, ctx)\n"
               "  local s = string.rep('y', 1 << 20) .. 'z'\n"
               "  return {queue = 'big' .. #s}\n"
               "end}\n");
    pdir_load_ok(d);
    for (int i = 0; i < 100; i++) {
        expect_queue(d, "mleak", "q1");
        expect_queue(d, "m1", "big1048577");
    }
}

/* Making the instance is the override's work: a top level that fails in a
 * call (here because platform code changed its own state since the load)
 * fails the override, and the floor answers. */
static void an_instance_that_fails_meets_the_floor(void **state) {
    pdir *d = *state;
    pdir_write(d, "flag.lua", "local M = {n = 0}\nfunction M.bump() M.n = M.n + 1 end\nreturn M\n");
    pdir_write(d, "merchants/mleak/returns.lua",
               "if require('flag').n > 0 then error('the flag is up') end\n"
               "return {evaluate = function() return {outcome = 'reject', by = 'mleak'} end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "flag", "bump", NULL, &r), 0);
    json_decref(r);
    json_t *logs = json_array();
    json_t *args[2] = {json_pack("{s:s,s:s}", "type", "return", "reason", "no_reason"),
                       json_pack("{s:I}", "delivered_at", (json_int_t)(NOW - 3 * 86400))};
    policy_ctx ctx = {.now = NOW, .log = logs};
    assert_int_equal(policy_call(d->ps, "mleak", "returns", "evaluate", args, 2, &ctx, &r, d->err,
                                 sizeof d->err), 0);
    assert_string_equal(json_string_value(json_object_get(r, "by")), "floor");
    assert_non_null(strstr(json_string_value(json_array_get(logs, 0)), "the flag is up"));
    json_decref(r);
    json_decref(logs);
    json_decref(args[0]);
    json_decref(args[1]);
    assert_true(policy_has(d->ps, "mleak", "returns", "evaluate")); /* no instance needed */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_override_cannot_rewrite_modules_at_load, setup, teardown),
        cmocka_unit_test_setup_teardown(an_override_cannot_rewrite_modules_in_a_call, setup, teardown),
        cmocka_unit_test_setup_teardown(a_view_reads_like_the_module, setup, teardown),
        cmocka_unit_test_setup_teardown(values_built_from_views_convert, setup, teardown),
        cmocka_unit_test_setup_teardown(ctx_fields_are_not_reachable_through_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(the_floor_judges_a_copy_of_the_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(a_merchant_keeps_nothing_between_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(an_instance_that_fails_meets_the_floor, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
