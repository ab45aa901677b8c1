/* store/batch: filling a batch on the loop thread and applying it in the
 * writer's transaction.
 *
 * A batch copies keys and values into one growing arena (ops refer to it by
 * offset), so a batch of many small writes costs a few allocations. The first
 * error is remembered and makes later calls no-ops (Knot DNS style): the batch
 * then fails alone, without touching the transaction it would have shared. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

#define VALUE_MAX 0xffffffffu /* LMDB's limit for a plain value */

store_batch *store_batch_new(store *s) {
    if (s == NULL) return NULL;
    store_batch *b = calloc(1, sizeof *b);
    if (b == NULL) return &s->reserve; /* submits as STORE_ENOMEM */
    b->s = s;
    return b;
}

static int arena_reserve(store_batch *b, size_t n) {
    if (n <= b->acap - b->alen) return 0;
    size_t cap = b->acap ? b->acap : 256;
    while (cap - b->alen < n) {
        if (cap > SIZE_MAX / 2) return STORE_ENOMEM;
        cap *= 2;
    }
    unsigned char *p = realloc(b->arena, cap);
    if (p == NULL) return STORE_ENOMEM;
    b->arena = p;
    b->acap = cap;
    return 0;
}

static int ops_reserve(store_batch *b) {
    if (b->nops < b->ops_cap) return 0;
    size_t cap = b->ops_cap ? b->ops_cap * 2 : 8;
    store_op *p = realloc(b->ops, cap * sizeof *p);
    if (p == NULL) return STORE_ENOMEM;
    b->ops = p;
    b->ops_cap = cap;
    return 0;
}

/* The length is checked before the key is touched: keys.c marks overflowed
 * keys with a length of STORE_KEY_MAX + 1. */
static int op_check(store_db db, const void *key, size_t klen, int del, const void *val,
                    size_t vlen) {
    if (klen == 0 || klen > STORE_KEY_MAX || key == NULL) return STORE_EINVAL;
    if ((int)db < 0 || db >= DB__COUNT) return STORE_EINVAL;
    if (!del && ((vlen && val == NULL) || vlen > VALUE_MAX)) return STORE_EINVAL;
    return 0;
}

void store_batch_fail(store_batch *b, int err) {
    if (b != NULL && b->err == 0) b->err = err < 0 ? err : STORE_EINVAL;
}

static void batch_add(store_batch *b, store_db db, const void *key, size_t klen, int del,
                      const void *val, size_t vlen) {
    if (b == NULL || b->err) return;
    if (del) vlen = 0;
    int rc = op_check(db, key, klen, del, val, vlen);
    if (rc == 0 && vlen > SIZE_MAX - klen) rc = STORE_ENOMEM;
    if (rc == 0) rc = ops_reserve(b);
    if (rc == 0) rc = arena_reserve(b, klen + vlen);
    if (rc != 0) {
        b->err = rc;
        return;
    }
    store_op *op = &b->ops[b->nops++];
    memset(op, 0, sizeof *op);
    op->db = (uint8_t)db;
    op->del = (uint8_t)(del != 0);
    op->koff = b->alen;
    op->klen = klen;
    memcpy(b->arena + b->alen, key, klen);
    b->alen += klen;
    op->voff = b->alen;
    op->vlen = vlen;
    if (vlen) memcpy(b->arena + b->alen, val, vlen);
    b->alen += vlen;
}

void store_batch_put(store_batch *b, store_db db, const void *key, size_t klen,
                     const void *val, size_t vlen) {
    batch_add(b, db, key, klen, 0, val, vlen);
}

void store_batch_del(store_batch *b, store_db db, const void *key, size_t klen) {
    batch_add(b, db, key, klen, 1, NULL, 0);
}

void store_batch_put_deferred(store_batch *b, store_db db, const void *key, size_t klen,
                              void *value, store_serialize_fn serialize, store_release_fn release) {
    size_t before = b && !b->is_reserve ? b->nops : 0;
    if (value != NULL && serialize != NULL) batch_add(b, db, key, klen, 0, NULL, 0);
    else if (b && !b->is_reserve && !b->err) b->err = STORE_EINVAL;
    if (b == NULL || b->is_reserve || b->nops == before) { /* not queued: give it back now */
        if (release && value) release(value);
        return;
    }
    store_op *op = &b->ops[b->nops - 1];
    op->deferred = value;
    op->serialize = serialize;
    op->release = release;
}

