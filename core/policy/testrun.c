/* policy/testrun: `aftersaled policy test DIR`, the policy set's own tests.
 *
 * The set is loaded exactly as the server loads it; then each tests/NAME.lua
 * runs in its own writable env over the harness globals (test, eq, ok,
 * policy, make_ctx, ctx_logs, DAY, HOUR) and the sandbox base. Registered
 * tests run after their file, in order, each under its own (larger) budget.
 * Output is one "ok - FILE: NAME" / "not ok - FILE: NAME: ERROR" line per
 * test and a final "P passed, F failed" line, which CI parses. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "policy/fileset.h"
#include "policy/luajson.h"
#include "policy/policy_impl.h"
#include "policy/view.h"

/* Each test (and each test file's top level) runs on 50 call budgets; the
 * whole run, files and tests together, on TEST_RUN_FACTOR call budgets, with
 * the wall-clock time those allow, and at most TEST_MAX tests: a test file
 * can declare tests in a loop, and a reload waits for the run. */
#define TEST_BUDGET_FACTOR 50
#define TEST_RUN_FACTOR 200
#define TEST_MAX 2000

/* The harness, in Lua because it is mostly table walking. Receives the
 * defaults registry, the ctx calendar functions and its C helpers (view,
 * unview, jsoncopy, logstate, logline, defines, instance below). */
