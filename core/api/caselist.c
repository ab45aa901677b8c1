/* api/caselist: GET /v1/cases and GET /v1/customers/{buyer_id}/cases, the
 * lists an agent works from.
 *
 * A page scans one ordered source and checks the remaining filters on each
 * case, for at most SCAN_BUDGET entries; it always hands out a cursor where
 * it stopped, so no request scans everything and pages stay stable while
 * cases change:
 *   sort=created (default)  newest first: one 'c' index (the most selective
 *                           filter given), or, for a phone, email or
 *                           tracking-number lookup, the 'c' indexes of the
 *                           buyers or orders it names, merged by case_seq;
 *                           cursor: the case_seq to resume at
 *   sort=due, sort=priority active cases from a work list ('w', case/indexes.h):
 *                           earliest due first, or priority 1 first then due;
 *                           cursor: the position (priority, due, seq)
 * Answers are spliced from the stored texts. A lookup value never appears in
 * an answer or a log (the access log holds the path only). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "case/codec.h"
#include "case/indexes.h"
#include "util/jsonw.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define SCAN_BUDGET 5000
#define LOOKUP_IDS_MAX 64 /* buyers (or orders) one lookup merges; more are left out */
#define TIME_MAX ((int64_t)1 << 40)

typedef enum { SORT_CREATED, SORT_DUE, SORT_PRIORITY } list_sort;

/* The id filters that have a 'c' index, most selective first. */
static const char *const ID_FILTERS[] = {"order_id", "buyer_id", "assignee", "queue", "merchant_id"};
#define NIDS (sizeof ID_FILTERS / sizeof ID_FILTERS[0])
enum { F_ORDER, F_BUYER, F_ASSIGNEE, F_QUEUE, F_MERCHANT };

typedef struct {
    char id[NIDS][AS_ID_MAX + 1];
    int given[NIDS];
    int unassigned;       /* assignee=none */
    unsigned statuses;    /* bit per case_status; 0: any */
    int type;             /* -1: any */
    int breached;         /* -1: any, 0, 1 */
    unsigned priorities;  /* bit per priority 1..5; 0: any */
    int64_t due_before;   /* AS_NONE: none */
    int64_t created_from, created_to;
    const char *lookup_kind; /* "phone", "email", "tracking" or NULL */
    char lookup[260];
    list_sort sort;
    int64_t limit;
    uint64_t cursor[3]; /* created: seq; due: due, seq; priority: priority, due, seq */
    int has_cursor;
    int none; /* another merchant's cases asked for: nothing matches */
} list_query;

/* ---- the query ---- */

/* A parameter given at most once: 1 with its value, 0 absent, -1 answered
 * (given twice: several values go in one, comma separated; or too long). */
static int param(http_request *req, const char *name, char *out, size_t outlen) {
    const char *q = http_request_query(req);
    size_t nlen = strlen(name);
    int seen = 0;
    for (const char *p = q; p && *p;) {
        size_t len = strcspn(p, "&"), klen = strcspn(p, "=&");
        seen += klen == nlen && strncmp(p, name, nlen) == 0;
        p += len + (p[len] == '&');
    }
    if (seen > 1) {
        reply_invalid(req, name, "is given more than once (list several values in one, comma separated)");
        return -1;
    }
    int rc = http_query_param(req, name, out, outlen);
    if (rc < 0) {
        reply_invalid(req, name, "is too long or badly encoded");
        return -1;
    }
    return rc == 1 && out[0] != '\0';
}

static int parse_time(http_request *req, const char *name, int64_t *out) {
    char num[32];
    *out = AS_NONE;
    int rc = param(req, name, num, sizeof num);
    if (rc <= 0) return rc;
    char *end;
    long long v = strtoll(num, &end, 10);
    if (*end || num[0] == '-' || num[0] == '+' || v > TIME_MAX) {
        reply_invalid(req, name, "must be unix seconds (an integer from 0 to 2^40)");
        return -1;
    }
    *out = v;
    return 1;
}

/* status=open,in_progress: each one of the statuses. */
static int parse_statuses(http_request *req, list_query *q) {
    char list[256];
    int rc = param(req, "status", list, sizeof list);
    if (rc <= 0) return rc;
    char *save;
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int st = case_status_from_name(name);
        if (st < 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "must be one or more (comma separated) of: %s", case_status_names());
            reply_invalid(req, "status", msg);
            return -1;
        }
        q->statuses |= 1u << st;
    }
    return 0;
}

