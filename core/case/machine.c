/* case/machine: the lifecycle of SPEC section 3 as one table (machine.h).
 *
 * Refunds stay in awaiting_refund until fully paid: the domain applies the
 * refund row's target only when refunded reaches approved. */
#include "case/machine.h"

#include <string.h>

#define T(x) (1u << (x))
#define RET T(CASE_RETURN)
#define EXC T(CASE_EXCHANGE)
#define RFO T(CASE_REFUND_ONLY)
#define REP T(CASE_REPAIR)
#define PPR T(CASE_PRICE_PROTECTION)
#define CMP T(CASE_COMPLAINT)
#define CON T(CASE_CONSULTATION)
#define LOG T(CASE_LOGISTICS)
#define GOODS (RET | EXC | REP) /* the item travels back to the merchant */
#define MONEY (RFO | PPR)       /* decided and paid without shipping */
#define CLAIMS (GOODS | MONEY)
#define ALL (CLAIMS | CMP | CON | LOG)

#define S(x) (1u << (x))
#define OPEN S(ST_OPEN)
#define AWAITING S(ST_AWAITING_CUSTOMER)
#define IN_PROGRESS S(ST_IN_PROGRESS)
#define RESOLVED S(ST_RESOLVED)
#define REJECTED S(ST_REJECTED)
#define ACTIVE (OPEN | AWAITING | IN_PROGRESS)
#define ANY 0u

#define G(x) ((uint32_t)1 << (x))
#define NO_CHANGE (-1)

static const char *const action_names[ACT__COUNT] = {
    [ACT_APPROVE] = "approve",     [ACT_REJECT] = "reject",
    [ACT_CANCEL] = "cancel",       [ACT_SHIP_BACK] = "ship_back",
    [ACT_RECEIVE] = "receive",     [ACT_INSPECT] = "inspect",
    [ACT_REPAIR_DONE] = "repair_done", [ACT_SHIP_TO_CUSTOMER] = "ship_to_customer",
    [ACT_REFUND] = "refund",       [ACT_RESOLVE] = "resolve",
    [ACT_CLOSE] = "close",         [ACT_REOPEN] = "reopen",
    [ACT_ESCALATE] = "escalate",   [ACT_REPLY] = "reply",
    [ACT_NOTE] = "note",           [ACT_ASSIGN] = "assign",
};

