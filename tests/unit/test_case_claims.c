/* case/claims: one order line, one claim (SPEC section 1; claims.h), as pure
 * functions over a ledger.
 *
 * The order used throughout: line A (1000 cents x 3), line B (500 cents x 2),
 * shipping 800. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "case/claims.h"

typedef struct {
    as_order o;
    as_ledger l;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    order_init(&f->o);
    AS_IDSET(f->o.order_id, "O-1");
    AS_IDSET(f->o.merchant_id, "M-1");
    f->o.shipping_cents = 800;
    f->o.items = calloc(2, sizeof *f->o.items);
    f->o.items[0] = (as_item){.sku = "A", .category = "apparel", .price_cents = 1000, .qty = 3};
    f->o.items[1] = (as_item){.sku = "B", .category = "apparel", .price_cents = 500, .qty = 2};
    f->o.nitems = 2;
    ledger_init(&f->l);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    order_free(&f->o);
    ledger_free(&f->l);
    free(f);
    return 0;
}

/* A claim case as the ledger sees it (no heap members). */
static as_case claim(uint64_t seq, case_type t, const char *sku, int64_t qty, as_payer payer) {
    as_case c;
    case_init(&c);
    case_id_format(seq, c.case_id);
    c.seq = seq;
    c.type = t;
    AS_IDSET(c.sku, sku);
    c.qty = qty;
    c.refund.shipping_paid_by = payer;
    return c;
}

static const as_item *line(const fixture *f, const char *sku) { return order_item(&f->o, sku); }

static claim_room room_for(const fixture *f, const char *sku, const char *case_id) {
    claim_room r;
    claims_room(&f->l, &f->o, line(f, sku), case_id, &r);
    return r;
}

/* Rule: the quantity of a line is shared by all its cases; a claim beyond
 * what is left is refused, naming the cases that hold the line, and a claim
 * that ends without money frees its share. */
static void quantity_is_shared_across_cases(void **state) {
    fixture *f = *state;
    as_case c1 = claim(1, CASE_RETURN, "A", 2, PAYER_BUYER), c2 = claim(2, CASE_EXCHANGE, "A", 2, PAYER_BUYER),
            c3 = claim(3, CASE_REPAIR, "A", 1, PAYER_MERCHANT), c4 = claim(4, CASE_RETURN, "B", 2, PAYER_BUYER);
    assert_int_equal(claims_hold(&f->l, &f->o, &c1), 0);
    assert_int_equal(claims_hold(&f->l, &f->o, &c2), -1); /* 1 of A left */
    assert_null(ledger_find(&f->l, c2.case_id));         /* a refused claim is not in the ledger */
    assert_int_equal(claims_hold(&f->l, &f->o, &c3), 0);
    assert_int_equal(claims_hold(&f->l, &f->o, &c4), 0); /* another line is another share */
    claim_room r = room_for(f, "A", "");
    assert_int_equal(r.qty, 0);
    assert_int_equal(r.nholders, 2);
    assert_string_equal(r.holders[0], c1.case_id);
    assert_string_equal(r.holders[1], c3.case_id);
    /* a case never counts against itself: holding again is a no-op */
    assert_int_equal(claims_hold(&f->l, &f->o, &c1), 0);
    assert_int_equal(f->l.n, 3);
    assert_int_equal(room_for(f, "A", c1.case_id).qty, 2);
    /* the return is cancelled (no money): its 2 are free again */
    claims_settle(&f->l, &c1);
    assert_null(ledger_find(&f->l, c1.case_id));
    assert_int_equal(claims_hold(&f->l, &f->o, &c2), 0);
    assert_int_equal(room_for(f, "A", "").qty, 0);
    /* a case without its own qty claims the whole line */
    as_case c5 = claim(5, CASE_RETURN, "B", AS_NONE, PAYER_BUYER);
    claims_settle(&f->l, &c4);
    assert_int_equal(claims_hold(&f->l, &f->o, &c5), 0);
    assert_int_equal(ledger_find(&f->l, c5.case_id)->qty, 2);
    /* a sku the order lacks cannot be held */
    as_case c6 = claim(6, CASE_RETURN, "Z", 1, PAYER_BUYER);
    assert_int_equal(claims_hold(&f->l, &f->o, &c6), -1);
}