static int parse_priorities(http_request *req, list_query *q) {
    char list[64];
    int rc = param(req, "priority", list, sizeof list);
    if (rc <= 0) return rc;
    char *save;
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (p[0] < '1' || p[0] > '5' || p[1]) {
            reply_invalid(req, "priority", "must be one or more (comma separated) of 1, 2, 3, 4, 5");
            return -1;
        }
        q->priorities |= 1u << (p[0] - '0');
    }
    return 0;
}

/* sort=created|due|priority, and a cursor of that sort. */
static int parse_order(http_request *req, list_query *q) {
    char v[64];
    int rc = param(req, "sort", v, sizeof v);
    if (rc < 0) return -1;
    q->sort = rc == 0 || !strcmp(v, "created") ? SORT_CREATED : !strcmp(v, "due") ? SORT_DUE
            : !strcmp(v, "priority") ? SORT_PRIORITY : (list_sort)-1;
    if ((int)q->sort < 0) {
        reply_invalid(req, "sort", "must be created (newest first), due (earliest SLA due first) or priority "
                                   "(priority 1 first, then due)");
        return -1;
    }
    if ((rc = param(req, "cursor", v, sizeof v)) <= 0) return rc;
    int n = 0, want = q->sort == SORT_CREATED ? 1 : q->sort == SORT_DUE ? 2 : 3;
    char tag = q->sort == SORT_DUE ? 'd' : q->sort == SORT_PRIORITY ? 'p' : 0;
    const char *p = v;
    if (tag && *p++ != tag) n = -1;
    while (n >= 0 && n < want) {
        char *end;
        if (*p < '0' || *p > '9') break;
        q->cursor[n++] = strtoull(p, &end, 10);
        p = end;
        if (n < want && *p++ != '.') break;
    }
    if (n != want || *p || (q->sort == SORT_CREATED && q->cursor[0] == 0)) {
        reply_invalid(req, "cursor", "is not a cursor this server handed out for this sort");
        return -1;
    }
    q->has_cursor = 1;
    return 0;
}

/* phone=, email=, tracking_no=: at most one lookup. */
static int parse_lookup(http_request *req, list_query *q) {
    static const char *const params[][2] = {{"phone", "phone"}, {"email", "email"}, {"tracking_no", "tracking"}};
    char v[sizeof q->lookup];
    for (size_t i = 0; i < 3; i++) {
        int rc = param(req, params[i][0], v, sizeof v);
        if (rc < 0) return -1;
        if (rc == 0) continue;
        if (q->lookup_kind) {
            reply_invalid(req, params[i][0], "one lookup at a time: phone, email or tracking_no");
            return -1;
        }
        char hash[65];
        if (contact_hash(params[i][1], v, hash) != 0) {
            reply_invalid(req, params[i][0], "has nothing to look up (a phone needs digits)");
            return -1;
        }
        q->lookup_kind = params[i][1];
        snprintf(q->lookup, sizeof q->lookup, "%s", hash); /* only the hash is kept */
    }
    return 0;
}

