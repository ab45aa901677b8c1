/* policy/policy: loading a policy set, its version and its description.
 *
 * A load builds everything in a fresh state and only hands the set out when
 * every file compiled, every module's top level returned a table and the
 * calendar is valid; on any error the state is closed and nothing is kept,
 * so the server's old set keeps serving (Redis functionsCreateWithLibraryCtx).
 * A merchant's file is compiled once and run once here, to check it; each
 * call that uses it runs a new instance (merchant_instance). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/fileset.h"
#include "policy/luajson.h"
#include "policy/policy_impl.h"
#include "policy/view.h"

#define MERCHANTS_PREFIX "merchants/"

/* Runs the chunk of default module `name` if it has not run yet and leaves
 * the module on the stack. Modules load on first require, so a file may
 * require another at its top level whatever the order of the files. */
static void load_default(lua_State *L, policy_set *ps, const char *name) {
    luaL_checkstack(L, 4, "require");
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->defaults_ref);
    if (lua_getfield(L, -1, name) != LUA_TNIL) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    if (ps->pending_ref == LUA_NOREF) luaL_error(L, "module '%s' not found in this policy set", name);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->pending_ref);
    int t = lua_getfield(L, -1, name);
    if (t == LUA_TNIL) luaL_error(L, "module '%s' not found in this policy set", name);
    if (t == LUA_TBOOLEAN) luaL_error(L, "module '%s' requires itself while it loads", name);
    lua_pushboolean(L, 0);
    lua_setfield(L, -3, name); /* pending[name] = false: loading */
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1)) {
        lua_pushfstring(L, "%s.lua: module must return a table", name);
        lua_error(L);
    }
    lua_pushnil(L);
    lua_setfield(L, -3, name);
    lua_remove(L, -2);              /* pending */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);      /* defaults[name] = module */
    lua_remove(L, -2);              /* defaults */
}

/* require(name): a read-only view of the set's default module `name`
 * (view.h): no policy can change a module for another call or merchant. */
static int l_require(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    load_default(L, lua_touserdata(L, lua_upvalueindex(1)), name);
    view_push(L, -1);
    return 1;
}

/* Splits "merchants/ID/NAME.lua" or "NAME.lua" into the merchant id (NULL for
 * a default module) and the module name, in the caller's buffers. */
static void split_name(const char *path, char *merchant, char *module, size_t len) {
    const char *file = path;
    merchant[0] = '\0';
    if (strncmp(path, "lib/", 4) == 0) { /* a helper: require("lib.NAME") */
        snprintf(module, len, "lib.%.*s", (int)(strlen(path) - 8), path + 4);
        return;
    }
    if (strncmp(path, MERCHANTS_PREFIX, strlen(MERCHANTS_PREFIX)) == 0) {
        const char *id = path + strlen(MERCHANTS_PREFIX);
        file = strchr(id, '/') + 1;
        snprintf(merchant, len, "%.*s", (int)(file - 1 - id), id);
    }
    snprintf(module, len, "%.*s", (int)(strlen(file) - 4), file);
}

static int new_ref(lua_State *L) {
    lua_newtable(L);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Compiles every file as text (never bytecode). A default gets its own env
 * and goes to pending[name]; a merchant's chunk (which gets an env per
 * instance) to the list at index mlist as {merchant, module, chunk, file}. */
static void compile_all(lua_State *L, policy_set *ps, const pfiles *fs, int mlist) {
    char merchant[256], module[256], chunkname[1100];
    for (size_t i = 0; i < fs->n; i++) {
        const pfile *f = &fs->v[i];
        split_name(f->name, merchant, module, sizeof module);
        snprintf(chunkname, sizeof chunkname, "@%s", f->name);
        sandbox_budget_reset(&ps->sb); /* each compile's allocations on a budget of their own */
        if (luaL_loadbufferx(L, f->text, f->len, chunkname, "t") != LUA_OK) lua_error(L);
        if (merchant[0] == '\0') sandbox_push_module_env(&ps->sb);
        else sandbox_push_instance_env(&ps->sb); /* never the real globals */
        if (lua_setupvalue(L, -2, 1) == NULL) lua_pop(L, 1);
        if (merchant[0] == '\0') {
            lua_rawgeti(L, LUA_REGISTRYINDEX, ps->pending_ref);
            lua_insert(L, -2);
            lua_setfield(L, -2, module);
            lua_pop(L, 1);
            continue;
        }
        lua_createtable(L, 4, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 3);
        lua_pushstring(L, merchant);
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, module);
        lua_rawseti(L, -2, 2);
        lua_pushstring(L, f->name);
        lua_rawseti(L, -2, 4);
        lua_rawseti(L, mlist, (lua_Integer)lua_rawlen(L, mlist) + 1);
    }
}

