/* case/codec: the stored and API text of cases and orders, the views policies
 * see, and the PII masks (codec.h; SPEC sections 3 and 5).
 *
 * Golden texts are written out here, member by member: a change to the
 * stored shape must change this file too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "case/codec.h"
#include "util/jsonw.h"

#define VERSION "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- helpers ---- */

static char **strings(size_t n, ...) {
    char **out = calloc(n, sizeof *out);
    assert_non_null(out);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) out[i] = strdup(va_arg(ap, const char *));
    va_end(ap);
    return out;
}

/* A case with every member set, including the optional ones. */
static void full_case(as_case *c) {
    case_init(c);
    case_id_format(42, c->case_id);
    c->seq = 42;
    c->type = CASE_RETURN;
    c->status = ST_IN_PROGRESS;
    c->stage = STG_AWAITING_REFUND;
    AS_IDSET(c->order_id, "O-1");
    AS_IDSET(c->sku, "SKU-1");
    c->qty = 2;
    AS_IDSET(c->buyer_id, "B-1");
    AS_IDSET(c->merchant_id, "M-1");
    c->channel = CH_APP;
    c->reason = RS_QUALITY;
    c->description = strdup("screen \"cracked\"\n\xE5\xB1\x8F\xE5\xB9\x95");
    c->opened = 1;
    c->photos = strings(2, "https://img/1.jpg", "https://img/2.jpg");
    c->nphotos = 2;
    AS_IDSET(c->queue, "after_sales");
    c->priority = 2;
    c->skills = calloc(1, sizeof *c->skills);
    AS_IDSET(c->skills[0], "electronics");
    c->nskills = 1;
    AS_IDSET(c->assignee, "agent-7");
    c->escalated = 1;
    c->followup = 1;
    AS_IDSET(c->parent_case_id, "C0000000041");
    c->created_at = 1767225600;
    c->updated_at = 1767229200;
    c->first_response_at = 1767226000;
    c->resolved_at = 1767230000;
    c->closed_at = 1767240000;
    c->sla.first_response_due = 1767232800;
    c->sla.resolution_due = 1767300000;
    c->sla.business = 1;
    c->sla.breached = 1u << SLA_FIRST_RESPONSE | 1u << SLA_RESOLUTION;
    c->sla.warnings[0] = (as_sla_warning){SLA_RESOLUTION, 75, 1767280000, 1767280000};
    c->sla.nwarnings = 1;
    c->sla.escalation_level = 2;
    c->sla.escalated_at = 1767300001;
    c->sla.next_escalation_at = 1767400000;
    as_decision *d = &c->decision;
    d->outcome = OUT_APPROVE;
    d->reason_code = strdup("merchant_fault");
    d->message = strdup("merchant_fault: quality reported within 7 days");
    snprintf(d->policy_version, sizeof d->policy_version, "%s", VERSION);
    snprintf(d->module, sizeof d->module, "returns");
    snprintf(d->function, sizeof d->function, "evaluate");
    d->at = 1767225601;
    snprintf(d->settled_role, sizeof d->settled_role, "agent");
    AS_IDSET(d->settled_id, "agent-7");
    d->claimed_by = strings(1, "C0000000040");
    d->nclaimed_by = 1;
    c->refund.approved_cents = 19900;
    c->refund.refunded_cents = 5000;
    c->refund.shipping_paid_by = PAYER_MERCHANT;
    c->compensation.coupon_cents = 500;
    c->compensation.reason = strdup("late_delivery");
    c->survey.due_at = 1767233600;
    c->survey.csat = 4;
    c->survey.nps = 9;
    c->survey.comment = strdup("ok");
    c->survey.sent_at = 1767233601;
    c->survey.answered_at = 1767234000;
    c->survey.questions_json = strdup("[{\"id\":\"csat\",\"min\":1,\"max\":5}]");
    AS_IDSET(c->survey.followup_case_id, "C0000000043");
    c->shipments = calloc(1, sizeof *c->shipments);
    c->shipments[0] = (as_shipment){SHIP_TO_MERCHANT, strdup("SF"), strdup("SF123"), 1767227000};
    c->nshipments = 1;
    c->resolution = strdup("refunded in part");
}

