/* api/actions: POST /v1/cases/{id}/actions.
 *
 * The state machine (case/machine.c) says whether an action is allowed and
 * where it leads; this file carries out each action's effect: recording
 * shipments and messages, asking the policies for refunds and re-routing,
 * adding up partial refunds, keeping agents' load exact. Everything an action
 * changes is saved in one batch with its timeline entry and feed events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/casework.h"
#include "api/decide.h"
#include "api/timers.h"
#include "case/case.h"

typedef struct {
    server *s;
    http_request *req;
    const principal *who;
    json_t *in;    /* the request body */
    json_t *kase;  /* being changed */
    json_t *order; /* loaded on demand, may stay NULL */
    json_t *notes; /* timeline notes */
    json_t *events; /* extra feed events: {type, data} */
    const case_transition *row;
    int apply_target; /* 0 keeps status and stage (partial refund) */
} action_ctx;

typedef int (*effect_fn)(action_ctx *ax);

static int64_t now_of(action_ctx *ax) { return server_now(ax->s); }

static const json_t *order_of(action_ctx *ax) {
    const char *id = json_string_value(json_object_get(ax->kase, "order_id"));
    if (ax->order == NULL && id) ax->order = rec_load(ax->s, DB_ORDERS, id, 1);
    return ax->order;
}

static void set_int(json_t *obj, const char *field, int64_t v) {
    json_object_set_new(obj, field, json_integer(v));
}

static json_t *refund_of(action_ctx *ax) { return json_object_get(ax->kase, "refund"); }

/* Settling a manual review: the decision now names who settled it. */
static void settle_decision(action_ctx *ax, const char *outcome, const char *code) {
    json_t *d = json_object_get(ax->kase, "decision");
    if (!json_is_object(d)) {
        d = json_object();
        json_object_set_new(ax->kase, "decision", d);
    }
    const char *reason = json_string_value(json_object_get(ax->in, "reason"));
    char words[64], said[300]; /* without a reason: "approved on review by agent a1" */
    snprintf(words, sizeof words, "%s", code);
    for (char *c = words; *c; c++)
        if (*c == '_') *c = ' ';
    snprintf(said, sizeof said, "%s by %s%s%s", words, role_name(ax->who->role), ax->who->agent ? " " : "",
             ax->who->agent ? ax->who->agent : "");
    json_object_set_new(d, "outcome", json_string(outcome));
    json_object_set_new(d, "reason_code", json_string(code));
    json_object_set_new(d, "message", json_string(reason && *reason ? reason : said));
    json_object_set_new(d, "settled_by", json_pack("{s:s,s:s?}", "role", role_name(ax->who->role),
                                                   "id", ax->who->agent));
    set_int(d, "at", now_of(ax));
}

/* The most any refund of this case can be: the order line's price x the
 * case's quantity, plus the order's shipping. -1 when there is no line. */
static int64_t refund_ceiling(action_ctx *ax) {
    const json_t *order = order_of(ax);
    const json_t *item = order ? order_item(order, json_string_value(json_object_get(ax->kase, "sku")))
                               : NULL;
    if (item == NULL) return -1;
    /* the line as the order says now: a replace may have lowered its qty since
     * the case was opened, and the order's total is what is bounded */
    int64_t line_qty = json_integer_value(json_object_get(item, "qty"));
    json_t *qty = json_object_get(ax->kase, "qty");
    int64_t n = json_is_integer(qty) && json_integer_value(qty) < line_qty ? json_integer_value(qty) : line_qty;
    return json_integer_value(json_object_get(item, "price_cents")) * n +
           json_integer_value(json_object_get(order, "shipping_cents"));
}

/* An explicit amount_cents argument (1 up to the refund ceiling), or
 * compensation.refund's amount. An amount of 0 is refused: the case would
 * wait for a refund that can never be made. */
