/* store: durable storage on one LMDB environment, with a group-commit writer.
 *
 * Reads of committed data run on the loop thread in short read-only
 * transactions (store_read_*). All writes go through batches: the loop thread
 * fills a store_batch and submits it; one writer thread takes every batch
 * queued so far, applies them in one transaction in submit order, commits
 * (one fsync) and then completes them all on the loop thread through
 * uv_async. A commit callback with status 0 means the batch is durable.
 *
 * Read-your-own-writes for read-modify-write code: store_get_latest() sees the
 * values of batches submitted but not yet committed (an overlay kept on the
 * loop thread), so two requests that update the same record in quick
 * succession never lose an update. Plain GETs use store_read_* and see only
 * durable data.
 *
 * If a commit fails, that batch and every batch submitted before the loop
 * thread learned of the failure complete with the error (their state may have
 * been derived from the failed one); the overlay is dropped, and later batches
 * start again from committed data. MDB_MAP_FULL grows the map (x2, up to
 * map_max) and retries the transaction before giving up with STORE_EFULL. A
 * full disk is STORE_EFULL too (ENOSPC or EDQUOT from a write or a sync, or
 * a write cut short on a file system left with no space, which LMDB reports
 * as EIO): nothing of the failed group is written, reads go on, and every
 * later commit tries the disk again, so writes resume by themselves once
 * space is freed.
 *
 * Feeds: a sequenced put (store_batch_put_seq) is numbered by the writer
 * thread when it applies the batch, in commit order and without gaps, so a
 * failed commit leaves no hole in the numbering.
 *
 * Every function here runs on the loop thread unless it says otherwise. */
#ifndef AS_STORE_H
#define AS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Named databases (LMDB DBIs). Keys are built with store/keys.h. */
typedef enum {
    DB_META = 0, /* counters and settings */
    DB_ORDERS,   /* order_id -> order JSON */
    DB_CASES,    /* case_id -> case JSON */
    DB_TIMELINE, /* case_id | seq(be64) -> event JSON */
    DB_INDEX,    /* secondary indexes: composite key -> small value */
    DB_TIMERS,   /* due(be64) | kind | id -> timer JSON */
    DB_EVENTS,   /* seq(be64) -> feed event JSON (sequenced puts only) */
    DB_AGENTS,   /* agent_id -> agent JSON */
    DB_IDEM,     /* idempotency scope | key -> stored answer */
    DB__COUNT
} store_db;

/* Errors are negative; store_strerror() names them. */
enum {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1, /* no such key */
    STORE_EFULL = -2,     /* map full and cannot grow, or disk full: answer 507 */
    STORE_EIO = -3,       /* any other LMDB or OS failure */
    STORE_ENOMEM = -4,
    STORE_EINVAL = -5, /* key too long, bad argument */
    STORE_ECLOSED = -6 /* store is shutting down */
};
const char *store_strerror(int err);

typedef struct {
    const char *path;  /* directory, created if missing */
    size_t map_size;   /* initial map size, default 256 MiB */
    size_t map_max;    /* growth cap, default 64 GiB */
} store_config;

typedef struct store store;

int store_open(store **out, uv_loop_t *loop, const store_config *cfg);
/* Flushes every submitted batch (their callbacks run), stops the writer,
 * closes the environment. Must be called from the loop thread; runs the loop
 * internally only through the async handle close. Call it once, with no read
 * active; the store's memory is released by that close callback, so the
 * caller runs the loop once more afterwards (uv_run returns only then). */
void store_close(store *s);

/* ---- committed reads ---- */
typedef struct store_read store_read;
int store_read_begin(store *s, store_read **out);
void store_read_end(store_read *rd);
/* A read for a thread other than the loop's (a background job): its own
 * transaction, not from the loop's cache, holding the resize lock shared
 * until store_read_end (which that same thread calls). The map cannot grow
 * while it lives, and LMDB keeps every page it sees, so a job reads in
 * bounded chunks, one short read each, never one read for all its work.
 * Every job must have ended its reads before store_close. */
int store_read_begin_detached(store *s, store_read **out);
/* *val points into the map; valid until store_read_end. */
int store_read_get(store_read *rd, store_db db, const void *key, size_t klen,
                   const void **val, size_t *vlen);

/* The JSON text of a value of a packed database (DB_EVENTS, DB_TIMELINE,
 * DB_CASES), which the writer stores packed (store/pack.h): the value itself if it is
 * plain, else unpacked into a buffer of the read's, valid until the next
 * call for this read or its end. 0, or STORE_EIO for a damaged value. */
int store_read_text(store_read *rd, const void *val, size_t vlen, const char **text, size_t *len);
/* 1 if db's values are stored packed: read them through store_read_text. */
int store_packs(store_db db);

/* Ordered scan of keys that start with prefix. Forward scans start at the
 * first key >= from (or the prefix start if from is NULL); reverse scans start
 * at the last key <= from (or the prefix end if from is NULL). */
typedef struct store_iter store_iter;
int store_iter_open(store_read *rd, store_db db, const void *prefix, size_t plen,
                    const void *from, size_t flen, int reverse, store_iter **out);
/* 1 and the next pair, 0 at the end, or a negative error. Pointers valid
 * until the read ends. */
