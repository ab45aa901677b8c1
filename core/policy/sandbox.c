/* policy/sandbox: the Lua state, its allow-list globals and its budgets.
 *
 * Allow-list, as Lua's own linit.c opens libraries: the state opens base,
 * string, table, math, utf8 and os, and policies see only the names copied
 * into the base table below, through read-only proxies (so one call cannot
 * change string.format for the next). Everything else (load, dofile, io,
 * debug, package, string.dump, os.execute ...) is never reachable. The
 * functions whose work the meter must see are replaced (safelib.c,
 * pattern.c).
 *
 * The meter (see sandbox.h) lives here: the allocator, the count hook, the
 * charges from C and the message handler. */
#include "policy/sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/safelib.h"

#define HOOK_EVERY 1000
#define SETUP_BUDGET 10000000u
/* An instruction that takes this long on average is not a VM instruction's
 * work (a compare of two long strings, a scan in next): the hook then fires
 * on every instruction, so the time limit is checked between each. */
#define SLOW_NS_PER_INSTRUCTION 1000
/* The allocator converts bytes to units every this many bytes. */
#define ALLOC_SETTLE_BYTES 65536
/* Some single instructions scan a whole object without allocating: a == b
 * on two long strings, next() past a long run of empty slots, utf8.len,
 * a string coerced to a number. Only objects of BIG_OBJECT bytes and more
 * can make that slow, so the state counts the bytes it holds in them, and
 * the hook fires often enough that one period scans at most PERIOD_SCAN
 * bytes even if every instruction scans all of them: the time limit is
 * then checked before it can be overshot by much. A state without big
 * objects keeps the period of HOOK_EVERY instructions. */
#define BIG_OBJECT 65536
#define PERIOD_SCAN ((uint64_t)32 << 20)

static const char *const BASE_NAMES[] = {
    "assert", "error",  "ipairs",   "next",     "pairs",  "pcall",  "rawequal", "rawget",
    "rawlen", "rawset", "select",   "getmetatable", "tonumber", "tostring", "type", "xpcall",
    "_VERSION", NULL};
static const char *const OS_NAMES[] = {"time", "date", "clock", NULL};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

uint64_t sandbox_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The time limit counts the CPU time of the thread, so a run the OS set
 * aside for a while (a loaded machine) is not failed for it. Reading that
 * clock is a system call, so the wall clock (CPU time never runs ahead of
 * it) says when it is worth reading: not before FIRST_LOOK_NS (no ordinary
 * call lasts that long), and then not before the limit could be reached. At
 * the first look, the time before it counts as CPU time, up to
 * FIRST_LOOK_MAX_NS (what one hook period can take; beyond that the thread
 * was set aside). */
#define FIRST_LOOK_NS 2000000u
#define FIRST_LOOK_MAX_NS 20000000u

static int over_time(sandbox *sb, uint64_t t) {
    if (t < sb->check_at_ns) return 0;
    uint64_t cpu = sandbox_cpu_ns();
    if (sb->cpu_start_ns == 0) {
        uint64_t before = t - sb->start_ns;
        sb->cpu_start_ns = cpu - (before < FIRST_LOOK_MAX_NS ? before : FIRST_LOOK_MAX_NS);
    }
    uint64_t used = cpu - sb->cpu_start_ns;
    if (used >= sb->limit_ns) return 1;
    sb->check_at_ns = t + (sb->limit_ns - used);
    return 0;
}

sandbox *sandbox_of(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

static void sb_hook(lua_State *L, lua_Debug *ar);

/* The hook fires after n more instructions. */
static void arm(sandbox *sb, int n) {
    sb->count = n;
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, n);
}

/* Moves counted allocation bytes into spent. */
static void settle(sandbox *sb) {
    sb->spent += sb->alloc_bytes / ALLOC_BYTES_PER_UNIT;
    sb->alloc_bytes %= ALLOC_BYTES_PER_UNIT;
}

/* The budget is broken: from now on the hook fails on every instruction. */
static void exhaust(sandbox *sb, int how, const char *what) {
    if (sb->exhausted) return;
    sb->exhausted = how;
    sb->what = what;
    arm(sb, 1);
}

/* Instructions between two hook firings: HOOK_EVERY, fewer while big
 * objects are held, never more than the budget has left. */
