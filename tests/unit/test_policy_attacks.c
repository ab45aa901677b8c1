/* The sandbox attack list, as policy-host tests. Each attack is loaded into a
 * small policy set, as merchant mleak's returns.lua (its override), as the
 * top level of that file, or as a default module of the platform, and then:
 *
 *   - the call (or the load) ends within a bound derived from the budget,
 *     with an error, or, for an override, with the floor's answer;
 *   - the state answers the next calls as usual;
 *   - merchant m1 (an honest override) and the platform still get their own
 *     answers: nothing an attack did reached them.
 *
 * The time bound is measured, not guessed: one budget of plain instructions
 * is timed first, and an attack may take two budgets (an override and the
 * floor), each at most its time limit, plus slack for collecting.
 * ATTACK_VERBOSE=1 in the environment prints each attack and its times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/sandbox.h"
#include "test_policy_util.h"

/* The platform: a 7-day no-reason return is approved, anything else
 * rejected; the floor restores an approval the default gives. */
static const char RETURNS[] =
    "local M = {WINDOW_DAYS = 7, REASONS = {no_reason = true}}\n"
    "secret = 'platform global'\n"
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
    "local M = {QUEUES = {['return'] = 'after_sales', complaint = 'quality'}}\n"
    "function M.route(case, ctx) return {queue = M.QUEUES[case.type] or 'customer_service'} end\n"
    "return M\n";

static const char M1_RETURNS[] =
    "return {evaluate = function(case, order, ctx)\n"
    "  local d = require('returns').evaluate(case, order, ctx)\n"
    "  return {outcome = d.outcome, by = 'm1', seen = ctx.customer(case.buyer_id).returns_30d}\n"
    "end}\n";

/* Where an attack runs. */
typedef enum {
    IN_OVERRIDE, /* body of mleak's returns.evaluate(case, order, ctx) */
    AT_LOAD,     /* top level of mleak's returns.lua (which then returns {}) */
    IN_MODULE,   /* body of the platform's attack.f(ctx) */
} where;

typedef struct {
    const char *name;
    where at;
    const char *body;
    /* IN_OVERRIDE: a substring of the log line the floor's answer carries
     * (NULL: the override answered and the floor kept or raised it).
     * AT_LOAD: a substring of the load error (NULL: the load succeeds).
     * IN_MODULE: a substring of the call's error, its JSON result after
     * '=', or "*" for any answer or error (only the time is checked). */
    const char *expect;
} attack;

#define LOOP "while true do end"