/* Rule (SPEC section 1): refund = price x quantity, plus the original
 * shipping where the merchant is at fault, and refunds across the cases of an
 * order never exceed what was paid for its lines plus that shipping. So a
 * case's approval is capped by its own goods' money the line has left, and
 * shipping (refunded once per order) only where the merchant pays it. */
static void approvals_are_capped_by_what_is_left(void **state) {
    fixture *f = *state;
    as_case c1 = claim(1, CASE_RETURN, "A", 1, PAYER_MERCHANT), c2 = claim(2, CASE_RETURN, "A", 1, PAYER_MERCHANT),
            c3 = claim(3, CASE_REFUND_ONLY, "A", 1, PAYER_BUYER), c4 = claim(4, CASE_RETURN, "B", 1, PAYER_MERCHANT);
    assert_int_equal(claims_hold(&f->l, &f->o, &c1), 0);
    assert_int_equal(claims_hold(&f->l, &f->o, &c2), 0);
    assert_int_equal(claims_hold(&f->l, &f->o, &c3), 0);
    assert_int_equal(claims_hold(&f->l, &f->o, &c4), 0);
    assert_int_equal(claims_max_approval(&f->l, &f->o, &c1), 1000 + 800);
    assert_int_equal(claims_max_approval(&f->l, &f->o, &c3), 1000); /* the buyer pays: no shipping */
    /* c1 takes its unit and the shipping: the line its goods' share, shipping the rest */
    assert_int_equal(claims_approve(&f->l, &f->o, &c1, 1000 + 800), 0);
    as_claim *e1 = ledger_find(&f->l, c1.case_id);
    assert_int_equal(e1->line_cents, 1000);
    assert_int_equal(e1->ship_cents, 800);
    assert_int_equal(claims_approve(&f->l, &f->o, &c1, 900), 0); /* re-approving replaces */
    assert_int_equal(e1->line_cents, 900);
    assert_int_equal(e1->ship_cents, 0);
    assert_int_equal(claims_approve(&f->l, &f->o, &c1, 1000 + 800), 0);
    /* c2 is as much at fault, but the shipping was refunded once already */
    assert_int_equal(claims_max_approval(&f->l, &f->o, &c2), 1000);
    assert_int_equal(claims_approve(&f->l, &f->o, &c2, 1000 + 800), -1);
    assert_int_equal(ledger_find(&f->l, c2.case_id)->line_cents, 0); /* a refused approval changes nothing */
    assert_int_equal(claims_approve(&f->l, &f->o, &c2, 1000), 0);
    /* the third unit is still the buyer's to claim */
    assert_int_equal(claims_max_approval(&f->l, &f->o, &c3), 1000);
    assert_int_equal(claims_approve(&f->l, &f->o, &c3, 1001), -1);
    assert_int_equal(claims_approve(&f->l, &f->o, &c3, 1000), 0);
    assert_int_equal(room_for(f, "A", "").line_cents, 0);
    /* another line: its own money, but no shipping left */
    assert_int_equal(claims_max_approval(&f->l, &f->o, &c4), 500);
    assert_int_equal(claims_approve(&f->l, &f->o, &c4, -1), -1);
    /* a case that holds nothing cannot be approved */
    as_case c9 = claim(9, CASE_RETURN, "B", 1, PAYER_MERCHANT);
    assert_int_equal(claims_approve(&f->l, &f->o, &c9, 1), -1);
}

/* Rule: refunds across the cases of an order never exceed what was paid
 * for the line plus shipping where the merchant is at fault: a settled
 * refund keeps what it was paid (and a refund of goods its quantity), the
 * rest is freed. */
