/* api/records: how the API's documents live in the store.
 *
 * Documents (orders, cases, agents) are JSON values under their id. Case
 * indexes are keys 'c' | field | value | case_seq (value: created_at, type) so
 * a reverse prefix scan lists any filter newest first and the case_seq is the
 * cursor. The buyer profile ('b' | buyer_id) and activity ('d' | buyer_id |
 * second) feed ctx.customer. Timeline entries are case_id | seq; that seq, the
 * case counter and the alert ids ("event") are persisted in DB_META with
 * every batch. Feed events are seq, numbered by the store at commit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/casework.h"
#include "util/log.h"

#define IDX_CASE 'c'
#define IDX_BUYER 'b'
#define IDX_ACTIVITY 'd'
#define CUSTOMER_WINDOW (30 * 86400)

static const char *const case_index_fields[] = {
    "status", "type", "queue", "assignee", "buyer_id", "order_id", "merchant_id", "breached", "all",
};
#define CASE_INDEX_FIELDS (sizeof(case_index_fields) / sizeof(case_index_fields[0]))

/* Makes the batch fail (out of memory while encoding), so nothing half-built
 * commits; the client gets 503 and may retry. */
void batch_poison(store_batch *b) { store_batch_fail(b, STORE_ENOMEM); }

json_t *rec_load(server *s, store_db db, const char *id, int latest) {
    store_key k;
    key_init(&k);
    key_str(&k, id);
    if (k.overflow) return NULL;
    json_t *doc = NULL;
    if (latest) {
        char *val;
        size_t vlen;
        if (store_get_latest(s->db, db, k.buf, k.len, &val, &vlen) != 0) return NULL;
        doc = json_loadb(val, vlen, 0, NULL);
        free(val);
        return doc;
    }
    store_read *rd;
    if (store_read_begin(s->db, &rd) != 0) return NULL;
    const void *val;
    size_t vlen;
    if (store_read_get(rd, db, k.buf, k.len, &val, &vlen) == 0)
        doc = json_loadb(val, vlen, 0, NULL);
    store_read_end(rd);
    return doc;
}

int rec_respond_raw(server *s, http_request *req, store_db db, const char *id) {
    store_key k;
    key_init(&k);
    key_str(&k, id);
    if (k.overflow) return STORE_ENOTFOUND;
    store_read *rd;
    int rc = store_read_begin(s->db, &rd);
    if (rc != 0) return rc;
    const void *val;
    size_t vlen;
    rc = store_read_get(rd, db, k.buf, k.len, &val, &vlen);
    if (rc == 0) http_respond(req, 200, "application/json", val, vlen);
    store_read_end(rd);
    return rc;
}

char *rec_put_text(store_batch *b, store_db db, const char *id, const json_t *doc) {
    store_key k;
    key_init(&k);
    key_str(&k, id);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        batch_poison(b);
        return NULL;
    }
    store_batch_put(b, db, k.buf, k.len, text, strlen(text));
    return text;
}

void rec_put(store_batch *b, store_db db, const char *id, const json_t *doc) {
    free(rec_put_text(b, db, id, doc));
}

void case_id_format(uint64_t seq, char *out, size_t outlen) {
    snprintf(out, outlen, "C%010" PRIu64, seq);
}

json_t *case_read_seq(store_read *rd, uint64_t seq) {
    char id[32];
    case_id_format(seq, id, sizeof id);
    store_key k;
    key_init(&k);
    key_str(&k, id);
    const void *val;
    size_t vlen;
    if (store_read_get(rd, DB_CASES, k.buf, k.len, &val, &vlen) != 0) return NULL;
    return json_loadb(val, vlen, 0, NULL);
}

uint64_t case_seq_of(const char *case_id) {
    if (case_id == NULL || case_id[0] != 'C') return 0;
    char *end;
    unsigned long long n = strtoull(case_id + 1, &end, 10);
    return (*end == '\0') ? (uint64_t)n : 0;
}

