/* case/open: opening a case (POST /v1/cases, dry-run, and the cases the
 * server opens by itself).
 *
 * Bind the input to its order line, take the line's share in the claims
 * ledger, then ask the policies in a fixed order on one set of views:
 * eligibility (returns.evaluate, and the shadow set beside it), the refund for
 * money-only types, routing, SLA targets, goodwill; assign an agent. A claim
 * on a line that has not that much left is rejected by the core itself
 * (already_claimed, naming the cases that hold it): no policy can approve
 * money the order no longer has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

#define DAY 86400

/* Fills buyer, merchant, sku and qty from the order; an input that
 * contradicts it is an error naming the field. */
static int bind_to_order(as_case *c, const case_input *in, const as_order *o, const as_ledger *l,
                         as_error *err) {
    if (in->buyer_id && strcmp(in->buyer_id, o->buyer_id) != 0)
        return as_fail(err, AS_EINVAL, "buyer_id", "buyer_id: is not the order's buyer");
    if (in->merchant_id && strcmp(in->merchant_id, o->merchant_id) != 0)
        return as_fail(err, AS_EINVAL, "merchant_id", "merchant_id: is not the order's merchant");
    AS_IDSET(c->buyer_id, o->buyer_id);
    AS_IDSET(c->merchant_id, o->merchant_id);
    AS_IDSET(c->order_id, o->order_id);
    const as_item *item = order_item(o, in->sku);
    if (item == NULL && (in->sku != NULL || case_type_needs_decision(in->type)))
        return as_fail(err, AS_EINVAL, "sku", in->sku ? "sku: is not on the order"
                                                      : "sku: is required: the order has several items");
    if (item == NULL) return 0;
    AS_IDSET(c->sku, item->sku);
    if (in->qty != AS_NONE && in->qty > item->qty)
        return as_fail(err, AS_EINVAL, "qty", "qty: %lld is more than the order line's quantity (%lld)",
                       (long long)in->qty, (long long)item->qty);
    c->qty = in->qty != AS_NONE ? in->qty : item->qty;
    if (in->qty == AS_NONE && case_type_claims_goods(in->type)) {
        /* no quantity given: the claim is for what is left of the line */
        claim_room room;
        claims_room(l, o, item, "", &room);
        if (room.qty > 0) c->qty = room.qty;
    }
    return 0;
}

static as_case *skeleton(const as_decider *d, const case_input *in, uint64_t seq) {
    as_case *c = malloc(sizeof *c);
    if (c == NULL) return NULL;
    case_init(c);
    c->seq = seq;
    case_id_format(seq, c->case_id);
    c->type = in->type;
    c->status = ST_OPEN;
    c->stage = STG_NEW;
    c->reason = in->reason;
    c->channel = in->channel;
    c->opened = in->opened;
    c->created_at = c->updated_at = d->now;
    if (in->buyer_id) AS_IDSET(c->buyer_id, in->buyer_id);
    if (in->merchant_id) AS_IDSET(c->merchant_id, in->merchant_id);
    int failed = as_strset(&c->description, in->description) != 0;
    if (in->nphotos > 0 && (c->photos = calloc(in->nphotos, sizeof *c->photos)) == NULL) failed = 1;
    for (size_t i = 0; !failed && i < in->nphotos; i++) {
        if ((c->photos[i] = strdup(in->photos[i])) == NULL) failed = 1;
        else c->nphotos++;
    }
    if (failed) {
        case_free(c);
        free(c);
        return NULL;
    }
    return c;
}

/* The decision the core itself makes (module "core"): claims beyond the line. */
static void core_decision(as_case *c, const as_decider *d, as_outcome outcome, const char *code,
                          const char *message) {
    as_decision *dec = &c->decision;
    dec->outcome = outcome;
    as_strset(&dec->reason_code, code);
    as_strset(&dec->message, message);
    snprintf(dec->policy_version, sizeof dec->policy_version, "%s", policy_set_version(d->policies));
    snprintf(dec->module, sizeof dec->module, "core");
    snprintf(dec->function, sizeof dec->function, "claims");
    dec->at = d->now;
}