static int period(const sandbox *sb) {
    uint64_t n = HOOK_EVERY;
    if (sb->big_bytes > 0 && PERIOD_SCAN / sb->big_bytes < n) n = PERIOD_SCAN / sb->big_bytes;
    if (sb->budget > sb->spent && sb->budget - sb->spent < n) n = sb->budget - sb->spent;
    return n < 1 ? 1 : (int)n;
}

/* Counts bytes and refuses growth past the cap. Shrinking and freeing always
 * succeed, as Lua requires of an allocator. In a run, growth is charged; when
 * that spends the budget the hook is armed for the very next instruction (an
 * allocator cannot raise). A refusal makes Lua run a full collection before
 * it gives up: that work, over the whole heap, is charged too. */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        if (old >= BIG_OBJECT) sb->big_bytes -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > sb->cap - sb->used) {
        sb->mem_refused = 1;
        if (sb->in_run) {
            sb->alloc_bytes += sb->used;
            settle(sb);
            if (sb->spent > sb->budget && sb->count != 1) arm(sb, 1);
        }
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) return nsize <= old ? ptr : NULL;
    sb->used = sb->used - old + nsize;
    if (old >= BIG_OBJECT) sb->big_bytes -= old;
    if (nsize >= BIG_OBJECT) sb->big_bytes += nsize;
    if (sb->in_run && nsize > old) {
        sb->alloc_bytes += nsize - old;
        if (sb->alloc_bytes >= ALLOC_SETTLE_BYTES) settle(sb);
        if (sb->spent > sb->budget) {
            if (sb->count != 1) arm(sb, 1);
        } else if (nsize >= BIG_OBJECT && period(sb) < sb->count) {
            arm(sb, period(sb)); /* a big object now: the current period is too long */
        }
    }
    return p;
}

/* The count hook: counts the instructions since the last firing, the
 * allocations, and the time. Once a budget is broken it fails on every
 * instruction, so the error reaches the outermost frame even through a
 * script's pcall (Redis luaMaskCountHook does the same). Lua runs a hook
 * with hooks off: an error raised here reaches message handlers that run
 * unhooked, which is why xpcall's handler is guarded (safelib.c). */
static void sb_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    sandbox *sb = sandbox_of(L);
    if (!sb->exhausted) {
        sb->spent += (uint64_t)sb->count;
        settle(sb);
        uint64_t t = now_ns();
        if (sb->spent >= sb->budget) {
            exhaust(sb, SB_INSTRUCTIONS, NULL);
        } else if (over_time(sb, t)) {
            exhaust(sb, SB_TIME, NULL);
        } else {
            int slow = t - sb->last_ns > (uint64_t)sb->count * SLOW_NS_PER_INSTRUCTION;
            int n = slow ? 1 : period(sb);
            sb->last_ns = t;
            if (n != sb->count) arm(sb, n);
            return;
        }
    }
    if (sb->exhausted == SB_TIME) lua_pushliteral(L, "time limit exceeded");
    else lua_pushliteral(L, "instruction budget exceeded");
    lua_error(L);
}

void sandbox_charge(lua_State *L, uint64_t units, const char *what) {
    sandbox *sb = sandbox_of(L);
    if (!sb->in_run) return;
    sb->spent = units > UINT64_MAX - sb->spent ? UINT64_MAX : sb->spent + units;
    settle(sb);
    if (!sb->exhausted && sb->spent < sb->budget) return;
    exhaust(sb, SB_INSTRUCTIONS, what);
    if (sb->exhausted == SB_TIME) luaL_error(L, "time limit exceeded");
    luaL_error(L, "instruction budget exceeded");
}

uint64_t sandbox_spent(sandbox *sb) {
    return sb->spent + sb->alloc_bytes / ALLOC_BYTES_PER_UNIT;
}

