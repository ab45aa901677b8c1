/* case/names: the closed vocabularies of SPEC section 3 (types, reasons,
 * channels, statuses). Kept as tables so the docs and the code read alike. */
#include "case/case.h"

#include <string.h>

static const char *const type_names[CASE__TYPES] = {
    [CASE_RETURN] = "return",
    [CASE_EXCHANGE] = "exchange",
    [CASE_REFUND_ONLY] = "refund_only",
    [CASE_REPAIR] = "repair",
    [CASE_PRICE_PROTECTION] = "price_protection",
    [CASE_COMPLAINT] = "complaint",
    [CASE_CONSULTATION] = "consultation",
    [CASE_LOGISTICS] = "logistics",
};

static const struct {
    const char *name;
    int merchant_fault;
} reasons[] = {
    {"no_reason", 0},        {"quality", 1},  {"wrong_item", 1},    {"damaged_in_transit", 1},
    {"not_as_described", 1}, {"not_received", 1}, {"price_drop", 0}, {"late_delivery", 0},
    {"attitude", 0},         {"other", 0},
};

static const char *const channels[] = {"chat", "phone", "email", "app", "social", "web", "system"};

static const char *const statuses[] = {"open",     "awaiting_customer", "in_progress",
                                       "resolved", "closed",            "rejected"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int in_list(const char *s, const char *const *list, size_t n) {
    if (s == NULL) return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

int case_type_from_name(const char *name) {
    if (name == NULL) return -1;
    for (int t = 0; t < CASE__TYPES; t++)
        if (strcmp(name, type_names[t]) == 0) return t;
    return -1;
}

const char *case_type_name(case_type t) {
    return (t >= 0 && t < CASE__TYPES) ? type_names[t] : "unknown";
}

int case_type_needs_decision(case_type t) {
    return t == CASE_RETURN || t == CASE_EXCHANGE || t == CASE_REFUND_ONLY || t == CASE_REPAIR ||
           t == CASE_PRICE_PROTECTION;
}

int case_reason_valid(const char *reason) {
    if (reason == NULL) return 0;
    for (size_t i = 0; i < COUNT(reasons); i++)
        if (strcmp(reason, reasons[i].name) == 0) return 1;
    return 0;
}

int case_reason_merchant_fault(const char *reason) {
    if (reason == NULL) return 0;
    for (size_t i = 0; i < COUNT(reasons); i++)
        if (strcmp(reason, reasons[i].name) == 0) return reasons[i].merchant_fault;
    return 0;
}

int case_channel_valid(const char *channel) { return in_list(channel, channels, COUNT(channels)); }

int case_status_valid(const char *status) { return in_list(status, statuses, COUNT(statuses)); }
