/* case/machine: the lifecycle of SPEC section 3 as one table.
 *
 * Read a row as: "action (variant) on these types, from this status/stage,
 * moves the case to that status/stage and has this effect". A NULL target
 * keeps the current value; a NULL source status means any status but closed.
 * Refunds stay in awaiting_refund until fully paid: the API layer applies the
 * row's target only when refunded reaches approved. */
#include "case/case.h"

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
#define GOODS (RET | EXC | REP)  /* the item travels back to the merchant */
#define MONEY (RFO | PPR)        /* decided and paid without shipping */
#define ALL (GOODS | MONEY | CMP | CON | LOG)
#define ACTIVE "open|awaiting_customer|in_progress"
#define APPEALED "appealed"                       /* an appealed rejection */
#define APPEALED_INSPECTION "inspection_appealed" /* ... of a failed inspection */

static const case_transition machine[] = {
    /* settle a manual review */
    {"approve", NULL, GOODS, "open", "manual_review", "awaiting_customer", "awaiting_shipment", FX_APPROVE},
    {"approve", NULL, MONEY, "open", "manual_review", "in_progress", "awaiting_refund", FX_APPROVE},
    {"reject", NULL, GOODS | MONEY, "open", "manual_review", "rejected", "review_rejected", FX_REJECT},

    {"approve", NULL, GOODS, "in_progress", APPEALED, "awaiting_customer", "awaiting_shipment", FX_APPROVE},
    {"approve", NULL, MONEY, "in_progress", APPEALED, "in_progress", "awaiting_refund", FX_APPROVE},
    {"inspect", "pass", RET, "in_progress", APPEALED_INSPECTION, "in_progress", "awaiting_refund", FX_INSPECT_PASS},
    {"inspect", "pass", EXC, "in_progress", APPEALED_INSPECTION, "in_progress", "awaiting_replacement", FX_INSPECT_PASS},
    {"reject", NULL, GOODS | MONEY, "in_progress", APPEALED "|" APPEALED_INSPECTION, "rejected", "appeal_rejected", FX_REJECT},

    /* goods travel back */
    {"ship_back", NULL, GOODS, "awaiting_customer", "awaiting_shipment", "in_progress", "in_transit", FX_SHIP_BACK},
    {"receive", NULL, RET | EXC, "in_progress", "in_transit", "in_progress", "received", FX_RECEIVE},
    {"receive", NULL, REP, "in_progress", "in_transit", "in_progress", "repairing", FX_RECEIVE},
    /* SPEC's repair row goes from the approval straight to receive: a device
     * handed in at a service point has no shipment to record */
    {"receive", NULL, REP, "awaiting_customer", "awaiting_shipment", "in_progress", "repairing", FX_RECEIVE},
    {"inspect", "pass", RET, "in_progress", "received", "in_progress", "awaiting_refund", FX_INSPECT_PASS},
    {"inspect", "pass", EXC, "in_progress", "received", "in_progress", "awaiting_replacement", FX_INSPECT_PASS},
    {"inspect", "fail", RET | EXC, "in_progress", "received", "rejected", "inspection_failed", FX_INSPECT_FAIL},
    {"repair_done", NULL, REP, "in_progress", "repairing", "in_progress", "repaired", FX_REPAIR_DONE},
    {"ship_to_customer", NULL, EXC, "in_progress", "awaiting_replacement", "resolved", "replaced", FX_SHIP_TO_CUSTOMER},
    {"ship_to_customer", NULL, REP, "in_progress", "repaired", "resolved", "repaired", FX_SHIP_TO_CUSTOMER},

    /* money */
    {"refund", NULL, RET | MONEY, "in_progress", "awaiting_refund", "resolved", "refunded", FX_REFUND},

    /* any type */
    {"resolve", NULL, ALL, ACTIVE, NULL, "resolved", "resolved", FX_RESOLVE},
    {"close", NULL, ALL, "resolved", NULL, "closed", "closed", FX_CLOSE},
    /* a resolved case reopens; a rejected one is appealed (and escalated),
     * and the appeal is settled like a review: approve re-enters the flow
     * where the rejection stopped it, reject ends it again */
    {"reopen", NULL, ALL, "resolved", NULL, "in_progress", "reopened", FX_REOPEN},
    {"reopen", NULL, RET | EXC, "rejected", "inspection_failed", "in_progress", APPEALED_INSPECTION, FX_REOPEN},
    {"reopen", NULL, ALL, "rejected", NULL, "in_progress", APPEALED, FX_REOPEN},
    {"escalate", NULL, ALL, ACTIVE, NULL, NULL, NULL, FX_ESCALATE},
    {"reply", NULL, ALL, NULL, NULL, NULL, NULL, FX_REPLY},
    {"note", NULL, ALL, NULL, NULL, NULL, NULL, FX_NOTE},
    {"assign", NULL, ALL, NULL, NULL, NULL, NULL, FX_ASSIGN},
};