static const char HARNESS[] =
    "local defaults, bsecs, addbsecs, view, unview, jsoncopy, logstate, logline, defines, instance = ...\n"
    "local H, tests = {DAY = 86400, HOUR = 3600}, {}\n"
    "function H.test(name, fn)\n"
    "  if type(name) ~= 'string' or type(fn) ~= 'function' then\n"
    "    error('test(name, fn) needs a name and a function', 2) end\n"
    "  tests[#tests + 1] = {name, fn}\n"
    "end\n"
    "local function key_lt(a, b)\n"
    "  local ta, tb = type(a), type(b)\n"
    "  if ta ~= tb then return ta < tb end\n"
    "  if ta == 'number' or ta == 'string' then return a < b end\n"
    "  return tostring(a) < tostring(b)\n"
    "end\n"
    "local function repr(v, depth)\n"
    "  if type(v) == 'string' then return (string.format('%q', v):gsub('\\\\\\n', '\\\\n')) end\n"
    "  if type(v) ~= 'table' then return tostring(v) end\n"
    "  if depth > 8 then return '{...}' end\n"
    "  local keys, parts, n = {}, {}, #v\n"
    "  for k in pairs(v) do keys[#keys + 1] = k end\n"
    "  table.sort(keys, key_lt)\n"
    "  for _, k in ipairs(keys) do\n"
    "    if math.type(k) == 'integer' and k >= 1 and k <= n then parts[#parts + 1] = repr(v[k], depth + 1)\n"
    "    elseif type(k) == 'string' and k:match('^[%a_][%w_]*$') then\n"
    "      parts[#parts + 1] = k .. ' = ' .. repr(v[k], depth + 1)\n"
    "    else parts[#parts + 1] = '[' .. repr(k, depth + 1) .. '] = ' .. repr(v[k], depth + 1) end\n"
    "  end\n"
    "  return '{' .. table.concat(parts, ', ') .. '}'\n"
    "end\n"
    "local function deq(a, b, seen)\n"
    "  a, b = unview(a), unview(b)\n"
    "  if a == b then return true end\n"
    "  if type(a) ~= 'table' or type(b) ~= 'table' then return false end\n"
    "  if seen[a] == b then return true end\n"
    "  seen[a] = b\n"
    "  for k, v in pairs(a) do if not deq(v, rawget(b, k), seen) then return false end end\n"
    "  for k in pairs(b) do if rawget(a, k) == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "function H.eq(actual, expected, msg)\n"
    "  if deq(actual, expected, {}) then return end\n"
    "  error((msg ~= nil and tostring(msg) .. ': ' or '') .. 'expected ' .. repr(expected, 0)\n"
    "        .. ' got ' .. repr(actual, 0), 2)\n"
    "end\n"
    "function H.ok(value, msg)\n"
    "  if value then return end\n"
    "  error(msg ~= nil and tostring(msg) or 'expected a true value, got ' .. repr(value, 0), 2)\n"
    "end\n"
    /* policy.merchant(id).<module>.<fn>: resolved like policy_call: an
     * override's function or value comes from a new instance of its module
     * each time (instance), what it defines from the load (defines). */
    "local function resolve(id, name, fn)\n"
    "  local t, d = defines(id, name, fn), rawget(defaults, name)\n"
    "  local dv = d ~= nil and rawget(d, fn) or nil\n"
    "  if t == 'function' then\n"
    "    local function v(...) return rawget(instance(id, name), fn)(...) end\n"
    "    local floor = rawget(defaults, 'floor')\n"
    "    local ff = type(floor) == 'table' and rawget(floor, name .. '_' .. fn) or nil\n"
    "    if type(ff) ~= 'function' then return v end\n"
    /* as the server: the floor gets copies of the inputs and of the
     * override's result through JSON; an override that raises (or answers
     * what JSON cannot hold) gives the floor nil, and the error goes to the
     * call's logs */
    "    return function(...)\n"
    "      local n, args, copies = select('#', ...), table.pack(...), {}\n"
    "      for i = 1, n - 1 do copies[i] = jsoncopy(args[i]) end\n"
    "      copies[n] = args[n]\n"
    "      local ok, r = pcall(function() return jsoncopy((v(table.unpack(args, 1, n)))) end)\n"
    "      if not ok then\n"
    "        local ctx = args[n]\n"
    "        if type(ctx) == 'table' and type(ctx.log) == 'function' then\n"
    "          ctx.log('merchant ' .. name .. '.' .. fn .. ' failed, the floor answered: ' .. tostring(r))\n"
    "        end\n"
    "        r = nil\n"
    "      end\n"
    "      return (ff(r, table.unpack(copies, 1, n)))\n"
    "    end\n"
    "  end\n"
    "  if type(dv) == 'function' or t == nil then return dv end\n"
    "  return rawget(instance(id, name), fn)\n"
    "end\n"
    "local function merchant(id)\n"
    "  return setmetatable({}, {__index = function(_, name)\n"
    "    if not defines(id, name) and rawget(defaults, name) == nil then return nil end\n"
    "    return setmetatable({}, {__index = function(_, fn) return resolve(id, name, fn) end})\n"
    "  end})\n"
    "end\n"
    "H.policy = setmetatable({merchant = merchant}, {__index = function(_, name)\n"
    "  local m = rawget(defaults, name)\n"
    "  if m ~= nil then return view(m) end\n"
    "end})\n"
    "local logs = setmetatable({}, {__mode = 'k'})\n"
    "function H.make_ctx(t)\n"
    "  t = t or {}\n"
    "  local now, customers, lines, st = t.now or 1767225600, t.customers or {}, {}, logstate()\n"
    "  local fields = {now = now, merchant_id = t.merchant_id,\n"
    "    days_since = function(ts) return (now - ts) / 86400 end,\n"
    "    business_seconds = bsecs, add_business_seconds = addbsecs,\n"
    "    customer = function(id)\n"
    "      if id == nil then return nil end\n" /* as the server's ctx.customer */
    "      if type(id) ~= 'string' then\n"
    "        error(\"bad argument #1 to 'customer' (string expected, got \" .. type(id) .. \")\", 2)\n"
    "      end\n"
    "      local c = customers[id]\n"
    "      if c ~= nil then return c end\n"
    "      return {returns_30d = 0, cases_30d = 0, lifetime_spend_cents = 0}\n"
    "    end,\n"
    "    log = function(msg) logline(lines, st, msg) end}\n"
    "  local ctx = setmetatable({}, {__index = fields, __metatable = false,\n"
    "    __newindex = function(_, k) error(\"ctx is read-only (field '\" .. tostring(k) .. \"')\", 2) end,\n"
    "    __pairs = function() return function(_, k) return next(fields, k) end, nil, nil end})\n"
    "  logs[ctx] = lines\n"
    "  return ctx\n"
    "end\n"
    "function H.ctx_logs(ctx) return logs[ctx] or {} end\n"
    "return H, function() local t = tests; tests = {}; return t end\n";

typedef struct {
    policy_set *ps;
    int globals_ref;  /* the harness globals, falling back to the base */
    int take_ref;     /* take(): the tests registered since the last take */
    const pfile *file;
    FILE *out;
    int passed, failed;
    const policy_test_opts *opts;
    json_t *failures;    /* [{file, test, error}] */
    uint64_t units_left; /* of the whole run */
    uint64_t ns_left;
    int stopped;         /* the run's budget is spent or TEST_MAX tests ran */
} runner;