static const char FULL_CASE_JSON[] =
    "{\"case_id\":\"C0000000042\",\"type\":\"return\",\"status\":\"in_progress\",\"stage\":\"awaiting_refund\","
    "\"order_id\":\"O-1\",\"sku\":\"SKU-1\",\"qty\":2,\"buyer_id\":\"B-1\",\"merchant_id\":\"M-1\","
    "\"channel\":\"app\",\"reason\":\"quality\","
    "\"description\":\"screen \\\"cracked\\\"\\n\xE5\xB1\x8F\xE5\xB9\x95\",\"opened\":true,"
    "\"photos\":[\"https://img/1.jpg\",\"https://img/2.jpg\"],\"queue\":\"after_sales\",\"priority\":2,"
    "\"skills\":[\"electronics\"],\"assignee\":\"agent-7\",\"escalated\":true,\"followup\":true,"
    "\"parent_case_id\":\"C0000000041\",\"created_at\":1767225600,\"updated_at\":1767229200,"
    "\"first_response_at\":1767226000,\"resolved_at\":1767230000,\"closed_at\":1767240000,"
    "\"sla\":{\"first_response_due\":1767232800,\"resolution_due\":1767300000,\"business\":true,"
    "\"breached\":[\"first_response\",\"resolution\"],"
    "\"warnings\":[{\"kind\":\"resolution\",\"percent\":75,\"due_at\":1767280000,\"sent_at\":1767280000}],"
    "\"escalation\":{\"level\":2,\"at\":1767300001,\"next_at\":1767400000}},"
    "\"decision\":{\"outcome\":\"approve\",\"reason_code\":\"merchant_fault\","
    "\"message\":\"merchant_fault: quality reported within 7 days\",\"policy_version\":\"" VERSION "\","
    "\"module\":\"returns\",\"function\":\"evaluate\",\"at\":1767225601,"
    "\"settled_by\":{\"role\":\"agent\",\"id\":\"agent-7\"},\"claimed_by\":[\"C0000000040\"]},"
    "\"refund\":{\"approved_cents\":19900,\"refunded_cents\":5000,\"shipping_paid_by\":\"merchant\"},"
    "\"compensation\":{\"coupon_cents\":500,\"reason\":\"late_delivery\"},"
    "\"survey\":{\"due_at\":1767233600,\"csat\":4,\"nps\":9,\"comment\":\"ok\",\"sent_at\":1767233601,"
    "\"answered_at\":1767234000,\"questions\":[{\"id\":\"csat\",\"min\":1,\"max\":5}],"
    "\"followup_case_id\":\"C0000000043\"},"
    "\"shipments\":[{\"direction\":\"to_merchant\",\"carrier\":\"SF\",\"tracking_no\":\"SF123\",\"at\":1767227000}],"
    "\"resolution\":\"refunded in part\"}";

/* A case with nothing optional: every absent value is written as null. */
static void bare_case(as_case *c) {
    case_init(c);
    case_id_format(1, c->case_id);
    c->seq = 1;
    c->type = CASE_CONSULTATION;
    c->status = ST_OPEN;
    c->stage = STG_NEW;
    AS_IDSET(c->buyer_id, "B-1");
    c->channel = CH_CHAT;
    c->reason = RS_OTHER;
    AS_IDSET(c->queue, "customer_service");
    c->created_at = c->updated_at = 100;
}

static const char BARE_CASE_JSON[] =
    "{\"case_id\":\"C0000000001\",\"type\":\"consultation\",\"status\":\"open\",\"stage\":\"new\","
    "\"order_id\":null,\"sku\":null,\"qty\":null,\"buyer_id\":\"B-1\",\"merchant_id\":null,"
    "\"channel\":\"chat\",\"reason\":\"other\",\"description\":null,\"opened\":false,\"photos\":[],"
    "\"queue\":\"customer_service\",\"priority\":3,\"skills\":[],\"assignee\":null,\"escalated\":false,"
    "\"created_at\":100,\"updated_at\":100,\"first_response_at\":null,\"resolved_at\":null,\"closed_at\":null,"
    "\"sla\":{\"first_response_due\":null,\"resolution_due\":null,\"business\":false,\"breached\":[],"
    "\"warnings\":[],\"escalation\":{\"level\":0,\"at\":null,\"next_at\":null}},"
    "\"decision\":null,\"refund\":{\"approved_cents\":0,\"refunded_cents\":0,\"shipping_paid_by\":null},"
    "\"compensation\":null,\"survey\":{\"due_at\":null,\"csat\":null,\"nps\":null,\"comment\":null},"
    "\"shipments\":[]}";

static void full_order(as_order *o) {
    order_init(o);
    AS_IDSET(o->order_id, "O-1");
    AS_IDSET(o->buyer_id, "B-1");
    AS_IDSET(o->merchant_id, "M-1");
    o->paid_at = 1767000000;
    o->delivered_at = 1767100000;
    o->shipping_cents = 1200;
    o->items = calloc(2, sizeof *o->items);
    o->items[0] = (as_item){"SKU-1", "electronics", 9900, 2, strdup("Phone \"X\"")};
    o->items[1] = (as_item){"SKU-2", "food", 500, 3, NULL};
    o->nitems = 2;
    o->buyer.tier = strdup("vip");
    o->buyer.lifetime_spend_cents = 2000000;
    o->buyer.phone = strdup("13812345678");
    o->buyer.email = strdup("jane@example.com");
    o->tracking = calloc(2, sizeof *o->tracking);
    o->tracking[0] = (as_scan){TRK_SHIPPED, 1767010000, strdup("SF"), strdup("SF1"), strdup("picked up")};
    o->tracking[1] = (as_scan){TRK_DELIVERED, 1767100000, NULL, NULL, NULL};
    o->ntracking = 2;
    o->prices = calloc(1, sizeof *o->prices);
    o->prices[0] = (as_price){"SKU-1", 8900, 1767050000};
    o->nprices = 1;
    o->stall_reported_for = 1767010000;
}

