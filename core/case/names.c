/* case/names: the closed vocabularies of SPEC sections 1 and 3, one table
 * each, read by name lookups in both directions. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "case/model.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int index_of(const char *name, const char *const *names, int n) {
    if (name == NULL) return -1;
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(name, names[i]) == 0) return i;
    return -1;
}

static const char *name_at(int i, const char *const *names, int n) {
    return i >= 0 && i < n ? names[i] : NULL;
}

/* "a, b, c" built once per table (the tables never change). */
static void joined(char *buf, size_t cap, const char *const *names, int n) {
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (names[i] == NULL) continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - len) break;
        len += (size_t)w;
    }
}

#define VOCABULARY(prefix, type, table, n)                                                         \
    const char *prefix##_name(type v) { return name_at((int)v, table, n); }                        \
    int prefix##_from_name(const char *name) { return index_of(name, table, n); }

static const char *const type_names[CASE__TYPES] = {
    [CASE_RETURN] = "return",           [CASE_EXCHANGE] = "exchange",
    [CASE_REFUND_ONLY] = "refund_only", [CASE_REPAIR] = "repair",
    [CASE_PRICE_PROTECTION] = "price_protection", [CASE_COMPLAINT] = "complaint",
    [CASE_CONSULTATION] = "consultation", [CASE_LOGISTICS] = "logistics",
};
VOCABULARY(case_type, case_type, type_names, CASE__TYPES)

static const char *const status_names[ST__COUNT] = {
    [ST_OPEN] = "open",         [ST_AWAITING_CUSTOMER] = "awaiting_customer",
    [ST_IN_PROGRESS] = "in_progress", [ST_RESOLVED] = "resolved",
    [ST_CLOSED] = "closed",     [ST_REJECTED] = "rejected",
};
VOCABULARY(case_status, case_status, status_names, ST__COUNT)

static const char *const stage_names[STG__COUNT] = {
    [STG_NEW] = "new",
    [STG_MANUAL_REVIEW] = "manual_review",
    [STG_NOT_ELIGIBLE] = "not_eligible",
    [STG_ALREADY_CLAIMED] = "already_claimed",
    [STG_AWAITING_SHIPMENT] = "awaiting_shipment",
    [STG_IN_TRANSIT] = "in_transit",
    [STG_RECEIVED] = "received",
    [STG_AWAITING_REFUND] = "awaiting_refund",
    [STG_REFUNDED] = "refunded",
    [STG_AWAITING_REPLACEMENT] = "awaiting_replacement",
    [STG_REPLACED] = "replaced",
    [STG_REPAIRING] = "repairing",
    [STG_REPAIRED] = "repaired",
    [STG_INSPECTION_FAILED] = "inspection_failed",
    [STG_REVIEW_REJECTED] = "review_rejected",
    [STG_APPEALED] = "appealed",
    [STG_INSPECTION_APPEALED] = "inspection_appealed",
    [STG_APPEAL_REJECTED] = "appeal_rejected",
    [STG_REOPENED] = "reopened",
    [STG_RESOLVED] = "resolved",
    [STG_CANCELLED] = "cancelled",
    [STG_CLOSED] = "closed",
};
VOCABULARY(case_stage, case_stage, stage_names, STG__COUNT)

static const char *const reason_names[RS__COUNT] = {
    [RS_NO_REASON] = "no_reason",       [RS_QUALITY] = "quality",
    [RS_WRONG_ITEM] = "wrong_item",     [RS_DAMAGED_IN_TRANSIT] = "damaged_in_transit",
    [RS_NOT_AS_DESCRIBED] = "not_as_described", [RS_NOT_RECEIVED] = "not_received",
    [RS_PRICE_DROP] = "price_drop",     [RS_LATE_DELIVERY] = "late_delivery",
    [RS_ATTITUDE] = "attitude",         [RS_OTHER] = "other",
};
VOCABULARY(case_reason, case_reason, reason_names, RS__COUNT)

