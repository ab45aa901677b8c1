/* case/model: the typed data of the domain: cases, orders and their closed
 * vocabularies (SPEC sections 1 and 3).
 *
 * Inside the server a case or an order is one of these structs; JSON exists
 * only at the edges (case/codec.h reads and writes it). Closed sets (type,
 * status, stage, reason, channel, ...) are enums whose names come from one
 * table each, so a misspelt name is a compile error or an unknown-value error
 * at the edge, never a silent mismatch.
 *
 * Identifiers have fixed bounds (AS_ID_MAX); free texts (description,
 * messages, comments) are heap strings owned by their struct and released by
 * case_free / order_free. Optional integers (times, amounts, scores) hold
 * AS_NONE when absent. An empty id ("") is an absent id. */
#ifndef AS_CASE_MODEL_H
#define AS_CASE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "util/emit.h"

#define AS_ID_MAX 128          /* ids: 1-128 of A-Z a-z 0-9 . _ : - */
#define AS_SKU_MAX 128         /* skus and categories: any text up to 128 bytes */
#define AS_CASE_ID_MAX 24      /* "C" and up to 20 digits */
#define AS_VERSION_LEN 64      /* a policy version: SHA-256 in hex */

typedef char as_id[AS_ID_MAX + 1];
typedef char as_case_id[AS_CASE_ID_MAX + 1];

/* ---- vocabularies ---- */
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

typedef enum {
    ST_OPEN,
    ST_AWAITING_CUSTOMER,
    ST_IN_PROGRESS,
    ST_RESOLVED,
    ST_CLOSED,
    ST_REJECTED,
    ST__COUNT
} case_status;

typedef enum {
    STG_NEW,
    STG_MANUAL_REVIEW,
    STG_NOT_ELIGIBLE,
    STG_ALREADY_CLAIMED,
    STG_AWAITING_SHIPMENT,
    STG_IN_TRANSIT,
    STG_RECEIVED,
    STG_AWAITING_REFUND,
    STG_REFUNDED,
    STG_AWAITING_REPLACEMENT,
    STG_REPLACED,
    STG_REPAIRING,
    STG_REPAIRED,
    STG_INSPECTION_FAILED,
    STG_REVIEW_REJECTED,
    STG_APPEALED,
    STG_INSPECTION_APPEALED,
    STG_APPEAL_REJECTED,
    STG_REOPENED,
    STG_RESOLVED,
    STG_CANCELLED,
    STG_CLOSED,
    STG__COUNT
} case_stage;

typedef enum {
    RS_NO_REASON,
    RS_QUALITY,
    RS_WRONG_ITEM,
    RS_DAMAGED_IN_TRANSIT,
    RS_NOT_AS_DESCRIBED,
    RS_NOT_RECEIVED,
    RS_PRICE_DROP,
    RS_LATE_DELIVERY,
    RS_ATTITUDE,
    RS_OTHER,
    RS__COUNT
} case_reason;

typedef enum { CH_CHAT, CH_PHONE, CH_EMAIL, CH_APP, CH_SOCIAL, CH_WEB, CH_SYSTEM, CH__COUNT } case_channel;

typedef enum { OUT_NONE, OUT_APPROVE, OUT_REJECT, OUT_REVIEW, OUT__COUNT } as_outcome;

typedef enum { PAYER_NONE, PAYER_BUYER, PAYER_MERCHANT, PAYER__COUNT } as_payer;

typedef enum { SHIP_TO_MERCHANT, SHIP_TO_CUSTOMER, SHIP__COUNT } as_direction;

/* SLA targets; bits of as_sla.breached. */
typedef enum { SLA_FIRST_RESPONSE, SLA_RESOLUTION, SLA__KINDS } sla_kind;

typedef enum {
    TRK_SHIPPED,
    TRK_IN_TRANSIT,
    TRK_OUT_FOR_DELIVERY,
    TRK_DELIVERED,
    TRK_EXCEPTION,
    TRK__COUNT
} tracking_status;

/* Every vocabulary has a name table; *_from_name answers -1 for an unknown
 * name (and for NULL). */
