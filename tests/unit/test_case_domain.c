/* case/domain: the workflow as operations, without HTTP or a store
 * (domain.h; SPEC sections 1, 3 and 4).
 *
 * Every operation runs with the repository's default policies
 * (AS_POLICIES_DIR, set by CMake), explicit `now` values, fake reads
 * (customers, complaint counts) and an agent directory of the test's own.
 * The assertions read the change set each operation returns.
 *
 * Time: NOW is Tuesday 2026-03-10 10:00 in the policies' calendar (UTC+8;
 * working hours 09:00-12:00 and 13:30-18:00, 7.5 h a day). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "case/domain.h"

#ifndef AS_POLICIES_DIR
#error "AS_POLICIES_DIR must name the repository's policies directory (CMakeLists.txt)"
#endif

#define HOUR 3600
#define DAY 86400
#define NOW 1773108000                /* Tue 2026-03-10 10:00 +08:00 */
#define THREE_WORKING_DAYS 1773367200 /* Fri 2026-03-13 10:00 */
#define FIVE_WORKING_DAYS 1773712800  /* Tue 2026-03-17 10:00 */

/* ---- the world the operations read ---- */

typedef struct {
    const char *buyer;
    as_customer c;
} fake_customer;

typedef struct {
    policy_set *ps;
    as_agents agents;
    as_reads reads;
    uint64_t next_seq;
    fake_customer customers[4];
    int64_t complaints_sku, complaints_merchant; /* what complaints() answers */
    int64_t complaints_since;                     /* what it was last asked */
    int customer_calls;
} world;

static int fake_customer_read(void *ud, const char *merchant_id, const char *buyer_id, as_customer *out) {
    world *w = ud;
    (void)merchant_id;
    w->customer_calls++;
    memset(out, 0, sizeof *out);
    out->lifetime_spend_cents = AS_NONE;
    for (size_t i = 0; i < sizeof w->customers / sizeof w->customers[0]; i++)
        if (w->customers[i].buyer && buyer_id && strcmp(w->customers[i].buyer, buyer_id) == 0) *out = w->customers[i].c;
    return 0;
}

static int64_t fake_complaints(void *ud, const char *merchant_id, const char *sku, int64_t since) {
    world *w = ud;
    (void)merchant_id;
    w->complaints_since = since;
    return sku ? w->complaints_sku : w->complaints_merchant;
}

static void agent_add(world *w, const char *id, const char *queue, const char *skill, int64_t capacity, int online,
                      int64_t load) {
    as_agent a = {0};
    AS_IDSET(a.agent_id, id);
    a.name = strdup(id);
    a.queues = calloc(1, sizeof *a.queues);
    AS_IDSET(a.queues[0], queue);
    a.nqueues = 1;
    if (skill) {
        a.skills = calloc(1, sizeof *a.skills);
        AS_IDSET(a.skills[0], skill);
        a.nskills = 1;
    }
    a.capacity = capacity;
    a.online = online;
    a.load = load;
    assert_int_equal(agents_put(&w->agents, &a), 0);
}

static policy_set *load_policies(const json_t *sources) {
    policy_config cfg = {.dir = AS_POLICIES_DIR, .sources = sources};
    policy_set *ps = NULL;
    char err[1024];
    if (policy_set_load(&cfg, &ps, err, sizeof err) != 0) fail_msg("policies do not load: %s", err);
    return ps;
}

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    w->ps = load_policies(NULL);
    agents_init(&w->agents);
    agent_add(w, "a-after-1", "after_sales", NULL, 5, 1, 2);
    agent_add(w, "a-after-2", "after_sales", NULL, 5, 1, 1);
    agent_add(w, "a-after-3", "after_sales", NULL, 5, 0, 0); /* offline */
    agent_add(w, "a-tech-1", "tech_support", "electronics", 5, 1, 3);
    agent_add(w, "a-tech-2", "tech_support", "appliances", 5, 1, 0);
    agent_add(w, "a-quality", "quality", NULL, 3, 1, 0);
    agent_add(w, "a-cs", "customer_service", NULL, 10, 1, 4);
    w->reads = (as_reads){.ud = w, .customer = fake_customer_read, .complaints = fake_complaints};
    w->next_seq = 100;
    w->customers[0] = (fake_customer){"B-abuse", {.returns_30d = 5, .cases_30d = 5, .lifetime_spend_cents = AS_NONE}};
    w->customers[1] = (fake_customer){"B-vip", {.tier = "vip", .lifetime_spend_cents = AS_NONE}};
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    policy_set_free(w->ps);
    agents_free(&w->agents);
    free(w);
    return 0;
}

static as_decider decider(world *w, int64_t now) {
    return (as_decider){.policies = w->ps, .now = now, .reads = &w->reads, .agents = &w->agents,
                        .next_case_seq = &w->next_seq};
}

static const as_actor AGENT = {"agent", "a1"};
static const as_actor CUSTOMER = {"service", "app"};

/* ---- orders ---- */

typedef struct {
    const char *sku, *category;
    int64_t price, qty;
} line_spec;

static void make_order(as_order *o, const char *id, const char *buyer, int64_t paid_at, int64_t delivered_at,
                       int64_t shipping, const line_spec *lines, size_t n) {
    order_init(o);
    AS_IDSET(o->order_id, id);
    AS_IDSET(o->buyer_id, buyer);
    AS_IDSET(o->merchant_id, "M-1");
    o->paid_at = paid_at;
    o->delivered_at = delivered_at;
    o->shipping_cents = shipping;
    o->items = calloc(n, sizeof *o->items);
    for (size_t i = 0; i < n; i++) {
        AS_IDSET(o->items[i].sku, lines[i].sku);
        AS_IDSET(o->items[i].category, lines[i].category);
        o->items[i].price_cents = lines[i].price;
        o->items[i].qty = lines[i].qty;
    }
    o->nitems = n;
}

static void set_price(as_order *o, const char *sku, int64_t price, int64_t at) {
    o->prices = realloc(o->prices, (o->nprices + 1) * sizeof *o->prices);
    o->prices[o->nprices] = (as_price){.price_cents = price, .at = at};
    AS_IDSET(o->prices[o->nprices].sku, sku);
    o->nprices++;
}

/* The standard order: delivered two days ago, apparel A (1000 x 3) and an
 * electronics item E (5000 x 1), shipping 800. */
static const line_spec STD_LINES[] = {{"A", "apparel", 1000, 3}, {"E", "electronics", 5000, 1}};

static void std_order(as_order *o, const char *id) {
    make_order(o, id, "B-1", NOW - 3 * DAY, NOW - 2 * DAY, 800, STD_LINES, 2);
}

/* ---- inputs and operations ---- */

static case_input input(case_type t, const char *order_id, const char *sku, int64_t qty, case_reason r) {
    return (case_input){.type = t, .order_id = order_id, .sku = sku, .qty = qty, .reason = r, .channel = CH_APP};
}

static void open_ok(world *w, int64_t now, const case_input *in, const as_order *o, const as_ledger *l,
                    as_changes *out) {
    as_decider d = decider(w, now);
    as_error err = {0};
    uint64_t seq = w->next_seq++;
    int rc = case_open(&d, in, o, l, &CUSTOMER, seq, out, &err);
    if (rc != 0) fail_msg("case_open failed: %s", err.message);
    assert_false(out->failed);
    assert_null(out->before);
    assert_non_null(out->after);
    assert_int_equal(out->after->seq, seq);
}

/* Acts with a JSON body as the API would pass it; 0 or -1 with err. */
static int act(world *w, int64_t now, const as_case *c, const as_order *o, const as_ledger *l, const char *body,
               as_changes *out, as_error *err) {
    json_error_t jerr;
    json_t *in = json_loads(body, 0, &jerr);
    if (in == NULL) fail_msg("bad test body %s: %s", body, jerr.text);
    action_input ai;
    as_error perr = {0};
    if (action_input_parse(&ai, in, &perr) != 0) fail_msg("body %s does not parse: %s", body, perr.message);
    as_decider d = decider(w, now);
    memset(err, 0, sizeof *err);
    int rc = case_act(&d, c, o, l, &ai, &AGENT, out, err);
    json_decref(in);
    return rc;
}

/* Acts on cur's case and ledger; cur becomes the new change set. */
static void step(world *w, int64_t now, as_changes *cur, const as_order *o, const char *body) {
    as_changes next;
    as_error err;
    if (act(w, now, cur->after, o, cur->ledger, body, &next, &err) != 0)
        fail_msg("%s failed: %s (field %s)", body, err.message, err.field);
    assert_false(next.failed);
    changes_free(cur);
    *cur = next;
}

/* The first note of type at or after `from` whose members contain `has`
 * (NULL: any), or -1. */
static int note_at(const as_changes *ch, const char *type, const char *has, int from) {
    for (size_t i = (size_t)from; i < ch->nnotes; i++)
        if (strcmp(ch->notes[i].type, type) == 0 &&
            (has == NULL || (ch->notes[i].members && strstr(ch->notes[i].members, has))))
            return (int)i;
    return -1;
}

