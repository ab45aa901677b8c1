/* policy/views: the bridge between the typed domain and the policies.
 *
 * A view is a read-only Lua table built once per request from a typed value
 * (the emitter calls of case/codec.h, see util/emit.h) and shared by every
 * call of the request and by the floor: a policy can read it, iterate it
 * (pairs, ipairs, #) and pass it on, never change it. Every table of a view
 * is an empty proxy whose metatable reads the data table (__index, __len,
 * __pairs) and refuses writes; the metatable is hidden.
 *
 * A call's result is read field by field against the caller's schema, raw
 * (no metamethod of a policy's table runs in the host): each field of its
 * type, no field the schema does not name. The whole result is also written
 * as JSON text for the decision record, bounded in depth, members and bytes
 * so that a result built of shared tables cannot grow without limit. All of
 * it runs inside the sandbox's protected run, under its memory cap. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/luajson.h"
#include "policy/policy_impl.h"
#include "util/jsonw.h"

#define VIEW_MAX_DEPTH 32
/* A result may hold what a conversion may (luajson.h, docs/policies.md
 * section 6): an override's answer the floor's copy took must write too, or
 * a long but valid approval became a policy error after the floor had passed
 * it. The text bound leaves room for the JSON around 2 MiB of strings. */
#define OUTPUT_MAX_DEPTH LUAJSON_MAX_DEPTH
#define OUTPUT_MAX_NODES LUAJSON_MAX_VALUES
#define OUTPUT_MAX_BYTES (2 * LUAJSON_MAX_BYTES)

/* ---- building views ---- */

typedef struct {
    emitter base;
    lua_State *L;
    int parts; /* stack index of the metatable's parts (mt_parts) */
    int depth;
    unsigned char is_array[VIEW_MAX_DEPTH + 1];
    lua_Integer index[VIEW_MAX_DEPTH + 1];
} lua_sink;

static lua_sink *S(emitter *e) { return (lua_sink *)e; }