/* A merchant's module: the entry {chunk, fields, file} at index e (fields:
 * {name = lua type} of what its module table defines) run as a fresh
 * instance: its top level runs again in a new env, sealed after it, and the
 * module table it returns is pushed. Nothing of an instance outlives the
 * call that made it: a merchant's code keeps no state from call to call,
 * holds no memory between calls, and cannot reach another instance. */
static void instantiate(lua_State *L, policy_set *ps, int e) {
    e = lua_absindex(L, e);
    luaL_checkstack(L, 4, "merchant module");
    sandbox_push_instance_env(&ps->sb);
    lua_rawgeti(L, e, 1);
    lua_pushvalue(L, -2);
    if (lua_setupvalue(L, -2, 1) == NULL) lua_pop(L, 1);
    lua_call(L, 0, 1); /* env, module */
    if (!lua_istable(L, -1)) {
        lua_rawgeti(L, e, 3);
        lua_pushfstring(L, "%s: module must return a table", lua_tostring(L, -1));
        lua_error(L);
    }
    sandbox_seal_env(&ps->sb, -2);
    lua_remove(L, -2);
}

/* Pushes merchants[merchant][module] (an entry) and returns 1, or nothing and 0. */
static int merchant_entry(lua_State *L, policy_set *ps, const char *merchant, const char *module) {
    luaL_checkstack(L, 3, "merchant module");
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->merchants_ref);
    if (lua_getfield(L, -1, merchant) == LUA_TTABLE && lua_getfield(L, -1, module) == LUA_TTABLE) {
        lua_replace(L, top + 1);
        lua_settop(L, top + 1);
        return 1;
    }
    lua_settop(L, top);
    return 0;
}

int merchant_instance(lua_State *L, policy_set *ps, const char *merchant, const char *module) {
    if (!merchant_entry(L, ps, merchant, module)) {
        lua_pushnil(L);
        return 0;
    }
    instantiate(L, ps, -1);
    lua_remove(L, -2);
    return 1;
}

int merchant_defines(lua_State *L, policy_set *ps, const char *merchant, const char *module,
                     const char *name) {
    if (!merchant_entry(L, ps, merchant, module)) return LUA_TNONE;
    if (name == NULL) {
        lua_pop(L, 1);
        return LUA_TTABLE; /* the module itself */
    }
    lua_rawgeti(L, -1, 2);
    int t = lua_getfield(L, -1, name) == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : LUA_TNONE;
    lua_pop(L, 3);
    return t;
}

/* Runs each merchant chunk once, as its first instance would run, to check
 * it and note what it defines: merchants[id][name] = {chunk, fields, file}. */
static void run_merchants(lua_State *L, policy_set *ps, int mlist) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->merchants_ref);
    int merchants = lua_gettop(L);
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, mlist); i++) {
        lua_rawgeti(L, mlist, i);
        int e = lua_gettop(L);
        lua_rawgeti(L, e, 1);
        if (lua_rawget(L, merchants) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_rawgeti(L, e, 1);
            lua_pushvalue(L, -2);
            lua_rawset(L, merchants);
        }
        lua_createtable(L, 3, 0); /* the entry */
        int entry = lua_gettop(L);
        lua_rawgeti(L, e, 3);
        lua_rawseti(L, entry, 1);
        lua_newtable(L);
        lua_rawseti(L, entry, 2);
        lua_rawgeti(L, e, 4);
        lua_rawseti(L, entry, 3);
        sandbox_budget_reset(&ps->sb);
        instantiate(L, ps, entry);
        lua_rawgeti(L, entry, 2);
        lua_pushnil(L);
        while (lua_next(L, -3) != 0) { /* fields[name] = its type */
            if (lua_type(L, -2) == LUA_TSTRING) {
                lua_pushinteger(L, lua_type(L, -1));
                lua_pushvalue(L, -3);
                lua_insert(L, -2);
                lua_rawset(L, -5);
            }
            lua_pop(L, 1);
        }
        if (ps->strict) { /* fields on top: what the override defines */
            lua_rawgeti(L, e, 2);
            lua_rawgeti(L, e, 4);
            policy_check_module(L, -3, 1, lua_tostring(L, -1), lua_tostring(L, -2), 1);
            lua_pop(L, 2);
        }
        lua_pop(L, 2); /* fields, instance */
        lua_rawgeti(L, e, 2);
        lua_insert(L, -2);
        lua_rawset(L, -3); /* merchants[id][name] = entry */
        lua_settop(L, e - 1);
    }
    lua_pop(L, 1);
}

