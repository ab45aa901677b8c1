/* api/caseview: reading cases: one case, its timeline, filtered lists and a
 * customer's cases. Reads see durable data only (a read transaction).
 *
 * Lists scan one index newest first (the most selective filter given) and
 * check the remaining filters on each case; the cursor is the case_seq of
 * the last case returned, so pages are stable while new cases arrive. A page
 * stops after a bounded number of index entries and still hands out a cursor,
 * so no request scans everything. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "case/case.h"
#include "api/casework.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define SCAN_BUDGET 5000

void h_case_get(server *s, http_request *req, const route_params *p, const principal *who) {
    if (who->merchant == NULL) { /* cases hold no PII: unbound tokens get the stored bytes */
        int rc = rec_respond_raw(s, req, DB_CASES, route_param(p, "id"));
        if (rc == STORE_ENOTFOUND) reply_not_found(req, "case");
        else if (rc != 0) reply_store_error(req, rc);
        return;
    }
    json_t *kase = case_load_for(s, req, who, route_param(p, "id"), 0);
    if (kase) http_respond_json(req, 200, kase);
}

void h_case_timeline(server *s, http_request *req, const route_params *p, const principal *who) {
    const char *id = route_param(p, "id");
    json_t *kase = case_load_for(s, req, who, id, 0);
    if (kase == NULL) return;
    json_decref(kase);
    json_t *events = json_array();
    store_read *rd;
    store_iter *it = NULL;
    store_key prefix;
    key_init(&prefix);
    key_str(&prefix, id);
    int rc = store_read_begin(s->db, &rd);
    if (rc == 0) {
        rc = store_iter_open(rd, DB_TIMELINE, prefix.buf, prefix.len, NULL, 0, 0, &it);
        const void *k, *v;
        size_t klen, vlen;
        while (rc == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
            json_t *ev = json_loadb(v, vlen, 0, NULL);
            if (ev) json_array_append_new(events, ev);
            rc = 0;
        }
        if (rc >= 0) store_iter_close(it);
        store_read_end(rd);
    }
    if (rc < 0) {
        json_decref(events);
        reply_store_error(req, rc);
        return;
    }
    http_respond_json(req, 200, json_pack("{s:s,s:o}", "case_id", id, "events", events));
}

/* The filters of GET /v1/cases, most selective first: the first one given
 * picks the index to scan. */
static const char *const filters[] = {"order_id", "buyer_id", "assignee", "queue", "merchant_id",
                                      "status",   "type",     "breached"};
#define NFILTERS (sizeof(filters) / sizeof(filters[0]))

typedef struct {
    char value[NFILTERS][256];
    int given[NFILTERS];
    int64_t limit;
    uint64_t cursor; /* 0: from the newest */
    int none;        /* asks for another merchant's cases: nothing matches */
} list_query;

static int parse_list_query(http_request *req, const principal *who, list_query *q) {
    memset(q, 0, sizeof *q);
    for (size_t i = 0; i < NFILTERS; i++) {
        int rc = http_query_param(req, filters[i], q->value[i], sizeof q->value[i]);
        if (rc < 0) {
            reply_invalid(req, filters[i], "is too long");
            return -1;
        }
        q->given[i] = rc == 1 && q->value[i][0] != '\0';
    }
    if (who->merchant) { /* a bound token only ever lists its merchant */
        q->none = q->given[4] && strcmp(q->value[4], who->merchant) != 0;
        snprintf(q->value[4], sizeof q->value[4], "%s", who->merchant);
        q->given[4] = 1;
    }
    if (q->given[7] && strcmp(q->value[7], "true") != 0 && strcmp(q->value[7], "false") != 0) {
        reply_invalid(req, "breached", "must be true or false");
        return -1;
    }
    /* the two filters with a closed set of values: a typo is an error, not an empty list */
    if (q->given[5] && !case_status_valid(q->value[5])) {
        reply_invalid(req, "status", "must be open, awaiting_customer, in_progress, resolved, closed or rejected");
        return -1;
    }
    if (q->given[6] && case_type_from_name(q->value[6]) < 0) {
        reply_invalid(req, "type", "must be return, exchange, refund_only, repair, price_protection, complaint, "
                                   "consultation or logistics");
        return -1;
    }
    char num[32];
    q->limit = LIST_DEFAULT;
    if (http_query_param(req, "limit", num, sizeof num) == 1) {
        char *end;
        long long n = strtoll(num, &end, 10);
        if (*end || n < 1 || n > LIST_MAX) {
            reply_invalid(req, "limit", "must be an integer from 1 to 200");
            return -1;
        }
        q->limit = n;
    }
    if (http_query_param(req, "cursor", num, sizeof num) == 1 && num[0]) {
        char *end;
        unsigned long long c = strtoull(num, &end, 10);
        if (*end || c == 0) {
            reply_invalid(req, "cursor", "is not a cursor this server handed out");
            return -1;
        }
        q->cursor = c;
    }
    return 0;
}

