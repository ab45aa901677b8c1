/* case/domain: the case workflow as operations on typed data.
 *
 * Opening a case, acting on it, firing its timers, taking a survey answer,
 * reporting a stalled parcel: each is a function that takes everything it
 * depends on as arguments and returns a change set. Nothing here knows HTTP,
 * the server object or the store's keys: the HTTP handlers, the timer rounds,
 * dry-run, replay and the `policy` CLI are callers that differ only in where
 * the inputs come from and where the change set goes (case/commit.h writes it
 * to the store; dry-run renders it and drops it).
 *
 *   decider   the policy set that decides (and a shadow set evaluated beside
 *             it), the time the work happens, and the reads the rules need
 *             (ctx.customer, agents to assign, complaint counts), each as of
 *             that decision: live, a replayed case's past, or a dry-run's
 *             given order.
 *   changes   the case before and after, the timeline entries, the feed
 *             events, the claims ledger and order as they must be stored, the
 *             alerts raised and the cases the change opened by itself.
 *
 * Errors are values (as_error): a code, the field it is about and a message;
 * api/ maps codes to HTTP statuses in one table. */
#ifndef AS_CASE_DOMAIN_H
#define AS_CASE_DOMAIN_H

#include <jansson.h>

#include "case/agents.h"
#include "case/claims.h"
#include "case/machine.h"
#include "case/model.h"
#include "policy/policy.h"

/* ---- errors ---- */
typedef enum {
    AS_OK = 0,
    AS_EINVAL,      /* bad input; field names it (400 invalid_field) */
    AS_EUNKNOWN,    /* an unknown member or action (400; field names it) */
    AS_ENOTFOUND,   /* 404 */
    AS_EFORBIDDEN,  /* 403 */
    AS_ETRANSITION, /* the type and state do not allow the action (409) */
    AS_ECLAIMED,    /* the order line has not that much left (409 already_claimed) */
    AS_EPOLICY,     /* a policy failed where a person must decide instead (422) */
    AS_ENOMEM,      /* 503 */
} as_errcode;

typedef struct {
    as_errcode code;
    char field[64];
    char message[512];
    int64_t limit;         /* EINVAL on an amount: the most allowed, else AS_NONE */
    const as_case *kase;   /* ETRANSITION: the case whose state refused it */
    int no_actions;        /* ETRANSITION outside the action machine (a survey): allowed is [] */
    char holders[512];     /* ECLAIMED: the cases that hold the line, comma separated */
} as_error;

