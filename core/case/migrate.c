/* case/migrate: schema upgrades of a data directory (see migrate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "case/claims.h"
#include "case/codec.h"
#include "case/indexes.h"
#include "case/migrate.h"
#include "case/records.h"
#include "util/jsonw.h"
#include "util/log.h"

#define SCHEMA_KEY "schema"
#define CHUNK 512 /* records per batch */
#define OLD_PROFILE 'b' /* schema 1: 'b' | buyer -> the platform-wide profile */


/* The stored schema; *marked says whether the store records it (a new
 * store does not yet, and is taken as this build's). */
static int read_schema(store *db, int *marked) {
    store_read *rd;
    *marked = 0;
    if (store_read_begin(db, &rd) != 0) return -1;
    const void *val;
    size_t vlen;
    int schema = 1;
    if (store_read_get(rd, DB_META, SCHEMA_KEY, sizeof SCHEMA_KEY - 1, &val, &vlen) == 0) {
        char text[16];
        snprintf(text, sizeof text, "%.*s", (int)(vlen < 15 ? vlen : 15), (const char *)val);
        schema = atoi(text);
        *marked = 1;
    } else {
        /* a store with no counters at all is new: nothing to upgrade */
        if (store_read_get(rd, DB_META, "counters", 8, &val, &vlen) != 0) schema = AS_SCHEMA;
    }
    store_read_end(rd);
    return schema;
}

/* ---- chunked scans ---- */

/* Up to CHUNK values of dbi after `after` (exclusive; NULL: from the start),
 * copied out. *n is how many; *last the key to resume after. */
typedef struct {
    char *val[CHUNK];
    size_t vlen[CHUNK];
    unsigned char last[STORE_KEY_MAX + 1];
    size_t last_len;
    size_t n;
} chunk;

static void chunk_free(chunk *c) {
    for (size_t i = 0; i < c->n; i++) free(c->val[i]);
    c->n = 0;
}

static int read_chunk(store *db, store_db dbi, chunk *c, int first) {
    chunk_free(c);
    store_read *rd;
    int rc = store_read_begin(db, &rd);
    if (rc != 0) return rc;
    unsigned char from[STORE_KEY_MAX + 2];
    size_t flen = 0;
    if (!first) { /* the smallest key after the last one: it with a 0 byte added */
        memcpy(from, c->last, c->last_len);
        from[c->last_len] = 0;
        flen = c->last_len + 1;
    }
    store_iter *it;
    rc = store_iter_open(rd, dbi, NULL, 0, first ? NULL : from, flen, 0, &it);
    if (rc == 0) {
        const void *k, *v;
        size_t klen, vlen;
        while (c->n < CHUNK && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
            const char *text;
            if (store_packs(dbi) && (rc = store_read_text(rd, v, vlen, &text, &vlen)) != 0) break;
            if (store_packs(dbi)) v = text;
            char *copy = malloc(vlen + 1);
            if (copy == NULL || klen > STORE_KEY_MAX) {
                free(copy);
                rc = STORE_ENOMEM;
                break;
            }
            memcpy(copy, v, vlen);
            copy[vlen] = '\0';
            c->val[c->n] = copy;
            c->vlen[c->n++] = vlen;
            memcpy(c->last, k, klen);
            c->last_len = klen;
        }
        if (rc > 0) rc = 0;
        store_iter_close(it);
    }
    store_read_end(rd);
    return rc < 0 ? rc : 0;
}

/* Every stored order (cases) through fn, a chunk a batch, each batch durable
 * before the next chunk is read. Values that do not decode are skipped. */
typedef void (*order_step)(store_batch *b, const as_order *o, void *ud);
typedef void (*case_step)(store_batch *b, const as_case *c, void *ud);

static int each_order(store *db, order_step fn, void *ud, migrate_report *r) {
    chunk c = {0};
    int rc = 0;
    for (int first = 1; rc == 0; first = 0) {
        if ((rc = read_chunk(db, DB_ORDERS, &c, first)) != 0 || c.n == 0) break;
        store_batch *b = store_batch_new(db);
        for (size_t i = 0; i < c.n; i++) {
            as_order o;
            char err[128];
            if (order_decode(&o, c.val[i], c.vlen[i], err, sizeof err) != 0) continue; /* logged by no one: skipped */
            r->orders++;
            fn(b, &o, ud);
            order_free(&o);
        }
        rc = store_submit_wait(b);
    }
    chunk_free(&c);
    return rc;
}

