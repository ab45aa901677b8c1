/* case/codec: cases and orders to and from JSON (see codec.h).
 *
 * Member order is the API's: identity first, then routing, times, SLA,
 * decision, money, survey. Encoding is one pass through an emitter; decoding
 * reads a Jansson tree of the stored text once and copies what it needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/codec.h"
#include "util/bin.h"
#include "util/jsonw.h"

/* ---- small encoding helpers ---- */

/* An id member: "" is absent (null, or left out in a view). */
static void id_member(emitter *e, const char *k, const char *id, int view) {
    if (id[0]) emit_kstr(e, k, id);
    else if (!view) emit_knull(e, k);
}

static void str_member(emitter *e, const char *k, const char *s, int view) {
    if (s || !view) emit_kstr(e, k, s);
}

static void opt_member(emitter *e, const char *k, int64_t v, int view) {
    if (v != AS_NONE || !view) emit_kopt(e, k, v);
}

static void strings_member(emitter *e, const char *k, char *const *list, size_t n) {
    emit_key(e, k);
    emit_array(e);
    for (size_t i = 0; i < n; i++) emit_str(e, list[i]);
    emit_array_end(e);
}

/* ---- case ---- */

static void sla_encode(const as_sla *sla, emitter *e, int view) {
    emit_key(e, "sla");
    emit_object(e);
    opt_member(e, "first_response_due", sla->first_response_due, view);
    opt_member(e, "resolution_due", sla->resolution_due, view);
    emit_kbool(e, "business", sla->business);
    emit_key(e, "breached");
    emit_array(e);
    for (int k = 0; k < SLA__KINDS; k++)
        if (sla->breached >> k & 1u) emit_str(e, sla_kind_name((sla_kind)k));
    emit_array_end(e);
    emit_key(e, "warnings");
    emit_array(e);
    for (int i = 0; i < sla->nwarnings; i++) {
        const as_sla_warning *w = &sla->warnings[i];
        emit_object_n(e, 4);
        emit_kstr(e, "kind", sla_kind_name(w->kind));
        emit_kint(e, "percent", w->percent);
        emit_kint(e, "due_at", w->due);
        opt_member(e, "sent_at", w->sent_at, view);
        emit_object_end(e);
    }
    emit_array_end(e);
    emit_key(e, "escalation");
    emit_object_n(e, 3);
    emit_kint(e, "level", sla->escalation_level);
    opt_member(e, "at", sla->escalated_at, view);
    opt_member(e, "next_at", sla->next_escalation_at, view);
    emit_object_end(e);
    emit_object_end(e);
}

static void decision_encode(const as_decision *d, emitter *e, int view) {
    if (d->outcome == OUT_NONE) {
        if (!view) emit_knull(e, "decision");
        return;
    }
    emit_key(e, "decision");
    emit_object(e);
    emit_kstr(e, "outcome", outcome_name(d->outcome));
    str_member(e, "reason_code", d->reason_code, view);
    str_member(e, "message", d->message, view);
    if (d->policy_version[0]) emit_kstr(e, "policy_version", d->policy_version);
    if (d->module[0]) emit_kstr(e, "module", d->module);
    if (d->function[0]) emit_kstr(e, "function", d->function);
    emit_kint(e, "at", d->at);
    if (d->settled_role[0]) {
        emit_key(e, "settled_by");
        emit_object(e);
        emit_kstr(e, "role", d->settled_role);
        id_member(e, "id", d->settled_id, view);
        emit_object_end(e);
    }
    if (d->nclaimed_by || !strcmp(d->module, "core")) /* the core's claims decisions name the holders, maybe none */
        strings_member(e, "claimed_by", d->claimed_by, d->nclaimed_by);
    emit_object_end(e);
}

