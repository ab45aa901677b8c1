/* policy: the Lua host that runs the business rules.
 *
 * A policy set is every module of a policies directory, loaded into one
 * sandboxed Lua 5.4 state: the top-level *.lua files (returns, compensation,
 * routing, sla, survey, risk, floor, ...) and per-merchant overrides under
 * merchants/{merchant_id}/NAME.lua. Its version is the SHA-256 (hex) of the set's
 * file names and contents, so the same files always give the same version.
 *
 * Sandbox (allow-list): base functions without dofile/loadfile/load/
 * collectgarbage/print (ctx.log is the way to log), string, table, math, utf8,
 * and os.time/os.date/os.clock only. No io, debug, package. `require(name)`
 * returns a read-only view of the platform default module `name` of this set
 * (merchant files can build on the default they override, never change it);
 * nothing outside the set is reachable. Globals are read-only while policies
 * run, and a merchant's module is a new instance in each call, so no state is
 * shared between calls or merchants.
 *
 * Budgets: every call runs under lua_pcall with a traceback handler and is
 * metered in units: VM instructions (a count hook that keeps failing once
 * exhausted, so a script's own pcall or xpcall handler cannot outlive it)
 * plus the work done in C for the script (allocation, pattern matching,
 * sorting, ctx lookups, JSON conversion); a CPU-time limit derived from the
 * budget; and a memory cap (a lua_Alloc that refuses past the cap). A
 * failure, a runaway loop or a breach returns an error string; the state
 * stays usable. docs/policy-host.md has the numbers.
 *
 * Merchant overrides and the floor: for policy_call(ps, merchant, "returns",
 * "evaluate", ...) the merchant's returns.lua wins if it exists and defines the
 * function. When a merchant override answered and floor.lua defines
 * `<module>_<function>` (e.g. floor.returns_evaluate), the host calls
 * floor.returns_evaluate(result, args...) on copies of the answer and the
 * inputs and uses what it returns: the platform's floor can only be raised
 * by a merchant, never lowered.
 *
 * A policy set is used from the loop thread only. Loading one (policy_set_load)
 * touches nothing shared, so it may run on a worker thread; the server swaps
 * sets between requests and frees the old one, so a request always finishes on
 * the version it started with. */
#ifndef AS_POLICY_H
#define AS_POLICY_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "time/calendar.h"
#include "util/emit.h"

typedef struct policy_set policy_set;

typedef struct {
    const char *dir;          /* policies directory */
    uint64_t instr_budget;    /* units per call (VM instructions + C work), default 1,000,000 */
    size_t mem_cap;           /* bytes the state may hold, default 32 MiB */
    /* Optional candidate sources that replace or add files of dir, e.g.
     * {"returns.lua": "...", "merchants/m1/returns.lua": "..."} (dry-run,
     * replay). NULL for none. */
    const json_t *sources;
    /* Strict unless set (docs/policies.md, "Strict loading"): file names,
     * directories and each module's functions are checked against the
     * contract. Lax is for the host's own unit tests, whose sets are small
     * modules of any name; the server and the command line never use it. */
    int lax;
} policy_config;

/* The read-only context a call sees as `ctx`. */
typedef struct policy_ctx {
    int64_t now;
    const char *merchant_id; /* may be NULL */
    /* ctx.customer(buyer_id): returns a new reference to
     * {returns_30d, cases_30d, lifetime_spend_cents, tier} or NULL. */
    json_t *(*customer)(void *ud, const char *buyer_id);
    void *ud;
    /* ctx.log(msg) appends strings here when non-NULL (an array). */
    json_t *log;
} policy_ctx;

/* Loads and compiles the set, runs each module's top level once. Returns 0, or
 * -1 with "file:line: message" in err; nothing is kept on failure. */
int policy_set_load(const policy_config *cfg, policy_set **out, char *err, size_t errlen);
void policy_set_free(policy_set *ps);

/* The files a set loads from cfg, modules and tests, read and checked as
 * policy_set_load and policy_test_run read them: {"name": "text"} (new
 * reference), or NULL with err (a file that is not UTF-8 text included).
 * {.sources = files} alone (no dir) loads the same set: what a kept version
 * stores, and what a reload tests and loads, so both see the same files. */
json_t *policy_files(const policy_config *cfg, char *err, size_t errlen);

const char *policy_set_version(const policy_set *ps); /* 64 hex chars */
int64_t policy_set_loaded_at(const policy_set *ps);
void policy_set_set_loaded_at(policy_set *ps, int64_t ts);
/* {"version":..., "loaded_at":..., "files":[{"name":"returns.lua","sha256":...}, ...]} */
json_t *policy_set_describe(const policy_set *ps);

/* 1 if module.fn resolves to a function for this merchant (override or default). */
int policy_has(const policy_set *ps, const char *merchant_id, const char *module,
               const char *fn);

/* Calls module.fn(args..., ctx) for merchant (NULL: platform default). args
 * are converted to Lua tables; the first return value comes back as JSON in
 * *result (new reference; JSON null if the function returned nil). Returns 0,
 * or -1 with the error (with traceback, or "instruction budget exceeded",
 * "time limit exceeded", "memory cap exceeded", "no such function
 * returns.evaluate", "returns.evaluate returned a value JSON cannot hold")
 * in err. */
int policy_call(policy_set *ps, const char *merchant_id, const char *module,
                const char *fn, json_t *const *args, int nargs, const policy_ctx *ctx,
                json_t **result, char *err, size_t errlen);