/* The value a case has for an index field; NULL if it is not indexed there. */
static const char *index_value(const json_t *kase, const char *field) {
    if (strcmp(field, "all") == 0) return "";
    if (strcmp(field, "breached") == 0) {
        json_t *br = json_object_get(json_object_get(kase, "sla"), "breached");
        return json_array_size(br) > 0 ? "true" : NULL;
    }
    return json_string_value(json_object_get(kase, field));
}

/* 'c' | field | value: the prefix of the cases with that value of field. */
static void case_index_prefix(store_key *k, const char *field, const char *value) {
    key_init(k);
    key_u8(k, IDX_CASE);
    key_str(k, field);
    key_str(k, value);
}

static void case_index_key(store_key *k, const char *field, const char *value, uint64_t seq) {
    case_index_prefix(k, field, value);
    key_u64(k, seq);
}

int64_t agent_open_cases(server *s, const char *agent_id) {
    store_key prefix;
    case_index_prefix(&prefix, "assignee", agent_id);
    store_read *rd;
    store_iter *it;
    if (prefix.overflow || store_read_begin(s->db, &rd) != 0) return 0;
    int64_t n = 0;
    if (store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it) == 0) {
        const void *k, *v;
        size_t klen, vlen;
        while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
            json_t *kase = case_read_seq(rd, key_get_u64((const unsigned char *)k + klen - 8));
            n += case_status_active(json_string_value(json_object_get(kase, "status")));
            json_decref(kase);
        }
        store_iter_close(it);
    }
    store_read_end(rd);
    return n;
}

void case_index_update(store_batch *b, const json_t *before, const json_t *after) {
    const json_t *any = after ? after : before;
    uint64_t seq = case_seq_of(json_string_value(json_object_get(any, "case_id")));
    unsigned char val[64];
    int64_t created = json_integer_value(json_object_get(any, "created_at"));
    const char *type = json_string_value(json_object_get(any, "type"));
    size_t tlen = type ? strlen(type) : 0;
    if (tlen > sizeof val - 8) tlen = sizeof val - 8;
    for (int i = 0; i < 8; i++) val[i] = (unsigned char)((uint64_t)created >> (56 - 8 * i));
    memcpy(val + 8, type ? type : "", tlen);
    for (size_t i = 0; i < CASE_INDEX_FIELDS; i++) {
        const char *f = case_index_fields[i];
        const char *old = before ? index_value(before, f) : NULL;
        const char *now = after ? index_value(after, f) : NULL;
        if (old && now && strcmp(old, now) == 0) continue;
        store_key k;
        if (old) {
            case_index_key(&k, f, old, seq);
            store_batch_del(b, DB_INDEX, k.buf, k.len);
        }
        if (now) {
            case_index_key(&k, f, now, seq);
            store_batch_put(b, DB_INDEX, k.buf, k.len, val, 8 + tlen);
        }
    }
}

static json_t *actor_json(const principal *who) {
    if (who == NULL) return json_pack("{s:s}", "role", "system");
    const char *id = who->agent ? who->agent : (who->merchant ? who->merchant : NULL);
    return json_pack("{s:s,s:s?}", "role", role_name(who->role), "id", id);
}

/* Timeline entries are serialised by the writer thread (they are the bulk of
 * a case's bytes: every decision records the inputs it saw). That is safe
 * because nothing changes an entry once handed over: its objects are built for
 * it, and what it shares with live documents are scalars, which are only ever
 * replaced, never changed in place; the serialiser reads no reference count. */
static char *serialize_json(void *value, size_t *len) {
    char *text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) *len = strlen(text);
    return text;
}

static void release_json(void *value) { json_decref(value); }

void timeline_append(server *s, store_batch *b, const char *case_id, const char *type,
                     const principal *who, json_t *data) {
    uint64_t seq = s->next_timeline_seq++;
    json_t *ev = json_pack("{s:I,s:s,s:I,s:o,s:o}", "seq", (json_int_t)seq, "type", type, "at",
                           (json_int_t)server_now(s), "actor", actor_json(who), "data",
                           data ? data : json_object());
    store_key k;
    key_init(&k);
    key_str(&k, case_id);
    key_u64(&k, seq);
    if (ev == NULL) batch_poison(b);
    else store_batch_put_deferred(b, DB_TIMELINE, k.buf, k.len, ev, serialize_json, release_json);
}