/* The key is a placeholder of the right length (the writer builds the real
 * one); head and tail go into the arena one after the other. */
void store_batch_put_seq(store_batch *b, store_db db, const void *head, size_t hlen,
                         const void *tail, size_t tlen) {
    static const unsigned char placeholder[8];
    if (b == NULL || b->is_reserve || b->err) return;
    if ((hlen && head == NULL) || (tlen && tail == NULL) || hlen > VALUE_MAX - 20 ||
        tlen > VALUE_MAX - 20 - hlen) {
        b->err = STORE_EINVAL;
        return;
    }
    size_t before = b->nops;
    batch_add(b, db, placeholder, sizeof placeholder, 0, head, hlen);
    if (b->nops == before) return;
    store_op *op = &b->ops[b->nops - 1];
    if (arena_reserve(b, tlen) != 0) {
        b->nops--;
        b->err = STORE_ENOMEM;
        return;
    }
    if (tlen) memcpy(b->arena + b->alen, tail, tlen);
    b->alen += tlen;
    op->vlen = hlen + tlen;
    op->hlen = hlen;
    op->sequenced = 1;
}

int store_batch_materialize(store_batch *b) {
    for (size_t i = 0; i < b->nops; i++) {
        store_op *op = &b->ops[i];
        if (op->deferred == NULL || op->text != NULL) continue;
        size_t len = 0;
        op->text = op->serialize(op->deferred, &len);
        if (op->text == NULL) return STORE_ENOMEM;
        op->vlen = len;
    }
    return 0;
}

size_t store_batch_ops(const store_batch *b) { return b ? b->nops : 0; }

void store_batch_release(store_batch *b) {
    if (b == NULL || b->is_reserve) return;
    for (size_t i = 0; i < b->nops; i++) {
        store_op *op = &b->ops[i];
        free(op->text);
        if (op->deferred && op->release) op->release(op->deferred);
    }
    free(b->ops);
    free(b->arena);
    free(b->hidx);
    free(b);
}

void store_batch_free(store_batch *b) { store_batch_release(b); }

/* The databases whose new keys mostly sort after every key already there:
 * case ids and feed seqs only grow, and a new case's timeline follows the
 * last case's. */
static int mostly_appended(store_db db) {
    return db == DB_CASES || db == DB_TIMELINE || db == DB_EVENTS;
}

/* MDB_APPEND splits a full last page by starting a new one, where a plain
 * put halves it: appended databases stay densely packed, so a commit writes
 * fewer pages. A key that does not sort last is refused with MDB_KEYEXIST
 * before anything changes, and is then put the ordinary way. */
static int put(MDB_txn *txn, MDB_dbi dbi, store_db db, MDB_val *k, MDB_val *v) {
    if (mostly_appended(db)) {
        int rc = mdb_put(txn, dbi, k, v, MDB_APPEND);
        if (rc != MDB_KEYEXIST) return rc;
    }
    return mdb_put(txn, dbi, k, v, 0);
}

/* Puts v, packed first if db is a history database and packing gains. */
static int put_value(store_batch *b, MDB_txn *txn, store_db db, MDB_val *k, MDB_val *v, int flags,
                     size_t *stored) {
    unsigned char *packed = NULL;
    size_t plen = 0;
    if (store_db_packed(db)) {
        int rc = pack_value(b->s->pack, v->mv_data, v->mv_size, &packed, &plen);
        if (rc < 0) return ENOMEM;
    }
    MDB_val pv = {plen, packed};
    MDB_val *val = packed ? &pv : v;
    *stored = val->mv_size;
    int rc = flags ? mdb_put(txn, b->s->dbi[db], k, val, (unsigned)flags) : put(txn, b->s->dbi[db], db, k, val);
    free(packed);
    return rc;
}

/* The seq after the db's last key in this transaction (1 for an empty db).
 * Its keys are all 8-byte seqs; anything else there is refused. */
