/* Helpers shared by the store's unit tests: a temporary data directory, a
 * store on its own loop, and waiting for commit callbacks by running the
 * loop (never by sleeping). Header-only so each test stays one binary. */
#ifndef AS_TEST_STORE_UTIL_H
#define AS_TEST_STORE_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

typedef struct {
    char dir[64];
    uv_loop_t loop;
    store *s;
} store_fixture;

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fixture_rmdir(const char *dir) { nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS); }

static inline void fixture_mkdir(store_fixture *f) {
    snprintf(f->dir, sizeof f->dir, "/tmp/as_store_test_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
}

static inline int fixture_open_sized(store_fixture *f, size_t map_size, size_t map_max) {
    store_config cfg = {.path = f->dir, .map_size = map_size, .map_max = map_max};
    return store_open(&f->s, &f->loop, &cfg);
}

/* A fresh directory and a store with default sizes. */
static inline void fixture_up(store_fixture *f, size_t map_size, size_t map_max) {
    memset(f, 0, sizeof *f);
    fixture_mkdir(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(fixture_open_sized(f, map_size, map_max), 0);
}

/* store_close, then one more loop run so the async handle's close completes. */
static inline void fixture_close_store(store_fixture *f) {
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

static inline void fixture_down(store_fixture *f) {
    if (f->s) fixture_close_store(f);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    fixture_rmdir(f->dir);
}

/* A commit callback that stores its status (initially 1 = not yet run). */
typedef struct {
    int status;
    int runs;
} commit_result;

static inline void on_result(int status, void *ud) {
    commit_result *r = ud;
    r->status = status;
    r->runs++;
}

static inline void run_until(uv_loop_t *loop, const int *runs) {
    while (*runs == 0) uv_run(loop, UV_RUN_ONCE);
}

/* Submits b and runs the loop until its callback ran; returns its status. */
static inline int commit_wait(store_fixture *f, store_batch *b) {
    commit_result r = {1, 0};
    store_submit(b, on_result, &r);
    run_until(&f->loop, &r.runs);
    assert_int_equal(r.runs, 1);
    return r.status;
}

static inline int put_wait(store_fixture *f, store_db db, const char *key, const char *val) {
    store_batch *b = store_batch_new(f->s);
    store_batch_put(b, db, key, strlen(key), val, strlen(val));
    return commit_wait(f, b);
}

/* The committed value of key as a string, or NULL (caller frees). */
static inline char *read_committed(store *s, store_db db, const void *key, size_t klen) {
    store_read *rd;
    assert_int_equal(store_read_begin(s, &rd), 0);
    const void *v;
    size_t vlen;
    char *out = NULL;
    if (store_read_get(rd, db, key, klen, &v, &vlen) == 0) {
        const char *text; /* a packed database's value as its text */
        if (store_packs(db)) assert_int_equal(store_read_text(rd, v, vlen, &text, &vlen), 0);
        if (store_packs(db)) v = text;
        out = malloc(vlen + 1);
        assert_non_null(out);
        memcpy(out, v, vlen);
        out[vlen] = '\0';
    }
    store_read_end(rd);
    return out;
}

#endif