static int parse_list_query(http_request *req, const principal *who, list_query *q, int by_buyer) {
#define LIST_PARAMS "assignee", "queue", "merchant_id", "status", "type", "breached", "priority", "due_before", \
                    "created_from", "created_to", "phone", "email", "tracking_no", "sort", "limit", "cursor", NULL
    static const char *const known[] = {"order_id", "buyer_id", LIST_PARAMS};
    static const char *const known_buyer[] = {"order_id", LIST_PARAMS};
    memset(q, 0, sizeof *q);
    q->type = q->breached = -1;
    if (req_query_known(req, by_buyer ? known_buyer : known) != 0) return -1;
    for (size_t i = 0; i < NIDS; i++) {
        if (by_buyer && i == F_BUYER) continue;
        int rc = param(req, ID_FILTERS[i], q->id[i], sizeof q->id[i]);
        if (rc < 0) return -1;
        q->given[i] = rc;
    }
    if (q->given[F_ASSIGNEE] && !strcmp(q->id[F_ASSIGNEE], "none")) { /* reserved: the unassigned */
        q->given[F_ASSIGNEE] = 0;
        q->unassigned = 1;
    }
    if (who->merchant) { /* a bound token only ever lists its merchant */
        q->none = q->given[F_MERCHANT] && strcmp(q->id[F_MERCHANT], who->merchant) != 0;
        AS_IDSET(q->id[F_MERCHANT], who->merchant);
        q->given[F_MERCHANT] = 1;
    }
    char v[64];
    int rc = param(req, "breached", v, sizeof v);
    if (rc < 0) return -1;
    if (rc && strcmp(v, "true") && strcmp(v, "false")) {
        reply_invalid(req, "breached", "must be true or false");
        return -1;
    }
    if (rc) q->breached = !strcmp(v, "true");
    if ((rc = param(req, "type", v, sizeof v)) < 0) return -1;
    if (rc && (q->type = case_type_from_name(v)) < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "must be one of: %s", case_type_names());
        reply_invalid(req, "type", msg);
        return -1;
    }
    if (parse_statuses(req, q) != 0 || parse_priorities(req, q) != 0 || parse_time(req, "due_before", &q->due_before) < 0 ||
        parse_time(req, "created_from", &q->created_from) < 0 || parse_time(req, "created_to", &q->created_to) < 0 ||
        parse_lookup(req, q) != 0 || parse_order(req, q) != 0)
        return -1;
    if (q->sort != SORT_CREATED) {
        unsigned active = 1u << ST_OPEN | 1u << ST_AWAITING_CUSTOMER | 1u << ST_IN_PROGRESS;
        if (q->statuses & ~active) {
            reply_invalid(req, "sort", "due and priority list the active cases (open, awaiting_customer, "
                                       "in_progress): a status filter may only name those");
            return -1;
        }
        if (q->lookup_kind) {
            reply_invalid(req, "sort", "a phone, email or tracking_no lookup lists newest first (sort=created)");
            return -1;
        }
    }
    q->limit = LIST_DEFAULT;
    if ((rc = param(req, "limit", v, sizeof v)) < 0) return -1;
    if (rc) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (*end || n < 1 || n > LIST_MAX) {
            reply_invalid(req, "limit", "must be an integer from 1 to 200");
            return -1;
        }
        q->limit = n;
    }
    return 0;
}

static int case_matches(const as_case *c, const list_query *q) {
    for (size_t i = 0; i < NIDS; i++) {
        if (!q->given[i]) continue;
        const char *v = case_index_value(c, ID_FILTERS[i]);
        if (v == NULL || strcmp(v, q->id[i]) != 0) return 0;
    }
    if (q->unassigned && c->assignee[0]) return 0;
    if (q->statuses && !(q->statuses >> c->status & 1u)) return 0;
    if (q->type >= 0 && (int)c->type != q->type) return 0;
    if (q->breached >= 0 && (c->sla.breached != 0) != q->breached) return 0;
    if (q->priorities && !(q->priorities >> (c->priority < 0 || c->priority > 31 ? 0 : c->priority) & 1u)) return 0;
    if (q->due_before != AS_NONE) {
        int64_t due = case_sla_next_due(c);
        if (due == AS_NONE || due >= q->due_before) return 0;
    }
    if (q->created_from != AS_NONE && c->created_at < q->created_from) return 0;
    if (q->created_to != AS_NONE && c->created_at >= q->created_to) return 0;
    return 1;
}

/* ---- sources ---- */

typedef struct {
    store_iter *it;
    const unsigned char *key;
    size_t klen;
    int live;
} src_iter;

typedef struct {
    list_sort sort;
    src_iter its[LOOKUP_IDS_MAX];
    size_t n;
    int primed;
    const unsigned char *key; /* the current entry */
    size_t klen;
    uint64_t seq;
    int decided; /* the filter the source decides (an ID_FILTERS index), or -1 */
    int decides_unassigned; /* a work list of the unassigned only */
} list_source;

static int iter_step(src_iter *s) {
    const void *k, *v;
    size_t klen, vlen;
    int rc = store_iter_next(s->it, &k, &klen, &v, &vlen);
    s->live = rc == 1 && klen >= 8;
    if (s->live) {
        s->key = k;
        s->klen = klen;
    }
    return rc < 0 ? rc : 0;
}

static uint64_t iter_seq(const src_iter *s) { return key_get_u64(s->key + s->klen - 8); }

/* The next entry: the highest seq of the merged 'c' indexes (one for a plain
 * list), or the work list's next. 1, 0 at the end, or a store error. */
static int source_next(list_source *src) {
    if (!src->primed) {
        src->primed = 1;
        for (size_t i = 0; i < src->n; i++) {
            int rc = iter_step(&src->its[i]);
            if (rc) return rc;
        }
    } else {
        for (size_t i = 0; i < src->n; i++) /* the entry handed out last moves on */
            if (src->its[i].live && src->its[i].key == src->key) {
                int rc = iter_step(&src->its[i]);
                if (rc) return rc;
            }
    }
    src_iter *best = NULL;
    for (size_t i = 0; i < src->n; i++)
        if (src->its[i].live && (best == NULL || iter_seq(&src->its[i]) > iter_seq(best))) best = &src->its[i];
    if (best == NULL) return 0;
    src->key = best->key;
    src->klen = best->klen;
    src->seq = iter_seq(best);
    return 1;
}