static const attack ATTACKS[] = {
    /* message handlers (issue 9 item 3/4) */
    {"xpcall handler loops", IN_OVERRIDE, "return xpcall(error, function() " LOOP " end)",
     "instruction budget exceeded"},
    {"xpcall handler loops at load", AT_LOAD, "xpcall(error, function() " LOOP " end)",
     "instruction budget exceeded"},
    {"xpcall handler loops after the budget", IN_OVERRIDE,
     "return xpcall(function() " LOOP " end, function() " LOOP " end)", "instruction budget exceeded"},
    {"xpcall handler raises in itself", IN_MODULE,
     "return {xpcall(error, function(e) error(e) end)}", "=[false, \"error in error handling\"]"},
    {"xpcall handler recursion in a loop", IN_OVERRIDE,
     "local function f() return xpcall(f, f) end " LOOP, "instruction budget exceeded"},
    {"pcall swallowing the budget in a loop", IN_OVERRIDE,
     "for i = 1, 1e9 do pcall(function() " LOOP " end) end", "instruction budget exceeded"},
    /* metamethods the host or the VM triggers */
    {"error object with a looping __tostring", IN_MODULE,
     "error(setmetatable({}, {__tostring = function() " LOOP " end}))", "instruction budget exceeded"},
    {"error object whose __tostring raises a table", IN_MODULE,
     "local mt = {} mt.__tostring = function(e) error(setmetatable({}, mt)) end error(setmetatable({}, mt))",
     "stack overflow"},
    {"stack overflow while handling an error (a Lua 5.4.4 bug's example)", IN_MODULE,
     "local function loop() assert(pcall(loop)) end return {xpcall(loop, loop)}", "*"},
    {"error object with every metamethod looping", IN_OVERRIDE,
     "local f = function() " LOOP " end "
     "error(setmetatable({}, {__index = f, __newindex = f, __eq = f, __concat = f, __len = f, __call = f}))",
     "error object is not a string"},
    {"__close loops", IN_OVERRIDE,
     "local x <close> = setmetatable({}, {__close = function() " LOOP " end}) return {outcome = 'reject'}",
     "instruction budget exceeded"},
    {"__close loops after the budget", IN_OVERRIDE,
     "local x <close> = setmetatable({}, {__close = function() " LOOP " end}) " LOOP,
     "instruction budget exceeded"},
    {"__close loops at load", AT_LOAD,
     "local x <close> = setmetatable({}, {__close = function() " LOOP " end})",
     "instruction budget exceeded"},
    {"__gc finalizer", IN_OVERRIDE, "setmetatable({}, {__gc = function() " LOOP " end})",
     "__gc metamethods are not allowed"},
    {"__gc added after setmetatable", IN_OVERRIDE,
     "local mt = {} local t = setmetatable({}, mt) mt.__gc = function() " LOOP " end "
     "t = nil return {outcome = 'reject'}",
     NULL},
    {"__index loops", IN_OVERRIDE,
     "return setmetatable({}, {__index = function() " LOOP " end}).outcome", "instruction budget exceeded"},
    {"__eq loops", IN_OVERRIDE,
     "local mt = {__eq = function() " LOOP " end} return setmetatable({}, mt) == setmetatable({}, mt)",
     "instruction budget exceeded"},
    {"__lt loops inside table.sort", IN_OVERRIDE,
     "local mt = {__lt = function() " LOOP " end} table.sort({setmetatable({}, mt), setmetatable({}, mt)})",
     "instruction budget exceeded"},
    {"__concat loops", IN_OVERRIDE,
     "return setmetatable({}, {__concat = function() " LOOP " end}) .. 'x'", "instruction budget exceeded"},
    {"__len loops", IN_OVERRIDE, "return #setmetatable({}, {__len = function() " LOOP " end})",
     "instruction budget exceeded"},
    {"__tostring loops in tostring", IN_OVERRIDE,
     "return tostring(setmetatable({}, {__tostring = function() " LOOP " end}))",
     "instruction budget exceeded"},
    {"__tostring loops in ctx.log", IN_OVERRIDE,
     "ctx.log(setmetatable({}, {__tostring = function() " LOOP " end}))", "instruction budget exceeded"},
    {"__pairs loops", IN_OVERRIDE,
     "for _ in pairs(setmetatable({}, {__pairs = function() " LOOP " end})) do end",
     "instruction budget exceeded"},
    {"__index counts for ever in ipairs", IN_OVERRIDE,
     "for _ in ipairs(setmetatable({}, {__index = function(_, i) return i end})) do end",
     "instruction budget exceeded"},
    /* memory bombs */
    {"string.rep of a GiB", IN_OVERRIDE, "return string.rep('x', 1 << 30)", "memory cap exceeded"},
    {"string.rep of 4 MiB, again and again", IN_OVERRIDE,
     "for i = 1, 1e9 do local s = string.rep('x', 1 << 22) end", "exceeded"},
    {"string.rep of nothing 2^63 times", IN_MODULE, "return #string.rep('', math.maxinteger)", "=0"},
    {"string.rep of nothing with an empty separator", IN_MODULE,
     "return #string.rep('', math.maxinteger, '')", "=0"},
    {"table.concat of a GiB", IN_OVERRIDE,
     "local t, s = {}, string.rep('x', 1 << 20) for i = 1, 1024 do t[i] = s end return table.concat(t)",
     "exceeded"},
    {"concatenation growing quadratically", IN_OVERRIDE,
     "local s = '' for i = 1, 1e9 do s = s .. 'xxxxxxxxxx' end", "exceeded"},
    {"memory error caught and retried", IN_OVERRIDE,
     "local keep = {} for i = 1, 40 do keep[i] = string.rep('k', 1 << 19) .. i end "
     "for i = 1, 1e9 do pcall(string.rep, 'x', 1 << 30) end",
     "exceeded"},
    /* recursion */
    {"deep Lua recursion", IN_OVERRIDE, "local function f(n) return 1 + f(n + 1) end return f(1)",
     "exceeded"},
    {"C stack overflow through __index", IN_MODULE,
     "local t t = setmetatable({}, {__index = function(_, k) return t[k] end}) return t.x",
     "stack overflow"},
    {"C stack overflow through gsub", IN_MODULE,
     "local function f(s) return (s:gsub('.', f)) end return f('abc')", "stack overflow"},
    {"C stack overflow through tostring", IN_MODULE,
     "local mt = {} mt.__tostring = function(t) return tostring(setmetatable({}, mt)) end "
     "return tostring(setmetatable({}, mt))",
     "stack overflow"},
    /* strings and patterns */
    {"string.format with a huge width", IN_MODULE, "return string.format('%99999d', 1)",
     "invalid conversion"},
    {"string.format with the widest width", IN_MODULE, "return #string.format('%99.99f', 1e308)",
     "=409"},
    {"gsub with a replacement function that loops", IN_OVERRIDE,
     "return (string.rep('a', 10):gsub('a', function() " LOOP " end))", "instruction budget exceeded"},
    {"lazy pattern backtracking", IN_OVERRIDE, "return string.rep('a', 31000):find('a-b')",
     "instruction budget exceeded in string.find"},
    {"four backtracking patterns", IN_OVERRIDE,
     "for i = 1, 4 do pcall(string.find, string.rep('a', 31000), 'a-b') end return {outcome = 'reject'}",
     "instruction budget exceeded"},
    {"nested quantifiers", IN_OVERRIDE, "return string.rep('a', 3000):match('^(.-)(.-)(.-)(.-)b$')",
     "instruction budget exceeded in string.match"},
    {"balanced match over a long text", IN_OVERRIDE,
     "return string.rep('(', 60000):find('%b()%b()')", "instruction budget exceeded in string.find"},
    {"gmatch that backtracks", IN_OVERRIDE,
     "for _ in string.rep('a', 5000):gmatch('.-.-b') do end", "instruction budget exceeded in string.gmatch"},
    {"a huge set in a pattern", IN_OVERRIDE,
     "return string.rep('a', 1e5):find('[' .. string.rep('b', 1e5) .. ']')",
     "instruction budget exceeded in string.find"},
    {"gsub with a long replacement of empty captures", IN_OVERRIDE,
     "return (string.rep('a', 1e5):gsub('()', string.rep('%1', 1e5)))", "exceeded"},
    {"os.date with a huge format", IN_MODULE, "return os.date(string.rep('%c', 1e6))",
     "format longer than"},
    /* C functions with loops */
    {"table.insert into a 2^62 __len", IN_OVERRIDE,
     "table.insert(setmetatable({}, {__len = function() return 1 << 62 end}), 1, 'x')",
     "instruction budget exceeded in table.insert"},
    {"table.remove from a 2^62 __len", IN_OVERRIDE,
     "table.remove(setmetatable({}, {__len = function() return 1 << 62 end}), 1)",
     "instruction budget exceeded in table.remove"},
    {"table.move of 2^62 elements", IN_OVERRIDE, "table.move({}, 1, 1 << 62, 2)",
     "instruction budget exceeded in table.move"},
    {"table.sort of 2^31 nils with a C comparator", IN_OVERRIDE,
     "table.sort(setmetatable({}, {__len = function() return (1 << 31) - 2 end}), tonumber)",
     "instruction budget exceeded in table.sort"},
    {"table.sort with an erroring comparator", IN_MODULE,
     "table.sort({3, 2, 1}, function() error('no order') end)", "no order"},
    {"table.sort with an inconsistent comparator", IN_MODULE,
     "local t = {} for i = 1, 100 do t[i] = i end table.sort(t, function() return true end)",
     "invalid order function"},
    {"comparing two long strings for ever", IN_OVERRIDE,
     "local a, b = string.rep('x', 1 << 22) .. 'a', string.rep('x', 1 << 22) .. 'b' "
     "local n = 0 for i = 1, 1e9 do if a == b then n = n + 1 end end",
     "exceeded"},
    {"next from the start of a big empty array", IN_OVERRIDE,
     "local t = {table.unpack({}, 1, 200000)} for i = 1, 1e9 do next(t) end", "exceeded"},
    {"utf8.len of a long string for ever", IN_OVERRIDE,
     "local s = string.rep('x', 1 << 22) for i = 1, 1e9 do utf8.len(s) end", "exceeded"},
    /* code loading */
    {"load of a text chunk", IN_MODULE, "return load('return 1')()", "attempt to call a nil value"},
    {"load of bytecode", IN_MODULE, "return load(string.dump(function() end), 'x', 'b')",
     "attempt to call a nil value"},
    {"the rest of the standard library", IN_MODULE,
     "return {io, debug, package, coroutine, collectgarbage, dofile, loadfile, print, _G, "
     "os.execute, os.getenv, os.exit, string.dump, require('returns').secret, secret}",
     "={}"},
    /* protected tables and ctx */
    {"rawset on ctx", IN_OVERRIDE, "rawset(ctx, 'now', 0)", "rawset on a protected table"},
    {"rawget on ctx", IN_MODULE, "return {rawget(ctx, 'now'), rawlen(ctx), next(ctx)}", "={\"2\": 0}"},
    {"setmetatable on ctx", IN_OVERRIDE, "setmetatable(ctx, nil)", "cannot change a protected metatable"},
    {"getmetatable of ctx", IN_OVERRIDE, "getmetatable(ctx).__newindex = nil", "attempt to index"},
    {"writing ctx", IN_OVERRIDE, "ctx.customer = function() return {returns_30d = 99} end",
     "ctx is read-only"},
    {"writing ctx's fields through pairs", IN_OVERRIDE,
     "local iter, state = pairs(ctx) state.customer = function() return {returns_30d = 99} end",
     "ctx is read-only"},
    {"writing ctx's fields through pairs' iterator", IN_OVERRIDE,
     "local iter = pairs(ctx) local k, v = iter(nil, nil) "
     "for k2, v2 in iter do if type(v2) == 'table' then v2.x = 1 end end return {outcome = 'reject'}",
     NULL},
    {"tostring and pairs of a module view", IN_MODULE,
     "local v = require('routing') local n = 0 for k, x in pairs(v) do n = n + 1 end "
     "return {type(tostring(v)), n, #v.QUEUES, next(v) == nil, rawget(v, 'QUEUES') == nil, "
     "getmetatable(v), v.QUEUES == require('routing').QUEUES}",
     "=[\"string\", 2, 0, true, true, false, true]"},
    /* reaching other modules and merchants */
    {"replacing a default function", IN_OVERRIDE,
     "require('returns').evaluate = function() return {outcome = 'reject'} end",
     "policy modules are read-only"},
    {"replacing a default function at load", AT_LOAD,
     "require('returns').evaluate = function() return {outcome = 'reject'} end",
     "policy modules are read-only"},
    {"replacing the floor", IN_OVERRIDE, "require('floor').returns_evaluate = function(r) return r end",
     "policy modules are read-only"},
    {"replacing the floor at load", AT_LOAD,
     "require('floor').returns_evaluate = function(r) return r end", "policy modules are read-only"},
    {"changing a nested table of a module", IN_OVERRIDE, "require('routing').QUEUES['return'] = 'evil'",
     "policy modules are read-only"},
    {"changing a nested table at load", AT_LOAD, "require('returns').REASONS.no_reason = false",
     "policy modules are read-only"},
    {"rawset on a module view", IN_OVERRIDE,
     "rawset(require('returns'), 'evaluate', function() return {outcome = 'reject'} end)",
     "rawset on a protected table"},
    {"setmetatable on a module view", IN_OVERRIDE, "setmetatable(require('returns'), nil)",
     "cannot change a protected metatable"},
    {"writing tables reached through pairs of a module", IN_OVERRIDE,
     "for k, v in pairs(require('routing')) do if type(v) == 'table' then v['return'] = 'evil' end end",
     "policy modules are read-only"},
    {"a module's globals", IN_MODULE, "return {secret, _ENV.secret, require('returns').secret}", "={}"},
    {"globals written by an override", IN_OVERRIDE, "secret = 'merchant'", "assignment to global"},
    {"rawset on its own env", IN_OVERRIDE, "rawset(_ENV, 'secret', 'merchant')",
     "rawset on a protected table"},
    {"string metatable tampering", IN_MODULE,
     "local r = {('').x, pcall(function() getmetatable('').__index = {} end)} "
     "return {r[1] == nil, r[2], pcall(function() string.find = nil end), "
     "pcall(rawset, string, 'find', print), ('abc'):upper()}",
     "=[true, false, false, false, \"ABC\"]"},
    {"next, select and ipairs edge cases", IN_MODULE,
     "local function e(...) return select(2, pcall(...)) end "
     "return {e(next, {}, 'nokey'), e(select, -1), e(select, math.mininteger, 1), "
     "select('#', select(2, 1, 2, 3)), next(ctx) == nil, e(ipairs), select('#', ipairs({}))}",
     "=[\"invalid key to 'next'\", \"bad argument #1 to 'select' (index out of range)\", "
     "\"bad argument #1 to 'select' (index out of range)\", 2, true, "
     "\"bad argument #1 to 'ipairs' (value expected)\", 3]"},
    /* results */
    {"a result of 2^26 shared tables", IN_OVERRIDE,
     "local t = {1} for i = 1, 26 do t = {t, t} end return t", "too large for JSON"},
    {"a result that contains itself", IN_OVERRIDE, "local t = {} t.t = t return t", "contains itself"},
    {"a result that lies through __index", IN_OVERRIDE,
     "return setmetatable({}, {__index = function() return 'reject' end})", NULL},
    {"a result with a function", IN_OVERRIDE, "return {outcome = 'reject', f = type}",
     "cannot convert a function"},
    {"a platform result of 2^21 shared tables", IN_MODULE,
     "local t = {1} for i = 1, 21 do t = {t, t} end return t", "too large for JSON"},
    {"a platform result of 2 MiB strings", IN_MODULE,
     "local s = string.rep('x', 1 << 20) return {s, s, s}", "too large for JSON"},
    /* ctx */
    {"ctx.log of 8 MiB lines", IN_OVERRIDE,
     "local s = string.rep('x', 8 << 20) for i = 1, 100 do ctx.log(s) end return {outcome = 'reject'}",
     NULL},
    {"ctx.customer for a million buyers", IN_OVERRIDE,
     "for i = 1, 1e6 do ctx.customer('b' .. i) end", "instruction budget exceeded in ctx.customer"},
};

