/* case/model: life cycle of the typed case and order (see model.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/model.h"

int as_strset(char **field, const char *s) {
    char *copy = NULL;
    if (s != NULL && (copy = strdup(s)) == NULL) return -1;
    free(*field);
    *field = copy;
    return 0;
}

void as_idset(char *dst, size_t cap, const char *src) {
    if (src == NULL) src = "";
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void case_id_format(uint64_t seq, as_case_id out) {
    snprintf(out, sizeof(as_case_id), "C%010" PRIu64, seq);
}

uint64_t case_seq_of(const char *case_id) {
    if (case_id == NULL || case_id[0] != 'C' || case_id[1] == '\0') return 0;
    uint64_t n = 0;
    for (const char *p = case_id + 1; *p; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10) return 0;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    return n;
}

static void free_strings(char **list, size_t n) {
    if (list == NULL) return; /* a copy that failed keeps its count */
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

/* A copy of n strings; NULL only when out of memory (or n == 0). */
static char **copy_strings(char *const *list, size_t n, int *failed) {
    if (n == 0) return NULL;
    char **out = calloc(n, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        if ((out[i] = strdup(list[i])) == NULL) {
            free_strings(out, i);
            out = NULL;
        }
    if (out == NULL) *failed = 1;
    return out;
}

static char *copy_str(const char *s, int *failed) {
    if (s == NULL) return NULL;
    char *c = strdup(s);
    if (c == NULL) *failed = 1;
    return c;
}

static void *copy_mem(const void *p, size_t n, int *failed) {
    if (n == 0) return NULL;
    void *c = malloc(n);
    if (c == NULL) *failed = 1;
    else memcpy(c, p, n);
    return c;
}

void case_init(as_case *c) {
    memset(c, 0, sizeof *c);
    c->qty = AS_NONE;
    c->priority = 3;
    c->first_response_at = c->resolved_at = c->closed_at = AS_NONE;
    c->sla.first_response_due = c->sla.resolution_due = AS_NONE;
    c->sla.escalated_at = c->sla.next_escalation_at = AS_NONE;
    c->compensation.coupon_cents = AS_NONE;
    as_survey *sv = &c->survey;
    sv->due_at = sv->sent_at = sv->answered_at = sv->csat = sv->nps = AS_NONE;
}

static void decision_free(as_decision *d) {
    free(d->reason_code);
    free(d->message);
    free_strings(d->claimed_by, d->nclaimed_by);
}

void case_free(as_case *c) {
    if (c == NULL) return;
    free(c->description);
    free_strings(c->photos, c->nphotos);
    free(c->skills);
    decision_free(&c->decision);
    free(c->compensation.reason);
    free(c->survey.comment);
    free(c->survey.questions_json);
    for (size_t i = 0; i < c->nshipments; i++) {
        free(c->shipments[i].carrier);
        free(c->shipments[i].tracking_no);
    }
    free(c->shipments);
    free(c->resolution);
    case_init(c);
}

int case_copy(as_case *dst, const as_case *src) {
    int failed = 0;
    *dst = *src; /* scalars and fixed buffers; every pointer is replaced below */
    dst->description = copy_str(src->description, &failed);
    dst->photos = copy_strings(src->photos, src->nphotos, &failed);
    dst->skills = copy_mem(src->skills, src->nskills * sizeof *src->skills, &failed);
    dst->decision.reason_code = copy_str(src->decision.reason_code, &failed);
    dst->decision.message = copy_str(src->decision.message, &failed);
    dst->decision.claimed_by = copy_strings(src->decision.claimed_by, src->decision.nclaimed_by, &failed);
    dst->compensation.reason = copy_str(src->compensation.reason, &failed);
    dst->survey.comment = copy_str(src->survey.comment, &failed);
    dst->survey.questions_json = copy_str(src->survey.questions_json, &failed);
    dst->resolution = copy_str(src->resolution, &failed);
    dst->shipments = copy_mem(src->shipments, src->nshipments * sizeof *src->shipments, &failed);
    for (size_t i = 0; dst->shipments && i < src->nshipments; i++) {
        dst->shipments[i].carrier = copy_str(src->shipments[i].carrier, &failed);
        dst->shipments[i].tracking_no = copy_str(src->shipments[i].tracking_no, &failed);
    }
    if (dst->shipments == NULL) dst->nshipments = 0;
    if (failed) {
        case_free(dst);
        return -1;
    }
    return 0;
}

void order_init(as_order *o) {
    memset(o, 0, sizeof *o);
    o->delivered_at = AS_NONE;
    o->buyer.lifetime_spend_cents = AS_NONE;
    o->stall_reported_for = AS_NONE;
}

void order_free(as_order *o) {
    if (o == NULL) return;
    for (size_t i = 0; i < o->nitems; i++) free(o->items[i].title);
    free(o->items);
    free(o->buyer.tier);
    free(o->buyer.phone);
    free(o->buyer.email);
    free(o->buyer.address);
    for (size_t i = 0; i < o->ntracking; i++) {
        free(o->tracking[i].carrier);
        free(o->tracking[i].tracking_no);
        free(o->tracking[i].note);
    }
    free(o->tracking);
    free(o->prices);
    order_init(o);
}

int order_copy(as_order *dst, const as_order *src) {
    int failed = 0;
    *dst = *src;
    dst->items = copy_mem(src->items, src->nitems * sizeof *src->items, &failed);
    for (size_t i = 0; dst->items && i < src->nitems; i++)
        dst->items[i].title = copy_str(src->items[i].title, &failed);
    if (dst->items == NULL) dst->nitems = 0;
    dst->buyer.tier = copy_str(src->buyer.tier, &failed);
    dst->buyer.phone = copy_str(src->buyer.phone, &failed);
    dst->buyer.email = copy_str(src->buyer.email, &failed);
    dst->buyer.address = copy_str(src->buyer.address, &failed);
    dst->tracking = copy_mem(src->tracking, src->ntracking * sizeof *src->tracking, &failed);
    for (size_t i = 0; dst->tracking && i < src->ntracking; i++) {
        dst->tracking[i].carrier = copy_str(src->tracking[i].carrier, &failed);
        dst->tracking[i].tracking_no = copy_str(src->tracking[i].tracking_no, &failed);
        dst->tracking[i].note = copy_str(src->tracking[i].note, &failed);
    }
    if (dst->tracking == NULL) dst->ntracking = 0;
    dst->prices = copy_mem(src->prices, src->nprices * sizeof *src->prices, &failed);
    if (dst->prices == NULL) dst->nprices = 0;
    if (failed) {
        order_free(dst);
        return -1;
    }
    return 0;
}

const as_item *order_item(const as_order *o, const char *sku) {
    if (o == NULL) return NULL;
    if (sku == NULL || sku[0] == '\0') return o->nitems == 1 ? &o->items[0] : NULL;
    for (size_t i = 0; i < o->nitems; i++)
        if (strcmp(o->items[i].sku, sku) == 0) return &o->items[i];
    return NULL;
}

const as_price *order_price(const as_order *o, const char *sku) {
    for (size_t i = 0; o && i < o->nprices; i++)
        if (strcmp(o->prices[i].sku, sku) == 0) return &o->prices[i];
    return NULL;
}

const as_scan *order_newest_scan(const as_order *o) {
    const as_scan *newest = NULL;
    for (size_t i = 0; o && i < o->ntracking; i++)
        if (newest == NULL || o->tracking[i].at > newest->at) newest = &o->tracking[i];
    return newest;
}

/* ---- relationship surveys ---- */

void nps_init(as_nps *n) {
    memset(n, 0, sizeof *n);
    n->due_at = n->sent_at = n->answered_at = n->nps = AS_NONE;
    n->last_sent_at = n->last_answered_at = n->last_nps = AS_NONE;
    n->channel = -1;
}

void nps_free(as_nps *n) {
    free(n->comment);
    free(n->questions_json);
    nps_init(n);
}

int nps_copy(as_nps *dst, const as_nps *src) {
    int failed = 0;
    *dst = *src;
    dst->comment = copy_str(src->comment, &failed);
    dst->questions_json = copy_str(src->questions_json, &failed);
    if (failed) {
        free(dst->comment);
        free(dst->questions_json);
        nps_init(dst);
        return -1;
    }
    return 0;
}

int nps_planned(const as_nps *n) {
    return n->due_at != AS_NONE && n->sent_at == AS_NONE && n->answered_at == AS_NONE;
}

int nps_open(const as_nps *n) { return n->due_at != AS_NONE && n->answered_at == AS_NONE; }