#define FULL_ORDER_HEAD                                                                                         \
    "{\"order_id\":\"O-1\",\"buyer_id\":\"B-1\",\"merchant_id\":\"M-1\",\"paid_at\":1767000000,"              \
    "\"delivered_at\":1767100000,\"shipping_cents\":1200,"                                                      \
    "\"items\":[{\"sku\":\"SKU-1\",\"category\":\"electronics\",\"price_cents\":9900,\"qty\":2,"                \
    "\"title\":\"Phone \\\"X\\\"\"},{\"sku\":\"SKU-2\",\"category\":\"food\",\"price_cents\":500,\"qty\":3}],"
#define FULL_ORDER_TAIL                                                                                         \
    "\"tracking\":[{\"status\":\"shipped\",\"at\":1767010000,\"carrier\":\"SF\",\"tracking_no\":\"SF1\","      \
    "\"note\":\"picked up\"},{\"status\":\"delivered\",\"at\":1767100000}],"                                   \
    "\"prices\":{\"SKU-1\":{\"price_cents\":8900,\"at\":1767050000}},\"stall_reported_for\":1767010000}"

static const char FULL_ORDER_JSON[] = FULL_ORDER_HEAD
    "\"buyer\":{\"tier\":\"vip\",\"lifetime_spend_cents\":2000000,\"phone\":\"13812345678\","
    "\"email\":\"jane@example.com\"}," FULL_ORDER_TAIL;

static const char MASKED_ORDER_JSON[] = FULL_ORDER_HEAD
    "\"buyer\":{\"tier\":\"vip\",\"lifetime_spend_cents\":2000000,\"phone\":\"138****5678\","
    "\"email\":\"j***@example.com\"}," FULL_ORDER_TAIL;

static void str_eq(const char *a, const char *b) {
    if (a == NULL || b == NULL) assert_ptr_equal(a, b);
    else assert_string_equal(a, b);
}

static void strings_eq(char *const *a, size_t na, char *const *b, size_t nb) {
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) assert_string_equal(a[i], b[i]);
}

/* Member by member: a decoded case equals the one encoded. */
static void assert_case_equal(const as_case *a, const as_case *b) {
    assert_string_equal(a->case_id, b->case_id);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->stage, b->stage);
    assert_string_equal(a->order_id, b->order_id);
    assert_string_equal(a->sku, b->sku);
    assert_int_equal(a->qty, b->qty);
    assert_string_equal(a->buyer_id, b->buyer_id);
    assert_string_equal(a->merchant_id, b->merchant_id);
    assert_int_equal(a->channel, b->channel);
    assert_int_equal(a->reason, b->reason);
    str_eq(a->description, b->description);
    assert_int_equal(a->opened, b->opened);
    strings_eq(a->photos, a->nphotos, b->photos, b->nphotos);
    assert_string_equal(a->queue, b->queue);
    assert_int_equal(a->priority, b->priority);
    assert_int_equal(a->nskills, b->nskills);
    for (size_t i = 0; i < a->nskills; i++) assert_string_equal(a->skills[i], b->skills[i]);
    assert_string_equal(a->assignee, b->assignee);
    assert_int_equal(a->escalated, b->escalated);
    assert_int_equal(a->followup, b->followup);
    assert_string_equal(a->parent_case_id, b->parent_case_id);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->updated_at, b->updated_at);
    assert_int_equal(a->first_response_at, b->first_response_at);
    assert_int_equal(a->resolved_at, b->resolved_at);
    assert_int_equal(a->closed_at, b->closed_at);
    assert_int_equal(a->sla.first_response_due, b->sla.first_response_due);
    assert_int_equal(a->sla.resolution_due, b->sla.resolution_due);
    assert_int_equal(a->sla.business, b->sla.business);
    assert_int_equal(a->sla.breached, b->sla.breached);
    assert_int_equal(a->sla.nwarnings, b->sla.nwarnings);
    for (int i = 0; i < a->sla.nwarnings; i++) {
        const as_sla_warning *w = &a->sla.warnings[i], *v = &b->sla.warnings[i];
        assert_true(w->kind == v->kind && w->percent == v->percent && w->due == v->due && w->sent_at == v->sent_at);
    }
    assert_int_equal(a->sla.escalation_level, b->sla.escalation_level);
    assert_int_equal(a->sla.escalated_at, b->sla.escalated_at);
    assert_int_equal(a->sla.next_escalation_at, b->sla.next_escalation_at);
    const as_decision *x = &a->decision, *y = &b->decision;
    assert_int_equal(x->outcome, y->outcome);
    str_eq(x->reason_code, y->reason_code);
    str_eq(x->message, y->message);
    assert_string_equal(x->policy_version, y->policy_version);
    assert_string_equal(x->module, y->module);
    assert_string_equal(x->function, y->function);
    assert_int_equal(x->at, y->at);
    assert_string_equal(x->settled_role, y->settled_role);
    assert_string_equal(x->settled_id, y->settled_id);
    strings_eq(x->claimed_by, x->nclaimed_by, y->claimed_by, y->nclaimed_by);
    assert_int_equal(a->refund.approved_cents, b->refund.approved_cents);
    assert_int_equal(a->refund.refunded_cents, b->refund.refunded_cents);
    assert_int_equal(a->refund.shipping_paid_by, b->refund.shipping_paid_by);
    assert_int_equal(a->compensation.coupon_cents, b->compensation.coupon_cents);
    str_eq(a->compensation.reason, b->compensation.reason);
    const as_survey *s = &a->survey, *t = &b->survey;
    assert_int_equal(s->due_at, t->due_at);
    assert_int_equal(s->sent_at, t->sent_at);
    assert_int_equal(s->answered_at, t->answered_at);
    assert_int_equal(s->csat, t->csat);
    assert_int_equal(s->nps, t->nps);
    str_eq(s->comment, t->comment);
    str_eq(s->questions_json, t->questions_json);
    assert_string_equal(s->followup_case_id, t->followup_case_id);
    assert_int_equal(a->nshipments, b->nshipments);
    for (size_t i = 0; i < a->nshipments; i++) {
        assert_int_equal(a->shipments[i].direction, b->shipments[i].direction);
        str_eq(a->shipments[i].carrier, b->shipments[i].carrier);
        str_eq(a->shipments[i].tracking_no, b->shipments[i].tracking_no);
        assert_int_equal(a->shipments[i].at, b->shipments[i].at);
    }
    str_eq(a->resolution, b->resolution);
}

