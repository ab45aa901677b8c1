/* case/commit: a change set into a store batch (see commit.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case/codec.h"
#include "case/commit.h"
#include "case/indexes.h"
#include "case/kpi.h"
#include "case/records.h"
#include "util/jsonw.h"

#define COUNTERS_KEY "counters"
#define DAY 86400
#define COMPLAINTS_KEPT 256 /* thresholds above this never fire */

static void fail(store_batch *b) { store_batch_fail(b, STORE_ENOMEM); }

static void put_text(store_batch *b, store_db db, const store_key *k, char *text, size_t len) {
    if (text == NULL) fail(b);
    else store_batch_put(b, db, k->buf, k->len, text, len);
    free(text);
}

static void be64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* ---- the case and what is derived from it ---- */

static void index_update(store_batch *b, const as_case *before, const as_case *after) {
    const as_case *any = after ? after : before;
    unsigned char val[8 + 32];
    const char *type = case_type_name(any->type);
    size_t tlen = strlen(type);
    be64(val, (uint64_t)any->created_at);
    memcpy(val + 8, type, tlen);
    for (size_t i = 0; i < CASE_INDEX_NFIELDS; i++) {
        const char *f = CASE_INDEX_FIELDS[i];
        const char *old = before ? case_index_value(before, f) : NULL;
        const char *now = after ? case_index_value(after, f) : NULL;
        if (old && now && strcmp(old, now) == 0) continue;
        store_key k;
        if (old) {
            case_index_prefix(&k, f, old);
            key_u64(&k, any->seq);
            store_batch_del(b, DB_INDEX, k.buf, k.len);
        }
        if (now) {
            case_index_prefix(&k, f, now);
            key_u64(&k, any->seq);
            store_batch_put(b, DB_INDEX, k.buf, k.len, val, 8 + tlen);
        }
    }
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* A new case counts in its buyer's activity (ctx.customer's 30-day figures). */
static void activity_add(store_batch *b, const as_case *c) {
    if (!c->buyer_id[0]) return;
    store_key k;
    key_init(&k);
    key_u8(&k, IDX_ACTIVITY);
    key_str(&k, c->buyer_id);
    key_u64(&k, (uint64_t)(c->created_at < 0 ? 0 : c->created_at));
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
    if (c->type == CASE_RETURN) put_u32(counts + 4, get_u32(counts + 4) + 1);
    store_batch_put(b, DB_INDEX, k.buf, k.len, counts, sizeof counts);
}

static void timer_key(store_key *k, int64_t due, const char *kind, const char *id) {
    key_init(k);
    key_u64(k, (uint64_t)(due < 0 ? 0 : due));
    key_str(k, kind);
    key_str(k, id);
}

static int has_timer(const case_timer *set, int n, const case_timer *t) {
    for (int i = 0; i < n; i++)
        if (set[i].due == t->due && set[i].kind == t->kind) return 1;
    return 0;
}

static void timers_update(store_batch *b, const as_case *before, const as_case *after) {
    case_timer was[CASE_TIMERS_MAX], now[CASE_TIMERS_MAX];
    int nw = case_timers(before, was), nn = case_timers(after, now);
    const char *id = (after ? after : before)->case_id;
    store_key k;
    for (int i = 0; i < nw; i++)
        if (!has_timer(now, nn, &was[i])) {
            timer_key(&k, was[i].due, timer_kind_name(was[i].kind), id);
            store_batch_del(b, DB_TIMERS, k.buf, k.len);
        }
    for (int i = 0; i < nn; i++)
        if (!has_timer(was, nw, &now[i])) {
            timer_key(&k, now[i].due, timer_kind_name(now[i].kind), id);
            store_batch_put(b, DB_TIMERS, k.buf, k.len, "", 0);
        }
}

/* The agent a case counts for, or NULL. */
static const char *load_holder(const as_case *c) {
    return c && case_status_active(c->status) && c->assignee[0] ? c->assignee : NULL;
}