static int view_newindex(lua_State *L) {
    return luaL_error(L, "policy arguments are read-only (field '%s')",
                      lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

/* The data table behind a proxy (its metatable's __index). */
static void push_data(lua_State *L, int proxy) {
    lua_getmetatable(L, proxy);
    lua_rawgetp(L, -1, (void *)view_newindex); /* the data, keyed by a private pointer */
    lua_remove(L, -2);
}

static int view_len(lua_State *L) {
    push_data(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

static int view_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

static int view_pairs(lua_State *L) {
    lua_pushcfunction(L, view_next);
    push_data(L, 1);
    lua_pushnil(L);
    return 3;
}

/* The parts every proxy's metatable is made of, pushed once per view at
 * `parts`: the keys with their values (the data itself goes under __index
 * and under a private key). Setting a field by an interned key already on
 * the stack costs a fraction of lua_setfield, which hashes its key each
 * time, and a view freezes a dozen tables. */
/* key, value pairs; the data's two slots hold nil (the data goes there) */
enum { MT_INDEX = 0, MT_DATA_KEY = 2, MT__PARTS = 12 };

static void push_mt_parts(lua_State *L) {
    luaL_checkstack(L, MT__PARTS + 2, "view");
    lua_pushliteral(L, "__index");
    lua_pushnil(L);
    lua_pushlightuserdata(L, (void *)view_newindex);
    lua_pushnil(L);
    lua_pushliteral(L, "__newindex");
    lua_pushcfunction(L, view_newindex);
    lua_pushliteral(L, "__len");
    lua_pushcfunction(L, view_len);
    lua_pushliteral(L, "__pairs");
    lua_pushcfunction(L, view_pairs);
    lua_pushliteral(L, "__metatable");
    lua_pushboolean(L, 0);
}

/* Replaces the data table on top with its read-only proxy. */
static void freeze(lua_State *L, int parts) {
    luaL_checkstack(L, 4, "view");
    lua_createtable(L, 0, 0); /* data proxy */
    lua_createtable(L, 0, 6);
    for (int k = 0; k < MT__PARTS; k += 2) {
        lua_pushvalue(L, parts + k);
        if (k == MT_INDEX || k == MT_DATA_KEY) lua_pushvalue(L, -4); /* the data */
        else lua_pushvalue(L, parts + k + 1);
        lua_rawset(L, -3);
    }
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* The value on top goes into the table being built (or stays, at the root). */
static void place(lua_sink *s) {
    lua_State *L = s->L;
    if (s->depth == 0) return;
    if (s->is_array[s->depth]) lua_rawseti(L, -2, ++s->index[s->depth]);
    else lua_rawset(L, -3); /* parent, key, value */
}

static void begin(emitter *e, int array, int size) {
    lua_sink *s = S(e);
    if (s->depth == VIEW_MAX_DEPTH) luaL_error(s->L, "view nested deeper than %d", VIEW_MAX_DEPTH);
    luaL_checkstack(s->L, 4, "view");
    lua_createtable(s->L, array ? 4 : 0, array ? 0 : (size > 0 ? size : 4));
    s->depth++;
    s->is_array[s->depth] = (unsigned char)array;
    s->index[s->depth] = 0;
}

/* The one frozen empty table of the state: empty lists and objects (photos,
 * skills, tracking...) are most of a view's tables and need no proxy each. */
static void push_empty(lua_State *L, int parts) {
    static const char key = 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_newtable(L);
    freeze(L, parts);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key);
}

static void end(emitter *e) {
    lua_sink *s = S(e);
    lua_State *L = s->L;
    lua_pushnil(L);
    if (lua_next(L, -2) == 0) { /* empty: the shared one */
        lua_pop(L, 1);
        push_empty(L, s->parts);
    } else {
        lua_pop(L, 2);
        freeze(L, s->parts);
    }
    s->depth--;
    place(s);
}

static void l_object_begin(emitter *e, int size) { begin(e, 0, size); }
static void l_array_begin(emitter *e) { begin(e, 1, 0); }
static void l_key(emitter *e, const char *k) { lua_pushstring(S(e)->L, k); }
static void l_string(emitter *e, const char *str, size_t len) {
    lua_pushlstring(S(e)->L, str, len);
    place(S(e));
}
static void l_integer(emitter *e, int64_t v) {
    lua_pushinteger(S(e)->L, (lua_Integer)v);
    place(S(e));
}
static void l_boolean(emitter *e, int v) {
    lua_pushboolean(S(e)->L, v);
    place(S(e));
}
static void l_null(emitter *e) {
    lua_pushnil(S(e)->L);
    place(S(e));
}
static void l_raw(emitter *e, const char *json, size_t len) {
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY, NULL);
    if (v == NULL) luaL_error(S(e)->L, "a view member is not JSON");
    luajson_push(S(e)->L, v); /* may raise: v leaks only on a memory error */
    json_decref(v);
    place(S(e));
}

static const emitter_ops lua_sink_ops = {
    l_object_begin, end, l_array_begin, end, l_key, l_string, l_integer, l_boolean, l_null, l_raw,
};

typedef struct {
    policy_encode_fn encode;
    const void *ud;
    int ref;
} view_req;

static int view_body(lua_State *L) {
    view_req *r = lua_touserdata(L, 1);
    lua_sink s = {.base = {&lua_sink_ops}, .L = L, .parts = lua_gettop(L) + 1};
    push_mt_parts(L);
    r->encode(&s.base, r->ud);
    if (s.depth != 0 || !lua_istable(L, -1)) return luaL_error(L, "a view must be one object or array");
    r->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int policy_view_new(policy_set *ps, policy_encode_fn encode, const void *ud, int *view, char *err,
                    size_t errlen) {
    view_req r = {encode, ud, LUA_NOREF};
    lua_State *L = ps->sb.L;
    lua_settop(L, 0);
    lua_pushcfunction(L, view_body);
    lua_pushlightuserdata(L, &r);
    /* host code: the budget only bounds a bug, the memory cap still holds */
    if (sandbox_run(&ps->sb, 1, 0, UINT64_MAX / 2, 0, err, errlen) != 0) return -1;
    *view = r.ref;
    return 0;
}

void policy_view_free(policy_set *ps, int view) {
    if (ps && view != LUA_NOREF && view != LUA_REFNIL) luaL_unref(ps->sb.L, LUA_REGISTRYINDEX, view);
}

/* ---- the result, as JSON text for the record ---- */

typedef struct {
    lua_State *L;
    jsonw w;
    textbuf tb;
    int nodes;
    const char *why; /* set when a bound was passed */
} output_writer;

static void write_value(output_writer *o, int idx, int depth);

/* 1..n with no other keys: an array. */
static int is_sequence(lua_State *L, int idx, lua_Integer *n) {
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max) max = k;
        count++;
    }
    *n = max;
    return count > 0 && count == max;
}

static void write_table(output_writer *o, int idx, int depth) {
    lua_State *L = o->L;
    emitter *e = jsonw_emitter(&o->w);
    luaL_checkstack(L, 6, "result");
    lua_Integer n;
    if (is_sequence(L, idx, &n)) {
        emit_array(e);
        for (lua_Integer i = 1; i <= n && !o->why; i++) {
            lua_rawgeti(L, idx, i);
            write_value(o, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        emit_array_end(e);
        return;
    }
    emit_object(e);
    lua_pushnil(L);
    while (!o->why && lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            o->why = "a table mixes string and number keys, or has keys of another type";
        } else {
            emit_key(e, lua_tostring(L, -2));
            write_value(o, lua_gettop(L), depth + 1);
        }
        lua_pop(L, 1);
    }
    if (o->why) lua_pop(L, 1); /* the key lua_next left */
    emit_object_end(e);
}

static void write_value(output_writer *o, int idx, int depth) {
    lua_State *L = o->L;
    emitter *e = jsonw_emitter(&o->w);
    if (o->why) return;
    if (++o->nodes > OUTPUT_MAX_NODES || o->tb.len > OUTPUT_MAX_BYTES) {
        o->why = "the result is too large for JSON (more than 20000 values or 4 MiB of JSON)";
        return;
    }
    if (depth > OUTPUT_MAX_DEPTH) {
        o->why = "the result is nested too deep (or refers to itself)";
        return;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL: emit_null(e); break;
    case LUA_TBOOLEAN: emit_bool(e, lua_toboolean(L, idx)); break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        e->ops->string(e, s, len);
        break;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            emit_int(e, (int64_t)lua_tointeger(L, idx));
        } else {
            lua_Number x = lua_tonumber(L, idx);
            if (!isfinite(x)) {
                o->why = "the result holds a number JSON cannot (inf or nan)";
            } else if (x == floor(x) && fabs(x) < 9007199254740992.0) {
                emit_int(e, (int64_t)x);
            } else {
                char num[40];
                int k = snprintf(num, sizeof num, "%.17g", (double)x);
                e->ops->raw(e, num, (size_t)k);
            }
        }
        break;
    case LUA_TTABLE: write_table(o, idx, depth); break;
    default: o->why = "the result holds a value JSON cannot (a function, userdata or thread)";
    }
}

/* ---- typed fields ---- */

static void field_error(lua_State *L, const char *module, const char *fn, const char *field,
                        const char *want) {
    luaL_error(L, "%s.%s: result field '%s' must be %s", module, fn, field, want);
}

static char *dup_lua_string(lua_State *L, int idx) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (memchr(s, '\0', len)) return NULL;
    char *copy = malloc(len + 1);
    if (copy == NULL) luaL_error(L, "not enough memory");
    memcpy(copy, s, len + 1);
    return copy;
}

static void read_field(lua_State *L, const char *module, const char *fn, const policy_field *f,
                       policy_fval *out) {
    int t = lua_type(L, -1);
    if (t == LUA_TNIL) return;
    out->present = 1;
    switch (f->type) {
    case PF_STRING:
        if (t != LUA_TSTRING || (out->s = dup_lua_string(L, -1)) == NULL)
            field_error(L, module, fn, f->name, "a string");
        if (f->values) { /* a closed set: one of its names */
            const char *const *v = f->values;
            while (*v && strcmp(*v, out->s) != 0) v++;
            if (*v == NULL) {
                char want[200] = "one of";
                for (v = f->values; *v; v++)
                    snprintf(want + strlen(want), sizeof want - strlen(want), " %s", *v);
                field_error(L, module, fn, f->name, want);
            }
        }
        break;
    case PF_INTEGER: {
        int ok = 0;
        if (t == LUA_TNUMBER) out->i = (int64_t)lua_tointegerx(L, -1, &ok);
        if (!ok) field_error(L, module, fn, f->name, "an integer");
        break;
    }
    case PF_BOOLEAN:
        if (t != LUA_TBOOLEAN) field_error(L, module, fn, f->name, "true or false");
        out->b = lua_toboolean(L, -1);
        break;
    case PF_STRINGS: {
        lua_Integer n = 0;
        if (t != LUA_TTABLE) field_error(L, module, fn, f->name, "a list of strings");
        if (!is_sequence(L, lua_gettop(L), &n)) {
            lua_pushnil(L);
            if (lua_next(L, -2) != 0) field_error(L, module, fn, f->name, "a list of strings");
            n = 0; /* {} is an empty list */
        }
        if (n > 64) field_error(L, module, fn, f->name, "a list of at most 64 strings");
        out->list = calloc((size_t)(n ? n : 1), sizeof *out->list);
        if (out->list == NULL) luaL_error(L, "not enough memory");
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_type(L, -1) != LUA_TSTRING || (out->list[out->n] = dup_lua_string(L, -1)) == NULL)
                field_error(L, module, fn, f->name, "a list of strings");
            out->n++;
            lua_pop(L, 1);
        }
        break;
    }
    case PF_ANY: break;
    }
}

