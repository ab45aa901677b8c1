/* JSON <-> Lua conversion rules (policy/luajson.h), both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "policy/luajson.h"
#include "policy/view.h"

/* Protected wrapper: luajson_push raises on input past its limits. */
static int push_deep_fn(lua_State *L) {
    luajson_push(L, lua_touserdata(L, 1));
    return 1;
}

static int setup(void **state) {
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_openlibs(L);
    *state = L;
    return 0;
}

static int teardown(void **state) {
    lua_close(*state);
    return 0;
}

/* Evaluates `return EXPR` and converts the value; NULL with err on failure. */
static json_t *lua_to_json(lua_State *L, const char *expr, char *err, size_t errlen) {
    char src[1024];
    snprintf(src, sizeof src, "return %s", expr);
    assert_int_equal(luaL_dostring(L, src), LUA_OK);
    json_t *j = luajson_to_json(L, -1, err, errlen);
    lua_settop(L, 0);
    return j;
}

/* The compact JSON text of a Lua expression. */
static void expect_json(lua_State *L, const char *expr, const char *want) {
    char err[256];
    json_t *j = lua_to_json(L, expr, err, sizeof err);
    if (j == NULL) fail_msg("%s: %s", expr, err);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    assert_string_equal(s, want);
    free(s);
    json_decref(j);
}

static void expect_refused(lua_State *L, const char *expr, const char *why) {
    char err[256];
    json_t *j = lua_to_json(L, expr, err, sizeof err);
    assert_null(j);
    if (strstr(err, why) == NULL) fail_msg("%s: error '%s' lacks '%s'", expr, err, why);
}

static void lua_scalars_become_json_scalars(void **state) {
    lua_State *L = *state;
    expect_json(L, "nil", "null");
    expect_json(L, "true", "true");
    expect_json(L, "false", "false");
    expect_json(L, "42", "42");
    expect_json(L, "-7", "-7");
    expect_json(L, "1.5", "1.5");
    expect_json(L, "'caf\\u{e9}'", "\"caf\xc3\xa9\"");
}

static void integral_floats_become_integers(void **state) {
    lua_State *L = *state;
    expect_json(L, "3000 / 2", "1500");
    expect_json(L, "2^53", "9007199254740992");
    expect_json(L, "-0.0", "0");
    expect_json(L, "2^63", "9.2233720368547758e18");
}

static void sequences_become_arrays_and_the_rest_objects(void **state) {
    lua_State *L = *state;
    expect_json(L, "{1, 'a', true}", "[1,\"a\",true]");
    expect_json(L, "{}", "{}");
    expect_json(L, "{a = 1, b = {2, 3}}", "{\"a\":1,\"b\":[2,3]}");
    expect_json(L, "{[1] = 'x', [3] = 'z'}", "{\"1\":\"x\",\"3\":\"z\"}");
    expect_json(L, "{'x', k = 'v'}", "{\"1\":\"x\",\"k\":\"v\"}");
    expect_json(L, "{[0] = 'zero'}", "{\"0\":\"zero\"}");
    expect_json(L, "{[-2] = 1}", "{\"-2\":1}");
}

static void unconvertible_values_are_errors(void **state) {
    lua_State *L = *state;
    expect_refused(L, "0/0", "NaN");
    expect_refused(L, "math.huge", "infinity");
    expect_refused(L, "{f = print}", "function");
    expect_refused(L, "{[true] = 1}", "key of type boolean");
    expect_refused(L, "{[1.5] = 1}", "key of type number");
    expect_refused(L, "'\\xff\\xfe'", "UTF-8");
    expect_refused(L, "{['\\xff'] = 1}", "UTF-8");
    expect_refused(L, "coroutine.create(print)", "thread");
}

