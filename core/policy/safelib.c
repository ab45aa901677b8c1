/* policy/safelib: the library functions the sandbox replaces (safelib.h says
 * which and why). Each does what the stock function does for a policy. */
#include "policy/safelib.h"

#include <lauxlib.h>
#include <stddef.h>

#include "policy/sandbox.h"

/* ---- base ---- */

/* xpcall's message handler, guarded. Lua calls a message handler where the
 * error was raised, before unwinding: for the budget's own error that is
 * inside the count hook, with hooks off, so a handler that loops there would
 * loop for ever (and a handler erroring in it calls itself again). Once the
 * budget is spent the handler is not called at all: the error goes on as it
 * is. While the budget holds the handler runs hooked, like any code. */
static int guarded_handler(lua_State *L) {
    if (sandbox_of(L)->exhausted) return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_xpcall(lua_State *L) {
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, guarded_handler, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2); /* f, handler, true, f, args... */
    if (lua_pcall(L, n - 2, LUA_MULTRET, 2) == LUA_OK) return lua_gettop(L) - 2;
    lua_pushboolean(L, 0);
    lua_rotate(L, -2, 1); /* false, error */
    return 2;
}

/* setmetatable without __gc: a finalizer would run outside any call's
 * budget (Lua runs finalizers with hooks off), at a collection or when the
 * set is freed. */
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

/* rawset that respects protection. The library proxies, the sealed module
 * environments, ctx and module views are empty tables read through
 * __index: a raw write would land in them and outlive the call
 * (rawset(_ENV, "x", 1) a global after all, rawset(string, "format", f) a
 * new string.format for every later call). A table whose metatable is
 * protected (__metatable set) is refused. */
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

void safelib_base(lua_State *L, int base) {
    lua_pushcfunction(L, sb_xpcall);
    lua_setfield(L, base, "xpcall");
    lua_pushcfunction(L, sb_setmetatable);
    lua_setfield(L, base, "setmetatable");
    lua_pushcfunction(L, sb_rawset);
    lua_setfield(L, base, "rawset");
}

/* ---- string ---- */

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

void safelib_string(lua_State *L, int lib) {
    lua_pushnil(L);
    lua_setfield(L, lib, "dump"); /* bytecode is never loaded here */
    lua_pushvalue(L, lib);
    guard_patterns(L);
    lua_pop(L, 1);
}
