/* case/internal: what the files of core/case share and nothing else includes:
 * writing JSON members for change sets, and asking the policies (decide.c). */
#ifndef AS_CASE_INTERNAL_H
#define AS_CASE_INTERNAL_H

#include "case/codec.h"
#include "case/domain.h"
#include "util/jsonw.h"

/* ---- JSON members (an object's text without its braces) ---- */
typedef struct {
    textbuf tb;
    jsonw w;
} members_w;

/* Starts a members text; write members through the returned emitter. */
emitter *mw_begin(members_w *m);
/* The members written (malloc'd), or NULL when out of memory. */
char *mw_take(members_w *m);
/* Adds a timeline note whose members m holds (ch->failed on failure). */
int note_from(as_changes *ch, const char *type, const as_actor *who, int64_t at, members_w *m);
void event_from(as_changes *ch, const char *type, int64_t at, members_w *m, as_event_case with_case);

/* ---- asking the policies ---- */
/* One request's policy calls: views of its case and order (and a survey
 * answer or SLA kind) are built once per set on first use and shared by
 * every call; the policy.inputs note that records them is written once, and
 * every decision note references it. */
#define DECIDE_ARGS_MAX 5
/* The escalation step sla.escalate is asked about: the level to climb to,
 * the first target the case missed, and when level 1 started. */
typedef struct {
    int64_t level;
    const char *kind;
    int64_t since;
} escalation_step;

typedef struct {
    const as_decider *d;
    as_changes *ch;
    const as_actor *who;
    const as_case *kase;
    const as_order *order;
    const survey_answer *answer;
    const escalation_step *step;
    const as_nps *buyer; /* survey.relationship's subject (no case) */
    const char *merchant;
    int views[2][DECIDE_ARGS_MAX]; /* [active, shadow][case, order, answer, step]: -1 until built */
    int inputs_note;               /* -1 until written */
    /* ctx.customer of the request: read once (eligibility and routing both
     * ask for the case's buyer), the same answer for every call */
    as_id customer_id;
    as_customer customer;
    int customer_read; /* 0 not yet, 1 read, -1 unknown */
} decide_req;

typedef enum { ARG_CASE, ARG_ORDER, ARG_ANSWER, ARG_STEP, ARG_BUYER, ARG_KIND } decide_arg;

/* kase may be NULL for a decision about a buyer (q->buyer): merchant then
 * names the merchant the decision is for (NULL: the platform). */
void decide_begin(decide_req *q, const as_decider *d, as_changes *ch, const as_actor *who,
                  const as_case *kase, const as_order *order);
void decide_begin_buyer(decide_req *q, const as_decider *d, as_changes *ch, const as_nps *buyer);
void decide_end(decide_req *q);

/* Calls module.fn with the named arguments (kind: the literal for ARG_KIND)
 * on the active set and records a decision or policy.error note. 0 with out
 * filled, or -1 (the failure is on the timeline; out is empty). */
int decide_call(decide_req *q, const char *module, const char *fn, const decide_arg *args, int nargs,
                const char *kind, const policy_field *schema, int nfields, policy_result *out);
/* The same on the shadow set: a shadow.decision or shadow.error note only.
 * 0 with out filled (the caller frees it), -1 when it failed, 1 when no
 * shadow runs (out is empty then too). */
int decide_shadow(decide_req *q, const char *module, const char *fn, const decide_arg *args, int nargs,
                  const policy_field *schema, int nfields, policy_result *out);