static int seq_first(MDB_txn *txn, MDB_dbi dbi, uint64_t *next) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) return rc;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *next = 1;
        return 0;
    }
    if (rc != 0) return rc;
    if (k.mv_size != 8) return MDB_INCOMPATIBLE;
    *next = key_get_u64(k.mv_data) + 1;
    return 0;
}

/* A sequenced value: head, the seq's digits, tail. */
static void seq_text(void *dst, const unsigned char *val, size_t hlen, size_t vlen, const char *num, size_t n) {
    memcpy(dst, val, hlen);
    memcpy((char *)dst + hlen, num, n);
    memcpy((char *)dst + hlen + n, val + hlen, vlen - hlen);
}

/* Writer thread: the next seq of op's db, written as key and into the value
 * between head and tail. MDB_RESERVE lets the value be built in place. The
 * seq is only tentative until the transaction commits: a failed attempt
 * starts again from the db's last key, so its numbers are given again. */
static int put_sequenced(store_batch *b, store_op *op, MDB_txn *txn, store_seqs *seqs) {
    MDB_dbi dbi = b->s->dbi[op->db];
    uint64_t *next = &seqs->next[op->db];
    int rc = *next ? 0 : seq_first(txn, dbi, next);
    if (rc != 0) return rc;
    uint64_t seq = (*next)++;
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64, seq);
    store_key key;
    key_init(&key);
    key_u64(&key, seq);
    MDB_val k = {key.len, key.buf}, v = {op->vlen + (size_t)n, NULL};
    const unsigned char *val = b->arena + op->voff;
    if (store_db_packed(op->db)) { /* built aside, then packed */
        char *text = malloc(v.mv_size);
        if (text == NULL) return ENOMEM;
        seq_text(text, val, op->hlen, op->vlen, num, (size_t)n);
        v.mv_data = text;
        rc = put_value(b, txn, op->db, &k, &v, MDB_APPEND, &op->stored);
        free(text);
    } else { /* built in place */
        rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND | MDB_RESERVE);
        if (rc == 0) seq_text(v.mv_data, val, op->hlen, op->vlen, num, (size_t)n);
        op->stored = v.mv_size;
    }
    if (rc != 0) return rc;
    op->seqno = seq;
    return 0;
}

/* Writer thread. Deleting a key that is not there is not an error: the
 * caller's intent (the key is absent) holds. */
int store_batch_apply(store_batch *b, MDB_txn *txn, store_seqs *seqs) {
    const MDB_dbi *dbi = b->s->dbi;
    for (size_t i = 0; i < b->nops; i++) {
        store_op *op = &b->ops[i];
        MDB_val k = {op->klen, b->arena + op->koff};
        int rc;
        if (op->sequenced) {
            rc = put_sequenced(b, op, txn, seqs);
        } else if (op->del) {
            rc = mdb_del(txn, dbi[op->db], &k, NULL);
            if (rc == MDB_NOTFOUND) rc = 0;
        } else {
            MDB_val v = {op->vlen, op->deferred ? (void *)op->text : b->arena + op->voff};
            rc = put_value(b, txn, op->db, &k, &v, 0, &op->stored);
        }
        if (rc != 0) return rc;
    }
    return 0;
}

uint64_t store_batch_bytes(const store_batch *b) {
    uint64_t n = 0;
    for (size_t i = 0; i < b->nops; i++)
        if (!b->ops[i].del) n += b->ops[i].klen + b->ops[i].stored;
    return n;
}

/* ---- the index of a big batch's keys ----
 * A read-modify-write looks its key up among the batch's own writes first.
 * A scan is fine for a request's batch of tens of writes; a batch that
 * carries thousands of changes (a timer round, `aftersaled seed`) made it
 * quadratic (a third of the seeder's time at 1,000 cases a batch), so past
 * INDEX_FROM ops the lookups go through an open-addressing table. */
#define INDEX_FROM 64

static uint64_t op_hash(store_db db, const void *key, size_t klen) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)db; /* FNV-1a */
    for (size_t i = 0; i < klen; i++) h = (h ^ ((const unsigned char *)key)[i]) * 1099511628211ULL;
    return h;
}

static int op_is(const store_batch *b, const store_op *op, store_db db, const void *key, size_t klen) {
    return op->db == db && op->klen == klen && memcmp(b->arena + op->koff, key, klen) == 0;
}