static int approved_amount(action_ctx *ax, int64_t *amount) {
    int present = 0;
    if (req_int(ax->req, ax->in, "amount_cents", 0, 1, INT64_MAX / 2, amount, &present) != 0)
        return -1;
    int64_t ceiling = refund_ceiling(ax);
    if (present && ceiling >= 0 && *amount > ceiling) {
        char msg[200];
        snprintf(msg, sizeof msg, "amount_cents: %lld is more than the order line can refund (%lld cents: "
                 "price x quantity plus shipping)", (long long)*amount, (long long)ceiling);
        http_respond_error(ax->req, 400, "invalid_field", msg,
                           json_pack("{s:s,s:I}", "field", "amount_cents", "max_cents", (json_int_t)ceiling));
        return -1;
    }
    if (present) return 0;
    if (decide_refund(ax->s, ax->kase, order_of(ax), ax->notes, amount) != 0) {
        http_respond_error(ax->req, 422, "policy_error",
                           "compensation.refund failed; pass amount_cents to settle by hand", NULL);
        return -1;
    }
    if (*amount == 0) {
        http_respond_error(ax->req, 422, "policy_error",
                           "compensation.refund approves 0 cents; pass amount_cents, or reject or resolve "
                           "the case", NULL);
        return -1;
    }
    return 0;
}

/* 1 while the case is an appealed rejection (the stage before the move). */
static int on_appeal(const action_ctx *ax) {
    return case_stage_is_appeal(json_string_value(json_object_get(ax->kase, "stage")));
}

static int fx_approve(action_ctx *ax) {
    case_type t = case_type_from_name(json_string_value(json_object_get(ax->kase, "type")));
    if (t == CASE_REFUND_ONLY || t == CASE_PRICE_PROTECTION) {
        int64_t amount;
        if (approved_amount(ax, &amount) != 0) return -1;
        set_int(refund_of(ax), "approved_cents", amount);
    }
    settle_decision(ax, "approve", on_appeal(ax) ? "approved_on_appeal" : "approved_on_review");
    return 0;
}

static int fx_reject(action_ctx *ax) {
    settle_decision(ax, "reject", on_appeal(ax) ? "rejected_on_appeal" : "rejected_on_review");
    return 0;
}

static int fx_shipment(action_ctx *ax, const char *direction) {
    const char *carrier, *tracking;
    if (req_string(ax->req, ax->in, "carrier", 1, &carrier) != 0 ||
        req_string(ax->req, ax->in, "tracking_no", 1, &tracking) != 0)
        return -1;
    json_array_append_new(json_object_get(ax->kase, "shipments"),
                          json_pack("{s:s,s:s,s:s,s:I}", "direction", direction, "carrier", carrier,
                                    "tracking_no", tracking, "at", (json_int_t)now_of(ax)));
    return 0;
}

static int fx_ship_back(action_ctx *ax) { return fx_shipment(ax, "to_merchant"); }
static int fx_ship_to_customer(action_ctx *ax) { return fx_shipment(ax, "to_customer"); }

/* A pass settles an appealed failed inspection too: the decision says so. */
static int fx_inspect_pass(action_ctx *ax) {
    int appeal = on_appeal(ax);
    if (case_type_from_name(json_string_value(json_object_get(ax->kase, "type"))) == CASE_RETURN) {
        int64_t amount;
        if (approved_amount(ax, &amount) != 0) return -1;
        set_int(refund_of(ax), "approved_cents", amount);
    }
    if (appeal) settle_decision(ax, "approve", "approved_on_appeal");
    return 0;
}

