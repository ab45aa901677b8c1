/* The metered pattern functions (core/policy/pattern.c) answer what Lua's
 * own string.find, match, gmatch and gsub answer: results, captures,
 * positions and error messages, on hand-picked cases and on generated
 * patterns (malformed ones included) over generated subjects. And their work
 * is charged: all the pattern calls of one policy call share its budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "test_policy_util.h"

/* run(kind, s, p, init): the answer of one pattern function as text. The
 * same chunk runs in a stock Lua state and as a policy module. */
static const char RUNNER[] =
    "local function ser(ok, ...)\n"
    "  local out = {ok and 'ok' or 'error'}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    out[#out + 1] = type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return table.concat(out, '|')\n"
    "end\n"
    "local function all(s, p, init)\n"
    "  local out = {}\n"
    "  for a, b, c in string.gmatch(s, p, init) do\n"
    "    out[#out + 1] = tostring(a) .. ',' .. tostring(b) .. ',' .. tostring(c)\n"
    "    if #out > 100 then break end\n"
    "  end\n"
    "  return table.concat(out, ';')\n"
    "end\n"
    "local function join(...)\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do t[i] = tostring((select(i, ...))) end\n"
    "  return '[' .. table.concat(t, ',') .. ']'\n"
    "end\n"
    "local REPL = {a = 'A', ab = false, [''] = 'E', b = 7}\n"
    "local M = {}\n"
    "function M.run(kind, s, p, init)\n"
    "  if kind == 'find' then return ser(pcall(string.find, s, p, init)) end\n"
    "  if kind == 'plain' then return ser(pcall(string.find, s, p, init, true)) end\n"
    "  if kind == 'match' then return ser(pcall(string.match, s, p, init)) end\n"
    "  if kind == 'gmatch' then return ser(pcall(all, s, p, init)) end\n"
    "  if kind == 'gsub' then return ser(pcall(string.gsub, s, p, '<%0|%1>')) end\n"
    "  if kind == 'gsub_escapes' then return ser(pcall(string.gsub, s, p, '%%-%2')) end\n"
    "  if kind == 'gsub_fn' then return ser(pcall(string.gsub, s, p, join)) end\n"
    "  if kind == 'gsub_table' then return ser(pcall(string.gsub, s, p, REPL)) end\n"
    "  if kind == 'gsub_max' then return ser(pcall(string.gsub, s, p, 'x', init)) end\n"
    "  error('no kind ' .. kind)\n"
    "end\n"
    "return M\n";

static const char *const KINDS[] = {"find",    "plain",        "match",   "gmatch",     "gsub",
                                    "gsub_escapes", "gsub_fn", "gsub_table", "gsub_max"};
#define NKINDS (sizeof KINDS / sizeof *KINDS)

typedef struct {
    pdir d;
    lua_State *stock;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pdir_up(&f->d);
    pdir_write(&f->d, "p.lua", RUNNER);
    pdir_load_ok(&f->d);
    f->stock = luaL_newstate();
    luaL_openlibs(f->stock);
    assert_int_equal(luaL_loadbuffer(f->stock, RUNNER, sizeof RUNNER - 1, "@p.lua"), LUA_OK);
    assert_int_equal(lua_pcall(f->stock, 0, 1, 0), LUA_OK);
    lua_setglobal(f->stock, "P");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    lua_close(f->stock);
    pdir_down(&f->d);
    free(f);
    return 0;
}

static void push_init(lua_State *L, int has_init, long init) {
    if (has_init) lua_pushinteger(L, init);
    else lua_pushnil(L);
}

/* Stock Lua's answer (a new string the caller frees). */
static char *stock_answer(lua_State *L, const char *kind, const char *s, const char *p, int has_init,
                          long init) {
    lua_getglobal(L, "P");
    lua_getfield(L, -1, "run");
    lua_pushstring(L, kind);
    lua_pushstring(L, s);
    lua_pushstring(L, p);
    push_init(L, has_init, init);
    if (lua_pcall(L, 4, 1, 0) != LUA_OK) fail_msg("stock run failed: %s", lua_tostring(L, -1));
    char *out = strdup(lua_tostring(L, -1));
    lua_settop(L, 0);
    return out;
}

/* The policy host's answer (a new string the caller frees). */
static char *sandbox_answer(pdir *d, const char *kind, const char *s, const char *p, int has_init,
                            long init) {
    json_t *args[4] = {json_string(kind), json_string(s), json_string(p),
                       has_init ? json_integer(init) : json_null()};
    json_t *r = NULL;
    policy_ctx ctx = {.now = 0};
    int rc = policy_call(d->ps, NULL, "p", "run", args, 4, &ctx, &r, d->err, sizeof d->err);
    for (int i = 0; i < 4; i++) json_decref(args[i]);
    if (rc != 0) fail_msg("%s(%s, %s): %s", kind, s, p, d->err);
    char *out = strdup(json_string_value(r));
    json_decref(r);
    return out;
}

static void compare(fixture *f, const char *s, const char *p, int has_init, long init) {
    for (size_t k = 0; k < NKINDS; k++) {
        char *want = stock_answer(f->stock, KINDS[k], s, p, has_init, init);
        char *got = sandbox_answer(&f->d, KINDS[k], s, p, has_init, init);
        if (strcmp(want, got) != 0)
            fail_msg("%s('%s', '%s', %ld): stock %s, policy %s", KINDS[k], s, p, has_init ? init : 0,
                     want, got);
        free(want);
        free(got);
    }
}

