/* store/read: committed reads on the loop thread, ordered scans, and
 * store_get_latest (overlay first, then committed data).
 *
 * store_read_begin is on the hot path of every GET, so read transactions are
 * reset and kept in a small cache rather than created and freed each time
 * (mdb_txn_renew reuses the reader slot). While any read is active the loop
 * thread holds the store's resize lock shared, so the writer never remaps the
 * file under a live transaction. */
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"
#include "util/log.h"

struct store_iter {
    store_read *rd;
    store_iter *next; /* the read's open iterators */
    MDB_cursor *cur;
    int reverse;
    int state; /* 0 not started, 1 running, 2 finished */
    int has_from;
    size_t plen, flen;
    unsigned char *prefix, *from; /* into keys */
    /* Sized to the keys: a fixed 2 x STORE_KEY_MAX made every iterator a
     * "large" malloc, and glibc consolidates its fast bins on each one (9% of
     * the loop thread's time when a policy asked for a customer's profile). */
    unsigned char keys[];
};

enum { IT_NEW, IT_RUN, IT_END };

static int valid_key(const void *key, size_t klen) {
    return key != NULL && klen > 0 && klen <= STORE_KEY_MAX;
}

static int valid_db(store_db db) { return (int)db >= 0 && db < DB__COUNT; }

static void read_free(store_read *rd) {
    mdb_txn_abort(rd->txn);
    unpack_buf_free(&rd->unpack);
    free(rd);
}

static int read_open_txn(store *s, store_read **out) {
    store_read *rd = s->read_cache;
    if (rd) {
        s->read_cache = rd->next;
        s->read_cached--;
        int rc = mdb_txn_renew(rd->txn);
        if (rc == 0) {
            *out = rd;
            return 0;
        }
        read_free(rd);
        return store_err(rc);
    }
    rd = calloc(1, sizeof *rd);
    if (rd == NULL) return STORE_ENOMEM;
    rd->s = s;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &rd->txn);
    if (rc != 0) {
        free(rd);
        return store_err(rc);
    }
    *out = rd;
    return 0;
}

int store_read_begin(store *s, store_read **out) {
    *out = NULL;
    if (s == NULL) return STORE_EINVAL;
    if (s->closing) return STORE_ECLOSED;
    if (s->active_reads == 0 && pthread_rwlock_rdlock(&s->resize) != 0) return STORE_EIO;
    store_read *rd = NULL;
    int rc = read_open_txn(s, &rd);
    if (rc != 0) {
        if (s->active_reads == 0) pthread_rwlock_unlock(&s->resize);
        return rc;
    }
    rd->next = NULL;
    rd->iters = NULL;
    s->active_reads++;
    *out = rd;
    return 0;
}

/* No loop state is touched: neither the cache nor active_reads (both the
 * loop thread's). */
int store_read_begin_detached(store *s, store_read **out) {
    *out = NULL;
    if (s == NULL) return STORE_EINVAL;
    store_read *rd = calloc(1, sizeof *rd);
    if (rd == NULL) return STORE_ENOMEM;
    if (pthread_rwlock_rdlock(&s->resize) != 0) {
        free(rd);
        return STORE_EIO;
    }
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &rd->txn);
    if (rc != 0) {
        pthread_rwlock_unlock(&s->resize);
        free(rd);
        return store_err(rc);
    }
    rd->s = s;
    rd->detached = 1;
    *out = rd;
    return 0;
}

static void iter_free(store_iter *it) {
    mdb_cursor_close(it->cur);
    free(it);
}

void store_read_end(store_read *rd) {
    if (rd == NULL) return;
    store *s = rd->s;
    while (rd->iters) { /* a caller that bailed out on an error */
        store_iter *it = rd->iters;
        rd->iters = it->next;
        iter_free(it);
    }
    if (rd->detached) {
        read_free(rd);
        pthread_rwlock_unlock(&s->resize);
        return;
    }
    mdb_txn_reset(rd->txn);
    if (s->read_cached < STORE_READ_CACHE) {
        rd->next = s->read_cache;
        s->read_cache = rd;
        s->read_cached++;
    } else {
        read_free(rd);
    }
    if (--s->active_reads == 0) pthread_rwlock_unlock(&s->resize);
}

void store_read_cache_free(store *s) {
    while (s->read_cache) {
        store_read *rd = s->read_cache;
        s->read_cache = rd->next;
        read_free(rd);
    }
    s->read_cached = 0;
}

int store_read_text(store_read *rd, const void *val, size_t vlen, const char **text, size_t *len) {
    if (unpack_value(&rd->unpack, val, vlen, text, len) == 0) return 0;
    log_msg(LOG_ERROR, "store: a history value of %zu bytes does not unpack (damaged, or of a newer build)", vlen);
    return STORE_EIO;
}

int store_packs(store_db db) { return valid_db(db) && store_db_packed(db); }