/* "a, b, c": the fields a function answers, for the error that names an
 * unknown one. */
static const char *schema_names(char *buf, size_t cap, const policy_field *schema, int nfields) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < nfields; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", schema[i].name);
        if (w < 0 || (size_t)w >= cap - len) break;
        len += (size_t)w;
    }
    return buf;
}

/* Reads the result on top (a table or nil) into out, raw and strict. */
static void read_result(lua_State *L, const char *module, const char *fn, const policy_field *schema,
                        int nfields, policy_result *out) {
    int idx = lua_gettop(L);
    if (lua_isnil(L, idx)) {
        out->nil = 1;
        return;
    }
    if (!lua_istable(L, idx)) luaL_error(L, "%s.%s must return a table or nil, not a %s", module, fn, luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (int i = 0; k && i < nfields; i++) known |= strcmp(k, schema[i].name) == 0;
        if (!known) {
            char names[256];
            luaL_error(L, "%s.%s returned a field the server does not read: '%s' (known: %s)", module, fn,
                       k ? k : "(a key that is not a string)", schema_names(names, sizeof names, schema, nfields));
        }
    }
    for (int i = 0; i < nfields; i++) {
        lua_pushstring(L, schema[i].name);
        lua_rawget(L, idx);
        read_field(L, module, fn, &schema[i], &out->f[i]);
        lua_pop(L, 1);
    }
}