/* ---- the set and the calls ---- */

static int lookups;

static json_t *customer(void *ud, const char *buyer) {
    (void)ud;
    lookups++;
    return json_pack("{s:i,s:s}", "returns_30d", 2, "buyer", buyer);
}

static const int64_t NOW = 1767225600;

/* returns.evaluate of a no-reason return delivered 3 days ago, for merchant. */
static int evaluate(pdir *d, const char *merchant, json_t *logs, json_t **out) {
    json_t *args[2] = {json_pack("{s:s,s:s,s:s}", "type", "return", "reason", "no_reason", "buyer_id", "b1"),
                       json_pack("{s:I}", "delivered_at", (json_int_t)(NOW - 3 * 86400))};
    policy_ctx ctx = {.now = NOW, .customer = customer, .log = logs};
    int rc = policy_call(d->ps, merchant, "returns", "evaluate", args, 2, &ctx, out, d->err,
                         sizeof d->err);
    json_decref(args[0]);
    json_decref(args[1]);
    return rc;
}

/* CPU time of this thread (the one the policies run on) and wall time. */
static uint64_t clock_ns(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

typedef struct {
    uint64_t cpu, wall;
} stamp;

static stamp now_ns(void) {
    return (stamp){clock_ns(CLOCK_THREAD_CPUTIME_ID), clock_ns(CLOCK_MONOTONIC)};
}

/* What a call may take: two budgets (an override and the floor), each at
 * most the larger of its time limit and 4 times the measured time of a
 * budget of plain instructions, plus 250 ms for collecting and page faults.
 * That is CPU time; the wall clock, which a loaded machine stretches, gets
 * ten times as much (it catches a hang, not a slow host). */
static uint64_t bound_ns;

static void measure_budget(void) {
    pdir d;
    pdir_up(&d);
    pdir_write(&d, "spin.lua", "return {f = function() " LOOP " end}\n");
    pdir_load_ok(&d);
    json_t *r = NULL;
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        stamp t0 = now_ns();
        assert_int_equal(pdir_call0(&d, NULL, "spin", "f", NULL, &r), -1);
        uint64_t t = now_ns().cpu - t0.cpu;
        if (t < best) best = t;
    }
    pdir_down(&d);
    uint64_t limit = (uint64_t)1000000 * SANDBOX_NS_PER_UNIT; /* the default budget's */
    uint64_t piece = 4 * best > limit ? 4 * best : limit;
    bound_ns = 2 * piece + 250000000u;
    print_message("one budget of instructions: %.1f ms; bound per call: %.0f ms\n", best / 1e6,
                  bound_ns / 1e6);
}

