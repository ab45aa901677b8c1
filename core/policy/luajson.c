/* policy/luajson: JSON <-> Lua conversion (rules in luajson.h).
 *
 * Lua -> JSON uses only API calls that cannot raise (raw access, lua_next
 * over a table we do not modify, no number-to-string conversion by Lua), so
 * a half-built JSON value is always freed on the error path instead of being
 * leaked by a longjmp. */
#include "policy/luajson.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void push_value(lua_State *L, const json_t *v, int depth);

static void push_object(lua_State *L, const json_t *v, int depth) {
    lua_createtable(L, 0, (int)json_object_size(v));
    const char *key;
    size_t klen;
    json_t *member;
    void *tmp;
    json_object_keylen_foreach_safe((json_t *)v, tmp, key, klen, member) {
        if (json_is_null(member)) continue;
        lua_pushlstring(L, key, klen);
        push_value(L, member, depth + 1);
        lua_rawset(L, -3);
    }
}

static void push_array(lua_State *L, const json_t *v, int depth) {
    size_t n = json_array_size(v);
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(v, i);
        if (json_is_null(item)) continue; /* a hole: nil cannot be stored */
        push_value(L, item, depth + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static void push_value(lua_State *L, const json_t *v, int depth) {
    if (depth > LUAJSON_MAX_DEPTH) luaL_error(L, "JSON nested deeper than %d levels", LUAJSON_MAX_DEPTH);
    luaL_checkstack(L, 3, "converting JSON");
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: push_object(L, v, depth); break;
    case JSON_ARRAY: push_array(L, v, depth); break;
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, (lua_Number)json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    case JSON_NULL: lua_pushnil(L); break;
    }
}

void luajson_push(lua_State *L, const json_t *v) {
    push_value(L, v, 1);
}

/* Lua -> JSON state: the tables on the current path, for cycle detection. */
typedef struct {
    lua_State *L;
    const void *path[LUAJSON_MAX_DEPTH + 1];
    int depth;
    char *err;
    size_t errlen;
} conv;

static json_t *to_json(conv *c, int idx);

static json_t *fail(conv *c, const char *msg) {
    snprintf(c->err, c->errlen, "%s", msg);
    return NULL;
}

static json_t *number_to_json(conv *c, int idx) {
    lua_State *L = c->L;
    if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
    double d = (double)lua_tonumber(L, idx);
    if (!isfinite(d)) return fail(c, "cannot convert NaN or infinity to JSON");
    /* 2^63 is exact as a double; integral values below it fit in int64. */
    if (floor(d) == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

static json_t *string_to_json(conv *c, int idx) {
    size_t len;
    const char *s = lua_tolstring(c->L, idx, &len);
    json_t *j = json_stringn(s, len);
    return j ? j : fail(c, "string is not valid UTF-8");
}

/* Counts the keys; *seq is set when they are exactly 1..count. */
static size_t count_keys(lua_State *L, int t, int *seq) {
    size_t n = 0;
    int all_int = 1;
    lua_Integer max = 0;
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        n++;
        if (lua_isinteger(L, -2)) {
            lua_Integer k = lua_tointeger(L, -2);
            if (k < 1) all_int = 0;
            else if (k > max) max = k;
        } else {
            all_int = 0;
        }
        lua_pop(L, 1);
    }
    *seq = n > 0 && all_int && (lua_Unsigned)max == (lua_Unsigned)n;
    return n;
}

static json_t *array_to_json(conv *c, int t, size_t n) {
    json_t *a = json_array();
    if (a == NULL) return fail(c, "out of memory");
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(c->L, t, (lua_Integer)i);
        json_t *item = to_json(c, -1);
        lua_pop(c->L, 1);
        if (item == NULL || json_array_append_new(a, item) != 0) {
            json_decref(a);
            return item ? fail(c, "out of memory") : NULL;
        }
    }
    return a;
}

/* One member of an object: the key at -2, the value at -1. */
static int member_to_json(conv *c, json_t *o) {
    lua_State *L = c->L;
    char num[32];
    const char *key;
    size_t klen;
    if (lua_type(L, -2) == LUA_TSTRING) {
        key = lua_tolstring(L, -2, &klen);
    } else if (lua_isinteger(L, -2)) {
        klen = (size_t)snprintf(num, sizeof num, "%" PRId64, (int64_t)lua_tointeger(L, -2));
        key = num;
    } else {
        snprintf(c->err, c->errlen, "cannot convert a table key of type %s to JSON",
                 lua_typename(L, lua_type(L, -2)));
        return -1;
    }
    json_t *v = to_json(c, -1);
    if (v == NULL) return -1;
    if (json_object_setn_new(o, key, klen, v) != 0) {
        snprintf(c->err, c->errlen, "table key is not valid UTF-8");
        return -1;
    }
    return 0;
}

static json_t *object_to_json(conv *c, int t) {
    json_t *o = json_object();
    if (o == NULL) return fail(c, "out of memory");
    lua_pushnil(c->L);
    while (lua_next(c->L, t) != 0) {
        if (member_to_json(c, o) != 0) {
            lua_pop(c->L, 2);
            json_decref(o);
            return NULL;
        }
        lua_pop(c->L, 1);
    }
    return o;
}

static json_t *table_to_json(conv *c, int idx) {
    lua_State *L = c->L;
    int t = lua_absindex(L, idx);
    const void *p = lua_topointer(L, t);
    for (int i = 0; i < c->depth; i++)
        if (c->path[i] == p) return fail(c, "cannot convert a table that contains itself to JSON");
    if (c->depth >= LUAJSON_MAX_DEPTH) return fail(c, "table nested too deep for JSON");
    if (!lua_checkstack(L, 4)) return fail(c, "Lua stack overflow converting to JSON");
    c->path[c->depth++] = p;
    int seq;
    size_t n = count_keys(L, t, &seq);
    json_t *j = n == 0 ? json_object() : seq ? array_to_json(c, t, n) : object_to_json(c, t);
    c->depth--;
    return j;
}

static json_t *to_json(conv *c, int idx) {
    switch (lua_type(c->L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(c->L, idx));
    case LUA_TNUMBER: return number_to_json(c, idx);
    case LUA_TSTRING: return string_to_json(c, idx);
    case LUA_TTABLE: return table_to_json(c, idx);
    default:
        snprintf(c->err, c->errlen, "cannot convert a %s to JSON",
                 lua_typename(c->L, lua_type(c->L, idx)));
        return NULL;
    }
}

json_t *luajson_to_json(lua_State *L, int idx, char *err, size_t errlen) {
    conv c = {.L = L, .depth = 0, .err = err, .errlen = errlen};
    if (errlen > 0) err[0] = '\0';
    json_t *j = to_json(&c, lua_absindex(L, idx));
    if (j == NULL && err[0] == '\0') snprintf(err, errlen, "out of memory");
    return j;
}
