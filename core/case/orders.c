/* case/orders: orders, their logistics updates and current prices.
 *
 * An order is stored as the platform sent it plus what Aftersale learns
 * later: tracking (the history of logistics updates), prices (the current
 * price per sku, for price protection), delivery, a stall already reported.
 * Replacing an order keeps those. Its cases are found through the case index,
 * not stored on the order, so opening a case never rewrites its order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/internal.h"

#define MAX_ITEMS 500
#define TITLE_MAX 2000
#define BUYER_TEXT_MAX 256
#define ADDRESS_MAX 512
#define NOTE_MAX 2000
#define MONEY_MAX ((int64_t)1 << 50)
#define TIME_MAX ((int64_t)1 << 40)

/* ---- input ---- */

static int only_known(const json_t *obj, const char *const *known, const char *prefix, as_error *err) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = strcmp(*k, key) == 0;
        if (!ok) {
            char field[96];
            snprintf(field, sizeof field, "%s%.64s", prefix, key);
            return as_fail(err, AS_EUNKNOWN, field, "%s is not a member of an order", field);
        }
    }
    return 0;
}

static int field_int(const json_t *obj, const char *name, const char *path, int required, int64_t min, int64_t max,
                     int64_t *out, as_error *err) {
    json_t *v = json_object_get(obj, name);
    *out = AS_NONE;
    if (v == NULL || json_is_null(v)) return required ? as_fail(err, AS_EINVAL, path, "%s: is required", path) : 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return as_fail(err, AS_EINVAL, path, "%s: must be an integer from %lld to %lld", path, (long long)min,
                       (long long)max);
    *out = json_integer_value(v);
    return 0;
}

/* A string member copied into dst (fixed) or *heap; bounded, no NUL. */
static int field_str(const json_t *obj, const char *name, const char *path, int required, size_t max,
                     char *dst, size_t cap, char **heap, int id, as_error *err) {
    json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return required ? as_fail(err, AS_EINVAL, path, "%s: is required: a non-empty string", path) : 0;
    size_t len = json_string_length(v);
    if (!json_is_string(v) || (required && len == 0) || memchr(json_string_value(v), '\0', len))
        return as_fail(err, AS_EINVAL, path, "%s: %s", path, required ? "is required: a non-empty string" : "must be a string");
    if (len > max) return as_fail(err, AS_EINVAL, path, "%s: is longer than %zu bytes", path, max);
    const char *s = json_string_value(v);
    if (id && !as_id_valid(s))
        return as_fail(err, AS_EINVAL, path, "%s: must be 1-128 characters of A-Z a-z 0-9 . _ : -", path);
    if (dst) as_idset(dst, cap, s);
    else if (as_strset(heap, s) != 0) return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    return 0;
}

static int parse_item(const json_t *it, size_t i, as_item *out, as_error *err) {
    static const char *const known[] = {"sku", "category", "price_cents", "qty", "title", NULL};
    char p[4][48];
    snprintf(p[0], sizeof p[0], "items[%zu].sku", i);
    snprintf(p[1], sizeof p[1], "items[%zu].category", i);
    snprintf(p[2], sizeof p[2], "items[%zu].price_cents", i);
    snprintf(p[3], sizeof p[3], "items[%zu].qty", i);
    char title[48], prefix[24];
    snprintf(title, sizeof title, "items[%zu].title", i);
    snprintf(prefix, sizeof prefix, "items[%zu].", i);
    if (!json_is_object(it)) {
        char field[32];
        snprintf(field, sizeof field, "items[%zu]", i);
        return as_fail(err, AS_EINVAL, field, "%s: must be an object", field);
    }
    if (field_str(it, "sku", p[0], 1, AS_SKU_MAX, out->sku, sizeof out->sku, NULL, 0, err) != 0 ||
        field_str(it, "category", p[1], 1, AS_SKU_MAX, out->category, sizeof out->category, NULL, 0, err) != 0 ||
        field_int(it, "price_cents", p[2], 1, 0, MONEY_MAX, &out->price_cents, err) != 0 ||
        field_int(it, "qty", p[3], 1, 1, 1000000, &out->qty, err) != 0 ||
        field_str(it, "title", title, 0, TITLE_MAX, NULL, 0, &out->title, 0, err) != 0 ||
        only_known(it, known, prefix, err) != 0)
        return -1;
    return 0;
}

/* Across the lines: a sku names one line, and the order's total, shipping
 * included, stays within MONEY_MAX so no refund computed from it overflows. */
