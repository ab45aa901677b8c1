/* api/caseview: reading cases: one case, its timeline, filtered lists and a
 * customer's cases. Reads see durable data only (a read transaction).
 *
 * Answers are spliced from the stored texts (a case is stored in the API's
 * shape), decoding a case only where a filter needs a field the index did
 * not decide. Lists scan one index newest first (the most selective filter
 * given) and check the remaining filters on each case; the cursor is the
 * case_seq of the last case returned, so pages are stable while new cases
 * arrive. A page stops after a bounded number of index entries and still
 * hands out a cursor, so no request scans everything.
 *
 * The timeline is paged too (after=SEQ, limit, and a byte budget per page),
 * and each decision shows the inputs it saw: its request stored them once
 * (a policy.inputs entry, not listed) and the decision refers to it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "case/codec.h"
#include "util/jsonw.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define SCAN_BUDGET 5000
#define TIMELINE_DEFAULT 100
#define TIMELINE_MAX 500
#define PAGE_BYTES (512 * 1024) /* a page closes once it holds this much */

/* The stored text of the case (durable), if the caller may see it. */
static int case_text_for(server *s, store_read *rd, const principal *who, const char *id, const void **val,
                         size_t *vlen) {
    store_key k;
    key_init(&k);
    key_str(&k, id);
    if (k.overflow) return STORE_ENOTFOUND;
    int rc = store_read_get(rd, DB_CASES, k.buf, k.len, val, vlen);
    if (rc != 0 || who->merchant == NULL) return rc; /* cases hold no PII: unbound tokens read them all */
    as_case c;
    char err[128];
    if (case_from_json(&c, *val, *vlen, err, sizeof err) != 0) return STORE_EIO;
    rc = principal_sees_merchant(who, c.merchant_id[0] ? c.merchant_id : NULL) ? 0 : STORE_ENOTFOUND;
    case_free(&c);
    (void)s;
    return rc;
}

void h_case_get(server *s, http_request *req, const route_params *p, const principal *who) {
    store_read *rd;
    int rc = store_read_begin(s->db, &rd);
    if (rc == 0) {
        const void *val;
        size_t vlen;
        rc = case_text_for(s, rd, who, route_param(p, "id"), &val, &vlen);
        if (rc == 0) http_respond(req, 200, "application/json", val, vlen);
        store_read_end(rd);
    }
    if (rc == STORE_ENOTFOUND) reply_not_found(req, "case");
    else if (rc != 0) reply_store_error(req, rc);
}

/* ---- timeline ---- */

/* One stored timeline record: the entries of one change, one a line. */
typedef struct {
    const char *text;
    size_t len;
    json_t *inputs; /* the record's policy.inputs data, parsed when a decision needs it */
    uint64_t inputs_seq;
} tl_record;

static uint64_t entry_seq(const char *line, size_t len) {
    static const char head[] = "{\"seq\":";
    if (len < sizeof head || memcmp(line, head, sizeof head - 1) != 0) return 0;
    return strtoull(line + sizeof head - 1, NULL, 10);
}

static int entry_is(const char *line, size_t len, const char *type) {
    char pat[48];
    int n = snprintf(pat, sizeof pat, "\"type\":\"%s\"", type);
    return memmem(line, len < 120 ? len : 120, pat, (size_t)n) != NULL;
}

/* The data of the record's entry with that seq (the policy.inputs a
 * decision refers to), parsed once per record. */
static json_t *record_inputs(tl_record *r, uint64_t seq) {
    if (r->inputs && r->inputs_seq == seq) return r->inputs;
    json_decref(r->inputs);
    r->inputs = NULL;
    r->inputs_seq = seq;
    for (const char *p = r->text, *end = r->text + r->len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (entry_seq(p, n) == seq) {
            json_t *entry = json_loadb(p, n, 0, NULL);
            r->inputs = json_incref(json_object_get(entry, "data"));
            json_decref(entry);
            break;
        }
        p += n + 1;
    }
    return r->inputs;
}

/* A decision as the API shows it: with "inputs", the values of its
 * arguments, from its request's policy.inputs entry; NULL when it has none
 * to add (an entry of an older build carries its inputs itself). */
