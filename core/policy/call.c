/* policy/call: resolving and calling policy functions for a merchant.
 *
 * Where a name resolves is decided without running policy code (raw reads of
 * the default modules, and what a merchant's module was found to define at
 * load), so policy_has and policy_call always agree: a merchant's module wins
 * for the fields it defines itself, the default module answers the rest.
 * Resolving to an override makes a new instance of it and pushes its field. When an override answered, the
 * platform floor (floor.<module>_<fn>) gets the last word, on copies of the
 * inputs and of the answer. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy/luajson.h"
#include "policy/policy_impl.h"

#define HAS_BUDGET 10000u

/* Pushes table[key] (raw) when the table at idx is a table, else nil. */
static int raw_field(lua_State *L, int idx, const char *key) {
    if (!lua_istable(L, idx)) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    lua_pushstring(L, key);
    return lua_rawget(L, idx < 0 ? idx - 1 : idx);
}

/* A field of a default module. */
static int module_field(lua_State *L, policy_set *ps, const char *module, const char *name) {
    luaL_checkstack(L, 4, "resolve");
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->defaults_ref);
    raw_field(L, -1, module);
    lua_remove(L, -2);
    int t = raw_field(L, -1, name);
    lua_remove(L, -2);
    return t;
}

/* Protected: the field args[4] of a new instance of merchant args[2]'s
 * module args[3] (args[1]: the set). */
static int instance_field(lua_State *L) {
    merchant_instance(L, lua_touserdata(L, 1), lua_tostring(L, 2), lua_tostring(L, 3));
    raw_field(L, -1, lua_tostring(L, 4));
    return 1;
}

static int raise_upvalue(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    return lua_error(L);
}

/* Pushes merchant's module.name from a new instance of the module. Making
 * the instance is the override's own work, on the call's budget: if its top
 * level fails, what is pushed is a function that raises that error, so the
 * call fails where the override would have (and meets the floor). */
static void push_override(lua_State *L, policy_set *ps, const char *merchant, const char *module,
                          const char *name) {
    luaL_checkstack(L, 6, "resolve");
    lua_pushcfunction(L, instance_field);
    lua_pushlightuserdata(L, ps);
    lua_pushstring(L, merchant);
    lua_pushstring(L, module);
    lua_pushstring(L, name);
    if (lua_pcall(L, 4, 1, 0) != LUA_OK) lua_pushcclosure(L, raise_upvalue, 1);
}

/* Where module.name resolves for merchant, without running policy code:
 * 2 (the override defines it), 1 (the default module does) or 0. */
static int resolve_kind(lua_State *L, policy_set *ps, const char *merchant_id, const char *module,
                        const char *name, int want_fn) {
    if (merchant_id) {
        int t = merchant_defines(L, ps, merchant_id, module, name);
        if (want_fn ? t == LUA_TFUNCTION : t != LUA_TNONE && t != LUA_TNIL) return 2;
    }
    int t = module_field(L, ps, module, name);
    lua_pop(L, 1);
    return (want_fn ? t == LUA_TFUNCTION : t != LUA_TNIL) ? 1 : 0;
}

int policy_resolve(lua_State *L, policy_set *ps, const char *merchant_id, const char *module,
                   const char *name, int want_fn) {
    int how = resolve_kind(L, ps, merchant_id, module, name, want_fn);
    if (how == 2) push_override(L, ps, merchant_id, module, name);
    else if (how == 1) module_field(L, ps, module, name);
    else lua_pushnil(L);
    return how;
}

/* The error on top, as a log line of the call: "merchant returns.evaluate failed: ...". */
static void log_override_error(lua_State *L, policy_set *ps, const char *module, const char *fn) {
    const policy_ctx *c = ps->cur;
    if (c == NULL || c->log == NULL) return;
    const char *msg = lua_tostring(L, -1);
    const sandbox *sb = &ps->sb;
    char why[200];
    if (sb->exhausted == SB_TIME) msg = "time limit exceeded";
    else if (sb->mem_refused && (sb->exhausted || (msg && strstr(msg, "not enough memory"))))
        msg = "memory cap exceeded";
    else if (sb->exhausted) {
        snprintf(why, sizeof why, "instruction budget exceeded%s%s", sb->what ? " in " : "",
                 sb->what ? sb->what : "");
        msg = why;
    }
    char line[600];
    int n = snprintf(line, sizeof line, "merchant %s.%s failed, the floor answered: %s", module, fn,
                     msg ? msg : "(error object is not a string)");
    if (n >= (int)sizeof line) { /* cut: drop a character the cut split */
        size_t len = sizeof line - 1;
        while (len > 0 && ((unsigned char)line[len - 1] & 0xC0) == 0x80) len--;
        if (len > 0 && (unsigned char)line[len - 1] >= 0xC0) len--;
        line[len] = '\0';
    }
    json_t *v = json_string(line);
    if (v == NULL) v = json_string("merchant override failed (message is not valid UTF-8)");
    if (v != NULL) json_array_append_new(c->log, v);
}