static void assert_order_equal(const as_order *a, const as_order *b) {
    assert_string_equal(a->order_id, b->order_id);
    assert_string_equal(a->buyer_id, b->buyer_id);
    assert_string_equal(a->merchant_id, b->merchant_id);
    assert_int_equal(a->paid_at, b->paid_at);
    assert_int_equal(a->delivered_at, b->delivered_at);
    assert_int_equal(a->shipping_cents, b->shipping_cents);
    assert_int_equal(a->nitems, b->nitems);
    for (size_t i = 0; i < a->nitems; i++) {
        assert_string_equal(a->items[i].sku, b->items[i].sku);
        assert_string_equal(a->items[i].category, b->items[i].category);
        assert_int_equal(a->items[i].price_cents, b->items[i].price_cents);
        assert_int_equal(a->items[i].qty, b->items[i].qty);
        str_eq(a->items[i].title, b->items[i].title);
    }
    str_eq(a->buyer.tier, b->buyer.tier);
    assert_int_equal(a->buyer.lifetime_spend_cents, b->buyer.lifetime_spend_cents);
    str_eq(a->buyer.phone, b->buyer.phone);
    str_eq(a->buyer.email, b->buyer.email);
    assert_int_equal(a->ntracking, b->ntracking);
    for (size_t i = 0; i < a->ntracking; i++) {
        assert_int_equal(a->tracking[i].status, b->tracking[i].status);
        assert_int_equal(a->tracking[i].at, b->tracking[i].at);
        str_eq(a->tracking[i].carrier, b->tracking[i].carrier);
        str_eq(a->tracking[i].tracking_no, b->tracking[i].tracking_no);
        str_eq(a->tracking[i].note, b->tracking[i].note);
    }
    assert_int_equal(a->nprices, b->nprices);
    for (size_t i = 0; i < a->nprices; i++) {
        assert_string_equal(a->prices[i].sku, b->prices[i].sku);
        assert_int_equal(a->prices[i].price_cents, b->prices[i].price_cents);
        assert_int_equal(a->prices[i].at, b->prices[i].at);
    }
    assert_int_equal(a->stall_reported_for, b->stall_reported_for);
}

static char *case_text(const as_case *c) {
    char *text = case_to_json(c, NULL);
    assert_non_null(text);
    return text;
}

static char *view_text(const as_case *c, const as_order *o) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    case_encode_view(c, o, jsonw_emitter(&w));
    char *text = tb_take(&tb, NULL);
    assert_non_null(text);
    return text;
}

static char *order_text(const as_order *o, int view, unsigned flags) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    if (view) order_encode_view(o, jsonw_emitter(&w));
    else order_encode(o, jsonw_emitter(&w), flags);
    char *text = tb_take(&tb, NULL);
    assert_non_null(text);
    return text;
}

/* Decodes text (must succeed) and returns the case. */
static void decode_case_ok(const char *text, as_case *c) {
    char err[256] = "";
    int rc = case_from_json(c, text, strlen(text), err, sizeof err);
    if (rc != 0) fail_msg("decode failed: %s", err);
}

static void decode_order_ok(const char *text, as_order *o) {
    char err[256] = "";
    int rc = order_from_json(o, text, strlen(text), err, sizeof err);
    if (rc != 0) fail_msg("decode failed: %s", err);
}

/* ---- golden round trips ---- */

/* Rule: the stored text is the API's shape, member order included; decoding
 * gives the same struct and encoding that gives the same bytes. */