/* ---- calls ---- */

typedef struct {
    policy_set *ps;
    const char *merchant, *module, *fn;
    const policy_arg *args;
    int nargs;
    const policy_field *schema;
    int nfields;
    const policy_ctx *ctx;
    policy_result *out;
    int found;
} vcall_req;

static void push_args(lua_State *L, const vcall_req *r) {
    luaL_checkstack(L, r->nargs + 2, "policy arguments");
    for (int i = 0; i < r->nargs; i++) {
        if (r->args[i].view >= 0) lua_rawgeti(L, LUA_REGISTRYINDEX, r->args[i].view);
        else if (r->args[i].str) lua_pushstring(L, r->args[i].str);
        else lua_pushnil(L);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ps->ctx_ref);
}

/* The override's error (on top): kept for the caller's policy.error record,
 * and a log line of the call. */
static void log_override_failure(lua_State *L, policy_set *ps, const vcall_req *r) {
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(error object is not a string)";
    if (r->out->override_error == NULL) r->out->override_error = strdup(msg);
    const policy_ctx *c = ps->cur;
    if (c == NULL || c->log == NULL) return;
    char line[600];
    snprintf(line, sizeof line, "merchant %s.%s failed, the floor answered: %s", r->module, r->fn, msg);
    textbuf tb = {0}; /* through the writer: a cut or bad byte stays valid UTF-8 */
    jsonw_quote(&tb, line, strlen(line));
    json_t *v = tb.failed ? NULL : json_loadb(tb.buf, tb.len, JSON_DECODE_ANY, NULL);
    tb_free(&tb);
    if (v != NULL) json_array_append_new(c->log, v);
}

/* Protected: reads the result at 1 against the request's schema (upvalue),
 * into a scratch result freed by the caller; raises on a wrong shape. */
static int check_result(lua_State *L) {
    vcall_req *r = lua_touserdata(L, lua_upvalueindex(1));
    policy_result *scratch = lua_touserdata(L, lua_upvalueindex(2));
    lua_settop(L, 1);
    read_result(L, r->module, r->fn, r->schema, r->nfields, scratch);
    return 0;
}

/* The override's answer on top, checked as the server would check it: one
 * of the wrong shape is replaced by nil (the floor then answers the
 * default's) and recorded as the override's failure. */
static void check_override_answer(lua_State *L, vcall_req *r) {
    policy_result scratch;
    memset(&scratch, 0, sizeof scratch);
    lua_pushlightuserdata(L, r);
    lua_pushlightuserdata(L, &scratch);
    lua_pushcclosure(L, check_result, 2);
    lua_pushvalue(L, -2);
    int st = lua_pcall(L, 1, 0, 0);
    policy_result_free(&scratch);
    if (st == LUA_OK) return;
    log_override_failure(L, r->ps, r);
    lua_pop(L, 2); /* the message and the answer */
    lua_pushnil(L);
}

