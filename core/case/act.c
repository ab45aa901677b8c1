/* case/act: POST /v1/cases/{id}/actions as an operation.
 *
 * The state machine (machine.h) says whether an action is allowed and where
 * it leads; this file carries out each action's effect: settling reviews and
 * appeals, recording shipments and messages, asking the policies for refunds
 * and re-routing, keeping the order's claims ledger in step (a claim that
 * ends frees its share, an approval never takes more than the line has
 * left), adding up partial refunds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

typedef struct {
    const as_decider *d;
    const action_input *in;
    const as_actor *who;
    const as_case *before;
    as_case *c; /* the case being changed (out->after) */
    const as_order *o;
    as_ledger *l;
    as_changes *ch;
    decide_req q;
    const case_transition *row;
    int apply_target; /* 0 keeps status and stage (a partial refund) */
    as_error *err;
} act_ctx;

typedef int (*effect_fn)(act_ctx *ax);

/* Settling a review or an appeal: the decision names who settled it. */
static void settle_decision(act_ctx *ax, as_outcome outcome, const char *code) {
    as_decision *d = &ax->c->decision;
    char said[300], words[64];
    snprintf(words, sizeof words, "%s", code);
    for (char *p = words; *p; p++)
        if (*p == '_') *p = ' ';
    snprintf(said, sizeof said, "%s by %s%s%s", words, ax->who->role, ax->who->id[0] ? " " : "", ax->who->id);
    d->outcome = outcome;
    if (as_strset(&d->reason_code, code) != 0 ||
        as_strset(&d->message, ax->in->reason && ax->in->reason[0] ? ax->in->reason : said) != 0)
        ax->ch->failed = 1;
    snprintf(d->settled_role, sizeof d->settled_role, "%s", ax->who->role);
    AS_IDSET(d->settled_id, ax->who->id);
    d->at = ax->d->now;
}

static int claimed_error(act_ctx *ax) {
    const as_item *item = order_item(ax->o, ax->c->sku);
    if (item == NULL) /* the order was replaced without the case's line: nothing to measure against */
        return as_fail(ax->err, AS_EINVAL, "sku",
                       "sku: %s is no longer on order %s, so no money can be approved for it", ax->c->sku,
                       ax->o->order_id);
    claim_room room;
    claims_room(ax->l, ax->o, item, ax->c->case_id, &room);
    size_t len = 0;
    ax->err->holders[0] = '\0';
    for (size_t i = 0; i < room.nholders; i++)
        len += (size_t)snprintf(ax->err->holders + len, sizeof ax->err->holders - len, "%s%s", i ? "," : "",
                                room.holders[i]);
    return as_fail(ax->err, AS_ECLAIMED, NULL,
                   "already_claimed: the order line has %lld left (%lld cents); it is held by other cases",
                   (long long)room.qty, (long long)room.line_cents);
}

/* A claim that runs again (an approval of an appeal, a reopen) takes its
 * share of the line again, if the line still has it. */
static int hold_again(act_ctx *ax) {
    if (!case_type_needs_decision(ax->c->type) || ax->o == NULL || order_item(ax->o, ax->c->sku) == NULL)
        return 0;
    return claims_hold(ax->l, ax->o, ax->c) == 0 ? 0 : claimed_error(ax);
}

/* An explicit amount_cents (1 up to what the line has left), or
 * compensation.refund's amount capped the same way. */
static int approved_amount(act_ctx *ax, int64_t *amount) {
    int64_t max = ax->o ? claims_max_approval(ax->l, ax->o, ax->c) : 0;
    if (ax->o && max == 0) return claimed_error(ax);
    if (ax->in->amount_cents != AS_NONE) {
        if (ax->o == NULL || ax->in->amount_cents > max) {
            ax->err->limit = max;
            return as_fail(ax->err, AS_EINVAL, "amount_cents",
                           "amount_cents: %lld is more than the order line can refund (%lld cents: price x "
                           "quantity, plus shipping where the merchant pays it, less what its other cases took)",
                           (long long)ax->in->amount_cents, (long long)max);
        }
        *amount = ax->in->amount_cents;
        return 0;
    }
    if (step_refund_amount(&ax->q, amount) != 0)
        return as_fail(ax->err, AS_EPOLICY, NULL, "compensation.refund failed; pass amount_cents to settle by hand");
    if (*amount == 0)
        return as_fail(ax->err, AS_EPOLICY, NULL,
                       "compensation.refund approves 0 cents; pass amount_cents, or reject or resolve the case");
    *amount = claims_cap_amount(ax->d, ax->ch, ax->l, ax->o, ax->c, *amount);
    return 0;
}