static void full_case_round_trips_byte_for_byte(void **state) {
    (void)state;
    as_case c, back, copy;
    full_case(&c);
    char *text = case_text(&c);
    assert_string_equal(text, FULL_CASE_JSON);
    decode_case_ok(text, &back);
    assert_case_equal(&c, &back);
    char *again = case_text(&back);
    assert_string_equal(again, text);
    /* a deep copy is the same case, and outlives its source */
    assert_int_equal(case_copy(&copy, &c), 0);
    case_free(&c);
    char *copied = case_text(&copy);
    assert_string_equal(copied, FULL_CASE_JSON);
    free(copied);
    free(again);
    free(text);
    case_free(&back);
    case_free(&copy);
}

static void bare_case_writes_nulls_and_round_trips(void **state) {
    (void)state;
    as_case c, back;
    bare_case(&c);
    char *text = case_text(&c);
    assert_string_equal(text, BARE_CASE_JSON);
    decode_case_ok(text, &back);
    assert_case_equal(&c, &back);
    char *again = case_text(&back);
    assert_string_equal(again, text);
    free(again);
    free(text);
    case_free(&back);
    case_free(&c);
}

/* Rule: the core's own claims decision lists its holders even when there are
 * none (claimed_by: []), and that survives a round trip. */
static void core_decision_keeps_empty_holders(void **state) {
    (void)state;
    as_case c, back;
    bare_case(&c);
    c.decision.outcome = OUT_REJECT;
    c.decision.reason_code = strdup("already_claimed");
    snprintf(c.decision.module, sizeof c.decision.module, "core");
    snprintf(c.decision.function, sizeof c.decision.function, "claims");
    char *text = case_text(&c);
    assert_non_null(strstr(text, "\"decision\":{\"outcome\":\"reject\",\"reason_code\":\"already_claimed\","
                                 "\"message\":null,\"module\":\"core\",\"function\":\"claims\",\"at\":0,"
                                 "\"claimed_by\":[]}"));
    decode_case_ok(text, &back);
    char *again = case_text(&back);
    assert_string_equal(again, text);
    free(again);
    free(text);
    case_free(&back);
    case_free(&c);
}

static void full_order_round_trips_byte_for_byte(void **state) {
    (void)state;
    as_order o, back, copy;
    full_order(&o);
    char *text = order_to_json(&o, NULL);
    assert_non_null(text);
    assert_string_equal(text, FULL_ORDER_JSON);
    decode_order_ok(text, &back);
    assert_order_equal(&o, &back);
    char *again = order_to_json(&back, NULL);
    assert_string_equal(again, text);
    assert_int_equal(order_copy(&copy, &o), 0);
    order_free(&o);
    assert_order_equal(&copy, &back);
    free(again);
    free(text);
    order_free(&back);
    order_free(&copy);
}

/* Rule (SPEC section 5): every role but admin sees the buyer's phone and
 * email masked. */
static void order_masks_pii_on_request(void **state) {
    (void)state;
    as_order o;
    full_order(&o);
    char *masked = order_text(&o, 0, ORDER_MASK_PII);
    assert_string_equal(masked, MASKED_ORDER_JSON);
    char *plain = order_text(&o, 0, 0);
    assert_string_equal(plain, FULL_ORDER_JSON);
    free(masked);
    free(plain);
    order_free(&o);
}

/* ---- what earlier builds stored ---- */

/* Rule: a case as the previous build stored it decodes, unknown members
 * skipped and missing ones at their defaults; re-encoded it has today's
 * shape. */
