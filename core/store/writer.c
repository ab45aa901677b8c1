/* store/writer: submission, the group-commit writer thread, and completion.
 *
 * The loop thread queues batches (mutex + condvar). The writer takes every
 * queued batch, applies them in submit order in one transaction, commits (one
 * fsync for the whole group), moves them to the done list and wakes the loop
 * with uv_async_send; the loop then runs the callbacks in submit order.
 *
 * Failure generations: each batch carries the loop's `epoch` at submit. When a
 * transaction fails, the writer remembers the newest epoch in it, and fails
 * every later batch of that epoch or older without applying it: those were
 * built by the loop thread before it knew, possibly from the overlay values
 * of the failed batches. When the loop thread completes the first failed
 * batch of its current epoch, it drops the overlay and moves to a new epoch,
 * so batches submitted from then on start from committed data. */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "store/store_impl.h"
#include "util/log.h"

#define GROW_ATTEMPTS 40 /* each attempt doubles the map or adopts a new size */

/* store_submit(NULL, ...) carries no store: it falls back to the store opened
 * on this (loop) thread, so the callback can still run from the async path. */
static _Thread_local store *thread_store;

void store_bind_thread(store *s) { thread_store = s; }

void store_unbind_thread(store *s) {
    if (thread_store == s) thread_store = NULL;
}

static void wake_loop(store *s) {
    if (uv_async_send(&s->async) != 0) log_msg(LOG_ERROR, "store: cannot wake the loop");
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void record_commit(store *s, uint64_t nbatches, uint64_t bytes) {
    int bucket = 0;
    while (bucket < 7 && nbatches >= (2ull << bucket)) bucket++;
    pthread_mutex_lock(&s->mu);
    s->commits++;
    s->in_last_commit = nbatches;
    s->batches_committed += nbatches;
    s->bytes_written += bytes;
    if (nbatches > s->max_per_commit) s->max_per_commit = nbatches;
    s->hist[bucket]++;
    pthread_mutex_unlock(&s->mu);
}

static void record_time(store *s, uint64_t us) {
    pthread_mutex_lock(&s->mu);
    s->commit_us_total += us;
    pthread_mutex_unlock(&s->mu);
}

/* One attempt: every live batch in one transaction. Returns an MDB code; on
 * any failure the transaction is aborted, so nothing of the group is kept. */
static int try_txn(store *s, store_batch *group, uint64_t nlive) {
    uint64_t t0 = now_us();
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) return rc;
    store_seqs seqs = {{0}}; /* each attempt numbers sequenced puts afresh */
    for (store_batch *b = group; b && rc == 0; b = b->next)
        if (b->live) rc = store_batch_apply(b, txn, &seqs);
    if (rc == 0) rc = mdb_txn_commit(txn); /* frees txn, also on failure */
    else mdb_txn_abort(txn);
    record_time(s, now_us() - t0);
    uint64_t bytes = 0;
    for (store_batch *b = group; rc == 0 && b; b = b->next)
        if (b->live) bytes += store_batch_bytes(b);
    if (rc == 0) record_commit(s, nlive, bytes);
    return rc;
}

/* Batches were validated before the transaction, so anything but a full map
 * or disk or a lack of memory is a storage failure, never the caller's
 * argument. A full disk (ENOSPC, EDQUOT, or a write cut short on a file
 * system left with no space, which LMDB reports as EIO) is STORE_EFULL like a
 * full map: nothing of the group was written, and the next transaction tries
 * again, so writes resume by themselves once space is freed. */
static int commit_err(store *s, int rc) {
    if (rc == 0) return 0;
    if (rc == EIO && store_disk_full(s)) return STORE_EFULL;
    int e = rc < 0 && rc >= STORE_ECLOSED ? rc : store_err(rc);
    return e == STORE_EFULL || e == STORE_ENOMEM ? e : STORE_EIO;
}

/* *cause: the LMDB or OS code behind a failure, for the log. */
static int write_group(store *s, store_batch *group, uint64_t nlive, int *cause) {
    for (int attempt = 0; attempt < GROW_ATTEMPTS; attempt++) {
        int rc = try_txn(s, group, nlive);
        *cause = rc;
        if (rc == MDB_MAP_FULL) rc = store_grow_map(s);
        else if (rc == MDB_MAP_RESIZED) rc = store_reload_map(s);
        else return commit_err(s, rc);
        if (rc != 0) {
            if (rc != STORE_EFULL) *cause = rc; /* the growth itself failed */
            return commit_err(s, rc);
        }
    }
    return STORE_EFULL;
}

static const char *cause_name(int rc) {
    return rc < 0 && rc >= STORE_ECLOSED ? store_strerror(rc) : mdb_strerror(rc);
}

/* Decides each batch's fate, writes the live ones, sets every status. */
static void run_group(store *s, store_batch *group) {
    uint64_t nlive = 0, nops = 0, top_epoch = 0;
    for (store_batch *b = group; b; b = b->next) {
        b->live = 0;
        if (b->err) b->status = b->err;
        else if (s->any_failed && b->epoch <= s->failed_epoch) b->status = s->failed_err;
        else if ((b->status = store_batch_materialize(b)) != 0) {
            /* like a failed transaction: later batches of its epoch may hold
             * values derived from its pending writes, so they fail too */
            s->any_failed = 1;
            if (b->epoch > s->failed_epoch) s->failed_epoch = b->epoch;
            s->failed_err = b->status;
        } else {
            b->live = 1;
            nlive++;
            nops += b->nops;
            if (b->epoch > top_epoch) top_epoch = b->epoch;
        }
    }
    if (nlive == 0) return;
    int cause = 0;
    int rc = nops ? write_group(s, group, nlive, &cause) : 0; /* only barriers: no txn */
    for (store_batch *b = group; b; b = b->next)
        if (b->live) b->status = rc;
    if (rc != 0) {
        s->any_failed = 1;
        s->failed_epoch = top_epoch;
        s->failed_err = rc;
        log_emit(LOG_ERROR, "store commit failed",
                 json_pack("{s:s,s:s,s:I}", "error", store_strerror(rc), "cause", cause_name(cause),
                           "batches", (json_int_t)nlive));
    }
}

