/* case/records: keys and loads of the domain's data (see records.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/codec.h"
#include "case/indexes.h"
#include "case/records.h"
#include "util/log.h"
#include "util/textbuf.h"

const char *const CASE_INDEX_FIELDS[CASE_INDEX_NFIELDS] = {
    "status", "type", "queue", "assignee", "buyer_id", "order_id", "merchant_id", "breached", "all",
};

static void id_key(store_key *k, const char *id) {
    key_init(k);
    key_str(k, id);
}

/* A stored value that does not decode is damage, not absence: logged, EIO. */
static int undecodable(const char *what, const char *id, const char *err) {
    log_emit(LOG_ERROR, "stored record does not decode",
             json_pack("{s:s,s:s,s:s}", "what", what, "id", id, "error", err));
    return STORE_EIO;
}

/* The bytes of key: latest (pending writes first) or durable. Calls decode
 * with them. */
static int load(store *db, store_db dbi, const store_key *k, int latest,
                int (*decode)(void *out, const char *text, size_t len, char *err, size_t errlen), void *out,
                const char *what, const char *id) {
    char err[256];
    if (k->overflow) return STORE_ENOTFOUND;
    if (latest) {
        char *val;
        size_t vlen;
        int rc = store_get_latest(db, dbi, k->buf, k->len, &val, &vlen);
        if (rc != 0) return rc;
        rc = decode(out, val, vlen, err, sizeof err);
        free(val);
        return rc == 0 ? 0 : undecodable(what, id, err);
    }
    store_read *rd;
    int rc = store_read_begin(db, &rd);
    if (rc != 0) return rc;
    const void *val;
    size_t vlen;
    rc = store_read_get(rd, dbi, k->buf, k->len, &val, &vlen);
    const char *text;
    if (rc == 0 && store_packs(dbi) && (rc = store_read_text(rd, val, vlen, &text, &vlen)) == 0) val = text;
    if (rc == 0 && decode(out, val, vlen, err, sizeof err) != 0) rc = undecodable(what, id, err);
    store_read_end(rd);
    return rc;
}

static int decode_case(void *out, const char *t, size_t n, char *e, size_t el) { return case_from_json(out, t, n, e, el); }
static int decode_order(void *out, const char *t, size_t n, char *e, size_t el) { return order_decode(out, t, n, e, el); }
static int decode_ledger(void *out, const char *t, size_t n, char *e, size_t el) { return ledger_from_json(out, t, n, e, el); }

int case_load(store *db, const char *case_id, int latest, as_case *out) {
    store_key k;
    id_key(&k, case_id);
    case_init(out);
    return load(db, DB_CASES, &k, latest, decode_case, out, "case", case_id);
}

int case_load_in(store_batch *b, const char *case_id, as_case *out) {
    store_key k;
    id_key(&k, case_id);
    case_init(out);
    if (k.overflow) return STORE_ENOTFOUND;
    char *val, err[256];
    size_t vlen;
    int rc = store_batch_get_latest(b, DB_CASES, k.buf, k.len, &val, &vlen);
    if (rc != 0) return rc;
    rc = case_from_json(out, val, vlen, err, sizeof err) == 0 ? 0 : undecodable("case", case_id, err);
    free(val);
    return rc;
}

int order_load(store *db, const char *order_id, int latest, as_order *out) {
    store_key k;
    id_key(&k, order_id);
    order_init(out);
    return load(db, DB_ORDERS, &k, latest, decode_order, out, "order", order_id);
}

int ledger_load(store *db, const char *order_id, as_ledger *out) {
    store_key k;
    key_init(&k);
    key_u8(&k, IDX_LEDGER);
    key_str(&k, order_id);
    ledger_init(out);
    int rc = load(db, DB_INDEX, &k, 1, decode_ledger, out, "claims ledger", order_id);
    return rc == STORE_ENOTFOUND ? 0 : rc;
}

int order_read(store_read *rd, const char *order_id, as_order *out) {
    store_key k;
    id_key(&k, order_id);
    order_init(out);
    if (k.overflow) return STORE_ENOTFOUND;
    const void *val;
    size_t vlen;
    int rc = store_read_get(rd, DB_ORDERS, k.buf, k.len, &val, &vlen);
    if (rc != 0) return rc;
    char err[256];
    return order_decode(out, val, vlen, err, sizeof err) == 0 ? 0 : undecodable("order", order_id, err);
}

