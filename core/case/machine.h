/* case/machine: the lifecycle of SPEC section 3 as one table.
 *
 * A row reads: "action (variant) on these types, from these statuses and
 * stages, moves the case to that status and stage and has this effect". The
 * effect is carried out by the domain (case/domain.h); adding a case type or
 * an action is adding rows. case_machine_find() is the only reader. */
#ifndef AS_CASE_MACHINE_H
#define AS_CASE_MACHINE_H

#include "case/model.h"

typedef enum {
    ACT_APPROVE,
    ACT_REJECT,
    ACT_CANCEL,
    ACT_SHIP_BACK,
    ACT_RECEIVE,
    ACT_INSPECT,
    ACT_REPAIR_DONE,
    ACT_SHIP_TO_CUSTOMER,
    ACT_REFUND,
    ACT_RESOLVE,
    ACT_CLOSE,
    ACT_REOPEN,
    ACT_ESCALATE,
    ACT_REPLY,
    ACT_NOTE,
    ACT_ASSIGN,
    ACT__COUNT
} case_action;

const char *case_action_name(case_action a);
int case_action_from_name(const char *name); /* -1 if unknown */

/* What the domain does besides moving the case. */
typedef enum {
    FX_NONE,
    FX_APPROVE,          /* settle a review (or an appeal): as an approval on create */
    FX_REJECT,           /* settle a review or an appeal: the claim frees its share */
    FX_CANCEL,           /* the customer withdraws a claim before money moved */
    FX_SHIP_BACK,        /* record the customer's shipment to the merchant */
    FX_INSPECT_PASS,     /* returns: compensation.refund sets approved_cents */
    FX_INSPECT_FAIL,
    FX_REFUND,           /* partial refunds add up; done when refunded = approved */
    FX_SHIP_TO_CUSTOMER, /* record the shipment to the customer */
    FX_RESOLVE,
    FX_CLOSE,
    FX_REOPEN,           /* from rejected it is an appeal: also escalates */
    FX_ESCALATE,         /* raise priority, re-route with case.escalated = true */
    FX_REPLY,            /* the first agent reply sets first_response_at */
    FX_NOTE,
    FX_ASSIGN
} case_effect;

/* inspect's variants */
typedef enum { VAR_NONE, VAR_PASS, VAR_FAIL } case_variant;

typedef struct {
    case_action action;
    case_variant variant;
    unsigned types;       /* bit (1u << case_type) per allowed type */
    unsigned from_status; /* bit per case_status; 0: any status but closed */
    uint32_t from_stage;  /* bit per case_stage; 0: any stage */
    int to_status;        /* a case_status, or -1: unchanged */
    int to_stage;         /* a case_stage, or -1: unchanged */
    case_effect effect;
} case_transition;

/* The state a new case starts in, given the eligibility outcome (OUT_NONE
 * for types without a decision). */
void case_initial_state(case_type t, as_outcome outcome, case_status *status, case_stage *stage);
/* 1 if the stage is one an appealed rejection waits in. */
int case_stage_is_appeal(case_stage stage);
/* The transition for the action from the case's state, or NULL if its type
 * and state do not allow it. */
const case_transition *case_machine_find(case_type t, case_status status, case_stage stage,
                                         case_action action, case_variant variant);
/* Writes the names of the actions allowed from this state, sorted and unique,
 * as a JSON array (the `allowed` list of a 409 and of the case). */
void case_machine_allowed(case_type t, case_status status, case_stage stage, emitter *e);
/* Every action name, sorted (for unknown_action errors). */
void case_machine_actions(emitter *e);

#endif