/* already_claimed: rejected, naming the active cases that hold the line. */
static void reject_claimed(as_case *c, const as_decider *d, const as_ledger *l, const as_order *o,
                           as_changes *ch) {
    claim_room room;
    claims_room(l, o, order_item(o, c->sku), c->case_id, &room);
    char msg[512], holders[300] = "";
    size_t len = 0;
    for (size_t i = 0; i < room.nholders; i++)
        len += (size_t)snprintf(holders + len, sizeof holders - len, "%s%s", i ? ", " : "", room.holders[i]);
    if (c->type == CASE_PRICE_PROTECTION)
        snprintf(msg, sizeof msg, "already_claimed: the price drop of sku %s is already claimed%s%s",
                 c->sku, room.nholders ? " by open case " : "", holders);
    else
        snprintf(msg, sizeof msg, "already_claimed: %lld of sku %s asked, %lld left of the line%s%s%s",
                 (long long)c->qty, c->sku, (long long)room.qty,
                 room.nholders ? "; held by open cases " : "", holders, room.more_holders ? " and more" : "");
    core_decision(c, d, OUT_REJECT, "already_claimed", msg);
    if (room.nholders && (c->decision.claimed_by = calloc(room.nholders, sizeof(char *))) != NULL)
        for (size_t i = 0; i < room.nholders; i++)
            if ((c->decision.claimed_by[c->decision.nclaimed_by] = strdup(room.holders[i])) != NULL)
                c->decision.nclaimed_by++;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "reason_code", "already_claimed");
    emit_kstr(e, "message", msg);
    emit_kint(e, "qty_left", room.qty);
    emit_kint(e, "money_left_cents", room.line_cents);
    emit_key(e, "claimed_by");
    emit_array(e);
    for (size_t i = 0; i < room.nholders; i++) emit_str(e, room.holders[i]);
    emit_array_end(e);
    note_from(ch, "claims.rejected", NULL, d->now, &m);
}

/* The approved amount of a claim, capped by what its line (and the shipping,
 * where the merchant pays it) has left across the order's other cases. */
int64_t claims_cap_amount(const as_decider *d, as_changes *ch, const as_ledger *l, const as_order *o,
                          const as_case *c, int64_t amount) {
    int64_t max = claims_max_approval(l, o, c);
    if (amount <= max) return amount;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kint(e, "asked_cents", amount);
    emit_kint(e, "approved_cents", max);
    emit_kstr(e, "message", "the refund is capped by what the order line has left after its other cases");
    note_from(ch, "claims.capped", NULL, d->now, &m);
    return max;
}

/* The shadow's eligibility against the active decision (rc: decide_shadow's). */
static void shadow_count(as_shadow_tally *t, int rc, const policy_result *sh, const as_decision *dec) {
    if (t == NULL || rc == 1) return;
    t->evaluated++;
    if (rc != 0) {
        t->errors++;
        return;
    }
    const char *outcome = sh->f[EV_OUTCOME].present ? sh->f[EV_OUTCOME].s : NULL;
    const char *reason = sh->f[EV_REASON_CODE].present ? sh->f[EV_REASON_CODE].s : NULL;
    t->agreed += outcome && outcome_from_name(outcome) == (int)dec->outcome && reason && dec->reason_code &&
                 strcmp(reason, dec->reason_code) == 0;
}

/* Eligibility, the shadow set's opinion, and the refund for money-only types
 * approved at once. */