#define MACHINE_ROWS (sizeof(machine) / sizeof(machine[0]))

/* 1 if word is one of the '|'-separated words of list. */
static int word_in(const char *word, const char *list) {
    size_t n = strlen(word);
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0) return 1;
        if (end == NULL) break;
        p = end + 1;
    }
    return 0;
}

static int row_applies(const case_transition *row, case_type t, const char *status,
                       const char *stage) {
    if (!(row->types & T(t))) return 0;
    if (row->from_status == NULL) {
        if (strcmp(status, "closed") == 0) return 0;
    } else if (!word_in(status, row->from_status)) {
        return 0;
    }
    return row->from_stage == NULL || (stage != NULL && word_in(stage, row->from_stage));
}

int case_initial_state(case_type t, const char *outcome, const char **status,
                       const char **stage) {
    if (!case_type_needs_decision(t)) {
        *status = "open";
        *stage = "new";
        return 0;
    }
    if (outcome == NULL) return -1;
    if (strcmp(outcome, "review") == 0) {
        *status = "open";
        *stage = "manual_review";
        return 0;
    }
    if (strcmp(outcome, "reject") == 0) {
        *status = "rejected";
        *stage = "not_eligible";
        return 0;
    }
    if (strcmp(outcome, "approve") != 0) return -1;
    /* An approval starts where approving a manual review would lead. */
    const case_transition *row = case_machine_find(t, "open", "manual_review", "approve", NULL);
    if (row == NULL) return -1;
    *status = row->to_status;
    *stage = row->to_stage;
    return 0;
}

int case_stage_is_appeal(const char *stage) {
    return stage != NULL && (strcmp(stage, APPEALED) == 0 || strcmp(stage, APPEALED_INSPECTION) == 0);
}

int case_action_known(const char *action) {
    if (action == NULL) return 0;
    for (size_t i = 0; i < MACHINE_ROWS; i++)
        if (strcmp(machine[i].action, action) == 0) return 1;
    return 0;
}

const case_transition *case_machine_find(case_type t, const char *status, const char *stage,
                                         const char *action, const char *variant) {
    if (status == NULL || action == NULL || t < 0 || t >= CASE__TYPES) return NULL;
    for (size_t i = 0; i < MACHINE_ROWS; i++) {
        const case_transition *row = &machine[i];
        if (strcmp(row->action, action) != 0) continue;
        if (row->variant != NULL && (variant == NULL || strcmp(row->variant, variant) != 0))
            continue;
        if (row_applies(row, t, status, stage)) return row;
    }
    return NULL;
}

/* Appends name to the array unless it is there; keeps the array sorted. */
static void add_sorted_unique(json_t *arr, const char *name) {
    size_t i, n = json_array_size(arr);
    for (i = 0; i < n; i++) {
        int c = strcmp(json_string_value(json_array_get(arr, i)), name);
        if (c == 0) return;
        if (c > 0) break;
    }
    json_array_insert_new(arr, i, json_string(name));
}

json_t *case_machine_allowed(case_type t, const char *status, const char *stage) {
    json_t *out = json_array();
    if (out == NULL || status == NULL) return out;
    for (size_t i = 0; i < MACHINE_ROWS; i++)
        if (row_applies(&machine[i], t, status, stage)) add_sorted_unique(out, machine[i].action);
    return out;
}

json_t *case_machine_actions(void) {
    json_t *out = json_array();
    if (out == NULL) return NULL;
    for (size_t i = 0; i < MACHINE_ROWS; i++) add_sorted_unique(out, machine[i].action);
    return out;
}