static void agent_add_load(const commit_ctx *cc, store_batch *b, const char *agent_id, int delta) {
    as_agent *a = cc->agents ? agents_find(cc->agents, agent_id) : NULL;
    if (a == NULL) return;
    a->load += delta;
    if (a->load < 0) a->load = 0;
    store_key k;
    key_init(&k);
    key_str(&k, agent_id);
    size_t len;
    char *text = agent_to_json(a, &len);
    put_text(b, DB_AGENTS, &k, text, len);
}

static void loads_update(const commit_ctx *cc, store_batch *b, const as_case *before, const as_case *after) {
    const char *was = load_holder(before), *now = load_holder(after);
    if (was && now && strcmp(was, now) == 0) return;
    if (was) agent_add_load(cc, b, was, -1);
    if (now) agent_add_load(cc, b, now, +1);
}

/* ---- timeline and feed ---- */

static void actor_encode(emitter *e, const as_actor *a) {
    emit_key(e, "actor");
    emit_object(e);
    emit_kstr(e, "role", a->role[0] ? a->role : "system");
    if (a->id[0]) emit_kstr(e, "id", a->id);
    emit_object_end(e);
}

/* Splices JSON members text into the object being written. */
static void splice_members(textbuf *tb, const char *members, int *empty) {
    if (members == NULL || members[0] == '\0') return;
    tb_append(tb, members, strlen(members));
    *empty = 0;
}

/* A change set's entries on a case's timeline are one record: case_id | the
 * first entry's seq -> the entries, one JSON object a line (the writer never
 * puts a raw newline inside JSON). One put instead of one per entry; each
 * entry still has its own seq, and a decision's inputs_seq names the
 * policy.inputs entry of the same record. */
static void notes_put(const commit_ctx *cc, store_batch *b, const as_changes *ch, const char *case_id) {
    if (ch->nnotes == 0) return;
    uint64_t first = cc->seqs->next_timeline;
    textbuf tb = {0};
    for (size_t i = 0; i < ch->nnotes; i++) {
        const as_note *n = &ch->notes[i];
        uint64_t seq = cc->seqs->next_timeline++;
        if (i) tb_append(&tb, "\n", 1);
        jsonw w;
        jsonw_init(&w, &tb);
        emitter *e = jsonw_emitter(&w);
        emit_object(e);
        emit_kint(e, "seq", (int64_t)seq);
        emit_kstr(e, "type", n->type);
        emit_kint(e, "at", n->at);
        actor_encode(e, &n->actor);
        emit_key(e, "data");
        tb_append(&tb, "{", 1);
        int empty = 1;
        splice_members(&tb, n->members, &empty);
        if (n->inputs_ref >= 0)
            tb_printf(&tb, "%s\"inputs_seq\":%" PRIu64, empty ? "" : ",", first + (uint64_t)n->inputs_ref);
        tb_append(&tb, "}}", 2);
    }
    store_key k;
    key_init(&k);
    key_str(&k, case_id);
    key_u64(&k, first);
    size_t len;
    char *text = tb_take(&tb, &len);
    put_text(b, DB_TIMELINE, &k, text, len);
}

/* The envelope of a feed event about the case (or the order, or a buyer's
 * relationship survey), without its seq: {"type":...,"at":...,"case_id":...,
 * "order_id":...,"merchant_id":...,"data": (the caller writes the data and the
 * closing brace). */
