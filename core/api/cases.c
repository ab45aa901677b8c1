/* api/cases: POST /v1/cases, opening a case.
 *
 * Validate the input field by field, find the order (and through it the
 * buyer, merchant and order line), then ask the policies in a fixed order:
 * eligibility (returns.evaluate), the refund for money-only types, goodwill,
 * routing, SLA targets; assign an agent; save the case, its timeline and the
 * case.created event in one batch; answer 201 once durable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts.h"
#include "api/api.h"
#include "api/casework.h"
#include "api/decide.h"
#include "case/case.h"

#define MAX_PHOTOS 20
#define MAX_TEXT 20000

typedef struct {
    int type;
    const char *order_id, *buyer_id, *merchant_id, *sku, *reason, *description, *channel;
    int64_t qty;
    int has_qty;
    int opened;
    json_t *photos;
} case_input;

static int parse_enum(http_request *req, json_t *in, const char *field, int (*valid)(const char *),
                      const char **out) {
    if (req_string(req, in, field, 1, out) != 0) return -1;
    if (!valid(*out)) {
        reply_invalid(req, field, "is not one of the values the spec lists");
        return -1;
    }
    return 0;
}

static int type_valid(const char *t) { return case_type_from_name(t) >= 0; }

static int parse_photos(http_request *req, json_t *in, json_t **out) {
    json_t *photos = json_object_get(in, "photos");
    *out = NULL;
    if (photos == NULL || json_is_null(photos)) return 0;
    if (!json_is_array(photos) || json_array_size(photos) > MAX_PHOTOS) {
        reply_invalid(req, "photos", "must be an array of at most 20 URLs");
        return -1;
    }
    size_t i;
    json_t *p;
    json_array_foreach(photos, i, p) {
        if (!json_is_string(p) || json_string_length(p) == 0 || json_string_length(p) > 2048) {
            char field[32];
            snprintf(field, sizeof field, "photos[%zu]", i);
            reply_invalid(req, field, "must be a URL string");
            return -1;
        }
    }
    *out = photos;
    return 0;
}

static int parse_case_input(http_request *req, json_t *in, case_input *ci) {
    const char *type;
    memset(ci, 0, sizeof *ci);
    if (parse_enum(req, in, "type", type_valid, &type) != 0) return -1;
    ci->type = case_type_from_name(type);
    if (req_id(req, in, "order_id", 0, &ci->order_id) != 0 ||
        req_id(req, in, "buyer_id", 0, &ci->buyer_id) != 0 ||
        req_id(req, in, "merchant_id", 0, &ci->merchant_id) != 0 ||
        req_string(req, in, "sku", 0, &ci->sku) != 0 ||
        parse_enum(req, in, "reason", case_reason_valid, &ci->reason) != 0 ||
        parse_enum(req, in, "channel", case_channel_valid, &ci->channel) != 0 ||
        req_string(req, in, "description", 0, &ci->description) != 0 ||
        req_int(req, in, "qty", 0, 1, 1000000, &ci->qty, &ci->has_qty) != 0 ||
        req_bool(req, in, "opened", &ci->opened) != 0 || parse_photos(req, in, &ci->photos) != 0)
        return -1;
    if (ci->description && strlen(ci->description) > MAX_TEXT) {
        reply_invalid(req, "description", "is longer than 20000 bytes");
        return -1;
    }
    if (ci->order_id == NULL && case_type_needs_decision(ci->type)) {
        reply_invalid(req, "order_id", "is required for this case type");
        return -1;
    }
    if (ci->order_id == NULL && ci->buyer_id == NULL) {
        reply_invalid(req, "buyer_id", "order_id or buyer_id is required");
        return -1;
    }
    return 0;
}

/* Fills buyer, merchant, sku and qty from the order; answers and returns -1
 * when the input contradicts it. */
static int bind_to_order(http_request *req, case_input *ci, const json_t *order) {
    const char *buyer = json_string_value(json_object_get(order, "buyer_id"));
    if (ci->buyer_id && buyer && strcmp(ci->buyer_id, buyer) != 0) {
        reply_invalid(req, "buyer_id", "is not the order's buyer");
        return -1;
    }
    ci->buyer_id = buyer;
    ci->merchant_id = json_string_value(json_object_get(order, "merchant_id"));
    const json_t *item = order_item(order, ci->sku);
    if (item == NULL && (ci->sku != NULL || case_type_needs_decision(ci->type))) {
        reply_invalid(req, "sku", ci->sku ? "is not on the order"
                                          : "is required: the order has several items");
        return -1;
    }
    if (item == NULL) return 0;
    ci->sku = json_string_value(json_object_get(item, "sku"));
    int64_t bought = json_integer_value(json_object_get(item, "qty"));
    if (!ci->has_qty) ci->qty = bought;
    else if (ci->qty > bought) {
        reply_invalid(req, "qty", "is more than the order line's quantity");
        return -1;
    }
    ci->has_qty = 1;
    return 0;
}