/* The slot of (db, key): where it is, or the empty slot it would take. */
static size_t index_slot(const store_batch *b, store_db db, const void *key, size_t klen) {
    size_t mask = b->hcap - 1, i = (size_t)op_hash(db, key, klen) & mask;
    while (b->hidx[i] && !op_is(b, &b->ops[b->hidx[i] - 1], db, key, klen)) i = (i + 1) & mask;
    return i;
}

/* Brings the index up to every op (the newest of a key wins). -1: no
 * memory (the caller scans instead). */
static int index_update(store_batch *b) {
    if (b->nops >= UINT32_MAX) return -1;
    if (b->hcap < 2 * b->nops + 2) { /* at most half full: rebuild larger */
        size_t cap = 256;
        while (cap < 4 * b->nops) cap *= 2;
        uint32_t *t = calloc(cap, sizeof *t);
        if (t == NULL) return -1;
        free(b->hidx);
        b->hidx = t;
        b->hcap = cap;
        b->indexed = 0;
    }
    for (; b->indexed < b->nops; b->indexed++) {
        const store_op *op = &b->ops[b->indexed];
        if (!store_op_readable(op)) continue;
        b->hidx[index_slot(b, op->db, b->arena + op->koff, op->klen)] = (uint32_t)b->indexed + 1;
    }
    return 0;
}

/* The batch's newest readable op of (db, key), or NULL. */
static const store_op *batch_find(store_batch *b, store_db db, const void *key, size_t klen) {
    if (b->nops >= INDEX_FROM && index_update(b) == 0) {
        uint32_t at = b->hidx[index_slot(b, db, key, klen)];
        return at ? &b->ops[at - 1] : NULL;
    }
    for (size_t i = b->nops; i-- > 0;) {
        const store_op *op = &b->ops[i];
        if (store_op_readable(op) && op_is(b, op, db, key, klen)) return op;
    }
    return NULL;
}

int store_batch_get_latest(store_batch *b, store_db db, const void *key, size_t klen,
                           char **val, size_t *vlen) {
    if (b == NULL || b->is_reserve) return STORE_ENOMEM;
    if (klen == 0 || klen > STORE_KEY_MAX) return STORE_EINVAL; /* an overflowed key: never hashed past its buffer */
    const store_op *op = batch_find(b, db, key, klen);
    if (op) {
        if (op->del) return STORE_ENOTFOUND;
        if ((*val = malloc(op->vlen + 1)) == NULL) return STORE_ENOMEM;
        memcpy(*val, b->arena + op->voff, op->vlen);
        (*val)[op->vlen] = '\0';
        *vlen = op->vlen;
        return 0;
    }
    return store_get_latest(b->s, db, key, klen, val, vlen);
}

void store_batch_seqs_done(store *s, const store_batch *b) {
    for (size_t i = 0; i < b->nops; i++) {
        const store_op *op = &b->ops[i];
        if (op->sequenced && op->seqno > s->seq_durable[op->db]) s->seq_durable[op->db] = op->seqno;
    }
}

/* The db's last key as committed, for the first question about its seq:
 * 0 and *last, or an error (the question is asked again next time). */
static int seq_committed(store *s, store_db db, uint64_t *last) {
    store_read *rd;
    int rc = store_read_begin(s, &rd);
    if (rc != 0) return rc;
    MDB_cursor *cur;
    MDB_val k, v;
    *last = 0;
    if ((rc = mdb_cursor_open(rd->txn, s->dbi[db], &cur)) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == 8) *last = key_get_u64(k.mv_data);
        if (rc == MDB_NOTFOUND) rc = 0;
        mdb_cursor_close(cur);
    }
    store_read_end(rd);
    return store_err(rc);
}

uint64_t store_seq_durable(store *s, store_db db) {
    if (s == NULL || (int)db < 0 || db >= DB__COUNT) return 0;
    uint64_t last;
    if (!s->seq_known[db] && seq_committed(s, db, &last) == 0) {
        if (last > s->seq_durable[db]) s->seq_durable[db] = last;
        s->seq_known[db] = 1;
    }
    return s->seq_durable[db];
}