int case_read_seq(store_read *rd, uint64_t seq, as_case *out) {
    as_case_id id;
    case_id_format(seq, id);
    store_key k;
    id_key(&k, id);
    const void *val;
    const char *text;
    size_t vlen;
    case_init(out);
    int rc = store_read_get(rd, DB_CASES, k.buf, k.len, &val, &vlen);
    if (rc == 0) rc = store_read_text(rd, val, vlen, &text, &vlen);
    if (rc != 0) return rc;
    val = text;
    char err[256];
    return case_from_json(out, val, vlen, err, sizeof err) == 0 ? 0 : undecodable("case", id, err);
}

void case_index_prefix(store_key *k, const char *field, const char *value) {
    key_init(k);
    key_u8(k, IDX_CASE);
    key_str(k, field);
    key_str(k, value);
}

const char *case_index_value(const as_case *c, const char *field) {
    const char *v = NULL;
    if (!strcmp(field, "all")) return "";
    if (!strcmp(field, "status")) return case_status_name(c->status);
    if (!strcmp(field, "type")) return case_type_name(c->type);
    if (!strcmp(field, "breached")) return c->sla.breached ? "true" : NULL;
    if (!strcmp(field, "queue")) v = c->queue;
    else if (!strcmp(field, "assignee")) v = c->assignee;
    else if (!strcmp(field, "buyer_id")) v = c->buyer_id;
    else if (!strcmp(field, "order_id")) v = c->order_id;
    else if (!strcmp(field, "merchant_id")) v = c->merchant_id;
    return v && v[0] ? v : NULL;
}

int order_has_cases(store *db, const char *order_id) {
    store_key prefix;
    case_index_prefix(&prefix, "order_id", order_id);
    store_read *rd;
    store_iter *it;
    if (prefix.overflow || store_read_begin(db, &rd) != 0) return 0;
    int found = 0;
    if (store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it) == 0) {
        const void *k, *v;
        size_t klen, vlen;
        found = store_iter_next(it, &k, &klen, &v, &vlen) == 1;
        store_iter_close(it);
    }
    store_read_end(rd);
    return found;
}

/* ---- customers ---- */

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void activity_prefix(store_key *k, const char *buyer_id) {
    key_init(k);
    key_u8(k, IDX_ACTIVITY);
    key_str(k, buyer_id);
}

/* From the buyer's activity records: one per busy second, so a window costs
 * as many steps as the buyer had busy seconds. */
static void count_recent(store_read *rd, const char *buyer_id, int64_t since, int64_t *returns, int64_t *cases) {
    store_key prefix, from;
    activity_prefix(&prefix, buyer_id);
    from = prefix;
    key_u64(&from, (uint64_t)(since < 0 ? 0 : since));
    store_iter *it;
    if (from.overflow || store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, from.buf, from.len, 0, &it) != 0)
        return;
    const void *k, *v;
    size_t klen, vlen;
    while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
        if (vlen != 8 || klen != prefix.len + 8) continue;
        *cases += get_u32(v);
        *returns += get_u32((const unsigned char *)v + 4);
    }
    store_iter_close(it);
}

/* The same from the buyer's case index, for a case re-decided later
 * (replay): only the cases opened before it (lower seq) count. Newest first
 * from the case before, back to the window's start. */
static void count_before(store_read *rd, const char *buyer_id, int64_t since, uint64_t before_seq, int64_t *returns,
                         int64_t *cases) {
    store_key prefix, from;
    case_index_prefix(&prefix, "buyer_id", buyer_id);
    from = prefix;
    key_u64(&from, before_seq - 1);
    store_iter *it;
    if (from.overflow || store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, from.buf, from.len, 1, &it) != 0)
        return;
    const void *k, *v;
    size_t klen, vlen;
    while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
        if (vlen < 8) continue;
        if ((int64_t)key_get_u64(v) < since) break; /* seq order is creation order */
        *cases += 1;
        *returns += vlen - 8 == 6 && memcmp((const char *)v + 8, "return", 6) == 0;
    }
    store_iter_close(it);
}