static void source_close(list_source *src) {
    for (size_t i = 0; i < src->n; i++) store_iter_close(src->its[i].it);
    src->n = 0;
}

/* Opens one ordered scan of prefix (from the cursor's key, if given). */
static int source_add(list_source *src, store_read *rd, const store_key *prefix, const store_key *from, int reverse) {
    if (prefix->overflow || src->n == LOOKUP_IDS_MAX) return 0;
    src_iter *s = &src->its[src->n];
    memset(s, 0, sizeof *s);
    int rc = store_iter_open(rd, DB_INDEX, prefix->buf, prefix->len, from ? from->buf : NULL, from ? from->len : 0,
                             reverse, &s->it);
    if (rc == 0) src->n++;
    return rc;
}

/* The ids a lookup names (buyers for a phone or email, orders for a
 * tracking number), at most LOOKUP_IDS_MAX, distinct. */
static size_t lookup_ids(store_read *rd, const list_query *q, as_id *ids) {
    store_key prefix;
    contact_prefix(&prefix, q->lookup_kind, q->lookup);
    store_iter *it;
    size_t n = 0;
    if (store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it) != 0) return 0;
    const void *k, *v;
    size_t klen, vlen;
    while (n < LOOKUP_IDS_MAX && store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
        const char *id = (const char *)k + prefix.len;
        if (klen <= prefix.len || memchr(id, 0, klen - prefix.len) == NULL) continue;
        int seen = 0;
        for (size_t i = 0; i < n && !seen; i++) seen = !strcmp(ids[i], id);
        if (!seen) AS_IDSET(ids[n++], id);
    }
    store_iter_close(it);
    return n;
}

/* The created-sort scan of one 'c' index, newest first from the cursor. */
static int open_created(list_source *src, store_read *rd, const list_query *q, const char *field, const char *value) {
    store_key prefix, from;
    case_index_prefix(&prefix, field, value);
    from = prefix;
    if (q->has_cursor) key_u64(&from, q->cursor[0] - 1);
    return source_add(src, rd, &prefix, q->has_cursor ? &from : NULL, 1);
}

static int open_source(list_source *src, store_read *rd, const list_query *q) {
    memset(src, 0, sizeof *src);
    src->sort = q->sort;
    src->decided = -1;
    if (q->sort != SORT_CREATED) {
        /* the narrowest work list: an agent's (or the unassigned), a queue's backlog or list, a merchant's, all */
        const char *scope = "all", *value = "";
        if (q->given[F_ASSIGNEE] || q->unassigned) {
            scope = "assignee", value = q->unassigned ? "" : q->id[F_ASSIGNEE];
            src->decided = q->unassigned ? -1 : F_ASSIGNEE;
            src->decides_unassigned = q->unassigned;
        } else if (q->given[F_QUEUE]) {
            scope = "queue", value = q->id[F_QUEUE], src->decided = F_QUEUE;
        } else if (q->given[F_MERCHANT]) {
            scope = "merchant_id", value = q->id[F_MERCHANT], src->decided = F_MERCHANT;
        }
        if (q->sort == SORT_PRIORITY && q->unassigned && q->given[F_QUEUE]) /* both at once: the backlog */
            scope = "backlog", value = q->id[F_QUEUE], src->decided = F_QUEUE;
        store_key prefix, from;
        work_prefix(&prefix, q->sort == SORT_DUE ? WORK_BY_DUE : WORK_BY_PRIORITY, scope, value);
        from = prefix;
        if (q->has_cursor) {
            if (q->sort == SORT_PRIORITY) key_u8(&from, (uint8_t)(q->cursor[0] > 255 ? 255 : q->cursor[0]));
            key_u64(&from, q->cursor[q->sort == SORT_PRIORITY]);
            key_u64(&from, q->cursor[q->sort == SORT_PRIORITY ? 2 : 1]);
        }
        return source_add(src, rd, &prefix, q->has_cursor ? &from : NULL, 0);
    }
    if (q->lookup_kind) {
        as_id *ids = malloc(LOOKUP_IDS_MAX * sizeof *ids);
        if (ids == NULL) return STORE_ENOMEM;
        size_t n = lookup_ids(rd, q, ids);
        const char *field = !strcmp(q->lookup_kind, "tracking") ? "order_id" : "buyer_id";
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) rc = open_created(src, rd, q, field, ids[i]);
        free(ids);
        return rc;
    }
    for (size_t i = 0; i < NIDS; i++)
        if (q->given[i]) {
            src->decided = (int)i;
            return open_created(src, rd, q, ID_FILTERS[i], q->id[i]);
        }
    if (q->statuses && !(q->statuses & (q->statuses - 1))) { /* one status: its index */
        for (int st = 0; st < ST__COUNT; st++)
            if (q->statuses == 1u << st) return open_created(src, rd, q, "status", case_status_name((case_status)st));
    }
    if (q->type >= 0) return open_created(src, rd, q, "type", case_type_name((case_type)q->type));
    if (q->breached == 1) return open_created(src, rd, q, "breached", "true");
    return open_created(src, rd, q, "all", "");
}