static void settle_keeps_what_was_paid(void **state) {
    fixture *f = *state;
    as_case c1 = claim(1, CASE_RETURN, "A", 2, PAYER_MERCHANT);
    assert_int_equal(claims_hold(&f->l, &f->o, &c1), 0);
    assert_int_equal(claims_approve(&f->l, &f->o, &c1, 2800), 0); /* 2000 + 800 shipping */
    as_claim *e = ledger_find(&f->l, c1.case_id);
    assert_int_equal(e->line_cents, 2000);
    assert_int_equal(e->ship_cents, 800);
    claims_refunded(&f->l, c1.case_id, 1500);
    claims_refunded(&f->l, c1.case_id, 1300);
    assert_int_equal(e->refunded_cents, 2800);
    claims_settle(&f->l, &c1);
    e = ledger_find(&f->l, c1.case_id);
    assert_non_null(e);
    assert_false(e->active);
    assert_int_equal(e->line_cents, 2000);
    assert_int_equal(e->ship_cents, 800);
    assert_int_equal(e->qty, 2);
    claim_room r = room_for(f, "A", "");
    assert_int_equal(r.qty, 1);               /* the returned goods stay claimed */
    assert_int_equal(r.line_cents, 1000);
    assert_int_equal(r.nholders, 0);          /* a settled claim holds nothing open */

    /* settled with part of the approval paid: only the paid part stays */
    as_case c2 = claim(2, CASE_REFUND_ONLY, "B", 2, PAYER_MERCHANT);
    assert_int_equal(claims_hold(&f->l, &f->o, &c2), 0);
    assert_int_equal(claims_max_approval(&f->l, &f->o, &c2), 1000); /* shipping went back once */
    assert_int_equal(claims_approve(&f->l, &f->o, &c2, 1000), 0);
    claims_refunded(&f->l, c2.case_id, 400);
    claims_settle(&f->l, &c2);
    as_claim *e2 = ledger_find(&f->l, c2.case_id);
    assert_int_equal(e2->line_cents, 400);
    assert_int_equal(e2->ship_cents, 0);
    assert_int_equal(room_for(f, "B", "").line_cents, 600);

    /* ended without money (rejected, cancelled, an exchange done): gone */
    as_case c3 = claim(3, CASE_EXCHANGE, "A", 1, PAYER_BUYER);
    assert_int_equal(claims_hold(&f->l, &f->o, &c3), 0);
    claims_settle(&f->l, &c3);
    assert_null(ledger_find(&f->l, c3.case_id));
    assert_int_equal(room_for(f, "A", "").qty, 1);
    /* settling a case the ledger does not know is a no-op */
    claims_settle(&f->l, &c3);
    assert_int_equal(f->l.n, 2);
}

/* Rule: a settled refund that is reopened runs again with what it was paid,
 * and is not counted twice. */
static void reopened_settled_refund_runs_again(void **state) {
    fixture *f = *state;
    as_case c1 = claim(1, CASE_RETURN, "A", 2, PAYER_BUYER), c2 = claim(2, CASE_RETURN, "A", 1, PAYER_BUYER);
    claims_hold(&f->l, &f->o, &c1);
    claims_approve(&f->l, &f->o, &c1, 2000);
    claims_refunded(&f->l, c1.case_id, 2000);
    claims_settle(&f->l, &c1);
    assert_int_equal(claims_hold(&f->l, &f->o, &c2), 0);
    assert_int_equal(claims_hold(&f->l, &f->o, &c1), 0); /* reopened: its own entry, active again */
    as_claim *e = ledger_find(&f->l, c1.case_id);
    assert_true(e->active);
    assert_int_equal(e->qty, 2);
    assert_int_equal(e->line_cents, 2000);
    assert_int_equal(e->refunded_cents, 2000);
    assert_int_equal(f->l.n, 2);
    claim_room r = room_for(f, "A", "");
    assert_int_equal(r.qty, 0);
    assert_int_equal(r.line_cents, 1000);
    assert_int_equal(r.nholders, 2);
    /* resolved again: the same paid amount stays, once */
    claims_settle(&f->l, &c1);
    assert_int_equal(room_for(f, "A", c2.case_id).line_cents, 1000);
}