int store_read_get(store_read *rd, store_db db, const void *key, size_t klen, const void **val,
                   size_t *vlen) {
    if (rd == NULL || !valid_db(db) || !valid_key(key, klen)) return STORE_EINVAL;
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(rd->txn, rd->s->dbi[db], &k, &v);
    if (rc != 0) return store_err(rc);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

static char *copy_value(const void *val, size_t vlen) {
    char *p = malloc(vlen + 1);
    if (p == NULL) return NULL;
    if (vlen) memcpy(p, val, vlen);
    p[vlen] = '\0';
    return p;
}

int store_get_latest(store *s, store_db db, const void *key, size_t klen, char **val,
                     size_t *vlen) {
    if (s == NULL || !valid_db(db) || !valid_key(key, klen)) return STORE_EINVAL;
    const void *v;
    size_t n;
    if (overlay_get(s->ov, db, key, klen, &v, &n)) {
        if (v == NULL) return STORE_ENOTFOUND;
        if ((*val = copy_value(v, n)) == NULL) return STORE_ENOMEM;
        *vlen = n;
        return 0;
    }
    store_read *rd;
    int rc = store_read_begin(s, &rd);
    if (rc != 0) return rc;
    rc = store_read_get(rd, db, key, klen, &v, &n);
    const char *text = NULL;
    if (rc == 0 && store_db_packed(db) && (rc = store_read_text(rd, v, n, &text, &n)) == 0) v = text;
    if (rc == 0) {
        if ((*val = copy_value(v, n)) == NULL) rc = STORE_ENOMEM;
        else *vlen = n;
    }
    store_read_end(rd);
    return rc;
}

/* ---- iterators ---- */

static int key_cmp(const void *a, size_t alen, const void *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static int has_prefix(const store_iter *it, const MDB_val *k) {
    return k->mv_size >= it->plen && memcmp(k->mv_data, it->prefix, it->plen) == 0;
}

int store_iter_open(store_read *rd, store_db db, const void *prefix, size_t plen,
                    const void *from, size_t flen, int reverse, store_iter **out) {
    *out = NULL;
    if (rd == NULL || !valid_db(db) || plen > STORE_KEY_MAX || flen > STORE_KEY_MAX ||
        (plen && prefix == NULL))
        return STORE_EINVAL;
    size_t klen = plen + (from != NULL ? flen : 0);
    store_iter *it = calloc(1, sizeof *it + klen);
    if (it == NULL) return STORE_ENOMEM;
    it->prefix = it->keys;
    it->from = it->keys + plen;
    int rc = mdb_cursor_open(rd->txn, rd->s->dbi[db], &it->cur);
    if (rc != 0) {
        free(it);
        return store_err(rc);
    }
    it->rd = rd;
    it->reverse = reverse != 0;
    it->plen = plen;
    if (plen) memcpy(it->prefix, prefix, plen);
    it->has_from = from != NULL && flen > 0;
    if (it->has_from) memcpy(it->from, from, flen);
    it->flen = it->has_from ? flen : 0;
    it->next = rd->iters;
    rd->iters = it;
    *out = it;
    return 0;
}

static int seek_forward(store_iter *it, MDB_val *k, MDB_val *v) {
    if (it->has_from && key_cmp(it->from, it->flen, it->prefix, it->plen) > 0) {
        *k = (MDB_val){it->flen, it->from};
        return mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE);
    }
    if (it->plen == 0) return mdb_cursor_get(it->cur, k, v, MDB_FIRST);
    *k = (MDB_val){it->plen, it->prefix};
    return mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE);
}

/* Positions on the last key <= target (inclusive) or < target. */
static int seek_before(store_iter *it, const unsigned char *target, size_t tlen, int inclusive,
                       MDB_val *k, MDB_val *v) {
    *k = (MDB_val){tlen, (void *)target};
    int rc = mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) return mdb_cursor_get(it->cur, k, v, MDB_LAST);
    if (rc != 0) return rc;
    if (inclusive && key_cmp(k->mv_data, k->mv_size, target, tlen) == 0) return 0;
    return mdb_cursor_get(it->cur, k, v, MDB_PREV);
}

static int seek_reverse(store_iter *it, MDB_val *k, MDB_val *v) {
    if (it->has_from) {
        if (it->flen >= it->plen && memcmp(it->from, it->prefix, it->plen) == 0)
            return seek_before(it, it->from, it->flen, 1, k, v);
        if (key_cmp(it->from, it->flen, it->prefix, it->plen) < 0) return MDB_NOTFOUND;
    }
    /* The end of the prefix range: just before its successor, the prefix
     * with trailing 0xff dropped and the last byte incremented. */
    unsigned char succ[STORE_KEY_MAX];
    size_t n = it->plen;
    memcpy(succ, it->prefix, n);
    while (n > 0 && succ[n - 1] == 0xff) n--;
    if (n == 0) return mdb_cursor_get(it->cur, k, v, MDB_LAST);
    succ[n - 1]++;
    return seek_before(it, succ, n, 0, k, v);
}

int store_iter_next(store_iter *it, const void **key, size_t *klen, const void **val,
                    size_t *vlen) {
    if (it == NULL) return STORE_EINVAL;
    if (it->state == IT_END) return 0;
    MDB_val k = {0, NULL}, v = {0, NULL};
    int rc;
    if (it->state == IT_NEW)
        rc = it->reverse ? seek_reverse(it, &k, &v) : seek_forward(it, &k, &v);
    else
        rc = mdb_cursor_get(it->cur, &k, &v, it->reverse ? MDB_PREV : MDB_NEXT);
    it->state = IT_RUN;
    if (rc == 0 && !has_prefix(it, &k)) rc = MDB_NOTFOUND;
    if (rc != 0) {
        it->state = IT_END;
        return rc == MDB_NOTFOUND ? 0 : store_err(rc);
    }
    *key = k.mv_data;
    *klen = k.mv_size;
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 1;
}

void store_iter_close(store_iter *it) {
    if (it == NULL) return;
    store_iter **pp = &it->rd->iters;
    while (*pp && *pp != it) pp = &(*pp)->next;
    if (*pp) *pp = it->next;
    iter_free(it);
}
