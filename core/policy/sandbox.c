/* policy/sandbox: the Lua state, its allow-list globals and its budgets.
 *
 * Allow-list, as Lua's own linit.c opens libraries: the state opens base,
 * string, table, math, utf8 and os, and policies see only the names copied
 * into the base table below, through read-only proxies (so one call cannot
 * change string.format for the next). Everything else (load, dofile, io,
 * debug, package, string.dump, os.execute ...) is never reachable. */
#include "policy/sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_EVERY 1000
#define SETUP_BUDGET 10000000u

static const char *const BASE_NAMES[] = {
    "assert", "error",  "ipairs",   "next",     "pairs",  "pcall",  "rawequal", "rawget",
    "rawlen", "rawset", "select",   "getmetatable", "tonumber", "tostring", "type", "xpcall",
    "_VERSION", NULL};
static const char *const OS_NAMES[] = {"time", "date", "clock", NULL};

/* Counts bytes and refuses growth past the cap. Shrinking and freeing always
 * succeed, as Lua requires of an allocator. */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > sb->cap - sb->used) {
        sb->mem_refused = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) return nsize <= old ? ptr : NULL;
    sb->used = sb->used - old + nsize;
    return p;
}

/* The count hook. Once the budget is spent it re-arms itself to fire on every
 * instruction and fails each time, so the error reaches the outermost frame
 * even through a script's pcall (Redis luaMaskCountHook does the same). */
static void sb_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    void *ud;
    lua_getallocf(L, &ud);
    sandbox *sb = ud;
    if (!sb->exhausted && ++sb->ticks <= sb->max_ticks) return;
    if (!sb->exhausted) {
        sb->exhausted = 1;
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushliteral(L, "instruction budget exceeded");
    lua_error(L);
}

static void budget_start(sandbox *sb, uint64_t budget) {
    if (budget == 0) budget = 1;
    sb->count = budget < HOOK_EVERY ? (int)budget : HOOK_EVERY;
    sb->max_ticks = budget / (uint64_t)sb->count;
    sb->ticks = 0;
    sb->exhausted = 0;
    sb->mem_refused = 0;
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, sb->count);
}

void sandbox_budget_reset(sandbox *sb) {
    sb->ticks = 0;
}

void sandbox_budget_renew(sandbox *sb) {
    sb->ticks = 0;
    sb->exhausted = 0;
    sb->mem_refused = 0;
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, sb->count);
    lua_gc(sb->L, LUA_GCCOLLECT);
}

/* The error object as text; a __tostring object is asked for its text. */
static const char *error_text(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg != NULL) return msg;
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
        return lua_tostring(L, -1);
    return lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
}

static int msgh_traceback(lua_State *L) {
    luaL_traceback(L, L, error_text(L), 1);
    return 1;
}

static int msgh_plain(lua_State *L) {
    lua_pushstring(L, error_text(L));
    return 1;
}

/* The message of a failed run, named for the budget it broke if it broke one. */
static void format_error(sandbox *sb, int st, int exhausted, int refused, char *err,
                         size_t errlen) {
    lua_State *L = sb->L;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    static const char budget_msg[] = "instruction budget exceeded";
    if (exhausted) {
        const char *tb = msg ? strstr(msg, "\nstack traceback:") : NULL;
        snprintf(err, errlen, "%s%s", budget_msg, tb ? tb : "");
    } else if (refused && (st == LUA_ERRMEM || st == LUA_ERRERR ||
                           (msg && strstr(msg, "not enough memory")))) {
        snprintf(err, errlen, "memory cap exceeded");
    } else {
        snprintf(err, errlen, "%s", msg ? msg : "(error object is not a string)");
    }
}

int sandbox_run(sandbox *sb, int nargs, int nres, uint64_t budget, int traceback, char *err,
                size_t errlen) {
    lua_State *L = sb->L;
    int fn = lua_gettop(L) - nargs;
    if (!lua_checkstack(L, 2)) {
        lua_settop(L, fn - 1);
        snprintf(err, errlen, "Lua stack overflow");
        return -1;
    }
    lua_pushcfunction(L, traceback ? msgh_traceback : msgh_plain);
    lua_insert(L, fn);
    budget_start(sb, budget);
    int st = lua_pcall(L, nargs, nres, fn);
    int exhausted = sb->exhausted, refused = sb->mem_refused;
    lua_sethook(L, NULL, 0, 0);
    sb->exhausted = 0;
    if (st == LUA_OK) {
        lua_remove(L, fn);
        return 0;
    }
    format_error(sb, st, exhausted, refused, err, errlen);
    lua_settop(L, fn - 1);
    if (refused) lua_gc(L, LUA_GCCOLLECT);
    return -1;
}