static int each_case(store *db, case_step fn, void *ud, migrate_report *r) {
    chunk c = {0};
    int rc = 0;
    for (int first = 1; rc == 0; first = 0) {
        if ((rc = read_chunk(db, DB_CASES, &c, first)) != 0 || c.n == 0) break;
        store_batch *b = store_batch_new(db);
        for (size_t i = 0; i < c.n; i++) {
            as_case k;
            char err[128];
            if (case_from_json(&k, c.val[i], c.vlen[i], err, sizeof err) != 0) continue;
            r->cases++;
            fn(b, &k, ud);
            case_free(&k);
        }
        rc = store_submit_wait(b);
    }
    chunk_free(&c);
    return rc;
}

/* ---- step 1: per-merchant buyer profiles ---- */

static void profile_put(store_batch *b, const char *merchant, const char *buyer, const char *tier, int64_t spend) {
    store_key k;
    key_init(&k);
    key_u8(&k, IDX_PROFILE);
    key_str(&k, merchant);
    key_str(&k, buyer);
    textbuf tb = {0};
    jsonw w;
    jsonw_init(&w, &tb);
    emitter *e = jsonw_emitter(&w);
    emit_object(e);
    if (spend != AS_NONE) emit_kint(e, "lifetime_spend_cents", spend);
    if (tier) emit_kstr(e, "tier", tier);
    emit_object_end(e);
    size_t len;
    char *text = tb_take(&tb, &len);
    if (text == NULL) store_batch_fail(b, STORE_ENOMEM);
    else store_batch_put(b, DB_INDEX, k.buf, k.len, text, len);
    free(text);
}

static void order_profile(store_batch *b, const as_order *o, void *ud) {
    (void)ud;
    if (o->buyer.tier || o->buyer.lifetime_spend_cents != AS_NONE)
        profile_put(b, o->merchant_id, o->buyer_id, o->buyer.tier, o->buyer.lifetime_spend_cents);
}

static int migrate_profiles(store *db, migrate_report *r) {
    int rc = each_order(db, order_profile, NULL, r);
    if (rc != 0) return rc;
    /* the old platform-wide profiles become the platform's ("" merchant) */
    store_read *rd;
    if ((rc = store_read_begin(db, &rd)) != 0) return rc;
    store_key prefix;
    key_init(&prefix);
    key_u8(&prefix, OLD_PROFILE);
    store_iter *it;
    store_batch *b = store_batch_new(db);
    if (store_iter_open(rd, DB_INDEX, prefix.buf, prefix.len, NULL, 0, 0, &it) == 0) {
        const void *k, *v;
        size_t klen, vlen;
        while (store_iter_next(it, &k, &klen, &v, &vlen) == 1) {
            const char *buyer = (const char *)k + 1;
            if (memchr(buyer, 0, klen - 1) == NULL) continue;
            json_t *p = json_loadb(v, vlen, 0, NULL);
            json_t *spend = json_object_get(p, "lifetime_spend_cents");
            profile_put(b, "", buyer, json_string_value(json_object_get(p, "tier")),
                        json_is_integer(spend) ? json_integer_value(spend) : AS_NONE);
            json_decref(p);
        }
        store_iter_close(it);
    }
    store_read_end(rd);
    return store_submit_wait(b);
}

/* ---- step 2: claims ledgers ---- */

/* The share a schema-1 case holds, as its stored state says. 0 and *claim
 * filled, or -1 when it holds nothing. */
static int share_of(const as_case *c, const as_order *o, as_claim *claim) {
    const as_item *item = order_item(o, c->sku);
    if (item == NULL || !case_type_needs_decision(c->type)) return -1;
    int active = case_status_active(c->status);
    if (!active && c->refund.refunded_cents == 0) return -1;
    memset(claim, 0, sizeof *claim);
    memcpy(claim->case_id, c->case_id, sizeof claim->case_id);
    memcpy(claim->sku, item->sku, sizeof claim->sku);
    claim->type = c->type;
    claim->qty = case_type_claims_goods(c->type) ? (c->qty == AS_NONE ? item->qty : c->qty) : 0;
    int64_t money = active ? c->refund.approved_cents : c->refund.refunded_cents;
    int64_t line = item->price_cents * item->qty;
    claim->line_cents = money < line ? money : line;
    claim->ship_cents = money - claim->line_cents;
    claim->refunded_cents = c->refund.refunded_cents;
    claim->active = active;
    return 0;
}