static int approve_money(act_ctx *ax) {
    int64_t amount;
    if (approved_amount(ax, &amount) != 0) return -1;
    if (ax->o) claims_approve(ax->l, ax->o, ax->c, amount);
    ax->c->refund.approved_cents = amount;
    return 0;
}

static int fx_approve(act_ctx *ax) {
    int appeal = case_stage_is_appeal(ax->c->stage);
    if (hold_again(ax) != 0) return -1;
    if ((ax->c->type == CASE_REFUND_ONLY || ax->c->type == CASE_PRICE_PROTECTION) && approve_money(ax) != 0)
        return -1;
    settle_decision(ax, OUT_APPROVE, appeal ? "approved_on_appeal" : "approved_on_review");
    return 0;
}

static int fx_reject(act_ctx *ax) {
    settle_decision(ax, OUT_REJECT, case_stage_is_appeal(ax->c->stage) ? "rejected_on_appeal" : "rejected_on_review");
    return 0;
}

static int fx_cancel(act_ctx *ax) {
    if (ax->c->refund.refunded_cents > 0)
        return as_fail(ax->err, AS_EINVAL, "action",
                       "cancel: %lld cents were refunded already; resolve the case instead",
                       (long long)ax->c->refund.refunded_cents);
    return 0;
}

static int fx_shipment(act_ctx *ax, as_direction dir) {
    as_case *c = ax->c;
    as_shipment *grown = realloc(c->shipments, (c->nshipments + 1) * sizeof *grown);
    if (grown == NULL) return as_fail(ax->err, AS_ENOMEM, NULL, "out of memory");
    c->shipments = grown;
    as_shipment *s = &c->shipments[c->nshipments];
    *s = (as_shipment){.direction = dir, .at = ax->d->now};
    if (as_strset(&s->carrier, ax->in->carrier) != 0 || as_strset(&s->tracking_no, ax->in->tracking_no) != 0) {
        free(s->carrier);
        return as_fail(ax->err, AS_ENOMEM, NULL, "out of memory");
    }
    c->nshipments++;
    return 0;
}

static int fx_ship_back(act_ctx *ax) { return fx_shipment(ax, SHIP_TO_MERCHANT); }
static int fx_ship_to_customer(act_ctx *ax) { return fx_shipment(ax, SHIP_TO_CUSTOMER); }

/* A pass sets a return's refund; it settles an appealed failed inspection too. */
static int fx_inspect_pass(act_ctx *ax) {
    int appeal = case_stage_is_appeal(ax->c->stage);
    if (appeal && hold_again(ax) != 0) return -1;
    if (ax->c->type == CASE_RETURN && approve_money(ax) != 0) return -1;
    if (appeal) settle_decision(ax, OUT_APPROVE, "approved_on_appeal");
    return 0;
}

static int fx_refund(act_ctx *ax) {
    as_case *c = ax->c;
    int64_t amount = ax->in->amount_cents, left = c->refund.approved_cents - c->refund.refunded_cents;
    if (amount > left) {
        ax->err->limit = left;
        return as_fail(ax->err, AS_EINVAL, "amount_cents",
                       "amount_cents: %lld is more than the %lld cents approved and not yet refunded",
                       (long long)amount, (long long)left);
    }
    c->refund.refunded_cents += amount;
    claims_refunded(ax->l, c->case_id, amount);
    ax->apply_target = c->refund.refunded_cents == c->refund.approved_cents;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kint(e, "amount_cents", amount);
    emit_kint(e, "refunded_cents", c->refund.refunded_cents);
    emit_kint(e, "approved_cents", c->refund.approved_cents);
    emit_kstr(e, "shipping_paid_by", payer_name(c->refund.shipping_paid_by));
    event_from(ax->ch, "refund.requested", ax->d->now, &m, EV_CASE_NONE);
    e = mw_begin(&m);
    emit_kint(e, "amount_cents", amount);
    emit_kint(e, "refunded_cents", c->refund.refunded_cents);
    note_from(ax->ch, "refund", ax->who, ax->d->now, &m);
    return 0;
}