static void decide_eligibility(decide_req *q, as_case *c, as_ledger *l, const as_order *o) {
    static const decide_arg args[] = {ARG_CASE, ARG_ORDER};
    policy_result r;
    int ok = decide_call(q, "returns", "evaluate", args, 2, NULL, SCHEMA_EVALUATE, NFIELDS(SCHEMA_EVALUATE), &r) == 0;
    policy_result sh;
    int shadow = decide_shadow(q, "returns", "evaluate", args, 2, SCHEMA_EVALUATE, NFIELDS(SCHEMA_EVALUATE), &sh);
    int outcome = ok && r.f[EV_OUTCOME].present ? outcome_from_name(r.f[EV_OUTCOME].s) : -1;
    as_decision *dec = &c->decision;
    if (ok && (outcome <= OUT_NONE)) {
        decide_answer_error(q, "returns", "evaluate", "outcome must be approve, reject or review");
        ok = 0;
    }
    int payer = ok && r.f[EV_SHIPPING_PAID_BY].present ? payer_from_name(r.f[EV_SHIPPING_PAID_BY].s) : -1;
    if (ok && r.f[EV_SHIPPING_PAID_BY].present && payer <= PAYER_NONE)
        decide_answer_error(q, "returns", "evaluate", "shipping_paid_by must be buyer or merchant");
    if (payer > PAYER_NONE) c->refund.shipping_paid_by = (as_payer)payer;
    if (ok) {
        dec->outcome = (as_outcome)outcome;
        as_strset(&dec->reason_code, r.f[EV_REASON_CODE].s);
        as_strset(&dec->message, r.f[EV_MESSAGE].s);
    } else {
        dec->outcome = OUT_REVIEW;
        as_strset(&dec->reason_code, "policy_error");
        as_strset(&dec->message, "the eligibility policy failed; the case waits for a person");
    }
    policy_result_free(&r);
    shadow_count(q->d->shadow_tally, shadow, &sh, dec);
    policy_result_free(&sh);
    snprintf(dec->policy_version, sizeof dec->policy_version, "%s", policy_set_version(q->d->policies));
    snprintf(dec->module, sizeof dec->module, "returns");
    snprintf(dec->function, sizeof dec->function, "evaluate");
    dec->at = q->d->now;
    if (dec->outcome != OUT_APPROVE || (c->type != CASE_REFUND_ONLY && c->type != CASE_PRICE_PROTECTION)) return;
    int64_t amount;
    if (step_refund_amount(q, &amount) != 0) { /* no amount: a person decides, and the decision says so */
        dec->outcome = OUT_REVIEW;
        as_strset(&dec->reason_code, "policy_error");
        as_strset(&dec->message, "eligible, but the refund policy failed; the case waits for a person");
        return;
    }
    amount = claims_cap_amount(q->d, q->ch, l, o, c, amount);
    if (amount == 0) {
        reject_claimed(c, q->d, l, o, q->ch);
        return;
    }
    claims_approve(l, o, c, amount);
    c->refund.approved_cents = amount;
}

/* Complaint spikes: the complaint that brings its sku's or its merchant's
 * 24-hour count to risk.rules' threshold raises the alert (once: the counts
 * are exact, so only one complaint reaches it). Survey follow-ups are the
 * platform's own cases, not complaints from buyers, and do not count. */
static void complaint_spikes(const as_decider *d, as_case *c, as_changes *ch) {
    if (c->type != CASE_COMPLAINT || c->followup || !c->merchant_id[0] || d->reads == NULL ||
        d->reads->complaints == NULL)
        return;
    ch->complaint = 1;
    struct {
        const char *scope, *rule, *what;
        const char *sku;
        int64_t dflt;
    } scopes[] = {{"sku", "complaints_per_sku_24h", c->sku, c->sku, 5},
                  {"merchant", "complaints_per_merchant_24h", c->merchant_id, NULL, 20}};
    for (size_t i = 0; i < 2; i++) {
        if (i == 0 && !c->sku[0]) continue;
        int64_t limit = risk_rule(d, c->merchant_id, scopes[i].rule, scopes[i].dflt);
        int64_t n = d->reads->complaints(d->reads->ud, c->merchant_id, scopes[i].sku, d->now - DAY) + 1;
        if (n != limit) continue;
        members_w m;
        emitter *e = mw_begin(&m);
        emit_kstr(e, "scope", scopes[i].scope);
        emit_kint(e, "count", n);
        emit_kint(e, "threshold", limit);
        changes_alert(ch, "complaint_spike", d->now, mw_take(&m), "complaint_spike: %lld complaints about %s %s in 24 h",
                      (long long)n, scopes[i].scope, scopes[i].what);
    }
}

/* What every opening shares once the case exists: the created note first,
 * then decisions, routing, SLA, goodwill, assignment, the feed event. */