static int check_lines(const as_order *o, as_error *err) {
    int64_t total = o->shipping_cents;
    for (size_t i = 0; i < o->nitems; i++) {
        char field[48];
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->items[i].sku, o->items[j].sku) == 0) {
                snprintf(field, sizeof field, "items[%zu].sku", i);
                return as_fail(err, AS_EINVAL, field, "%s: repeats the sku of an earlier item", field);
            }
        if (o->items[i].price_cents > (MONEY_MAX - total) / o->items[i].qty) {
            snprintf(field, sizeof field, "items[%zu].price_cents", i);
            return as_fail(err, AS_EINVAL, field, "%s: makes the order's total more than 2^50 cents", field);
        }
        total += o->items[i].price_cents * o->items[i].qty;
    }
    return 0;
}

/* buyer.address: optional; 1-512 bytes of text with no control characters
 * (one line: a form's fields joined by the platform). */
static int address_field(const json_t *buyer, char **out, as_error *err) {
    json_t *v = json_object_get(buyer, "address");
    if (v == NULL || json_is_null(v)) return 0;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    int ok = s && len > 0 && len <= ADDRESS_MAX;
    for (size_t i = 0; ok && i < len; i++) ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
    if (!ok)
        return as_fail(err, AS_EINVAL, "buyer.address",
                       "buyer.address: must be 1-%d bytes of text without control characters", ADDRESS_MAX);
    return as_strset(out, s) == 0 ? 0 : as_fail(err, AS_ENOMEM, NULL, "out of memory");
}

static int parse_buyer(const json_t *in, as_buyer *b, as_error *err) {
    static const char *const known[] = {"tier", "lifetime_spend_cents", "phone", "email", "address", NULL};
    json_t *buyer = json_object_get(in, "buyer");
    if (buyer == NULL || json_is_null(buyer)) return 0;
    if (!json_is_object(buyer)) return as_fail(err, AS_EINVAL, "buyer", "buyer: must be an object");
    if (field_str(buyer, "tier", "buyer.tier", 0, BUYER_TEXT_MAX, NULL, 0, &b->tier, 0, err) != 0 ||
        field_str(buyer, "phone", "buyer.phone", 0, BUYER_TEXT_MAX, NULL, 0, &b->phone, 0, err) != 0 ||
        field_str(buyer, "email", "buyer.email", 0, BUYER_TEXT_MAX, NULL, 0, &b->email, 0, err) != 0 ||
        address_field(buyer, &b->address, err) != 0 ||
        field_int(buyer, "lifetime_spend_cents", "buyer.lifetime_spend_cents", 0, 0, MONEY_MAX,
                  &b->lifetime_spend_cents, err) != 0 ||
        only_known(buyer, known, "buyer.", err) != 0)
        return -1;
    return 0;
}

int order_input_parse(as_order *o, const json_t *in, as_error *err) {
    static const char *const known[] = {"order_id", "buyer_id", "merchant_id", "paid_at", "delivered_at",
                                        "shipping_cents", "items", "buyer", NULL};
    order_init(o);
    json_t *items = json_object_get(in, "items");
    int rc = field_str(in, "order_id", "order_id", 1, AS_ID_MAX, o->order_id, sizeof o->order_id, NULL, 1, err) ||
             field_str(in, "buyer_id", "buyer_id", 1, AS_ID_MAX, o->buyer_id, sizeof o->buyer_id, NULL, 1, err) ||
             field_str(in, "merchant_id", "merchant_id", 1, AS_ID_MAX, o->merchant_id, sizeof o->merchant_id, NULL, 1,
                       err) ||
             field_int(in, "paid_at", "paid_at", 1, 0, TIME_MAX, &o->paid_at, err) ||
             field_int(in, "delivered_at", "delivered_at", 0, 0, TIME_MAX, &o->delivered_at, err) ||
             field_int(in, "shipping_cents", "shipping_cents", 1, 0, MONEY_MAX, &o->shipping_cents, err) ||
             parse_buyer(in, &o->buyer, err);
    if (rc == 0 && (!json_is_array(items) || json_array_size(items) == 0 || json_array_size(items) > MAX_ITEMS))
        rc = as_fail(err, AS_EINVAL, "items", "items: is required: an array of 1 to %d items", MAX_ITEMS);
    if (rc == 0 && (o->items = calloc(json_array_size(items), sizeof *o->items)) == NULL)
        rc = as_fail(err, AS_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; rc == 0 && i < json_array_size(items); i++) {
        rc = parse_item(json_array_get(items, i), i, &o->items[i], err);
        o->nitems++;
    }
    if (rc == 0) rc = check_lines(o, err);
    if (rc == 0) rc = only_known(in, known, "", err);
    if (rc != 0) {
        order_free(o);
        return -1;
    }
    return 0;
}