static void case_from_previous_build_decodes_with_defaults(void **state) {
    (void)state;
    /* the previous build's skeleton after a review decision; no followup,
     * parent, survey questions, compensation or shipments members; a
     * decision that still carries shipping_paid_by; and a member no build
     * knows */
    static const char OLD[] =
        "{\"case_id\":\"C0000000007\",\"type\":\"refund_only\",\"status\":\"open\",\"stage\":\"manual_review\","
        "\"order_id\":\"O-9\",\"sku\":\"S-1\",\"qty\":null,\"buyer_id\":\"B-9\",\"merchant_id\":\"M-9\","
        "\"channel\":\"web\",\"reason\":\"not_as_described\",\"description\":null,\"opened\":false,"
        "\"photos\":[],\"queue\":\"after_sales\",\"priority\":3,\"skills\":[],\"assignee\":null,"
        "\"escalated\":false,\"created_at\":500,\"first_response_at\":null,\"resolved_at\":null,"
        "\"closed_at\":null,\"sla\":{\"first_response_due\":null,\"resolution_due\":9000,\"business\":true,"
        "\"breached\":[]},\"decision\":{\"outcome\":\"review\",\"reason_code\":\"manual_review\","
        "\"message\":\"needs a person\",\"shipping_paid_by\":\"merchant\",\"policy_version\":\"" VERSION "\","
        "\"module\":\"returns\",\"function\":\"evaluate\",\"at\":500},"
        "\"refund\":{\"approved_cents\":0,\"refunded_cents\":0},\"legacy_member\":{\"x\":1}}";
    as_case c;
    decode_case_ok(OLD, &c);
    assert_string_equal(c.case_id, "C0000000007");
    assert_int_equal(c.seq, 7);
    assert_int_equal(c.type, CASE_REFUND_ONLY);
    assert_int_equal(c.stage, STG_MANUAL_REVIEW);
    assert_int_equal(c.qty, AS_NONE);
    assert_null(c.description);
    assert_int_equal(c.updated_at, 500); /* missing: the creation time */
    assert_int_equal(c.followup, 0);
    assert_string_equal(c.parent_case_id, "");
    assert_int_equal(c.sla.first_response_due, AS_NONE);
    assert_int_equal(c.sla.resolution_due, 9000);
    assert_int_equal(c.decision.outcome, OUT_REVIEW);
    assert_string_equal(c.decision.message, "needs a person");
    assert_int_equal(c.decision.nclaimed_by, 0);
    assert_int_equal(c.refund.shipping_paid_by, PAYER_NONE); /* refund had none */
    assert_int_equal(c.compensation.coupon_cents, AS_NONE);
    assert_int_equal(c.survey.due_at, AS_NONE);
    assert_int_equal(c.survey.csat, AS_NONE);
    assert_int_equal(c.survey.sent_at, AS_NONE);
    assert_null(c.survey.questions_json);
    assert_int_equal(c.nshipments, 0);
    assert_null(c.resolution);
    char *text = case_text(&c);
    assert_null(strstr(text, "legacy_member"));
    assert_non_null(strstr(text, "\"decision\":{\"outcome\":\"review\",\"reason_code\":\"manual_review\","
                                 "\"message\":\"needs a person\",\"policy_version\":\"" VERSION "\","
                                 "\"module\":\"returns\",\"function\":\"evaluate\",\"at\":500},"));
    assert_non_null(strstr(text, "\"updated_at\":500,"));
    assert_non_null(strstr(text, "\"compensation\":null,\"survey\":{\"due_at\":null,\"csat\":null,"
                                 "\"nps\":null,\"comment\":null},\"shipments\":[]}"));
    free(text);
    case_free(&c);

    /* the smallest case any build wrote: identity and vocabulary only */
    static const char MINIMAL[] = "{\"case_id\":\"C12\",\"type\":\"complaint\",\"status\":\"resolved\","
                                  "\"stage\":\"resolved\",\"channel\":\"phone\",\"reason\":\"attitude\","
                                  "\"decision\":null,\"refund\":null,\"sla\":null,\"survey\":null}";
    decode_case_ok(MINIMAL, &c);
    assert_int_equal(c.seq, 12);
    assert_int_equal(c.priority, 3);
    assert_int_equal(c.created_at, 0);
    assert_int_equal(c.decision.outcome, OUT_NONE);
    assert_int_equal(c.refund.approved_cents, 0);
    assert_int_equal(c.sla.resolution_due, AS_NONE);
    assert_int_equal(c.survey.due_at, AS_NONE);
    assert_int_equal(c.nphotos, 0);
    case_free(&c);
}

/* Rule: orders no longer carry case_ids (cases are found through the index):
 * an old order's list is skipped, its null delivery and missing members take
 * their defaults. */
static void order_from_previous_build_decodes_with_defaults(void **state) {
    (void)state;
    static const char OLD[] =
        "{\"order_id\":\"O-9\",\"buyer_id\":\"B-9\",\"merchant_id\":\"M-9\",\"paid_at\":100,"
        "\"delivered_at\":null,\"shipping_cents\":800,"
        "\"items\":[{\"sku\":\"S-1\",\"category\":\"apparel\",\"price_cents\":4900,\"qty\":1,\"title\":null},"
        "{\"sku\":\"S-2\",\"category\":\"food\",\"price_cents\":100}],"
        "\"buyer\":{},\"case_ids\":[\"C0000000007\",\"C0000000008\"]}";
    as_order o;
    decode_order_ok(OLD, &o);
    assert_int_equal(o.delivered_at, AS_NONE);
    assert_int_equal(o.nitems, 2);
    assert_null(o.items[0].title);
    assert_int_equal(o.items[1].qty, 1); /* missing: one */
    assert_null(o.buyer.tier);
    assert_int_equal(o.buyer.lifetime_spend_cents, AS_NONE);
    assert_null(o.buyer.phone);
    assert_int_equal(o.ntracking, 0);
    assert_int_equal(o.nprices, 0);
    assert_int_equal(o.stall_reported_for, AS_NONE);
    char *text = order_to_json(&o, NULL);
    assert_string_equal(text,
                        "{\"order_id\":\"O-9\",\"buyer_id\":\"B-9\",\"merchant_id\":\"M-9\",\"paid_at\":100,"
                        "\"delivered_at\":null,\"shipping_cents\":800,"
                        "\"items\":[{\"sku\":\"S-1\",\"category\":\"apparel\",\"price_cents\":4900,\"qty\":1},"
                        "{\"sku\":\"S-2\",\"category\":\"food\",\"price_cents\":100,\"qty\":1}],"
                        "\"buyer\":{},\"tracking\":[],\"prices\":{}}");
    free(text);
    order_free(&o);
}

/* ---- malformed documents ---- */

static void expect_case_error(const char *text, const char *want) {
    as_case c;
    char err[256] = "";
    assert_int_equal(case_from_json(&c, text, strlen(text), err, sizeof err), -1);
    if (strstr(err, want) == NULL) fail_msg("error '%s' does not name '%s'", err, want);
    /* a failed decode leaves the case blank: nothing to free, nothing kept */
    assert_null(c.description);
    assert_null(c.photos);
    assert_null(c.decision.reason_code);
    assert_string_equal(c.case_id, "");
    case_free(&c);
}