static int fx_refund(action_ctx *ax) {
    int64_t amount;
    if (req_int(ax->req, ax->in, "amount_cents", 1, 1, INT64_MAX / 2, &amount, NULL) != 0)
        return -1;
    json_t *r = refund_of(ax);
    int64_t approved = json_integer_value(json_object_get(r, "approved_cents"));
    int64_t refunded = json_integer_value(json_object_get(r, "refunded_cents"));
    if (amount > approved - refunded) {
        char msg[160];
        snprintf(msg, sizeof msg, "amount_cents: %lld is more than the %lld cents approved and "
                 "not yet refunded", (long long)amount, (long long)(approved - refunded));
        http_respond_error(ax->req, 400, "invalid_field", msg,
                           json_pack("{s:s,s:I}", "field", "amount_cents", "remaining_cents",
                                     (json_int_t)(approved - refunded)));
        return -1;
    }
    refunded += amount;
    set_int(r, "refunded_cents", refunded);
    ax->apply_target = (refunded == approved);
    json_array_append_new(ax->events,
                          json_pack("{s:s,s:{s:I,s:I,s:I,s:s?}}", "type", "refund.requested", "data",
                                    "amount_cents", (json_int_t)amount, "refunded_cents",
                                    (json_int_t)refunded, "approved_cents", (json_int_t)approved,
                                    "shipping_paid_by",
                                    json_string_value(json_object_get(r, "shipping_paid_by"))));
    json_array_append_new(ax->notes, json_pack("{s:s,s:{s:I,s:I}}", "type", "refund", "data",
                                               "amount_cents", (json_int_t)amount,
                                               "refunded_cents", (json_int_t)refunded));
    return 0;
}

static int fx_resolve(action_ctx *ax) {
    const char *resolution;
    if (req_string(ax->req, ax->in, "resolution", 1, &resolution) != 0) return -1;
    json_object_set_new(ax->kase, "resolution", json_string(resolution));
    return 0;
}

/* Escalation: priority goes up at least one step and routing runs again
 * with case.escalated = true; a new queue means a new assignee, and so does
 * an assignee who went offline; a case nobody holds (an appeal of a
 * rejection) gets one if an agent is free. */
static void escalate(action_ctx *ax) {
    json_t *k = ax->kase;
    json_int_t before = json_integer_value(json_object_get(k, "priority"));
    const char *old_queue = json_string_value(json_object_get(k, "queue"));
    char queue_was[160];
    snprintf(queue_was, sizeof queue_was, "%s", old_queue ? old_queue : "");
    json_object_set_new(k, "escalated", json_true());
    decide_route(ax->s, k, order_of(ax), ax->notes);
    json_int_t after = json_integer_value(json_object_get(k, "priority"));
    if (after >= before) set_int(k, "priority", before > 1 ? before - 1 : 1);
    int unassigned = !json_is_string(json_object_get(k, "assignee"));
    if (unassigned || strcmp(queue_was, json_string_value(json_object_get(k, "queue"))) != 0 ||
        !assignee_serves(ax->s, k))
        case_reassign(ax->s, k, NULL, "routing", ax->notes);
}

static int fx_escalate(action_ctx *ax) {
    const char *reason;
    if (req_string(ax->req, ax->in, "reason", 1, &reason) != 0) return -1;
    escalate(ax);
    return 0;
}

static int fx_reopen(action_ctx *ax) {
    const char *reason;
    if (req_string(ax->req, ax->in, "reason", 1, &reason) != 0) return -1;
    int appeal = !strcmp(json_string_value(json_object_get(ax->kase, "status")), "rejected");
    json_object_set_new(ax->kase, "resolved_at", json_null());
    if (appeal) escalate(ax);
    return 0;
}

static int fx_reply(action_ctx *ax) {
    const char *by, *body;
    if (req_string(ax->req, ax->in, "by", 1, &by) != 0 ||
        req_string(ax->req, ax->in, "body", 1, &body) != 0)
        return -1;
    if (strcmp(by, "agent") != 0 && strcmp(by, "customer") != 0) {
        reply_invalid(ax->req, "by", "must be agent or customer");
        return -1;
    }
    if (!strcmp(by, "agent") && json_is_null(json_object_get(ax->kase, "first_response_at")))
        set_int(ax->kase, "first_response_at", now_of(ax));
    json_array_append_new(ax->notes, json_pack("{s:s,s:{s:s,s:s}}", "type", "message", "data",
                                               "by", by, "body", body));
    return 0;
}