static int readonly_newindex(lua_State *L) {
    return luaL_error(L, "attempt to modify read-only table (field '%s')",
                      lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

static int global_newindex(lua_State *L) {
    return luaL_error(L, "assignment to global '%s' is not allowed",
                      lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

/* Replaces the table on top with an empty proxy that reads it and refuses
 * writes; its metatable is hidden from getmetatable. */
static void make_readonly(lua_State *L) {
    lua_newtable(L);                 /* lib proxy */
    lua_createtable(L, 0, 3);        /* lib proxy mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* rawset that respects protection. The library proxies and the sealed module
 * environments are empty tables read through __index: a raw write would land
 * in them and outlive the call (rawset(_ENV, "x", 1) a global after all,
 * rawset(string, "format", f) a new string.format for every later call).
 * A table whose metatable is protected (__metatable set) is refused. */
static int sb_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "rawset on a protected table is not allowed");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Lua's pattern matcher runs in C, where the instruction budget cannot stop
 * it, and it backtracks. Its worst case is bounded from the pattern before
 * it runs: each * + - quantifier, each %b and each back-reference (%1..%9)
 * can multiply the work by the subject's length, each ? by two, and a
 * search not anchored with ^ (gmatch never is) tries every start. A call
 * whose bound passes PATTERN_WORK steps is refused before it runs
 * (string.rep("a", 3000):find(".-.-.-.-b") held the loop thread for hours).
 * The bound is a worst case: an anchored pattern with a few quantifiers on a
 * text of a few KB passes, a long text with many quantifiers does not. */
#define PATTERN_WORK 1e9

typedef struct {
    int by_length; /* factors of (subject length + 1) */
    int by_two;    /* factors of 2 */
} pattern_cost;

static pattern_cost pattern_cost_of(const char *p, size_t plen) {
    pattern_cost c = {0, 0};
    for (size_t i = 0; i < plen; i++) {
        if (p[i] == '%') {
            i++; /* the escaped character */
            if (i < plen && (p[i] == 'b' || (p[i] >= '1' && p[i] <= '9'))) c.by_length++;
            if (i < plen && p[i] == 'b') i += 2; /* its two delimiters */
        } else if (p[i] == '[') {
            i++;
            if (i < plen && p[i] == '^') i++;
            for (i++; i < plen && p[i] != ']'; i++) /* the first one may be ']' itself */
                if (p[i] == '%') i++;
        } else if (i > 0 && (p[i] == '*' || p[i] == '+' || p[i] == '-')) {
            c.by_length++;
        } else if (i > 0 && p[i] == '?') {
            c.by_two++;
        }
    }
    return c;
}

/* Upvalues: the library function, then its kind (PG_FIND has a plain flag,
 * PG_GMATCH ignores ^). */
enum { PG_FIND, PG_MATCH, PG_GMATCH, PG_GSUB };

static int sb_pattern_guard(lua_State *L) {
    size_t n, plen;
    const char *subject = lua_tolstring(L, 1, &n);
    const char *pattern = lua_tolstring(L, 2, &plen);
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    int plain = kind == PG_FIND && lua_toboolean(L, 4);
    if (subject != NULL && pattern != NULL && !plain) {
        int anchored = kind != PG_GMATCH && plen > 0 && pattern[0] == '^';
        size_t skip = plen > 0 && pattern[0] == '^' ? 1 : 0;
        pattern_cost c = pattern_cost_of(pattern + skip, plen - skip);
        int power = c.by_length + !anchored;
        double work = 1;
        for (int k = 0; k < power && work <= PATTERN_WORK; k++) work *= (double)n + 1;
        for (int k = 0; k < c.by_two && work <= PATTERN_WORK; k++) work *= 2;
        if (work > PATTERN_WORK)
            return luaL_error(L, "pattern too costly for a subject of %d bytes (%d quantifiers%s): "
                              "anchor it, use fewer quantifiers or a shorter subject",
                              (int)n, c.by_length + c.by_two, anchored ? "" : ", unanchored");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Replaces the pattern functions of the string library on top of the stack. */
static void guard_patterns(lua_State *L) {
    static const char *const names[] = {[PG_FIND] = "find", [PG_MATCH] = "match", [PG_GMATCH] = "gmatch",
                                        [PG_GSUB] = "gsub"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        lua_getfield(L, -1, names[i]);
        lua_pushinteger(L, (lua_Integer)i); /* the kind */
        lua_pushcclosure(L, sb_pattern_guard, 2);
        lua_setfield(L, -2, names[i]);
    }
}

/* setmetatable without __gc: a finalizer would run outside any call's
 * budget, at a collection or when the set is freed. */
static int sb_setmetatable(lua_State *L) {
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed in policies");
        lua_pop(L, 1);
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* Opens library `name` and sets base[name] to a read-only proxy of it
 * (only `keep` names when given). Leaves the real library on the stack. */
static void add_lib(lua_State *L, int base, const char *name, lua_CFunction open,
                    const char *const *keep) {
    luaL_requiref(L, name, open, 0);
    if (keep) {
        lua_newtable(L);
        for (int i = 0; keep[i]; i++) {
            lua_getfield(L, -2, keep[i]);
            lua_setfield(L, -2, keep[i]);
        }
    } else {
        lua_pushvalue(L, -1);
    }
    make_readonly(L);
    lua_setfield(L, base, name);
}

struct setup_args {
    sandbox *sb;
    lua_CFunction require_fn;
    void *require_ud;
};

/* Protected: builds the base table and the env list in the registry. */
static int setup_body(lua_State *L) {
    struct setup_args *a = lua_touserdata(L, 1);
    lua_newtable(L);
    int base = lua_gettop(L);
    luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
    for (int i = 0; BASE_NAMES[i]; i++) {
        lua_getfield(L, -1, BASE_NAMES[i]);
        lua_setfield(L, base, BASE_NAMES[i]);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, sb_setmetatable);
    lua_setfield(L, base, "setmetatable");
    lua_pushcfunction(L, sb_rawset);
    lua_setfield(L, base, "rawset");
    lua_pushlightuserdata(L, a->require_ud);
    lua_pushcclosure(L, a->require_fn, 1);
    lua_setfield(L, base, "require");
    add_lib(L, base, LUA_STRLIBNAME, luaopen_string, NULL);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump"); /* string.dump: bytecode is never loaded here */
    guard_patterns(L);
    lua_pop(L, 1);
    add_lib(L, base, LUA_TABLIBNAME, luaopen_table, NULL);
    add_lib(L, base, LUA_MATHLIBNAME, luaopen_math, NULL);
    add_lib(L, base, LUA_UTF8LIBNAME, luaopen_utf8, NULL);
    add_lib(L, base, LUA_OSLIBNAME, luaopen_os, OS_NAMES);
    lua_pop(L, 4);
    /* ("x"):upper() goes through the string metatable: point it at the proxy
     * and hide it, so the real library is unreachable from strings too. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, base, LUA_STRLIBNAME);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_settop(L, base);
    a->sb->base_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    a->sb->env_list_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int sandbox_open(sandbox *sb, size_t cap, lua_CFunction require_fn, void *require_ud,
                 char *err, size_t errlen) {
    memset(sb, 0, sizeof *sb);
    sb->cap = cap;
    sb->base_ref = LUA_NOREF;
    sb->env_list_ref = LUA_NOREF;
    sb->L = lua_newstate(sb_alloc, sb);
    if (sb->L == NULL) {
        snprintf(err, errlen, "memory cap exceeded (cannot create the Lua state)");
        return -1;
    }
    struct setup_args a = {sb, require_fn, require_ud};
    lua_pushcfunction(sb->L, setup_body);
    lua_pushlightuserdata(sb->L, &a);
    if (sandbox_run(sb, 1, 0, SETUP_BUDGET, 0, err, errlen) != 0) {
        sandbox_close(sb);
        return -1;
    }
    return 0;
}

void sandbox_close(sandbox *sb) {
    if (sb->L) lua_close(sb->L);
    sb->L = NULL;
}

void sandbox_push_base(sandbox *sb) {
    lua_rawgeti(sb->L, LUA_REGISTRYINDEX, sb->base_ref);
}

/* Pushes a new table whose misses read the value at index `fallback`. */
static void push_env_over(lua_State *L, int fallback) {
    fallback = lua_absindex(L, fallback);
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, fallback);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

void sandbox_push_module_env(sandbox *sb) {
    lua_State *L = sb->L;
    sandbox_push_base(sb);
    push_env_over(L, -1);
    lua_remove(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->env_list_ref);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

void sandbox_push_writable_env(sandbox *sb, int fallback) {
    push_env_over(sb->L, fallback);
}

/* Moves an env's globals into a backing table and leaves the env empty with
 * __newindex refusing: a global defined at load time (present in the table)
 * would otherwise stay writable, since __newindex only sees absent keys. */
static void seal_env(lua_State *L, int env) {
    lua_getmetatable(L, env);   /* load-time mt: __index = base */
    lua_newtable(L);            /* backing */
    lua_pushvalue(L, -2);
    lua_setmetatable(L, -2);
    lua_pushnil(L);
    while (lua_next(L, env) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);      /* backing[k] = v */
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, env);     /* env[k] = nil: allowed while traversing */
    }
    lua_createtable(L, 0, 3);   /* sealed mt */
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, global_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, env);
    lua_pop(L, 2);
}

void sandbox_seal(sandbox *sb) {
    lua_State *L = sb->L;
    luaL_checkstack(L, 8, "sealing globals");
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->env_list_ref);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        seal_env(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}