char *json_with_member(const json_t *obj, const char *key, const char *text) {
    char *head = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t hlen = head ? strlen(head) : 0;
    if (hlen < 2 || head[hlen - 1] != '}') {
        free(head);
        return NULL;
    }
    size_t n = hlen + strlen(key) + strlen(text) + 8;
    char *out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%.*s%s\"%s\":%s}", (int)(hlen - 1), head, hlen > 2 ? "," : "", key, text);
    free(head);
    return out;
}

/* The feed envelope of an event, without its seq; data is added by the
 * caller. */
static json_t *event_envelope(server *s, const char *type, const json_t *subject) {
    return json_pack("{s:s,s:I,s:O?,s:O?,s:O?}", "type", type, "at", (json_int_t)server_now(s),
                     "case_id", json_object_get(subject, "case_id"), "order_id",
                     json_object_get(subject, "order_id"), "merchant_id",
                     json_object_get(subject, "merchant_id"));
}

/* Takes text, the event without its seq ({"type":...}). The store's writer
 * numbers it when it commits the batch and puts the seq first
 * ({"seq":N,"type":...}): seqs follow commit order, and a batch that fails
 * hands its seqs back, so the feed has no gaps. NULL (out of memory) fails
 * the batch. */
static void event_put(store_batch *b, char *text) {
    static const char head[] = "{\"seq\":";
    if (text && text[0] == '{' && text[1] != '}') {
        text[0] = ','; /* the tail: the envelope's members after the seq */
        store_batch_put_seq(b, DB_EVENTS, head, sizeof head - 1, text, strlen(text));
    } else {
        batch_poison(b);
    }
    free(text);
}

void event_append_text(server *s, store_batch *b, const char *type, const json_t *subject,
                       const char *data) {
    json_t *env = event_envelope(s, type, subject);
    char *text = env && data ? json_with_member(env, "data", data) : NULL;
    json_decref(env);
    event_put(b, text);
}

/* One dump of envelope and data together: splicing a dumped data into a
 * dumped envelope, as event_append_text must, serialises twice and copies. */
void event_append(server *s, store_batch *b, const char *type, const json_t *subject,
                  json_t *data) {
    json_t *env = event_envelope(s, type, subject);
    if (env == NULL) {
        json_decref(data);
        event_put(b, NULL); /* fails the batch */
        return;
    }
    char *text = NULL; /* set_new takes data, also when it fails */
    if (json_object_set_new(env, "data", data ? data : json_object()) == 0)
        text = json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(env);
    event_put(b, text);
}

#define COUNTERS_KEY "counters"

void counters_put(server *s, store_batch *b) {
    char text[160];
    int n = snprintf(text, sizeof text, "{\"case\":%" PRIu64 ",\"event\":%" PRIu64
                     ",\"timeline\":%" PRIu64 "}",
                     s->next_case_seq, s->next_event_seq, s->next_timeline_seq);
    store_batch_put(b, DB_META, COUNTERS_KEY, sizeof COUNTERS_KEY - 1, text, (size_t)n);
}

int counters_load(server *s) {
    s->next_case_seq = s->next_event_seq = s->next_timeline_seq = 1;
    store_read *rd;
    if (store_read_begin(s->db, &rd) != 0) return -1;
    const void *val;
    size_t vlen;
    int rc = store_read_get(rd, DB_META, COUNTERS_KEY, sizeof COUNTERS_KEY - 1, &val, &vlen);
    if (rc == 0) {
        json_t *c = json_loadb(val, vlen, 0, NULL);
        if (c == NULL) rc = -1;
        s->next_case_seq = (uint64_t)json_integer_value(json_object_get(c, "case"));
        s->next_event_seq = (uint64_t)json_integer_value(json_object_get(c, "event"));
        s->next_timeline_seq = (uint64_t)json_integer_value(json_object_get(c, "timeline"));
        json_decref(c);
    } else if (rc == STORE_ENOTFOUND) {
        rc = 0;
    }
    store_read_end(rd);
    return rc == 0 ? 0 : -1;
}