const char *case_type_name(case_type t);
int case_type_from_name(const char *name);
const char *case_status_name(case_status s);
int case_status_from_name(const char *name);
const char *case_stage_name(case_stage s);
int case_stage_from_name(const char *name);
const char *case_reason_name(case_reason r);
int case_reason_from_name(const char *name);
const char *case_channel_name(case_channel c);
int case_channel_from_name(const char *name);
const char *outcome_name(as_outcome o); /* NULL for OUT_NONE */
int outcome_from_name(const char *name);
const char *payer_name(as_payer p); /* NULL for PAYER_NONE */
int payer_from_name(const char *name);
const char *direction_name(as_direction d);
int direction_from_name(const char *name);
const char *sla_kind_name(sla_kind k);
int sla_kind_from_name(const char *name);
const char *tracking_status_name(tracking_status t);
int tracking_status_from_name(const char *name);
/* The names of a vocabulary joined by ", " for error messages ("must be one
 * of: ..."); static storage. */
const char *case_type_names(void);
const char *case_status_names(void);
const char *case_reason_names(void);
const char *case_channel_names(void);
const char *tracking_status_names(void);

/* quality, wrong_item, damaged_in_transit, not_as_described, not_received. */
int case_reason_merchant_fault(case_reason r);
/* Types returns.evaluate decides on (they need an order and an order line). */
int case_type_needs_decision(case_type t);
/* Types that claim an order line's goods (return, exchange, refund_only,
 * repair): they hold part of its quantity while they run. */
int case_type_claims_goods(case_type t);
/* open, awaiting_customer, in_progress: the case still needs work (it counts
 * toward its agent's load and its SLA timers run). */
int case_status_active(case_status s);
/* 1 if id is 1-AS_ID_MAX characters of A-Z a-z 0-9 . _ : - */
int as_id_valid(const char *id);

/* ---- the case ---- */
typedef struct {
    as_outcome outcome; /* OUT_NONE: no decision (JSON null) */
    char *reason_code;
    char *message;
    char policy_version[AS_VERSION_LEN + 1];
    char module[32], function[32];
    int64_t at;
    char settled_role[16]; /* "" unless a person settled it (settled_by) */
    as_id settled_id;
    char **claimed_by; /* already_claimed: the open cases that hold the line */
    size_t nclaimed_by;
} as_decision;

typedef struct {
    as_direction direction;
    char *carrier, *tracking_no;
    int64_t at;
} as_shipment;

/* A warning before a target passes (sla.warnings): at `percent` of the
 * target's time (business time when the target is), sent once. */
#define SLA_WARNINGS_MAX 8
typedef struct {
    sla_kind kind;
    int64_t percent; /* 1..99 */
    int64_t due;     /* when it falls due */
    int64_t sent_at; /* AS_NONE until sent */
} as_sla_warning;

/* The escalation ladder (sla.on_breach is level 1, sla.escalate the levels
 * after it) climbs one level per step while the case stays active. */
#define SLA_ESCALATION_MAX 9

typedef struct {
    int64_t first_response_due, resolution_due; /* AS_NONE: no target */
    int business;
    unsigned breached; /* bit (1u << sla_kind) per missed target */
    as_sla_warning warnings[SLA_WARNINGS_MAX];
    int nwarnings;
    int64_t escalation_level;   /* 0: the ladder has not started */
    int64_t escalated_at;       /* when level 1 started, AS_NONE */
    int64_t next_escalation_at; /* when the next level is due, AS_NONE: none */
} as_sla;

typedef struct {
    int64_t due_at, sent_at, answered_at; /* AS_NONE when not planned/sent/answered */
    int64_t csat, nps;                    /* AS_NONE until answered */
    char *comment;
    char *questions_json; /* what survey.plan asked (JSON text) or NULL */
    as_case_id followup_case_id;
} as_survey;

typedef struct as_case {
    as_case_id case_id;
    uint64_t seq; /* the number in case_id: cases are created in seq order */
    case_type type;
    case_status status;
    case_stage stage;
    as_id order_id, buyer_id, merchant_id;
    char sku[AS_SKU_MAX + 1];
    int64_t qty; /* AS_NONE without an order line */
    case_channel channel;
    case_reason reason;
    char *description;
    int opened;
    char **photos;
    size_t nphotos;
    as_id queue;
    int64_t priority;
    as_id *skills;
    size_t nskills;
    as_id assignee;
    int escalated;
    int followup; /* a follow-up (回访) the server opened after a low survey score */
    as_case_id parent_case_id;
    int64_t created_at, updated_at, first_response_at, resolved_at, closed_at;
    as_sla sla;
    as_decision decision;
    struct {
        int64_t approved_cents, refunded_cents;
        as_payer shipping_paid_by;
    } refund;
    struct {
        int64_t coupon_cents; /* AS_NONE: no goodwill (JSON null) */
        char *reason;
    } compensation;
    as_survey survey;
    as_shipment *shipments;
    size_t nshipments;
    char *resolution;
} as_case;

