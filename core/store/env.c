/* store/env: the LMDB environment's life: open (directory, map size, named
 * databases, stale readers), map growth, stats and close.
 *
 * Commits are durable: the environment is opened without MDB_NOSYNC,
 * MDB_NOMETASYNC or MDB_MAPASYNC, so mdb_txn_commit returns after fsync.
 * MDB_NOTLS lets the loop thread keep reset read transactions in a cache
 * without tying reader slots to threads. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store/store_impl.h"

#define DEFAULT_MAP_SIZE ((size_t)256 << 20)
#define DEFAULT_MAP_MAX ((size_t)64 << 30)
/* Less free space than this after a short write: the file system is full. */
#define DISK_FULL_MARGIN ((uint64_t)1 << 20)

static const char *const db_names[DB__COUNT] = {
    "meta", "orders", "cases", "timeline", "index", "timers", "events", "agents", "idem",
};

const char *store_strerror(int err) {
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ENOTFOUND: return "not found";
    case STORE_EFULL: return "storage full";
    case STORE_EIO: return "storage I/O error";
    case STORE_ENOMEM: return "out of memory";
    case STORE_EINVAL: return "invalid argument";
    case STORE_ECLOSED: return "store closed";
    default: return "unknown storage error";
    }
}

int store_err(int rc) {
    switch (rc) {
    case MDB_SUCCESS: return STORE_OK;
    case MDB_NOTFOUND: return STORE_ENOTFOUND;
    case MDB_MAP_FULL:
    case ENOSPC: /* the file system is full */
    case EDQUOT: /* or the user's quota is */
        return STORE_EFULL;
    case ENOMEM: return STORE_ENOMEM;
    case EINVAL:
    case MDB_BAD_VALSIZE: return STORE_EINVAL;
    default: return STORE_EIO;
    }
}

static size_t round_to_page(size_t n) {
    long pg = sysconf(_SC_PAGESIZE);
    size_t p = pg > 0 ? (size_t)pg : 4096;
    return (n + p - 1) / p * p;
}

/* The initial map: the configured size, or the data file's size if the file
 * has already grown past it (a smaller map could not hold the data). */
static size_t initial_map_size(const store_config *cfg) {
    size_t want = cfg->map_size ? cfg->map_size : DEFAULT_MAP_SIZE;
    char file[4096];
    struct stat st;
    int n = snprintf(file, sizeof file, "%s/data.mdb", cfg->path);
    if (n > 0 && (size_t)n < sizeof file && stat(file, &st) == 0 && (size_t)st.st_size > want)
        want = (size_t)st.st_size;
    return round_to_page(want);
}

static int open_dbis(store *s) {
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (int i = 0; rc == 0 && i < DB__COUNT; i++)
        rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]);
    if (rc == 0) return mdb_txn_commit(txn);
    if (txn) mdb_txn_abort(txn);
    return rc;
}

/* LMDB fsyncs data.mdb on commit but never the directory holding it: without
 * this, a power loss soon after the first commit into a new environment could
 * lose the file's (or a new directory's) entry and with it acknowledged data.
 * EINVAL means the file system cannot sync directories: nothing to do. */
static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return STORE_EIO;
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : STORE_EIO;
    close(fd);
    return rc;
}

/* The new directory's own entry lives in its parent. */
static int fsync_parent(const char *path) {
    char copy[4096];
    int n = snprintf(copy, sizeof copy, "%s", path);
    if (n < 0 || (size_t)n >= sizeof copy) return STORE_EINVAL;
    return fsync_dir(dirname(copy));
}

static int open_env(store *s, const store_config *cfg) {
    int created = mkdir(cfg->path, 0700) == 0;
    if (!created && errno != EEXIST) return STORE_EIO;
    if (created && fsync_parent(cfg->path) != 0) return STORE_EIO;
    size_t map = initial_map_size(cfg);
    int rc = mdb_env_create(&s->env);
    if (rc != 0) return store_err(rc);
    if ((rc = mdb_env_set_maxdbs(s->env, 16)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, map)) != 0 ||
        (rc = mdb_env_open(s->env, cfg->path, MDB_NOTLS, 0600)) != 0)
        return store_err(rc);
    int dead;
    if ((rc = mdb_reader_check(s->env, &dead)) != 0 || (rc = open_dbis(s)) != 0)
        return store_err(rc);
    if (fsync_dir(cfg->path) != 0) return STORE_EIO;
    MDB_envinfo info;
    if ((rc = mdb_env_info(s->env, &info)) != 0) return store_err(rc);
    s->map_size = info.me_mapsize;
    s->map_max = cfg->map_max ? round_to_page(cfg->map_max) : DEFAULT_MAP_MAX;
    if (s->map_max < s->map_size) s->map_max = s->map_size;
    return 0;
}

static void on_async(uv_async_t *h) { store_complete_all(h->data); }

static int init_sync(store *s) {
    pthread_rwlockattr_t ra;
    if (pthread_rwlockattr_init(&ra) != 0) return STORE_EIO;
    /* Reader preference: the loop thread never waits behind a pending grow. */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_READER_NP);
    int rc = pthread_rwlock_init(&s->resize, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (rc != 0) return STORE_EIO;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        pthread_rwlock_destroy(&s->resize);
        return STORE_EIO;
    }
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_rwlock_destroy(&s->resize);
        return STORE_EIO;
    }
    return 0;
}