/* Sets err and returns -1, for `return as_fail(err, ...)`. */
int as_fail(as_error *err, as_errcode code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Who acts: a person's role and id, or the server itself ("system"). */
typedef struct {
    char role[16];
    as_id id;
} as_actor;

/* ---- what decisions read ---- */
/* A risk window's entries in (since, now]: how many, how many distinct tags
 * (buyers), whether `tag` is among them, and the first distinct tags. */
#define WINDOW_TAGS_MAX 8
typedef struct {
    int64_t count, distinct;
    int has_tag;
    as_id tags[WINDOW_TAGS_MAX];
    int ntags;
} as_window_count;

typedef struct {
    int64_t returns_30d, cases_30d; /* the 30 days before the decision, this case included */
    int64_t lifetime_spend_cents;   /* AS_NONE: unknown */
    char tier[64];                  /* "" unknown */
} as_customer;

typedef struct {
    void *ud;
    /* The buyer as the merchant knows them (tier and spend are what that
     * merchant asserted) with the platform's counts of their recent cases. */
    int (*customer)(void *ud, const char *merchant_id, const char *buyer_id, as_customer *out);
    /* Complaints in (since, now] about a merchant (sku NULL) or one of its
     * skus, before the one being opened. */
    int64_t (*complaints)(void *ud, const char *merchant_id, const char *sku, int64_t since);
    /* An agent a token names (besides the registered ones) who may work the
     * merchant's cases; may be NULL. */
    int (*agent_known)(void *ud, const char *agent_id, const char *merchant_id);
    /* A risk window (scope, a, b: see as_window) as of now, pending writes
     * included; may be NULL (no risk warnings beyond complaints). */
    int (*window)(void *ud, const char *scope, const char *a, const char *b, int64_t since, const char *tag,
                  as_window_count *out);
    /* May the agent work this merchant's cases (an agent whose every token
     * is bound to other merchants may not)? May be NULL: anyone may. */
    int (*agent_may_work)(void *ud, const char *agent_id, const char *merchant_id);
} as_reads;

/* Where policy failures are counted (metrics, and the operator's alert
 * rate): failed() answers 1 when this failure makes its module, function
 * and merchant cross the alert rate, so the change raises a policy_errors
 * alert. May be NULL (dry-run, replay: their failures are reported, not
 * counted). */
typedef struct {
    void *ud;
    int (*failed)(void *ud, const char *module, const char *fn, const char *merchant, int64_t now);
} as_policy_monitor;

/* How often the shadow set's eligibility (returns.evaluate, the one module
 * that runs in shadow) agreed with the active set's on outcome and
 * reason_code: counted as each opening decides, whether or not its write
 * then commits. */
typedef struct {
    uint64_t evaluated, agreed, errors; /* errors: the shadow failed (shadow.error) */
} as_shadow_tally;

typedef struct {
    policy_set *policies;  /* decides */
    policy_set *shadow;    /* evaluated beside, recorded, never enforced; may be NULL */
    int64_t now;           /* when the work happens */
    const as_reads *reads;
    as_agents *agents;     /* whom to assign; NULL: nobody (dry-run, replay) */
    uint64_t *next_case_seq; /* numbers the cases a change opens by itself */
    const as_policy_monitor *monitor;
    as_shadow_tally *shadow_tally; /* where the shadow's agreement is counted; may be NULL */
} as_decider;

/* ---- change sets ---- */
/* A timeline entry: type, actor, time, and its data as JSON members (text
 * without the braces). inputs_ref >= 0 names the entry of the same change
 * set that holds the inputs this one references (a decision and its
 * request's policy.inputs): the commit writes that entry's seq. */
typedef struct {
    char type[32];
    as_actor actor;
    int64_t at;
    char *members;
    int inputs_ref;
} as_note;

/* A feed event. The case it is about goes in as the stored text: as the data
 * itself (case.created) or as its "case" member (case.updated). */
typedef enum { EV_CASE_NONE, EV_CASE_IS_DATA, EV_CASE_MEMBER } as_event_case;

typedef struct {
    char type[32];
    char *members; /* data members, JSON without braces (may be "") */
    as_event_case with_case;
    int64_t at;
} as_event;

typedef struct {
    char kind[32];
    char message[300];
    char *details; /* JSON members without braces, or NULL */
    int64_t at;
} as_alert;

/* An entry the change adds to a risk window: scope ("return_sku",
 * "return_merchant", "return_phone", "return_address"), keys a and b (a
 * merchant and a sku, or a contact's hash), a tag (the buyer, or ""), how
 * long entries count (older ones are dropped), and how many of the newest
 * the window keeps at most (0: its bound; a spike needs no more than its
 * threshold, so a busy sku's window stays a threshold's worth of entries). */
typedef struct {
    char scope[24];
    char a[AS_SKU_MAX + 1], b[AS_SKU_MAX + 1];
    as_id tag;
    int64_t at, span;
    int keep;
} as_window;
#define CHANGES_WINDOWS_MAX 4

typedef struct as_changes as_changes;
struct as_changes {
    as_case *before; /* NULL: the case is new */
    as_case *after;  /* NULL: no case changed (an order's stall with no case) */
    as_note *notes;
    size_t nnotes;
    as_event *events;
    size_t nevents;
    as_alert *alerts;
    size_t nalerts;
    as_ledger *ledger;     /* the order's claims ledger to store, or NULL */
    as_order *order;       /* the order to store, or NULL */
    as_order *order_before;
    int complaint;         /* the new case counts in its sku's and merchant's complaint windows */
    as_window windows[CHANGES_WINDOWS_MAX]; /* the risk windows it counts in */
    int nwindows;
    as_nps *nps;           /* a buyer's relationship survey to store, or NULL */
    as_nps *nps_before;    /* ... as it was (NULL: new) */
    as_changes *spawned;   /* cases this change opened by itself (follow-up, logistics) */
    as_changes *next;      /* siblings in a list of spawned changes */
    int failed;            /* out of memory while building: nothing may be stored */
};

void changes_init(as_changes *ch);
void changes_free(as_changes *ch);
/* Starts the change of an existing case: before and after are copies of c.
 * 0, or -1 when out of memory (ch is then empty). */
int changes_begin_update(as_changes *ch, const as_case *c);
/* Appends a timeline entry (members stolen, NULL means none); its index. */
int changes_note(as_changes *ch, const char *type, const as_actor *who, int64_t at, char *members);
int changes_event(as_changes *ch, const char *type, int64_t at, char *members, as_event_case with_case);
void changes_alert(as_changes *ch, const char *kind, int64_t at, char *details, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- inputs, parsed at the edge ---- */
typedef struct {
    case_type type;
    const char *order_id, *buyer_id, *merchant_id, *sku, *description;
    int64_t qty; /* AS_NONE: the line's (what is left of it) */
    case_reason reason;
    case_channel channel;
    int opened;
    const char *const *photos;
    size_t nphotos;
} case_input;

/* Reads a POST /v1/cases body (strings are borrowed from `in`). Every member
 * must be known; each error names its field. */
int case_input_parse(case_input *ci, const json_t *in, const char **photos_buf, size_t photos_cap,
                     as_error *err);

typedef struct {
    case_action action;
    case_variant variant;
    const char *reason, *carrier, *tracking_no, *notes, *by, *body, *agent_id, *resolution;
    int64_t amount_cents; /* AS_NONE unless given */
    const json_t *args;   /* the body less "action", recorded on the timeline */
} action_input;

/* Reads a POST /v1/cases/{id}/actions body: the action must be known, every
 * member one that action takes, of its type. Which members are required is
 * checked by case_act once the action is allowed at all (a 409 says more than
 * a missing field of an action that could not run anyway). */
int action_input_parse(action_input *ai, const json_t *in, as_error *err);

typedef struct {
    int64_t csat, nps; /* nps AS_NONE if not given */
    const char *comment;
} survey_answer;

int survey_answer_parse(survey_answer *sa, const json_t *in, as_error *err);

/* ---- operations ---- */
/* Opens a case numbered seq. order is the case's order (NULL for a case with
 * none: a consultation by buyer); ledger its claims ledger (empty if none).
 * The input must already be bound to the caller's merchant (tenancy is the
 * caller's). */
int case_open(const as_decider *d, const case_input *in, const as_order *order,
              const as_ledger *ledger, const as_actor *who, uint64_t seq, as_changes *out,
              as_error *err);

/* Acts on a case. order may be NULL for a case without one. */
int case_act(const as_decider *d, const as_case *c, const as_order *order, const as_ledger *ledger,
             const action_input *in, const as_actor *who, as_changes *out, as_error *err);

/* Gives a case waiting in its queue's backlog to an agent: the assignment
 * (timeline `assignment` by `by`, "backlog" or "pull") and a case.updated
 * event. AS_ETRANSITION when the case no longer waits (assigned meanwhile,
 * or not active). */
int case_take(const as_decider *d, const as_case *c, const char *agent_id, const char *by, const as_actor *who,
              as_changes *out, as_error *err);

/* Takes the customer's survey answer (and opens the follow-up a low score
 * asks for). */
int case_answer_survey(const as_decider *d, const as_case *c, const as_order *order, const survey_answer *sa,
                       const as_actor *who, as_changes *out, as_error *err);

/* The timers a case wants now: at most CASE_TIMERS_MAX (kind, due). Every
 * sla.warnings instant not sent yet has one (so a kind may appear more than
 * once, at different dues); the escalation is the ladder's next level. */
#define CASE_TIMERS_MAX (4 + SLA_WARNINGS_MAX + 1)
typedef enum {
    TIMER_FIRST_RESPONSE,
    TIMER_RESOLUTION,
    TIMER_SURVEY,
    TIMER_AUTO_CLOSE,
    TIMER_WARN_FIRST_RESPONSE,
    TIMER_WARN_RESOLUTION,
    TIMER_ESCALATION,
    TIMER__KINDS
} timer_kind;
typedef struct {
    timer_kind kind;
    int64_t due;
} case_timer;
const char *timer_kind_name(timer_kind k);
int timer_kind_from_name(const char *name);
int case_timers(const as_case *c, case_timer out[CASE_TIMERS_MAX]);
/* When the case wants a timer of this kind (the first, for warnings), or -1. */
int64_t case_timer_due(const as_case *c, timer_kind kind);
/* 1 if the case wants a timer of this kind at this due. */
int case_wants_timer(const as_case *c, timer_kind kind, int64_t due);

/* Fires one timer of the case as of its due time (or of the case's last
 * change if that came later). */
int case_fire_timer(const as_decider *d, const as_case *c, timer_kind kind, int64_t due,
                    as_changes *out);

/* An order's parcel: when it counts as stalled (0: not watched), and the
 * report of a stall: the order marked, a logistics case, an alert. */
int64_t order_stall_due(const as_decider *d, const as_order *o);
int order_report_stall(const as_decider *d, const as_order *o, as_changes *out);

/* What the opening in ch would do, as JSON text (malloc'd, NULL when out of
 * memory): {eligibility?, refund?, routing, sla, compensation, case, errors,
 * notes: [{type, data}] (each decision with its inputs), policy_version}. */
char *case_preview(const as_changes *ch, const char *policy_version);

/* ---- relationship surveys (nps.c) ---- */
typedef struct {
    int64_t nps;             /* 0..10 */
    const char *comment;     /* NULL: none */
    int channel;             /* a case_channel, or -1 */
    const char *merchant_id; /* whose survey; NULL: the platform's (or the caller's merchant) */
} nps_answer_input;

/* Reads a POST /v1/customers/{buyer_id}/nps body (strict, like the others). */
int nps_answer_parse(nps_answer_input *in, const json_t *body, as_error *err);
/* The buyer was active (an order, a case) with the merchant ("" platform):
 * survey.relationship plans a round unless one is planned already. cur is
 * the stored survey or NULL. With nothing to plan, 0 and out->nps NULL. */
int nps_plan(const as_decider *d, const as_nps *cur, const char *merchant_id, const char *buyer_id, as_changes *out);
/* The round's due time came: sent (feed survey.requested). */
int nps_fire(const as_decider *d, const as_nps *cur, int64_t due, as_changes *out);
/* The buyer's answer to the open round (AS_ETRANSITION when none is open). */
int nps_answer(const as_decider *d, const as_nps *cur, const nps_answer_input *in, const as_actor *who,
               as_changes *out, as_error *err);
/* When the survey wants its timer (a planned round not sent), or -1. */
int64_t nps_timer_due(const as_nps *n);
void nps_encode(const as_nps *n, emitter *e);
char *nps_to_json(const as_nps *n, size_t *len);
int nps_from_json(as_nps *n, const char *text, size_t len, char *err, size_t errlen);

/* ---- orders ---- */
/* Reads a POST /v1/orders body into a blank order (strict, like the case
 * inputs). */
int order_input_parse(as_order *o, const json_t *in, as_error *err);
typedef struct {
    tracking_status status;
    int64_t at;
    const char *carrier, *tracking_no, *note;
} scan_input;
int scan_input_parse(scan_input *si, const json_t *in, as_error *err);
int price_input_parse(int64_t *price_cents, int64_t *at, const json_t *in, as_error *err);

/* Creates or replaces an order (old NULL: new). What the server learned
 * since (tracking, prices, delivery, a stall reported) is kept; an order with
 * cases keeps its merchant (has_cases), and a line its claims hold keeps its
 * sku, at least the quantity they hold and its price (ledger: the order's
 * claims, may be NULL). The change set holds the order before and after and
 * the feed event. */
int order_put(const as_decider *d, as_order *in, const as_order *old, int has_cases, const as_ledger *ledger,
              as_changes *out, as_error *err);
/* A logistics update: a delivery scan sets delivered_at (never back in time). */
int order_track(const as_decider *d, const as_order *o, const scan_input *si, as_changes *out, as_error *err);
/* The current price of a line (for price protection): the one with the latest `at` wins. */
int order_set_price(const as_decider *d, const as_order *o, const char *sku, int64_t price_cents, int64_t at,
                    as_changes *out, as_error *err);

#endif
