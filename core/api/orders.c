/* api/orders: orders, their logistics updates and current prices.
 *
 * An order is stored as the platform sent it plus what Aftersale learns
 * later: tracking (history of logistics updates), prices (the current price
 * per sku, for price protection) and case_ids. Replacing an order keeps those.
 * Each write also refreshes the buyer's profile (tier, lifetime spend) that
 * ctx.customer reads, and emits order.created / order.updated on the feed. */
#include <stdio.h>
#include <string.h>

#include "api/alerts.h"
#include "api/api.h"
#include "api/decide.h"

#define MAX_ITEMS 500
#define MAX_TEXT 2000
#define MONEY_MAX ((int64_t)1 << 50)
#define TIME_MAX ((int64_t)1 << 40)

static const char *const tracking_statuses[] = {"shipped", "in_transit", "out_for_delivery",
                                                "delivered", "exception"};

/* Answers 400 naming the item's field by its full path, e.g.
 * items[0].price_cents (formatted only here: valid orders are the norm). */
static int item_invalid(http_request *req, size_t i, const char *name, const char *message) {
    char field[64];
    if (name != NULL) snprintf(field, sizeof field, "items[%zu].%s", i, name);
    else snprintf(field, sizeof field, "items[%zu]", i);
    reply_invalid(req, field, message);
    return -1;
}

static int parse_item(http_request *req, json_t *item, size_t i) {
    if (!json_is_object(item)) return item_invalid(req, i, NULL, "must be an object");
    static const char *const strs[] = {"sku", "category"};
    for (size_t k = 0; k < 2; k++) {
        json_t *v = json_object_get(item, strs[k]);
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128)
            return item_invalid(req, i, strs[k], "is required: a non-empty string");
    }
    json_t *price = json_object_get(item, "price_cents"), *qty = json_object_get(item, "qty");
    if (!json_is_integer(price) || json_integer_value(price) < 0 || json_integer_value(price) > MONEY_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "is required: an integer number of cents from 0 to %lld", (long long)MONEY_MAX);
        return item_invalid(req, i, "price_cents", msg);
    }
    if (!json_is_integer(qty) || json_integer_value(qty) < 1 || json_integer_value(qty) > 1000000)
        return item_invalid(req, i, "qty", "is required: an integer from 1 to 1000000");
    json_t *title = json_object_get(item, "title");
    if (title && !json_is_null(title) && (!json_is_string(title) || json_string_length(title) > MAX_TEXT))
        return item_invalid(req, i, "title", json_is_string(title) ? "is longer than 2000 bytes" : "must be a string");
    return 0;
}

static int parse_buyer(http_request *req, json_t *in) {
    json_t *buyer = json_object_get(in, "buyer");
    if (buyer == NULL || json_is_null(buyer)) return 0;
    if (!json_is_object(buyer)) {
        reply_invalid(req, "buyer", "must be an object");
        return -1;
    }
    static const char *const strs[] = {"tier", "phone", "email"};
    for (size_t k = 0; k < 3; k++) {
        json_t *v = json_object_get(buyer, strs[k]);
        if (v && !json_is_null(v) && (!json_is_string(v) || json_string_length(v) > 256)) {
            char field[32];
            snprintf(field, sizeof field, "buyer.%s", strs[k]);
            reply_invalid(req, field, json_is_string(v) ? "is longer than 256 bytes" : "must be a string");
            return -1;
        }
    }
    json_t *spend = json_object_get(buyer, "lifetime_spend_cents");
    if (spend && !json_is_null(spend) &&
        (!json_is_integer(spend) || json_integer_value(spend) < 0 || json_integer_value(spend) > MONEY_MAX)) {
        reply_invalid(req, "buyer.lifetime_spend_cents", "must be an integer number of cents from 0 to 2^50");
        return -1;
    }
    return 0;
}

static const char *item_sku(const json_t *items, size_t i) {
    return json_string_value(json_object_get(json_array_get(items, i), "sku"));
}

/* Across the lines: a sku names one line (prices and cases point at lines by
 * sku), and the order's total, shipping included, stays within MONEY_MAX so
 * no refund computed from it can overflow. */
static int check_lines(http_request *req, const json_t *items, int64_t shipping) {
    int64_t total = shipping;
    for (size_t i = 0; i < json_array_size(items); i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(item_sku(items, i), item_sku(items, j)) == 0)
                return item_invalid(req, i, "sku", "repeats the sku of an earlier item");
        const json_t *item = json_array_get(items, i);
        int64_t price = json_integer_value(json_object_get(item, "price_cents"));
        int64_t qty = json_integer_value(json_object_get(item, "qty"));
        if (price > (MONEY_MAX - total) / qty)
            return item_invalid(req, i, "price_cents", "makes the order's total more than 2^50 cents");
        total += price * qty;
    }
    return 0;
}