static void survey_encode(const as_survey *s, emitter *e, int view) {
    emit_key(e, "survey");
    emit_object(e);
    opt_member(e, "due_at", s->due_at, view);
    opt_member(e, "csat", s->csat, view);
    opt_member(e, "nps", s->nps, view);
    str_member(e, "comment", s->comment, view);
    if (s->sent_at != AS_NONE) emit_kint(e, "sent_at", s->sent_at);
    if (s->answered_at != AS_NONE) emit_kint(e, "answered_at", s->answered_at);
    if (s->questions_json) {
        emit_key(e, "questions");
        e->ops->raw(e, s->questions_json, strlen(s->questions_json));
    }
    if (s->followup_case_id[0]) emit_kstr(e, "followup_case_id", s->followup_case_id);
    emit_object_end(e);
}

static void shipments_encode(const as_case *c, emitter *e) {
    emit_key(e, "shipments");
    emit_array(e);
    for (size_t i = 0; i < c->nshipments; i++) {
        const as_shipment *s = &c->shipments[i];
        emit_object(e);
        emit_kstr(e, "direction", direction_name(s->direction));
        emit_kstr(e, "carrier", s->carrier);
        emit_kstr(e, "tracking_no", s->tracking_no);
        emit_kint(e, "at", s->at);
        emit_object_end(e);
    }
    emit_array_end(e);
}

static void item_encode(const as_item *it, emitter *e, int view) {
    emit_object_n(e, 5);
    emit_kstr(e, "sku", it->sku);
    emit_kstr(e, "category", it->category);
    emit_kint(e, "price_cents", it->price_cents);
    emit_kint(e, "qty", it->qty);
    str_member(e, "title", it->title, view || it->title == NULL);
    emit_object_end(e);
}

static void case_members(const as_case *c, const as_order *o, emitter *e, int view) {
    emit_kstr(e, "case_id", c->case_id);
    emit_kstr(e, "type", case_type_name(c->type));
    emit_kstr(e, "status", case_status_name(c->status));
    emit_kstr(e, "stage", case_stage_name(c->stage));
    id_member(e, "order_id", c->order_id, view);
    id_member(e, "sku", c->sku, view);
    opt_member(e, "qty", c->qty, view);
    id_member(e, "buyer_id", c->buyer_id, view);
    id_member(e, "merchant_id", c->merchant_id, view);
    emit_kstr(e, "channel", case_channel_name(c->channel));
    emit_kstr(e, "reason", case_reason_name(c->reason));
    str_member(e, "description", c->description, view);
    emit_kbool(e, "opened", c->opened);
    strings_member(e, "photos", c->photos, c->nphotos);
    id_member(e, "queue", c->queue, view);
    emit_kint(e, "priority", c->priority);
    emit_key(e, "skills");
    emit_array(e);
    for (size_t i = 0; i < c->nskills; i++) emit_str(e, c->skills[i]);
    emit_array_end(e);
    id_member(e, "assignee", c->assignee, view);
    emit_kbool(e, "escalated", c->escalated);
    if (c->followup || view) emit_kbool(e, "followup", c->followup);
    if (c->parent_case_id[0]) emit_kstr(e, "parent_case_id", c->parent_case_id);
    emit_kint(e, "created_at", c->created_at);
    emit_kint(e, "updated_at", c->updated_at);
    opt_member(e, "first_response_at", c->first_response_at, view);
    opt_member(e, "resolved_at", c->resolved_at, view);
    opt_member(e, "closed_at", c->closed_at, view);
    sla_encode(&c->sla, e, view);
    decision_encode(&c->decision, e, view);
    emit_key(e, "refund");
    emit_object(e);
    emit_kint(e, "approved_cents", c->refund.approved_cents);
    emit_kint(e, "refunded_cents", c->refund.refunded_cents);
    str_member(e, "shipping_paid_by", payer_name(c->refund.shipping_paid_by), view);
    emit_object_end(e);
    if (c->compensation.coupon_cents != AS_NONE) {
        emit_key(e, "compensation");
        emit_object(e);
        emit_kint(e, "coupon_cents", c->compensation.coupon_cents);
        str_member(e, "reason", c->compensation.reason, view);
        emit_object_end(e);
    } else if (!view) {
        emit_knull(e, "compensation");
    }
    survey_encode(&c->survey, e, view);
    shipments_encode(c, e);
    if (c->resolution) emit_kstr(e, "resolution", c->resolution);
    const as_item *item = view && o ? order_item(o, c->sku) : NULL;
    if (item) {
        emit_key(e, "item");
        item_encode(item, e, 1);
    }
}