static void write_set(pdir *d, const attack *a) {
    char file[8192];
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "floor.lua", FLOOR);
    pdir_write(d, "routing.lua", ROUTING);
    pdir_write(d, "merchants/m1/returns.lua", M1_RETURNS);
    if (a->at == IN_OVERRIDE)
        snprintf(file, sizeof file, "return {evaluate = function(case, order, ctx)\n%s\nend}\n", a->body);
    else if (a->at == AT_LOAD)
        snprintf(file, sizeof file, "%s\nreturn {}\n", a->body);
    else
        snprintf(file, sizeof file, "return {evaluate = function() return {outcome = 'reject'} end}\n");
    pdir_write(d, "merchants/mleak/returns.lua", file);
    snprintf(file, sizeof file, "return {f = function(ctx)\n%s\nend}\n",
             a->at == IN_MODULE ? a->body : "return 'ok'");
    pdir_write(d, "attack.lua", file);
}

static void check_time(const attack *a, const char *what, stamp t0) {
    stamp t = now_ns();
    uint64_t cpu = t.cpu - t0.cpu, wall = t.wall - t0.wall;
    if (getenv("ATTACK_VERBOSE")) print_message("  %s: %.1f ms (%.1f ms wall)\n", what, cpu / 1e6, wall / 1e6);
    if (cpu > bound_ns || wall > 10 * bound_ns)
        fail_msg("%s: %s took %.0f ms of CPU, %.0f ms (bound %.0f ms)", a->name, what, cpu / 1e6,
                 wall / 1e6, bound_ns / 1e6);
}