static int count_notes(const as_changes *ch, const char *type) {
    int n = 0;
    for (size_t i = 0; i < ch->nnotes; i++) n += strcmp(ch->notes[i].type, type) == 0;
    return n;
}

static int event_at(const as_changes *ch, const char *type) {
    for (size_t i = 0; i < ch->nevents; i++)
        if (strcmp(ch->events[i].type, type) == 0) return (int)i;
    return -1;
}

static void assert_members_have(const char *members, const char *want) {
    if (members == NULL || strstr(members, want) == NULL) fail_msg("'%s' not in '%s'", want, members ? members : "(null)");
}

static const as_claim *claim_of(const as_changes *ch, const char *case_id) {
    assert_non_null(ch->ledger);
    return ledger_find(ch->ledger, case_id);
}

/* ---- case_open ---- */

/* Rule (SPEC sections 1, 3, 4): a 7-day no-reason return of an unused item is
 * approved and waits for the customer's shipment; after_sales works it at
 * priority 3 within 3 working days; the least-loaded online agent of the
 * queue gets it. The change set starts with case.created, records the
 * request's inputs once, and every decision references them. */
static void open_return_approved(void **state) {
    world *w = *state;
    as_order o;
    std_order(&o, "O-1");
    case_input in = input(CASE_RETURN, "O-1", "A", 1, RS_NO_REASON);
    as_changes ch;
    open_ok(w, NOW, &in, &o, NULL, &ch);
    const as_case *c = ch.after;
    assert_int_equal(c->type, CASE_RETURN);
    assert_int_equal(c->status, ST_AWAITING_CUSTOMER);
    assert_int_equal(c->stage, STG_AWAITING_SHIPMENT);
    assert_string_equal(c->buyer_id, "B-1"); /* bound from the order */
    assert_string_equal(c->merchant_id, "M-1");
    assert_int_equal(c->qty, 1);
    assert_int_equal(c->decision.outcome, OUT_APPROVE);
    assert_string_equal(c->decision.reason_code, "no_reason_return");
    assert_string_equal(c->decision.module, "returns");
    assert_string_equal(c->decision.function, "evaluate");
    assert_string_equal(c->decision.policy_version, policy_set_version(w->ps));
    assert_int_equal(c->decision.at, NOW);
    assert_int_equal(c->refund.shipping_paid_by, PAYER_BUYER);
    assert_int_equal(c->refund.approved_cents, 0);
    assert_string_equal(c->queue, "after_sales");
    assert_int_equal(c->priority, 3);
    assert_int_equal(c->nskills, 0);
    assert_string_equal(c->assignee, "a-after-2");
    assert_int_equal(c->sla.first_response_due, AS_NONE);
    assert_int_equal(c->sla.resolution_due, THREE_WORKING_DAYS);
    assert_true(c->sla.business);
    assert_int_equal(c->compensation.coupon_cents, AS_NONE);
    assert_int_equal(c->created_at, NOW);
    assert_int_equal(c->resolved_at, AS_NONE);

    /* the timeline of the change */
    assert_true(ch.nnotes > 3);
    assert_string_equal(ch.notes[0].type, "case.created");
    assert_members_have(ch.notes[0].members, "\"type\":\"return\"");
    assert_int_equal(count_notes(&ch, "policy.inputs"), 1);
    int inputs = note_at(&ch, "policy.inputs", NULL, 0);
    assert_members_have(ch.notes[inputs].members, "\"case\":{");
    assert_members_have(ch.notes[inputs].members, "\"order\":{");
    assert_int_equal(ch.notes[inputs].inputs_ref, -1);
    static const char *const modules[] = {"\"module\":\"returns\",\"function\":\"evaluate\"",
                                          "\"module\":\"routing\",\"function\":\"route\"",
                                          "\"module\":\"sla\",\"function\":\"targets\"",
                                          "\"module\":\"compensation\",\"function\":\"compensate\""};
    int last = inputs;
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        int n = note_at(&ch, "decision", modules[i], 0);
        if (n < 0) fail_msg("no decision note with %s", modules[i]);
        assert_true(n > last); /* in the fixed order of an opening */
        assert_int_equal(ch.notes[n].inputs_ref, inputs);
        assert_int_equal(ch.notes[n].at, NOW);
        last = n;
    }
    assert_members_have(ch.notes[note_at(&ch, "decision", modules[0], 0)].members, "\"outcome\":\"approve\"");
    int assigned = note_at(&ch, "assignment", NULL, 0);
    assert_true(assigned > last);
    assert_members_have(ch.notes[assigned].members, "\"agent_id\":\"a-after-2\",\"from\":null,\"by\":\"routing\"");
    assert_int_equal(count_notes(&ch, "policy.error"), 0);

    /* one feed event: the case itself */
    assert_int_equal(ch.nevents, 1);
    assert_string_equal(ch.events[0].type, "case.created");
    assert_int_equal(ch.events[0].with_case, EV_CASE_IS_DATA);
    assert_int_equal(ch.events[0].at, NOW);
    assert_false(ch.complaint);
    assert_null(ch.spawned);

    /* the claim holds one unit of A */
    assert_int_equal(ch.ledger->n, 1);
    const as_claim *cl = claim_of(&ch, c->case_id);
    assert_non_null(cl);
    assert_true(cl->active);
    assert_string_equal(cl->sku, "A");
    assert_int_equal(cl->qty, 1);
    changes_free(&ch);
    order_free(&o);
}

/* One row per case type: the decision and where the case starts, its team
 * and priority, and its SLA (SPEC sections 1 and 3). */
typedef struct {
    const char *what;
    case_type type;
    const char *sku;
    case_reason reason;
    int delivered;
    as_outcome outcome;
    const char *reason_code;
    case_status status;
    case_stage stage;
    const char *queue;
    int64_t priority;
    const char *assignee;
    int64_t first_response_due, resolution_due;
    int business;
    int64_t approved;
    as_payer payer;
    int64_t coupon;
} open_row;

static const open_row OPEN_ROWS[] = {
    {"exchange of a faulty item", CASE_EXCHANGE, "A", RS_QUALITY, 1, OUT_APPROVE, "merchant_fault",
     ST_AWAITING_CUSTOMER, STG_AWAITING_SHIPMENT, "after_sales", 3, "a-after-2", AS_NONE, THREE_WORKING_DAYS, 1, 0,
     PAYER_MERCHANT, AS_NONE},
    {"refund_only of a parcel never delivered: approved at once with shipping", CASE_REFUND_ONLY, "A",
     RS_NOT_RECEIVED, 0, OUT_APPROVE, "not_received", ST_IN_PROGRESS, STG_AWAITING_REFUND, "after_sales", 3,
     "a-after-2", AS_NONE, FIVE_WORKING_DAYS, 1, 3 * 1000 + 800, PAYER_MERCHANT, AS_NONE},
    {"refund_only of a delivered item: manual review", CASE_REFUND_ONLY, "A", RS_NOT_AS_DESCRIBED, 1, OUT_REVIEW,
     "manual_review", ST_OPEN, STG_MANUAL_REVIEW, "after_sales", 3, "a-after-2", AS_NONE, FIVE_WORKING_DAYS, 1, 0,
     PAYER_MERCHANT, AS_NONE},
    {"repair under warranty: tech support with the category as skill", CASE_REPAIR, "E", RS_QUALITY, 1, OUT_APPROVE,
     "in_warranty", ST_AWAITING_CUSTOMER, STG_AWAITING_SHIPMENT, "tech_support", 3, "a-tech-1", AS_NONE,
     FIVE_WORKING_DAYS, 1, 0, PAYER_MERCHANT, AS_NONE},
    {"repair of an item without warranty", CASE_REPAIR, "A", RS_QUALITY, 1, OUT_REJECT, "no_warranty", ST_REJECTED,
     STG_NOT_ELIGIBLE, "tech_support", 3, "", AS_NONE, FIVE_WORKING_DAYS, 1, 0, PAYER_BUYER, AS_NONE},
    {"complaint: no decision, quality, 24 wall-clock hours, goodwill", CASE_COMPLAINT, "A", RS_ATTITUDE, 1, OUT_NONE,
     NULL, ST_OPEN, STG_NEW, "quality", 2, "a-quality", AS_NONE, NOW + 24 * HOUR, 0, 0, PAYER_NONE, 1000},
    {"logistics: customer service, 5 working days, late-parcel coupon", CASE_LOGISTICS, "A", RS_LATE_DELIVERY, 0,
     OUT_NONE, NULL, ST_OPEN, STG_NEW, "customer_service", 3, "a-cs", AS_NONE, FIVE_WORKING_DAYS, 1, 0, PAYER_NONE,
     500},
};