static void cycles_and_deep_nesting_are_errors(void **state) {
    lua_State *L = *state;
    expect_refused(L, "(function() local t = {} t.self = t return t end)()", "contains itself");
    expect_refused(L, "(function() local t = {} for i = 1, 100 do t = {t} end return t end)()", "too deep");
    /* the same table twice, side by side, is not a cycle */
    expect_json(L, "(function() local s = {1} return {a = s, b = s} end)()", "{\"a\":[1],\"b\":[1]}");
}

/* A result built as t = {t, t} N times is 2^(N+1) values once written out:
 * N = 21 was 2.5 s and 830 MB, N = 26 never answered. Repeated tables count
 * each time, so the conversion stops at the value limit, at once. */
static void shared_tables_count_each_time_they_appear(void **state) {
    lua_State *L = *state;
    expect_json(L, "(function() local t = {1} for i = 1, 3 do t = {t, t} end return t end)()",
                "[[[[1],[1]],[[1],[1]]],[[[1],[1]],[[1],[1]]]]");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_refused(L, "(function() local t = {1} for i = 1, 26 do t = {t, t} end return t end)()",
                   "more than 20000 values");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
}

static void wide_and_long_values_are_refused(void **state) {
    lua_State *L = *state;
    expect_refused(L, "(function() local t = {} for i = 1, 30000 do t['k' .. i] = i end return t end)()",
                   "more than 20000 values");
    expect_refused(L, "(function() local t = {} for i = 1, 30000 do t[i] = i end return t end)()",
                   "more than 20000 values");
    expect_refused(L, "{string.rep('x', 1 << 20), string.rep('y', 1 << 20), 'z'}", "bytes of text");
    expect_refused(L, "{[string.rep('k', 3 << 20)] = 1}", "bytes of text");
    char err[256];
    luajson_work w;
    assert_int_equal(luaL_dostring(L, "return {a = 'xy', b = {1, 2}}"), LUA_OK);
    json_t *j = luajson_to_json_work(L, -1, &w, err, sizeof err);
    assert_non_null(j);
    assert_int_equal(w.values, 5); /* two tables, a string, two numbers */
    assert_int_equal(w.bytes, 4);  /* "a", "b", "xy" */
    json_decref(j);
    lua_settop(L, 0);
}

/* Pushes j in protected mode; the error, or NULL. */
static const char *push_error(lua_State *L, json_t *j) {
    lua_pushcfunction(L, push_deep_fn);
    lua_pushlightuserdata(L, j);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        lua_settop(L, 0);
        return NULL;
    }
    return lua_tostring(L, -1);
}

static void json_to_lua_has_the_same_limits(void **state) {
    lua_State *L = *state;
    json_t *wide = json_array();
    for (int i = 0; i < 20001; i++) json_array_append_new(wide, json_integer(i));
    const char *e = push_error(L, wide);
    assert_non_null(e);
    assert_non_null(strstr(e, "more than 20000 values"));
    lua_settop(L, 0);
    json_decref(wide);
    char *big = malloc((2u << 20) + 2);
    memset(big, 'x', (2u << 20) + 1);
    big[(2u << 20) + 1] = '\0';
    json_t *longstr = json_pack("{s:s}", "description", big);
    e = push_error(L, longstr);
    assert_non_null(e);
    assert_non_null(strstr(e, "bytes of text"));
    lua_settop(L, 0);
    json_decref(longstr);
    free(big);
}

/* A read-only module view converts as the table it shows. */
static int push_view_fn(lua_State *L) {
    view_push(L, 1);
    return 1;
}