static int fx_resolve(act_ctx *ax) {
    return as_strset(&ax->c->resolution, ax->in->resolution) == 0 ? 0 : as_fail(ax->err, AS_ENOMEM, NULL, "out of memory");
}

/* Escalation: priority up at least one step and routing again with
 * case.escalated = true; a new queue means a new assignee, and so does an
 * assignee who went offline; a case nobody holds (an appealed rejection) gets
 * one if an agent is free. */
static void escalate(act_ctx *ax) {
    as_case *c = ax->c;
    int64_t before = c->priority;
    as_id queue_was;
    AS_IDSET(queue_was, c->queue);
    c->escalated = 1;
    step_route(&ax->q, c);
    if (c->priority >= before) c->priority = before > 1 ? before - 1 : 1;
    const as_agent *holder = ax->d->agents ? agents_find(ax->d->agents, c->assignee) : NULL;
    if (!c->assignee[0] || strcmp(queue_was, c->queue) != 0 || (holder && !holder->online))
        step_assign(ax->d, ax->ch, ax->who, c, "routing");
}

static int fx_escalate(act_ctx *ax) {
    escalate(ax);
    return 0;
}

static int fx_reopen(act_ctx *ax) {
    int appeal = ax->c->status == ST_REJECTED;
    if (hold_again(ax) != 0) return -1;
    ax->c->resolved_at = AS_NONE;
    if (appeal) escalate(ax);
    return 0;
}

static int fx_reply(act_ctx *ax) {
    if (strcmp(ax->in->by, "agent") == 0 && ax->c->first_response_at == AS_NONE)
        ax->c->first_response_at = ax->d->now;
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "by", ax->in->by);
    emit_kstr(e, "body", ax->in->body);
    note_from(ax->ch, "message", ax->who, ax->d->now, &m);
    return 0;
}

static int fx_note(act_ctx *ax) {
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "body", ax->in->body);
    note_from(ax->ch, "note", ax->who, ax->d->now, &m);
    return 0;
}

static int fx_assign(act_ctx *ax) {
    const char *agent = ax->in->agent_id;
    const as_reads *r = ax->d->reads;
    int known = (ax->d->agents && agents_find(ax->d->agents, agent)) ||
                (r && r->agent_known && r->agent_known(r->ud, agent, ax->c->merchant_id));
    if (!known) return as_fail(ax->err, AS_EINVAL, "agent_id", "agent_id: is not a known agent");
    if (strcmp(ax->c->assignee, agent) == 0) return 0; /* already theirs: nothing changes */
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "agent_id", agent);
    emit_key(e, "from");
    emit_str(e, ax->c->assignee[0] ? ax->c->assignee : NULL);
    emit_kstr(e, "by", "hand");
    note_from(ax->ch, "assignment", ax->who, ax->d->now, &m);
    AS_IDSET(ax->c->assignee, agent);
    return 0;
}

static int fx_none(act_ctx *ax) {
    (void)ax;
    return 0;
}

static const effect_fn effects[] = {
    [FX_NONE] = fx_none,
    [FX_APPROVE] = fx_approve,
    [FX_REJECT] = fx_reject,
    [FX_CANCEL] = fx_cancel,
    [FX_SHIP_BACK] = fx_ship_back,
    [FX_INSPECT_PASS] = fx_inspect_pass,
    [FX_INSPECT_FAIL] = fx_none,
    [FX_REFUND] = fx_refund,
    [FX_SHIP_TO_CUSTOMER] = fx_ship_to_customer,
    [FX_RESOLVE] = fx_resolve,
    [FX_CLOSE] = fx_none,
    [FX_REOPEN] = fx_reopen,
    [FX_ESCALATE] = fx_escalate,
    [FX_REPLY] = fx_reply,
    [FX_NOTE] = fx_note,
    [FX_ASSIGN] = fx_assign,
};

/* Moves the case along the row and stamps the times the move implies; a
 * claim that ends settles in the ledger (what was paid stays, the rest is
 * freed). */