static int case_matches(const json_t *kase, const list_query *q) {
    for (size_t i = 0; i < NFILTERS; i++) {
        if (!q->given[i]) continue;
        if (!strcmp(filters[i], "breached")) {
            int breached = json_array_size(json_object_get(json_object_get(kase, "sla"), "breached")) > 0;
            if (breached != !strcmp(q->value[i], "true")) return 0;
            continue;
        }
        const char *v = json_string_value(json_object_get(kase, filters[i]));
        if (v == NULL || strcmp(v, q->value[i]) != 0) return 0;
    }
    return 1;
}

/* One page: scans the chosen index backwards from the cursor. */
static int list_page(server *s, const list_query *q, json_t *out, uint64_t *next) {
    size_t f = NFILTERS;
    for (size_t i = 0; i < NFILTERS; i++) /* breached=false has no index: check it per case */
        if (q->given[i] && !(!strcmp(filters[i], "breached") && strcmp(q->value[i], "true"))) {
            f = i;
            break;
        }
    store_key prefix, from;
    key_init(&prefix);
    key_u8(&prefix, 'c');
    key_str(&prefix, f < NFILTERS ? filters[f] : "all");
    key_str(&prefix, f < NFILTERS ? (!strcmp(filters[f], "breached") ? "true" : q->value[f]) : "");
    from = prefix;
    if (q->cursor) key_u64(&from, q->cursor - 1);
    if (prefix.overflow) return 0;
    store_read *rd;
    store_iter *it = NULL;
    int rc = store_read_begin(s->db, &rd);
    if (rc != 0) return rc;
    rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, q->cursor ? from.buf : NULL,
                         q->cursor ? from.len : 0, 1, &it);
    *next = 0;
    const void *k, *v;
    size_t klen, vlen;
    int scanned = 0;
    while (rc == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        rc = 0;
        uint64_t seq = key_get_u64((const unsigned char *)k + klen - 8);
        if ((int64_t)json_array_size(out) == q->limit || ++scanned > SCAN_BUDGET) {
            *next = seq + 1; /* resume at this entry */
            break;
        }
        json_t *kase = case_read_seq(rd, seq);
        if (kase && case_matches(kase, q)) json_array_append_new(out, kase);
        else json_decref(kase);
    }
    if (rc >= 0 && it) store_iter_close(it);
    store_read_end(rd);
    return rc < 0 ? rc : 0;
}

static void reply_list(server *s, http_request *req, const list_query *q, const char *extra_key,
                       const char *extra_val) {
    json_t *cases = json_array();
    uint64_t next = 0;
    int rc = q->none ? 0 : list_page(s, q, cases, &next);
    if (rc != 0) {
        json_decref(cases);
        reply_store_error(req, rc);
        return;
    }
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%" PRIu64, next);
    json_t *body = json_pack("{s:o,s:o}", "cases", cases, "next_cursor",
                             next ? json_string(cursor) : json_null());
    if (extra_key) json_object_set_new(body, extra_key, json_string(extra_val));
    http_respond_json(req, 200, body);
}

void h_case_list(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    list_query q;
    if (parse_list_query(req, who, &q) == 0) reply_list(s, req, &q, NULL, NULL);
}

void h_customer_cases(server *s, http_request *req, const route_params *p, const principal *who) {
    list_query q;
    if (parse_list_query(req, who, &q) != 0) return;
    const char *buyer = route_param(p, "buyer_id");
    snprintf(q.value[1], sizeof q.value[1], "%s", buyer);
    q.given[1] = 1;
    reply_list(s, req, &q, "buyer_id", buyer);
}