static const char *const channel_names[CH__COUNT] = {
    [CH_CHAT] = "chat", [CH_PHONE] = "phone", [CH_EMAIL] = "email", [CH_APP] = "app",
    [CH_SOCIAL] = "social", [CH_WEB] = "web", [CH_SYSTEM] = "system",
};
VOCABULARY(case_channel, case_channel, channel_names, CH__COUNT)

static const char *const outcome_names[OUT__COUNT] = {
    [OUT_NONE] = NULL, [OUT_APPROVE] = "approve", [OUT_REJECT] = "reject", [OUT_REVIEW] = "review",
};
VOCABULARY(outcome, as_outcome, outcome_names, OUT__COUNT)

static const char *const payer_names[PAYER__COUNT] = {
    [PAYER_NONE] = NULL, [PAYER_BUYER] = "buyer", [PAYER_MERCHANT] = "merchant",
};
VOCABULARY(payer, as_payer, payer_names, PAYER__COUNT)

static const char *const direction_names[SHIP__COUNT] = {
    [SHIP_TO_MERCHANT] = "to_merchant", [SHIP_TO_CUSTOMER] = "to_customer",
};
VOCABULARY(direction, as_direction, direction_names, SHIP__COUNT)

static const char *const sla_kind_names[SLA__KINDS] = {
    [SLA_FIRST_RESPONSE] = "first_response", [SLA_RESOLUTION] = "resolution",
};
VOCABULARY(sla_kind, sla_kind, sla_kind_names, SLA__KINDS)

static const char *const tracking_names[TRK__COUNT] = {
    [TRK_SHIPPED] = "shipped", [TRK_IN_TRANSIT] = "in_transit",
    [TRK_OUT_FOR_DELIVERY] = "out_for_delivery", [TRK_DELIVERED] = "delivered",
    [TRK_EXCEPTION] = "exception",
};
VOCABULARY(tracking_status, tracking_status, tracking_names, TRK__COUNT)

/* Built once (pthread_once: a replay worker may ask too). */
#define JOINED(fn, table, n)                                                                       \
    static char fn##_buf[256];                                                                     \
    static pthread_once_t fn##_once = PTHREAD_ONCE_INIT;                                           \
    static void fn##_init(void) { joined(fn##_buf, sizeof fn##_buf, table, n); }                  \
    const char *fn(void) {                                                                         \
        pthread_once(&fn##_once, fn##_init);                                                       \
        return fn##_buf;                                                                           \
    }
JOINED(case_type_names, type_names, CASE__TYPES)
JOINED(case_status_names, status_names, ST__COUNT)
JOINED(case_reason_names, reason_names, RS__COUNT)
JOINED(case_channel_names, channel_names, CH__COUNT)
JOINED(tracking_status_names, tracking_names, TRK__COUNT)

int case_reason_merchant_fault(case_reason r) {
    return r == RS_QUALITY || r == RS_WRONG_ITEM || r == RS_DAMAGED_IN_TRANSIT ||
           r == RS_NOT_AS_DESCRIBED || r == RS_NOT_RECEIVED;
}

int case_type_needs_decision(case_type t) {
    return t == CASE_RETURN || t == CASE_EXCHANGE || t == CASE_REFUND_ONLY || t == CASE_REPAIR ||
           t == CASE_PRICE_PROTECTION;
}

int case_type_claims_goods(case_type t) {
    return t == CASE_RETURN || t == CASE_EXCHANGE || t == CASE_REFUND_ONLY || t == CASE_REPAIR;
}

int case_status_active(case_status s) {
    return s == ST_OPEN || s == ST_AWAITING_CUSTOMER || s == ST_IN_PROGRESS;
}

int as_id_valid(const char *id) {
    if (id == NULL) return 0;
    size_t n = strlen(id);
    if (n == 0 || n > AS_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}