int customer_read(store *db, const char *merchant_id, const char *buyer_id, int64_t now, uint64_t before_seq,
                  as_customer *out) {
    memset(out, 0, sizeof *out);
    out->lifetime_spend_cents = AS_NONE;
    if (buyer_id == NULL) return -1;
    store_read *rd;
    if (store_read_begin(db, &rd) != 0) return -1;
    int rc = customer_read_in(rd, merchant_id, buyer_id, now, before_seq, out);
    store_read_end(rd);
    return rc;
}

int customer_read_in(store_read *rd, const char *merchant_id, const char *buyer_id, int64_t now, uint64_t before_seq,
                     as_customer *out) {
    memset(out, 0, sizeof *out);
    out->lifetime_spend_cents = AS_NONE;
    if (buyer_id == NULL) return -1;
    int64_t since = now - CUSTOMER_WINDOW;
    if (before_seq) count_before(rd, buyer_id, since, before_seq, &out->returns_30d, &out->cases_30d);
    else count_recent(rd, buyer_id, since, &out->returns_30d, &out->cases_30d);
    store_key k;
    key_init(&k);
    key_u8(&k, IDX_PROFILE);
    key_str(&k, merchant_id ? merchant_id : "");
    key_str(&k, buyer_id);
    const void *val;
    size_t vlen;
    if (!k.overflow && store_read_get(rd, DB_INDEX, k.buf, k.len, &val, &vlen) == 0) {
        json_t *p = json_loadb(val, vlen, 0, NULL);
        const char *tier = json_string_value(json_object_get(p, "tier"));
        if (tier) snprintf(out->tier, sizeof out->tier, "%s", tier);
        json_t *spend = json_object_get(p, "lifetime_spend_cents");
        if (json_is_integer(spend)) out->lifetime_spend_cents = json_integer_value(spend);
        json_decref(p);
    }
    return 0;
}

/* ---- complaints ---- */

void complaints_key(store_key *k, const char *merchant_id, const char *sku) {
    key_init(k);
    key_u8(k, IDX_COMPLAINTS);
    key_str(k, sku ? "sku" : "merchant");
    key_str(k, merchant_id);
    if (sku) key_str(k, sku);
}

int64_t complaints_count(store *db, const char *merchant_id, const char *sku, int64_t since) {
    store_key k;
    complaints_key(&k, merchant_id, sku);
    char *val;
    size_t vlen;
    if (k.overflow || store_get_latest(db, DB_INDEX, k.buf, k.len, &val, &vlen) != 0) return 0;
    int64_t n = 0;
    for (size_t off = 0; off + 8 <= vlen; off += 8)
        n += (int64_t)key_get_u64(val + off) > since; /* exactly 24 h old: out */
    free(val);
    return n;
}

/* ---- risk windows ---- */

#define WINDOW_KEPT 256 /* entries a window keeps: thresholds above it never fire */
static void window_key(store_key *k, const char *scope, const char *a, const char *b) {
    key_init(k);
    key_u8(k, IDX_RISK);
    key_str(k, scope);
    key_str(k, a);
    key_str(k, b);
}

/* Calls fn on each well-formed entry (at, tag) of a stored window. */
static void window_each(const char *val, size_t vlen, void (*fn)(void *ud, int64_t at, const char *tag), void *ud) {
    for (size_t off = 0; off + 9 <= vlen;) {
        const char *tag = val + off + 8;
        const char *nul = memchr(tag, 0, vlen - off - 8);
        if (nul == NULL) break;
        fn(ud, (int64_t)key_get_u64(val + off), tag);
        off = (size_t)(nul - val) + 1;
    }
}

typedef struct {
    int64_t since;
    const char *tag;
    as_window_count *out;
    const char *tags[WINDOW_KEPT + 1]; /* the distinct tags seen */
    size_t ntags;
} window_reader;

static void count_entry(void *ud, int64_t at, const char *tag) {
    window_reader *r = ud;
    if (at <= r->since) return; /* exactly a span old: out */
    as_window_count *o = r->out;
    o->count++;
    if (r->tag && r->tag[0] && !strcmp(tag, r->tag)) o->has_tag = 1;
    if (!tag[0]) return;
    for (size_t i = 0; i < r->ntags; i++)
        if (!strcmp(r->tags[i], tag)) return;
    if (r->ntags <= WINDOW_KEPT) r->tags[r->ntags++] = tag;
    if (o->ntags < WINDOW_TAGS_MAX) AS_IDSET(o->tags[o->ntags++], tag);
    o->distinct++;
}