#define BASE_HEAD "{\"case_id\":\"C1\",\"status\":\"open\",\"stage\":\"new\",\"channel\":\"chat\",\"reason\":\"other\","

/* Rule: an unknown name in a closed vocabulary, or a member that cannot be
 * what it claims, fails the decode with an error naming the member (the store
 * reports such a record as damaged, never as a blank case). */
static void malformed_cases_fail_naming_the_field(void **state) {
    (void)state;
    expect_case_error(BASE_HEAD "\"type\":\"retrun\"}", "type: is not a known value");
    expect_case_error(BASE_HEAD "\"type\":3}", "type: is not a known value");
    expect_case_error("{\"case_id\":\"C1\",\"type\":\"return\",\"stage\":\"new\",\"channel\":\"chat\","
                      "\"reason\":\"other\"}",
                      "status: is not a known value"); /* required: missing is an error */
    expect_case_error(BASE_HEAD "\"type\":\"return\",\"description\":\"x\",\"sla\":{\"breached\":[\"lunch\"]}}",
                      "sla.breached: is not a known target");
    expect_case_error(BASE_HEAD "\"type\":\"return\",\"decision\":{\"outcome\":\"maybe\"}}",
                      "outcome: is not a known value");
    expect_case_error(BASE_HEAD "\"type\":\"return\",\"refund\":{\"shipping_paid_by\":\"platform\"}}",
                      "shipping_paid_by: is not a known value");
    expect_case_error(BASE_HEAD "\"type\":\"return\",\"shipments\":[{\"direction\":\"sideways\"}]}",
                      "direction: is not a known value");
    expect_case_error("{\"case_id\":\"X1\",\"type\":\"return\",\"status\":\"open\",\"stage\":\"new\","
                      "\"channel\":\"chat\",\"reason\":\"other\"}",
                      "case_id: is not a case id");
    expect_case_error(BASE_HEAD "\"type\":\"return\",\"channel\":\"fax\"}", "channel: is not a known value");
    char long_id[400];
    snprintf(long_id, sizeof long_id, BASE_HEAD "\"type\":\"return\",\"order_id\":\"%0200d\"}", 7);
    expect_case_error(long_id, "order_id: is too long");
    expect_case_error("[1,2]", "a case must be a JSON object");
    expect_case_error("{\"case_id\":", "stored case is not JSON");
}

static void malformed_orders_fail_naming_the_field(void **state) {
    (void)state;
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"{\"order_id\":\"O\",\"tracking\":[{\"status\":\"lost\",\"at\":1}]}", "status: is not a known value"},
        {"{\"order_id\":\"O\",\"tracking\":[{\"at\":1}]}", "status: is not a known value"},
        {"[1]", "an order must be a JSON object"},
        {"{", "stored order is not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        as_order o;
        char err[256] = "";
        assert_int_equal(order_from_json(&o, bad[i].text, strlen(bad[i].text), err, sizeof err), -1);
        if (strstr(err, bad[i].want) == NULL) fail_msg("error '%s' does not name '%s'", err, bad[i].want);
        assert_int_equal(o.ntracking, 0);
        assert_null(o.tracking);
        order_free(&o);
    }
}

/* ---- views ---- */

/* Rule: a policy sees the stored shape without nulls (absent is nil), with
 * the order line as case.item and escalated/followup always present. */
static void case_view_omits_nulls_and_adds_item(void **state) {
    (void)state;
    as_case c;
    as_order o;
    bare_case(&c);
    full_order(&o);
    AS_IDSET(c.order_id, "O-1");
    AS_IDSET(c.sku, "SKU-2");
    c.decision.outcome = OUT_REVIEW; /* a decision without code or message */
    char *text = view_text(&c, &o);
    assert_string_equal(
        text, "{\"case_id\":\"C0000000001\",\"type\":\"consultation\",\"status\":\"open\",\"stage\":\"new\","
              "\"order_id\":\"O-1\",\"sku\":\"SKU-2\",\"buyer_id\":\"B-1\",\"channel\":\"chat\",\"reason\":\"other\","
              "\"opened\":false,\"photos\":[],\"queue\":\"customer_service\",\"priority\":3,\"skills\":[],"
              "\"escalated\":false,\"followup\":false,\"created_at\":100,\"updated_at\":100,"
              "\"sla\":{\"business\":false,\"breached\":[],\"warnings\":[],\"escalation\":{\"level\":0}},"
              "\"decision\":{\"outcome\":\"review\",\"at\":0},"
              "\"refund\":{\"approved_cents\":0,\"refunded_cents\":0},\"survey\":{},\"shipments\":[],"
              "\"item\":{\"sku\":\"SKU-2\",\"category\":\"food\",\"price_cents\":500,\"qty\":3}}");
    assert_null(strstr(text, "null"));
    free(text);

    /* the full case: same members as stored, item appended (with its title) */
    case_free(&c);
    full_case(&c);
    text = view_text(&c, &o);
    size_t stored_len = strlen(FULL_CASE_JSON);
    assert_memory_equal(text, FULL_CASE_JSON, stored_len - 1);
    assert_string_equal(text + stored_len - 1,
                        ",\"item\":{\"sku\":\"SKU-1\",\"category\":\"electronics\",\"price_cents\":9900,"
                        "\"qty\":2,\"title\":\"Phone \\\"X\\\"\"}}");
    free(text);

    /* no order, or a sku the order lacks: no item */
    text = view_text(&c, NULL);
    assert_null(strstr(text, "\"item\""));
    free(text);
    AS_IDSET(c.sku, "SKU-404");
    text = view_text(&c, &o);
    assert_null(strstr(text, "\"item\""));
    free(text);
    case_free(&c);
    order_free(&o);
}