void case_encode_members(const as_case *c, emitter *e) { case_members(c, NULL, e, 0); }

void case_encode(const as_case *c, emitter *e) {
    emit_object(e);
    case_members(c, NULL, e, 0);
    emit_object_end(e);
}

void case_encode_view(const as_case *c, const as_order *o, emitter *e) {
    emit_object_n(e, 40);
    case_members(c, o, e, 1);
    emit_object_end(e);
}

char *case_to_json(const as_case *c, size_t *len) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    case_encode(c, jsonw_emitter(&w));
    return tb_take(&tb, len);
}

/* ---- order ---- */

static void buyer_encode(const as_buyer *b, emitter *e, int view, unsigned flags) {
    emit_key(e, "buyer");
    emit_object(e);
    if (b->tier) emit_kstr(e, "tier", b->tier);
    if (b->lifetime_spend_cents != AS_NONE) emit_kint(e, "lifetime_spend_cents", b->lifetime_spend_cents);
    if (!view) {
        char masked[300];
        if (b->phone) {
            if (flags & ORDER_MASK_PII) mask_phone(b->phone, masked, sizeof masked);
            emit_kstr(e, "phone", flags & ORDER_MASK_PII ? masked : b->phone);
        }
        if (b->email) {
            if (flags & ORDER_MASK_PII) mask_email(b->email, masked, sizeof masked);
            emit_kstr(e, "email", flags & ORDER_MASK_PII ? masked : b->email);
        }
        if (b->address) {
            if (flags & ORDER_MASK_PII) mask_address(b->address, masked, sizeof masked);
            emit_kstr(e, "address", flags & ORDER_MASK_PII ? masked : b->address);
        }
    }
    emit_object_end(e);
}

static void order_members(const as_order *o, emitter *e, int view, unsigned flags) {
    emit_kstr(e, "order_id", o->order_id);
    emit_kstr(e, "buyer_id", o->buyer_id);
    emit_kstr(e, "merchant_id", o->merchant_id);
    emit_kint(e, "paid_at", o->paid_at);
    opt_member(e, "delivered_at", o->delivered_at, view);
    emit_kint(e, "shipping_cents", o->shipping_cents);
    emit_key(e, "items");
    emit_array(e);
    for (size_t i = 0; i < o->nitems; i++) item_encode(&o->items[i], e, view);
    emit_array_end(e);
    buyer_encode(&o->buyer, e, view, flags);
    emit_key(e, "tracking");
    emit_array(e);
    for (size_t i = 0; i < o->ntracking; i++) {
        const as_scan *t = &o->tracking[i];
        emit_object(e);
        emit_kstr(e, "status", tracking_status_name(t->status));
        emit_kint(e, "at", t->at);
        if (t->carrier) emit_kstr(e, "carrier", t->carrier);
        if (t->tracking_no) emit_kstr(e, "tracking_no", t->tracking_no);
        if (t->note) emit_kstr(e, "note", t->note);
        emit_object_end(e);
    }
    emit_array_end(e);
    emit_key(e, "prices");
    emit_object(e);
    for (size_t i = 0; i < o->nprices; i++) {
        emit_key(e, o->prices[i].sku);
        emit_object(e);
        emit_kint(e, "price_cents", o->prices[i].price_cents);
        emit_kint(e, "at", o->prices[i].at);
        emit_object_end(e);
    }
    emit_object_end(e);
    if (o->stall_reported_for != AS_NONE) emit_kint(e, "stall_reported_for", o->stall_reported_for);
}

void order_encode_members(const as_order *o, emitter *e, unsigned flags) { order_members(o, e, 0, flags); }

void order_encode(const as_order *o, emitter *e, unsigned flags) {
    emit_object(e);
    order_members(o, e, 0, flags);
    emit_object_end(e);
}

void order_encode_view(const as_order *o, emitter *e) {
    emit_object_n(e, 12);
    order_members(o, e, 1, 0);
    emit_object_end(e);
}

char *order_to_json(const as_order *o, size_t *len) {
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    order_encode(o, jsonw_emitter(&w), 0);
    return tb_take(&tb, len);
}

