/* policy/sandbox (internal): one Lua state with an allow-list environment and
 * the budgets every run is held to.
 *
 * A run is metered in units: one per VM instruction (a count hook), plus the
 * work C does for the script, charged where it happens: bytes allocated (one
 * unit per ALLOC_BYTES_PER_UNIT, which covers copying and collecting them),
 * pattern-matcher steps, sort comparisons, elements moved, ctx lookups,
 * JSON conversion. Past the budget the hook fails on every instruction (so a
 * script's own pcall cannot swallow it) and every charge fails at once. A
 * limit on the thread's CPU time, derived from the budget, backs this up for
 * work that no charge sees (comparing two long strings is one instruction,
 * fresh memory costs page faults). The hook checks it, fires more often
 * while the state holds big objects (what one instruction can scan) and on
 * every instruction while instructions are slow.
 * The lua_Alloc refuses growth past the memory cap.
 *
 * Every run goes through sandbox_run: lua_pcall with a message handler,
 * budgets reset first, the stack restored after, the error turned into a
 * string. */
#ifndef AS_POLICY_SANDBOX_H
#define AS_POLICY_SANDBOX_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define ALLOC_BYTES_PER_UNIT 8
/* The time limit of a run (CPU time of its thread): this many ns per unit
 * of its budget (an instruction takes 5-20 ns), never under
 * SANDBOX_MIN_TIME_NS. */
#define SANDBOX_NS_PER_UNIT 100
#define SANDBOX_MIN_TIME_NS 20000000u

enum { SB_OK, SB_INSTRUCTIONS, SB_TIME };

typedef struct sandbox {
    lua_State *L;
    size_t used;          /* bytes the state holds now */
    size_t cap;           /* bytes it may hold */
    size_t big_bytes;     /* bytes it holds in objects of BIG_OBJECT bytes or more */
    int mem_refused;      /* the allocator said no during this run */
    int in_run;           /* a run is metered now */
    uint64_t budget;      /* units the run (or piece of it) may spend */
    uint64_t spent;       /* units spent */
    uint64_t alloc_bytes; /* bytes allocated, not yet counted in spent */
    int count;            /* instructions between two hook firings now */
    int exhausted;        /* SB_INSTRUCTIONS or SB_TIME once a budget broke */
    const char *what;     /* the C work that broke it, or NULL */
    uint64_t start_ns;    /* when the budget started (wall clock) */
    uint64_t last_ns;     /* the last hook firing (wall clock) */
    uint64_t check_at_ns; /* the wall time from which the CPU time may be over */
    uint64_t cpu_start_ns; /* the thread's CPU time when the budget started (0: not read yet) */
    uint64_t limit_ns;    /* CPU time the budget allows */
    uint64_t time_cap_ns; /* a ceiling on limit_ns (0: none), for the test runner */
    int base_ref;         /* registry: the read-only globals every env reads */
    int env_list_ref;     /* registry: the module envs, sealed after load */
} sandbox;

/* Opens the state and builds the allow-listed base (require_fn, with
 * require_ud as its one upvalue, becomes `require`). 0, or -1 with err. */
int sandbox_open(sandbox *sb, size_t cap, lua_CFunction require_fn, void *require_ud,
                 char *err, size_t errlen);
void sandbox_close(sandbox *sb);

/* The sandbox a state belongs to. */
sandbox *sandbox_of(lua_State *L);

/* Runs the function below nargs arguments on the stack, leaving nres results
 * on success. budget is in units; traceback adds luaL_traceback to runtime
 * errors. Returns 0, or -1 with err ("instruction budget exceeded", "time
 * limit exceeded", "memory cap exceeded" or the message); on failure the
 * stack is back to where it was below the function. */
int sandbox_run(sandbox *sb, int nargs, int nres, uint64_t budget, int traceback, char *err,
                size_t errlen);

/* Inside a run: adds units of work done in C (what names it, e.g.
 * "string.find"); raises "instruction budget exceeded" once the budget is
 * spent. Outside a run it does nothing. */
void sandbox_charge(lua_State *L, uint64_t units, const char *what);
/* Units the current (or last) budget has spent, allocations included. */
uint64_t sandbox_spent(sandbox *sb);
/* The calling thread's CPU time, in ns (a system call). */
uint64_t sandbox_cpu_ns(void);

/* Inside a run: pushes a new module env (globals read from the base) and
 * remembers it so sandbox_seal can make it read-only. */
void sandbox_push_module_env(sandbox *sb);
/* Inside a run: pushes a new module env that sandbox_seal does not know: a
 * merchant module instance's, sealed on its own by sandbox_seal_env once
 * its top level ran. */
void sandbox_push_instance_env(sandbox *sb);
void sandbox_seal_env(sandbox *sb, int idx);
/* Inside a run: pushes a new writable env whose misses read from the table
 * at index `fallback` (itself reading from the base), for test files. */
void sandbox_push_writable_env(sandbox *sb, int fallback);
/* Inside a run: pushes the base table itself (for building a fallback). */
void sandbox_push_base(sandbox *sb);
/* Inside a run, after every module ran: module globals become read-only. */
void sandbox_seal(sandbox *sb);

/* Starts a whole budget again between two pieces of one run (a load runs
 * each module's top level on a fresh budget). */
void sandbox_budget_reset(sandbox *sb);
/* After a failed piece of a run (caught by its pcall), the next piece gets a
 * whole budget again even if the failure spent it: the hook stops failing
 * every instruction, and the failed piece's garbage is collected. */
void sandbox_budget_renew(sandbox *sb);

#endif
