/* case/kpi_rebuild: the aggregates recomputed from the stored cases (kpi.h):
 * the start of a data directory that has none, `aftersaled kpi rebuild` and
 * `kpi verify`.
 *
 * Every stored case's contribution goes into a map in memory through the
 * same kpi_update the commit uses (a sink over the map instead of a batch);
 * the map holds one value per record, so it grows with days x groups, not
 * with cases. Rebuild then replaces the stored records in bounded batches;
 * verify compares them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "case/codec.h"
#include "case/kpi.h"

#define BATCH_OPS 1024

/* ---- a map of keys to values ---- */

typedef struct {
    unsigned char *key;
    size_t klen;
    unsigned char *val; /* NULL: deleted */
    size_t vlen;
    int seen; /* verify: the stored record was found */
} entry;

typedef struct {
    entry *e;
    size_t n, cap; /* cap a power of two */
    int err;
} kmap;

static uint64_t hash(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static entry *slot(kmap *m, const unsigned char *k, size_t klen) {
    size_t i = hash(k, klen) & (m->cap - 1);
    while (m->e[i].key && !(m->e[i].klen == klen && memcmp(m->e[i].key, k, klen) == 0)) i = (i + 1) & (m->cap - 1);
    return &m->e[i];
}

static int grow(kmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    entry *old = m->e;
    size_t ocap = m->cap;
    m->e = calloc(cap, sizeof *m->e);
    if (m->e == NULL) {
        m->e = old;
        return -1;
    }
    m->cap = cap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key) *slot(m, old[i].key, old[i].klen) = old[i];
    free(old);
    return 0;
}

static void kmap_free(kmap *m) {
    for (size_t i = 0; i < m->cap; i++) {
        free(m->e[i].key);
        free(m->e[i].val);
    }
    free(m->e);
    memset(m, 0, sizeof *m);
}

static int map_get(void *ud, const store_key *k, char **val, size_t *vlen) {
    kmap *m = ud;
    entry *e = m->cap ? slot(m, k->buf, k->len) : NULL;
    if (e == NULL || e->key == NULL || e->val == NULL) return STORE_ENOTFOUND;
    *val = malloc(e->vlen + 1);
    if (*val == NULL) return STORE_ENOMEM;
    memcpy(*val, e->val, e->vlen);
    (*val)[e->vlen] = 0;
    *vlen = e->vlen;
    return 0;
}

static void map_put(void *ud, const store_key *k, const void *val, size_t vlen) {
    kmap *m = ud;
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0) {
        m->err = STORE_ENOMEM;
        return;
    }
    entry *e = slot(m, k->buf, k->len);
    unsigned char *copy = malloc(vlen ? vlen : 1);
    if (copy == NULL || (e->key == NULL && (e->key = malloc(k->len)) == NULL)) {
        free(copy);
        m->err = STORE_ENOMEM;
        return;
    }
    if (e->klen == 0) {
        memcpy(e->key, k->buf, k->len);
        e->klen = k->len;
        m->n++;
    }
    memcpy(copy, val, vlen);
    free(e->val);
    e->val = copy;
    e->vlen = vlen;
}

static void map_del(void *ud, const store_key *k) {
    kmap *m = ud;
    entry *e = m->cap ? slot(m, k->buf, k->len) : NULL;
    if (e && e->key) {
        free(e->val);
        e->val = NULL;
    }
}

static void map_fail(void *ud, int err) {
    kmap *m = ud;
    if (m->err == 0) m->err = err;
}

/* Every stored case into m. */
static int compute(store *db, int64_t offset, kmap *m, uint64_t *cases) {
    kpi_sink s = {m, map_get, map_put, map_del, map_fail};
    store_read *rd;
    store_iter *it = NULL;
    int rc = store_read_begin(db, &rd);
    if (rc != 0) return rc;
    rc = store_iter_open(rd, DB_CASES, NULL, 0, NULL, 0, 0, &it);
    const void *k, *v;
    size_t klen, vlen;
    while (rc == 0 && m->err == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        const char *text; /* cases are stored packed */
        if ((rc = store_read_text(rd, v, vlen, &text, &vlen)) != 0) break;
        as_case c;
        char err[256];
        if (case_from_json(&c, text, vlen, err, sizeof err) != 0) continue; /* undecodable: counted by no one */
        kpi_update(&s, offset, NULL, &c);
        (*cases)++;
        case_free(&c);
    }
    if (it) store_iter_close(it);
    store_read_end(rd);
    if (rc < 0) return rc;
    return m->err;
}