/* Rule (SPEC section 1, price protection): the difference if the price
 * dropped, once per line; one price protection of a line runs at a time; it
 * holds no goods and never takes shipping. */
static void price_protection_takes_the_drop_once(void **state) {
    fixture *f = *state;
    as_case p1 = claim(1, CASE_PRICE_PROTECTION, "A", AS_NONE, PAYER_MERCHANT),
            p2 = claim(2, CASE_PRICE_PROTECTION, "A", AS_NONE, PAYER_MERCHANT),
            r1 = claim(3, CASE_RETURN, "A", 3, PAYER_BUYER);
    /* no price recorded: the line's money is the bound (a person judges), no shipping */
    assert_int_equal(claims_hold(&f->l, &f->o, &p1), 0);
    assert_int_equal(ledger_find(&f->l, p1.case_id)->qty, 0);
    assert_int_equal(claims_max_approval(&f->l, &f->o, &p1), 3000);
    assert_int_equal(claims_hold(&f->l, &f->o, &r1), 0); /* holds no goods: the return still fits */
    assert_int_equal(claims_hold(&f->l, &f->o, &p2), -1); /* one running per line */
    claims_settle(&f->l, &p1);                           /* ended without money */

    /* the price dropped to 800: 200 x 3 is the allowance, once */
    f->o.prices = calloc(1, sizeof *f->o.prices);
    f->o.prices[0] = (as_price){"A", 800, 50};
    f->o.nprices = 1;
    assert_int_equal(claims_hold(&f->l, &f->o, &p1), 0);
    assert_int_equal(claims_max_approval(&f->l, &f->o, &p1), 600);
    assert_int_equal(claims_approve(&f->l, &f->o, &p1, 601), -1);
    assert_int_equal(claims_approve(&f->l, &f->o, &p1, 400), 0);
    claims_refunded(&f->l, p1.case_id, 400);
    claims_settle(&f->l, &p1);
    assert_int_equal(claims_hold(&f->l, &f->o, &p2), 0); /* settled: no longer running */
    assert_int_equal(claims_max_approval(&f->l, &f->o, &p2), 200); /* what the first left of the drop */
    claims_approve(&f->l, &f->o, &p2, 200);
    claims_refunded(&f->l, p2.case_id, 200);
    claims_settle(&f->l, &p2);
    as_case p3 = claim(4, CASE_PRICE_PROTECTION, "A", 1, PAYER_MERCHANT);
    assert_int_equal(claims_hold(&f->l, &f->o, &p3), 0);
    assert_int_equal(claims_max_approval(&f->l, &f->o, &p3), 0);
    /* what protection paid is money of the line: a full return gets the rest */
    assert_int_equal(claims_max_approval(&f->l, &f->o, &r1), 3000 - 600);
    /* no drop (the price went up): nothing */
    f->o.prices[0].price_cents = 1200;
    as_case b1 = claim(5, CASE_PRICE_PROTECTION, "B", 2, PAYER_MERCHANT);
    f->o.prices[0] = (as_price){"B", 600, 60};
    assert_int_equal(claims_hold(&f->l, &f->o, &b1), 0);
    assert_int_equal(claims_max_approval(&f->l, &f->o, &b1), 0);
}