static void buyer_key(store_key *k, const char *buyer_id) {
    key_init(k);
    key_u8(k, IDX_BUYER);
    key_str(k, buyer_id);
}

void buyer_profile_put(store_batch *b, const char *buyer_id, const json_t *buyer) {
    store_key k;
    buyer_key(&k, buyer_id);
    char *old = NULL;
    size_t olen = 0;
    int rc = store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &old, &olen);
    if (rc != 0 && rc != STORE_ENOTFOUND) {
        store_batch_fail(b, rc);
        return;
    }
    /* what this order says, over what earlier orders said: an order that
     * omits the tier does not take a VIP's lane away */
    json_t *p = rc == 0 ? json_loadb(old, olen, 0, NULL) : NULL;
    if (!json_is_object(p)) {
        json_decref(p);
        p = json_object();
    }
    static const char *const fields[] = {"tier", "lifetime_spend_cents"};
    int ok = p != NULL;
    for (size_t i = 0; ok && i < sizeof fields / sizeof *fields; i++) {
        json_t *v = json_object_get(buyer, fields[i]);
        if (v && !json_is_null(v)) ok = json_object_set(p, fields[i], v) == 0;
    }
    char *text = ok ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (text == NULL) batch_poison(b);
    else if (rc != 0 || olen != strlen(text) || memcmp(old, text, olen) != 0) /* write only a change */
        store_batch_put(b, DB_INDEX, k.buf, k.len, text, strlen(text));
    free(old);
    free(text);
    json_decref(p);
}

/* The buyer's activity: 'd' | buyer_id | created_at -> cases(be32) returns(be32),
 * one record per second in which the buyer opened cases. ctx.customer counts
 * a 30-day window exactly, in as many steps as the buyer had busy seconds
 * (a buyer opening thousands of cases costs no more than one opening a few). */
static void activity_key(store_key *k, const char *buyer_id, int64_t at) {
    key_init(k);
    key_u8(k, IDX_ACTIVITY);
    key_str(k, buyer_id);
    if (at >= 0) key_u64(k, (uint64_t)at);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i));
}

void buyer_activity_add(store_batch *b, const json_t *kase) {
    const char *buyer = json_string_value(json_object_get(kase, "buyer_id"));
    if (buyer == NULL) return;
    int64_t at = json_integer_value(json_object_get(kase, "created_at"));
    const char *type = json_string_value(json_object_get(kase, "type"));
    store_key k;
    activity_key(&k, buyer, at < 0 ? 0 : at);
    if (k.overflow) return;
    unsigned char counts[8] = {0};
    char *old;
    size_t olen;
    int rc = store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &old, &olen);
    if (rc != 0 && rc != STORE_ENOTFOUND) { /* unread is not zero: never overwrite the counts */
        store_batch_fail(b, rc);
        return;
    }
    if (rc == 0) {
        if (olen == sizeof counts) memcpy(counts, old, sizeof counts);
        free(old);
    }
    put_u32(counts, get_u32(counts) + 1);
    if (type && strcmp(type, "return") == 0) put_u32(counts + 4, get_u32(counts + 4) + 1);
    store_batch_put(b, DB_INDEX, k.buf, k.len, counts, sizeof counts);
}

static void count_recent_cases(store_read *rd, const char *buyer_id, int64_t since,
                               int *returns, int *cases) {
    store_key prefix, from;
    activity_key(&prefix, buyer_id, -1);
    activity_key(&from, buyer_id, since < 0 ? 0 : since);
    store_iter *it;
    if (from.overflow ||
        store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, from.buf, from.len, 0, &it) != 0)
        return;
    const void *k, *v;
    size_t klen, vlen;
    while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
        if (vlen != 8 || klen != prefix.len + 8) continue;
        *cases += (int)get_u32(v);
        *returns += (int)get_u32((const unsigned char *)v + 4);
    }
    store_iter_close(it);
}

/* The same counts from the buyer's case index, for a case re-decided later
 * (replay): only the cases opened before it (lower seq) count, as they did
 * when it was decided, however many came after. Index values are
 * created(be64) | type. */