/* The result on top, converted to JSON and back: a fresh plain table (no
 * metatable, no table the override keeps), exactly what the host would
 * store. The conversion is charged to the run. Raises if the value is not
 * one JSON can hold. */
static void copy_through_json(lua_State *L, policy_set *ps, const char *module, const char *fn) {
    char cerr[200];
    luajson_work w;
    json_t *j = luajson_to_json_work(L, -1, &w, cerr, sizeof cerr);
    policy_charge_conversion(L, &w);
    if (j == NULL) luaL_error(L, "%s.%s returned a value JSON cannot hold: %s", module, fn, cerr);
    json_decref(ps->tmp_json);
    ps->tmp_json = j; /* freed by run_req if the push below raises */
    lua_pop(L, 1);
    luajson_push(L, j);
    json_decref(j);
    ps->tmp_json = NULL;
}

/* Protected, on the override's budget: calls the override (below its
 * arguments) and leaves a copy of its result through JSON. Upvalues: the
 * policy set, the module and function names. */
int policy_override_then_copy(lua_State *L) {
    lua_call(L, lua_gettop(L) - 1, 1);
    copy_through_json(L, lua_touserdata(L, lua_upvalueindex(1)), lua_tostring(L, lua_upvalueindex(2)),
                      lua_tostring(L, lua_upvalueindex(3)));
    return 1;
}

void policy_invoke(lua_State *L, policy_set *ps, const char *module, const char *fn, int nargs,
                   int override, json_t *const *jargs) {
    int base = lua_gettop(L) - nargs;
    luaL_checkstack(L, nargs + 6, "policy call");
    if (override) {
        lua_pushfstring(L, "%s_%s", module, fn);
        const char *floor_fn = lua_tostring(L, -1);
        if (module_field(L, ps, "floor", floor_fn) != LUA_TFUNCTION) {
            lua_pop(L, 2);
            override = 0;
        } else {
            lua_remove(L, -2);
        }
    }
    if (!override) {
        lua_call(L, nargs, 1);
        return;
    }
    /* floor, f, args... -> floor, args', f, args... -> floor, result, args'.
     * args' are new tables from the JSON inputs (the ctx is shared, it is
     * read-only): an override that changes its arguments must not change
     * what the floor judges by. Nor can its result: the floor gets a copy
     * through JSON, so no metamethod or table of the override's runs or
     * changes while the floor reads it. */
    lua_insert(L, base);
    for (int i = 0; i < nargs - 1; i++) luajson_push(L, jargs[i]);
    lua_pushvalue(L, base + 1 + nargs); /* the ctx */
    lua_rotate(L, base + 1, nargs);
    lua_pushlightuserdata(L, ps);
    lua_pushstring(L, module);
    lua_pushstring(L, fn);
    lua_pushcclosure(L, policy_override_then_copy, 3);
    lua_insert(L, base + 1 + nargs); /* below f */
    /* An override that fails (raises, loops, breaks the memory cap, answers
     * what JSON cannot hold) gave no answer: the floor gets nil and answers
     * the default's, on a budget of its own, and the error goes to the
     * call's logs. */
    if (lua_pcall(L, nargs + 1, 1, 0) != LUA_OK) {
        log_override_error(L, ps, module, fn);
        lua_pop(L, 1);
        lua_pushnil(L);
        sandbox_budget_renew(&ps->sb);
    } else {
        sandbox_budget_reset(&ps->sb); /* what the override spent is not the floor's */
    }
    lua_insert(L, base + 1);
    lua_call(L, nargs + 1, 1);
}

void policy_charge_conversion(lua_State *L, const luajson_work *w) {
    sandbox_charge(L, w->values + w->bytes / ALLOC_BYTES_PER_UNIT, "converting to JSON");
}

static void elapsed_add(policy_set *ps, const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = ((int64_t)t1.tv_sec - (int64_t)t0->tv_sec) * 1000000 +
                 ((int64_t)t1.tv_nsec - (int64_t)t0->tv_nsec) / 1000;
    ps->stats.call_us_total += us > 0 ? (uint64_t)us : 0;
}

typedef struct {
    policy_set *ps;
    const char *merchant, *module, *name;
    json_t *const *args;
    int nargs;
    const policy_ctx *ctx;
    int found;
    json_t *result;
    char cerr[256];
} call_req;

/* Protected: resolve, convert args, call (with the floor), convert back. */
static int call_body(lua_State *L) {
    call_req *r = lua_touserdata(L, 1);
    ctx_begin(L, r->ps, r->ctx, r->merchant);
    int how = policy_resolve(L, r->ps, r->merchant, r->module, r->name, 1);
    r->found = how != 0;
    if (!r->found) return 0;
    luaL_checkstack(L, r->nargs + 8, "policy arguments");
    for (int i = 0; i < r->nargs; i++) luajson_push(L, r->args[i]);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ps->ctx_ref);
    policy_invoke(L, r->ps, r->module, r->name, r->nargs + 1, how == 2, r->args);
    luajson_work w;
    r->result = luajson_to_json_work(L, -1, &w, r->cerr, sizeof r->cerr);
    policy_charge_conversion(L, &w);
    return 0;
}