int risk_window_read(store *db, const char *scope, const char *a, const char *b, int64_t since, const char *tag,
                     as_window_count *out) {
    memset(out, 0, sizeof *out);
    store_key k;
    window_key(&k, scope, a, b);
    char *val;
    size_t vlen;
    if (k.overflow) return 0;
    int rc = store_get_latest(db, DB_INDEX, k.buf, k.len, &val, &vlen);
    if (rc == STORE_ENOTFOUND) return 0;
    if (rc != 0) return rc;
    window_reader *r = malloc(sizeof *r);
    if (r == NULL) {
        free(val);
        return STORE_ENOMEM;
    }
    *r = (window_reader){.since = since, .tag = tag, .out = out};
    window_each(val, vlen, count_entry, r);
    free(r);
    free(val);
    return 0;
}

typedef struct {
    int64_t after;
    textbuf *tb;
    size_t entries;
} window_writer;

static void keep_entry(void *ud, int64_t at, const char *tag) {
    window_writer *w = ud;
    if (at <= w->after) return;
    store_key k;
    key_init(&k);
    key_u64(&k, (uint64_t)at);
    tb_append(w->tb, k.buf, 8);
    tb_append(w->tb, tag, strlen(tag) + 1);
    w->entries++;
}

void risk_window_add(store_batch *b, const as_window *w) {
    store_key k;
    window_key(&k, w->scope, w->a, w->b);
    if (k.overflow) return;
    char *old = NULL;
    size_t olen = 0;
    int rc = store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &old, &olen);
    if (rc != 0 && rc != STORE_ENOTFOUND) { /* unread is not empty: never overwrite the window */
        store_batch_fail(b, rc);
        return;
    }
    textbuf tb = {0};
    window_writer ww = {w->at - w->span, &tb, 0};
    if (rc == 0) window_each(old, olen, keep_entry, &ww);
    free(old);
    keep_entry(&(window_writer){INT64_MIN, &tb, 0}, w->at, w->tag);
    size_t kept = w->keep > 0 && w->keep < WINDOW_KEPT ? (size_t)w->keep : WINDOW_KEPT;
    size_t start = 0; /* past the bound: the oldest go */
    for (size_t n = ww.entries + 1; n > kept && start < tb.len; n--)
        start += 8 + strlen(tb.buf + start + 8) + 1;
    if (tb.failed) store_batch_fail(b, STORE_ENOMEM);
    else store_batch_put(b, DB_INDEX, k.buf, k.len, tb.buf + start, tb.len - start);
    tb_free(&tb);
}

/* ---- relationship surveys ---- */

void nps_key(store_key *k, const char *buyer_id, const char *merchant_id) {
    key_init(k);
    key_u8(k, IDX_NPS);
    key_str(k, buyer_id);
    key_str(k, merchant_id ? merchant_id : "");
}

int nps_load(store *db, store_batch *b, const char *buyer_id, const char *merchant_id, as_nps *out) {
    store_key k;
    nps_key(&k, buyer_id, merchant_id);
    nps_init(out);
    if (k.overflow) return STORE_ENOTFOUND;
    char *val, err[256];
    size_t vlen;
    int rc = b ? store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &val, &vlen)
               : store_get_latest(db, DB_INDEX, k.buf, k.len, &val, &vlen);
    if (rc != 0) return rc;
    rc = nps_from_json(out, val, vlen, err, sizeof err) == 0 ? 0 : undecodable("relationship survey", buyer_id, err);
    free(val);
    return rc;
}

static void nps_planned_key(store_key *k, const char *buyer_id, const char *merchant_id) {
    key_init(k);
    key_u8(k, IDX_NPS_PLANNED);
    key_str(k, buyer_id);
    key_str(k, merchant_id ? merchant_id : "");
}

int nps_known_planned(store_batch *b, const char *buyer_id, const char *merchant_id) {
    store_key k;
    nps_planned_key(&k, buyer_id, merchant_id);
    char *val;
    size_t vlen;
    if (k.overflow || store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &val, &vlen) != 0) return 0;
    free(val);
    return 1;
}