int scan_input_parse(scan_input *si, const json_t *in, as_error *err) {
    static const char *const known[] = {"status", "at", "carrier", "tracking_no", "note", NULL};
    memset(si, 0, sizeof *si);
    json_t *st = json_object_get(in, "status");
    if (!json_is_string(st) || json_string_length(st) == 0)
        return as_fail(err, AS_EINVAL, "status", "status: is required: one of %s", tracking_status_names());
    int s = tracking_status_from_name(json_string_value(st));
    if (s < 0) return as_fail(err, AS_EINVAL, "status", "status: must be one of: %s", tracking_status_names());
    si->status = (tracking_status)s;
    if (field_int(in, "at", "at", 1, 0, TIME_MAX, &si->at, err) != 0) return -1;
    static const char *const texts[] = {"carrier", "tracking_no", "note"};
    const char **outs[] = {&si->carrier, &si->tracking_no, &si->note};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(in, texts[i]);
        if (v == NULL || json_is_null(v)) continue;
        if (!json_is_string(v) || json_string_length(v) > NOTE_MAX || memchr(json_string_value(v), 0, json_string_length(v)))
            return as_fail(err, AS_EINVAL, texts[i], "%s: must be a string of at most %d bytes", texts[i], NOTE_MAX);
        *outs[i] = json_string_value(v);
    }
    return only_known(in, known, "", err);
}

int price_input_parse(int64_t *price_cents, int64_t *at, const json_t *in, as_error *err) {
    static const char *const known[] = {"price_cents", "at", NULL};
    if (field_int(in, "price_cents", "price_cents", 1, 0, MONEY_MAX, price_cents, err) != 0 ||
        field_int(in, "at", "at", 1, 0, TIME_MAX, at, err) != 0)
        return -1;
    return only_known(in, known, "", err);
}

/* ---- operations ---- */