static void open_each_type(void **state) {
    world *w = *state;
    for (size_t i = 0; i < sizeof OPEN_ROWS / sizeof OPEN_ROWS[0]; i++) {
        const open_row *r = &OPEN_ROWS[i];
        as_order o;
        make_order(&o, "O-T", "B-1", NOW - 3 * DAY, r->delivered ? NOW - 2 * DAY : AS_NONE, 800, STD_LINES, 2);
        case_input in = input(r->type, "O-T", r->sku, AS_NONE, r->reason);
        as_changes ch;
        open_ok(w, NOW, &in, &o, NULL, &ch);
        const as_case *c = ch.after;
        if (c->decision.outcome != r->outcome || c->status != r->status || c->stage != r->stage)
            fail_msg("%s: %s %s/%s", r->what, outcome_name(c->decision.outcome), case_status_name(c->status),
                     case_stage_name(c->stage));
        if (r->reason_code) assert_string_equal(c->decision.reason_code, r->reason_code);
        else assert_null(c->decision.reason_code);
        assert_string_equal(c->queue, r->queue);
        assert_int_equal(c->priority, r->priority);
        assert_string_equal(c->assignee, r->assignee);
        assert_int_equal(c->sla.first_response_due, r->first_response_due);
        assert_int_equal(c->sla.resolution_due, r->resolution_due);
        assert_int_equal(c->sla.business, r->business);
        assert_int_equal(c->refund.approved_cents, r->approved);
        assert_int_equal(c->refund.shipping_paid_by, r->payer);
        assert_int_equal(c->compensation.coupon_cents, r->coupon);
        assert_string_equal(ch.notes[0].type, "case.created");
        assert_int_equal(count_notes(&ch, "policy.inputs"), 1);
        assert_int_equal(count_notes(&ch, "policy.error"), 0);
        if (r->status == ST_REJECTED) {
            assert_int_equal(c->resolved_at, NOW); /* a rejection is an end */
            assert_int_equal(ch.ledger->n, 0);       /* and frees the line */
        }
        if (r->type == CASE_REPAIR && r->outcome == OUT_APPROVE) {
            assert_int_equal(c->nskills, 1);
            assert_string_equal(c->skills[0], "electronics");
        }
        assert_int_equal(ch.complaint, r->type == CASE_COMPLAINT);
        changes_free(&ch);
        order_free(&o);
    }
}

/* Rule: price protection within 7 days of payment refunds the drop (paid -
 * current) x quantity at once; with no lower price recorded it is rejected. */
static void open_price_protection(void **state) {
    world *w = *state;
    as_order o;
    std_order(&o, "O-PP");
    case_input in = input(CASE_PRICE_PROTECTION, "O-PP", "A", AS_NONE, RS_PRICE_DROP);
    as_changes ch;
    open_ok(w, NOW, &in, &o, NULL, &ch);
    assert_int_equal(ch.after->decision.outcome, OUT_REJECT);
    assert_string_equal(ch.after->decision.reason_code, "no_price_drop");
    assert_int_equal(ch.after->status, ST_REJECTED);
    assert_int_equal(ch.ledger->n, 0);
    changes_free(&ch);

    set_price(&o, "A", 800, NOW - HOUR);
    open_ok(w, NOW, &in, &o, NULL, &ch);
    const as_case *c = ch.after;
    assert_int_equal(c->decision.outcome, OUT_APPROVE);
    assert_string_equal(c->decision.reason_code, "price_dropped");
    assert_int_equal(c->status, ST_IN_PROGRESS);
    assert_int_equal(c->stage, STG_AWAITING_REFUND);
    assert_int_equal(c->refund.approved_cents, 200 * 3);
    assert_int_equal(c->sla.resolution_due, FIVE_WORKING_DAYS);
    assert_true(note_at(&ch, "decision", "\"module\":\"compensation\",\"function\":\"refund\"", 0) > 0);
    const as_claim *cl = claim_of(&ch, c->case_id);
    assert_int_equal(cl->qty, 0); /* holds no goods */
    assert_int_equal(cl->line_cents, 600);
    changes_free(&ch);
    order_free(&o);
}

/* Rule: a consultation needs no order; its first reply is due in 2 hours;
 * a VIP buyer (ctx.customer's tier) is routed at priority 1. */
static void open_consultation_for_a_vip(void **state) {
    world *w = *state;
    case_input in = {.type = CASE_CONSULTATION, .buyer_id = "B-vip", .qty = AS_NONE, .reason = RS_OTHER,
                     .channel = CH_CHAT, .description = "where is my invoice?"};
    as_changes ch;
    open_ok(w, NOW, &in, NULL, NULL, &ch);
    const as_case *c = ch.after;
    assert_int_equal(c->status, ST_OPEN);
    assert_int_equal(c->stage, STG_NEW);
    assert_int_equal(c->decision.outcome, OUT_NONE);
    assert_string_equal(c->order_id, "");
    assert_string_equal(c->queue, "customer_service");
    assert_int_equal(c->priority, 1);
    assert_string_equal(c->assignee, "a-cs");
    assert_int_equal(c->sla.first_response_due, NOW + 2 * HOUR);
    assert_int_equal(c->sla.resolution_due, AS_NONE);
    assert_false(c->sla.business);
    assert_string_equal(c->description, "where is my invoice?");
    assert_true(ch.ledger == NULL || ch.ledger->n == 0);
    case_timer t[CASE_TIMERS_MAX];
    assert_int_equal(case_timers(c, t), 3); /* the first response, and its warnings (sla.warnings) */
    assert_int_equal(t[0].kind, TIMER_FIRST_RESPONSE);
    assert_int_equal(t[0].due, NOW + 2 * HOUR + 1); /* within 2 hours includes the last second */
    assert_int_equal(t[1].kind, TIMER_WARN_FIRST_RESPONSE);
    assert_int_equal(t[1].due, NOW + 90 * 60); /* 75% of 2 hours */
    assert_int_equal(t[2].kind, TIMER_WARN_FIRST_RESPONSE);
    assert_int_equal(t[2].due, NOW + 108 * 60); /* 90% */
    changes_free(&ch);
}

/* Rule (SPEC section 1): a buyer with more than 5 returns in 30 days goes to
 * manual review; a return past the 7-day window is rejected. */
static void open_review_and_reject(void **state) {
    world *w = *state;
    as_order o;
    make_order(&o, "O-AB", "B-abuse", NOW - 3 * DAY, NOW - 2 * DAY, 800, STD_LINES, 2);
    case_input in = input(CASE_RETURN, "O-AB", "A", 1, RS_NO_REASON);
    as_changes ch;
    w->customer_calls = 0;
    open_ok(w, NOW, &in, &o, NULL, &ch);
    assert_true(w->customer_calls > 0);
    assert_int_equal(ch.after->decision.outcome, OUT_REVIEW);
    assert_string_equal(ch.after->decision.reason_code, "abuse_check");
    assert_int_equal(ch.after->status, ST_OPEN);
    assert_int_equal(ch.after->stage, STG_MANUAL_REVIEW);
    assert_true(claim_of(&ch, ch.after->case_id)->active); /* a review holds the line */
    changes_free(&ch);
    order_free(&o);

    make_order(&o, "O-OLD", "B-1", NOW - 10 * DAY, NOW - 8 * DAY, 800, STD_LINES, 2);
    in.order_id = "O-OLD";
    open_ok(w, NOW, &in, &o, NULL, &ch);
    assert_int_equal(ch.after->decision.outcome, OUT_REJECT);
    assert_string_equal(ch.after->decision.reason_code, "window_expired");
    assert_non_null(strstr(ch.after->decision.message, "7-day window closed 2026-03-09"));
    assert_int_equal(ch.after->status, ST_REJECTED);
    assert_int_equal(ch.after->stage, STG_NOT_ELIGIBLE);
    assert_string_equal(ch.after->assignee, ""); /* nobody works an ended case */
    assert_int_equal(ch.ledger->n, 0);
    changes_free(&ch);
    order_free(&o);
}