static void ledger_add_share(store_batch *b, const char *order_id, const as_claim *claim, migrate_report *r) {
    store_key k;
    key_init(&k);
    key_u8(&k, IDX_LEDGER);
    key_str(&k, order_id);
    char *old = NULL;
    size_t olen = 0;
    as_ledger l;
    char err[128];
    int rc = store_batch_get_latest(b, DB_INDEX, k.buf, k.len, &old, &olen);
    if (rc == 0 ? ledger_from_json(&l, old, olen, err, sizeof err) != 0 : (ledger_init(&l), rc != STORE_ENOTFOUND)) {
        free(old);
        store_batch_fail(b, STORE_EIO);
        return;
    }
    free(old);
    as_claim *mine = ledger_find(&l, claim->case_id);
    if (mine == NULL) { /* idempotent: a second run finds the share there */
        as_claim *grown = realloc(l.claims, (l.n + 1) * sizeof *grown);
        if (grown == NULL) {
            ledger_free(&l);
            store_batch_fail(b, STORE_ENOMEM);
            return;
        }
        l.claims = grown;
        l.claims[l.n++] = *claim;
        l.cap = l.n;
        if (rc == STORE_ENOTFOUND) r->ledgers++;
    }
    size_t len;
    char *text = ledger_to_json(&l, &len);
    if (text == NULL) store_batch_fail(b, STORE_ENOMEM);
    else store_batch_put(b, DB_INDEX, k.buf, k.len, text, len);
    free(text);
    ledger_free(&l);
}

typedef struct {
    store *db;
    migrate_report *r;
} ledger_walk;

static void case_share(store_batch *b, const as_case *k, void *ud) {
    ledger_walk *w = ud;
    as_order o;
    as_claim claim;
    if (k->order_id[0] && order_load(w->db, k->order_id, 1, &o) == 0) {
        if (share_of(k, &o, &claim) == 0) ledger_add_share(b, k->order_id, &claim, w->r);
        order_free(&o);
    }
}

static int migrate_ledgers(store *db, migrate_report *r) {
    ledger_walk w = {db, r};
    return each_case(db, case_share, &w, r);
}

/* ---- step 3: derived indexes (schema 3) ---- */

static void case_derived(store_batch *b, const as_case *k, void *ud) {
    (void)ud;
    case_derived_rebuild(b, k);
}

static void order_contacts(store_batch *b, const as_order *o, void *ud) {
    (void)ud;
    order_contacts_update(b, NULL, o);
}

static int migrate_derived(store *db, migrate_report *r) {
    int rc = each_case(db, case_derived, NULL, r);
    return rc == 0 ? each_order(db, order_contacts, NULL, r) : rc;
}

int store_migrate(store *db, migrate_report *report) {
    memset(report, 0, sizeof *report);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int marked;
    int schema = read_schema(db, &marked);
    if (schema < 0) return STORE_EIO;
    report->from = schema;
    report->to = schema;
    if (schema > AS_SCHEMA) return STORE_EINVAL; /* a newer build's data: misread, it would be damaged */
    int rc = 0;
    if (schema < 2) {
        rc = migrate_profiles(db, report);
        if (rc == 0) rc = migrate_ledgers(db, report);
    }
    if (rc == 0 && schema < 3) rc = migrate_derived(db, report);
    /* A new store is marked too: unmarked, the counters its first writes
     * add made the next start take it for schema 1 and derive every index
     * again (2.2 s for a 20k-case directory). */
    if (rc == 0 && (schema != AS_SCHEMA || !marked)) {
        char text[16];
        int n = snprintf(text, sizeof text, "%d", AS_SCHEMA);
        store_batch *b = store_batch_new(db);
        store_batch_put(b, DB_META, SCHEMA_KEY, sizeof SCHEMA_KEY - 1, text, (size_t)n);
        rc = store_submit_wait(b);
        if (rc == 0) report->to = AS_SCHEMA;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    report->ms = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    return rc;
}
