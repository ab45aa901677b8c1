/* store/store_impl.h: the store's internals, shared by its .c files only.
 * Nothing outside core/store/ includes this; store.h is the API.
 *
 * Threads: the loop thread owns everything marked (loop); the writer thread
 * owns the write transaction; fields marked (mu) are guarded by s->mu.
 * The rwlock `resize` keeps mdb_env_set_mapsize (writer, exclusive) away from
 * the loop thread's read transactions (shared). */
#ifndef AS_STORE_IMPL_H
#define AS_STORE_IMPL_H

#include <lmdb.h>
#include <pthread.h>

#include "store/keys.h"
#include "store/pack.h"
#include "store/store.h"

/* One put or delete; key and value bytes live in the batch's arena. */
typedef struct {
    uint8_t db;
    uint8_t del;
    /* a sequenced put (store_batch_put_seq): the key is a placeholder and
     * the value is head (hlen bytes) then tail; the writer assigns seqno */
    uint8_t sequenced;
    size_t hlen;
    uint64_t seqno;
    size_t koff, klen;
    size_t voff, vlen;
    /* a deferred value (store_batch_put_deferred): serialised into `text`
     * (vlen bytes) by the writer before its transaction */
    void *deferred;
    store_serialize_fn serialize;
    store_release_fn release;
    char *text;
    /* bytes the put stored (packed or not), set by the writer: statistics */
    size_t stored;
} store_op;

/* The databases whose values the writer stores packed (store/pack.h): the
 * history (written once, read seldom) and the cases (a case's JSON is the
 * largest value a case create writes, 1.3 KB, and packs to ~0.2 KB; it
 * unpacks in well under a microsecond). Readers go through store_read_text. */
static inline int store_db_packed(store_db db) {
    return db == DB_EVENTS || db == DB_TIMELINE || db == DB_CASES;
}

/* Ops whose value store_get_latest may see while the batch is pending: a
 * deferred value is serialised later and a sequenced put has no key yet. */
static inline int store_op_readable(const store_op *op) { return !op->deferred && !op->sequenced; }

/* The writer's view of each db's sequence within one transaction attempt:
 * 0 until the db's last key is looked up, then the next seq to give. */
typedef struct {
    uint64_t next[DB__COUNT];
} store_seqs;

struct store_batch {
    store *s;
    store_batch *next;
    uint64_t seq;   /* submit order, tags this batch's overlay entries */
    uint64_t epoch; /* failure generation at submit (see writer.c) */
    int err;        /* first error while filling: the batch fails alone */
    int status;     /* result, set by the writer */
    int in_overlay; /* its ops were recorded in the overlay */
    int live;       /* (writer) goes into the current transaction */
    int is_reserve; /* the store's out-of-memory stand-in, never freed */
    store_commit_cb cb;
    void *ud;
    store_op *ops;
    size_t nops, ops_cap;
    unsigned char *arena;
    size_t alen, acap;
    /* store_batch_get_latest's index of a big batch: slot -> op index + 1
     * (0 empty) of the newest readable op of each (db, key); ops before
     * `indexed` are in it. Built on the first lookup past a few ops. */
    uint32_t *hidx;
    size_t hcap, indexed;
};

struct store_read {
    store *s;
    MDB_txn *txn;
    store_iter *iters; /* still open; closed by store_read_end */
    store_read *next;  /* in the cache */
    unpack_buf unpack; /* history values unpacked by store_read_text */
    int detached;      /* store_read_begin_detached: another thread's, never cached */
};

typedef struct overlay overlay;

#define STORE_READ_CACHE 4
#define STORE_OOM_SLOTS 64

typedef struct {
    store_commit_cb cb;
    void *ud;
} store_oom_slot;

struct store {
    uv_loop_t *loop;
    MDB_env *env;
    MDB_dbi dbi[DB__COUNT];
    size_t map_max;

    pthread_t writer;
    int writer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_rwlock_t resize;
    uv_async_t async;

    /* (mu) */
    store_batch *queue_head, *queue_tail; /* submitted, for the writer */
    store_batch *done_head, *done_tail;   /* finished, for the loop */
    int stopping;
    size_t map_size;
    uint64_t commits, commit_us_total, in_last_commit, max_per_commit;
    uint64_t batches_committed; /* the sum of the batches-per-commit histogram */
    uint64_t bytes_written;     /* key and value bytes of the puts committed */
    uint64_t hist[8];

    /* (writer) */
    pack_ctx *pack;        /* packs the history databases' values */
    uint64_t failed_epoch; /* batches of this epoch or older fail */
    int failed_err;
    int any_failed;

    /* (loop) */
    uint64_t seq_durable[DB__COUNT]; /* see store_seq_durable */
    uint8_t seq_known[DB__COUNT];
    int closing;
    uint64_t next_seq;
    uint64_t epoch;
    int failed_alone;    /* the batch completing failed on its own (store_failed_alone) */
    uint64_t batches, failed_batches;
    size_t pending;
    overlay *ov;
    store_read *read_cache;
    size_t read_cached;
    int active_reads;
    store_batch reserve; /* handed out when a batch cannot be allocated */
    store_oom_slot oom[STORE_OOM_SLOTS];
    size_t oom_n;
};

/* env.c */
int store_err(int mdb_rc);
int store_grow_map(store *s); /* writer thread; STORE_EFULL past map_max */
int store_reload_map(store *s);
/* Writer thread: 1 if the data file's file system has no space left. */
int store_disk_full(store *s);

/* batch.c */
void store_batch_release(store_batch *b);
/* Writer thread, before the transaction: serialises the deferred values.
 * 0, or STORE_ENOMEM (the batch then fails alone). */
int store_batch_materialize(store_batch *b);
/* Writer thread, MDB code. seqs carries the sequences from batch to batch
 * of one transaction attempt. */
int store_batch_apply(store_batch *b, MDB_txn *txn, store_seqs *seqs);
/* Loop thread, after b committed: raises the durable seqs it reached. */
void store_batch_seqs_done(store *s, const store_batch *b);
/* Key and value bytes the batch's puts stored, packed values as packed (writer
 * thread, after the batch applied: for the statistics). */
uint64_t store_batch_bytes(const store_batch *b);

/* writer.c */
void store_bind_thread(store *s);   /* store_submit(NULL) finds it here */
void store_unbind_thread(store *s);
int store_writer_start(store *s);
void store_writer_stop(store *s);
void store_complete_all(store *s); /* loop thread: runs finished callbacks */

/* read.c */
void store_read_cache_free(store *s);

/* overlay.c (loop thread) */
overlay *overlay_new(void);
void overlay_free(overlay *ov);
void overlay_clear(overlay *ov);
/* Records every op of b, tagged b->seq; all or nothing. */
int overlay_add_batch(overlay *ov, const store_batch *b);
/* Forgets b's entries that no later batch has overwritten. */
void overlay_remove_batch(overlay *ov, const store_batch *b);
/* 1 found (val NULL for a pending delete), 0 not in the overlay. */
int overlay_get(const overlay *ov, store_db db, const void *key, size_t klen, const void **val,
                size_t *vlen);

#endif