static void count_cases_before(store_read *rd, const char *buyer_id, int64_t since, uint64_t before_seq,
                               int *returns, int *cases) {
    store_key prefix, from;
    case_index_prefix(&prefix, "buyer_id", buyer_id);
    from = prefix;
    key_u64(&from, before_seq - 1);
    store_iter *it;
    /* newest first from the case before, back to the window's start: the
     * work is the window's cases, not the buyer's whole history */
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

json_t *customer_profile(server *s, const char *buyer_id) {
    if (buyer_id == NULL) return NULL;
    store_read *rd;
    if (store_read_begin(s->db, &rd) != 0) return NULL;
    int returns = 0, cases = 0;
    int64_t since = server_now(s) - CUSTOMER_WINDOW;
    if (s->customer_as_of.before_seq)
        count_cases_before(rd, buyer_id, since, s->customer_as_of.before_seq, &returns, &cases);
    else
        count_recent_cases(rd, buyer_id, since, &returns, &cases);
    json_t *profile = NULL;
    store_key k;
    buyer_key(&k, buyer_id);
    const void *val;
    size_t vlen;
    if (!k.overflow && store_read_get(rd, DB_INDEX, k.buf, k.len, &val, &vlen) == 0)
        profile = json_loadb(val, vlen, 0, NULL);
    store_read_end(rd);
    const json_t *given = s->customer_as_of.buyer; /* a dry-run order's own details win */
    if (given && s->customer_as_of.buyer_id && strcmp(buyer_id, s->customer_as_of.buyer_id) == 0) {
        if (profile == NULL) profile = json_object();
        static const char *const fields[] = {"tier", "lifetime_spend_cents"};
        for (size_t i = 0; profile && i < sizeof fields / sizeof *fields; i++) {
            json_t *f = json_object_get(given, fields[i]);
            if (f && !json_is_null(f)) json_object_set(profile, fields[i], f);
        }
    }
    json_t *out = json_pack("{s:i,s:i,s:I,s:O?}", "returns_30d", returns, "cases_30d", cases,
                            "lifetime_spend_cents",
                            json_integer_value(json_object_get(profile, "lifetime_spend_cents")),
                            "tier", json_object_get(profile, "tier"));
    json_decref(profile);
    return out;
}

/* The agent's newest value: a pending batch's, else the committed one. */
static json_t *agent_latest(server *s, const char *id) {
    store_key k;
    key_init(&k);
    key_str(&k, id);
    char *val;
    size_t vlen;
    if (k.overflow || store_get_latest(s->db, DB_AGENTS, k.buf, k.len, &val, &vlen) != 0) return NULL;
    json_t *a = json_loadb(val, vlen, 0, NULL);
    free(val);
    return a;
}

int agents_load(server *s) {
    json_t *agents = json_object();
    store_read *rd;
    if (agents == NULL || store_read_begin(s->db, &rd) != 0) {
        json_decref(agents);
        return -1;
    }
    store_iter *it;
    int rc = store_iter_open(rd, DB_AGENTS, NULL, 0, NULL, 0, 0, &it);
    if (rc == 0) {
        const void *k, *v;
        size_t klen, vlen;
        while ((rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
            json_t *a = json_loadb(v, vlen, 0, NULL);
            const char *id = json_string_value(json_object_get(a, "agent_id"));
            if (id == NULL) json_decref(a);
            else if (json_object_set_new(agents, id, a) != 0) rc = STORE_ENOMEM;
        }
        store_iter_close(it);
    }
    store_read_end(rd);
    /* Batches still pending (after a batch was dropped, or at start: none)
     * changed some agents already: their load counts too. */
    for (void *i = json_object_iter(agents); rc >= 0 && i; i = json_object_iter_next(agents, i)) {
        json_t *a = agent_latest(s, json_object_iter_key(i));
        if (a && json_object_iter_set_new(agents, i, a) != 0) rc = STORE_ENOMEM;
    }
    if (rc < 0) {
        json_decref(agents);
        return -1;
    }
    json_decref(s->agents);
    s->agents = agents;
    return 0;
}