/* A blank case: every optional value absent, lists empty. */
void case_init(as_case *c);
/* Releases what the case owns and blanks it. */
void case_free(as_case *c);
/* Deep copy into a blank dst; 0 or -1 (out of memory, dst left blank). */
int case_copy(as_case *dst, const as_case *src);
/* Replaces a heap string member with a copy of s (NULL clears it); -1 when
 * out of memory (the old value stays). */
int as_strset(char **field, const char *s);
/* Copies an id into a fixed buffer (truncating what cannot be an id). */
void as_idset(char *dst, size_t cap, const char *src);
#define AS_IDSET(dst, src) as_idset((dst), sizeof(dst), (src))
/* The case_id of a sequence number: "C" and 10 or more digits. */
void case_id_format(uint64_t seq, as_case_id out);
/* The sequence number of a case_id, or 0 if it is not one. */
uint64_t case_seq_of(const char *case_id);
/* 1 if the case breached the target. */
static inline int case_breached(const as_case *c, sla_kind k) { return (c->sla.breached >> k) & 1u; }

/* ---- the order ---- */
typedef struct {
    char sku[AS_SKU_MAX + 1];
    char category[AS_SKU_MAX + 1];
    int64_t price_cents, qty;
    char *title;
} as_item;

typedef struct {
    tracking_status status;
    int64_t at;
    char *carrier, *tracking_no, *note;
} as_scan;

typedef struct {
    char sku[AS_SKU_MAX + 1];
    int64_t price_cents, at;
} as_price;

typedef struct {
    char *tier;                   /* NULL: not given */
    int64_t lifetime_spend_cents; /* AS_NONE: not given */
    char *phone, *email;          /* PII: masked for every role but admin */
    char *address;                /* PII too: the delivery address, optional */
} as_buyer;

typedef struct as_order {
    as_id order_id, buyer_id, merchant_id;
    int64_t paid_at, delivered_at, shipping_cents; /* delivered_at AS_NONE until delivered */
    as_item *items;
    size_t nitems;
    as_buyer buyer;
    as_scan *tracking;
    size_t ntracking;
    as_price *prices; /* the current price per sku, for price protection */
    size_t nprices;
    int64_t stall_reported_for; /* the scan time a stalled parcel was reported for */
} as_order;

void order_init(as_order *o);
void order_free(as_order *o);
int order_copy(as_order *dst, const as_order *src);
/* The order line a case is about: the one with sku, or with sku NULL/"" the
 * only one. NULL if there is none. */
const as_item *order_item(const as_order *o, const char *sku);
/* The current price recorded for sku, or NULL. */
const as_price *order_price(const as_order *o, const char *sku);
/* The scan with the latest `at` (carriers report older scans late), or NULL. */
const as_scan *order_newest_scan(const as_order *o);

/* ---- a buyer's relationship survey (NPS outside any case) ---- */
/* One per buyer and merchant ("" for the platform). survey.relationship
 * plans a round when the buyer is active and none is planned; the round is
 * sent at due_at and answered once. A new round keeps what the last one
 * gave in last_*. */
typedef struct {
    as_id buyer_id, merchant_id;
    int64_t due_at, sent_at, answered_at; /* this round; AS_NONE */
    int64_t nps;                          /* its answer 0..10, AS_NONE */
    char *comment;
    int channel;                          /* a case_channel, or -1 */
    char *questions_json;
    int64_t rounds;                       /* rounds sent so far */
    int64_t last_sent_at, last_answered_at, last_nps;
    char policy_version[AS_VERSION_LEN + 1]; /* the set that planned this round */
} as_nps;

void nps_init(as_nps *n);
void nps_free(as_nps *n);
int nps_copy(as_nps *dst, const as_nps *src);
/* 1 while a round is planned and neither sent nor answered. */
int nps_planned(const as_nps *n);
/* 1 while a round may be answered: planned (sent or not), not answered. */
int nps_open(const as_nps *n);

#endif