/* view(t): the read-only view of a module (policy.<module>, as require). */
static int h_view(lua_State *L) {
    view_push(L, 1);
    return 1;
}

/* unview(v): the table a view shows (eq compares modules by content, raw),
 * else v. */
static int h_unview(lua_State *L) {
    lua_settop(L, 1);
    view_target(L, 1);
    return 1;
}

/* jsoncopy(v): v converted to JSON and back, as the server gives the floor
 * its inputs and the override's result; raises for what JSON cannot hold. */
static int h_jsoncopy(lua_State *L) {
    policy_set *ps = lua_touserdata(L, lua_upvalueindex(1));
    char err[200];
    luajson_work w;
    lua_settop(L, 1);
    json_t *j = luajson_to_json_work(L, 1, &w, err, sizeof err);
    if (j == NULL) return luaL_error(L, "a value JSON cannot hold: %s", err);
    json_decref(ps->tmp_json);
    ps->tmp_json = j; /* freed with the set if the push raises */
    luajson_push(L, j);
    ps->tmp_json = NULL;
    json_decref(j);
    policy_charge_conversion(L, &w);
    return 1;
}

/* logstate(): what one make_ctx ctx logged, for logline. */
static int h_logstate(lua_State *L) {
    ctx_log *st = lua_newuserdatauv(L, sizeof *st, 0);
    memset(st, 0, sizeof *st);
    st->summary = -1;
    return 1;
}

/* logline(lines, st, msg): ctx.log of a make_ctx ctx, with the server's
 * limits (ctx_log_clip). */
static int h_logline(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    ctx_log *st = lua_touserdata(L, 2);
    if (st == NULL || lua_rawlen(L, 2) != sizeof *st) return luaL_error(L, "logline: bad state");
    size_t len;
    const char *s = luaL_tolstring(L, 3, &len);
    char line[CTX_LOG_OUT_MAX];
    long n = ctx_log_clip(st, s, len, line);
    sandbox_charge(L, 1 + (n > 0 ? (uint64_t)n / ALLOC_BYTES_PER_UNIT : 0), "ctx.log");
    lua_Integer at = (lua_Integer)lua_rawlen(L, 1) + 1;
    if (n >= 0) {
        lua_pushlstring(L, line, (size_t)n);
    } else {
        ctx_log_summary(st, line, sizeof line);
        if (st->summary < 0) st->summary = (long)at;
        at = st->summary;
        lua_pushstring(L, line);
    }
    lua_rawseti(L, 1, at);
    return 0;
}

/* defines(id, module[, fn]): the type name of what merchant id's module
 * defines as fn (nil: nothing); without fn, true if it overrides module. */
static int h_defines(lua_State *L) {
    policy_set *ps = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1), *module = luaL_checkstring(L, 2);
    const char *fn = luaL_optstring(L, 3, NULL);
    int t = merchant_defines(L, ps, id, module, fn);
    if (t == LUA_TNONE) return 0;
    if (fn == NULL) lua_pushboolean(L, 1);
    else lua_pushstring(L, lua_typename(L, t));
    return 1;
}

/* instance(id, module): a new instance of merchant id's module. */
static int h_instance(lua_State *L) {
    policy_set *ps = lua_touserdata(L, lua_upvalueindex(1));
    merchant_instance(L, ps, luaL_checkstring(L, 1), luaL_checkstring(L, 2));
    return 1;
}

/* Protected: runs the harness chunk and keeps what it returns. */
static int harness_body(lua_State *L) {
    runner *r = lua_touserdata(L, 1);
    policy_set *ps = r->ps;
    if (luaL_loadbufferx(L, HARNESS, sizeof HARNESS - 1, "=harness", "t") != LUA_OK) lua_error(L);
    sandbox_push_base(&ps->sb);
    sandbox_push_writable_env(&ps->sb, -1);
    lua_remove(L, -2);
    lua_setupvalue(L, -2, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->defaults_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->ctx_fields_ref);
    lua_getfield(L, -1, "business_seconds");
    lua_getfield(L, -2, "add_business_seconds");
    lua_remove(L, -3);
    lua_pushcfunction(L, h_view);
    lua_pushcfunction(L, h_unview);
    lua_pushlightuserdata(L, ps);
    lua_pushcclosure(L, h_jsoncopy, 1);
    lua_pushcfunction(L, h_logstate);
    lua_pushcfunction(L, h_logline);
    lua_pushlightuserdata(L, ps);
    lua_pushcclosure(L, h_defines, 1);
    lua_pushlightuserdata(L, ps);
    lua_pushcclosure(L, h_instance, 1);
    lua_call(L, 10, 2);
    r->take_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 1);
    sandbox_push_base(&ps->sb);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    r->globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Protected: runs one test file and returns the list of tests it declared. */
