/* policy/view: read-only views of the policy modules (view.h). */
#include "policy/view.h"

#include <lauxlib.h>

/* Their addresses are keys: a view's metatable holds its target under
 * &TARGET_KEY; the registry holds the cache (target -> view) under &CACHE_KEY. */
static const char TARGET_KEY = 'T';
static const char CACHE_KEY = 'C';

int view_target(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
    if (lua_rawgetp(L, -1, &TARGET_KEY) == LUA_TTABLE) {
        lua_remove(L, -2);
        return 1;
    }
    lua_pop(L, 2);
    return 0;
}

/* The target of view argument 1 (a view's metamethods only get views). */
static void push_target(lua_State *L) {
    if (!view_target(L, 1)) luaL_error(L, "not a policy module view");
}

static int view_index(lua_State *L) {
    push_target(L);
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
    view_push(L, -1);
    return 1;
}

static int view_newindex(lua_State *L) {
    return luaL_error(L, "policy modules are read-only (field '%s')",
                      lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

static int view_len(lua_State *L) {
    push_target(L);
    lua_len(L, -1);
    return 1;
}

/* next over the target; a key that is a view stands for its target. */
static int view_next(lua_State *L) {
    lua_settop(L, 2);
    push_target(L);
    if (view_target(L, 2)) lua_replace(L, 2);
    lua_pushvalue(L, 2);
    if (!lua_next(L, 3)) return 0;
    view_push(L, -2);
    view_push(L, -2);
    return 2;
}

static int view_pairs(lua_State *L) {
    lua_pushcfunction(L, view_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static void push_cache(lua_State *L) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CACHE_KEY) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &CACHE_KEY);
}

void view_push(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 6, "module view");
    if (lua_type(L, idx) != LUA_TTABLE) {
        lua_pushvalue(L, idx);
        return;
    }
    if (view_target(L, idx)) { /* already a view */
        lua_pop(L, 1);
        lua_pushvalue(L, idx);
        return;
    }
    push_cache(L);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TTABLE) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L); /* the view */
    lua_createtable(L, 0, 6);
    static const luaL_Reg mm[] = {{"__index", view_index}, {"__newindex", view_newindex},
                                  {"__len", view_len},     {"__pairs", view_pairs},
                                  {NULL, NULL}};
    luaL_setfuncs(L, mm, 0);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushvalue(L, idx);
    lua_rawsetp(L, -2, &TARGET_KEY);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4); /* cache[target] = view */
    lua_remove(L, -2);
}
