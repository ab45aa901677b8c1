/* case/claims: the per-order claims ledger (see claims.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/claims.h"
#include "util/jsonw.h"

void ledger_init(as_ledger *l) { memset(l, 0, sizeof *l); }

void ledger_free(as_ledger *l) {
    free(l->claims);
    ledger_init(l);
}

int ledger_copy(as_ledger *dst, const as_ledger *src) {
    ledger_init(dst);
    if (src->n == 0) return 0;
    dst->claims = malloc(src->n * sizeof *dst->claims);
    if (dst->claims == NULL) return -1;
    memcpy(dst->claims, src->claims, src->n * sizeof *dst->claims);
    dst->n = dst->cap = src->n;
    return 0;
}

as_claim *ledger_find(as_ledger *l, const char *case_id) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->claims[i].case_id, case_id) == 0) return &l->claims[i];
    return NULL;
}

static as_claim *ledger_add(as_ledger *l) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        as_claim *grown = realloc(l->claims, cap * sizeof *grown);
        if (grown == NULL) return NULL;
        l->claims = grown;
        l->cap = cap;
    }
    as_claim *c = &l->claims[l->n++];
    memset(c, 0, sizeof *c);
    return c;
}

static void ledger_remove(as_ledger *l, as_claim *c) {
    size_t i = (size_t)(c - l->claims);
    memmove(c, c + 1, (l->n - i - 1) * sizeof *c);
    l->n--;
}

/* Goods a claim keeps from its line: an active claim holds its quantity; a
 * settled refund of goods keeps it for good (the buyer was paid for them). */
static int64_t held_qty(const as_claim *c) {
    if (c->active) return c->qty;
    return (c->type == CASE_RETURN || c->type == CASE_REFUND_ONLY) ? c->qty : 0;
}

void claims_room(const as_ledger *l, const as_order *o, const as_item *item, const char *case_id,
                 claim_room *room) {
    memset(room, 0, sizeof *room);
    room->qty = item->qty;
    room->line_cents = item->price_cents * item->qty;
    room->ship_cents = o->shipping_cents;
    for (size_t i = 0; i < l->n; i++) {
        const as_claim *c = &l->claims[i];
        if (strcmp(c->case_id, case_id) == 0) continue;
        if (strcmp(c->sku, item->sku) == 0) {
            room->qty -= held_qty(c);
            room->line_cents -= c->line_cents;
            if (c->type == CASE_PRICE_PROTECTION) room->pp_cents += c->line_cents;
            if (c->active && room->nholders < sizeof room->holders / sizeof room->holders[0])
                memcpy(room->holders[room->nholders++], c->case_id, sizeof room->holders[0]);
            else if (c->active)
                room->more_holders++;
        }
        room->ship_cents -= c->ship_cents;
    }
    if (room->qty < 0) room->qty = 0;
    if (room->line_cents < 0) room->line_cents = 0;
    if (room->ship_cents < 0) room->ship_cents = 0;
}

/* Another price protection of the same line still running. */
static int pp_running(const as_ledger *l, const as_case *c) {
    for (size_t i = 0; i < l->n; i++) {
        const as_claim *x = &l->claims[i];
        if (x->active && x->type == CASE_PRICE_PROTECTION && strcmp(x->sku, c->sku) == 0 &&
            strcmp(x->case_id, c->case_id) != 0)
            return 1;
    }
    return 0;
}

int claims_hold(as_ledger *l, const as_order *o, const as_case *c) {
    const as_item *item = order_item(o, c->sku);
    if (item == NULL) return -1;
    as_claim *mine = ledger_find(l, c->case_id);
    if (mine && mine->active) return 0;
    int64_t qty = case_type_claims_goods(c->type) ? (c->qty == AS_NONE ? item->qty : c->qty) : 0;
    if (c->type == CASE_PRICE_PROTECTION) {
        if (pp_running(l, c)) return -1;
    } else {
        claim_room room;
        claims_room(l, o, item, c->case_id, &room);
        if (qty > room.qty) return -1; /* the room leaves the case's own entry out */
    }
    if (mine == NULL && (mine = ledger_add(l)) == NULL) return -1;
    memcpy(mine->case_id, c->case_id, sizeof mine->case_id);
    memcpy(mine->sku, item->sku, sizeof mine->sku);
    mine->type = c->type;
    mine->qty = qty;
    mine->active = 1;
    return 0;
}

/* The line's money a claim of goods may commit: what the line has left, and
 * no more than its own goods are worth (price x its qty). What a refund asks
 * beyond that is shipping, which has its own share; booked on the line it
 * would let each case refund the order's shipping again and leave a later
 * case of the same line without the money of its goods. */
static int64_t goods_cap(const claim_room *room, const as_item *item, const as_case *c) {
    int64_t qty = c->qty == AS_NONE ? item->qty : c->qty;
    int64_t goods = item->price_cents * qty;
    return goods < room->line_cents ? goods : room->line_cents;
}

