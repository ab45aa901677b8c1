/* case/replay: see replay.h. */
#include "case/replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "case/claims.h"
#include "case/records.h"

static const char *const MODULE_NAMES[RM__COUNT] = {"eligibility", "refund", "compensation", "routing", "sla"};

const char *replay_module_name(replay_module m) { return m < RM__COUNT ? MODULE_NAMES[m] : NULL; }

int replay_eligible(const as_case *c) {
    return case_type_needs_decision(c->type) && strcmp(c->decision.module, "core") != 0;
}

typedef struct {
    store_read *rd;
    uint64_t before_seq;
    int64_t now;
} replay_reads;

static int replay_customer(void *ud, const char *merchant_id, const char *buyer_id, as_customer *out) {
    replay_reads *r = ud;
    return customer_read_in(r->rd, merchant_id, buyer_id, r->now, r->before_seq, out);
}

static int64_t replay_complaints(void *ud, const char *merchant_id, const char *sku, int64_t since) {
    (void)ud, (void)merchant_id, (void)sku, (void)since;
    return 0; /* a replay opens nothing: no spike is reached */
}

/* The stored case as the input that opened it. */
static void input_of(const as_case *c, case_input *in) {
    *in = (case_input){.type = c->type, .order_id = c->order_id[0] ? c->order_id : NULL,
                       .buyer_id = c->buyer_id[0] ? c->buyer_id : NULL,
                       .merchant_id = c->merchant_id[0] ? c->merchant_id : NULL, .sku = c->sku[0] ? c->sku : NULL,
                       .description = c->description, .qty = c->qty, .reason = c->reason, .channel = c->channel,
                       .opened = c->opened, .photos = (const char *const *)c->photos, .nphotos = c->nphotos};
}

int replay_open(store_read *rd, policy_set *ps, const as_case *c, as_changes *ch, as_error *err) {
    as_order order;
    int has_order = c->order_id[0] && order_read(rd, c->order_id, &order) == 0;
    if (!has_order) {
        order_free(&order);
        order_init(&order);
    }
    replay_reads rr = {rd, c->seq, c->created_at};
    as_reads reads = {.ud = &rr, .customer = replay_customer, .complaints = replay_complaints};
    uint64_t scratch = c->seq;
    as_decider d = {.policies = ps, .now = c->created_at, .reads = &reads, .next_case_seq = &scratch};
    case_input in;
    input_of(c, &in);
    as_ledger none; /* the opening as it was: no claims on the line yet */
    ledger_init(&none);
    int rc = case_open(&d, &in, has_order ? &order : NULL, &none, NULL, c->seq, ch, err);
    ledger_free(&none);
    order_free(&order);
    return rc;
}

static int64_t after_creation(int64_t due, int64_t created) { return due == AS_NONE ? -1 : due - created; }

void replay_view_of(const as_case *c, replay_view *v) {
    memset(v, 0, sizeof *v);
    v->outcome = c->decision.outcome;
    snprintf(v->reason_code, sizeof v->reason_code, "%s", c->decision.reason_code ? c->decision.reason_code : "");
    v->refund_cents = c->refund.approved_cents > 0 ? c->refund.approved_cents : 0;
    v->coupon_cents = c->compensation.coupon_cents != AS_NONE ? c->compensation.coupon_cents : 0;
    AS_IDSET(v->queue, c->queue);
    v->priority = c->priority;
    v->first_response_s = after_creation(c->sla.first_response_due, c->created_at);
    v->resolution_s = after_creation(c->sla.resolution_due, c->created_at);
}

static void seconds(char *buf, size_t len, int64_t s) {
    if (s < 0) snprintf(buf, len, "-");
    else snprintf(buf, len, "%" PRId64 "s", s);
}

void replay_label(const replay_view *v, replay_module m, char *buf, size_t len) {
    char a[32], b[32];
    switch (m) {
    case RM_ELIGIBILITY: snprintf(buf, len, "%s", v->outcome == OUT_NONE ? "none" : outcome_name(v->outcome)); break;
    case RM_REFUND: snprintf(buf, len, "%s", v->refund_cents > 0 ? "approved" : "none"); break;
    case RM_COMPENSATION: snprintf(buf, len, "%s", v->coupon_cents > 0 ? "coupon" : "none"); break;
    case RM_ROUTING: snprintf(buf, len, "%s/p%" PRId64, v->queue[0] ? v->queue : "-", v->priority); break;
    case RM_SLA:
        seconds(a, sizeof a, v->first_response_s);
        seconds(b, sizeof b, v->resolution_s);
        snprintf(buf, len, "%s/%s", a, b);
        break;
    default: snprintf(buf, len, "?");
    }
}

int replay_differs(const replay_view *a, const replay_view *b, replay_module m) {
    switch (m) {
    case RM_ELIGIBILITY: return a->outcome != b->outcome || strcmp(a->reason_code, b->reason_code) != 0;
    case RM_REFUND: return a->refund_cents != b->refund_cents;
    case RM_COMPENSATION: return a->coupon_cents != b->coupon_cents;
    case RM_ROUTING: return strcmp(a->queue, b->queue) != 0 || a->priority != b->priority;
    case RM_SLA: return a->first_response_s != b->first_response_s || a->resolution_s != b->resolution_s;
    default: return 0;
    }
}

void replay_view_encode(const replay_view *v, emitter *e) {
    emit_object(e);
    emit_key(e, "eligibility");
    emit_object(e);
    emit_kstr(e, "outcome", v->outcome == OUT_NONE ? NULL : outcome_name(v->outcome));
    emit_kstr(e, "reason_code", v->reason_code[0] ? v->reason_code : NULL);
    emit_object_end(e);
    emit_kint(e, "refund_cents", v->refund_cents);
    emit_kint(e, "coupon_cents", v->coupon_cents);
    emit_key(e, "routing");
    emit_object(e);
    emit_kstr(e, "queue", v->queue[0] ? v->queue : NULL);
    emit_kint(e, "priority", v->priority);
    emit_object_end(e);
    emit_key(e, "sla");
    emit_object(e);
    emit_kopt(e, "first_response_s", v->first_response_s < 0 ? AS_NONE : v->first_response_s);
    emit_kopt(e, "resolution_s", v->resolution_s < 0 ? AS_NONE : v->resolution_s);
    emit_object_end(e);
    emit_object_end(e);
}