/* Blocks until there is work; NULL once stopping and drained. */
static store_batch *take_group(store *s) {
    pthread_mutex_lock(&s->mu);
    while (s->queue_head == NULL && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
    store_batch *group = s->queue_head;
    s->queue_head = s->queue_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return group;
}

static void push_done(store *s, store_batch *first) {
    store_batch *last = first;
    while (last->next) last = last->next;
    pthread_mutex_lock(&s->mu);
    if (s->done_tail) s->done_tail->next = first;
    else s->done_head = first;
    s->done_tail = last;
    pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg) {
    store *s = arg;
    store_batch *group;
    while ((group = take_group(s)) != NULL) {
        run_group(s, group);
        push_done(s, group);
        wake_loop(s);
    }
    return NULL;
}

int store_writer_start(store *s) {
    /* Signals belong to the loop thread (uv_signal); the writer takes none. */
    sigset_t all, old;
    sigfillset(&all);
    if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0) return STORE_EIO;
    int rc = pthread_create(&s->writer, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) return STORE_EIO;
    s->writer_started = 1;
    return 0;
}

/* The writer drains the queue before it sees `stopping` with nothing left. */
void store_writer_stop(store *s) {
    if (!s->writer_started) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    s->writer_started = 0;
}

static void submit_nomem(store *s, store_commit_cb cb, void *ud) {
    if (cb == NULL) return;
    if (s == NULL || s->oom_n == STORE_OOM_SLOTS) { /* nowhere to park it */
        if (s) s->failed_alone = 1;
        cb(STORE_ENOMEM, ud);
        return;
    }
    s->oom[s->oom_n++] = (store_oom_slot){cb, ud};
    if (!s->closing) wake_loop(s);
}

typedef struct {
    int done, status;
} submit_wait;

static void submit_waited(int status, void *ud) {
    submit_wait *w = ud;
    w->done = 1;
    w->status = status;
}

int store_submit_wait(store_batch *b) {
    store *s = b ? b->s : thread_store;
    if (s && s->closing) { /* its batches complete at the close, not in a loop turn */
        store_batch_release(b);
        return STORE_ECLOSED;
    }
    submit_wait w = {0, 0};
    store_submit(b, submit_waited, &w);
    while (!w.done) uv_run(s->loop, UV_RUN_ONCE);
    return w.status;
}

void store_submit(store_batch *b, store_commit_cb cb, void *ud) {
    if (b == NULL || b->is_reserve) {
        submit_nomem(b ? b->s : thread_store, cb, ud);
        return;
    }
    store *s = b->s;
    b->cb = cb;
    b->ud = ud;
    b->next = NULL;
    b->seq = s->next_seq++;
    b->epoch = s->epoch;
    s->pending++;
    if (s->closing) { /* store_close (or its close callback) completes it */
        b->status = STORE_ECLOSED;
        push_done(s, b);
        return;
    }
    if (b->err == 0) {
        b->err = overlay_add_batch(s->ov, b);
        b->in_overlay = b->err == 0;
    }
    pthread_mutex_lock(&s->mu);
    if (s->queue_tail) s->queue_tail->next = b;
    else s->queue_head = b;
    s->queue_tail = b;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

uint64_t store_epoch(const store *s) { return s->epoch; }

int store_failed_alone(const store *s) { return s->failed_alone; }

static void complete_one(store *s, store_batch *b) {
    if (b->in_overlay) overlay_remove_batch(s->ov, b);
    int commit_failure = b->status != 0 && b->err == 0 && b->status != STORE_ECLOSED;
    s->failed_alone = b->status != 0 && b->err != 0;
    if (commit_failure && b->epoch >= s->epoch) {
        overlay_clear(s->ov);
        s->epoch = b->epoch + 1;
    }
    if (b->status != 0) s->failed_batches++;
    else store_batch_seqs_done(s, b);
    s->batches++;
    s->pending--;
    if (b->cb) b->cb(b->status, b->ud);
    store_batch_release(b);
}

static store_batch *pop_done(store *s) {
    pthread_mutex_lock(&s->mu);
    store_batch *b = s->done_head;
    if (b) {
        s->done_head = b->next;
        if (s->done_head == NULL) s->done_tail = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    return b;
}

static void run_nomem(store *s) {
    store_oom_slot slots[STORE_OOM_SLOTS];
    size_t n = s->oom_n;
    for (size_t i = 0; i < n; i++) slots[i] = s->oom[i];
    s->oom_n = 0;
    for (size_t i = 0; i < n; i++) {
        s->failed_alone = 1; /* a batch that could not even be built failed alone */
        slots[i].cb(STORE_ENOMEM, slots[i].ud);
    }
}

/* Batches are taken one at a time from the shared list, so a callback that
 * submits again (or even closes the store, which completes the rest itself)
 * never sees callbacks out of submit order. During store_close, what the
 * callbacks submit completes here too, with STORE_ECLOSED. */
void store_complete_all(store *s) {
    for (;;) {
        store_batch *b;
        while ((b = pop_done(s)) != NULL) complete_one(s, b);
        if (s->oom_n == 0) return;
        run_nomem(s);
    }
}
