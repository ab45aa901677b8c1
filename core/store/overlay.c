/* store/overlay: values of submitted, not yet completed batches.
 *
 * A chained hash table on the loop thread keyed by (db, key). Each entry holds
 * the newest pending value (or a tombstone for a delete) and the sequence of
 * the batch that wrote it. When a batch completes, only the entries it still
 * owns (tag == its seq) go away: a later pending write to the same key stays
 * visible to store_get_latest. */
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

typedef struct ov_entry {
    struct ov_entry *next;
    uint64_t hash;
    uint64_t tag;
    uint8_t db;
    uint8_t del;
    size_t klen, vlen;
    unsigned char bytes[]; /* key then value */
} ov_entry;

struct overlay {
    ov_entry **slots;
    size_t nslots; /* power of two */
    size_t count;
};

#define OV_MIN_SLOTS 64

static uint64_t ov_hash(uint8_t db, const void *key, size_t klen) {
    uint64_t h = 1469598103934665603ULL ^ db; /* FNV-1a */
    const unsigned char *p = key;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

overlay *overlay_new(void) {
    overlay *ov = calloc(1, sizeof *ov);
    if (ov == NULL) return NULL;
    ov->slots = calloc(OV_MIN_SLOTS, sizeof *ov->slots);
    if (ov->slots == NULL) {
        free(ov);
        return NULL;
    }
    ov->nslots = OV_MIN_SLOTS;
    return ov;
}

void overlay_clear(overlay *ov) {
    for (size_t i = 0; i < ov->nslots; i++) {
        ov_entry *e = ov->slots[i];
        while (e) {
            ov_entry *next = e->next;
            free(e);
            e = next;
        }
        ov->slots[i] = NULL;
    }
    ov->count = 0;
}

void overlay_free(overlay *ov) {
    if (ov == NULL) return;
    overlay_clear(ov);
    free(ov->slots);
    free(ov);
}

/* Doubles the table; on allocation failure it keeps the longer chains. */
static void ov_grow(overlay *ov) {
    size_t n = ov->nslots * 2;
    ov_entry **slots = calloc(n, sizeof *slots);
    if (slots == NULL) return;
    for (size_t i = 0; i < ov->nslots; i++) {
        ov_entry *e = ov->slots[i];
        while (e) {
            ov_entry *next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = slots[j];
            slots[j] = e;
            e = next;
        }
    }
    free(ov->slots);
    ov->slots = slots;
    ov->nslots = n;
}

static ov_entry **ov_find(const overlay *ov, uint64_t h, uint8_t db, const void *key,
                          size_t klen) {
    ov_entry **pp = &ov->slots[h & (ov->nslots - 1)];
    for (; *pp; pp = &(*pp)->next) {
        ov_entry *e = *pp;
        if (e->hash == h && e->db == db && e->klen == klen && memcmp(e->bytes, key, klen) == 0)
            return pp;
    }
    return pp;
}

static ov_entry *ov_entry_new(const store_batch *b, const store_op *op) {
    size_t vlen = op->del ? 0 : op->vlen;
    ov_entry *e = malloc(sizeof *e + op->klen + vlen);
    if (e == NULL) return NULL;
    const unsigned char *key = b->arena + op->koff;
    e->next = NULL;
    e->hash = ov_hash(op->db, key, op->klen);
    e->tag = b->seq;
    e->db = op->db;
    e->del = op->del;
    e->klen = op->klen;
    e->vlen = vlen;
    memcpy(e->bytes, key, op->klen);
    if (vlen) memcpy(e->bytes + op->klen, b->arena + op->voff, vlen);
    return e;
}

/* Replaces the entry for e's key (if any) with e. */
static void ov_install(overlay *ov, ov_entry *e) {
    ov_entry **pp = ov_find(ov, e->hash, e->db, e->bytes, e->klen);
    if (*pp) {
        ov_entry *old = *pp;
        e->next = old->next;
        free(old);
        *pp = e;
        return;
    }
    *pp = e;
    if (++ov->count > ov->nslots) ov_grow(ov);
}

/* Entries are all allocated first so that running out of memory leaves the
 * overlay exactly as it was (the batch then fails with STORE_ENOMEM). */
int overlay_add_batch(overlay *ov, const store_batch *b) {
    if (b->nops == 0) return 0;
    ov_entry **made = malloc(b->nops * sizeof *made);
    if (made == NULL) return STORE_ENOMEM;
    for (size_t i = 0; i < b->nops; i++) {
        made[i] = NULL;
        if (!store_op_readable(&b->ops[i])) continue; /* append-only: never read back pending */
        made[i] = ov_entry_new(b, &b->ops[i]);
        if (made[i] == NULL) {
            while (i > 0) free(made[--i]);
            free(made);
            return STORE_ENOMEM;
        }
    }
    for (size_t i = 0; i < b->nops; i++)
        if (made[i]) ov_install(ov, made[i]);
    free(made);
    return 0;
}

void overlay_remove_batch(overlay *ov, const store_batch *b) {
    for (size_t i = 0; i < b->nops && ov->count > 0; i++) {
        const store_op *op = &b->ops[i];
        if (!store_op_readable(op)) continue;
        const unsigned char *key = b->arena + op->koff;
        uint64_t h = ov_hash(op->db, key, op->klen);
        ov_entry **pp = ov_find(ov, h, op->db, key, op->klen);
        if (*pp == NULL || (*pp)->tag > b->seq) continue;
        ov_entry *e = *pp;
        *pp = e->next;
        free(e);
        ov->count--;
    }
}

int overlay_get(const overlay *ov, store_db db, const void *key, size_t klen, const void **val,
                size_t *vlen) {
    if (ov->count == 0) return 0;
    ov_entry **pp = ov_find(ov, ov_hash((uint8_t)db, key, klen), (uint8_t)db, key, klen);
    if (*pp == NULL) return 0;
    ov_entry *e = *pp;
    *val = e->del ? NULL : e->bytes + e->klen;
    *vlen = e->vlen;
    return 1;
}