/* The calendar's list fields as arrays: an empty Lua table converts to {},
 * and an empty holiday list is still a list. */
static void calendar_lists(json_t *spec) {
    static const char *const lists[] = {"workdays", "hours", "holidays", "workday_overrides", NULL};
    for (int i = 0; lists[i]; i++) {
        json_t *v = json_object_get(spec, lists[i]);
        if (json_is_object(v) && json_object_size(v) == 0)
            json_object_set_new(spec, lists[i], json_array());
    }
}

/* The set's calendar from the default sla.calendar (a table or a function
 * of ctx returning one); platform defaults without one. */
static void build_calendar(lua_State *L, policy_set *ps) {
    char cerr[256] = "", msg[400];
    luaL_checkstack(L, 4, "calendar");
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->defaults_ref);
    if (lua_getfield(L, -1, "sla") == LUA_TTABLE) {
        lua_pushliteral(L, "calendar");
        lua_rawget(L, -2);
    } else {
        lua_pushnil(L);
    }
    if (lua_isfunction(L, -1)) {
        sandbox_budget_reset(&ps->sb);
        ctx_begin(L, ps, NULL, NULL);
        lua_rawgeti(L, LUA_REGISTRYINDEX, ps->ctx_ref);
        lua_call(L, 1, 1);
    }
    int t = lua_type(L, -1);
    if (t != LUA_TNIL && t != LUA_TTABLE) luaL_error(L, "sla.lua: calendar must be a table");
    json_t *spec = t == LUA_TNIL ? json_object() : luajson_to_json(L, -1, cerr, sizeof cerr);
    if (spec == NULL) {
        snprintf(msg, sizeof msg, "sla.lua: calendar: %s", cerr[0] ? cerr : "out of memory");
        lua_pushstring(L, msg);
        lua_error(L);
    }
    calendar_lists(spec);
    int rc = calendar_from_json(spec, &ps->cal, cerr, sizeof cerr);
    json_decref(spec);
    if (rc != 0) {
        ps->cal = NULL;
        snprintf(msg, sizeof msg, "sla.lua: calendar: %s", cerr);
        lua_pushstring(L, msg);
        lua_error(L);
    }
    lua_pop(L, 3);
}

/* Protected: compile, run every module, build the calendar, seal globals. */
static int load_body(lua_State *L) {
    policy_set *ps = lua_touserdata(L, 1);
    const pfiles *fs = lua_touserdata(L, 2);
    ps->defaults_ref = new_ref(L);
    ps->pending_ref = new_ref(L);
    ps->merchants_ref = new_ref(L);
    ctx_create(L, ps);
    lua_newtable(L);
    int mlist = lua_gettop(L);
    compile_all(L, ps, fs, mlist);
    char merchant[256], module[256];
    for (size_t i = 0; i < fs->n; i++) {
        split_name(fs->v[i].name, merchant, module, sizeof module);
        if (merchant[0] != '\0') continue;
        sandbox_budget_reset(&ps->sb);
        load_default(L, ps, module);
        if (ps->strict) policy_check_module(L, -1, 0, fs->v[i].name, module, 0);
        lua_pop(L, 1);
    }
    run_merchants(L, ps, mlist);
    luaL_unref(L, LUA_REGISTRYINDEX, ps->pending_ref);
    ps->pending_ref = LUA_NOREF;
    sandbox_budget_reset(&ps->sb);
    build_calendar(L, ps);
    sandbox_budget_reset(&ps->sb);
    sandbox_seal(&ps->sb);
    ctx_end(ps);
    return 0;
}

static json_t *describe_files(const pfiles *fs) {
    json_t *files = json_array();
    for (size_t i = 0; files && i < fs->n; i++) {
        if (json_array_append_new(files, json_pack("{s:s,s:s}", "name", fs->v[i].name, "sha256",
                                                   fs->v[i].sha256)) != 0) {
            json_decref(files);
            return NULL;
        }
    }
    return files;
}

static policy_set *set_new(const policy_config *cfg) {
    policy_set *ps = calloc(1, sizeof *ps);
    if (ps == NULL) return NULL;
    ps->budget = cfg->instr_budget ? cfg->instr_budget : POLICY_DEFAULT_BUDGET;
    ps->defaults_ref = ps->pending_ref = ps->merchants_ref = LUA_NOREF;
    ps->ctx_ref = ps->ctx_fields_ref = LUA_NOREF;
    ps->loaded_at = (int64_t)time(NULL);
    ps->strict = !cfg->lax;
    return ps;
}

