/* Loading a policy set: version, compile errors, sources, describe, and the
 * sandbox's allow-list and read-only globals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <time.h>

#include "test_policy_util.h"

static const char RETURNS[] =
    "local M = {}\n"
    "function M.evaluate(case, order, ctx) return {outcome = 'approve', n = case.n} end\n"
    "return M\n";

static int setup(void **state) {
    pdir *d = malloc(sizeof *d);
    assert_non_null(d);
    pdir_up(d);
    *state = d;
    return 0;
}

static int teardown(void **state) {
    pdir_down(*state);
    free(*state);
    return 0;
}

static void version_is_stable_and_follows_content(void **state) {
    pdir *d = *state;
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "README.md", "not a policy");
    pdir_load_ok(d);
    char v1[65];
    snprintf(v1, sizeof v1, "%s", policy_set_version(d->ps));
    assert_int_equal(strlen(v1), 64);
    pdir_load_ok(d);
    assert_string_equal(policy_set_version(d->ps), v1);
    pdir_write(d, "returns.lua", "return {}\n");
    pdir_load_ok(d);
    assert_string_not_equal(policy_set_version(d->ps), v1);
}

static void version_ignores_tests_but_counts_merchant_files(void **state) {
    pdir *d = *state;
    pdir_write(d, "returns.lua", RETURNS);
    pdir_load_ok(d);
    char v1[65];
    snprintf(v1, sizeof v1, "%s", policy_set_version(d->ps));
    pdir_write(d, "tests/returns_test.lua", "test('x', function() end)\n");
    pdir_load_ok(d);
    assert_string_equal(policy_set_version(d->ps), v1);
    pdir_write(d, "merchants/m1/returns.lua", "return {}\n");
    pdir_load_ok(d);
    assert_string_not_equal(policy_set_version(d->ps), v1);
}

static void syntax_error_names_file_and_line(void **state) {
    pdir *d = *state;
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "routing.lua", "local M = {}\n\nfunction M.route(\nreturn M\n");
    assert_int_equal(pdir_load(d), -1);
    assert_null(d->ps);
    assert_non_null(strstr(d->err, "routing.lua:4:"));
}

static void runtime_error_at_load_names_file_and_line(void **state) {
    pdir *d = *state;
    pdir_write(d, "merchants/m1/sla.lua", "local x = nil\nreturn x.y\n");
    assert_int_equal(pdir_load(d), -1);
    assert_true(strncmp(d->err, "merchants/m1/sla.lua:2:", 23) == 0);
}

static void module_must_return_a_table(void **state) {
    pdir *d = *state;
    pdir_write(d, "returns.lua", "return 42\n");
    assert_int_equal(pdir_load(d), -1);
    assert_string_equal(d->err, "returns.lua: module must return a table");
}

static void missing_directory_fails(void **state) {
    pdir *d = *state;
    policy_config cfg = {.dir = "/nonexistent/policies"};
    assert_int_equal(policy_set_load(&cfg, &d->ps, d->err, sizeof d->err), -1);
    assert_non_null(strstr(d->err, "/nonexistent/policies"));
}

static void sources_replace_add_and_drop_files(void **state) {
    pdir *d = *state;
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "survey.lua", "return {plan = function() return 1 end}\n");
    json_t *src = json_pack("{s:s,s:s,s:n}", "returns.lua",
                            "return {evaluate = function() return 'candidate' end}",
                            "merchants/m1/routing.lua", "return {route = function() return 'm1' end}",
                            "survey.lua");
    assert_int_equal(pdir_load_cfg(d, 0, 0, src), 0);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "returns", "evaluate", NULL, &r), 0);
    assert_string_equal(json_string_value(r), "candidate");
    json_decref(r);
    assert_int_equal(pdir_call0(d, "m1", "routing", "route", NULL, &r), 0);
    assert_string_equal(json_string_value(r), "m1");
    json_decref(r);
    assert_false(policy_has(d->ps, NULL, "survey", "plan"));
    json_decref(src);
}

static void sources_with_bad_names_are_refused(void **state) {
    pdir *d = *state;
    pdir_write(d, "returns.lua", RETURNS);
    json_t *src = json_pack("{s:s}", "../etc/passwd.lua", "return {}");
    assert_int_equal(pdir_load_cfg(d, 0, 0, src), -1);
    assert_non_null(strstr(d->err, "sources"));
    json_decref(src);
}

static void describe_lists_files_with_hashes(void **state) {
    pdir *d = *state;
    pdir_write(d, "returns.lua", RETURNS);
    pdir_write(d, "merchants/m1/returns.lua", "return {}\n");
    pdir_load_ok(d);
    policy_set_set_loaded_at(d->ps, 1767225600);
    json_t *desc = policy_set_describe(d->ps);
    assert_string_equal(json_string_value(json_object_get(desc, "version")),
                        policy_set_version(d->ps));
    assert_int_equal(json_integer_value(json_object_get(desc, "loaded_at")), 1767225600);
    json_t *files = json_object_get(desc, "files");
    assert_int_equal(json_array_size(files), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(files, 0), "name")),
                        "merchants/m1/returns.lua");
    assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(files, 1), "sha256"))), 64);
    json_decref(desc);
}

/* Each name must be nil inside the sandbox. */
static void sandbox_hides_everything_outside_the_allow_list(void **state) {
    pdir *d = *state;
    pdir_write(d, "probe.lua",
               "local M = {}\n"
               "function M.absent()\n"
               "  local found = {}\n"
               "  local checks = {io = io, load = load, loadstring = loadstring, dofile = dofile,\n"
               "    loadfile = loadfile, debug = debug, package = package, print = print,\n"
               "    collectgarbage = collectgarbage, coroutine = coroutine, _G = _G,\n"
               "    execute = os.execute, getenv = os.getenv, remove = os.remove, exit = os.exit,\n"
               "    dump = string.dump, sdump = ('').dump, smt = getmetatable('') or nil}\n"
               "  for k, v in pairs(checks) do found[#found + 1] = k end\n"
               "  return found\n"
               "end\n"
               "function M.present()\n"
               "  return {string.format('%d', 3), table.concat({'a','b'}), math.floor(2.5),\n"
               "    utf8.char(72), type(os.time()), os.date('!%Y', 0), type(os.clock()), _VERSION,\n"
               "    select('#', 1, 2), tostring(tonumber('7')), ('x'):upper()}\n"
               "end\n"
               "return M\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "probe", "absent", NULL, &r), 0);
    char *s = json_dumps(r, 0);
    assert_string_equal(s, "{}"); /* an empty Lua table */
    free(s);
    json_decref(r);
    assert_int_equal(pdir_call0(d, NULL, "probe", "present", NULL, &r), 0);
    s = json_dumps(r, JSON_COMPACT);
    assert_string_equal(s, "[\"3\",\"ab\",2,\"H\",\"number\",\"1970\",\"number\",\"Lua 5.4\",2,\"7\",\"X\"]");
    free(s);
    json_decref(r);
}

static void library_tables_are_read_only(void **state) {
    pdir *d = *state;
    pdir_write(d, "probe.lua",
               "return {poke = function() string.upper = nil end,\n"
               "        gc = function() return setmetatable({}, {__gc = function() end}) end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "probe", "poke", NULL, &r), -1);
    assert_non_null(strstr(d->err, "read-only"));
    assert_int_equal(pdir_call0(d, NULL, "probe", "gc", NULL, &r), -1);
    assert_non_null(strstr(d->err, "__gc"));
}

static void require_returns_the_default_module(void **state) {
    pdir *d = *state;
    pdir_write(d, "a.lua", "local b = require('b')\nreturn {f = function() return b.k + require('b').k end}\n");
    pdir_write(d, "b.lua", "return {k = 20}\n");
    pdir_write(d, "c.lua", "return {f = function() return require('nope') end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "a", "f", NULL, &r), 0);
    assert_int_equal(json_integer_value(r), 40);
    json_decref(r);
    assert_int_equal(pdir_call0(d, NULL, "c", "f", NULL, &r), -1);
    assert_non_null(strstr(d->err, "module 'nope' not found"));
}

static void require_loop_at_load_fails(void **state) {
    pdir *d = *state;
    pdir_write(d, "a.lua", "require('b')\nreturn {}\n");
    pdir_write(d, "b.lua", "require('a')\nreturn {}\n");
    assert_int_equal(pdir_load(d), -1);
    assert_non_null(strstr(d->err, "requires itself"));
}

static void global_assignment_is_blocked_after_load(void **state) {
    pdir *d = *state;
    pdir_write(d, "g.lua",
               "counter = 0\n"
               "return {bump = function() counter = counter + 1 return counter end,\n"
               "        fresh = function() newglobal = 1 end,\n"
               "        read = function() return counter end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "g", "bump", NULL, &r), -1);
    assert_non_null(strstr(d->err, "assignment to global 'counter' is not allowed"));
    assert_int_equal(pdir_call0(d, NULL, "g", "fresh", NULL, &r), -1);
    assert_non_null(strstr(d->err, "assignment to global 'newglobal' is not allowed"));
    assert_int_equal(pdir_call0(d, NULL, "g", "read", NULL, &r), 0);
    assert_int_equal(json_integer_value(r), 0);
    json_decref(r);
}

/* The matcher runs in C, but its steps are charged to the call's budget: a
 * backtracking search fails with the budget error in milliseconds, and a
 * pattern that is fast on a long text runs, however many quantifiers it has
 * (a plain find is linear; in gmatch a leading ^ is a character). */
static void costly_patterns_stop_at_the_budget_ordinary_ones_run(void **state) {
    pdir *d = *state;
    pdir_write(d, "p.lua",
               "local big = string.rep('a', 3000)\n"
               "local desc = string.rep('x', 20000) .. 'not really working'\n"
               "local paren = string.rep('(', 60000)\n"
               "local q = '^' .. string.rep('a?', 40) .. string.rep('a', 40) .. 'b'\n"
               "local padded = '  ' .. string.rep('word ', 4000) .. ' '\n"
               "return {bad = function() return big:find('.-.-.-.-b') end,\n"
               "        bad_lazy = function() return string.rep('a', 31000):find('a-b') end,\n"
               "        bad_gsub = function() return (big:gsub('a-a-a-b', '')) end,\n"
               "        bad_optional = function() return (string.rep('a', 40)):find(q) end,\n"
               "        bad_balance = function() return paren:find('%b()%b()') end,\n"
               "        bad_backref = function() return big:find('(.-)%1%1b') end,\n"
               "        bad_gmatch = function() for _ in big:gmatch('.-.-.-b') do end end,\n"
               "        ok = function()\n"
               "          local a, n = ('sku-12'):match('^(%a+)%-(%d+)$')\n"
               "          local words = 0\n"
               "          for _ in ('one two three'):gmatch('%a+') do words = words + 1 end\n"
               "          return {a, n, desc:find('not .- working') ~= nil, words,\n"
               "                  big:find('.-.-.-.-b', 1, true) == nil, (('a.b'):gsub('%.', '-')),\n"
               "                  #padded:match('^%s*(.-)%s*$'), select(2, padded:gsub('%a+', '%0')),\n"
               "                  string.rep('a', 1e6):find(string.rep('a', 5e5) .. 'b', 1, true) == nil,\n"
               "                  big:gmatch('^.-.-b')() == nil}\n"
               "        end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *bad[] = {"bad", "bad_lazy", "bad_gsub", "bad_optional", "bad_balance",
                         "bad_backref", "bad_gmatch"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(pdir_call0(d, NULL, "p", bad[i], NULL, &r), -1);
        if (strstr(d->err, "instruction budget exceeded in string.") == NULL)
            fail_msg("%s: %s", bad[i], d->err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2); /* seven budgets, not hours */
    assert_int_equal(pdir_call0(d, NULL, "p", "ok", NULL, &r), 0);
    json_t *want = json_pack("[s,s,b,i,b,s,i,i,b,b]", "sku", "12", 1, 3, 1, "a-b", 5 * 4000 - 1, 4000, 1, 1);
    assert_true(json_equal(r, want));
    json_decref(want);
    json_decref(r);
}

/* rawset on the sealed env or a library proxy would outlive the call. */
static void rawset_cannot_write_globals_or_libraries(void **state) {
    pdir *d = *state;
    pdir_write(d, "r.lua",
               "return {global = function() rawset(_ENV, 'x', (rawget(_ENV, 'x') or 0) + 1) return x end,\n"
               "        lib = function() rawset(string, 'format', function() return 'evil' end) end,\n"
               "        fmt = function() return string.format('%d', 7) end,\n"
               "        own = function() local t = {} rawset(t, 'k', 2) return t.k end}\n");
    pdir_load_ok(d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(d, NULL, "r", "global", NULL, &r), -1);
    assert_non_null(strstr(d->err, "rawset on a protected table is not allowed"));
    assert_int_equal(pdir_call0(d, NULL, "r", "lib", NULL, &r), -1);
    assert_non_null(strstr(d->err, "rawset on a protected table is not allowed"));
    assert_int_equal(pdir_call0(d, NULL, "r", "fmt", NULL, &r), 0);
    assert_string_equal(json_string_value(r), "7");
    json_decref(r);
    assert_int_equal(pdir_call0(d, NULL, "r", "own", NULL, &r), 0); /* a policy's own table: fine */
    assert_int_equal(json_integer_value(r), 2);
    json_decref(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rawset_cannot_write_globals_or_libraries, setup, teardown),
        cmocka_unit_test_setup_teardown(costly_patterns_stop_at_the_budget_ordinary_ones_run, setup, teardown),
        cmocka_unit_test_setup_teardown(version_is_stable_and_follows_content, setup, teardown),
        cmocka_unit_test_setup_teardown(version_ignores_tests_but_counts_merchant_files, setup, teardown),
        cmocka_unit_test_setup_teardown(syntax_error_names_file_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(runtime_error_at_load_names_file_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(module_must_return_a_table, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_directory_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(sources_replace_add_and_drop_files, setup, teardown),
        cmocka_unit_test_setup_teardown(sources_with_bad_names_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(describe_lists_files_with_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(sandbox_hides_everything_outside_the_allow_list, setup, teardown),
        cmocka_unit_test_setup_teardown(library_tables_are_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(require_returns_the_default_module, setup, teardown),
        cmocka_unit_test_setup_teardown(require_loop_at_load_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(global_assignment_is_blocked_after_load, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