/* The stored form of a ledger, and reading it back. */
static void ledger_round_trips_through_json(void **state) {
    fixture *f = *state;
    as_case c1 = claim(1, CASE_RETURN, "A", 2, PAYER_MERCHANT), c2 = claim(2, CASE_PRICE_PROTECTION, "B", 2, PAYER_MERCHANT);
    claims_hold(&f->l, &f->o, &c1);
    claims_approve(&f->l, &f->o, &c1, 2500);
    claims_refunded(&f->l, c1.case_id, 2500);
    claims_settle(&f->l, &c1);
    claims_hold(&f->l, &f->o, &c2);
    claims_approve(&f->l, &f->o, &c2, 300);
    size_t len;
    char *text = ledger_to_json(&f->l, &len);
    assert_non_null(text);
    assert_string_equal(text, "{\"claims\":["
                              "{\"case_id\":\"C0000000001\",\"sku\":\"A\",\"type\":\"return\",\"qty\":2,"
                              "\"line_cents\":2000,\"ship_cents\":500,\"refunded_cents\":2500,\"active\":false},"
                              "{\"case_id\":\"C0000000002\",\"sku\":\"B\",\"type\":\"price_protection\",\"qty\":0,"
                              "\"line_cents\":300,\"ship_cents\":0,\"refunded_cents\":0,\"active\":true}]}");
    assert_int_equal(len, strlen(text));
    as_ledger back;
    char err[128] = "";
    assert_int_equal(ledger_from_json(&back, text, len, err, sizeof err), 0);
    assert_int_equal(back.n, 2);
    assert_memory_equal(back.claims, f->l.claims, 2 * sizeof(as_claim));
    size_t len2;
    char *again = ledger_to_json(&back, &len2);
    assert_string_equal(again, text);
    as_ledger copy;
    assert_int_equal(ledger_copy(&copy, &back), 0);
    assert_memory_equal(copy.claims, back.claims, 2 * sizeof(as_claim));
    ledger_free(&copy);
    ledger_free(&back);
    free(again);
    free(text);

    static const char *const bad[] = {"[]", "{\"claims\":{}}", "not json",
                                      "{\"claims\":[{\"case_id\":\"C1\",\"type\":\"swap\"}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(ledger_from_json(&back, bad[i], strlen(bad[i]), err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_int_equal(back.n, 0);
        assert_null(back.claims);
    }
    assert_non_null(strstr(err, "claims[0].type"));
}

/* ---- property: the invariants hold after every step ---- */

#define NCASES 8

typedef struct {
    as_case c;
    int64_t approved, refunded; /* as the case itself records them */
} model_case;

static void check_invariants(const fixture *f, const model_case *m, int step) {
    int64_t ship = 0;
    for (size_t li = 0; li < f->o.nitems; li++) {
        const as_item *it = &f->o.items[li];
        int64_t qty = 0, money = 0;
        for (size_t i = 0; i < f->l.n; i++) {
            const as_claim *c = &f->l.claims[i];
            if (strcmp(c->sku, it->sku) != 0) continue;
            if (c->active || c->type == CASE_RETURN || c->type == CASE_REFUND_ONLY) qty += c->qty;
            money += c->line_cents;
        }
        if (qty > it->qty) fail_msg("step %d: line %s holds %lld of %lld", step, it->sku, (long long)qty, (long long)it->qty);
        if (money > it->price_cents * it->qty)
            fail_msg("step %d: line %s commits %lld cents of %lld", step, it->sku, (long long)money,
                     (long long)(it->price_cents * it->qty));
    }
    for (size_t i = 0; i < f->l.n; i++) {
        const as_claim *c = &f->l.claims[i];
        const model_case *mc = NULL;
        for (int k = 0; k < NCASES; k++)
            if (strcmp(m[k].c.case_id, c->case_id) == 0) mc = &m[k];
        assert_non_null(mc);
        ship += c->ship_cents;
        if (c->ship_cents > 0 && (mc->c.refund.shipping_paid_by != PAYER_MERCHANT || c->type == CASE_PRICE_PROTECTION))
            fail_msg("step %d: %s takes shipping the merchant does not pay", step, c->case_id);
        const as_item *it = order_item(&f->o, c->sku);
        if (c->type != CASE_PRICE_PROTECTION && c->line_cents > it->price_cents * c->qty)
            fail_msg("step %d: %s commits %lld of the line for goods worth %lld", step, c->case_id,
                     (long long)c->line_cents, (long long)(it->price_cents * c->qty));
        if (c->refunded_cents > c->line_cents + c->ship_cents)
            fail_msg("step %d: %s refunded %lld of %lld committed", step, c->case_id, (long long)c->refunded_cents,
                     (long long)(c->line_cents + c->ship_cents));
        if (c->active && c->line_cents + c->ship_cents != mc->approved)
            fail_msg("step %d: %s commits %lld but approved %lld", step, c->case_id,
                     (long long)(c->line_cents + c->ship_cents), (long long)mc->approved);
        assert_int_equal(c->refunded_cents, mc->refunded);
    }
    if (ship > f->o.shipping_cents)
        fail_msg("step %d: shipping committed %lld of %lld", step, (long long)ship, (long long)f->o.shipping_cents);
}