static void expect_in(const attack *a, const char *what, const char *text, const char *want) {
    if (text == NULL || strstr(text, want) == NULL)
        fail_msg("%s: %s is '%.300s', expected '%s' in it", a->name, what, text ? text : "(none)", want);
}

/* mleak's call: the floor's approval (with the error on the logs) or the
 * override's own answer raised by the floor. */
static void run_override(pdir *d, const attack *a) {
    json_t *logs = json_array(), *r = NULL;
    stamp t0 = now_ns();
    int rc = evaluate(d, "mleak", logs, &r);
    check_time(a, "the call", t0);
    if (rc != 0) fail_msg("%s: the call failed: %s", a->name, d->err);
    expect_in(a, "the outcome", json_string_value(json_object_get(r, "outcome")), "approve");
    if (a->expect != NULL) {
        expect_in(a, "the answer", json_string_value(json_object_get(r, "by")), "floor");
        expect_in(a, "the log", json_string_value(json_array_get(logs, 0)), a->expect);
    }
    size_t bytes = 0;
    for (size_t i = 0; i < json_array_size(logs); i++)
        bytes += json_string_length(json_array_get(logs, i));
    if (bytes > 20000) fail_msg("%s: %zu bytes of logs", a->name, bytes);
    json_decref(r);
    json_decref(logs);
}