static json_t *case_skeleton(server *s, const case_input *ci, const char *case_id) {
    int64_t now = server_now(s);
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s?,s:s?,s:o,s:s?,s:s?,s:s,s:s,s:s?,s:b,s:o,s:n,s:i,s:[],s:n,s:b,"
        "s:I,s:I,s:n,s:n,s:n,s:{s:n,s:n,s:b,s:[]},s:n,s:{s:i,s:i,s:n},s:n,"
        "s:{s:n,s:n,s:n,s:n},s:[]}",
        "case_id", case_id, "type", case_type_name(ci->type), "status", "open", "stage", "new",
        "order_id", ci->order_id, "sku", ci->sku, "qty",
        ci->has_qty ? json_integer(ci->qty) : json_null(), "buyer_id", ci->buyer_id,
        "merchant_id", ci->merchant_id, "channel", ci->channel, "reason", ci->reason,
        "description", ci->description, "opened", ci->opened, "photos",
        ci->photos ? json_incref(ci->photos) : json_array(), "queue", "priority", 3, "skills", "assignee",
        "escalated", 0, "created_at", (json_int_t)now, "updated_at", (json_int_t)now,
        "first_response_at", "resolved_at", "closed_at", "sla", "first_response_due",
        "resolution_due", "business", 0, "breached", "decision", "refund", "approved_cents", 0,
        "refunded_cents", 0, "shipping_paid_by", "compensation", "survey", "due_at", "csat",
        "nps", "comment", "shipments");
}

/* Eligibility and, for money-only types approved at once, the refund amount. */
static void decide_opening(server *s, json_t *kase, const json_t *order, json_t *notes) {
    case_type t = case_type_from_name(json_string_value(json_object_get(kase, "type")));
    const char *outcome = NULL;
    if (case_type_needs_decision(t)) {
        json_t *d = decide_eligibility(s, kase, order, notes);
        json_t *refund = json_object_get(kase, "refund");
        const char *paid_by = json_string_value(json_object_get(d, "shipping_paid_by"));
        if (paid_by == NULL)
            paid_by = case_reason_merchant_fault(json_string_value(json_object_get(kase, "reason")))
                          ? "merchant" : "buyer";
        json_object_set_new(refund, "shipping_paid_by", json_string(paid_by));
        json_object_del(d, "shipping_paid_by");
        outcome = json_string_value(json_object_get(d, "outcome"));
        json_object_set_new(kase, "decision", d);
        int64_t amount;
        if (!strcmp(outcome, "approve") && (t == CASE_REFUND_ONLY || t == CASE_PRICE_PROTECTION)) {
            if (decide_refund(s, kase, order, notes, &amount) == 0) {
                json_object_set_new(refund, "approved_cents", json_integer(amount));
            } else { /* no amount: a person decides, and the decision says so */
                outcome = "review";
                json_object_set_new(d, "outcome", json_string(outcome));
                json_object_set_new(d, "reason_code", json_string("policy_error"));
                json_object_set_new(d, "message", json_string(
                    "eligible, but the refund policy failed; the case waits for a person"));
            }
        }
    }
    const char *status, *stage;
    if (case_initial_state(t, outcome, &status, &stage) != 0) {
        status = "open";
        stage = "manual_review";
    }
    json_object_set_new(kase, "status", json_string(status));
    json_object_set_new(kase, "stage", json_string(stage));
    if (!strcmp(status, "rejected") || !strcmp(status, "resolved"))
        json_object_set_new(kase, "resolved_at", json_integer(server_now(s)));
}

static void route_and_assign(server *s, json_t *kase, const json_t *order, json_t *notes) {
    decide_route(s, kase, order, notes);
    decide_sla(s, kase, order, notes);
    decide_compensation(s, kase, order, notes);
    if (!case_status_active(json_string_value(json_object_get(kase, "status")))) return;
    const char *agent = pick_agent(s, kase);
    if (agent == NULL) return;
    json_object_set_new(kase, "assignee", json_string(agent));
    json_array_append_new(notes, json_pack("{s:s,s:{s:s,s:s}}", "type", "assignment", "data",
                                           "agent_id", agent, "by", "routing"));
}