/* ---- decoding ---- */

typedef struct {
    char *err;
    size_t errlen;
    int failed;
} reader;

static void bad(reader *r, const char *what, const char *field) {
    if (!r->failed) snprintf(r->err, r->errlen, "%s: %s", field, what);
    r->failed = 1;
}

static const char *get_str(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* An integer member; absent or null is dflt. */
static int64_t get_int(const json_t *o, const char *k, int64_t dflt) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static void get_id(reader *r, const json_t *o, const char *k, char *dst, size_t cap) {
    const char *s = get_str(o, k);
    if (s && strlen(s) >= cap) bad(r, "is too long", k);
    else as_idset(dst, cap, s);
}

static void get_text(reader *r, const json_t *o, const char *k, char **dst) {
    const char *s = get_str(o, k);
    if (s && as_strset(dst, s) != 0) bad(r, "out of memory", k);
}

/* An enum member by name; a missing or unknown name fails unless optional. */
static int get_enum(reader *r, const json_t *o, const char *k, int (*from)(const char *), int dflt) {
    const char *s = get_str(o, k);
    int v = s ? from(s) : -1;
    if (v >= 0) return v;
    if (s != NULL || dflt < 0) bad(r, "is not a known value", k);
    return dflt < 0 ? 0 : dflt;
}

static char **get_strings(reader *r, const json_t *arr, const char *k, size_t *n) {
    *n = 0;
    size_t count = json_array_size(arr);
    if (count == 0) return NULL;
    char **out = calloc(count, sizeof *out);
    if (out == NULL) {
        bad(r, "out of memory", k);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s == NULL) continue;
        if ((out[*n] = strdup(s)) == NULL) {
            bad(r, "out of memory", k);
            break;
        }
        (*n)++;
    }
    return out;
}

static void decision_decode(reader *r, const json_t *d, as_decision *out) {
    if (!json_is_object(d)) return;
    out->outcome = (as_outcome)get_enum(r, d, "outcome", outcome_from_name, -1);
    get_text(r, d, "reason_code", &out->reason_code);
    get_text(r, d, "message", &out->message);
    get_id(r, d, "policy_version", out->policy_version, sizeof out->policy_version);
    get_id(r, d, "module", out->module, sizeof out->module);
    get_id(r, d, "function", out->function, sizeof out->function);
    out->at = get_int(d, "at", 0);
    json_t *by = json_object_get(d, "settled_by");
    if (json_is_object(by)) {
        get_id(r, by, "role", out->settled_role, sizeof out->settled_role);
        get_id(r, by, "id", out->settled_id, sizeof out->settled_id);
    }
    out->claimed_by = get_strings(r, json_object_get(d, "claimed_by"), "decision.claimed_by", &out->nclaimed_by);
}