static void budget_start(sandbox *sb, uint64_t budget) {
    if (budget == 0) budget = 1;
    sb->budget = budget;
    sb->spent = 0;
    sb->alloc_bytes = 0;
    sb->exhausted = SB_OK;
    sb->what = NULL;
    sb->start_ns = sb->last_ns = now_ns();
    sb->check_at_ns = sb->start_ns + FIRST_LOOK_NS;
    sb->cpu_start_ns = 0;
    sb->limit_ns = budget > UINT64_MAX / SANDBOX_NS_PER_UNIT ? UINT64_MAX
                                                            : budget * SANDBOX_NS_PER_UNIT;
    if (sb->limit_ns < SANDBOX_MIN_TIME_NS) sb->limit_ns = SANDBOX_MIN_TIME_NS;
    if (sb->time_cap_ns && sb->limit_ns > sb->time_cap_ns) sb->limit_ns = sb->time_cap_ns;
    arm(sb, period(sb));
}

void sandbox_budget_reset(sandbox *sb) {
    budget_start(sb, sb->budget);
}

void sandbox_budget_renew(sandbox *sb) {
    lua_gc(sb->L, LUA_GCCOLLECT);
    budget_start(sb, sb->budget);
    sb->mem_refused = 0;
}

/* The error object as text. A __tostring object is asked for its text while
 * the budget holds (its metamethod is then hooked); once it is broken the
 * error is the budget's own string anyway. */
static const char *error_text(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg != NULL) return msg;
    if (!sandbox_of(L)->exhausted && luaL_callmeta(L, 1, "__tostring") &&
        lua_type(L, -1) == LUA_TSTRING)
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
    const char *tb = msg ? strstr(msg, "\nstack traceback:") : NULL;
    if (exhausted == SB_TIME) {
        snprintf(err, errlen, "time limit exceeded (%llu ms)%s",
                 (unsigned long long)(sb->limit_ns / 1000000u), tb ? tb : "");
    } else if (refused && (exhausted || st == LUA_ERRMEM || st == LUA_ERRERR ||
                           (msg && strstr(msg, "not enough memory")))) {
        /* a refusal is charged the collection it causes: often what spent
         * the budget, but the memory is the cause */
        snprintf(err, errlen, "memory cap exceeded");
    } else if (exhausted) {
        snprintf(err, errlen, "instruction budget exceeded%s%s%s", sb->what ? " in " : "",
                 sb->what ? sb->what : "", tb ? tb : "");
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
    sb->mem_refused = 0;
    budget_start(sb, budget);
    sb->in_run = 1;
    int st = lua_pcall(L, nargs, nres, fn);
    sb->in_run = 0;
    settle(sb);
    int exhausted = sb->exhausted, refused = sb->mem_refused;
    lua_sethook(L, NULL, 0, 0);
    if (st == LUA_OK && !exhausted) {
        lua_remove(L, fn);
        return 0;
    }
    /* A run can break its budget and still return: after a tail call into a
     * C function (return xpcall(...)) no instruction runs again. It failed. */
    if (st == LUA_OK) lua_pushnil(L);
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

/* Opens library `name`, lets `guard` replace what it must in the real table,
 * and sets base[name] to a read-only proxy of it (only `keep` names when
 * given). Leaves the real library on the stack. */
static void add_lib(lua_State *L, int base, const char *name, lua_CFunction open,
                    void (*guard)(lua_State *L, int lib), const char *const *keep) {
    luaL_requiref(L, name, open, 0);
    if (guard) guard(L, lua_gettop(L));
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
    safelib_base(L, base);
    lua_pushlightuserdata(L, a->require_ud);
    lua_pushcclosure(L, a->require_fn, 1);
    lua_setfield(L, base, "require");
    add_lib(L, base, LUA_STRLIBNAME, luaopen_string, safelib_string, NULL);
    add_lib(L, base, LUA_TABLIBNAME, luaopen_table, safelib_table, NULL);
    add_lib(L, base, LUA_MATHLIBNAME, luaopen_math, NULL, NULL);
    add_lib(L, base, LUA_UTF8LIBNAME, luaopen_utf8, NULL, NULL);
    add_lib(L, base, LUA_OSLIBNAME, luaopen_os, safelib_os, OS_NAMES);
    lua_pop(L, 5);
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

void sandbox_push_instance_env(sandbox *sb) {
    sandbox_push_base(sb);
    push_env_over(sb->L, -1);
    lua_remove(sb->L, -2);
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

void sandbox_seal_env(sandbox *sb, int idx) {
    luaL_checkstack(sb->L, 8, "sealing globals");
    seal_env(sb->L, lua_absindex(sb->L, idx));
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