/* Where the next page resumes: at the current entry. */
static void cursor_of(const list_source *src, char *out, size_t outlen) {
    if (src->sort == SORT_CREATED)
        snprintf(out, outlen, "%" PRIu64, src->seq + 1);
    else if (src->sort == SORT_DUE)
        snprintf(out, outlen, "d%" PRIu64 ".%" PRIu64, work_key_due(src->key, src->klen), src->seq);
    else
        snprintf(out, outlen, "p%d.%" PRIu64 ".%" PRIu64, work_key_priority(src->key, src->klen),
                 work_key_due(src->key, src->klen), src->seq);
}

/* 1 if the filters leave anything the source did not decide. */
static int needs_case(const list_query *q, const list_source *src) {
    for (size_t i = 0; i < NIDS; i++)
        if (q->given[i] && (int)i != src->decided) return 1;
    return q->statuses || q->type >= 0 || q->breached >= 0 || q->priorities || q->due_before != AS_NONE ||
           q->created_from != AS_NONE || q->created_to != AS_NONE || (q->unassigned && !src->decides_unassigned);
}

static int list_page(server *s, const list_query *q, textbuf *tb, char *next, size_t nextlen) {
    store_read *rd;
    int rc = store_read_begin(s->db, &rd);
    if (rc != 0) return rc;
    list_source src;
    rc = open_source(&src, rd, q);
    int check = needs_case(q, &src), scanned = 0, listed = 0;
    while (rc == 0 && (rc = source_next(&src)) == 1) {
        rc = 0;
        if (listed == q->limit || ++scanned > SCAN_BUDGET) {
            cursor_of(&src, next, nextlen);
            break;
        }
        if (q->sort == SORT_DUE && q->due_before != AS_NONE &&
            work_key_due(src.key, src.klen) >= (uint64_t)q->due_before)
            break; /* the list is in due order: nothing later matches */
        as_case_id id;
        case_id_format(src.seq, id);
        store_key ck;
        key_init(&ck);
        key_str(&ck, id);
        const void *val;
        const char *text;
        size_t tlen;
        if (store_read_get(rd, DB_CASES, ck.buf, ck.len, &val, &tlen) != 0 ||
            store_read_text(rd, val, tlen, &text, &tlen) != 0)
            continue;
        if (check) {
            as_case c;
            char err[128];
            if (case_from_json(&c, text, tlen, err, sizeof err) != 0) continue;
            int ok = case_matches(&c, q);
            int older = q->sort == SORT_CREATED && q->created_from != AS_NONE && c.created_at < q->created_from;
            case_free(&c);
            if (older) break; /* newest first: the rest is older still */
            if (!ok) continue;
        }
        if (listed++) tb_append(tb, ",", 1);
        tb_append(tb, text, tlen);
    }
    source_close(&src);
    store_read_end(rd);
    return rc < 0 ? rc : 0;
}

static void reply_list(server *s, http_request *req, const list_query *q, const char *buyer) {
    textbuf tb = {0};
    char next[96] = "";
    tb_append(&tb, "{\"cases\":[", 10);
    int rc = q->none ? 0 : list_page(s, q, &tb, next, sizeof next);
    if (rc != 0) {
        tb_free(&tb);
        reply_store_error(req, rc);
        return;
    }
    tb_append(&tb, "],\"next_cursor\":", 16);
    if (next[0]) jsonw_quote(&tb, next, strlen(next));
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
    AS_IDSET(q.id[F_BUYER], buyer);
    q.given[F_BUYER] = 1;
    reply_list(s, req, &q, buyer);
}