/* A module's field as JSON: if module.field is a function it is called with
 * ctx, else the value itself (e.g. sla.calendar, risk.rules). Returns 0 with
 * *result (JSON null if absent), or -1 with err. */
int policy_value(policy_set *ps, const char *merchant_id, const char *module,
                 const char *field, const policy_ctx *ctx, json_t **result, char *err,
                 size_t errlen);

/* The business calendar merchant's SLAs run on: the override's sla.calendar
 * when the merchant has one, else the set's default. Built once per set and
 * merchant (a calendar that is a function of ctx is evaluated then); an
 * override whose calendar does not build falls back to the default, with the
 * reason in err. Valid as long as the set. */
const calendar *policy_calendar(policy_set *ps, const char *merchant_id, char *err,
                                size_t errlen);

/* Runs the set's tests: every DIR/tests/NAME.lua and DIR/merchants/ID/tests/NAME.lua, in name order, in the sandbox
 * with the set loaded (see docs/policies.md for the harness: test(name, fn),
 * eq(a, b, msg), ok(v, msg), policy.<module>, make_ctx{...}). Writes one line
 * per test to out (may be NULL) and fills counts. Returns 0 if every test
 * passed, -1 otherwise (also if the set does not load). sources as in
 * policy_config. */
int policy_run_tests(const policy_config *cfg, FILE *out, int *passed, int *failed,
                     char *err, size_t errlen);

/* Which tests to run, and what came of them (policy_test_run). */
typedef struct {
    const char *only;   /* only this test file, by its name in the set ("tests/x_test.lua",
                           "merchants/acme/tests/y.lua"); NULL: every file */
    const char *filter; /* only the tests whose "FILE: NAME" contains this text; NULL: all */
} policy_test_opts;

#define POLICY_TEST_FAILURES_MAX 100
typedef struct {
    int passed, failed;
    int files;          /* test files run */
    /* [{file, test, error}] of every failure (at most POLICY_TEST_FAILURES_MAX;
     * a set that does not load is {file: null, test: "load", error}); owned */
    json_t *failures;
} policy_test_result;

/* policy_run_tests with a choice of tests, filling res (free its failures
 * with json_decref). A file named in opts->only that the set does not have
 * is an error (-1, err). */
int policy_test_run(const policy_config *cfg, const policy_test_opts *opts, FILE *out, policy_test_result *res,
                    char *err, size_t errlen);

/* Per-set statistics for /metrics. */
typedef struct {
    uint64_t calls;
    uint64_t errors;
    uint64_t call_us_total;
} policy_stats;
void policy_get_stats(const policy_set *ps, policy_stats *st);
/* Adds from's statistics to to's: a set that replaces another (reload) carries
 * its predecessor's counts, so the counters of /metrics never go down. */
void policy_carry_stats(policy_set *to, const policy_set *from);

/* ---- views and typed results (policy/views.c) ----
 *
 * The bridge the case domain uses: a request's arguments are built once as
 * read-only views (tables no policy can change, shared by every call of the
 * request and by the floor), and a result is read field by field against the
 * caller's schema. */
typedef void (*policy_encode_fn)(emitter *e, const void *ud);
/* Builds a view from encode's emitter calls (one object or array). *view is
 * its handle for policy_call_views, until policy_view_free. */
int policy_view_new(policy_set *ps, policy_encode_fn encode, const void *ud, int *view, char *err,
                    size_t errlen);
void policy_view_free(policy_set *ps, int view);

typedef enum { PF_STRING = 1, PF_INTEGER, PF_BOOLEAN, PF_STRINGS, PF_ANY } policy_ftype;
typedef struct {
    const char *name;
    policy_ftype type;
    const char *const *values; /* PF_STRING of a closed set: its names (NULL-terminated), or NULL */
} policy_field;

#define POLICY_FIELDS_MAX 8
typedef struct {
    int present;
    int64_t i; /* PF_INTEGER */
    int b;     /* PF_BOOLEAN */
    char *s;   /* PF_STRING */
    char **list; /* PF_STRINGS */
    size_t n;
} policy_fval;

typedef struct {
    int nil;                          /* the function returned nil */
    policy_fval f[POLICY_FIELDS_MAX]; /* in schema order */
    char *output;                     /* the whole result as JSON text, for the record */
    /* The merchant's override failed (raised, looped, broke a cap, or answered
     * something of the wrong shape) and the floor answered instead: why. The
     * caller records it as a policy error: a floor that answers for a broken
     * override is never silent. NULL otherwise. */
    char *override_error;
} policy_result;

/* An argument: a view (view >= 0), else the string str (or nil). */
typedef struct {
    int view;
    const char *str;
} policy_arg;

/* Calls module.fn(args..., ctx) for merchant, with the floor as
 * policy_call. The result must be nil or a table whose fields are all in
 * schema, each of its type (and a closed set's value); anything else is an
 * error naming the field. A merchant override's result is checked the same
 * way before the floor judges it: one of the wrong shape goes to the floor as
 * nil, and out->override_error says why. 0, or -1 with err (out is then
 * empty). */
int policy_call_views(policy_set *ps, const char *merchant_id, const char *module, const char *fn,
                      const policy_arg *args, int nargs, const policy_field *schema, int nfields,
                      const policy_ctx *ctx, policy_result *out, char *err, size_t errlen);
void policy_result_free(policy_result *r);

#endif