/* A policy answered, but not what the core can use: a policy.error note. */
void decide_answer_error(decide_req *q, const char *module, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 1 if the merchant's set (override or default) defines module.fn. */
int decide_has(decide_req *q, const char *module, const char *fn);

/* The schemas of the policy contract (SPEC section 4). */
enum { EV_OUTCOME, EV_REASON_CODE, EV_MESSAGE, EV_SHIPPING_PAID_BY };
extern const policy_field SCHEMA_EVALUATE[4];
enum { RF_AMOUNT, RF_BREAKDOWN };
extern const policy_field SCHEMA_REFUND[2];
enum { CP_COUPON, CP_REASON };
extern const policy_field SCHEMA_COMPENSATE[2];
enum { RT_QUEUE, RT_PRIORITY, RT_SKILLS };
extern const policy_field SCHEMA_ROUTE[3];
enum { SL_FIRST_RESPONSE, SL_RESOLUTION, SL_BUSINESS };
extern const policy_field SCHEMA_TARGETS[3];
enum { BR_ESCALATE, BR_QUEUE, BR_PRIORITY, BR_NEXT_AFTER };
extern const policy_field SCHEMA_ON_BREACH[4];
enum { WN_PERCENTS };
extern const policy_field SCHEMA_WARNINGS[1];
enum { ES_PRIORITY, ES_QUEUE, ES_ALERT_MERCHANT, ES_NEXT_AFTER };
extern const policy_field SCHEMA_ESCALATE[4];
enum { PL_SEND_AFTER, PL_QUESTIONS };
extern const policy_field SCHEMA_PLAN[2];
enum { AN_FOLLOWUP, AN_QUEUE, AN_REASON };
extern const policy_field SCHEMA_ON_ANSWER[3];
/* survey.relationship: the same shape as survey.plan */
extern const policy_field SCHEMA_RELATIONSHIP[2];
#define NFIELDS(schema) ((int)(sizeof(schema) / sizeof((schema)[0])))

/* The members the allowed action requires (input.c). */
int action_input_require(const action_input *ai, as_error *err);

/* ---- steps the operations share (steps.c) ---- */
/* routing.route: queue, priority (1..5), skills; the spec's default queue
 * when routing fails. */
void step_route(decide_req *q, as_case *c);
/* sla.targets: due times from created_at (business time on the merchant's
 * calendar when asked). */
void step_sla(decide_req *q, as_case *c);
/* compensation.compensate: an optional goodwill coupon. */
void step_compensate(decide_req *q, as_case *c);
/* survey.plan when a case resolves (once per case). */
void step_survey_plan(decide_req *q, as_case *c);
/* compensation.refund's amount, or -1 when it failed or answered nothing
 * usable (recorded). */
int step_refund_amount(decide_req *q, int64_t *amount);
/* Gives the case to the agent routing picks in its queue (or to nobody),
 * recording an assignment note when the assignee changes. */
void step_assign(const as_decider *d, as_changes *ch, const as_actor *who, as_case *c, const char *by);
/* Priority, clamped to 1..5. */
int64_t clamp_priority(int64_t p);
/* risk.rules.<name> as a positive integer, or dflt. */
int64_t risk_rule(const as_decider *d, const char *merchant, const char *name, int64_t dflt);
/* The merchant's risk.rules (a new reference, or NULL), read once for
 * several thresholds, and one of them (NULL rules: dflt). */
json_t *risk_rules(const as_decider *d, const char *merchant);
int64_t risk_rule_of(const json_t *rules, const char *name, int64_t dflt);
/* The amount capped by what the case's line has left (claims_max_approval);
 * a cap leaves a claims.capped note. */
int64_t claims_cap_amount(const as_decider *d, as_changes *ch, const as_ledger *l, const as_order *o,
                          const as_case *c, int64_t amount);

/* ---- cases the server opens by itself (open.c) ---- */
typedef struct {
    case_type type;
    case_reason reason;
    const char *description;
    const as_order *order; /* NULL: none */
    const char *sku;       /* NULL: the order's only line, if it has one */
    const char *buyer_id, *merchant_id;
    const char *queue;          /* NULL: routing decides */
    const char *parent_case_id; /* NULL: none */
    int followup;
} system_case;

/* Opens it as a change of its own, linked into parent->spawned. */
int case_open_system(const as_decider *d, const system_case *sc, as_changes *parent);

/* ---- risk warnings on returns (risk.c) ---- */
/* A new buyer return counts in its sku's and merchant's return windows and in
 * those of its buyer's hashed phone and address: return_spike and
 * serial_returner alerts when a count reaches risk.rules' threshold. */
void risk_on_return(const as_decider *d, const as_case *c, const as_order *o, as_changes *ch);

#endif