static int parse_order(http_request *req, json_t *in, const char **order_id) {
    const char *buyer, *merchant;
    int64_t n;
    if (req_id(req, in, "order_id", 1, order_id) != 0 || req_id(req, in, "buyer_id", 1, &buyer) != 0 ||
        req_id(req, in, "merchant_id", 1, &merchant) != 0 ||
        req_int(req, in, "paid_at", 1, 0, TIME_MAX, &n, NULL) != 0 ||
        req_int(req, in, "delivered_at", 0, 0, TIME_MAX, &n, NULL) != 0 ||
        req_int(req, in, "shipping_cents", 1, 0, MONEY_MAX, &n, NULL) != 0 || parse_buyer(req, in) != 0)
        return -1;
    json_t *items = json_object_get(in, "items");
    if (!json_is_array(items) || json_array_size(items) == 0 || json_array_size(items) > MAX_ITEMS) {
        reply_invalid(req, "items", "is required: an array of 1 to 500 items");
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) if (parse_item(req, item, i) != 0) return -1;
    return check_lines(req, items, json_integer_value(json_object_get(in, "shipping_cents")));
}

/* The stored form: the known fields in a fixed order, plus what the order
 * has accumulated (tracking, prices, case_ids). */
static json_t *order_doc(json_t *in, const json_t *old) {
    json_t *d = json_pack("{s:O,s:O,s:O,s:O,s:O?,s:O,s:O,s:O?}", "order_id", json_object_get(in, "order_id"),
                          "buyer_id", json_object_get(in, "buyer_id"), "merchant_id",
                          json_object_get(in, "merchant_id"), "paid_at", json_object_get(in, "paid_at"),
                          "delivered_at", json_object_get(in, "delivered_at"), "shipping_cents",
                          json_object_get(in, "shipping_cents"), "items", json_object_get(in, "items"),
                          "buyer", json_object_get(in, "buyer"));
    if (d == NULL) return NULL;
    json_t *old_delivery = old ? json_object_get(old, "delivered_at") : NULL;
    if (json_is_null(json_object_get(d, "delivered_at")) && json_is_integer(old_delivery))
        json_object_set_new(d, "delivered_at", json_deep_copy(old_delivery));
    if (json_is_null(json_object_get(d, "buyer"))) json_object_set_new(d, "buyer", json_object());
    static const char *const kept[] = {"tracking", "prices", "case_ids"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = old ? json_object_get(old, kept[i]) : NULL;
        json_object_set_new(d, kept[i], v ? json_deep_copy(v) : (i == 1 ? json_object() : json_array()));
    }
    /* prices are kept for the skus the order still has */
    json_t *prices = json_object_get(d, "prices");
    const char *sku;
    json_t *price, *tmp;
    json_object_foreach_safe(prices, tmp, sku, price) {
        if (order_item(d, sku) == NULL) json_object_del(prices, sku);
    }
    /* a stall already reported stays reported: a replaced order must not raise it again */
    json_t *reported = old ? json_object_get(old, "stall_reported_for") : NULL;
    if (reported) json_object_set(d, "stall_reported_for", reported);
    return d;
}

static void commit_order(server *s, http_request *req, const principal *who, const json_t *before,
                         json_t *order, const char *event, int status) {
    const char *id = json_string_value(json_object_get(order, "order_id"));
    store_batch *b = store_batch_new(s->db);
    char *stored = rec_put_text(b, DB_ORDERS, id, order);
    alerts_watch_order(s, b, before, order);
    buyer_profile_put(b, json_string_value(json_object_get(order, "buyer_id")),
                      json_object_get(order, "buyer"));
    event_append(s, b, event, order,
                 json_pack("{s:s,s:s}", "merchant_id",
                           json_string_value(json_object_get(order, "merchant_id")), "buyer_id",
                           json_string_value(json_object_get(order, "buyer_id"))));
    if (who->role == ROLE_ADMIN) { /* nothing to mask: answer the stored bytes */
        commit_and_reply_text(s, b, req, who, status, stored);
        return;
    }
    free(stored);
    json_t *answer = json_deep_copy(order);
    mask_order_pii(answer, who);
    commit_and_reply(s, b, req, who, status, answer);
}

static int may_write_orders(http_request *req, const principal *who) {
    if (who->role == ROLE_AGENT) {
        reply_forbidden(req, "agents may read orders; the platform (service) writes them");
        return 0;
    }
    return 1;
}

