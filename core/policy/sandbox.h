/* policy/sandbox (internal): one Lua state with an allow-list environment and
 * the two budgets every run is held to.
 *
 * The state's lua_Alloc counts every byte and refuses past the cap; a count
 * hook counts VM instructions and, once the budget is spent, fails on every
 * instruction (so a script's own pcall cannot swallow it). Every run goes
 * through sandbox_run: lua_pcall with a message handler, budgets reset first,
 * the stack restored after, the error turned into a string. */
#ifndef AS_POLICY_SANDBOX_H
#define AS_POLICY_SANDBOX_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sandbox {
    lua_State *L;
    size_t used;          /* bytes the state holds now */
    size_t cap;           /* bytes it may hold */
    int mem_refused;      /* the allocator said no during this run */
    uint64_t ticks;       /* hook firings of this run */
    uint64_t max_ticks;   /* firings allowed */
    int count;            /* instructions between firings */
    int exhausted;        /* the instruction budget of this run is spent */
    int base_ref;         /* registry: the read-only globals every env reads */
    int env_list_ref;     /* registry: the module envs, sealed after load */
} sandbox;

/* Opens the state and builds the allow-listed base (require_fn, with
 * require_ud as its one upvalue, becomes `require`). 0, or -1 with err. */
int sandbox_open(sandbox *sb, size_t cap, lua_CFunction require_fn, void *require_ud,
                 char *err, size_t errlen);
void sandbox_close(sandbox *sb);

/* Runs the function below nargs arguments on the stack, leaving nres results
 * on success. budget is in VM instructions; traceback adds luaL_traceback to
 * runtime errors. Returns 0, or -1 with err ("instruction budget exceeded",
 * "memory cap exceeded" or the message); on failure the stack is back to
 * where it was below the function. */
int sandbox_run(sandbox *sb, int nargs, int nres, uint64_t budget, int traceback, char *err,
                size_t errlen);

/* Inside a run: pushes a new module env (globals read from the base) and
 * remembers it so sandbox_seal can make it read-only. */
void sandbox_push_module_env(sandbox *sb);
/* Inside a run: pushes a new writable env whose misses read from the table
 * at index `fallback` (itself reading from the base), for test files. */
void sandbox_push_writable_env(sandbox *sb, int fallback);
/* Inside a run: pushes the base table itself (for building a fallback). */
void sandbox_push_base(sandbox *sb);
/* Inside a run, after every module ran: module globals become read-only. */
void sandbox_seal(sandbox *sb);

/* Resets the instruction budget between two pieces of one run (a load runs
 * each module's top level on a fresh budget). */
void sandbox_budget_reset(sandbox *sb);
/* After a failed piece of a run (caught by its pcall), the next piece gets a
 * whole budget again even if the failure spent it: the hook stops failing
 * every instruction, and the failed piece's garbage is collected. */
void sandbox_budget_renew(sandbox *sb);

#endif