/* f, args..., ctx on the stack above base: the override answers, then the
 * floor judges a copy of its answer (through JSON: no table or metamethod of
 * the override's runs while the floor reads it) on the same read-only
 * arguments, on a budget of its own. An override that fails (raises, loops,
 * breaks the memory cap, answers something of the wrong shape) gave no
 * answer: the floor gets nil and answers the default's. */
static void call_with_floor(lua_State *L, vcall_req *r, int base) {
    char floor_fn[80];
    snprintf(floor_fn, sizeof floor_fn, "%s_%s", r->module, r->fn);
    int n = r->nargs + 1;
    if (policy_resolve(L, r->ps, NULL, "floor", floor_fn, 1) != 1) {
        lua_pop(L, 1);
        lua_call(L, n, 1);
        return;
    }
    lua_insert(L, base); /* floor, f, args... */
    lua_pushlightuserdata(L, r->ps);
    lua_pushstring(L, r->module);
    lua_pushstring(L, r->fn);
    lua_pushcclosure(L, policy_override_then_copy, 3);
    lua_insert(L, base + 1); /* floor, call-and-copy, f, args... */
    if (lua_pcall(L, n + 1, 1, 0) != LUA_OK) {
        log_override_failure(L, r->ps, r);
        lua_pop(L, 1);
        lua_pushnil(L);
        sandbox_budget_renew(&r->ps->sb);
    } else {
        sandbox_budget_reset(&r->ps->sb); /* what the override spent is not the floor's */
        check_override_answer(L, r);
    }
    push_args(L, r); /* floor, result, args..., ctx */
    lua_call(L, n + 1, 1);
}

static int vcall_body(lua_State *L) {
    vcall_req *r = lua_touserdata(L, 1);
    ctx_begin(L, r->ps, r->ctx, r->merchant);
    int base = lua_gettop(L) + 1;
    int how = policy_resolve(L, r->ps, r->merchant, r->module, r->fn, 1);
    r->found = how != 0;
    if (!r->found) return 0;
    push_args(L, r);
    if (how == 2) call_with_floor(L, r, base);
    else lua_call(L, r->nargs + 1, 1);
    read_result(L, r->module, r->fn, r->schema, r->nfields, r->out);
    output_writer o = {.L = L};
    jsonw_init(&o.w, &o.tb);
    write_value(&o, lua_gettop(L), 1);
    if (o.why || o.tb.failed) {
        tb_free(&o.tb);
        return luaL_error(L, "%s.%s: %s", r->module, r->fn, o.why ? o.why : "not enough memory");
    }
    r->out->output = tb_take(&o.tb, NULL);
    return 0;
}

void policy_result_free(policy_result *r) {
    for (int i = 0; i < POLICY_FIELDS_MAX; i++) {
        free(r->f[i].s);
        for (size_t k = 0; k < r->f[i].n; k++) free(r->f[i].list[k]);
        free(r->f[i].list);
    }
    free(r->output);
    free(r->override_error);
    memset(r, 0, sizeof *r);
}

int policy_call_views(policy_set *ps, const char *merchant_id, const char *module, const char *fn,
                      const policy_arg *args, int nargs, const policy_field *schema, int nfields,
                      const policy_ctx *ctx, policy_result *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (ps == NULL || module == NULL || fn == NULL || nfields > POLICY_FIELDS_MAX) {
        snprintf(err, errlen, "policy_call_views: bad arguments");
        return -1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vcall_req r = {ps, merchant_id, module, fn, args, nargs, schema, nfields, ctx, out, 0};
    ps->stats.calls++;
    char cal_err[8];
    ps->cur_cal = policy_calendar(ps, merchant_id, cal_err, sizeof cal_err);
    lua_State *L = ps->sb.L;
    lua_settop(L, 0);
    lua_pushcfunction(L, vcall_body);
    lua_pushlightuserdata(L, &r);
    int rc = sandbox_run(&ps->sb, 1, 0, ps->budget, 1, err, errlen);
    ctx_end(ps);
    json_decref(ps->tmp_json);
    ps->tmp_json = NULL;
    if (rc == 0 && !r.found) {
        snprintf(err, errlen, "no such function %s.%s", module, fn);
        rc = -1;
    }
    if (rc != 0) {
        policy_result_free(out);
        ps->stats.errors++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = ((int64_t)t1.tv_sec - (int64_t)t0.tv_sec) * 1000000 +
                 ((int64_t)t1.tv_nsec - (int64_t)t0.tv_nsec) / 1000;
    ps->stats.call_us_total += us > 0 ? (uint64_t)us : 0;
    return rc;
}