static void envelope(textbuf *tb, const char *type, int64_t at, const as_case *c, const as_order *o,
                     const as_nps *n) {
    jsonw w;
    jsonw_init(&w, tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    emit_kstr(e, "type", type);
    emit_kint(e, "at", at);
    const char *case_id = c ? c->case_id : NULL;
    const char *order_id = c ? (c->order_id[0] ? c->order_id : NULL) : (o ? o->order_id : NULL);
    const char *merchant = c ? (c->merchant_id[0] ? c->merchant_id : NULL) : (o ? o->merchant_id : NULL);
    if (c == NULL && o == NULL && n && n->merchant_id[0]) merchant = n->merchant_id;
    emit_kstr(e, "case_id", case_id);
    emit_kstr(e, "order_id", order_id);
    emit_kstr(e, "merchant_id", merchant);
    emit_key(e, "data");
}

/* The event text without its seq ({"type":...}) goes in as a sequenced put:
 * the store's writer numbers it when it commits the batch and puts the seq
 * first ({"seq":N,"type":...}), so seqs follow commit order and a batch that
 * fails hands its seqs back: the feed has no gaps. */
static void event_put(store_batch *b, textbuf *tb) {
    static const char head[] = "{\"seq\":";
    size_t len;
    char *text = tb_take(tb, &len);
    if (text == NULL || len < 2) {
        free(text);
        fail(b);
        return;
    }
    text[0] = ','; /* the tail: the envelope's members after the seq */
    store_batch_put_seq(b, DB_EVENTS, head, sizeof head - 1, text, len);
    free(text);
}

static void events_put(store_batch *b, const as_changes *ch, const char *case_text,
                       size_t case_len) {
    for (size_t i = 0; i < ch->nevents; i++) {
        const as_event *ev = &ch->events[i];
        textbuf tb = {0};
        envelope(&tb, ev->type, ev->at, ch->after, ch->order, ch->nps);
        if (ev->with_case == EV_CASE_IS_DATA && case_text) {
            tb_append(&tb, case_text, case_len);
        } else {
            int empty = 1;
            tb_append(&tb, "{", 1);
            splice_members(&tb, ev->members, &empty);
            if (ev->with_case == EV_CASE_MEMBER && case_text) {
                tb_printf(&tb, "%s\"case\":", empty ? "" : ",");
                tb_append(&tb, case_text, case_len);
            }
            tb_append(&tb, "}", 1);
        }
        tb_append(&tb, "}", 1);
        event_put(b, &tb);
    }
}

/* An alert is stored under 'a' | its id (a counter of its own: the feed seq
 * of its alert.raised event is only known at commit) and raised on the feed
 * with the same record as data. */
static void alerts_put(const commit_ctx *cc, store_batch *b, const as_changes *ch) {
    const as_case *c = ch->after;
    const as_order *o = ch->order;
    for (size_t i = 0; i < ch->nalerts; i++) {
        const as_alert *a = &ch->alerts[i];
        uint64_t seq = cc->seqs->next_event++; /* the alert's id */
        textbuf rec = {0};
        jsonw w;
        jsonw_init(&w, &rec);
        emitter *e = jsonw_emitter(&w);
        emit_object(e);
        emit_kint(e, "alert_id", (int64_t)seq);
        emit_kstr(e, "kind", a->kind);
        emit_kint(e, "at", a->at);
        emit_kstr(e, "merchant_id", c ? (c->merchant_id[0] ? c->merchant_id : NULL) : (o ? o->merchant_id : NULL));
        emit_kstr(e, "case_id", c ? c->case_id : NULL);
        emit_kstr(e, "order_id", c ? (c->order_id[0] ? c->order_id : NULL) : (o ? o->order_id : NULL));
        emit_kstr(e, "sku", c && c->sku[0] ? c->sku : NULL);
        emit_kstr(e, "message", a->message);
        emit_key(e, "data");
        tb_append(&rec, "{", 1);
        int empty = 1;
        splice_members(&rec, a->details, &empty);
        tb_append(&rec, "}}", 2);
        size_t rlen;
        char *text = tb_take(&rec, &rlen);
        if (text == NULL) {
            fail(b);
            continue;
        }
        textbuf tb = {0};
        envelope(&tb, "alert.raised", a->at, c, o, NULL);
        tb_append(&tb, text, rlen);
        tb_append(&tb, "}", 1);
        event_put(b, &tb);
        store_key k;
        key_init(&k);
        key_u8(&k, IDX_ALERT);
        key_u64(&k, seq);
        put_text(b, DB_INDEX, &k, text, rlen);
    }
}

/* ---- orders ---- */

static void stall_key(store_key *k, int64_t due, const char *order_id) {
    key_init(k);
    key_u64(k, (uint64_t)due);
    key_str(k, "stall");
    key_str(k, order_id);
}

static void stall_watch(const commit_ctx *cc, store_batch *b, const as_order *before, const as_order *after) {
    int64_t was = before ? order_stall_due(cc->d, before) : 0, now = order_stall_due(cc->d, after);
    if (was == now) return;
    store_key k;
    if (was) {
        stall_key(&k, was, after->order_id);
        store_batch_del(b, DB_TIMERS, k.buf, k.len);
    }
    if (now) {
        stall_key(&k, now, after->order_id);
        store_batch_put(b, DB_TIMERS, k.buf, k.len, "", 0);
    }
}

/* What a merchant asserts of the buyer, over what it said before: an order
 * that omits the tier does not take a VIP's lane away. Kept per merchant (one
 * merchant's word never routes another's cases) and, for cases that belong
 * to no merchant, as the platform's latest word ("" merchant). */
static void profile_put_for(store_batch *b, const as_order *o, const char *merchant) {
    store_key k;
    key_init(&k);
    key_u8(&k, IDX_PROFILE);
    key_str(&k, merchant);
    key_str(&k, o->buyer_id);
    char *old = NULL;
    size_t olen = 0;
    int rc = store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &old, &olen);
    if (rc != 0 && rc != STORE_ENOTFOUND) {
        store_batch_fail(b, rc);
        return;
    }
    json_t *p = rc == 0 ? json_loadb(old, olen, 0, NULL) : NULL;
    const char *tier = o->buyer.tier ? o->buyer.tier : json_string_value(json_object_get(p, "tier"));
    json_t *spend = json_object_get(p, "lifetime_spend_cents");
    int64_t s = o->buyer.lifetime_spend_cents != AS_NONE ? o->buyer.lifetime_spend_cents
                : json_is_integer(spend) ? json_integer_value(spend) : AS_NONE;
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    if (s != AS_NONE) emit_kint(e, "lifetime_spend_cents", s);
    if (tier) emit_kstr(e, "tier", tier);
    emit_object_end(e);
    json_decref(p);
    size_t len;
    char *text = tb_take(&tb, &len);
    if (text && rc == 0 && olen == len && memcmp(old, text, len) == 0) free(text); /* write only a change */
    else put_text(b, DB_INDEX, &k, text, len);
    free(old);
}