/* Rule: policies never see the buyer's phone or email. */
static void order_view_hides_phone_and_email(void **state) {
    (void)state;
    as_order o;
    full_order(&o);
    char *text = order_text(&o, 1, 0);
    assert_string_equal(text, FULL_ORDER_HEAD "\"buyer\":{\"tier\":\"vip\",\"lifetime_spend_cents\":2000000},"
                                              FULL_ORDER_TAIL);
    assert_null(strstr(text, "13812345678"));
    assert_null(strstr(text, "example.com"));
    free(text);
    /* undelivered: delivered_at is absent (nil), not null */
    o.delivered_at = AS_NONE;
    text = order_text(&o, 1, 0);
    assert_null(strstr(text, "delivered_at"));
    free(text);
    order_free(&o);
}

/* ---- PII masks ---- */

static void expect_mask(void (*mask)(const char *, char *, size_t), const char *in, const char *want) {
    char out[300];
    memset(out, 'x', sizeof out);
    mask(in, out, sizeof out);
    if (strcmp(out, want) != 0) fail_msg("mask(%s) = %s, want %s", in, out, want);
    json_t *s = json_string(out); /* never cut inside a character: still UTF-8 */
    assert_non_null(s);
    json_decref(s);
}

/* Rule (SPEC section 5): 13812345678 -> 138****5678; a shorter number shows
 * only its last two, a very short one nothing; characters, not bytes. */
static void phone_mask(void **state) {
    (void)state;
    expect_mask(mask_phone, "13812345678", "138****5678");
    expect_mask(mask_phone, "+8613812345678", "+86****5678");
    expect_mask(mask_phone, "0123456789", "****89");
    expect_mask(mask_phone, "12345678", "****78");
    expect_mask(mask_phone, "1234567", "****");
    expect_mask(mask_phone, "12", "****");
    expect_mask(mask_phone, "", "****");
    /* full-width digits: 3 bytes each, cut between characters */
    expect_mask(mask_phone,
                "\xEF\xBC\x91\xEF\xBC\x93\xEF\xBC\x98\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93\xEF\xBC\x94"
                "\xEF\xBC\x95\xEF\xBC\x96\xEF\xBC\x97\xEF\xBC\x98",
                "\xEF\xBC\x91\xEF\xBC\x93\xEF\xBC\x98****\xEF\xBC\x95\xEF\xBC\x96\xEF\xBC\x97\xEF\xBC\x98");
}

/* Rule: jane@example.com -> j***@example.com; without a local part or an
 * '@' nothing is shown. */
static void email_mask(void **state) {
    (void)state;
    expect_mask(mask_email, "jane@example.com", "j***@example.com");
    expect_mask(mask_email, "j@x.cn", "j***@x.cn");
    expect_mask(mask_email, "\xE5\xBC\xA0\xE4\xB8\x89@\xE4\xBE\x8B\xE5\xAD\x90.\xE4\xB8\xAD\xE5\x9B\xBD",
                "\xE5\xBC\xA0***@\xE4\xBE\x8B\xE5\xAD\x90.\xE4\xB8\xAD\xE5\x9B\xBD");
    expect_mask(mask_email, "\xF0\x9F\x98\x80x@mail.com", "\xF0\x9F\x98\x80***@mail.com");
    expect_mask(mask_email, "no-at-sign", "***");
    expect_mask(mask_email, "@example.com", "***");
    expect_mask(mask_email, "", "***");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_case_round_trips_byte_for_byte),
        cmocka_unit_test(bare_case_writes_nulls_and_round_trips),
        cmocka_unit_test(core_decision_keeps_empty_holders),
        cmocka_unit_test(full_order_round_trips_byte_for_byte),
        cmocka_unit_test(order_masks_pii_on_request),
        cmocka_unit_test(case_from_previous_build_decodes_with_defaults),
        cmocka_unit_test(order_from_previous_build_decodes_with_defaults),
        cmocka_unit_test(malformed_cases_fail_naming_the_field),
        cmocka_unit_test(malformed_orders_fail_naming_the_field),
        cmocka_unit_test(case_view_omits_nulls_and_adds_item),
        cmocka_unit_test(order_view_hides_phone_and_email),
        cmocka_unit_test(phone_mask),
        cmocka_unit_test(email_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