static void free_store(store *s) {
    overlay_free(s->ov);
    pack_ctx_free(s->pack);
    store_read_cache_free(s);
    if (s->env) mdb_env_close(s->env);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_rwlock_destroy(&s->resize);
    free(s);
}

static void on_closed_early(uv_handle_t *h) { free_store(h->data); }

int store_open(store **out, uv_loop_t *loop, const store_config *cfg) {
    *out = NULL;
    if (loop == NULL || cfg == NULL || cfg->path == NULL) return STORE_EINVAL;
    store *s = calloc(1, sizeof *s);
    if (s == NULL) return STORE_ENOMEM;
    s->loop = loop;
    s->next_seq = 1;
    s->reserve.s = s;
    s->reserve.is_reserve = 1;
    s->reserve.err = STORE_ENOMEM;
    if (init_sync(s) != 0) {
        free(s);
        return STORE_EIO;
    }
    s->ov = overlay_new();
    /* the writer packs history values with it (made here, so a commit never
     * fails for want of it) */
    s->pack = pack_ctx_new();
    int rc = s->ov && s->pack ? 0 : STORE_ENOMEM;
    if (rc == 0) rc = open_env(s, cfg);
    if (rc == 0 && uv_async_init(loop, &s->async, on_async) != 0) rc = STORE_EIO;
    if (rc != 0) {
        free_store(s);
        return rc;
    }
    s->async.data = s;
    if ((rc = store_writer_start(s)) != 0) {
        uv_close((uv_handle_t *)&s->async, on_closed_early);
        return rc;
    }
    store_bind_thread(s);
    *out = s;
    return 0;
}

static void on_closed(uv_handle_t *h) {
    store *s = h->data;
    store_complete_all(s); /* submits made after store_close returned */
    free_store(s);
}

/* The struct is freed by the async handle's close callback, so the caller
 * must let the loop run once more after store_close (uv_run returns only
 * after that anyway). Read transactions must all have ended. */
void store_close(store *s) {
    if (s == NULL) return;
    assert(s->active_reads == 0);
    s->closing = 1;
    store_unbind_thread(s);
    store_writer_stop(s);
    store_complete_all(s);
    store_read_cache_free(s);
    mdb_env_close(s->env);
    s->env = NULL;
    uv_close((uv_handle_t *)&s->async, on_closed);
}

/* Writer thread, no transaction open. Doubles the map up to map_max; waits for
 * the loop thread's reads to end because mdb_env_set_mapsize must not run
 * while any transaction of this process is active. */
int store_grow_map(store *s) {
    pthread_mutex_lock(&s->mu);
    size_t cur = s->map_size;
    pthread_mutex_unlock(&s->mu);
    if (cur >= s->map_max) return STORE_EFULL;
    size_t next = cur > s->map_max / 2 ? s->map_max : cur * 2;
    if (pthread_rwlock_wrlock(&s->resize) != 0) return STORE_EIO;
    int rc = mdb_env_set_mapsize(s->env, next);
    pthread_rwlock_unlock(&s->resize);
    if (rc != 0) return store_err(rc);
    pthread_mutex_lock(&s->mu);
    s->map_size = next;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Writer thread: another process grew the map (MDB_MAP_RESIZED); adopt it. */
int store_reload_map(store *s) {
    if (pthread_rwlock_wrlock(&s->resize) != 0) return STORE_EIO;
    int rc = mdb_env_set_mapsize(s->env, 0);
    MDB_envinfo info;
    if (rc == 0) rc = mdb_env_info(s->env, &info);
    pthread_rwlock_unlock(&s->resize);
    if (rc != 0) return store_err(rc);
    pthread_mutex_lock(&s->mu);
    s->map_size = info.me_mapsize;
    if (s->map_max < s->map_size) s->map_max = s->map_size;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Writer thread. LMDB answers a write that stopped short with EIO, and a
 * write stops short when the file system runs out of space part way (a full
 * tmpfs does that), so an EIO on a file system with (next to) no free space
 * left is a full disk, not a broken one. Root may use the blocks reserved for
 * it, so for root the free blocks count, for others the available ones. */
int store_disk_full(store *s) {
    mdb_filehandle_t fd;
    struct statvfs st;
    if (mdb_env_get_fd(s->env, &fd) != 0 || fstatvfs(fd, &st) != 0) return 0;
    uint64_t blocks = geteuid() == 0 ? st.f_bfree : st.f_bavail;
    return blocks * st.f_frsize < DISK_FULL_MARGIN;
}

size_t store_pending(const store *s) { return s ? s->pending : 0; }

void store_get_stats(const store *s, store_stats *st) {
    memset(st, 0, sizeof *st);
    store *m = (store *)s; /* the mutex is not part of the logical state */
    pthread_mutex_lock(&m->mu);
    st->commits = s->commits;
    st->batches_in_last_commit = s->in_last_commit;
    st->batches_committed = s->batches_committed;
    st->max_batches_per_commit = s->max_per_commit;
    st->commit_us_total = s->commit_us_total;
    st->bytes_written = s->bytes_written;
    st->map_size = s->map_size;
    memcpy(st->batch_size_hist, s->hist, sizeof st->batch_size_hist);
    pthread_mutex_unlock(&m->mu);
    st->batches = s->batches;
    st->failed_batches = s->failed_batches;
    st->pending = s->pending;
}