static void sla_decode(reader *r, const json_t *sla, as_sla *out) {
    out->first_response_due = get_int(sla, "first_response_due", AS_NONE);
    out->resolution_due = get_int(sla, "resolution_due", AS_NONE);
    out->business = json_is_true(json_object_get(sla, "business"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(sla, "breached"), i, v) {
        int k = sla_kind_from_name(json_string_value(v));
        if (k < 0) bad(r, "is not a known target", "sla.breached");
        else out->breached |= 1u << k;
    }
    json_array_foreach(json_object_get(sla, "warnings"), i, v) {
        int k = sla_kind_from_name(json_string_value(json_object_get(v, "kind")));
        if (k < 0 || out->nwarnings == SLA_WARNINGS_MAX) {
            bad(r, "is not a warning this build keeps", "sla.warnings");
            break;
        }
        as_sla_warning *w = &out->warnings[out->nwarnings++];
        w->kind = (sla_kind)k;
        w->percent = get_int(v, "percent", 0);
        w->due = get_int(v, "due_at", 0);
        w->sent_at = get_int(v, "sent_at", AS_NONE);
    }
    json_t *esc = json_object_get(sla, "escalation");
    out->escalation_level = get_int(esc, "level", 0);
    out->escalated_at = get_int(esc, "at", AS_NONE);
    out->next_escalation_at = get_int(esc, "next_at", AS_NONE);
}

static void survey_decode(reader *r, const json_t *s, as_survey *out) {
    out->due_at = get_int(s, "due_at", AS_NONE);
    out->sent_at = get_int(s, "sent_at", AS_NONE);
    out->answered_at = get_int(s, "answered_at", AS_NONE);
    out->csat = get_int(s, "csat", AS_NONE);
    out->nps = get_int(s, "nps", AS_NONE);
    get_text(r, s, "comment", &out->comment);
    json_t *q = json_object_get(s, "questions");
    if (q && !json_is_null(q)) {
        out->questions_json = json_dumps(q, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (out->questions_json == NULL) bad(r, "out of memory", "survey.questions");
    }
    get_id(r, s, "followup_case_id", out->followup_case_id, sizeof out->followup_case_id);
}

static void shipments_decode(reader *r, const json_t *arr, as_case *c) {
    size_t n = json_array_size(arr);
    if (n == 0) return;
    c->shipments = calloc(n, sizeof *c->shipments);
    if (c->shipments == NULL) {
        bad(r, "out of memory", "shipments");
        return;
    }
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s) {
        as_shipment *out = &c->shipments[c->nshipments++];
        out->direction = (as_direction)get_enum(r, s, "direction", direction_from_name, -1);
        get_text(r, s, "carrier", &out->carrier);
        get_text(r, s, "tracking_no", &out->tracking_no);
        out->at = get_int(s, "at", 0);
    }
}

static void skills_decode(reader *r, const json_t *arr, as_case *c) {
    size_t n = json_array_size(arr);
    if (n == 0) return;
    c->skills = calloc(n, sizeof *c->skills);
    if (c->skills == NULL) {
        bad(r, "out of memory", "skills");
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);
        if (s) as_idset(c->skills[c->nskills++], sizeof(as_id), s);
    }
}

int case_from_doc(as_case *c, const json_t *doc, char *err, size_t errlen) {
    reader r = {err, errlen, 0};
    case_init(c);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "a case must be a JSON object");
        return -1;
    }
    get_id(&r, doc, "case_id", c->case_id, sizeof c->case_id);
    c->seq = case_seq_of(c->case_id);
    if (c->seq == 0) bad(&r, "is not a case id", "case_id");
    c->type = (case_type)get_enum(&r, doc, "type", case_type_from_name, -1);
    c->status = (case_status)get_enum(&r, doc, "status", case_status_from_name, -1);
    c->stage = (case_stage)get_enum(&r, doc, "stage", case_stage_from_name, -1);
    get_id(&r, doc, "order_id", c->order_id, sizeof c->order_id);
    get_id(&r, doc, "sku", c->sku, sizeof c->sku);
    c->qty = get_int(doc, "qty", AS_NONE);
    get_id(&r, doc, "buyer_id", c->buyer_id, sizeof c->buyer_id);
    get_id(&r, doc, "merchant_id", c->merchant_id, sizeof c->merchant_id);
    c->channel = (case_channel)get_enum(&r, doc, "channel", case_channel_from_name, -1);
    c->reason = (case_reason)get_enum(&r, doc, "reason", case_reason_from_name, -1);
    get_text(&r, doc, "description", &c->description);
    c->opened = json_is_true(json_object_get(doc, "opened"));
    c->photos = get_strings(&r, json_object_get(doc, "photos"), "photos", &c->nphotos);
    get_id(&r, doc, "queue", c->queue, sizeof c->queue);
    c->priority = get_int(doc, "priority", 3);
    skills_decode(&r, json_object_get(doc, "skills"), c);
    get_id(&r, doc, "assignee", c->assignee, sizeof c->assignee);
    c->escalated = json_is_true(json_object_get(doc, "escalated"));
    c->followup = json_is_true(json_object_get(doc, "followup"));
    get_id(&r, doc, "parent_case_id", c->parent_case_id, sizeof c->parent_case_id);
    c->created_at = get_int(doc, "created_at", 0);
    c->updated_at = get_int(doc, "updated_at", c->created_at);
    c->first_response_at = get_int(doc, "first_response_at", AS_NONE);
    c->resolved_at = get_int(doc, "resolved_at", AS_NONE);
    c->closed_at = get_int(doc, "closed_at", AS_NONE);
    sla_decode(&r, json_object_get(doc, "sla"), &c->sla);
    decision_decode(&r, json_object_get(doc, "decision"), &c->decision);
    json_t *refund = json_object_get(doc, "refund");
    c->refund.approved_cents = get_int(refund, "approved_cents", 0);
    c->refund.refunded_cents = get_int(refund, "refunded_cents", 0);
    c->refund.shipping_paid_by = (as_payer)get_enum(&r, refund, "shipping_paid_by", payer_from_name, PAYER_NONE);
    json_t *comp = json_object_get(doc, "compensation");
    if (json_is_object(comp)) {
        c->compensation.coupon_cents = get_int(comp, "coupon_cents", 0);
        get_text(&r, comp, "reason", &c->compensation.reason);
    }
    survey_decode(&r, json_object_get(doc, "survey"), &c->survey);
    shipments_decode(&r, json_object_get(doc, "shipments"), c);
    get_text(&r, doc, "resolution", &c->resolution);
    if (r.failed) {
        case_free(c);
        return -1;
    }
    return 0;
}

