/* policy/strict: what a module of a strict set must define (contract.h).
 *
 * A misspelt function loads and is never called: `M.evalute` in an override
 * left the default deciding for that merchant, silently. So a load refuses:
 *   - a module (default or override) that defines none of its contract's
 *     names (returns without evaluate, an override of nothing);
 *   - in a merchant's override, any function that is not a contract
 *     function of its module: nothing but the contract can reach an
 *     override (require gives the defaults), so another name is a mistake;
 *     an override's helpers are local functions;
 *   - in a default module, a function whose name is a likely misspelling of
 *     a contract function (a default module may export helpers for the
 *     others and for overrides: sla.working_day_seconds), and in floor.lua a
 *     function named <module>_<x> that is no contract function;
 *   - a contract name of the wrong type (evaluate = "yes"; calendar must be
 *     a table or a function of ctx).
 * Constants (fields that are not functions) are always allowed. lib/
 * modules are helpers and are not checked. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "policy/contract.h"
#include "policy/policy_impl.h"

static int type_at(lua_State *L, int type_codes) {
    return type_codes ? (int)lua_tointeger(L, -1) : lua_type(L, -1);
}

/* floor.lua: a name <module>_<x> for a module of the contract. */
static int floor_like(const char *name) {
    static const char *const modules[] = {"returns_", "compensation_", "routing_", "sla_", "survey_", "risk_"};
    for (size_t i = 0; i < sizeof modules / sizeof *modules; i++)
        if (strncmp(name, modules[i], strlen(modules[i])) == 0) return 1;
    return 0;
}

static void check_field(lua_State *L, const char *file, const char *module, int merchant, const char *k, int t,
                        int *defined) {
    char names[256], near[64];
    int kind = contract_field(module, k);
    contract_names(module, names, sizeof names);
    if (kind == CONTRACT_FN && t != LUA_TFUNCTION)
        luaL_error(L, "%s: %s.%s must be a function (it is a %s)", file, module, k, lua_typename(L, t));
    if (kind == CONTRACT_VALUE && t != LUA_TTABLE && t != LUA_TFUNCTION)
        luaL_error(L, "%s: %s.%s must be a table or a function of ctx (it is a %s)", file, module, k,
                   lua_typename(L, t));
    if (kind) {
        (*defined)++;
        return;
    }
    if (t != LUA_TFUNCTION) return;
    if (merchant)
        luaL_error(L, "%s: unknown function '%s': an override of %s defines only %s (a helper is a local function)",
                   file, k, module, names);
    if (contract_misspelt(module, k, near, sizeof near))
        luaL_error(L, "%s: unknown function '%s' (did you mean '%s'? %s defines %s)", file, k, near, module, names);
    if (strcmp(module, "floor") == 0 && floor_like(k))
        luaL_error(L, "%s: unknown floor function '%s': the floor judges %s", file, k, names);
}

void policy_check_module(lua_State *L, int idx, int type_codes, const char *file, const char *module,
                         int merchant) {
    if (strncmp(module, "lib.", 4) == 0) return;
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "check");
    int defined = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING)
            check_field(L, file, module, merchant, lua_tostring(L, -2), type_at(L, type_codes), &defined);
        lua_pop(L, 1);
    }
    if (defined == 0) {
        char names[256];
        luaL_error(L, "%s: defines none of %s's contract (%s)", file, module,
                   contract_names(module, names, sizeof names));
    }
}