static int file_body(lua_State *L) {
    runner *r = lua_touserdata(L, 1);
    char chunkname[1100];
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->take_ref);
    lua_call(L, 0, 0); /* forget what a failed file left behind */
    snprintf(chunkname, sizeof chunkname, "@%s", r->file->name);
    if (luaL_loadbufferx(L, r->file->text, r->file->len, chunkname, "t") != LUA_OK) lua_error(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->globals_ref);
    sandbox_push_writable_env(&r->ps->sb, -1);
    lua_remove(L, -2);
    lua_setupvalue(L, -2, 1);
    lua_call(L, 0, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->take_ref);
    lua_call(L, 0, 1);
    return 1;
}

/* One line for the test output: newlines of an error become spaces. */
static void report(runner *r, int ok, const char *name, const char *msg) {
    if (ok) r->passed++;
    else r->failed++;
    if (!ok && r->failures && json_array_size(r->failures) < POLICY_TEST_FAILURES_MAX)
        json_array_append_new(r->failures, json_pack("{s:s?,s:s?,s:s}", "file", r->file ? r->file->name : NULL,
                                                     "test", name ? name : r->file ? "(top level)" : NULL, "error", msg));
    if (r->out == NULL) return;
    fprintf(r->out, "%s - %s", ok ? "ok" : "not ok", r->file ? r->file->name : "tests");
    if (name) fprintf(r->out, ": %s", name);
    if (!ok) {
        fputs(": ", r->out);
        for (const char *p = msg; *p; p++) fputc(*p == '\n' || *p == '\r' ? ' ' : *p, r->out);
    }
    fputc('\n', r->out);
}

static uint64_t mul_sat(uint64_t a, uint64_t b) {
    return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* sandbox_run on the run's budget: a test file's top level or one test gets
 * TEST_BUDGET_FACTOR call budgets, or what the run has left. */
static int run_piece(runner *r, int nargs, int nres, int traceback, char *err, size_t errlen) {
    sandbox *sb = &r->ps->sb;
    uint64_t budget = mul_sat(r->ps->budget, TEST_BUDGET_FACTOR);
    if (budget > r->units_left) budget = r->units_left;
    sb->time_cap_ns = r->ns_left;
    uint64_t t0 = sandbox_cpu_ns();
    int rc = sandbox_run(sb, nargs, nres, budget, traceback, err, errlen);
    uint64_t spent = sandbox_spent(sb), took = sandbox_cpu_ns() - t0;
    r->units_left -= spent < r->units_left ? spent : r->units_left;
    r->ns_left -= took < r->ns_left ? took : r->ns_left;
    sb->time_cap_ns = 0;
    return rc;
}

/* Stops the run once its budget is spent, or TEST_MAX tests ran. */
static int run_over(runner *r) {
    if (r->stopped) return 1;
    if (r->units_left > 0 && r->ns_left > 0 && r->passed + r->failed < TEST_MAX) return 0;
    r->stopped = 1;
    const pfile *f = r->file;
    r->file = NULL;
    char why[160];
    if (r->passed + r->failed >= TEST_MAX)
        snprintf(why, sizeof why, "too many tests: a run stops after %d", TEST_MAX);
    else
        snprintf(why, sizeof why, "the test run's budget is spent: the remaining tests did not run");
    report(r, 0, NULL, why);
    r->file = f;
    return 1;
}
/* The test `name` of the current file passes opts->filter ("FILE: NAME"
 * contains it). */
static int selected(const runner *r, const char *name) {
    const char *f = r->opts ? r->opts->filter : NULL;
    if (f == NULL || *f == '\0') return 1;
    char full[1600];
    snprintf(full, sizeof full, "%s: %s", r->file ? r->file->name : "", name);
    return strstr(full, f) != NULL;
}

/* Runs the tests of the list at the top of the stack, then pops it. */
static void run_list(runner *r) {
    lua_State *L = r->ps->sb.L;
    int list = lua_gettop(L);
    char name[512], err[2048];
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, list); i++) {
        if (!lua_checkstack(L, 4) || run_over(r)) break;
        lua_rawgeti(L, list, i);
        lua_rawgeti(L, -1, 1);
        snprintf(name, sizeof name, "%s", lua_tostring(L, -1));
        if (!selected(r, name)) {
            lua_settop(L, list);
            continue;
        }
        lua_rawgeti(L, -2, 2);
        lua_replace(L, list + 1);
        lua_settop(L, list + 1);
        int rc = run_piece(r, 0, 0, 0, err, sizeof err);
        report(r, rc == 0, name, err);
        lua_settop(L, list);
    }
    lua_settop(L, list - 1);
    lua_gc(L, LUA_GCCOLLECT);
}