/* Random claims, approvals (up to the cap, and past it), refunds (up to the
 * approval, as the refund action allows) and settlements over a few cases
 * and two lines, with a fixed seed; the ledger's invariants are checked
 * after every step. */
static void invariants_hold_under_random_operations(void **state) {
    fixture *f = *state;
    static const case_type types[] = {CASE_RETURN, CASE_EXCHANGE, CASE_REFUND_ONLY, CASE_REPAIR,
                                      CASE_PRICE_PROTECTION};
    f->o.prices = calloc(1, sizeof *f->o.prices);
    f->o.prices[0] = (as_price){"B", 350, 10};
    f->o.nprices = 1;
    srand(424242);
    for (int run = 0; run < 200; run++) {
        model_case m[NCASES];
        ledger_free(&f->l);
        for (int k = 0; k < NCASES; k++) {
            const char *sku = rand() % 2 ? "A" : "B";
            int64_t qty = rand() % 4 == 0 ? AS_NONE : 1 + rand() % (sku[0] == 'A' ? 3 : 2);
            m[k].c = claim((uint64_t)(run * NCASES + k + 1), types[rand() % 5], sku, qty,
                           rand() % 2 ? PAYER_MERCHANT : PAYER_BUYER);
            m[k].approved = m[k].refunded = 0;
        }
        for (int step = 0; step < 60; step++) {
            model_case *mc = &m[rand() % NCASES];
            as_claim *e = ledger_find(&f->l, mc->c.case_id);
            int op = rand() % 5;
            if (op == 0) { /* open, appeal or reopen */
                int was_active = e && e->active;
                int rc = claims_hold(&f->l, &f->o, &mc->c);
                e = ledger_find(&f->l, mc->c.case_id);
                if (rc != 0 && e) assert_int_equal(e->active, was_active);
                if (rc == 0) mc->approved = e->line_cents + e->ship_cents;
            } else if (op == 1 && e && e->active && mc->refunded == 0) { /* approve: once per run of the claim */
                int64_t max = claims_max_approval(&f->l, &f->o, &mc->c);
                assert_true(max >= 0);
                assert_int_equal(claims_approve(&f->l, &f->o, &mc->c, max + 1 + rand() % 100), -1);
                int64_t amount = max ? rand() % (max + 1) : 0;
                assert_int_equal(claims_approve(&f->l, &f->o, &mc->c, amount), 0);
                mc->approved = amount;
            } else if (op == 2 && e && e->active && mc->approved > mc->refunded) { /* refund */
                int64_t left = mc->approved - mc->refunded;
                int64_t amount = 1 + rand() % left;
                claims_refunded(&f->l, mc->c.case_id, amount);
                mc->refunded += amount;
            } else if (op == 3 && e && e->active) { /* resolved, rejected, cancelled, closed */
                claims_settle(&f->l, &mc->c);
                e = ledger_find(&f->l, mc->c.case_id);
                if (e == NULL) mc->approved = mc->refunded = 0;
                else mc->approved = e->line_cents + e->ship_cents;
            }
            check_invariants(f, m, run * 100 + step);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(quantity_is_shared_across_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(approvals_are_capped_by_what_is_left, setup, teardown),
        cmocka_unit_test_setup_teardown(settle_keeps_what_was_paid, setup, teardown),
        cmocka_unit_test_setup_teardown(reopened_settled_refund_runs_again, setup, teardown),
        cmocka_unit_test_setup_teardown(price_protection_takes_the_drop_once, setup, teardown),
        cmocka_unit_test_setup_teardown(ledger_round_trips_through_json, setup, teardown),
        cmocka_unit_test_setup_teardown(invariants_hold_under_random_operations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
