/* policy/view (internal): read-only views of the policy modules.
 *
 * require(name) hands out a view of the default module, never the module
 * table: an empty table whose metatable reads the module (through its own
 * metamethods, so a module's __index still works), wraps every table it
 * reads (nested tables, keys of pairs) in a view of its own, and refuses
 * writes. So no policy, a merchant's least of all, can change a module, the
 * floor or a table inside them for another call; the module's own code works
 * on its real tables as before. A view is made once per table and shared
 * (views are cached by target, weakly), so it costs nothing per merchant. */
#ifndef AS_POLICY_VIEW_H
#define AS_POLICY_VIEW_H

#include <lua.h>

/* Pushes the view of the value at idx if it is a table (a view stays
 * itself), else the value. Inside a run (it allocates). */
void view_push(lua_State *L, int idx);
/* If the value at idx is a view, pushes the table it shows and returns 1;
 * else pushes nothing and returns 0. Never raises (needs 2 stack slots). */
int view_target(lua_State *L, int idx);

#endif