static char *expand_inputs(tl_record *r, const char *line, size_t len) {
    json_t *ev = json_loadb(line, len, 0, NULL);
    json_t *data = json_object_get(ev, "data");
    json_t *ref = json_object_get(data, "inputs_seq");
    json_t *inputs = json_is_integer(ref) ? record_inputs(r, (uint64_t)json_integer_value(ref)) : NULL;
    if (inputs == NULL) {
        json_decref(ev);
        return NULL;
    }
    json_t *values = json_array();
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(data, "args"), i, name) {
        json_t *v = json_object_get(inputs, json_string_value(name));
        json_array_append(values, v ? v : json_null());
    }
    json_object_set_new(data, "inputs", values);
    char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    return text;
}

static int query_u64(http_request *req, const char *name, uint64_t min, uint64_t max, uint64_t dflt, uint64_t *out) {
    char num[32];
    *out = dflt;
    int rc = http_query_param(req, name, num, sizeof num);
    if (rc == 0 || (rc == 1 && num[0] == '\0')) return 0;
    char *end;
    unsigned long long v = rc == 1 ? strtoull(num, &end, 10) : 0;
    if (rc < 0 || *end || num[0] == '-' || v < min || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be an integer from %llu to %llu", (unsigned long long)min,
                 (unsigned long long)max);
        reply_invalid(req, name, msg);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct {
    textbuf *tb;
    uint64_t after, limit, listed, next;
    int full;
} tl_page;

/* Appends the record's entries after page->after to the page, until it is full. */
static void page_record(tl_page *pg, tl_record *r) {
    for (const char *p = r->text, *end = r->text + r->len; p < end && !pg->full;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        uint64_t seq = entry_seq(p, n);
        if (seq > pg->after && !entry_is(p, n, "policy.inputs")) { /* inputs show inside their decisions */
            if (pg->listed == pg->limit || (pg->listed > 0 && pg->tb->len > PAGE_BYTES)) {
                pg->next = seq - 1; /* the next page resumes at this entry */
                pg->full = 1;
                break;
            }
            char *expanded = entry_is(p, n, "decision") || entry_is(p, n, "policy.error") ||
                                     entry_is(p, n, "shadow.decision") || entry_is(p, n, "shadow.error")
                                 ? expand_inputs(r, p, n)
                                 : NULL;
            if (pg->listed++) tb_append(pg->tb, ",", 1);
            if (expanded) tb_append(pg->tb, expanded, strlen(expanded));
            else tb_append(pg->tb, p, n);
            free(expanded);
        }
        p += n + 1;
    }
}

/* The key of the record that holds entry `seq` (or the first after it): the
 * last key at or before case | seq. */
static int first_record(store_read *rd, const store_key *prefix, uint64_t seq, store_key *from) {
    *from = *prefix;
    key_u64(from, seq);
    store_iter *it;
    int rc = store_iter_open(rd, DB_TIMELINE, prefix->buf, prefix->len, from->buf, from->len, 1, &it);
    if (rc != 0) return rc;
    const void *k, *v;
    size_t klen, vlen;
    if (store_iter_next(it, &k, &klen, &v, &vlen) == 1 && klen <= STORE_KEY_MAX) {
        memcpy(from->buf, k, klen);
        from->len = klen;
    }
    store_iter_close(it);
    return 0;
}

void h_case_timeline(server *s, http_request *req, const route_params *p, const principal *who) {
    static const char *const known[] = {"after", "limit", NULL};
    const char *id = route_param(p, "id");
    uint64_t after, limit;
    if (req_query_known(req, known) != 0 || query_u64(req, "after", 0, UINT64_MAX - 1, 0, &after) != 0 ||
        query_u64(req, "limit", 1, TIMELINE_MAX, TIMELINE_DEFAULT, &limit) != 0)
        return;
    store_read *rd;
    int rc = store_read_begin(s->db, &rd);
    if (rc != 0) {
        reply_store_error(req, rc);
        return;
    }
    const void *val;
    size_t vlen;
    rc = case_text_for(s, rd, who, id, &val, &vlen);
    textbuf tb = {0};
    tl_page pg = {&tb, after, limit, 0, 0, 0};
    store_key prefix, from;
    key_init(&prefix);
    key_str(&prefix, id);
    if (rc == 0) rc = first_record(rd, &prefix, after + 1, &from);
    if (rc == 0) {
        tb_printf(&tb, "{\"case_id\":");
        jsonw_quote(&tb, id, strlen(id));
        tb_printf(&tb, ",\"events\":[");
        store_iter *it = NULL;
        rc = store_iter_open(rd, DB_TIMELINE, prefix.buf, prefix.len, from.buf, from.len, 0, &it);
        const void *k;
        size_t klen;
        while (rc == 0 && !pg.full && (rc = store_iter_next(it, &k, &klen, &val, &vlen)) == 1) {
            rc = 0;
            tl_record r = {val, vlen, NULL, 0};
            page_record(&pg, &r);
            json_decref(r.inputs);
        }
        if (it) store_iter_close(it);
        if (rc >= 0) rc = 0;
        tb_append(&tb, "]", 1);
        if (pg.next) tb_printf(&tb, ",\"next_after\":%" PRIu64 "}", pg.next);
        else tb_append(&tb, ",\"next_after\":null}", 19);
    }
    store_read_end(rd);
    if (rc == STORE_ENOTFOUND) reply_not_found(req, "case");
    else if (rc != 0) reply_store_error(req, rc);
    else if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "application/json", tb.buf, tb.len);
    tb_free(&tb);
}