static void open_common(decide_req *q, as_case *c, as_ledger *l, const as_order *o) {
    const as_decider *d = q->d;
    if (case_type_needs_decision(c->type) && o) {
        c->refund.shipping_paid_by = case_reason_merchant_fault(c->reason) ? PAYER_MERCHANT : PAYER_BUYER;
        if (claims_hold(l, o, c) != 0) reject_claimed(c, d, l, o, q->ch);
        else decide_eligibility(q, c, l, o);
        if (c->decision.outcome == OUT_REJECT) claims_settle(l, c);
    }
    case_initial_state(c->type, c->decision.outcome, &c->status, &c->stage);
    if (c->decision.outcome == OUT_REJECT && strcmp(c->decision.module, "core") == 0) c->stage = STG_ALREADY_CLAIMED;
    if (c->status == ST_REJECTED) c->resolved_at = d->now;
    step_route(q, c);
    step_sla(q, c);
    step_compensate(q, c);
    if (case_status_active(c->status)) step_assign(d, q->ch, q->who, c, "routing");
    complaint_spikes(d, c, q->ch);
    risk_on_return(d, c, o, q->ch);
    members_w m;
    mw_begin(&m);
    event_from(q->ch, "case.created", d->now, &m, EV_CASE_IS_DATA);
}

static void created_note(as_changes *ch, const as_case *c, const as_actor *who, int64_t now) {
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "type", case_type_name(c->type));
    emit_kstr(e, "channel", case_channel_name(c->channel));
    emit_kstr(e, "reason", case_reason_name(c->reason));
    if (c->parent_case_id[0]) emit_kstr(e, "parent_case_id", c->parent_case_id);
    note_from(ch, "case.created", who, now, &m);
}

/* Runs the opening of c into out (which takes c). */
static int open_into(const as_decider *d, as_case *c, const as_order *o, const as_ledger *ledger,
                     const as_actor *who, as_changes *out) {
    as_ledger *l = calloc(1, sizeof *l);
    if (l == NULL || ledger_copy(l, ledger) != 0) {
        free(l);
        case_free(c);
        free(c);
        return -1;
    }
    out->after = c;
    out->ledger = l;
    created_note(out, c, who, d->now);
    decide_req q;
    decide_begin(&q, d, out, who, c, o);
    open_common(&q, c, l, o);
    decide_end(&q);
    return out->failed ? -1 : 0;
}

int case_open(const as_decider *d, const case_input *in, const as_order *order, const as_ledger *ledger,
              const as_actor *who, uint64_t seq, as_changes *out, as_error *err) {
    static const as_ledger none;
    changes_init(out);
    as_case *c = skeleton(d, in, seq);
    if (c == NULL) return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    if (order && bind_to_order(c, in, order, ledger ? ledger : &none, err) != 0) {
        case_free(c);
        free(c);
        return -1;
    }
    if (open_into(d, c, order, ledger ? ledger : &none, who, out) != 0) {
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    return 0;
}

int case_open_system(const as_decider *d, const system_case *sc, as_changes *parent) {
    case_input in = {.type = sc->type, .reason = sc->reason, .channel = CH_SYSTEM, .qty = AS_NONE,
                     .description = sc->description, .order_id = sc->order ? sc->order->order_id : NULL,
                     .buyer_id = sc->buyer_id, .merchant_id = sc->merchant_id};
    as_changes *ch = calloc(1, sizeof *ch);
    as_case *c = ch ? skeleton(d, &in, (*d->next_case_seq)++) : NULL;
    if (c == NULL) {
        free(ch);
        parent->failed = 1;
        return -1;
    }
    changes_init(ch);
    if (sc->order) {
        AS_IDSET(c->order_id, sc->order->order_id);
        AS_IDSET(c->buyer_id, sc->order->buyer_id);
        AS_IDSET(c->merchant_id, sc->order->merchant_id);
        const as_item *item = order_item(sc->order, sc->sku);
        if (item) {
            AS_IDSET(c->sku, item->sku);
            c->qty = item->qty;
        }
    }
    c->followup = sc->followup;
    if (sc->parent_case_id) AS_IDSET(c->parent_case_id, sc->parent_case_id);
    static const as_ledger none;
    int rc = open_into(d, c, sc->order, &none, NULL, ch);
    if (rc == 0 && sc->queue && as_id_valid(sc->queue) && strcmp(sc->queue, ch->after->queue) != 0) {
        AS_IDSET(ch->after->queue, sc->queue);
        step_assign(d, ch, NULL, ch->after, "routing");
    }
    if (ch->ledger) { /* a system case claims nothing: no ledger to store */
        ledger_free(ch->ledger);
        free(ch->ledger);
        ch->ledger = NULL;
    }
    ch->next = parent->spawned;
    parent->spawned = ch;
    if (rc != 0) parent->failed = 1;
    return rc;
}
