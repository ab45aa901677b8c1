/* policy/policy_impl (internal): the policy_set object shared by the files of
 * core/policy. Nothing outside core/policy includes this. */
#ifndef AS_POLICY_IMPL_H
#define AS_POLICY_IMPL_H

#include "policy/luajson.h"
#include "policy/policy.h"
#include "policy/sandbox.h"
#include "time/calendar.h"

#define POLICY_DEFAULT_BUDGET 1000000u
#define POLICY_DEFAULT_MEM_CAP ((size_t)32 << 20)
/* ctx.log per call: lines, bytes of one line, bytes in all (policy/ctx.c). */
#define POLICY_LOG_MAX 100
#define POLICY_LOG_LINE_MAX 1024
#define POLICY_LOG_TOTAL_MAX 16384
/* ctx.customer: units charged per record looked up (a store read, outside
 * Lua), and how many records a call keeps for repeated lookups. */
#define POLICY_CUSTOMER_UNITS 10000
#define POLICY_CUSTOMER_MEMO 4

/* What ctx.log kept and dropped in one call (or one test ctx). */
typedef struct {
    int lines;                  /* lines kept */
    size_t bytes;               /* bytes kept */
    size_t dropped_lines;
    size_t dropped_bytes;
    long summary;               /* index of the "dropped" line in the log, or -1 */
} ctx_log;

/* ctx.c: the line to keep for msg (len bytes) under st's limits, in out
 * (POLICY_LOG_LINE_MAX + 64 bytes): cut at a character boundary with a
 * visible marker when too long. Returns its length, or -1 when the line is
 * dropped (st counts it; the caller then updates the summary line). */
#define CTX_LOG_OUT_MAX (POLICY_LOG_LINE_MAX + 64)
long ctx_log_clip(ctx_log *st, const char *msg, size_t len, char *out);
/* The summary line of what st dropped, in out (160 bytes). */
void ctx_log_summary(const ctx_log *st, char *out, size_t outlen);

struct policy_set {
    sandbox sb;
    uint64_t budget;
    char version[65];
    int64_t loaded_at;
    json_t *files;              /* [{name, sha256}] for describe */
    calendar *cal;              /* from the default sla.calendar */
    json_t *merchant_cals;      /* {merchant_id: index into cals} (policy_calendar) */
    calendar **cals;            /* merchant calendars; NULL entry: the default */
    size_t ncals;
    int defaults_ref;           /* registry: {name = module} */
    int pending_ref;            /* registry: {name = chunk} while loading */
    int merchants_ref;          /* registry: {merchant_id = {name = {chunk, fields, file}}} */
    int ctx_ref;                /* registry: the ctx proxy every call gets */
    int ctx_fields_ref;         /* registry: the table behind the ctx proxy */
    const policy_ctx *cur;      /* the policy_ctx of the call running, or NULL */
    const calendar *cur_cal;    /* ctx.business_seconds' calendar in that call (NULL: cal) */
    ctx_log log;                /* ctx.log of the call running */
    struct {
        char *buyer;
        json_t *record;         /* NULL: no record */
    } customers[POLICY_CUSTOMER_MEMO]; /* ctx.customer of the call running */
    int ncustomers;
    json_t *tmp_json;           /* a value being converted (freed after) */
    policy_stats stats;
    int strict;                 /* loaded strict (policy_config.lax unset) */
};

/* ctx.c, inside a run: builds the ctx proxy (ctx_ref, ctx_fields_ref). */
void ctx_create(lua_State *L, policy_set *ps);
/* Inside a run: points ctx at c for one call (now, merchant_id, log...). */
void ctx_begin(lua_State *L, policy_set *ps, const policy_ctx *c, const char *merchant_id);
/* After the run: forgets the call's policy_ctx. */
void ctx_end(policy_set *ps);

/* policy.c, inside a run: pushes a fresh instance of merchant's module (its
 * file's top level run again, on the run's budget) and returns 1, or pushes
 * nil and returns 0 when the merchant does not override module. */
int merchant_instance(lua_State *L, policy_set *ps, const char *merchant, const char *module);
/* Inside a run, without an instance: the Lua type of what merchant's module
 * defines as name (as its load-time run found it), LUA_TNONE if nothing;
 * with name NULL, LUA_TTABLE if the merchant overrides module at all. */
int merchant_defines(lua_State *L, policy_set *ps, const char *merchant, const char *module,
                     const char *name);

/* strict.c, inside a run: raises "file: ..." when the module at idx (a
 * default's table, or with type_codes a merchant's {name = lua type}) breaks
 * the contract's rules (unknown or misspelt functions, none of the
 * contract's names defined). lib.* modules pass. */
void policy_check_module(lua_State *L, int idx, int type_codes, const char *file, const char *module,
                         int merchant);

/* call.c, inside a run: charges a Lua -> JSON conversion's work. */
void policy_charge_conversion(lua_State *L, const luajson_work *w);
/* call.c, a lua_CFunction with upvalues (policy set, module, function):
 * calls the override below its arguments, on the override's budget, and
 * leaves a copy of its result through JSON, so no metamethod or table of the
 * override's runs or changes while the floor reads it. */
int policy_override_then_copy(lua_State *L);

/* call.c, outside a run: 1 if merchant's override set defines module.name. */
int policy_overrides(policy_set *ps, const char *merchant_id, const char *module, const char *name);

/* call.c, inside a run: pushes module.name for merchant and returns 2 when
 * the merchant's override defines it (a function, or with want_fn 0 any
 * value: taken from a new instance of the override, merchant_instance; one
 * whose top level fails gives a function raising that error), 1 with the
 * default module's, 0 with nil. */
int policy_resolve(lua_State *L, policy_set *ps, const char *merchant_id, const char *module,
                   const char *name, int want_fn);
/* Inside a run: the function at -1-nargs called with the nargs arguments above
 * it (the last one the ctx); applies the floor when `override`, on its own
 * copies of the inputs converted again from jargs (nargs - 1 of them) and of
 * the override's answer, and leaves one result. */
void policy_invoke(lua_State *L, policy_set *ps, const char *module, const char *fn,
                   int nargs, int override, json_t *const *jargs);

#endif
