/* case/claims: one order line, one claim (SPEC section 1).
 *
 * The quantity and the money of an order line are shared by all the cases
 * that claim it. Each order has a ledger: one entry per claim case that holds
 * something, with the quantity of goods it holds and the money approved for
 * it (split into the line's share and the order's shipping) and refunded so
 * far. An entry is either active (its case still runs) or settled with money
 * paid (a refund the buyer keeps). A claim that ends without money (rejected,
 * cancelled, an exchange or repair done) leaves the ledger and frees its
 * share; one that ends with money keeps what it was paid, and a refund of
 * goods (return, refund_only) keeps its quantity for good.
 *
 * Invariants, over all cases of the order:
 *   held quantity of a line  <= the line's quantity
 *   money committed to a line <= price x quantity of the line
 *   shipping committed        <= the order's shipping_cents, and only claims
 *                                 whose shipping the merchant pays take any
 * where committed = approved for active claims, paid for settled ones. A
 * refund is bounded by its case's approved amount, so refunds across the
 * order never exceed what was paid plus shipping where the merchant is at
 * fault.
 *
 * The ledger is small (entries are bounded by quantity and money, never by
 * how many cases an order had) and is read-modified-written with the case in
 * one batch. Pure functions: no I/O. */
#ifndef AS_CASE_CLAIMS_H
#define AS_CASE_CLAIMS_H

#include <jansson.h>

#include "case/model.h"

typedef struct {
    as_case_id case_id;
    char sku[AS_SKU_MAX + 1];
    case_type type;
    int64_t qty;           /* goods held; 0 for price protection */
    int64_t line_cents;    /* approved (active) or paid (settled) against the line */
    int64_t ship_cents;    /* ... against the order's shipping */
    int64_t refunded_cents;
    int active;
} as_claim;

typedef struct {
    as_claim *claims;
    size_t n, cap;
} as_ledger;

void ledger_init(as_ledger *l);
void ledger_free(as_ledger *l);
int ledger_copy(as_ledger *dst, const as_ledger *src);
/* The stored form {"claims":[...]}; NULL when out of memory. */
char *ledger_to_json(const as_ledger *l, size_t *len);
int ledger_from_json(as_ledger *l, const char *text, size_t len, char *err, size_t errlen);
as_claim *ledger_find(as_ledger *l, const char *case_id);

/* What is left of a line for the case (which does not count against
 * itself). */
typedef struct {
    int64_t qty;         /* goods that may still be claimed */
    int64_t line_cents;  /* money of the line not committed to other cases */
    int64_t ship_cents;  /* shipping not committed to other cases */
    int64_t pp_cents;    /* price protection already committed on the line */
    char holders[8][AS_CASE_ID_MAX + 1]; /* the active cases holding the line */
    size_t nholders;
    size_t more_holders; /* holders beyond those listed */
} claim_room;

void claims_room(const as_ledger *l, const as_order *o, const as_item *item, const char *case_id,
                 claim_room *room);

/* Opening or re-opening (an appeal, a reopen) a claim on a line: holds the
 * case's qty of goods (claims_goods types). A settled entry of the case (a
 * refunded return reopened) becomes active again with what it was paid.
 * Returns 0, or -1 when the line has not that much left (the case is then not
 * in the ledger). Price protection holds no goods: -1 when another price
 * protection of the line is still running. */
int claims_hold(as_ledger *l, const as_order *o, const as_case *c);
/* The most the case may have approved: the money of its goods (price x its
 * qty) that its line has left plus, if the merchant pays shipping, the
 * shipping left. For price protection never
 * shipping, and with a current price recorded at most the drop (paid price -
 * current price) x qty, less what price protection of the line already took. */
int64_t claims_max_approval(const as_ledger *l, const as_order *o, const as_case *c);
/* Commits `amount` to the case (at most claims_max_approval: the caller caps
 * first); the line takes it first, up to the case's goods, shipping the rest.
 * 0, or -1 when the case holds no entry, its line is not on the order, or the
 * amount does not fit. */
int claims_approve(as_ledger *l, const as_order *o, const as_case *c, int64_t amount);
/* A refund paid. */
void claims_refunded(as_ledger *l, const char *case_id, int64_t amount);
/* The case ended (resolved, closed, rejected, cancelled): what was paid
 * stays, the rest is freed; a claim with nothing paid leaves the ledger. */
void claims_settle(as_ledger *l, const as_case *c);

#endif