static void nps_timer_key(store_key *k, int64_t due, const as_nps *n) {
    char id[2 * AS_ID_MAX + 2];
    snprintf(id, sizeof id, "%s/%s", n->buyer_id, n->merchant_id);
    key_init(k);
    key_u64(k, (uint64_t)(due < 0 ? 0 : due));
    key_str(k, "nps");
    key_str(k, id);
}

int nps_timer_id(const char *id, as_id buyer, as_id merchant) {
    const char *slash = strchr(id, '/');
    if (slash == NULL || slash == id || (size_t)(slash - id) > AS_ID_MAX) return -1;
    memcpy(buyer, id, (size_t)(slash - id));
    buyer[slash - id] = '\0';
    as_idset(merchant, sizeof(as_id), slash + 1);
    return 0;
}

void nps_store(store_batch *b, const as_nps *before, const as_nps *after) {
    store_key k;
    nps_key(&k, after->buyer_id, after->merchant_id);
    size_t len;
    char *text = nps_to_json(after, &len);
    if (text == NULL || k.overflow) store_batch_fail(b, text ? STORE_EINVAL : STORE_ENOMEM);
    else store_batch_put(b, DB_INDEX, k.buf, k.len, text, len);
    free(text);
    int64_t was = nps_timer_due(before), now = nps_timer_due(after);
    if (was != now && was >= 0) {
        nps_timer_key(&k, was, before);
        store_batch_del(b, DB_TIMERS, k.buf, k.len);
    }
    if (was != now && now >= 0) {
        nps_timer_key(&k, now, after);
        store_batch_put(b, DB_TIMERS, k.buf, k.len, "", 0);
    }
    nps_planned_key(&k, after->buyer_id, after->merchant_id);
    if (nps_planned(after)) store_batch_put(b, DB_INDEX, k.buf, k.len, "", 0);
    else if (before && nps_planned(before)) store_batch_del(b, DB_INDEX, k.buf, k.len);
    answers_index_nps(b, before, after);
}

/* ---- agents ---- */

/* Counts the agent's work list (active cases only, 'w' | 'd' | "assignee"),
 * reading no case: the 'c' assignee index holds every case the agent ever
 * had, and loading each one grew with the agent's history. */
int64_t agent_open_cases(store *db, const char *agent_id) {
    store_key prefix;
    work_prefix(&prefix, WORK_BY_DUE, "assignee", agent_id);
    store_read *rd;
    store_iter *it;
    if (prefix.overflow || !agent_id[0] || store_read_begin(db, &rd) != 0) return 0;
    int64_t n = 0;
    if (store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it) == 0) {
        const void *k, *v;
        size_t klen, vlen;
        while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) n++;
        store_iter_close(it);
    }
    store_read_end(rd);
    return n;
}

static int agent_decode_into(as_agents *d, const char *text, size_t len) {
    as_agent a;
    char err[128];
    if (agent_from_json(&a, text, len, err, sizeof err) != 0) return -1;
    if (agents_put(d, &a) != 0) {
        agent_free(&a);
        return -1;
    }
    return 0;
}

int agents_read_all(store *db, as_agents *out) {
    agents_init(out);
    store_read *rd;
    if (store_read_begin(db, &rd) != 0) return -1;
    store_iter *it;
    int rc = store_iter_open(rd, DB_AGENTS, NULL, 0, NULL, 0, 0, &it);
    if (rc == 0) {
        const void *k, *v;
        size_t klen, vlen;
        while (rc == 0 && store_iter_next(it, &k, &klen, &v, &vlen) == 1) rc = agent_decode_into(out, v, vlen);
        store_iter_close(it);
    }
    store_read_end(rd);
    /* batches still pending changed some agents already: their load counts too */
    for (size_t i = 0; rc == 0 && i < out->n; i++) {
        store_key k;
        id_key(&k, out->list[i].agent_id);
        char *val;
        size_t vlen;
        if (store_get_latest(db, DB_AGENTS, k.buf, k.len, &val, &vlen) != 0) continue;
        rc = agent_decode_into(out, val, vlen);
        free(val);
    }
    if (rc != 0) agents_free(out);
    return rc == 0 ? 0 : -1;
}
