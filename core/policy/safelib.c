/* policy/safelib: the library functions the sandbox replaces (safelib.h says
 * which and why). Each does what the stock function does for a policy, and
 * charges the work it does in C to the run's budget before doing it. */
#include "policy/safelib.h"

#include <lauxlib.h>

#include "policy/sandbox.h"

/* Units charged per element moved by table.insert/remove/move, and per
 * comparison of table.sort (a C call, two reads, a compare). */
#define MOVE_UNITS 2
#define COMPARE_UNITS 4

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

/* string.rep: the stock one copies nothing n times when the string and the
 * separator are empty, a loop of up to 2^63 turns that no allocation (and so
 * no charge) ever stops. Anything else allocates its whole result first. */
static int sb_rep(lua_State *L) {
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0 && l == 0 && lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

void safelib_string(lua_State *L, int lib) {
    lua_getfield(L, lib, "rep");
    lua_pushcclosure(L, sb_rep, 1);
    lua_setfield(L, lib, "rep");
    lua_pushnil(L);
    lua_setfield(L, lib, "dump"); /* bytecode is never loaded here */
    safelib_patterns(L, lib);
}

/* ---- table ---- */

enum { NEED_READ = 1, NEED_WRITE = 2, NEED_LEN = 4 };

/* A table, or a value whose metatable gives what the operation needs. */
static void check_table(lua_State *L, int arg, int need) {
    static const char *const fields[] = {"__index", "__newindex", "__len"};
    if (lua_type(L, arg) == LUA_TTABLE) return;
    for (int i = 0; i < 3; i++) {
        if (!(need & (1 << i))) continue;
        if (luaL_getmetafield(L, arg, fields[i]) == LUA_TNIL) luaL_checktype(L, arg, LUA_TTABLE);
        lua_pop(L, 1);
    }
}

static lua_Integer table_len(lua_State *L, int arg, int need) {
    check_table(L, arg, need | NEED_LEN);
    return luaL_len(L, arg);
}

/* Charges moving n elements (n may be huge: a __len of 2^62). */
static void charge_moves(lua_State *L, lua_Unsigned n, const char *what) {
    uint64_t units = n > UINT64_MAX / MOVE_UNITS ? UINT64_MAX : (uint64_t)n * MOVE_UNITS;
    sandbox_charge(L, units, what);
}

/* table.insert(list, [pos,] value): the elements from pos up move one up. */
static int sb_insert(lua_State *L) {
    lua_Integer e = (lua_Integer)((lua_Unsigned)table_len(L, 1, NEED_READ | NEED_WRITE) + 1u);
    lua_Integer pos = e;
    switch (lua_gettop(L)) {
    case 2: break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        charge_moves(L, (lua_Unsigned)e - (lua_Unsigned)pos, "table.insert");
        for (lua_Integer i = e; i > pos; i--) {
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    default: return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

/* table.remove(list [, pos]): the elements above pos move one down. */
static int sb_remove(lua_State *L) {
    lua_Integer size = table_len(L, 1, NEED_READ | NEED_WRITE);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2, "position out of bounds");
    lua_geti(L, 1, pos);
    if (pos < size) charge_moves(L, (lua_Unsigned)size - (lua_Unsigned)pos, "table.remove");
    for (; pos < size; pos++) {
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

/* table.move(a1, f, e, t [, a2]): a2[t..] = a1[f..e], overlapping ranges
 * copied in the safe direction. */
static int sb_move(lua_State *L) {
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int dst = lua_isnoneornil(L, 5) ? 1 : 5;
    check_table(L, 1, NEED_READ);
    check_table(L, dst, NEED_WRITE);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
        charge_moves(L, (lua_Unsigned)n, "table.move");
        if (t > e || t <= f || (dst != 1 && !lua_compare(L, 1, dst, LUA_OPEQ))) {
            for (lua_Integer i = 0; i < n; i++) {
                lua_geti(L, 1, f + i);
                lua_seti(L, dst, t + i);
            }
        } else {
            for (lua_Integer i = n - 1; i >= 0; i--) {
                lua_geti(L, 1, f + i);
                lua_seti(L, dst, t + i);
            }
        }
    }
    lua_pushvalue(L, dst);
    return 1;
}

/* The comparison table.sort makes, charged: upvalue 1 is the policy's
 * comparator or nil for "<". A sort's length comes from __len, so the
 * number of comparisons is only known as they happen. */
static int sort_less(lua_State *L) {
    sandbox_charge(L, COMPARE_UNITS, "table.sort");
    if (lua_isnil(L, lua_upvalueindex(1))) {
        lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static int sb_sort(lua_State *L) {
    check_table(L, 1, NEED_READ | NEED_WRITE | NEED_LEN);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_pushcclosure(L, sort_less, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 0);
    return 0;
}

void safelib_table(lua_State *L, int lib) {
    lua_pushcfunction(L, sb_insert);
    lua_setfield(L, lib, "insert");
    lua_pushcfunction(L, sb_remove);
    lua_setfield(L, lib, "remove");
    lua_pushcfunction(L, sb_move);
    lua_setfield(L, lib, "move");
    lua_getfield(L, lib, "sort");
    lua_pushcclosure(L, sb_sort, 1);
    lua_setfield(L, lib, "sort");
}

/* ---- os ---- */

/* os.date: each conversion of a format is a strftime call and none is an
 * instruction; a format of a few MB would be a second in one call. */
static int sb_date(lua_State *L) {
    size_t len;
    const char *fmt = luaL_optlstring(L, 1, "%c", &len);
    (void)fmt;
    if (len > OS_DATE_MAX_FORMAT)
        return luaL_error(L, "os.date: format longer than %d bytes", OS_DATE_MAX_FORMAT);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

void safelib_os(lua_State *L, int lib) {
    lua_getfield(L, lib, "date");
    lua_pushcclosure(L, sb_date, 1);
    lua_setfield(L, lib, "date");
}