static void run_module(pdir *d, const attack *a) {
    json_t *r = NULL;
    policy_ctx ctx = {.now = NOW, .customer = customer};
    stamp t0 = now_ns();
    int rc = pdir_call0(d, NULL, "attack", "f", &ctx, &r);
    check_time(a, "the call", t0);
    if (strcmp(a->expect, "*") == 0) {
        json_decref(r);
    } else if (a->expect[0] == '=') {
        if (rc != 0) fail_msg("%s: the call failed: %s", a->name, d->err);
        char *s = json_dumps(r, JSON_ENCODE_ANY);
        if (strcmp(s, a->expect + 1) != 0) fail_msg("%s: answered %s, expected %s", a->name, s, a->expect + 1);
        free(s);
        json_decref(r);
    } else {
        if (rc == 0) fail_msg("%s: the call answered", a->name);
        expect_in(a, "the error", d->err, a->expect);
    }
}

/* After the attack: the platform, m1 and mleak's own next call. */
static void others_unaffected(pdir *d, const attack *a) {
    json_t *r = NULL;
    const char *who[] = {NULL, "m1"};
    const char *by[] = {"default", "m1"};
    for (int i = 0; i < 2; i++) {
        int before = lookups;
        if (evaluate(d, who[i], NULL, &r) != 0) fail_msg("%s: then %s failed: %s", a->name, by[i], d->err);
        expect_in(a, "then the outcome", json_string_value(json_object_get(r, "outcome")), "approve");
        expect_in(a, "then the answer", json_string_value(json_object_get(r, "by")), by[i]);
        if (i == 1 && json_integer_value(json_object_get(r, "seen")) != 2)
            fail_msg("%s: m1 saw another customer record", a->name);
        if (i == 1 && lookups != before + 1) fail_msg("%s: m1's ctx.customer was replaced", a->name);
        json_decref(r);
    }
    json_t *kase = json_pack("{s:s}", "type", "return");
    policy_ctx ctx = {.now = NOW};
    if (policy_call(d->ps, "m1", "routing", "route", &kase, 1, &ctx, &r, d->err, sizeof d->err) != 0)
        fail_msg("%s: then routing failed: %s", a->name, d->err);
    expect_in(a, "then the queue", json_string_value(json_object_get(r, "queue")), "after_sales");
    json_decref(r);
    json_decref(kase);
    if (a->at == IN_MODULE) return;
    if (pdir_call0(d, NULL, "attack", "f", NULL, &r) != 0) fail_msg("%s: then attack.f failed", a->name);
    json_decref(r);
}