static const case_transition machine[] = {
    /* settle a manual review */
    {ACT_APPROVE, VAR_NONE, GOODS, OPEN, G(STG_MANUAL_REVIEW), ST_AWAITING_CUSTOMER, STG_AWAITING_SHIPMENT, FX_APPROVE},
    {ACT_APPROVE, VAR_NONE, MONEY, OPEN, G(STG_MANUAL_REVIEW), ST_IN_PROGRESS, STG_AWAITING_REFUND, FX_APPROVE},
    {ACT_REJECT, VAR_NONE, CLAIMS, OPEN, G(STG_MANUAL_REVIEW), ST_REJECTED, STG_REVIEW_REJECTED, FX_REJECT},

    /* settle an appeal: approve re-enters the flow where the rejection stopped it */
    {ACT_APPROVE, VAR_NONE, GOODS, IN_PROGRESS, G(STG_APPEALED), ST_AWAITING_CUSTOMER, STG_AWAITING_SHIPMENT, FX_APPROVE},
    {ACT_APPROVE, VAR_NONE, MONEY, IN_PROGRESS, G(STG_APPEALED), ST_IN_PROGRESS, STG_AWAITING_REFUND, FX_APPROVE},
    {ACT_INSPECT, VAR_PASS, RET, IN_PROGRESS, G(STG_INSPECTION_APPEALED), ST_IN_PROGRESS, STG_AWAITING_REFUND, FX_INSPECT_PASS},
    {ACT_INSPECT, VAR_PASS, EXC, IN_PROGRESS, G(STG_INSPECTION_APPEALED), ST_IN_PROGRESS, STG_AWAITING_REPLACEMENT, FX_INSPECT_PASS},
    {ACT_REJECT, VAR_NONE, CLAIMS, IN_PROGRESS, G(STG_APPEALED) | G(STG_INSPECTION_APPEALED), ST_REJECTED, STG_APPEAL_REJECTED, FX_REJECT},

    /* the customer withdraws a claim: while nothing was shipped back or paid */
    {ACT_CANCEL, VAR_NONE, CLAIMS, OPEN, G(STG_MANUAL_REVIEW), ST_CLOSED, STG_CANCELLED, FX_CANCEL},
    {ACT_CANCEL, VAR_NONE, GOODS, AWAITING, G(STG_AWAITING_SHIPMENT), ST_CLOSED, STG_CANCELLED, FX_CANCEL},
    {ACT_CANCEL, VAR_NONE, MONEY, IN_PROGRESS, G(STG_AWAITING_REFUND) | G(STG_APPEALED), ST_CLOSED, STG_CANCELLED, FX_CANCEL},
    {ACT_CANCEL, VAR_NONE, GOODS, IN_PROGRESS, G(STG_APPEALED), ST_CLOSED, STG_CANCELLED, FX_CANCEL},

    /* goods travel back */
    {ACT_SHIP_BACK, VAR_NONE, GOODS, AWAITING, G(STG_AWAITING_SHIPMENT), ST_IN_PROGRESS, STG_IN_TRANSIT, FX_SHIP_BACK},
    {ACT_RECEIVE, VAR_NONE, RET | EXC, IN_PROGRESS, G(STG_IN_TRANSIT), ST_IN_PROGRESS, STG_RECEIVED, FX_NONE},
    {ACT_RECEIVE, VAR_NONE, REP, IN_PROGRESS, G(STG_IN_TRANSIT), ST_IN_PROGRESS, STG_REPAIRING, FX_NONE},
    /* SPEC's repair row goes from the approval straight to receive: a device
     * handed in at a service point has no shipment to record */
    {ACT_RECEIVE, VAR_NONE, REP, AWAITING, G(STG_AWAITING_SHIPMENT), ST_IN_PROGRESS, STG_REPAIRING, FX_NONE},
    {ACT_INSPECT, VAR_PASS, RET, IN_PROGRESS, G(STG_RECEIVED), ST_IN_PROGRESS, STG_AWAITING_REFUND, FX_INSPECT_PASS},
    {ACT_INSPECT, VAR_PASS, EXC, IN_PROGRESS, G(STG_RECEIVED), ST_IN_PROGRESS, STG_AWAITING_REPLACEMENT, FX_INSPECT_PASS},
    {ACT_INSPECT, VAR_FAIL, RET | EXC, IN_PROGRESS, G(STG_RECEIVED), ST_REJECTED, STG_INSPECTION_FAILED, FX_INSPECT_FAIL},
    {ACT_REPAIR_DONE, VAR_NONE, REP, IN_PROGRESS, G(STG_REPAIRING), ST_IN_PROGRESS, STG_REPAIRED, FX_NONE},
    {ACT_SHIP_TO_CUSTOMER, VAR_NONE, EXC, IN_PROGRESS, G(STG_AWAITING_REPLACEMENT), ST_RESOLVED, STG_REPLACED, FX_SHIP_TO_CUSTOMER},
    {ACT_SHIP_TO_CUSTOMER, VAR_NONE, REP, IN_PROGRESS, G(STG_REPAIRED), ST_RESOLVED, STG_REPAIRED, FX_SHIP_TO_CUSTOMER},

    /* money */
    {ACT_REFUND, VAR_NONE, RET | MONEY, IN_PROGRESS, G(STG_AWAITING_REFUND), ST_RESOLVED, STG_REFUNDED, FX_REFUND},

    /* any type */
    {ACT_RESOLVE, VAR_NONE, ALL, ACTIVE, 0, ST_RESOLVED, STG_RESOLVED, FX_RESOLVE},
    {ACT_CLOSE, VAR_NONE, ALL, RESOLVED, 0, ST_CLOSED, STG_CLOSED, FX_CLOSE},
    /* a resolved case reopens; a rejected one is appealed (and escalated) */
    {ACT_REOPEN, VAR_NONE, ALL, RESOLVED, 0, ST_IN_PROGRESS, STG_REOPENED, FX_REOPEN},
    {ACT_REOPEN, VAR_NONE, RET | EXC, REJECTED, G(STG_INSPECTION_FAILED), ST_IN_PROGRESS, STG_INSPECTION_APPEALED, FX_REOPEN},
    {ACT_REOPEN, VAR_NONE, ALL, REJECTED, 0, ST_IN_PROGRESS, STG_APPEALED, FX_REOPEN},
    {ACT_ESCALATE, VAR_NONE, ALL, ACTIVE, 0, NO_CHANGE, NO_CHANGE, FX_ESCALATE},
    {ACT_REPLY, VAR_NONE, ALL, ANY, 0, NO_CHANGE, NO_CHANGE, FX_REPLY},
    {ACT_NOTE, VAR_NONE, ALL, ANY, 0, NO_CHANGE, NO_CHANGE, FX_NOTE},
    {ACT_ASSIGN, VAR_NONE, ALL, ANY, 0, NO_CHANGE, NO_CHANGE, FX_ASSIGN},
};