static int fx_note(action_ctx *ax) {
    const char *body;
    if (req_string(ax->req, ax->in, "body", 1, &body) != 0) return -1;
    json_array_append_new(ax->notes,
                          json_pack("{s:s,s:{s:s}}", "type", "note", "data", "body", body));
    return 0;
}

/* An agent registered with POST /v1/agents, or the agent a token names
 * (if that token is bound to a merchant, only for that merchant's cases). */
static int agent_known(server *s, const char *agent, const char *merchant) {
    if (json_object_get(s->agents, agent) != NULL) return 1;
    for (size_t i = 0; i < s->ntokens; i++)
        if (s->tokens[i].agent && strcmp(s->tokens[i].agent, agent) == 0 &&
            principal_sees_merchant(&s->tokens[i], merchant))
            return 1;
    return 0;
}

static int fx_assign(action_ctx *ax) {
    const char *agent;
    if (req_id(ax->req, ax->in, "agent_id", 1, &agent) != 0) return -1;
    if (!agent_known(ax->s, agent, json_string_value(json_object_get(ax->kase, "merchant_id")))) {
        reply_invalid(ax->req, "agent_id", "is not a known agent");
        return -1;
    }
    const char *was = json_string_value(json_object_get(ax->kase, "assignee"));
    if (was && strcmp(was, agent) == 0) return 0; /* already theirs: nothing changes */
    json_array_append_new(ax->notes, json_pack("{s:s,s:{s:s,s:s?,s:s}}", "type", "assignment", "data",
                                               "agent_id", agent, "from", was, "by", "hand"));
    /* last: `was` points into the value this replaces */
    json_object_set_new(ax->kase, "assignee", json_string(agent));
    return 0;
}

static int fx_none(action_ctx *ax) {
    (void)ax;
    return 0;
}

static const effect_fn effects[] = {
    [FX_NONE] = fx_none,         [FX_APPROVE] = fx_approve,
    [FX_REJECT] = fx_reject,     [FX_SHIP_BACK] = fx_ship_back,
    [FX_RECEIVE] = fx_none,      [FX_INSPECT_PASS] = fx_inspect_pass,
    [FX_INSPECT_FAIL] = fx_none, [FX_REFUND] = fx_refund,
    [FX_SHIP_TO_CUSTOMER] = fx_ship_to_customer, [FX_REPAIR_DONE] = fx_none,
    [FX_RESOLVE] = fx_resolve,   [FX_CLOSE] = fx_none,
    [FX_REOPEN] = fx_reopen,     [FX_ESCALATE] = fx_escalate,
    [FX_REPLY] = fx_reply,       [FX_NOTE] = fx_note,
    [FX_ASSIGN] = fx_assign,
};

/* Moves the case along the row and stamps the times the move implies. */
static void apply_target(action_ctx *ax) {
    json_t *k = ax->kase;
    int64_t now = now_of(ax);
    if (ax->apply_target && ax->row->to_status) {
        const char *to = ax->row->to_status;
        json_object_set_new(k, "status", json_string(to));
        if ((!strcmp(to, "resolved") || !strcmp(to, "rejected")) &&
            json_is_null(json_object_get(k, "resolved_at")))
            set_int(k, "resolved_at", now);
        if (!strcmp(to, "resolved")) decide_survey(ax->s, k, ax->notes);
        if (!strcmp(to, "closed")) set_int(k, "closed_at", now);
    }
    if (ax->apply_target && ax->row->to_stage)
        json_object_set_new(k, "stage", json_string(ax->row->to_stage));
    set_int(k, "updated_at", now);
}