/* The order remembers its cases. */
static void order_add_case(store_batch *b, json_t *order, const char *case_id) {
    json_t *ids = json_object_get(order, "case_ids");
    if (!json_is_array(ids)) {
        ids = json_array();
        json_object_set_new(order, "case_ids", ids);
    }
    json_array_append_new(ids, json_string(case_id));
    rec_put(b, DB_ORDERS, json_string_value(json_object_get(order, "order_id")), order);
}

static json_t *open_case(server *s, http_request *req, const principal *who, case_input *ci,
                         json_t **order) {
    if (ci->order_id) {
        *order = rec_load(s, DB_ORDERS, ci->order_id, 1);
        if (*order == NULL || !principal_sees_merchant(
                                  who, json_string_value(json_object_get(*order, "merchant_id")))) {
            reply_not_found(req, "order");
            return NULL;
        }
        if (bind_to_order(req, ci, *order) != 0) return NULL;
    } else if (who->merchant) {
        if (ci->merchant_id && strcmp(ci->merchant_id, who->merchant) != 0) {
            reply_forbidden(req, "this token is bound to another merchant");
            return NULL;
        }
        ci->merchant_id = who->merchant;
    }
    char case_id[32];
    case_id_format(s->next_case_seq++, case_id, sizeof case_id);
    json_t *kase = case_skeleton(s, ci, case_id);
    if (kase == NULL) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    return kase;
}

/* Saves a new case with its timeline and the case.created event. */
static char *save_new_case(server *s, store_batch *b, const principal *who, json_t *kase,
                           json_t *order, json_t *notes) {
    const char *case_id = json_string_value(json_object_get(kase, "case_id"));
    char *text = case_save(s, b, NULL, kase);
    if (order) order_add_case(b, order, case_id);
    timeline_append(s, b, case_id, "case.created", who,
                    json_pack("{s:O,s:O,s:O}", "type", json_object_get(kase, "type"), "channel",
                              json_object_get(kase, "channel"), "reason", json_object_get(kase, "reason")));
    timeline_notes(s, b, case_id, who, notes);
    event_append_text(s, b, "case.created", kase, text); /* the case as just stored */
    alerts_on_case_created(s, b, kase); /* an alert it raises follows it in the feed */
    return text;
}

void h_case_create(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    case_input ci;
    json_t *order = NULL, *kase = NULL;
    if (parse_case_input(req, in, &ci) != 0 || (kase = open_case(s, req, who, &ci, &order)) == NULL) {
        json_decref(order);
        json_decref(in);
        return;
    }
    json_t *notes = json_array();
    decide_opening(s, kase, order, notes);
    route_and_assign(s, kase, order, notes);
    store_batch *b = store_batch_new(s->db);
    commit_and_reply_text(s, b, req, who, 201, save_new_case(s, b, who, kase, order, notes));
    json_decref(kase);
    json_decref(notes);
    json_decref(order);
    json_decref(in);
}

json_t *case_open_system(server *s, store_batch *b, const case_seed *seed) {
    case_input ci = {.type = seed->type, .reason = seed->reason, .channel = "system",
                     .description = seed->description, .order_id = seed->order_id,
                     .buyer_id = seed->buyer_id, .merchant_id = seed->merchant_id, .sku = seed->sku};
    json_t *order = seed->order ? json_incref(seed->order)
                                : ci.order_id ? rec_load(s, DB_ORDERS, ci.order_id, 1) : NULL;
    const json_t *item = ci.sku && order ? order_item(order, ci.sku) : NULL;
    if (item) { /* the order line's quantity, as a customer's case defaults to */
        ci.qty = json_integer_value(json_object_get(item, "qty"));
        ci.has_qty = 1;
    }
    char case_id[32];
    case_id_format(s->next_case_seq++, case_id, sizeof case_id);
    json_t *kase = case_skeleton(s, &ci, case_id);
    if (kase == NULL) {
        json_decref(order);
        return NULL;
    }
    if (seed->followup) json_object_set_new(kase, "followup", json_true());
    if (seed->parent_case_id) json_object_set_new(kase, "parent_case_id", json_string(seed->parent_case_id));
    json_t *notes = json_array();
    route_and_assign(s, kase, order, notes);
    const char *queue = seed->queue;
    if (queue && id_valid(queue) && strcmp(queue, json_string_value(json_object_get(kase, "queue"))))
        case_reassign(s, kase, queue, "routing", notes);
    free(save_new_case(s, b, NULL, kase, order, notes));
    json_decref(notes);
    json_decref(order);
    return kase;
}