/* Rule: an input that contradicts its order is an error naming the field. */
static void open_refuses_inputs_that_contradict_the_order(void **state) {
    world *w = *state;
    as_order o;
    std_order(&o, "O-1");
    static const struct {
        const char *sku, *buyer;
        int64_t qty;
        const char *field;
    } bad[] = {{"Z", NULL, AS_NONE, "sku"}, {NULL, NULL, AS_NONE, "sku"}, {"A", NULL, 4, "qty"},
               {"A", "B-2", AS_NONE, "buyer_id"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        case_input in = input(CASE_RETURN, "O-1", bad[i].sku, bad[i].qty, RS_NO_REASON);
        in.buyer_id = bad[i].buyer;
        as_decider d = decider(w, NOW);
        as_error err = {0};
        as_changes ch;
        assert_int_equal(case_open(&d, &in, &o, NULL, &CUSTOMER, 1, &ch, &err), -1);
        assert_int_equal(err.code, AS_EINVAL);
        assert_string_equal(err.field, bad[i].field);
        assert_null(ch.after);
    }
    order_free(&o);
}

/* Rule (SPEC section 3, risk.rules): the complaint that brings its sku's
 * (5) or its merchant's (20) 24-hour count to the threshold raises a
 * complaint_spike alert; the next one does not raise it again. */
static void complaint_spike_raises_an_alert(void **state) {
    world *w = *state;
    as_order o;
    std_order(&o, "O-K");
    case_input in = input(CASE_COMPLAINT, "O-K", "A", AS_NONE, RS_QUALITY);
    as_changes ch;
    w->complaints_sku = 3;
    w->complaints_merchant = 19;
    open_ok(w, NOW, &in, &o, NULL, &ch);
    assert_true(ch.complaint);
    assert_int_equal(w->complaints_since, NOW - DAY);
    assert_int_equal(ch.nalerts, 1);
    assert_string_equal(ch.alerts[0].kind, "complaint_spike");
    assert_members_have(ch.alerts[0].details, "\"scope\":\"merchant\",\"count\":20,\"threshold\":20");
    changes_free(&ch);
    w->complaints_sku = 4;
    open_ok(w, NOW, &in, &o, NULL, &ch);
    assert_int_equal(ch.nalerts, 2);
    assert_members_have(ch.alerts[0].details, "\"scope\":\"sku\",\"count\":5,\"threshold\":5");
    assert_non_null(strstr(ch.alerts[0].message, "sku A"));
    changes_free(&ch);
    w->complaints_sku = 5;
    w->complaints_merchant = 20;
    open_ok(w, NOW, &in, &o, NULL, &ch);
    assert_int_equal(ch.nalerts, 0);
    changes_free(&ch);
    w->complaints_sku = w->complaints_merchant = 0;
    order_free(&o);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

/* The default module with `extra` Lua inserted before its final "return M". */
static json_t *patched_module(const char *file, const char *extra) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", AS_POLICIES_DIR, file);
    char *text = read_text(path);
    char *ret = NULL;
    for (char *p = strstr(text, "return M"); p; p = strstr(p + 1, "return M")) ret = p;
    assert_non_null(ret);
    *ret = '\0';
    char *patched = malloc(strlen(text) + strlen(extra) + 16);
    sprintf(patched, "%s%s\nreturn M\n", text, extra);
    json_t *sources = json_pack("{s:s}", file, patched);
    free(patched);
    free(text);
    return sources;
}

/* Rule (SPEC section 4): a shadow set is evaluated beside the active one on
 * the same inputs, its decision recorded, never enforced. */
static void shadow_decides_beside_never_enforced(void **state) {
    world *w = *state;
    json_t *sources = patched_module("returns.lua", "function M.evaluate(case, order, ctx)\n"
                                                    "  return {outcome = \"reject\", reason_code = \"shadow_no\",\n"
                                                    "          message = \"shadow_no: a candidate\"}\n"
                                                    "end\n");
    policy_set *shadow = load_policies(sources);
    json_decref(sources);
    as_order o;
    std_order(&o, "O-SH");
    case_input in = input(CASE_RETURN, "O-SH", "A", 1, RS_NO_REASON);
    as_decider d = decider(w, NOW);
    d.shadow = shadow;
    as_error err = {0};
    as_changes ch;
    assert_int_equal(case_open(&d, &in, &o, NULL, &CUSTOMER, 7, &ch, &err), 0);
    assert_int_equal(ch.after->decision.outcome, OUT_APPROVE);
    assert_int_equal(ch.after->status, ST_AWAITING_CUSTOMER);
    int sh = note_at(&ch, "shadow.decision", "\"reason_code\":\"shadow_no\"", 0);
    assert_true(sh > 0);
    assert_members_have(ch.notes[sh].members, policy_set_version(shadow));
    assert_int_equal(count_notes(&ch, "policy.inputs"), 1);
    assert_int_equal(ch.notes[sh].inputs_ref, note_at(&ch, "policy.inputs", NULL, 0));
    assert_string_not_equal(policy_set_version(shadow), policy_set_version(w->ps));
    changes_free(&ch);
    policy_set_free(shadow);
    order_free(&o);
}

/* Rule (SPEC section 4): whatever a policy logs or answers, the case is
 * stored: a NUL byte in a log line or in a free-form result member is
 * recorded as U+FFFD, never a failed request. */
static void policy_text_with_nul_is_recorded(void **state) {
    world *w = *state;
    json_t *sources = patched_module("routing.lua", "local route = M.route\n"
                                                    "function M.route(case, ctx)\n"
                                                    "  ctx.log(\"before\\0after\")\n"
                                                    "  return route(case, ctx)\n"
                                                    "end\n");
    json_t *more = patched_module("compensation.lua", "local refund = M.refund\n"
                                                      "function M.refund(case, order, ctx)\n"
                                                      "  local r = refund(case, order, ctx)\n"
                                                      "  r.breakdown.note = \"x\\0y\"\n"
                                                      "  return r\n"
                                                      "end\n");
    json_object_update(sources, more);
    json_decref(more);
    policy_set *ps = load_policies(sources);
    json_decref(sources);
    as_order o;
    make_order(&o, "O-NUL", "B-1", NOW - DAY, AS_NONE, 800, STD_LINES, 2);
    case_input in = input(CASE_REFUND_ONLY, "O-NUL", "A", 1, RS_NOT_RECEIVED);
    as_decider d = decider(w, NOW);
    d.policies = ps;
    as_error err = {0};
    as_changes ch;
    int rc = case_open(&d, &in, &o, NULL, &CUSTOMER, 8, &ch, &err);
    if (rc != 0) fail_msg("case_open failed: %s", err.message);
    assert_int_equal(ch.after->refund.approved_cents, 1800);
    int route = note_at(&ch, "decision", "\"module\":\"routing\"", 0);
    assert_true(route > 0);
    assert_members_have(ch.notes[route].members, "\"logs\":[\"before\xEF\xBF\xBD" "after\"]");
    int refund = note_at(&ch, "decision", "\"module\":\"compensation\",\"function\":\"refund\"", 0);
    assert_true(refund > 0);
    assert_members_have(ch.notes[refund].members, "\"note\":\"x\xEF\xBF\xBDy\"");
    changes_free(&ch);
    policy_set_free(ps);
    order_free(&o);
}

/* ---- one order line, one claim ---- */

/* Rule (SPEC section 1): the quantity of a line is shared by its cases; a
 * claim beyond what is left is rejected by the core (already_claimed, naming
 * the open cases), before any policy is asked; a claim without a quantity
 * takes what is left. */
static void claims_across_cases(void **state) {
    world *w = *state;
    as_order o;
    std_order(&o, "O-C");
    case_input in = input(CASE_RETURN, "O-C", "A", 2, RS_NO_REASON);
    as_changes c1, c2, c3;
    open_ok(w, NOW, &in, &o, NULL, &c1);
    assert_int_equal(c1.after->decision.outcome, OUT_APPROVE);

    open_ok(w, NOW + 60, &in, &o, c1.ledger, &c2);
    const as_case *k = c2.after;
    assert_int_equal(k->status, ST_REJECTED);
    assert_int_equal(k->stage, STG_ALREADY_CLAIMED);
    assert_int_equal(k->decision.outcome, OUT_REJECT);
    assert_string_equal(k->decision.reason_code, "already_claimed");
    assert_string_equal(k->decision.module, "core");
    assert_string_equal(k->decision.function, "claims");
    assert_int_equal(k->decision.nclaimed_by, 1);
    assert_string_equal(k->decision.claimed_by[0], c1.after->case_id);
    assert_non_null(strstr(k->decision.message, "2 of sku A asked, 1 left of the line"));
    int n = note_at(&c2, "claims.rejected", NULL, 0);
    assert_true(n > 0);
    assert_members_have(c2.notes[n].members, "\"qty_left\":1");
    char holders[64];
    snprintf(holders, sizeof holders, "\"claimed_by\":[\"%s\"]", c1.after->case_id);
    assert_members_have(c2.notes[n].members, holders);
    assert_int_equal(note_at(&c2, "decision", "\"module\":\"returns\"", 0), -1); /* no policy approves it */
    assert_int_equal(c2.ledger->n, 1); /* the refused claim holds nothing */
    assert_null(claim_of(&c2, k->case_id));

    in.qty = AS_NONE; /* what is left of the line */
    open_ok(w, NOW + 120, &in, &o, c1.ledger, &c3);
    assert_int_equal(c3.after->qty, 1);
    assert_int_equal(c3.after->decision.outcome, OUT_APPROVE);
    assert_int_equal(c3.ledger->n, 2);
    changes_free(&c1);
    changes_free(&c2);
    changes_free(&c3);
    order_free(&o);
}

/* Rule: an approval is capped by what the line and the order's shipping
 * have left after the other cases; the cap is on the timeline
 * (claims.capped). Shipping is refunded once per order. */
static void approvals_are_capped_across_cases(void **state) {
    world *w = *state;
    static const line_spec lines[] = {{"A", "apparel", 1000, 1}, {"B", "apparel", 500, 1}};
    as_order o;
    make_order(&o, "O-CAP", "B-1", NOW - DAY, AS_NONE, 800, lines, 2); /* never delivered */
    case_input in = input(CASE_REFUND_ONLY, "O-CAP", "A", AS_NONE, RS_NOT_RECEIVED);
    as_changes c1, c2;
    open_ok(w, NOW, &in, &o, NULL, &c1);
    assert_int_equal(c1.after->refund.approved_cents, 1000 + 800);
    assert_int_equal(note_at(&c1, "claims.capped", NULL, 0), -1);
    in.sku = "B";
    open_ok(w, NOW, &in, &o, c1.ledger, &c2);
    assert_int_equal(c2.after->decision.outcome, OUT_APPROVE);
    assert_int_equal(c2.after->refund.approved_cents, 500);
    int n = note_at(&c2, "claims.capped", NULL, 0);
    assert_true(n > 0);
    assert_members_have(c2.notes[n].members, "\"asked_cents\":1300,\"approved_cents\":500");
    changes_free(&c1);
    changes_free(&c2);
    order_free(&o);
}

/* ---- case_act ---- */

/* Rule (SPEC section 3): a return goes ship_back -> in_transit, receive ->
 * received, inspect pass -> awaiting_refund with compensation.refund's
 * amount, then partial refunds add up until refunded = approved, which
 * resolves it (and plans the survey an hour later). */
static void return_lifecycle(void **state) {
    world *w = *state;
    static const line_spec lines[] = {{"A", "apparel", 1000, 2}};
    as_order o;
    make_order(&o, "O-L", "B-1", NOW - 3 * DAY, NOW - 2 * DAY, 800, lines, 1);
    case_input in = input(CASE_RETURN, "O-L", "A", 2, RS_QUALITY);
    as_changes cur;
    open_ok(w, NOW, &in, &o, NULL, &cur);
    assert_int_equal(cur.after->refund.shipping_paid_by, PAYER_MERCHANT);
    as_changes ch;
    as_error err;

    /* a step the state does not allow: refused with the case, before its fields are checked */
    assert_int_equal(act(w, NOW + 10, cur.after, &o, cur.ledger, "{\"action\":\"receive\"}", &ch, &err), -1);
    assert_int_equal(err.code, AS_ETRANSITION);
    assert_ptr_equal(err.kase, cur.after);
    assert_null(ch.after);
    assert_int_equal(act(w, NOW + 10, cur.after, &o, cur.ledger, "{\"action\":\"refund\"}", &ch, &err), -1);
    assert_int_equal(err.code, AS_ETRANSITION);
    /* allowed, but missing what it requires */
    assert_int_equal(act(w, NOW + 10, cur.after, &o, cur.ledger, "{\"action\":\"ship_back\",\"carrier\":\"SF\"}", &ch,
                         &err), -1);
    assert_int_equal(err.code, AS_EINVAL);
    assert_string_equal(err.field, "tracking_no");

    step(w, NOW + HOUR, &cur, &o, "{\"action\":\"ship_back\",\"carrier\":\"SF\",\"tracking_no\":\"SF1\"}");
    assert_int_equal(cur.after->status, ST_IN_PROGRESS);
    assert_int_equal(cur.after->stage, STG_IN_TRANSIT);
    assert_int_equal(cur.after->nshipments, 1);
    assert_int_equal(cur.after->shipments[0].direction, SHIP_TO_MERCHANT);
    assert_string_equal(cur.after->shipments[0].tracking_no, "SF1");
    assert_int_equal(cur.after->updated_at, NOW + HOUR);
    assert_int_equal(cur.before->status, ST_AWAITING_CUSTOMER);
    assert_string_equal(cur.notes[0].type, "action");
    assert_members_have(cur.notes[0].members, "\"action\":\"ship_back\",\"args\":{\"carrier\":\"SF\",\"tracking_no\":"
                                              "\"SF1\"},\"from_status\":\"awaiting_customer\"");
    assert_int_equal(cur.nevents, 1);
    assert_string_equal(cur.events[0].type, "case.updated");
    assert_int_equal(cur.events[0].with_case, EV_CASE_MEMBER);

    step(w, NOW + 2 * HOUR, &cur, &o, "{\"action\":\"receive\"}");
    assert_int_equal(cur.after->stage, STG_RECEIVED);

    step(w, NOW + 3 * HOUR, &cur, &o, "{\"action\":\"inspect\",\"result\":\"pass\"}");
    assert_int_equal(cur.after->stage, STG_AWAITING_REFUND);
    assert_int_equal(cur.after->refund.approved_cents, 2 * 1000 + 800); /* the merchant's fault: shipping too */
    int refund_call = note_at(&cur, "decision", "\"module\":\"compensation\",\"function\":\"refund\"", 0);
    assert_true(refund_call > 0);
    assert_int_equal(cur.notes[refund_call].inputs_ref, note_at(&cur, "policy.inputs", NULL, 0));
    const as_claim *cl = claim_of(&cur, cur.after->case_id);
    assert_int_equal(cl->line_cents, 2000);
    assert_int_equal(cl->ship_cents, 800);

    assert_int_equal(act(w, NOW + 4 * HOUR, cur.after, &o, cur.ledger, "{\"action\":\"refund\",\"amount_cents\":2801}",
                         &ch, &err), -1);
    assert_int_equal(err.code, AS_EINVAL);
    assert_string_equal(err.field, "amount_cents");
    assert_int_equal(err.limit, 2800);

    step(w, NOW + 4 * HOUR, &cur, &o, "{\"action\":\"refund\",\"amount_cents\":1000}");
    assert_int_equal(cur.after->status, ST_IN_PROGRESS); /* partial: still awaiting the rest */
    assert_int_equal(cur.after->stage, STG_AWAITING_REFUND);
    assert_int_equal(cur.after->refund.refunded_cents, 1000);
    assert_int_equal(cur.nevents, 2);
    assert_string_equal(cur.events[0].type, "case.updated"); /* the update first, then what it asks for */
    assert_string_equal(cur.events[1].type, "refund.requested");
    assert_members_have(cur.events[1].members, "\"amount_cents\":1000,\"refunded_cents\":1000,\"approved_cents\":2800");
    assert_int_equal(claim_of(&cur, cur.after->case_id)->refunded_cents, 1000);

    int64_t done = NOW + 5 * HOUR;
    step(w, done, &cur, &o, "{\"action\":\"refund\",\"amount_cents\":1800}");
    const as_case *c = cur.after;
    assert_int_equal(c->status, ST_RESOLVED);
    assert_int_equal(c->stage, STG_REFUNDED);
    assert_int_equal(c->refund.refunded_cents, 2800);
    assert_int_equal(c->resolved_at, done);
    assert_int_equal(c->survey.due_at, done + HOUR);
    assert_non_null(c->survey.questions_json);
    assert_non_null(strstr(c->survey.questions_json, "\"id\":\"csat\""));
    cl = claim_of(&cur, c->case_id);
    assert_false(cl->active); /* settled: what was paid stays committed */
    assert_int_equal(cl->line_cents + cl->ship_cents, 2800);
    case_timer t[CASE_TIMERS_MAX];
    assert_int_equal(case_timers(c, t), 2);
    assert_int_equal(case_timer_due(c, TIMER_SURVEY), done + HOUR);
    assert_int_equal(case_timer_due(c, TIMER_AUTO_CLOSE), done + 7 * DAY);
    assert_int_equal(case_timer_due(c, TIMER_RESOLUTION), -1);

    /* resolved: no more refunds; a reopen needs its reason */
    assert_int_equal(act(w, done + 1, c, &o, cur.ledger, "{\"action\":\"refund\",\"amount_cents\":1}", &ch, &err), -1);
    assert_int_equal(err.code, AS_ETRANSITION);
    assert_int_equal(act(w, done + 1, c, &o, cur.ledger, "{\"action\":\"reopen\"}", &ch, &err), -1);
    assert_int_equal(err.code, AS_EINVAL);
    assert_string_equal(err.field, "reason");
    changes_free(&cur);
    order_free(&o);
}

/* Rule: an order replaced without a line that a case claims (order_put keeps
 * only the merchant) leaves that case's money undecidable: approving it is
 * refused with an error naming the sku, never a crash. */
static void approval_after_the_line_left_the_order(void **state) {
    world *w = *state;
    as_order o, replaced;
    std_order(&o, "O-G");
    static const line_spec only_e[] = {{"E", "electronics", 5000, 1}};
    make_order(&replaced, "O-G", "B-1", NOW - 3 * DAY, NOW - 2 * DAY, 800, only_e, 1);
    case_input in = input(CASE_RETURN, "O-G", "A", 1, RS_QUALITY);
    as_changes cur, ch;
    as_error err;
    open_ok(w, NOW, &in, &o, NULL, &cur);
    step(w, NOW + HOUR, &cur, &o, "{\"action\":\"ship_back\",\"carrier\":\"SF\",\"tracking_no\":\"SF2\"}");
    step(w, NOW + 2 * HOUR, &cur, &o, "{\"action\":\"receive\"}");
    assert_int_equal(act(w, NOW + 3 * HOUR, cur.after, &replaced, cur.ledger, "{\"action\":\"inspect\",\"result\":\"pass\"}",
                         &ch, &err), -1);
    assert_int_equal(err.code, AS_EINVAL);
    assert_string_equal(err.field, "sku");
    assert_null(ch.after);
    /* a refund_only in review, approved by hand with an amount: the same */
    in = input(CASE_REFUND_ONLY, "O-G", "A", 1, RS_NOT_AS_DESCRIBED);
    as_changes rev;
    open_ok(w, NOW, &in, &o, NULL, &rev);
    assert_int_equal(rev.after->stage, STG_MANUAL_REVIEW);
    assert_int_equal(act(w, NOW + HOUR, rev.after, &replaced, rev.ledger, "{\"action\":\"approve\",\"amount_cents\":100}",
                         &ch, &err), -1);
    assert_int_equal(err.code, AS_EINVAL);
    assert_string_equal(err.field, "sku");
    /* the ledger itself refuses to book it */
    as_ledger l;
    assert_int_equal(ledger_copy(&l, rev.ledger), 0);
    assert_int_equal(claims_approve(&l, &replaced, rev.after, 0), -1);
    assert_int_equal(claims_max_approval(&l, &replaced, rev.after), 0);
    ledger_free(&l);
    changes_free(&rev);
    changes_free(&cur);
    order_free(&replaced);
    order_free(&o);
}

/* Rule: a reply by an agent sets the first response once; a closed case
 * takes no action at all. */
static void replies_and_closed_cases(void **state) {
    world *w = *state;
    case_input in = {.type = CASE_CONSULTATION, .buyer_id = "B-1", .qty = AS_NONE, .reason = RS_OTHER,
                     .channel = CH_CHAT};
    as_changes cur;
    open_ok(w, NOW, &in, NULL, NULL, &cur);
    step(w, NOW + 60, &cur, NULL, "{\"action\":\"reply\",\"by\":\"customer\",\"body\":\"hello?\"}");
    assert_int_equal(cur.after->first_response_at, AS_NONE);
    step(w, NOW + 120, &cur, NULL, "{\"action\":\"reply\",\"by\":\"agent\",\"body\":\"hi\"}");
    assert_int_equal(cur.after->first_response_at, NOW + 120);
    assert_int_equal(case_timer_due(cur.after, TIMER_FIRST_RESPONSE), -1); /* met: its timer goes */
    assert_true(note_at(&cur, "message", "\"by\":\"agent\",\"body\":\"hi\"", 0) >= 0);
    step(w, NOW + 180, &cur, NULL, "{\"action\":\"reply\",\"by\":\"agent\",\"body\":\"again\"}");
    assert_int_equal(cur.after->first_response_at, NOW + 120);
    step(w, NOW + 240, &cur, NULL, "{\"action\":\"resolve\",\"resolution\":\"answered\"}");
    assert_int_equal(cur.after->status, ST_RESOLVED);
    step(w, NOW + 300, &cur, NULL, "{\"action\":\"close\"}");
    assert_int_equal(cur.after->status, ST_CLOSED);
    assert_int_equal(cur.after->closed_at, NOW + 300);
    as_changes ch;
    as_error err;
    static const char *const bodies[] = {"{\"action\":\"note\",\"body\":\"x\"}", "{\"action\":\"reopen\",\"reason\":\"x\"}",
                                         "{\"action\":\"assign\",\"agent_id\":\"a-cs\"}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        assert_int_equal(act(w, NOW + 400, cur.after, NULL, NULL, bodies[i], &ch, &err), -1);
        assert_int_equal(err.code, AS_ETRANSITION);
    }
    changes_free(&cur);
}

/* Rule (SPEC section 1): a rejected or cancelled claim frees its share of
 * the line; an appeal takes it again only if the line still has it. */
static void reject_and_cancel_free_the_share(void **state) {
    world *w = *state;
    static const line_spec lines[] = {{"A", "apparel", 1000, 1}};
    as_order o;
    make_order(&o, "O-R", "B-1", NOW - 3 * DAY, NOW - 2 * DAY, 800, lines, 1);
    case_input in = input(CASE_RETURN, "O-R", "A", AS_NONE, RS_NO_REASON);
    in.opened = 1; /* opened: a person checks it */
    as_changes rev, other;
    open_ok(w, NOW, &in, &o, NULL, &rev);
    assert_int_equal(rev.after->stage, STG_MANUAL_REVIEW);
    assert_string_equal(rev.after->decision.reason_code, "opened_no_reason");
    open_ok(w, NOW, &in, &o, rev.ledger, &other);
    assert_int_equal(other.after->stage, STG_ALREADY_CLAIMED);
    changes_free(&other);

    step(w, NOW + HOUR, &rev, &o, "{\"action\":\"reject\",\"reason\":\"item is worn\"}");
    assert_int_equal(rev.after->status, ST_REJECTED);
    assert_int_equal(rev.after->stage, STG_REVIEW_REJECTED);
    assert_string_equal(rev.after->decision.reason_code, "rejected_on_review");
    assert_string_equal(rev.after->decision.message, "item is worn");
    assert_string_equal(rev.after->decision.settled_role, "agent");
    assert_string_equal(rev.after->decision.settled_id, "a1");
    assert_int_equal(rev.after->resolved_at, NOW + HOUR);
    assert_int_equal(rev.ledger->n, 0); /* freed */

    /* the line is free: another claim takes it, unopened and approved */
    in.opened = 0;
    open_ok(w, NOW + 2 * HOUR, &in, &o, rev.ledger, &other);
    assert_int_equal(other.after->status, ST_AWAITING_CUSTOMER);
    /* the rejected one appeals: the line is gone, 409 already_claimed naming the holder */
    as_changes ch;
    as_error err;
    assert_int_equal(act(w, NOW + 3 * HOUR, rev.after, &o, other.ledger, "{\"action\":\"reopen\",\"reason\":\"appeal\"}",
                         &ch, &err), -1);
    assert_int_equal(err.code, AS_ECLAIMED);
    assert_string_equal(err.holders, other.after->case_id);

    /* the customer withdraws the approved one: closed, cancelled, share freed */
    step(w, NOW + 4 * HOUR, &other, &o, "{\"action\":\"cancel\"}");
    assert_int_equal(other.after->status, ST_CLOSED);
    assert_int_equal(other.after->stage, STG_CANCELLED);
    assert_int_equal(other.after->closed_at, NOW + 4 * HOUR);
    assert_int_equal(other.ledger->n, 0);
    /* now the appeal may take the line again: escalated, back in progress */
    assert_int_equal(act(w, NOW + 5 * HOUR, rev.after, &o, other.ledger, "{\"action\":\"reopen\",\"reason\":\"appeal\"}",
                         &ch, &err), 0);
    assert_int_equal(ch.after->status, ST_IN_PROGRESS);
    assert_int_equal(ch.after->stage, STG_APPEALED);
    assert_true(ch.after->escalated);
    assert_int_equal(ch.after->priority, 2);
    assert_int_equal(ch.after->resolved_at, AS_NONE);
    assert_true(claim_of(&ch, ch.after->case_id)->active);
    changes_free(&ch);
    changes_free(&other);
    changes_free(&rev);
    order_free(&o);
}

/* ---- timers ---- */

/* Rule (SPEC sections 1 and 4): a missed target is marked, sla.on_breach
 * escalates (one priority step up), an alert and a feed event are raised;
 * all of it dated at the timer's due time. */
static void breach_escalates_at_due(void **state) {
    world *w = *state;
    as_order o;
    std_order(&o, "O-B");
    case_input in = input(CASE_COMPLAINT, "O-B", "A", AS_NONE, RS_QUALITY);
    as_changes open;
    open_ok(w, NOW, &in, &o, NULL, &open);
    const as_case *c = open.after;
    int64_t due = case_timer_due(c, TIMER_RESOLUTION);
    assert_int_equal(due, NOW + 24 * HOUR + 1);
    as_decider d = decider(w, due + 5000); /* the timer round ran late */
    as_changes ch;
    assert_int_equal(case_fire_timer(&d, c, TIMER_RESOLUTION, due, &ch), 0);
    const as_case *k = ch.after;
    assert_true(case_breached(k, SLA_RESOLUTION));
    assert_false(case_breached(k, SLA_FIRST_RESPONSE));
    assert_true(k->escalated);
    assert_int_equal(k->priority, 1);
    assert_string_equal(k->queue, "quality");
    assert_int_equal(k->updated_at, due);
    int b = note_at(&ch, "sla.breached", "\"kind\":\"resolution\"", 0);
    assert_true(b >= 0);
    assert_int_equal(ch.notes[b].at, due);
    assert_string_equal(ch.notes[b].actor.role, "system");
    int dec = note_at(&ch, "decision", "\"module\":\"sla\",\"function\":\"on_breach\"", 0);
    assert_true(dec >= 0);
    assert_int_equal(ch.notes[dec].inputs_ref, note_at(&ch, "policy.inputs", "\"kind\":\"resolution\"", 0));
    assert_int_equal(ch.nalerts, 1);
    assert_string_equal(ch.alerts[0].kind, "sla_breach");
    assert_int_equal(ch.alerts[0].at, due);
    assert_int_equal(event_at(&ch, "sla.breached"), 0);
    assert_int_equal(case_timer_due(k, TIMER_RESOLUTION), -1); /* fired once */
    changes_free(&ch);

    /* a case changed after the due time: the effects are dated at that change */
    as_case late;
    assert_int_equal(case_copy(&late, c), 0);
    late.updated_at = due + 700;
    assert_int_equal(case_fire_timer(&d, &late, TIMER_RESOLUTION, due, &ch), 0);
    assert_int_equal(ch.after->updated_at, due + 700);
    assert_int_equal(ch.notes[note_at(&ch, "sla.breached", NULL, 0)].at, due + 700);
    changes_free(&ch);
    case_free(&late);
    changes_free(&open);
    order_free(&o);
}

/* A resolved case: its survey goes out at due_at, and it closes by itself 7
 * days after resolution. */
static void survey_and_auto_close(void **state) {
    world *w = *state;
    case_input in = {.type = CASE_CONSULTATION, .buyer_id = "B-1", .qty = AS_NONE, .reason = RS_OTHER,
                     .channel = CH_CHAT};
    as_changes cur;
    open_ok(w, NOW, &in, NULL, NULL, &cur);
    step(w, NOW + HOUR, &cur, NULL, "{\"action\":\"resolve\",\"resolution\":\"done\"}");
    const as_case *c = cur.after;
    int64_t sdue = case_timer_due(c, TIMER_SURVEY);
    assert_int_equal(sdue, NOW + 2 * HOUR);
    as_decider d = decider(w, sdue + 30);
    as_changes ch;
    assert_int_equal(case_fire_timer(&d, c, TIMER_SURVEY, sdue, &ch), 0);
    assert_int_equal(ch.after->survey.sent_at, sdue);
    assert_int_equal(ch.after->status, ST_RESOLVED);
    assert_true(note_at(&ch, "survey.sent", NULL, 0) >= 0);
    int e = event_at(&ch, "survey.requested");
    assert_true(e >= 0);
    assert_members_have(ch.events[e].members, "\"buyer_id\":\"B-1\",\"questions\":[{");
    assert_members_have(ch.events[e].members, "\"id\":\"csat\"");
    assert_int_equal(case_timer_due(ch.after, TIMER_SURVEY), -1);
    int64_t cdue = case_timer_due(ch.after, TIMER_AUTO_CLOSE);
    assert_int_equal(cdue, NOW + HOUR + 7 * DAY);
    as_changes closed;
    d.now = cdue;
    assert_int_equal(case_fire_timer(&d, ch.after, TIMER_AUTO_CLOSE, cdue, &closed), 0);
    assert_int_equal(closed.after->status, ST_CLOSED);
    assert_int_equal(closed.after->stage, STG_CLOSED);
    assert_int_equal(closed.after->closed_at, cdue);
    assert_true(note_at(&closed, "status", "\"closed_by\":\"auto_close\"", 0) >= 0);
    assert_int_equal(event_at(&closed, "case.updated"), 0);
    case_timer t[CASE_TIMERS_MAX];
    assert_int_equal(case_timers(closed.after, t), 0);
    changes_free(&closed);
    changes_free(&ch);
    changes_free(&cur);
}

/* ---- surveys ---- */

/* Rule (SPEC section 1): a CSAT of 2 or below opens a follow-up (回访) for
 * the quality team, as a change of its own in the answer's change set; the
 * answer closes the case. A good score opens nothing. */
static void low_survey_score_opens_a_follow_up(void **state) {
    world *w = *state;
    as_order o;
    std_order(&o, "O-S");
    case_input in = input(CASE_COMPLAINT, "O-S", "A", AS_NONE, RS_QUALITY);
    as_changes cur;
    open_ok(w, NOW, &in, &o, NULL, &cur);
    as_changes ch;
    as_error err = {0};
    as_decider d = decider(w, NOW + 10);
    survey_answer low = {.csat = 2, .nps = AS_NONE, .comment = "slow"};
    /* not resolved yet: no survey to answer */
    assert_int_equal(case_answer_survey(&d, cur.after, &o, &low, &CUSTOMER, &ch, &err), -1);
    assert_int_equal(err.code, AS_ETRANSITION);
    assert_true(err.no_actions);

    step(w, NOW + HOUR, &cur, &o, "{\"action\":\"resolve\",\"resolution\":\"apologised\"}");
    uint64_t followup_seq = w->next_seq;
    d.now = NOW + 3 * HOUR;
    assert_int_equal(case_answer_survey(&d, cur.after, &o, &low, &CUSTOMER, &ch, &err), 0);
    const as_case *k = ch.after;
    assert_int_equal(k->survey.csat, 2);
    assert_int_equal(k->survey.answered_at, NOW + 3 * HOUR);
    assert_string_equal(k->survey.comment, "slow");
    assert_int_equal(k->status, ST_CLOSED); /* answering closes it */
    assert_int_equal(k->closed_at, NOW + 3 * HOUR);
    as_case_id fid;
    case_id_format(followup_seq, fid);
    assert_string_equal(k->survey.followup_case_id, fid);
    assert_int_equal(w->next_seq, followup_seq + 1);
    assert_true(note_at(&ch, "followup", fid, 0) >= 0);
    assert_true(note_at(&ch, "decision", "\"module\":\"survey\",\"function\":\"on_answer\"", 0) >= 0);
    int e = event_at(&ch, "survey.answered");
    assert_true(e >= 0);
    assert_members_have(ch.events[e].members, "\"answer\":{\"csat\":2,\"nps\":null,\"comment\":\"slow\"}");
    assert_int_equal(event_at(&ch, "case.updated"), 0);

    const as_changes *f = ch.spawned;
    assert_non_null(f);
    assert_null(f->next);
    const as_case *fc = f->after;
    assert_string_equal(fc->case_id, fid);
    assert_int_equal(fc->type, CASE_COMPLAINT);
    assert_true(fc->followup);
    assert_string_equal(fc->parent_case_id, k->case_id);
    assert_int_equal(fc->channel, CH_SYSTEM);
    assert_string_equal(fc->queue, "quality");
    assert_int_equal(fc->priority, 2);
    assert_string_equal(fc->order_id, "O-S");
    assert_string_equal(fc->buyer_id, "B-1");
    assert_non_null(strstr(fc->description, "low_csat"));
    assert_false(f->complaint); /* the platform's own case is no buyer complaint */
    assert_null(f->ledger);
    assert_string_equal(f->notes[0].type, "case.created");
    assert_members_have(f->notes[0].members, k->case_id);
    assert_int_equal(event_at(f, "case.created"), 0);
    as_case answered;
    assert_int_equal(case_copy(&answered, k), 0);
    changes_free(&ch);
    changes_free(&cur);

    /* answered already: no second answer */
    as_changes again;
    d.now = NOW + 4 * HOUR;
    assert_int_equal(case_answer_survey(&d, &answered, &o, &low, &CUSTOMER, &again, &err), -1);
    assert_int_equal(err.code, AS_ETRANSITION);
    case_free(&answered);
    order_free(&o);
}

static void good_survey_score_opens_nothing(void **state) {
    world *w = *state;
    case_input in = {.type = CASE_CONSULTATION, .buyer_id = "B-1", .qty = AS_NONE, .reason = RS_OTHER,
                     .channel = CH_CHAT};
    as_changes cur, ch;
    open_ok(w, NOW, &in, NULL, NULL, &cur);
    step(w, NOW + HOUR, &cur, NULL, "{\"action\":\"resolve\",\"resolution\":\"done\"}");
    as_decider d = decider(w, NOW + 2 * HOUR);
    as_error err = {0};
    survey_answer good = {.csat = 5, .nps = 10};
    uint64_t seq = w->next_seq;
    assert_int_equal(case_answer_survey(&d, cur.after, NULL, &good, &CUSTOMER, &ch, &err), 0);
    assert_null(ch.spawned);
    assert_int_equal(w->next_seq, seq);
    assert_int_equal(ch.after->survey.nps, 10);
    assert_int_equal(ch.after->status, ST_CLOSED);
    assert_string_equal(ch.after->survey.followup_case_id, "");
    changes_free(&ch);
    changes_free(&cur);
}

/* ---- orders ---- */

/* Rule: replacing an order keeps what the server learned since (tracking,
 * current prices of the skus it still has, delivery, a stall reported, the
 * buyer's tier); an order with cases keeps its merchant. */
static void order_put_keeps_what_was_learned(void **state) {
    world *w = *state;
    as_order old, in;
    std_order(&old, "O-P");
    old.buyer.tier = strdup("vip");
    old.buyer.lifetime_spend_cents = 5000;
    old.tracking = calloc(1, sizeof *old.tracking);
    old.tracking[0] = (as_scan){TRK_DELIVERED, NOW - 2 * DAY, strdup("SF"), NULL, NULL};
    old.ntracking = 1;
    set_price(&old, "A", 900, NOW - DAY);
    set_price(&old, "E", 4000, NOW - DAY);
    old.stall_reported_for = NOW - 5 * DAY;
    static const line_spec lines[] = {{"A", "apparel", 1000, 3}, {"N", "apparel", 300, 1}};
    make_order(&in, "O-P", "B-1", NOW - 3 * DAY, AS_NONE, 800, lines, 2);
    as_decider d = decider(w, NOW);
    as_error err = {0};
    as_changes ch;
    assert_int_equal(order_put(&d, &in, &old, 1, NULL, &ch, &err), 0);
    const as_order *o = ch.order;
    assert_non_null(o);
    assert_non_null(ch.order_before);
    assert_null(ch.after);
    assert_int_equal(o->nitems, 2);
    assert_int_equal(o->delivered_at, NOW - 2 * DAY);
    assert_int_equal(o->ntracking, 1);
    assert_string_equal(o->tracking[0].carrier, "SF");
    assert_int_equal(o->nprices, 1); /* E left the order, its price with it */
    assert_non_null(order_price(o, "A"));
    assert_null(order_price(o, "E"));
    assert_int_equal(o->stall_reported_for, NOW - 5 * DAY);
    assert_string_equal(o->buyer.tier, "vip");
    assert_int_equal(o->buyer.lifetime_spend_cents, 5000);
    assert_int_equal(ch.nevents, 1);
    assert_string_equal(ch.events[0].type, "order.updated");
    assert_members_have(ch.events[0].members, "\"merchant_id\":\"M-1\"");
    changes_free(&ch);
    order_free(&in);

    /* another merchant: refused while the order has cases, taken when it has none */
    make_order(&in, "O-P", "B-1", NOW - 3 * DAY, AS_NONE, 800, lines, 2);
    AS_IDSET(in.merchant_id, "M-2");
    assert_int_equal(order_put(&d, &in, &old, 1, NULL, &ch, &err), -1);
    assert_int_equal(err.code, AS_EINVAL);
    assert_string_equal(err.field, "merchant_id");
    assert_int_equal(order_put(&d, &in, &old, 0, NULL, &ch, &err), 0);
    assert_string_equal(ch.order->merchant_id, "M-2");
    changes_free(&ch);
    order_free(&in);

    /* a new order */
    make_order(&in, "O-NEW", "B-1", NOW, AS_NONE, 0, lines, 1);
    assert_int_equal(order_put(&d, &in, NULL, 0, NULL, &ch, &err), 0);
    assert_null(ch.order_before);
    assert_string_equal(ch.events[0].type, "order.created");
    changes_free(&ch);
    order_free(&in);
    order_free(&old);
}

/* Rule (SPEC section 1): a parcel with no tracking update for 48 hours
 * (risk.rules.stalled_parcel_hours) opens a proactive logistics case and
 * raises an alert, once per scan. */
static void stalled_parcel_opens_a_logistics_case(void **state) {
    world *w = *state;
    static const line_spec lines[] = {{"A", "apparel", 1000, 1}};
    as_order o;
    make_order(&o, "O-ST", "B-1", NOW - 4 * DAY, AS_NONE, 800, lines, 1);
    int64_t scan = NOW - 3 * DAY;
    o.tracking = calloc(1, sizeof *o.tracking);
    o.tracking[0] = (as_scan){TRK_IN_TRANSIT, scan, NULL, NULL, NULL};
    o.ntracking = 1;
    as_decider d = decider(w, scan + 48 * HOUR - 1);
    assert_int_equal(order_stall_due(&d, &o), scan + 48 * HOUR);
    as_changes ch;
    assert_int_equal(order_report_stall(&d, &o, &ch), 0);
    assert_null(ch.order); /* not yet stalled: nothing */
    assert_null(ch.spawned);

    d.now = scan + 48 * HOUR;
    uint64_t seq = w->next_seq;
    assert_int_equal(order_report_stall(&d, &o, &ch), 0);
    assert_non_null(ch.order);
    assert_null(ch.after);
    assert_int_equal(ch.order->stall_reported_for, scan);
    assert_int_equal(order_stall_due(&d, ch.order), 0); /* reported: not watched until the next scan */
    const as_changes *s = ch.spawned;
    assert_non_null(s);
    const as_case *c = s->after;
    as_case_id id;
    case_id_format(seq, id);
    assert_string_equal(c->case_id, id);
    assert_int_equal(c->type, CASE_LOGISTICS);
    assert_int_equal(c->reason, RS_LATE_DELIVERY);
    assert_int_equal(c->channel, CH_SYSTEM);
    assert_string_equal(c->order_id, "O-ST");
    assert_string_equal(c->sku, "A");
    assert_string_equal(c->queue, "customer_service");
    assert_non_null(strstr(c->description, "stalled_parcel"));
    assert_int_equal(s->nalerts, 1);
    assert_string_equal(s->alerts[0].kind, "stalled_parcel");
    assert_int_equal(event_at(s, "case.created"), 0);
    changes_free(&ch);

    /* delivered: never stalled */
    o.delivered_at = scan;
    assert_int_equal(order_stall_due(&d, &o), 0);
    order_free(&o);
}

/* ---- agents ---- */

/* Rule (SPEC section 4): the least-loaded online agent of the queue with
 * every skill and free capacity; ties go to the lowest agent_id. */
static void agents_pick_least_loaded(void **state) {
    world *w = *state;
    as_id electronics = "electronics", appliances = "appliances", both[2] = {"electronics", "appliances"};
    assert_string_equal(agents_pick(&w->agents, "after_sales", NULL, 0)->agent_id, "a-after-2");
    assert_string_equal(agents_pick(&w->agents, "tech_support", &electronics, 1)->agent_id, "a-tech-1");
    assert_string_equal(agents_pick(&w->agents, "tech_support", &appliances, 1)->agent_id, "a-tech-2");
    assert_string_equal(agents_pick(&w->agents, "tech_support", NULL, 0)->agent_id, "a-tech-2");
    assert_null(agents_pick(&w->agents, "tech_support", both, 2));
    assert_null(agents_pick(&w->agents, "billing", NULL, 0));
    assert_null(agents_pick(&w->agents, "", NULL, 0));
    /* ties: the lowest id */
    as_agent *a1 = agents_find(&w->agents, "a-after-1"), *a2 = agents_find(&w->agents, "a-after-2");
    int64_t l1 = a1->load, l2 = a2->load;
    a1->load = a2->load = 1;
    assert_string_equal(agents_pick(&w->agents, "after_sales", NULL, 0)->agent_id, "a-after-1");
    /* full: capacity reached */
    a1->load = a1->capacity;
    assert_string_equal(agents_pick(&w->agents, "after_sales", NULL, 0)->agent_id, "a-after-2");
    a2->load = a2->capacity;
    assert_null(agents_pick(&w->agents, "after_sales", NULL, 0)); /* the offline one never */
    a1->load = l1;
    a2->load = l2;
    /* going offline takes an agent out */
    as_agent *q = agents_find(&w->agents, "a-quality");
    q->online = 0;
    assert_null(agents_pick(&w->agents, "quality", NULL, 0));
    q->online = 1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_return_approved),
        cmocka_unit_test(open_each_type),
        cmocka_unit_test(open_price_protection),
        cmocka_unit_test(open_consultation_for_a_vip),
        cmocka_unit_test(open_review_and_reject),
        cmocka_unit_test(open_refuses_inputs_that_contradict_the_order),
        cmocka_unit_test(complaint_spike_raises_an_alert),
        cmocka_unit_test(shadow_decides_beside_never_enforced),
        cmocka_unit_test(policy_text_with_nul_is_recorded),
        cmocka_unit_test(claims_across_cases),
        cmocka_unit_test(approvals_are_capped_across_cases),
        cmocka_unit_test(return_lifecycle),
        cmocka_unit_test(approval_after_the_line_left_the_order),
        cmocka_unit_test(replies_and_closed_cases),
        cmocka_unit_test(reject_and_cancel_free_the_share),
        cmocka_unit_test(breach_escalates_at_due),
        cmocka_unit_test(survey_and_auto_close),
        cmocka_unit_test(low_survey_score_opens_a_follow_up),
        cmocka_unit_test(good_survey_score_opens_nothing),
        cmocka_unit_test(order_put_keeps_what_was_learned),
        cmocka_unit_test(stalled_parcel_opens_a_logistics_case),
        cmocka_unit_test(agents_pick_least_loaded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