static void views_convert_as_their_target(void **state) {
    lua_State *L = *state;
    assert_int_equal(luaL_dostring(L, "return {hours = {{'09:00', '12:00'}}, offset = 1}"), LUA_OK);
    lua_pushcfunction(L, push_view_fn);
    lua_insert(L, 1);
    assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_OK);
    lua_getfield(L, 1, "hours"); /* a view too, read through the first */
    char err[256];
    json_t *whole = luajson_to_json(L, 1, err, sizeof err);
    json_t *hours = luajson_to_json(L, 2, err, sizeof err);
    char *a = json_dumps(whole, JSON_COMPACT | JSON_SORT_KEYS), *b = json_dumps(hours, JSON_COMPACT);
    assert_string_equal(a, "{\"hours\":[[\"09:00\",\"12:00\"]],\"offset\":1}");
    assert_string_equal(b, "[[\"09:00\",\"12:00\"]]");
    free(a);
    free(b);
    json_decref(whole);
    json_decref(hours);
    lua_settop(L, 0);
}

/* Pushes j, then runs `return function(v) return CHECK end` on it. */
static int check_pushed(lua_State *L, const char *json, const char *check) {
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    char src[1024];
    snprintf(src, sizeof src, "return function(v) return %s end", check);
    assert_int_equal(luaL_dostring(L, src), LUA_OK);
    luajson_push(L, j);
    json_decref(j);
    assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_OK);
    int ok = lua_toboolean(L, -1);
    lua_settop(L, 0);
    return ok;
}

static void json_values_become_lua_values(void **state) {
    lua_State *L = *state;
    assert_true(check_pushed(L, "null", "v == nil"));
    assert_true(check_pushed(L, "42", "math.type(v) == 'integer' and v == 42"));
    assert_true(check_pushed(L, "2.5", "math.type(v) == 'float' and v == 2.5"));
    assert_true(check_pushed(L, "\"hi\"", "v == 'hi'"));
    assert_true(check_pushed(L, "[true, false]", "v[1] == true and v[2] == false and #v == 2"));
    assert_true(check_pushed(L, "{\"a\": {\"b\": [1, 2, 3]}}", "#v.a.b == 3 and v.a.b[3] == 3"));
    assert_true(check_pushed(L, "{\"gone\": null, \"k\": 1}",
                             "v.gone == nil and next(v) == 'k' and next(v, 'k') == nil"));
    assert_true(check_pushed(L, "[1, null, 3]", "v[1] == 1 and v[2] == nil and v[3] == 3"));
}


static void deep_json_raises_a_lua_error(void **state) {
    lua_State *L = *state;
    json_t *j = json_array();
    for (int i = 0; i < 100; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, j);
        j = outer;
    }
    lua_pushcfunction(L, push_deep_fn);
    lua_pushlightuserdata(L, j);
    assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_ERRRUN);
    assert_non_null(strstr(lua_tostring(L, -1), "deeper"));
    lua_settop(L, 0);
    json_decref(j);
}

static void round_trip_keeps_a_case(void **state) {
    lua_State *L = *state;
    const char *text = "{\"case_id\":\"c1\",\"opened\":false,\"photos\":[\"https://x/1.jpg\"],"
                       "\"item\":{\"price_cents\":12999,\"qty\":2,\"title\":\"\\u5145\\u7535\\u5668\"},"
                       "\"score\":0.25}";
    json_t *in = json_loads(text, 0, NULL);
    assert_non_null(in);
    luajson_push(L, in);
    char err[256];
    json_t *out = luajson_to_json(L, -1, err, sizeof err);
    assert_non_null(out);
    assert_true(json_equal(in, out));
    json_decref(in);
    json_decref(out);
    lua_settop(L, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(lua_scalars_become_json_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(integral_floats_become_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(sequences_become_arrays_and_the_rest_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(unconvertible_values_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(cycles_and_deep_nesting_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(json_values_become_lua_values, setup, teardown),
        cmocka_unit_test_setup_teardown(deep_json_raises_a_lua_error, setup, teardown),
        cmocka_unit_test_setup_teardown(round_trip_keeps_a_case, setup, teardown),
        cmocka_unit_test_setup_teardown(shared_tables_count_each_time_they_appear, setup, teardown),
        cmocka_unit_test_setup_teardown(wide_and_long_values_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(json_to_lua_has_the_same_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(views_convert_as_their_target, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