int case_from_json(as_case *c, const char *text, size_t len, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    if (doc == NULL) {
        case_init(c);
        snprintf(err, errlen, "stored case is not JSON: %s", jerr.text);
        return -1;
    }
    int rc = case_from_doc(c, doc, err, errlen);
    json_decref(doc);
    return rc;
}

static void items_decode(reader *r, const json_t *arr, as_order *o) {
    size_t n = json_array_size(arr);
    if (n == 0) return;
    o->items = calloc(n, sizeof *o->items);
    if (o->items == NULL) {
        bad(r, "out of memory", "items");
        return;
    }
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) {
        as_item *out = &o->items[o->nitems++];
        get_id(r, it, "sku", out->sku, sizeof out->sku);
        get_id(r, it, "category", out->category, sizeof out->category);
        out->price_cents = get_int(it, "price_cents", 0);
        out->qty = get_int(it, "qty", 1);
        get_text(r, it, "title", &out->title);
    }
}

static void tracking_decode(reader *r, const json_t *arr, as_order *o) {
    size_t n = json_array_size(arr);
    if (n == 0) return;
    o->tracking = calloc(n, sizeof *o->tracking);
    if (o->tracking == NULL) {
        bad(r, "out of memory", "tracking");
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t) {
        as_scan *out = &o->tracking[o->ntracking++];
        out->status = (tracking_status)get_enum(r, t, "status", tracking_status_from_name, -1);
        out->at = get_int(t, "at", 0);
        get_text(r, t, "carrier", &out->carrier);
        get_text(r, t, "tracking_no", &out->tracking_no);
        get_text(r, t, "note", &out->note);
    }
}

static void prices_decode(reader *r, const json_t *obj, as_order *o) {
    size_t n = json_object_size(obj);
    if (n == 0) return;
    o->prices = calloc(n, sizeof *o->prices);
    if (o->prices == NULL) {
        bad(r, "out of memory", "prices");
        return;
    }
    const char *sku;
    json_t *p;
    json_object_foreach((json_t *)obj, sku, p) {
        as_price *out = &o->prices[o->nprices++];
        as_idset(out->sku, sizeof out->sku, sku);
        out->price_cents = get_int(p, "price_cents", 0);
        out->at = get_int(p, "at", 0);
    }
}