static void profile_put(store_batch *b, const as_order *o) {
    if (o->buyer.tier == NULL && o->buyer.lifetime_spend_cents == AS_NONE) return;
    profile_put_for(b, o, o->merchant_id);
    profile_put_for(b, o, "");
}

static void order_put_all(const commit_ctx *cc, store_batch *b, const as_changes *ch) {
    store_key k;
    key_init(&k);
    key_str(&k, ch->order->order_id);
    size_t len = 0;
    char *bytes = order_to_bin(ch->order, &len);
    put_text(b, DB_ORDERS, &k, bytes, len);
    stall_watch(cc, b, ch->order_before, ch->order);
    profile_put(b, ch->order);
    order_contacts_update(b, ch->order_before, ch->order);
}

/* ---- complaints ---- */

static void complaint_window_add(store_batch *b, const char *merchant, const char *sku, int64_t now) {
    store_key k;
    complaints_key(&k, merchant, sku);
    if (k.overflow) return;
    unsigned char times[COMPLAINTS_KEPT * 8];
    size_t n = 0;
    char *old;
    size_t olen;
    int rc = store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &old, &olen);
    if (rc != 0 && rc != STORE_ENOTFOUND) { /* unread is not empty: never overwrite the window */
        store_batch_fail(b, rc);
        return;
    }
    if (rc == 0) {
        for (size_t off = 0; off + 8 <= olen; off += 8) { /* keep the window, newest KEPT - 1 */
            if ((int64_t)key_get_u64(old + off) <= now - DAY) continue;
            if (n == COMPLAINTS_KEPT - 1) {
                memmove(times, times + 8, (n - 1) * 8);
                n--;
            }
            memcpy(times + n++ * 8, old + off, 8);
        }
        free(old);
    }
    be64(times + n * 8, (uint64_t)now);
    store_batch_put(b, DB_INDEX, k.buf, k.len, times, (n + 1) * 8);
}