#define MACHINE_ROWS (sizeof(machine) / sizeof(machine[0]))

const char *case_action_name(case_action a) {
    return a >= 0 && a < ACT__COUNT ? action_names[a] : NULL;
}

int case_action_from_name(const char *name) {
    if (name == NULL) return -1;
    for (int a = 0; a < ACT__COUNT; a++)
        if (strcmp(name, action_names[a]) == 0) return a;
    return -1;
}

static int row_applies(const case_transition *row, case_type t, case_status status, case_stage stage) {
    if (!(row->types & T(t))) return 0;
    if (row->from_status == ANY ? status == ST_CLOSED : !(row->from_status & S(status))) return 0;
    return row->from_stage == 0 || (row->from_stage & G(stage));
}

void case_initial_state(case_type t, as_outcome outcome, case_status *status, case_stage *stage) {
    *status = ST_OPEN;
    *stage = STG_NEW;
    if (!case_type_needs_decision(t)) return;
    if (outcome == OUT_REJECT) {
        *status = ST_REJECTED;
        *stage = STG_NOT_ELIGIBLE;
        return;
    }
    *stage = STG_MANUAL_REVIEW;
    if (outcome != OUT_APPROVE) return;
    /* an approval starts where approving a manual review leads */
    const case_transition *row = case_machine_find(t, ST_OPEN, STG_MANUAL_REVIEW, ACT_APPROVE, VAR_NONE);
    if (row == NULL) return;
    *status = (case_status)row->to_status;
    *stage = (case_stage)row->to_stage;
}

int case_stage_is_appeal(case_stage stage) {
    return stage == STG_APPEALED || stage == STG_INSPECTION_APPEALED;
}

const case_transition *case_machine_find(case_type t, case_status status, case_stage stage,
                                         case_action action, case_variant variant) {
    if (t < 0 || t >= CASE__TYPES) return NULL;
    for (size_t i = 0; i < MACHINE_ROWS; i++) {
        const case_transition *row = &machine[i];
        if (row->action != action || (row->variant != VAR_NONE && row->variant != variant)) continue;
        if (row_applies(row, t, status, stage)) return row;
    }
    return NULL;
}

/* Action names, sorted: the bit of each action in `set`, in name order. */
static void emit_sorted(emitter *e, unsigned set) {
    emit_array(e);
    const char *last = "";
    for (;;) { /* selection by name: 16 actions, no allocation */
        int next = -1;
        for (int a = 0; a < ACT__COUNT; a++)
            if ((set >> a & 1u) && strcmp(action_names[a], last) > 0 &&
                (next < 0 || strcmp(action_names[a], action_names[next]) < 0))
                next = a;
        if (next < 0) break;
        emit_str(e, action_names[next]);
        last = action_names[next];
    }
    emit_array_end(e);
}

void case_machine_allowed(case_type t, case_status status, case_stage stage, emitter *e) {
    unsigned set = 0;
    for (size_t i = 0; i < MACHINE_ROWS; i++)
        if (row_applies(&machine[i], t, status, stage)) set |= 1u << machine[i].action;
    emit_sorted(e, set);
}

void case_machine_actions(emitter *e) { emit_sorted(e, (1u << ACT__COUNT) - 1); }