int order_from_doc(as_order *o, const json_t *doc, char *err, size_t errlen) {
    reader r = {err, errlen, 0};
    order_init(o);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "an order must be a JSON object");
        return -1;
    }
    get_id(&r, doc, "order_id", o->order_id, sizeof o->order_id);
    get_id(&r, doc, "buyer_id", o->buyer_id, sizeof o->buyer_id);
    get_id(&r, doc, "merchant_id", o->merchant_id, sizeof o->merchant_id);
    o->paid_at = get_int(doc, "paid_at", 0);
    o->delivered_at = get_int(doc, "delivered_at", AS_NONE);
    o->shipping_cents = get_int(doc, "shipping_cents", 0);
    items_decode(&r, json_object_get(doc, "items"), o);
    json_t *buyer = json_object_get(doc, "buyer");
    get_text(&r, buyer, "tier", &o->buyer.tier);
    o->buyer.lifetime_spend_cents = get_int(buyer, "lifetime_spend_cents", AS_NONE);
    get_text(&r, buyer, "phone", &o->buyer.phone);
    get_text(&r, buyer, "email", &o->buyer.email);
    get_text(&r, buyer, "address", &o->buyer.address);
    tracking_decode(&r, json_object_get(doc, "tracking"), o);
    prices_decode(&r, json_object_get(doc, "prices"), o);
    o->stall_reported_for = get_int(doc, "stall_reported_for", AS_NONE);
    if (r.failed) {
        order_free(o);
        return -1;
    }
    return 0;
}

int order_from_json(as_order *o, const char *text, size_t len, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    if (doc == NULL) {
        order_init(o);
        snprintf(err, errlen, "stored order is not JSON: %s", jerr.text);
        return -1;
    }
    int rc = order_from_doc(o, doc, err, errlen);
    json_decref(doc);
    return rc;
}

/* ---- orders in binary ---- */

char *order_to_bin(const as_order *o, size_t *len) {
    textbuf tb = {0};
    unsigned char tag = ORDER_BIN_V2;
    tb_append(&tb, &tag, 1);
    bw_str(&tb, o->order_id);
    bw_str(&tb, o->buyer_id);
    bw_str(&tb, o->merchant_id);
    bw_i64(&tb, o->paid_at);
    bw_i64(&tb, o->delivered_at);
    bw_i64(&tb, o->shipping_cents);
    bw_i64(&tb, o->stall_reported_for);
    bw_str(&tb, o->buyer.tier);
    bw_i64(&tb, o->buyer.lifetime_spend_cents);
    bw_str(&tb, o->buyer.phone);
    bw_str(&tb, o->buyer.email);
    bw_str(&tb, o->buyer.address);
    bw_u64(&tb, o->nitems);
    for (size_t i = 0; i < o->nitems; i++) {
        const as_item *it = &o->items[i];
        bw_str(&tb, it->sku);
        bw_str(&tb, it->category);
        bw_i64(&tb, it->price_cents);
        bw_i64(&tb, it->qty);
        bw_str(&tb, it->title);
    }
    bw_u64(&tb, o->ntracking);
    for (size_t i = 0; i < o->ntracking; i++) {
        const as_scan *t = &o->tracking[i];
        bw_u64(&tb, t->status);
        bw_i64(&tb, t->at);
        bw_str(&tb, t->carrier);
        bw_str(&tb, t->tracking_no);
        bw_str(&tb, t->note);
    }
    bw_u64(&tb, o->nprices);
    for (size_t i = 0; i < o->nprices; i++) {
        bw_str(&tb, o->prices[i].sku);
        bw_i64(&tb, o->prices[i].price_cents);
        bw_i64(&tb, o->prices[i].at);
    }
    return tb_take(&tb, len);
}

/* A count that the rest of the record could hold (each element takes a byte
 * at least), so a damaged count never allocates more than the record's size. */
static size_t br_count(bin_reader *r) {
    uint64_t n = br_u64(r);
    if (n > (uint64_t)(r->end - r->p)) r->failed = 1;
    return r->failed ? 0 : (size_t)n;
}