void h_order_put(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    if (!may_write_orders(req, who) || idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    const char *order_id;
    if (in == NULL) return;
    if (parse_order(req, in, &order_id) != 0) {
        json_decref(in);
        return;
    }
    const char *merchant = json_string_value(json_object_get(in, "merchant_id"));
    json_t *old = rec_load(s, DB_ORDERS, order_id, 1);
    if (!principal_sees_merchant(who, merchant)) {
        reply_forbidden(req, "this token is bound to another merchant");
    } else if (old && !principal_sees_merchant(who, json_string_value(json_object_get(old, "merchant_id")))) {
        reply_not_found(req, "order"); /* another merchant's order: no hint that it exists */
    } else if (old && json_array_size(json_object_get(old, "case_ids")) > 0 &&
               strcmp(merchant, json_string_value(json_object_get(old, "merchant_id"))) != 0) {
        /* its cases are the old merchant's: moving the order would hand them over */
        reply_invalid(req, "merchant_id", "cannot change: the order has cases");
    } else {
        json_t *order = order_doc(in, old);
        if (order == NULL) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        else commit_order(s, req, who, old, order, old ? "order.updated" : "order.created", old ? 200 : 201);
        json_decref(order);
    }
    json_decref(old);
    json_decref(in);
}

/* The order if the caller may see it; answers 404 otherwise. */
static json_t *order_load_for(server *s, http_request *req, const principal *who, const char *id,
                              int latest) {
    json_t *order = rec_load(s, DB_ORDERS, id, latest);
    if (order == NULL ||
        !principal_sees_merchant(who, json_string_value(json_object_get(order, "merchant_id")))) {
        json_decref(order);
        reply_not_found(req, "order");
        return NULL;
    }
    return order;
}

void h_order_get(server *s, http_request *req, const route_params *p, const principal *who) {
    if (who->role == ROLE_ADMIN && who->merchant == NULL) { /* nothing to mask or hide */
        int rc = rec_respond_raw(s, req, DB_ORDERS, route_param(p, "id"));
        if (rc == STORE_ENOTFOUND) reply_not_found(req, "order");
        else if (rc != 0) reply_store_error(req, rc);
        return;
    }
    json_t *order = order_load_for(s, req, who, route_param(p, "id"), 0);
    if (order == NULL) return;
    mask_order_pii(order, who);
    http_respond_json(req, 200, order);
}

static int tracking_status_valid(const char *st) {
    for (size_t i = 0; i < sizeof tracking_statuses / sizeof *tracking_statuses; i++)
        if (!strcmp(st, tracking_statuses[i])) return 1;
    return 0;
}

void h_order_tracking(server *s, http_request *req, const route_params *p, const principal *who) {
    if (!may_write_orders(req, who) || idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    const char *status, *carrier, *tracking_no, *note;
    int64_t at;
    json_t *order = NULL;
    int status_ok = req_string(req, in, "status", 1, &status) == 0; /* else answered */
    if (status_ok && !tracking_status_valid(status)) {
        reply_invalid(req, "status", "must be shipped, in_transit, out_for_delivery, delivered or exception");
    } else if (status_ok && req_int(req, in, "at", 1, 0, TIME_MAX, &at, NULL) == 0 &&
               req_string(req, in, "carrier", 0, &carrier) == 0 &&
               req_string(req, in, "tracking_no", 0, &tracking_no) == 0 &&
               req_string(req, in, "note", 0, &note) == 0 &&
               (order = order_load_for(s, req, who, route_param(p, "id"), 1)) != NULL) {
        json_t *before = json_deep_copy(order);
        json_array_append_new(json_object_get(order, "tracking"),
                              json_pack("{s:s,s:I,s:s?,s:s?,s:s?}", "status", status, "at", (json_int_t)at,
                                        "carrier", carrier, "tracking_no", tracking_no, "note", note));
        /* a late-posted older scan never moves delivery back (the windows count from it) */
        json_t *delivered = json_object_get(order, "delivered_at");
        if (!strcmp(status, "delivered") && (!json_is_integer(delivered) || json_integer_value(delivered) < at))
            json_object_set_new(order, "delivered_at", json_integer(at));
        commit_order(s, req, who, before, order, "order.tracking", 200);
        json_decref(before);
    }
    json_decref(order);
    json_decref(in);
}

void h_order_price(server *s, http_request *req, const route_params *p, const principal *who) {
    if (!may_write_orders(req, who) || idem_replay(s, req, who)) return;
    json_t *in = req_json_body(req);
    if (in == NULL) return;
    int64_t price, at;
    const char *sku = route_param(p, "sku");
    json_t *order = NULL;
    if (req_int(req, in, "price_cents", 1, 0, MONEY_MAX, &price, NULL) == 0 &&
        req_int(req, in, "at", 1, 0, TIME_MAX, &at, NULL) == 0 &&
        (order = order_load_for(s, req, who, route_param(p, "id"), 1)) != NULL) {
        int found = 0;
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(order, "items"), i, item)
            found |= !strcmp(json_string_value(json_object_get(item, "sku")), sku);
        json_t *prices = json_object_get(order, "prices");
        json_t *current = json_object_get(prices, sku);
        if (!found) {
            reply_not_found(req, "sku on this order");
        } else {
            /* the price with the latest `at` is current, whatever order they arrive in */
            if (!current || json_integer_value(json_object_get(current, "at")) <= at)
                json_object_set_new(prices, sku, json_pack("{s:I,s:I}", "price_cents", (json_int_t)price,
                                                           "at", (json_int_t)at));
            commit_order(s, req, who, order, order, "order.price", 200);
        }
    }
    json_decref(order);
    json_decref(in);
}
