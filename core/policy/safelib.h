/* policy/safelib (internal): the library functions the sandbox replaces,
 * because the stock ones could run outside the budget or reach what a policy
 * must not change. Each installer works on the real library table before the
 * sandbox hides it behind a read-only proxy.
 *
 *   base    xpcall (its message handler never runs once the budget is spent:
 *           Lua runs handlers of an error raised by the hook with hooks off),
 *           setmetatable (no __gc: a finalizer runs unhooked), rawset (not on
 *           protected tables)
 *   string  rep (the empty string repeated is "" at once), and find, match,
 *           gmatch, gsub with a metered matcher (pattern.c)
 *   table   insert, remove, move (elements moved are charged), sort (each
 *           comparison is charged)
 *   os      date (format strings of at most OS_DATE_MAX_FORMAT bytes) */
#ifndef AS_POLICY_SAFELIB_H
#define AS_POLICY_SAFELIB_H

#include <lua.h>

#define OS_DATE_MAX_FORMAT 256

void safelib_base(lua_State *L, int base);
void safelib_string(lua_State *L, int lib);
void safelib_table(lua_State *L, int lib);
void safelib_os(lua_State *L, int lib);

/* pattern.c: replaces find, match, gmatch and gsub in the string library. */
void safelib_patterns(lua_State *L, int lib);

#endif
