/* api/caseview: reading cases: one case and its timeline (lists are
 * caselist.c). Reads see durable data only (a read transaction); answers are
 * spliced from the stored texts (a case is stored in the API's shape).
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
    const char *text;
    int rc = store_read_get(rd, DB_CASES, k.buf, k.len, val, vlen);
    if (rc == 0 && (rc = store_read_text(rd, *val, *vlen, &text, vlen)) == 0) *val = text;
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
    static const char *const none[] = {NULL};
    if (req_query_known(req, none) != 0) return;
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
            tl_record r = {NULL, 0, NULL, 0};
            if ((rc = store_read_text(rd, val, vlen, &r.text, &r.len)) != 0) break;
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