static int order_from_bin(as_order *o, const void *bytes, size_t len, int version, char *err, size_t errlen) {
    bin_reader r;
    br_init(&r, (const unsigned char *)bytes + 1, len - 1);
    order_init(o);
    br_str_into(&r, o->order_id, sizeof o->order_id);
    br_str_into(&r, o->buyer_id, sizeof o->buyer_id);
    br_str_into(&r, o->merchant_id, sizeof o->merchant_id);
    o->paid_at = br_i64(&r);
    o->delivered_at = br_i64(&r);
    o->shipping_cents = br_i64(&r);
    o->stall_reported_for = br_i64(&r);
    o->buyer.tier = br_str(&r);
    o->buyer.lifetime_spend_cents = br_i64(&r);
    o->buyer.phone = br_str(&r);
    o->buyer.email = br_str(&r);
    if (version >= 2) o->buyer.address = br_str(&r);
    size_t n = br_count(&r);
    if (n && (o->items = calloc(n, sizeof *o->items)) == NULL) r.failed = 1;
    for (size_t i = 0; i < n && !r.failed; i++, o->nitems++) {
        as_item *it = &o->items[i];
        br_str_into(&r, it->sku, sizeof it->sku);
        br_str_into(&r, it->category, sizeof it->category);
        it->price_cents = br_i64(&r);
        it->qty = br_i64(&r);
        it->title = br_str(&r);
    }
    n = br_count(&r);
    if (n && (o->tracking = calloc(n, sizeof *o->tracking)) == NULL) r.failed = 1;
    for (size_t i = 0; i < n && !r.failed; i++, o->ntracking++) {
        as_scan *t = &o->tracking[i];
        uint64_t st = br_u64(&r);
        if (st >= TRK__COUNT) r.failed = 1;
        t->status = (tracking_status)st;
        t->at = br_i64(&r);
        t->carrier = br_str(&r);
        t->tracking_no = br_str(&r);
        t->note = br_str(&r);
    }
    n = br_count(&r);
    if (n && (o->prices = calloc(n, sizeof *o->prices)) == NULL) r.failed = 1;
    for (size_t i = 0; i < n && !r.failed; i++, o->nprices++) {
        br_str_into(&r, o->prices[i].sku, sizeof o->prices[i].sku);
        o->prices[i].price_cents = br_i64(&r);
        o->prices[i].at = br_i64(&r);
    }
    if (r.failed || r.p != r.end) {
        order_free(o);
        snprintf(err, errlen, "a stored order is damaged (binary record of %zu bytes)", len);
        return -1;
    }
    return 0;
}

int order_decode(as_order *o, const void *bytes, size_t len, char *err, size_t errlen) {
    unsigned char tag = len > 0 ? *(const unsigned char *)bytes : 0;
    if (tag == ORDER_BIN_V1 || tag == ORDER_BIN_V2) return order_from_bin(o, bytes, len, tag, err, errlen);
    return order_from_json(o, bytes, len, err, errlen);
}

/* ---- PII masks ---- */

/* Bytes of the UTF-8 character at p (stored text is valid UTF-8). */
static size_t utf8_char_len(const char *p) {
    size_t n = 1;
    while (p[n] != '\0' && ((unsigned char)p[n] & 0xC0) == 0x80) n++;
    return n;
}

static size_t utf8_count(const char *s) {
    size_t n = 0;
    for (; *s; s += utf8_char_len(s)) n++;
    return n;
}

static size_t utf8_offset(const char *s, size_t chars) {
    const char *p = s;
    while (chars-- > 0 && *p) p += utf8_char_len(p);
    return (size_t)(p - s);
}

/* 3 characters in front and 4 at the end for a number of 11 or more; a
 * shorter one keeps only its last 2, so a mask always hides more than it
 * shows. */
void mask_phone(const char *in, char *out, size_t outlen) {
    size_t n = utf8_count(in);
    size_t head = n >= 11 ? 3 : 0, tail = n >= 11 ? 4 : n >= 8 ? 2 : 0;
    size_t head_bytes = utf8_offset(in, head);
    const char *tail_at = in + utf8_offset(in, n - tail);
    snprintf(out, outlen, "%.*s****%s", (int)head_bytes, in, tail_at);
}

/* The first 3 characters (a province or a street number says little) and
 * the rest hidden. */
void mask_address(const char *in, char *out, size_t outlen) {
    snprintf(out, outlen, "%.*s***", (int)utf8_offset(in, utf8_count(in) > 6 ? 3 : 0), in);
}

void mask_email(const char *in, char *out, size_t outlen) {
    const char *at = strchr(in, '@');
    if (at == NULL || at == in) {
        snprintf(out, outlen, "***");
        return;
    }
    snprintf(out, outlen, "%.*s***%s", (int)utf8_char_len(in), in, at);
}