static void apply_target(act_ctx *ax) {
    as_case *c = ax->c;
    int64_t now = ax->d->now;
    if (ax->apply_target && ax->row->to_status >= 0) {
        c->status = (case_status)ax->row->to_status;
        if ((c->status == ST_RESOLVED || c->status == ST_REJECTED) && c->resolved_at == AS_NONE)
            c->resolved_at = now;
        if (c->status == ST_RESOLVED) step_survey_plan(&ax->q, c);
        if (c->status == ST_CLOSED) c->closed_at = now;
        if (!case_status_active(c->status)) {
            claims_settle(ax->l, c);
            c->sla.next_escalation_at = AS_NONE; /* the ladder ends with the work */
        }
    }
    if (ax->apply_target && ax->row->to_stage >= 0) c->stage = (case_stage)ax->row->to_stage;
    c->updated_at = now;
}

/* The action note (first on the timeline of the change) and case.updated. */
static void record_action(act_ctx *ax, int action_note) {
    members_w m;
    emitter *e = mw_begin(&m);
    const char *name = case_action_name(ax->in->action);
    emit_kstr(e, "action", name);
    emit_key(e, "args");
    emit_object(e);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ax->in->args, key, v) {
        if (strcmp(key, "action") == 0) continue;
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        emit_key(e, key);
        if (text) e->ops->raw(e, text, strlen(text));
        else emit_null(e);
        free(text);
    }
    emit_object_end(e);
    emit_kstr(e, "from_status", case_status_name(ax->before->status));
    emit_kstr(e, "from_stage", case_stage_name(ax->before->stage));
    emit_kstr(e, "status", case_status_name(ax->c->status));
    emit_kstr(e, "stage", case_stage_name(ax->c->stage));
    char *members = mw_take(&m);
    if (members == NULL) ax->ch->failed = 1;
    else ax->ch->notes[action_note].members = members;
    e = mw_begin(&m);
    emit_kstr(e, "action", name);
    emit_kstr(e, "status", case_status_name(ax->c->status));
    emit_kstr(e, "stage", case_stage_name(ax->c->stage));
    /* first: the events an effect raised (refund.requested) follow the update */
    as_event ev_first;
    size_t n = ax->ch->nevents;
    event_from(ax->ch, "case.updated", ax->d->now, &m, EV_CASE_MEMBER);
    if (ax->ch->nevents == n + 1 && n > 0) { /* move case.updated before the effect's events */
        ev_first = ax->ch->events[n];
        memmove(&ax->ch->events[1], &ax->ch->events[0], n * sizeof ev_first);
        ax->ch->events[0] = ev_first;
    }
}

int case_act(const as_decider *d, const as_case *c, const as_order *order, const as_ledger *ledger,
             const action_input *in, const as_actor *who, as_changes *out, as_error *err) {
    static const as_ledger none;
    changes_init(out);
    err->limit = AS_NONE;
    const case_transition *row = case_machine_find(c->type, c->status, c->stage, in->action, in->variant);
    if (row == NULL) {
        err->kase = c;
        return as_fail(err, AS_ETRANSITION, "action", "%s is not allowed for a %s case in %s/%s",
                       case_action_name(in->action), case_type_name(c->type), case_status_name(c->status),
                       case_stage_name(c->stage));
    }
    if (action_input_require(in, err) != 0) return -1;
    if (changes_begin_update(out, c) != 0) return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    if ((out->ledger = malloc(sizeof *out->ledger)) == NULL || ledger_copy(out->ledger, ledger ? ledger : &none) != 0) {
        free(out->ledger);
        out->ledger = NULL;
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    act_ctx ax = {d, in, who, out->before, out->after, order, out->ledger, out, {0}, row, 1, err};
    int action_note = changes_note(out, "action", who, d->now, NULL);
    decide_begin(&ax.q, d, out, who, ax.c, order);
    int rc = action_note < 0 ? as_fail(err, AS_ENOMEM, NULL, "out of memory") : effects[row->effect](&ax);
    if (rc == 0) {
        apply_target(&ax);
        record_action(&ax, action_note);
    }
    decide_end(&ax.q);
    if (rc == 0 && out->failed) rc = as_fail(err, AS_ENOMEM, NULL, "out of memory");
    if (rc != 0) changes_free(out);
    return rc;
}