int policy_set_load(const policy_config *cfg, policy_set **out, char *err, size_t errlen) {
    *out = NULL;
    if (cfg == NULL || (cfg->dir == NULL && cfg->sources == NULL)) {
        snprintf(err, errlen, "policy_set_load: no policies directory");
        return -1;
    }
    pfiles fs;
    if (fileset_gather(cfg->dir, cfg->sources, FILESET_MODULES, !cfg->lax, &fs, err, errlen) != 0) return -1;
    policy_set *ps = set_new(cfg);
    int rc = -1;
    if (ps == NULL || (ps->files = describe_files(&fs)) == NULL ||
        fileset_version(&fs, ps->version) != 0) {
        snprintf(err, errlen, "policy_set_load: out of memory");
    } else if (sandbox_open(&ps->sb, cfg->mem_cap ? cfg->mem_cap : POLICY_DEFAULT_MEM_CAP,
                            l_require, ps, err, errlen) == 0) {
        lua_pushcfunction(ps->sb.L, load_body);
        lua_pushlightuserdata(ps->sb.L, ps);
        lua_pushlightuserdata(ps->sb.L, &fs);
        rc = sandbox_run(&ps->sb, 2, 0, ps->budget, 0, err, errlen);
        ctx_end(ps);
    }
    fileset_free(&fs);
    if (rc != 0) {
        policy_set_free(ps);
        return -1;
    }
    *out = ps;
    return 0;
}

/* An override's own calendar, or NULL (err says why) to use the default. */
static calendar *merchant_calendar(policy_set *ps, const char *merchant_id, char *err,
                                   size_t errlen) {
    if (!policy_overrides(ps, merchant_id, "sla", "calendar")) return NULL;
    json_t *spec = NULL;
    calendar *cal = NULL;
    policy_ctx ctx = {.now = ps->loaded_at, .merchant_id = merchant_id};
    if (policy_value(ps, merchant_id, "sla", "calendar", &ctx, &spec, err, errlen) == 0) {
        if (json_is_object(spec)) calendar_lists(spec);
        if (calendar_from_json(spec, &cal, err, errlen) != 0) cal = NULL;
    }
    json_decref(spec);
    return cal;
}

const calendar *policy_calendar(policy_set *ps, const char *merchant_id, char *err,
                                size_t errlen) {
    if (errlen) err[0] = '\0';
    if (merchant_id == NULL) return ps->cal;
    if (ps->merchant_cals == NULL && (ps->merchant_cals = json_object()) == NULL) return ps->cal;
    json_t *known = json_object_get(ps->merchant_cals, merchant_id);
    if (known) {
        calendar *c = ps->cals[json_integer_value(known)];
        return c ? c : ps->cal;
    }
    calendar **grown = realloc(ps->cals, (ps->ncals + 1) * sizeof *grown);
    if (grown == NULL) return ps->cal;
    ps->cals = grown;
    calendar *c = merchant_calendar(ps, merchant_id, err, errlen);
    if (json_object_set_new(ps->merchant_cals, merchant_id, json_integer((json_int_t)ps->ncals)) != 0) {
        calendar_free(c);
        return ps->cal;
    }
    ps->cals[ps->ncals++] = c;
    return c ? c : ps->cal;
}

void policy_set_free(policy_set *ps) {
    if (ps == NULL) return;
    ctx_end(ps);
    sandbox_close(&ps->sb);
    calendar_free(ps->cal);
    for (size_t i = 0; i < ps->ncals; i++) calendar_free(ps->cals[i]);
    free(ps->cals);
    json_decref(ps->merchant_cals);
    json_decref(ps->files);
    json_decref(ps->tmp_json);
    free(ps);
}

const char *policy_set_version(const policy_set *ps) {
    return ps->version;
}

int64_t policy_set_loaded_at(const policy_set *ps) {
    return ps->loaded_at;
}

void policy_set_set_loaded_at(policy_set *ps, int64_t ts) {
    ps->loaded_at = ts;
}

json_t *policy_set_describe(const policy_set *ps) {
    return json_pack("{s:s,s:I,s:O}", "version", ps->version, "loaded_at",
                     (json_int_t)ps->loaded_at, "files", ps->files);
}

void policy_get_stats(const policy_set *ps, policy_stats *st) {
    *st = ps->stats;
}

void policy_carry_stats(policy_set *to, const policy_set *from) {
    to->stats.calls += from->stats.calls;
    to->stats.errors += from->stats.errors;
    to->stats.call_us_total += from->stats.call_us_total;
}