static void run_file(runner *r, const pfile *f) {
    lua_State *L = r->ps->sb.L;
    char err[2048];
    r->file = f;
    if (run_over(r)) return;
    lua_settop(L, 0);
    lua_pushcfunction(L, file_body);
    lua_pushlightuserdata(L, r);
    if (run_piece(r, 1, 1, 0, err, sizeof err) != 0) {
        report(r, 0, NULL, err);
        return;
    }
    run_list(r);
}

static int run_all(runner *r, const pfiles *tests, char *err, size_t errlen) {
    lua_State *L = r->ps->sb.L;
    lua_settop(L, 0);
    lua_pushcfunction(L, harness_body);
    lua_pushlightuserdata(L, r);
    if (run_piece(r, 1, 0, 1, err, errlen) != 0) return -1;
    for (size_t i = 0; i < tests->n; i++) {
        if (r->opts && r->opts->only && strcmp(r->opts->only, tests->v[i].name) != 0) continue;
        run_file(r, &tests->v[i]);
    }
    return 0;
}

/* opts->only names a test file of the set. */
static int only_known(const policy_test_opts *opts, const pfiles *tests, char *err, size_t errlen) {
    if (opts == NULL || opts->only == NULL) return 0;
    for (size_t i = 0; i < tests->n; i++)
        if (strcmp(tests->v[i].name, opts->only) == 0) return 0;
    snprintf(err, errlen, "%.200s: no such test file in the set", opts->only);
    return -1;
}

int policy_test_run(const policy_config *cfg, const policy_test_opts *opts, FILE *out, policy_test_result *res,
                    char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    res->failures = json_array();
    runner r = {.out = out, .globals_ref = LUA_NOREF, .take_ref = LUA_NOREF, .opts = opts,
                .failures = res->failures};
    pfiles tests;
    if (policy_set_load(cfg, &r.ps, err, errlen) != 0 ||
        fileset_gather(cfg->dir, cfg->sources, FILESET_TESTS, !cfg->lax, &tests, err, errlen) != 0) {
        if (out) fprintf(out, "not ok - load: %s\n0 passed, 1 failed\n", err);
        json_array_append_new(res->failures, json_pack("{s:n,s:s,s:s}", "file", "test", "load", "error", err));
        policy_set_free(r.ps);
        res->failed = 1;
        return -1;
    }
    if (only_known(opts, &tests, err, errlen) != 0) {
        fileset_free(&tests);
        policy_set_free(r.ps);
        return -1;
    }
    r.units_left = mul_sat(r.ps->budget, TEST_RUN_FACTOR);
    r.ns_left = mul_sat(r.units_left, SANDBOX_NS_PER_UNIT);
    int rc = run_all(&r, &tests, err, errlen);
    for (size_t i = 0; i < tests.n; i++)
        res->files += !(opts && opts->only && strcmp(opts->only, tests.v[i].name) != 0);
    fileset_free(&tests);
    policy_set_free(r.ps);
    res->passed = r.passed;
    res->failed = r.failed + (rc != 0);
    if (out) fprintf(out, "%d passed, %d failed\n", res->passed, res->failed);
    if (rc == 0 && r.failed > 0)
        snprintf(err, errlen, "%d of %d policy tests failed", r.failed, r.passed + r.failed);
    return rc == 0 && r.failed == 0 ? 0 : -1;
}

int policy_run_tests(const policy_config *cfg, FILE *out, int *passed, int *failed, char *err,
                     size_t errlen) {
    policy_test_result res;
    int rc = policy_test_run(cfg, NULL, out, &res, err, errlen);
    *passed = res.passed;
    *failed = res.failed;
    json_decref(res.failures);
    return rc;
}