/* Finds the row for the requested action; answers 400/409 when there is none. */
static const case_transition *find_row(http_request *req, json_t *in, const json_t *kase,
                                       const char *action) {
    const char *variant = NULL;
    if (!strcmp(action, "inspect")) {
        if (req_string(req, in, "result", 1, &variant) != 0) return NULL;
        if (strcmp(variant, "pass") != 0 && strcmp(variant, "fail") != 0) {
            reply_invalid(req, "result", "must be pass or fail");
            return NULL;
        }
        const char *notes; /* kept on the timeline with the other arguments */
        if (req_string(req, in, "notes", 0, &notes) != 0) return NULL;
    }
    case_type t = case_type_from_name(json_string_value(json_object_get(kase, "type")));
    const char *status = json_string_value(json_object_get(kase, "status"));
    const char *stage = json_string_value(json_object_get(kase, "stage"));
    const case_transition *row = case_machine_find(t, status, stage, action, variant);
    if (row == NULL) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s is not allowed for a %s case in %s/%s", action,
                 case_type_name(t), status, stage ? stage : "");
        http_respond_error(req, 409, "invalid_transition", msg,
                           json_pack("{s:o,s:s,s:s?}", "allowed",
                                     case_machine_allowed(t, status, stage), "status", status,
                                     "stage", stage));
    }
    return row;
}

static void save_action(action_ctx *ax, const json_t *before, const char *action) {
    server *s = ax->s;
    const char *case_id = json_string_value(json_object_get(ax->kase, "case_id"));
    store_batch *b = store_batch_new(s->db);
    char *answer = case_save(s, b, before, ax->kase);
    json_t *args = json_deep_copy(ax->in);
    json_object_del(args, "action");
    timeline_append(s, b, case_id, "action", ax->who,
                    json_pack("{s:s,s:o,s:s,s:s,s:s,s:s}", "action", action, "args", args, "from_status",
                              json_string_value(json_object_get(before, "status")), "from_stage",
                              json_string_value(json_object_get(before, "stage")), "status",
                              json_string_value(json_object_get(ax->kase, "status")), "stage",
                              json_string_value(json_object_get(ax->kase, "stage"))));
    timeline_notes(s, b, case_id, ax->who, ax->notes);
    json_t *what = json_pack("{s:s,s:s,s:s}", "action", action, "status",
                             json_string_value(json_object_get(ax->kase, "status")), "stage",
                             json_string_value(json_object_get(ax->kase, "stage")));
    char *data = what && answer ? json_with_member(what, "case", answer) : NULL;
    event_append_text(s, b, "case.updated", ax->kase, data); /* {action, status, stage, case} */
    free(data);
    json_decref(what);
    size_t i;
    json_t *ev;
    json_array_foreach(ax->events, i, ev) {
        json_t *data = json_object_get(ev, "data");
        json_incref(data);
        event_append(s, b, json_string_value(json_object_get(ev, "type")), ax->kase, data);
    }
    commit_and_reply_text(s, b, ax->req, ax->who, 200, answer);
}

static void run_action(action_ctx *ax, const char *action) {
    const case_transition *row = find_row(ax->req, ax->in, ax->kase, action);
    if (row == NULL) return;
    json_t *before = json_deep_copy(ax->kase);
    ax->row = row;
    ax->apply_target = 1;
    if (before != NULL && effects[row->effect](ax) == 0) {
        apply_target(ax);
        save_action(ax, before, action);
    } else if (before == NULL) {
        http_respond_error(ax->req, 503, "unavailable", "out of memory", NULL);
    }
    json_decref(before);
}

void h_case_action(server *s, http_request *req, const route_params *p, const principal *who) {
    if (idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    const char *action;
    if (req_string(req, in, "action", 1, &action) != 0) {
        json_decref(in);
        return;
    }
    if (!case_action_known(action)) {
        http_respond_error(req, 400, "unknown_action", "action is not an action of the case lifecycle",
                           json_pack("{s:s,s:o}", "field", "action", "allowed", case_machine_actions()));
        json_decref(in);
        return;
    }
    json_t *kase = case_load_for(s, req, who, route_param(p, "id"), 1);
    if (kase != NULL) {
        timers_catch_up(s, kase); /* what was due happened before this action */
        action_ctx ax = {s, req, who, in, kase, NULL, json_array(), json_array(), NULL, 1};
        run_action(&ax, action);
        json_decref(ax.order);
        json_decref(ax.notes);
        json_decref(ax.events);
        json_decref(kase);
    }
    json_decref(in);
}
