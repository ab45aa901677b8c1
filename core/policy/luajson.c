/* policy/luajson: JSON <-> Lua conversion (rules in luajson.h).
 *
 * Lua -> JSON uses only API calls that cannot raise (raw access, lua_next
 * over a table we do not modify, no number-to-string conversion by Lua), so
 * a half-built JSON value is always freed on the error path instead of being
 * leaked by a longjmp. Both ways count values and bytes as they go and stop
 * at the limits, so the work is bounded before it is done, not after. */
#include "policy/luajson.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy/view.h"

/* ---- JSON -> Lua ---- */

typedef struct {
    size_t values, bytes;
} push_count;

static void push_value(lua_State *L, const json_t *v, int depth, push_count *n);

/* One more value (and len bytes of text) pushed; raises past the limits. */
static void count_push(lua_State *L, push_count *n, size_t len) {
    if (++n->values > LUAJSON_MAX_VALUES)
        luaL_error(L, "JSON value too large: more than %d values", LUAJSON_MAX_VALUES);
    n->bytes += len;
    if (n->bytes > LUAJSON_MAX_BYTES)
        luaL_error(L, "JSON value too large: more than %d bytes of text", (int)LUAJSON_MAX_BYTES);
}

static void push_object(lua_State *L, const json_t *v, int depth, push_count *n) {
    lua_createtable(L, 0, (int)json_object_size(v));
    const char *key;
    size_t klen;
    json_t *member;
    void *tmp;
    json_object_keylen_foreach_safe((json_t *)v, tmp, key, klen, member) {
        if (json_is_null(member)) continue;
        n->bytes += klen;
        lua_pushlstring(L, key, klen);
        push_value(L, member, depth + 1, n);
        lua_rawset(L, -3);
    }
}

static void push_array(lua_State *L, const json_t *v, int depth, push_count *n) {
    size_t len = json_array_size(v);
    lua_createtable(L, len > LUAJSON_MAX_VALUES ? 0 : (int)len, 0);
    for (size_t i = 0; i < len; i++) {
        const json_t *item = json_array_get(v, i);
        if (json_is_null(item)) continue; /* a hole: nil cannot be stored */
        push_value(L, item, depth + 1, n);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static void push_value(lua_State *L, const json_t *v, int depth, push_count *n) {
    if (depth > LUAJSON_MAX_DEPTH) luaL_error(L, "JSON nested deeper than %d levels", LUAJSON_MAX_DEPTH);
    luaL_checkstack(L, 3, "converting JSON");
    size_t len = json_is_string(v) ? json_string_length(v) : 0;
    count_push(L, n, len);
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: push_object(L, v, depth, n); break;
    case JSON_ARRAY: push_array(L, v, depth, n); break;
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), len); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, (lua_Number)json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    case JSON_NULL: lua_pushnil(L); break;
    }
}

void luajson_push(lua_State *L, const json_t *v) {
    push_count n = {0, 0};
    push_value(L, v, 1, &n);
}

/* ---- Lua -> JSON ---- */

/* The tables on the current path (cycle detection) and the work so far. */
typedef struct {
    lua_State *L;
    const void *path[LUAJSON_MAX_DEPTH + 1];
    int depth;
    luajson_work work;
    char *err;
    size_t errlen;
} conv;

static json_t *to_json(conv *c, int idx);

static json_t *fail(conv *c, const char *msg) {
    snprintf(c->err, c->errlen, "%s", msg);
    return NULL;
}

/* One more value (and len bytes of text); 0, or -1 past the limits. */
static int count(conv *c, size_t len) {
    if (++c->work.values > LUAJSON_MAX_VALUES) {
        snprintf(c->err, c->errlen, "too large for JSON: more than %d values (a table used "
                 "twice counts twice)", LUAJSON_MAX_VALUES);
        return -1;
    }
    c->work.bytes += len;
    if (c->work.bytes > LUAJSON_MAX_BYTES) {
        snprintf(c->err, c->errlen, "too large for JSON: more than %d bytes of text",
                 (int)LUAJSON_MAX_BYTES);
        return -1;
    }
    return 0;
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
    if (count(c, len) != 0) return NULL;
    json_t *j = json_stringn(s, len);
    return j ? j : fail(c, "string is not valid UTF-8");
}

/* Counts the keys, stopping past the value limit; *seq is set when they are
 * exactly 1..count. */
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
        if (n > LUAJSON_MAX_VALUES) {
            lua_pop(L, 1);
            break;
        }
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
    c->work.bytes += klen;
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
    if (!lua_checkstack(L, 6)) return fail(c, "Lua stack overflow converting to JSON");
    int t = lua_absindex(L, idx);
    int viewed = view_target(L, t);
    if (viewed) t = lua_gettop(L);
    const void *p = lua_topointer(L, t);
    json_t *j = NULL;
    for (int i = 0; i < c->depth; i++)
        if (c->path[i] == p) {
            fail(c, "cannot convert a table that contains itself to JSON");
            goto out;
        }
    if (c->depth >= LUAJSON_MAX_DEPTH) {
        fail(c, "table nested too deep for JSON");
        goto out;
    }
    if (count(c, 0) != 0) goto out;
    c->path[c->depth++] = p;
    int seq;
    size_t n = count_keys(L, t, &seq);
    if (n > LUAJSON_MAX_VALUES - c->work.values) { /* the keys alone pass the limit */
        c->work.values = LUAJSON_MAX_VALUES;
        count(c, 0);
    } else {
        j = n == 0 ? json_object() : seq ? array_to_json(c, t, n) : object_to_json(c, t);
    }
    if (j == NULL && c->err[0] == '\0') fail(c, "out of memory");
    c->depth--;
out:
    if (viewed) lua_pop(L, 1);
    return j;
}

static json_t *to_json(conv *c, int idx) {
    switch (lua_type(c->L, idx)) {
    case LUA_TNIL: return count(c, 0) ? NULL : json_null();
    case LUA_TBOOLEAN: return count(c, 0) ? NULL : json_boolean(lua_toboolean(c->L, idx));
    case LUA_TNUMBER: return count(c, 0) ? NULL : number_to_json(c, idx);
    case LUA_TSTRING: return string_to_json(c, idx);
    case LUA_TTABLE: return table_to_json(c, idx);
    default:
        snprintf(c->err, c->errlen, "cannot convert a %s to JSON",
                 lua_typename(c->L, lua_type(c->L, idx)));
        return NULL;
    }
}

json_t *luajson_to_json_work(lua_State *L, int idx, luajson_work *work, char *err,
                             size_t errlen) {
    conv c = {.L = L, .depth = 0, .err = err, .errlen = errlen};
    if (errlen > 0) err[0] = '\0';
    json_t *j = to_json(&c, lua_absindex(L, idx));
    if (j == NULL && err[0] == '\0') snprintf(err, errlen, "out of memory");
    if (work) *work = c.work;
    return j;
}

json_t *luajson_to_json(lua_State *L, int idx, char *err, size_t errlen) {
    return luajson_to_json_work(L, idx, NULL, err, errlen);
}