/* Deletes every stored 'K' record, a bounded batch at a time. */
static int clear_stored(store *db) {
    unsigned char prefix[1] = {IDX_KPI};
    for (;;) {
        store_read *rd;
        store_iter *it = NULL;
        int rc = store_read_begin(db, &rd);
        if (rc != 0) return rc;
        store_batch *b = store_batch_new(db);
        size_t n = 0;
        rc = store_iter_open(rd, DB_INDEX, prefix, 1, NULL, 0, 0, &it);
        const void *k, *v;
        size_t klen, vlen;
        while (rc == 0 && n < BATCH_OPS && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
            rc = 0;
            store_batch_del(b, DB_INDEX, k, klen);
            n++;
        }
        if (it) store_iter_close(it);
        store_read_end(rd);
        if (rc < 0) {
            store_batch_free(b);
            return rc;
        }
        if ((rc = store_submit_wait(b)) != 0) return rc;
        if (n < BATCH_OPS) return 0;
    }
}

static void now_ms(int64_t *ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    *ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int kpi_rebuild(store *db, int64_t offset, kpi_rebuild_report *r) {
    memset(r, 0, sizeof *r);
    int64_t t0, t1;
    now_ms(&t0);
    kmap m = {0};
    int rc = compute(db, offset, &m, &r->cases);
    if (rc == 0) {
        store_batch *b = store_batch_new(db);
        store_batch_del(b, DB_META, KPI_META_KEY, sizeof KPI_META_KEY - 1);
        rc = store_submit_wait(b);
    }
    if (rc == 0) rc = clear_stored(db);
    store_batch *b = NULL;
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < m.cap; i++) {
        entry *e = &m.e[i];
        if (e->key == NULL || e->val == NULL) continue;
        if (b == NULL) b = store_batch_new(db);
        store_batch_put(b, DB_INDEX, e->key, e->klen, e->val, e->vlen);
        r->records++;
        if (++n == BATCH_OPS) {
            rc = store_submit_wait(b);
            b = NULL;
            n = 0;
        }
    }
    if (rc == 0) {
        if (b == NULL) b = store_batch_new(db);
        char text[64];
        int len = snprintf(text, sizeof text, "{\"utc_offset\":%" PRId64 "}", offset);
        store_batch_put(b, DB_META, KPI_META_KEY, sizeof KPI_META_KEY - 1, text, (size_t)len);
        rc = store_submit_wait(b);
    } else if (b) {
        store_batch_free(b);
    }
    kmap_free(&m);
    now_ms(&t1);
    r->ms = t1 - t0;
    return rc;
}

int kpi_verify(store *db, int64_t offset, kpi_rebuild_report *r) {
    memset(r, 0, sizeof *r);
    int64_t t0, t1;
    now_ms(&t0);
    kmap m = {0};
    int rc = compute(db, offset, &m, &r->cases);
    store_read *rd = NULL;
    store_iter *it = NULL;
    if (rc == 0) rc = store_read_begin(db, &rd);
    unsigned char prefix[1] = {IDX_KPI};
    if (rc == 0) rc = store_iter_open(rd, DB_INDEX, prefix, 1, NULL, 0, 0, &it);
    const void *k, *v;
    size_t klen, vlen;
    while (rc == 0 && (rc = store_iter_next(it, &k, &klen, &v, &vlen)) == 1) {
        rc = 0;
        r->records++;
        entry *e = m.cap ? slot(&m, k, klen) : NULL;
        if (e == NULL || e->key == NULL || e->val == NULL) {
            r->extra++;
            continue;
        }
        e->seen = 1;
        if (e->vlen != vlen || memcmp(e->val, v, vlen) != 0) r->mismatched++;
    }
    if (it) store_iter_close(it);
    if (rd) store_read_end(rd);
    for (size_t i = 0; rc == 0 && i < m.cap; i++)
        if (m.e[i].key && m.e[i].val && !m.e[i].seen) r->missing++;
    kmap_free(&m);
    now_ms(&t1);
    r->ms = t1 - t0;
    return rc < 0 ? rc : 0;
}

int kpi_meta_read(store *db, int64_t *offset) {
    store_read *rd;
    int rc = store_read_begin(db, &rd);
    if (rc != 0) return rc;
    const void *val;
    size_t vlen;
    rc = store_read_get(rd, DB_META, KPI_META_KEY, sizeof KPI_META_KEY - 1, &val, &vlen);
    if (rc == 0) {
        json_t *j = json_loadb(val, vlen, 0, NULL);
        json_t *o = json_object_get(j, "utc_offset");
        if (json_is_integer(o)) *offset = json_integer_value(o);
        else rc = STORE_EIO;
        json_decref(j);
    }
    store_read_end(rd);
    return rc;
}
