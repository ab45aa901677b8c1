/* case: the case model as data: types, reasons, channels and the lifecycle
 * state machine (SPEC section 3), with no I/O.
 *
 * The machine is one table of transitions (type set x status x stage x action
 * -> next status and stage, plus the effect the API layer carries out). Adding
 * a case type or an action is adding rows; case_machine_find() is the only
 * reader. */
#ifndef AS_CASE_H
#define AS_CASE_H

#include <jansson.h>

typedef enum {
    CASE_RETURN,
    CASE_EXCHANGE,
    CASE_REFUND_ONLY,
    CASE_REPAIR,
    CASE_PRICE_PROTECTION,
    CASE_COMPLAINT,
    CASE_CONSULTATION,
    CASE_LOGISTICS,
    CASE__TYPES
} case_type;

/* -1 if name is not a case type. */
int case_type_from_name(const char *name);
const char *case_type_name(case_type t);
/* 1 for the types returns.evaluate decides on (return, exchange, refund_only,
 * repair, price_protection); they need an order. */
int case_type_needs_decision(case_type t);

int case_reason_valid(const char *reason);
/* quality, wrong_item, damaged_in_transit, not_as_described, not_received. */
int case_reason_merchant_fault(const char *reason);
int case_channel_valid(const char *channel);
/* The statuses of SPEC section 3; closed cases accept no action. */
int case_status_valid(const char *status);

/* What the API layer does besides moving the case to the next state. */
typedef enum {
    FX_NONE,
    FX_APPROVE,          /* settle a review: state as for an approve on create */
    FX_REJECT,
    FX_SHIP_BACK,        /* record the customer's shipment to the merchant */
    FX_RECEIVE,
    FX_INSPECT_PASS,     /* returns: compensation.refund sets approved_cents */
    FX_INSPECT_FAIL,
    FX_REFUND,           /* partial refunds add up; done when refunded = approved */
    FX_SHIP_TO_CUSTOMER, /* record the shipment to the customer */
    FX_REPAIR_DONE,
    FX_RESOLVE,
    FX_CLOSE,
    FX_REOPEN,           /* from rejected it is an appeal: also escalates */
    FX_ESCALATE,         /* raise priority, re-route with case.escalated = true */
    FX_REPLY,            /* the first agent reply sets first_response_at */
    FX_NOTE,
    FX_ASSIGN
} case_effect;

typedef struct {
    const char *action;
    const char *variant;     /* inspect's result ("pass"/"fail"), else NULL */
    unsigned types;          /* bit (1u << case_type) per allowed type */
    const char *from_status; /* "a|b|c"; NULL: any status but closed */
    const char *from_stage;  /* NULL: any stage; else "a|b": one of these */
    const char *to_status;   /* NULL: unchanged */
    const char *to_stage;    /* NULL: unchanged */
    case_effect effect;
} case_transition;

/* The state a new case starts in, given the eligibility outcome ("approve",
 * "review", "reject"; NULL for types without a decision). Returns 0, or -1 for
 * an unknown outcome. */
int case_initial_state(case_type t, const char *outcome, const char **status,
                       const char **stage);

/* 1 if action names an action of the machine. */
int case_action_known(const char *action);
/* 1 if stage is one an appealed rejection waits in (the reopen rows' targets). */
int case_stage_is_appeal(const char *stage);
/* The transition for action (with variant for inspect) from this state, or
 * NULL if the type and state do not allow it. */
const case_transition *case_machine_find(case_type t, const char *status, const char *stage,
                                         const char *action, const char *variant);
/* The action names allowed from this state, sorted and unique (new array). */
json_t *case_machine_allowed(case_type t, const char *status, const char *stage);
/* Every action name the machine knows (new array), for unknown_action errors. */
json_t *case_machine_actions(void);

#endif