/* ---- all of it ---- */

char *changes_commit(const commit_ctx *cc, store_batch *b, const as_changes *ch, size_t *len) {
    if (ch->failed) {
        fail(b);
        return NULL;
    }
    for (const as_changes *s = ch->spawned; s; s = s->next) free(changes_commit(cc, b, s, NULL));
    if (ch->order) order_put_all(cc, b, ch);
    char *case_text = NULL;
    size_t case_len = 0;
    const as_case *c = ch->after;
    if (c) {
        case_text = case_to_json(c, &case_len);
        store_key k;
        key_init(&k);
        key_str(&k, c->case_id);
        if (case_text) store_batch_put(b, DB_CASES, k.buf, k.len, case_text, case_len);
        else fail(b);
        index_update(b, ch->before, c);
        work_index_update(b, ch->before, c);
        case_contacts_update(b, ch->before, c);
        answers_index_case(b, ch->before, c);
        if (ch->before == NULL) activity_add(b, c);
        timers_update(b, ch->before, c);
        loads_update(cc, b, ch->before, c);
        kpi_update_batch(b, cc->kpi_offset, ch->before, c);
        notes_put(cc, b, ch, c->case_id);
        for (int i = 0; i < ch->nwindows; i++) risk_window_add(b, &ch->windows[i]);
        if (ch->complaint) {
            if (c->sku[0]) complaint_window_add(b, c->merchant_id, c->sku, c->created_at);
            complaint_window_add(b, c->merchant_id, NULL, c->created_at);
        }
        if (ch->ledger && c->order_id[0]) {
            key_init(&k);
            key_u8(&k, IDX_LEDGER);
            key_str(&k, c->order_id);
            size_t llen = 0;
            char *text = ledger_to_json(ch->ledger, &llen);
            put_text(b, DB_INDEX, &k, text, llen);
        }
    }
    if (ch->nps) nps_store(b, ch->nps_before, ch->nps);
    events_put(b, ch, case_text, case_len);
    alerts_put(cc, b, ch);
    if (len) *len = case_len;
    return case_text;
}

/* ---- sequences ---- */

void seqs_put(store_batch *b, const as_seqs *seqs) {
    char text[160];
    int n = snprintf(text, sizeof text, "{\"case\":%" PRIu64 ",\"event\":%" PRIu64 ",\"timeline\":%" PRIu64 "}",
                     seqs->next_case, seqs->next_event, seqs->next_timeline);
    store_batch_put(b, DB_META, COUNTERS_KEY, sizeof COUNTERS_KEY - 1, text, (size_t)n);
}

int seqs_load(store *db, as_seqs *out) {
    out->next_case = out->next_event = out->next_timeline = 1;
    store_read *rd;
    if (store_read_begin(db, &rd) != 0) return -1;
    const void *val;
    size_t vlen;
    int rc = store_read_get(rd, DB_META, COUNTERS_KEY, sizeof COUNTERS_KEY - 1, &val, &vlen);
    if (rc == 0) {
        json_t *c = json_loadb(val, vlen, 0, NULL);
        if (c == NULL) rc = -1;
        out->next_case = (uint64_t)json_integer_value(json_object_get(c, "case"));
        out->next_event = (uint64_t)json_integer_value(json_object_get(c, "event"));
        out->next_timeline = (uint64_t)json_integer_value(json_object_get(c, "timeline"));
        json_decref(c);
    } else if (rc == STORE_ENOTFOUND) {
        rc = 0;
    }
    store_read_end(rd);
    return rc == 0 ? 0 : -1;
}