int store_iter_next(store_iter *it, const void **key, size_t *klen, const void **val,
                    size_t *vlen);
void store_iter_close(store_iter *it);

/* The newest value of key, pending batches first, then committed data.
 * Returns a malloc'd copy (NUL-terminated, vlen excludes the NUL) that the
 * caller frees, or STORE_ENOTFOUND (also when a pending batch deletes it). */
int store_get_latest(store *s, store_db db, const void *key, size_t klen, char **val,
                     size_t *vlen);

/* ---- writes ---- */
typedef struct store_batch store_batch;
typedef void (*store_commit_cb)(int status, void *ud);

store_batch *store_batch_new(store *s);
/* Copies key and value. The first error is remembered: later calls are no-ops
 * and store_submit reports it through the callback. */
void store_batch_put(store_batch *b, store_db db, const void *key, size_t klen,
                     const void *val, size_t vlen);
void store_batch_del(store_batch *b, store_db db, const void *key, size_t klen);
size_t store_batch_ops(const store_batch *b);
/* Fails the batch with err (a negative STORE_E*), unless it already failed:
 * a caller that cannot build one of its values keeps the rest from committing. */
void store_batch_fail(store_batch *b, int err);
/* A value the writer thread serialises, off the loop: serialize(value, &len)
 * answers malloc'd bytes (NULL: out of memory; the batch then fails with
 * STORE_ENOMEM as after a failed commit, with the later batches built while it
 * was pending) and release(value) runs on the loop thread once the batch is
 * done. The value must not change after the call (the writer reads it while
 * the loop goes on). For append-only records read back only once committed:
 * store_get_latest and store_batch_get_latest do not see such a value. */
typedef char *(*store_serialize_fn)(void *value, size_t *len);
typedef void (*store_release_fn)(void *value);
void store_batch_put_deferred(store_batch *b, store_db db, const void *key, size_t klen,
                              void *value, store_serialize_fn serialize, store_release_fn release);
/* A record under db's next sequence number, which the writer thread assigns
 * when it applies the batch: numbers follow commit order, start at 1 and
 * leave no gaps, because a transaction that fails hands its numbers back
 * (each attempt counts on from the last key the db holds). The key is the
 * seq as 8 big-endian bytes (key_u64); the value is head, the seq in decimal,
 * then tail: head `{"seq":` and tail `,"type":"x"}` store
 * `{"seq":42,"type":"x"}`. Copies head and tail. A db that takes sequenced
 * puts must hold nothing else (a commit into one whose last key is not a seq
 * fails) and keep its last record (deleting it would give its seq again).
 * Like a deferred value, the record is invisible to store_get_latest and
 * store_batch_get_latest until committed; a committed read sees it. */
void store_batch_put_seq(store_batch *b, store_db db, const void *head, size_t hlen,
                         const void *tail, size_t tlen);
/* The highest seq of db known durable on the loop thread: the db's last
 * committed key when first asked, then raised as each batch with sequenced
 * puts into db completes with status 0 (before its callback runs). 0: none. */
uint64_t store_seq_durable(store *s, store_db db);
/* store_get_latest as seen by b: b's own newest write of key first, then the
 * store's latest. For read-modify-write of a counter a batch may touch twice. */
int store_batch_get_latest(store_batch *b, store_db db, const void *key, size_t klen,
                           char **val, size_t *vlen);
/* Takes ownership. cb runs on the loop thread once the batch is durable
 * (status 0) or failed (negative). An empty batch is a barrier: its callback
 * runs after every earlier batch is durable. */
void store_submit(store_batch *b, store_commit_cb cb, void *ud);
/* Submits b and runs the store's loop until it is durable or failed: for a
 * start, an upgrade or a CLI command, before the loop serves anything else
 * (its other handles' callbacks may run meanwhile). The batch's status. */
int store_submit_wait(store_batch *b);
void store_batch_free(store_batch *b); /* only for a batch never submitted */
/* The failure generation (see writer.c): it moves on when the first batch of
 * a failed commit completes, and then every batch still pending fails too.
 * State mirrored in memory from batches is rebuilt once per move. */
uint64_t store_epoch(const store *s);
/* Inside a commit callback with an error: 1 if that batch failed on its own
 * (a bad key, no memory to build it) and took no other batch with it, 0 if
 * its commit failed (the epoch moves, see store_epoch). */
int store_failed_alone(const store *s);

typedef struct {
    uint64_t commits;        /* transactions committed */
    uint64_t batches;        /* batches completed */
    uint64_t failed_batches;
    uint64_t batches_in_last_commit;
    uint64_t batches_committed; /* batches in successful commits (barriers too) */
    uint64_t max_batches_per_commit;
    uint64_t commit_us_total; /* time spent in txn + commit */
    uint64_t bytes_written;   /* key and value bytes of the puts committed */
    size_t map_size;
    size_t pending;           /* submitted, not yet completed */
    uint64_t batch_size_hist[8]; /* batches per commit: 1,2-3,4-7,8-15,16-31,32-63,64-127,128+ */
} store_stats;
void store_get_stats(const store *s, store_stats *st);
/* Batches submitted and not yet completed (no lock: a loop-thread count). */
size_t store_pending(const store *s);

#endif