static int begin_order_change(const as_order *old, as_changes *out, as_error *err) {
    changes_init(out);
    out->order = malloc(sizeof *out->order);
    if (old) out->order_before = malloc(sizeof *out->order_before);
    if (out->order == NULL || (old && (out->order_before == NULL || order_copy(out->order_before, old) != 0))) {
        free(out->order_before);
        out->order_before = NULL;
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    order_init(out->order);
    return 0;
}

static void order_event(as_changes *out, const char *type, int64_t now) {
    members_w m;
    emitter *e = mw_begin(&m);
    emit_kstr(e, "merchant_id", out->order->merchant_id);
    emit_kstr(e, "buyer_id", out->order->buyer_id);
    event_from(out, type, now, &m, EV_CASE_NONE);
}

/* A replace may not take from a line what its claims hold: the goods they
 * hold or were refunded, and the price their money was computed from; nor
 * from the shipping what claims took of it (approved or refunded), or the
 * order's refunds would pass what it cost. */
static int check_claimed_lines(const as_order *in, const as_order *old, const as_ledger *l, as_error *err) {
    int64_t ship = 0;
    for (size_t i = 0; l && i < l->n; i++) ship += l->claims[i].ship_cents;
    if (ship > in->shipping_cents)
        return as_fail(err, AS_EINVAL, "shipping_cents",
                       "shipping_cents: at least the %lld the order's claims took of it", (long long)ship);
    for (size_t i = 0; l && i < l->n; i++) {
        const as_claim *c = &l->claims[i];
        const as_item *was = order_item(old, c->sku), *now = order_item(in, c->sku);
        if (was == NULL) continue;
        int64_t held = 0;
        for (size_t j = 0; j < l->n; j++)
            if (!strcmp(l->claims[j].sku, c->sku) && (l->claims[j].active || l->claims[j].refunded_cents > 0))
                held += l->claims[j].qty;
        if (now == NULL)
            return as_fail(err, AS_EINVAL, "items", "items: the line of sku %s cannot go: case %s claims it", c->sku,
                           c->case_id);
        if (now->qty < held || now->price_cents != was->price_cents)
            return as_fail(err, AS_EINVAL, "items",
                           "items: the line of sku %s keeps its price (%lld) and at least the %lld its claims hold "
                           "(case %s)", c->sku, (long long)was->price_cents, (long long)held, c->case_id);
    }
    return 0;
}

int order_put(const as_decider *d, as_order *in, const as_order *old, int has_cases, const as_ledger *ledger,
              as_changes *out, as_error *err) {
    if (old && has_cases && strcmp(in->merchant_id, old->merchant_id) != 0)
        return as_fail(err, AS_EINVAL, "merchant_id", "merchant_id: cannot change: the order has cases");
    if (old && check_claimed_lines(in, old, ledger, err) != 0) return -1;
    if (begin_order_change(old, out, err) != 0) return -1;
    as_order *o = out->order;
    *o = *in; /* take the input's members */
    order_init(in);
    if (old) {
        if (o->delivered_at == AS_NONE) o->delivered_at = old->delivered_at;
        as_order kept;
        if (order_copy(&kept, old) != 0) {
            changes_free(out);
            return as_fail(err, AS_ENOMEM, NULL, "out of memory");
        }
        o->tracking = kept.tracking;
        o->ntracking = kept.ntracking;
        kept.tracking = NULL;
        kept.ntracking = 0;
        /* prices are kept for the skus the order still has */
        size_t n = 0;
        for (size_t i = 0; i < kept.nprices; i++)
            if (order_item(o, kept.prices[i].sku)) kept.prices[n++] = kept.prices[i];
        o->prices = kept.prices;
        o->nprices = n;
        kept.prices = NULL;
        kept.nprices = 0;
        /* a stall already reported stays reported: a replaced order must not raise it again */
        o->stall_reported_for = old->stall_reported_for;
        /* what earlier orders said of the buyer stays unless this one says otherwise */
        if (o->buyer.tier == NULL && old->buyer.tier && (o->buyer.tier = strdup(old->buyer.tier)) == NULL)
            out->failed = 1;
        if (o->buyer.lifetime_spend_cents == AS_NONE) o->buyer.lifetime_spend_cents = old->buyer.lifetime_spend_cents;
        order_free(&kept);
    }
    order_event(out, old ? "order.updated" : "order.created", d->now);
    return out->failed ? (changes_free(out), as_fail(err, AS_ENOMEM, NULL, "out of memory")) : 0;
}

int order_track(const as_decider *d, const as_order *o, const scan_input *si, as_changes *out, as_error *err) {
    if (begin_order_change(o, out, err) != 0) return -1;
    as_order *n = out->order;
    as_scan *grown = NULL;
    if (order_copy(n, o) != 0 || (grown = realloc(n->tracking, (n->ntracking + 1) * sizeof *grown)) == NULL) {
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    n->tracking = grown;
    as_scan *s = &n->tracking[n->ntracking];
    *s = (as_scan){.status = si->status, .at = si->at};
    if (as_strset(&s->carrier, si->carrier) || as_strset(&s->tracking_no, si->tracking_no) ||
        as_strset(&s->note, si->note)) {
        free(s->carrier);
        free(s->tracking_no);
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    n->ntracking++;
    /* a late-posted older scan never moves delivery back (the windows count from it) */
    if (si->status == TRK_DELIVERED && (n->delivered_at == AS_NONE || n->delivered_at < si->at))
        n->delivered_at = si->at;
    order_event(out, "order.tracking", d->now);
    return out->failed ? (changes_free(out), as_fail(err, AS_ENOMEM, NULL, "out of memory")) : 0;
}

int order_set_price(const as_decider *d, const as_order *o, const char *sku, int64_t price_cents, int64_t at,
                    as_changes *out, as_error *err) {
    if (order_item(o, sku) == NULL || sku[0] == '\0')
        return as_fail(err, AS_ENOTFOUND, NULL, "sku on this order not found");
    if (begin_order_change(o, out, err) != 0) return -1;
    as_order *n = out->order;
    if (order_copy(n, o) != 0) {
        changes_free(out);
        return as_fail(err, AS_ENOMEM, NULL, "out of memory");
    }
    as_price *p = (as_price *)order_price(n, sku);
    if (p == NULL) {
        as_price *grown = realloc(n->prices, (n->nprices + 1) * sizeof *grown);
        if (grown == NULL) {
            changes_free(out);
            return as_fail(err, AS_ENOMEM, NULL, "out of memory");
        }
        n->prices = grown;
        p = &n->prices[n->nprices++];
        as_idset(p->sku, sizeof p->sku, sku);
        p->at = AS_NONE;
    }
    /* the price with the latest `at` is current, whatever order they arrive in */
    if (p->at == AS_NONE || p->at <= at) {
        p->price_cents = price_cents;
        p->at = at;
    }
    order_event(out, "order.price", d->now);
    return out->failed ? (changes_free(out), as_fail(err, AS_ENOMEM, NULL, "out of memory")) : 0;
}
