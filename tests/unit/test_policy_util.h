/* Helpers shared by the policy host's unit tests: a temporary policies
 * directory the test fills with small Lua files, and loading it.
 * Header-only so each test stays one binary. */
#ifndef AS_TEST_POLICY_UTIL_H
#define AS_TEST_POLICY_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"

typedef struct {
    char dir[64];
    policy_set *ps;
    char err[4096];
} pdir;

static inline int pdir_rm_entry(const char *path, const struct stat *st, int flag,
                                struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void pdir_up(pdir *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/as_policy_test_XXXXXX");
    assert_non_null(mkdtemp(d->dir));
}

static inline void pdir_down(pdir *d) {
    policy_set_free(d->ps);
    d->ps = NULL;
    nftw(d->dir, pdir_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes DIR/rel (creating its directories) with text. */
static inline void pdir_write(pdir *d, const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", d->dir, rel);
    for (char *p = path + strlen(d->dir) + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Loads the directory with a config; 0 or -1 like policy_set_load. */
static inline int pdir_load_cfg(pdir *d, uint64_t budget, size_t mem_cap, const json_t *sources) {
    policy_set_free(d->ps);
    d->ps = NULL;
    policy_config cfg = {.dir = d->dir, .instr_budget = budget, .mem_cap = mem_cap,
                         .sources = sources, .lax = 1}; /* small modules of any name */
    return policy_set_load(&cfg, &d->ps, d->err, sizeof d->err);
}

static inline int pdir_load(pdir *d) {
    return pdir_load_cfg(d, 0, 0, NULL);
}

/* Loads and asserts success, printing the error if not. */
static inline void pdir_load_ok(pdir *d) {
    int rc = pdir_load(d);
    if (rc != 0) fprintf(stderr, "load failed: %s\n", d->err);
    assert_int_equal(rc, 0);
}

/* policy_call with no arguments but the ctx; returns rc, result in *out. */
static inline int pdir_call0(pdir *d, const char *merchant, const char *module, const char *fn,
                             const policy_ctx *ctx, json_t **out) {
    return policy_call(d->ps, merchant, module, fn, NULL, 0, ctx, out, d->err, sizeof d->err);
}

#endif