int64_t claims_max_approval(const as_ledger *l, const as_order *o, const as_case *c) {
    const as_item *item = order_item(o, c->sku);
    if (item == NULL) return 0;
    claim_room room;
    claims_room(l, o, item, c->case_id, &room);
    const as_price *now = c->type == CASE_PRICE_PROTECTION ? order_price(o, item->sku) : NULL;
    if (now) { /* a recorded price: the drop is what protection can give, once */
        int64_t qty = c->qty == AS_NONE ? item->qty : c->qty;
        int64_t drop = now->price_cents < item->price_cents ? item->price_cents - now->price_cents : 0;
        int64_t allowance = drop * qty - room.pp_cents;
        if (allowance < 0) allowance = 0;
        return allowance < room.line_cents ? allowance : room.line_cents;
    }
    if (c->type == CASE_PRICE_PROTECTION) return room.line_cents; /* a drop seen elsewhere: a person judges */
    int64_t max = goods_cap(&room, item, c);
    if (c->refund.shipping_paid_by == PAYER_MERCHANT) max += room.ship_cents;
    return max;
}

int claims_approve(as_ledger *l, const as_order *o, const as_case *c, int64_t amount) {
    as_claim *mine = ledger_find(l, c->case_id);
    const as_item *item = order_item(o, c->sku);
    if (mine == NULL || item == NULL || amount < 0 || amount > claims_max_approval(l, o, c)) return -1;
    claim_room room;
    claims_room(l, o, item, c->case_id, &room);
    int64_t line = c->type == CASE_PRICE_PROTECTION ? room.line_cents : goods_cap(&room, item, c);
    mine->line_cents = amount < line ? amount : line;
    mine->ship_cents = amount - mine->line_cents;
    return 0;
}

void claims_refunded(as_ledger *l, const char *case_id, int64_t amount) {
    as_claim *mine = ledger_find(l, case_id);
    if (mine) mine->refunded_cents += amount;
}

void claims_settle(as_ledger *l, const as_case *c) {
    as_claim *mine = ledger_find(l, c->case_id);
    if (mine == NULL) return;
    if (mine->refunded_cents == 0) {
        ledger_remove(l, mine);
        return;
    }
    /* what was paid stays committed, the line's share first */
    int64_t paid = mine->refunded_cents;
    int64_t line = paid < mine->line_cents ? paid : mine->line_cents;
    mine->line_cents = line;
    mine->ship_cents = paid - line;
    mine->active = 0;
}

char *ledger_to_json(const as_ledger *l, size_t *len) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    emit_key(e, "claims");
    emit_array(e);
    for (size_t i = 0; i < l->n; i++) {
        const as_claim *c = &l->claims[i];
        emit_object(e);
        emit_kstr(e, "case_id", c->case_id);
        emit_kstr(e, "sku", c->sku);
        emit_kstr(e, "type", case_type_name(c->type));
        emit_kint(e, "qty", c->qty);
        emit_kint(e, "line_cents", c->line_cents);
        emit_kint(e, "ship_cents", c->ship_cents);
        emit_kint(e, "refunded_cents", c->refunded_cents);
        emit_kbool(e, "active", c->active);
        emit_object_end(e);
    }
    emit_array_end(e);
    emit_object_end(e);
    return tb_take(&tb, len);
}

int ledger_from_json(as_ledger *l, const char *text, size_t len, char *err, size_t errlen) {
    ledger_init(l);
    json_t *doc = json_loadb(text, len, 0, NULL);
    json_t *claims = json_object_get(doc, "claims");
    if (!json_is_array(claims)) {
        json_decref(doc);
        snprintf(err, errlen, "a claims ledger is {\"claims\":[...]}");
        return -1;
    }
    size_t i;
    json_t *c;
    json_array_foreach(claims, i, c) {
        as_claim *out = ledger_add(l);
        int type = case_type_from_name(json_string_value(json_object_get(c, "type")));
        if (out == NULL || type < 0) {
            snprintf(err, errlen, out ? "claims[%zu].type is not a case type" : "out of memory", i);
            ledger_free(l);
            json_decref(doc);
            return -1;
        }
        as_idset(out->case_id, sizeof out->case_id, json_string_value(json_object_get(c, "case_id")));
        as_idset(out->sku, sizeof out->sku, json_string_value(json_object_get(c, "sku")));
        out->type = (case_type)type;
        out->qty = json_integer_value(json_object_get(c, "qty"));
        out->line_cents = json_integer_value(json_object_get(c, "line_cents"));
        out->ship_cents = json_integer_value(json_object_get(c, "ship_cents"));
        out->refunded_cents = json_integer_value(json_object_get(c, "refunded_cents"));
        out->active = json_is_true(json_object_get(c, "active"));
    }
    json_decref(doc);
    return 0;
}