static void hand_picked_cases_answer_as_lua_does(void **state) {
    fixture *f = *state;
    static const char *const cases[][2] = {
        {"hello world", "o w"},         {"hello world", "(o)(r)"},    {"hello", "()ll()"},
        {"sku-12", "^(%a+)%-(%d+)$"},   {"  trim me  ", "^%s*(.-)%s*$"}, {"THE (quick) fox", "%f[%a]%a+"},
        {"f(a(b)c)d", "%b()"},          {"abcabc", "(abc)%1"},        {"aaa", "a-"},
        {"aaa", "a-$"},                 {"aaa", "^a*"},               {"", ""},
        {"", "^$"},                     {"abc", "$"},                 {"a$b", "a$b"},
        {"a.b", "%."},                  {"x]y", "[]]"},               {"x]y", "[^]]"},
        {"a-b", "[a%-]+"},              {"a-z", "[%a-]+"},            {"hello", "[a-"},
        {"hello", "%"},                 {"hello", "(()"},             {"hello", "%1"},
        {"hello", ")"},                 {"hello", "%b"},              {"hello", "%ba"},
        {"hello", "%f"},                {"hello", "%fa"},             {"hello", "(h)(e)(l)(l)(o)"},
        {"abc", "%g+"},                 {"a\tb", "%c"},               {"ABC def", "%u+ %l+"},
        {"0x1F", "%x+"},                {"a,b;c", "%p"},              {"hello", "[%w_]+"},
        {"one two  three", "%s*"},      {"abc", ".-b"},               {"abc", "b?c"},
        {"aXb", "%Z"},                  {"((a)", "%b()"},             {"^caret", "^^"},
        {"x^y", "x^y"},                 {"aaa", "^"},                 {"hello world from lua", "(%w+) (%w+)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        compare(f, cases[i][0], cases[i][1], 0, 0);
        compare(f, cases[i][0], cases[i][1], 1, 2);
        compare(f, cases[i][0], cases[i][1], 1, -2);
    }
}

/* xorshift: the same cases on every run. */
static uint32_t rng = 2463534242u;
static uint32_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void generated_patterns_answer_as_lua_does(void **state) {
    fixture *f = *state;
    static const char *const items[] = {
        "a", "b", "c", ".", "%a", "%d", "%s", "%w", "%A", "%%", "%.", "[ab]", "[^a]", "[a-c]", "[%d)]",
        "[]]", "[^]a]", "%bab", "%b()", "%f[%w]", "%f[%W]", "(", ")", "()", "%1", "%2", " ", "x", "[a",
        "%", "%b", "%f", "-", "$", "^"};
    static const char *const quantifiers[] = {"", "", "", "*", "+", "-", "?"};
    static const char alphabet[] = "aabbc 1(2)x%.";
    static const long inits[] = {1, 0, -3, 2, 5, 40};
    char p[128], s[32];
    for (int n = 0; n < 1500; n++) {
        size_t pl = 0;
        if (next_rand() % 4 == 0) p[pl++] = '^';
        int nitems = 1 + (int)(next_rand() % 5);
        for (int i = 0; i < nitems; i++) {
            const char *it = items[next_rand() % (sizeof items / sizeof *items)];
            const char *q = quantifiers[next_rand() % (sizeof quantifiers / sizeof *quantifiers)];
            pl += (size_t)snprintf(p + pl, sizeof p - pl, "%s%s", it, q);
        }
        if (next_rand() % 5 == 0) p[pl++] = '$';
        p[pl] = '\0';
        size_t sl = next_rand() % 12;
        for (size_t i = 0; i < sl; i++) s[i] = alphabet[next_rand() % (sizeof alphabet - 1)];
        s[sl] = '\0';
        int has_init = next_rand() % 3 == 0;
        compare(f, s, p, has_init, inits[next_rand() % (sizeof inits / sizeof *inits)]);
    }
}

/* All the pattern calls of one policy call share its budget: each of these
 * alone fits, together they do not. */
static void pattern_calls_share_the_call_budget(void **state) {
    fixture *f = *state;
    pdir_write(&f->d, "q.lua",
               "local text = string.rep('ab', 250)\n"
               "local function one() return text:find('.-x') end\n"
               "return {one = function() return one() == nil end,\n"
               "        many = function(n, ctx) for i = 1, n do one() end return true end}\n");
    pdir_load_ok(&f->d);
    json_t *r = NULL;
    assert_int_equal(pdir_call0(&f->d, NULL, "q", "one", NULL, &r), 0);
    assert_true(json_is_true(r));
    json_decref(r);
    /* 500 starts, each trying every end: over 250,000 steps a search */
    json_t *n = json_integer(10);
    policy_ctx ctx = {.now = 0};
    assert_int_equal(policy_call(f->d.ps, NULL, "q", "many", &n, 1, &ctx, &r, f->d.err, sizeof f->d.err), -1);
    assert_non_null(strstr(f->d.err, "instruction budget exceeded in string.find"));
    json_decref(n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(hand_picked_cases_answer_as_lua_does, setup, teardown),
        cmocka_unit_test_setup_teardown(generated_patterns_answer_as_lua_does, setup, teardown),
        cmocka_unit_test_setup_teardown(pattern_calls_share_the_call_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