/* Protected: the field (called with ctx when a function) as JSON. */
static int value_body(lua_State *L) {
    call_req *r = lua_touserdata(L, 1);
    ctx_begin(L, r->ps, r->ctx, r->merchant);
    r->found = policy_resolve(L, r->ps, r->merchant, r->module, r->name, 0) != 0;
    if (lua_isfunction(L, -1)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->ps->ctx_ref);
        lua_call(L, 1, 1);
    }
    luajson_work w;
    r->result = luajson_to_json_work(L, -1, &w, r->cerr, sizeof r->cerr);
    policy_charge_conversion(L, &w);
    return 0;
}

/* Runs body on r; the result or the error is in r / err. */
static int run_req(call_req *r, lua_CFunction body, uint64_t budget, char *err, size_t errlen) {
    lua_State *L = r->ps->sb.L;
    lua_settop(L, 0);
    lua_pushcfunction(L, body);
    lua_pushlightuserdata(L, r);
    int rc = sandbox_run(&r->ps->sb, 1, 0, budget, 1, err, errlen);
    ctx_end(r->ps);
    json_decref(r->ps->tmp_json);
    r->ps->tmp_json = NULL;
    return rc;
}

int policy_call(policy_set *ps, const char *merchant_id, const char *module, const char *fn,
                json_t *const *args, int nargs, const policy_ctx *ctx, json_t **result,
                char *err, size_t errlen) {
    *result = NULL;
    if (ps == NULL || module == NULL || fn == NULL || nargs < 0 || (nargs > 0 && args == NULL)) {
        snprintf(err, errlen, "policy_call: bad arguments");
        return -1;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    call_req r = {.ps = ps, .merchant = merchant_id, .module = module, .name = fn,
                  .args = args, .nargs = nargs, .ctx = ctx};
    ps->stats.calls++;
    /* Built (a run of its own) and cached on a merchant's first call; a
     * calendar that does not build leaves the default, as for SLA due times. */
    char cal_err[8];
    ps->cur_cal = policy_calendar(ps, merchant_id, cal_err, sizeof cal_err);
    int rc = run_req(&r, call_body, ps->budget, err, errlen);
    if (rc == 0 && !r.found) {
        snprintf(err, errlen, "no such function %s.%s", module, fn);
        rc = -1;
    } else if (rc == 0 && r.result == NULL) {
        snprintf(err, errlen, "%s.%s returned a value JSON cannot hold: %s", module, fn, r.cerr);
        rc = -1;
    }
    if (rc == 0) *result = r.result;
    else json_decref(r.result);
    if (rc != 0) ps->stats.errors++;
    elapsed_add(ps, &t0);
    return rc;
}

int policy_value(policy_set *ps, const char *merchant_id, const char *module, const char *field,
                 const policy_ctx *ctx, json_t **result, char *err, size_t errlen) {
    *result = NULL;
    if (ps == NULL || module == NULL || field == NULL) {
        snprintf(err, errlen, "policy_value: bad arguments");
        return -1;
    }
    call_req r = {.ps = ps, .merchant = merchant_id, .module = module, .name = field, .ctx = ctx};
    int rc = run_req(&r, value_body, ps->budget, err, errlen);
    if (rc == 0 && r.result == NULL) {
        snprintf(err, errlen, "%s.%s is not a value JSON can hold: %s", module, field, r.cerr);
        rc = -1;
    }
    if (rc == 0) *result = r.result;
    else json_decref(r.result);
    return rc;
}

static int has_body(lua_State *L) {
    call_req *r = lua_touserdata(L, 1);
    r->found = resolve_kind(L, r->ps, r->merchant, r->module, r->name, 1) != 0;
    return 0;
}

static int override_body(lua_State *L) {
    call_req *r = lua_touserdata(L, 1);
    r->found = resolve_kind(L, r->ps, r->merchant, r->module, r->name, 0) == 2;
    return 0;
}

int policy_overrides(policy_set *ps, const char *merchant_id, const char *module, const char *name) {
    char err[128];
    call_req r = {.ps = ps, .merchant = merchant_id, .module = module, .name = name};
    return run_req(&r, override_body, HAS_BUDGET, err, sizeof err) == 0 && r.found;
}

int policy_has(const policy_set *ps, const char *merchant_id, const char *module, const char *fn) {
    if (ps == NULL || module == NULL || fn == NULL) return 0;
    char err[128];
    /* Looking a name up pushes strings, which the state accounts for: the set
     * is logically const, its Lua state is not. */
    call_req r = {.ps = (policy_set *)ps, .merchant = merchant_id, .module = module, .name = fn};
    return run_req(&r, has_body, HAS_BUDGET, err, sizeof err) == 0 && r.found;
}