/* ---- lists ---- */

/* The filters of GET /v1/cases, most selective first: the first one given
 * picks the index to scan. */
static const char *const filters[] = {"order_id", "buyer_id", "assignee", "queue", "merchant_id",
                                      "status",   "type",     "breached"};
#define NFILTERS (sizeof(filters) / sizeof(filters[0]))
enum { F_ORDER, F_BUYER, F_ASSIGNEE, F_QUEUE, F_MERCHANT, F_STATUS, F_TYPE, F_BREACHED };

typedef struct {
    char value[NFILTERS][256];
    int given[NFILTERS];
    int64_t limit;
    uint64_t cursor; /* 0: from the newest */
    int none;        /* asks for another merchant's cases: nothing matches */
} list_query;

static int parse_list_query(http_request *req, const principal *who, list_query *q, int by_buyer) {
    static const char *const known[] = {"order_id", "buyer_id", "assignee", "queue", "merchant_id", "status",
                                        "type",     "breached", "limit",    "cursor", NULL};
    static const char *const known_buyer[] = {"order_id", "assignee", "queue",  "merchant_id", "status",
                                              "type",     "breached", "limit", "cursor",      NULL};
    memset(q, 0, sizeof *q);
    if (req_query_known(req, by_buyer ? known_buyer : known) != 0) return -1;
    for (size_t i = 0; i < NFILTERS; i++) {
        int rc = http_query_param(req, filters[i], q->value[i], sizeof q->value[i]);
        if (rc < 0) {
            reply_invalid(req, filters[i], "is too long");
            return -1;
        }
        q->given[i] = rc == 1 && q->value[i][0] != '\0';
    }
    if (who->merchant) { /* a bound token only ever lists its merchant */
        q->none = q->given[F_MERCHANT] && strcmp(q->value[F_MERCHANT], who->merchant) != 0;
        snprintf(q->value[F_MERCHANT], sizeof q->value[F_MERCHANT], "%s", who->merchant);
        q->given[F_MERCHANT] = 1;
    }
    if (q->given[F_BREACHED] && strcmp(q->value[F_BREACHED], "true") && strcmp(q->value[F_BREACHED], "false")) {
        reply_invalid(req, "breached", "must be true or false");
        return -1;
    }
    /* the filters with a closed set of values: a typo is an error, not an empty list */
    char msg[300];
    if (q->given[F_STATUS] && case_status_from_name(q->value[F_STATUS]) < 0) {
        snprintf(msg, sizeof msg, "must be one of: %s", case_status_names());
        reply_invalid(req, "status", msg);
        return -1;
    }
    if (q->given[F_TYPE] && case_type_from_name(q->value[F_TYPE]) < 0) {
        snprintf(msg, sizeof msg, "must be one of: %s", case_type_names());
        reply_invalid(req, "type", msg);
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

static int case_matches(const as_case *c, const list_query *q) {
    for (size_t i = 0; i < NFILTERS; i++) {
        if (!q->given[i]) continue;
        if (i == F_BREACHED) {
            if ((c->sla.breached != 0) != !strcmp(q->value[i], "true")) return 0;
            continue;
        }
        const char *v = case_index_value(c, filters[i]);
        if (v == NULL || strcmp(v, q->value[i]) != 0) return 0;
    }
    return 1;
}

/* The filter whose index a page scans: the first given (breached=false has
 * no index: it is checked per case), or NFILTERS for "all". */
static size_t scan_filter(const list_query *q, int *others) {
    size_t f = NFILTERS;
    int n = 0;
    for (size_t i = 0; i < NFILTERS; i++)
        if (q->given[i]) {
            n++;
            if (f == NFILTERS && !(i == F_BREACHED && strcmp(q->value[i], "true"))) f = i;
        }
    *others = n - (f < NFILTERS);
    return f;
}

/* One page: scans the chosen index backwards from the cursor. */
static int list_page(server *s, const list_query *q, textbuf *tb, uint64_t *next) {
    int others;
    size_t f = scan_filter(q, &others);
    store_key prefix, from;
    case_index_prefix(&prefix, f < NFILTERS ? filters[f] : "all",
                      f < NFILTERS ? (f == F_BREACHED ? "true" : q->value[f]) : "");
    from = prefix;
    if (q->cursor) key_u64(&from, q->cursor - 1);
    if (prefix.overflow) return 0;
    store_read *rd;
    store_iter *it = NULL;
    int rc = store_read_begin(s->db, &rd);
    if (rc != 0) return rc;
    rc = store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, q->cursor ? from.buf : NULL, q->cursor ? from.len : 0,
                         1, &it);
    *next = 0;
    const void *k, *v;
    size_t klen, vlen;
    int scanned = 0, listed = 0;
    while (rc == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        rc = 0;
        uint64_t seq = key_get_u64((const unsigned char *)k + klen - 8);
        if (listed == q->limit || ++scanned > SCAN_BUDGET) {
            *next = seq + 1; /* resume at this entry */
            break;
        }
        as_case_id id;
        case_id_format(seq, id);
        store_key ck;
        key_init(&ck);
        key_str(&ck, id);
        const void *text;
        size_t tlen;
        if (store_read_get(rd, DB_CASES, ck.buf, ck.len, &text, &tlen) != 0) continue;
        if (others) { /* a filter the index did not decide: read the case */
            as_case c;
            char err[128];
            if (case_from_json(&c, text, tlen, err, sizeof err) != 0) continue;
            int ok = case_matches(&c, q);
            case_free(&c);
            if (!ok) continue;
        }
        if (listed++) tb_append(tb, ",", 1);
        tb_append(tb, text, tlen);
    }
    if (rc >= 0 && it) store_iter_close(it);
    store_read_end(rd);
    return rc < 0 ? rc : 0;
}

static void reply_list(server *s, http_request *req, const list_query *q, const char *buyer) {
    textbuf tb = {0};
    uint64_t next = 0;
    tb_append(&tb, "{\"cases\":[", 10);
    int rc = q->none ? 0 : list_page(s, q, &tb, &next);
    if (rc != 0) {
        tb_free(&tb);
        reply_store_error(req, rc);
        return;
    }
    tb_append(&tb, "],\"next_cursor\":", 16);
    if (next) tb_printf(&tb, "\"%" PRIu64 "\"", next);
    else tb_append(&tb, "null", 4);
    if (buyer) {
        tb_append(&tb, ",\"buyer_id\":", 12);
        jsonw_quote(&tb, buyer, strlen(buyer));
    }
    tb_append(&tb, "}", 1);
    if (tb.failed) http_respond_error(req, 503, "unavailable", "out of memory", NULL);
    else http_respond(req, 200, "application/json", tb.buf, tb.len);
    tb_free(&tb);
}

void h_case_list(server *s, http_request *req, const route_params *p, const principal *who) {
    (void)p;
    list_query q;
    if (parse_list_query(req, who, &q, 0) == 0) reply_list(s, req, &q, NULL);
}

void h_customer_cases(server *s, http_request *req, const route_params *p, const principal *who) {
    list_query q;
    if (parse_list_query(req, who, &q, 1) != 0) return;
    const char *buyer = route_param(p, "buyer_id");
    snprintf(q.value[F_BUYER], sizeof q.value[F_BUYER], "%s", buyer);
    q.given[F_BUYER] = 1;
    reply_list(s, req, &q, buyer);
}