static void attack_list(void **state) {
    (void)state;
    measure_budget();
    for (size_t i = 0; i < sizeof ATTACKS / sizeof *ATTACKS; i++) {
        const attack *a = &ATTACKS[i];
        if (getenv("ATTACK_VERBOSE")) print_message("%s\n", a->name);
        pdir d;
        pdir_up(&d);
        write_set(&d, a);
        stamp t0 = now_ns();
        int rc = pdir_load(&d);
        check_time(a, "the load", t0);
        if (a->at == AT_LOAD && a->expect != NULL) {
            if (rc == 0) fail_msg("%s: the load succeeded", a->name);
            expect_in(a, "the load error", d.err, a->expect);
            /* the set without the attack loads */
            pdir_write(&d, "merchants/mleak/returns.lua", "return {}\n");
            pdir_load_ok(&d);
        } else if (rc != 0) {
            fail_msg("%s: the load failed: %s", a->name, d.err);
        } else if (a->at == IN_OVERRIDE) {
            run_override(&d, a);
            run_override(&d, a); /* and again: the state is as usable as before */
        } else if (a->at == IN_MODULE) {
            run_module(&d, a);
            run_module(&d, a);
        }
        others_unaffected(&d, a);
        pdir_down(&d);
    }
}

int main(void) {
    alarm(600); /* a budget that does not hold must fail the test, not hang it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attack_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
