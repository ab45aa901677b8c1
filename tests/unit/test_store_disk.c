/* store: a full disk is STORE_EFULL (507), like a full map: ENOSPC or EDQUOT
 * from a write, a failed sync, or a write cut short on a file system left
 * with no space (LMDB reports that one as EIO). Reads go on meanwhile, and
 * writes resume by themselves once space is freed. A real I/O error on a
 * disk with space stays STORE_EIO.
 *
 * The disk is simulated, so the test runs anywhere without root: this
 * executable defines pwrite, writev, fdatasync and fstatvfs, and the dynamic
 * linker binds liblmdb.so's calls to them (symbol interposition; -Wl,--wrap
 * would only reach calls made from our own objects, and LMDB is a shared
 * library). Each forwards to the next definition (libc, or the sanitizer's
 * interceptor) unless the call is about the store's data file and a fault is
 * armed. Faults are armed only between commits, so the writer thread sees
 * them through the store's queue mutex. tests/e2e/test_disk_full.py does the
 * same on a real, filled tmpfs where the machine allows mounting one. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "test_store_util.h"

static struct {
    int armed;
    dev_t dev;
    ino_t ino;        /* the data file */
    off_t limit;      /* > 0: the file system ends here (the file cannot grow past it) */
    int write_errno;  /* != 0: every write of the data file fails with it */
    int sync_errno;   /* != 0: fdatasync of the data file fails with it */
    unsigned refused; /* writes that failed or stopped short */
} disk;

static int is_data_file(int fd, struct stat *st) {
    return disk.armed && fstat(fd, st) == 0 && S_ISREG(st->st_mode) && st->st_dev == disk.dev &&
           st->st_ino == disk.ino;
}

static void *next_def(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) abort();
    return f;
}

/* How many of n bytes at off may be written: all, fewer (a short write at
 * the end of the space), or -1 with errno. */
static ssize_t allowed(int fd, off_t off, size_t n) {
    struct stat st;
    if (!is_data_file(fd, &st)) return (ssize_t)n;
    if (disk.write_errno) {
        disk.refused++;
        errno = disk.write_errno;
        return -1;
    }
    if (disk.limit <= 0 || off + (off_t)n <= disk.limit) return (ssize_t)n;
    disk.refused++;
    if (off >= disk.limit) {
        errno = ENOSPC;
        return -1;
    }
    return (ssize_t)(disk.limit - off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (real == NULL) real = next_def("pwrite");
    ssize_t ok = allowed(fd, off, n);
    return ok < 0 ? -1 : real(fd, buf, (size_t)ok, off);
}

/* LMDB writes runs of pages with lseek + writev. */
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    static ssize_t (*real)(int, const struct iovec *, int);
    if (real == NULL) real = next_def("writev");
    size_t total = 0;
    for (int i = 0; i < cnt; i++) total += iov[i].iov_len;
    off_t off = disk.armed ? lseek(fd, 0, SEEK_CUR) : 0;
    ssize_t ok = off < 0 ? (ssize_t)total : allowed(fd, off, total);
    if (ok < 0) return -1;
    if ((size_t)ok == total) return real(fd, iov, cnt);
    struct iovec cut[64]; /* LMDB writes at most MDB_COMMIT_PAGES (64) at a time */
    int n = 0;
    for (size_t left = (size_t)ok; n < cnt && n < 64 && left > 0; n++) {
        cut[n] = iov[n];
        if (cut[n].iov_len > left) cut[n].iov_len = left;
        left -= cut[n].iov_len;
    }
    return n == 0 ? 0 : real(fd, cut, n);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = next_def("fdatasync");
    struct stat st;
    if (disk.sync_errno && is_data_file(fd, &st)) {
        disk.refused++;
        errno = disk.sync_errno;
        return -1;
    }
    return real(fd);
}

/* With a limit, the file system's free space is what is left below it. */
int fstatvfs(int fd, struct statvfs *buf) {
    static int (*real)(int, struct statvfs *);
    if (real == NULL) real = next_def("fstatvfs");
    int rc = real(fd, buf);
    struct stat st;
    if (rc == 0 && disk.limit > 0 && is_data_file(fd, &st)) {
        off_t left = st.st_size < disk.limit ? disk.limit - st.st_size : 0;
        buf->f_bfree = buf->f_bavail = (fsblkcnt_t)left / buf->f_frsize;
    }
    return rc;
}

/* ---- the tests ---- */

#define BIG_VALUE ((size_t)1 << 20)

static off_t data_file_size(store_fixture *f) {
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Arms the simulated disk on the fixture's data file, every fault off. */
static void disk_arm(store_fixture *f) {
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    memset(&disk, 0, sizeof disk);
    disk.dev = st.st_dev;
    disk.ino = st.st_ino;
    disk.armed = 1;
}

static int put_big(store_fixture *f, const char *key, char fill) {
    static char value[BIG_VALUE];
    memset(value, fill, sizeof value);
    store_batch *b = store_batch_new(f->s);
    store_batch_put(b, DB_ORDERS, key, strlen(key), value, sizeof value);
    return commit_wait(f, b);
}

static void assert_committed(store_fixture *f, store_db db, const char *key, const char *want) {
    char *v = read_committed(f->s, db, key, strlen(key));
    if (want == NULL) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

/* The file system ends a little past the data file: the first write of a
 * 1 MiB value gets part of its bytes down and stops short, which LMDB
 * reports as EIO; the free space is gone, so that is a full disk. */
static void a_short_write_on_a_full_file_system_is_efull(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    assert_int_equal(put_wait(&f, DB_ORDERS, "before", "kept"), 0);
    disk_arm(&f);
    disk.limit = data_file_size(&f) + 64 * 1024;
    assert_int_equal(put_big(&f, "huge", 'x'), STORE_EFULL);
    assert_true(disk.refused > 0);
    assert_committed(&f, DB_ORDERS, "before", "kept"); /* reads go on */
    assert_committed(&f, DB_ORDERS, "huge", NULL);
    char *v;
    size_t n;
    assert_int_equal(store_get_latest(f.s, DB_ORDERS, "huge", 4, &v, &n), STORE_ENOTFOUND);
    disk.armed = 0;
    fixture_down(&f);
}

static void enospc_edquot_and_a_failed_sync_are_efull(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    assert_int_equal(put_wait(&f, DB_ORDERS, "before", "kept"), 0);
    disk_arm(&f);
    static const int write_errs[] = {ENOSPC, EDQUOT};
    for (size_t i = 0; i < sizeof write_errs / sizeof *write_errs; i++) {
        disk.write_errno = write_errs[i];
        assert_int_equal(put_big(&f, "huge", 'x'), STORE_EFULL);
        assert_int_equal(put_wait(&f, DB_ORDERS, "small", "s"), STORE_EFULL);
    }
    disk.write_errno = 0;
    disk.sync_errno = ENOSPC; /* NFS and some FUSE file systems report it at sync */
    assert_int_equal(put_wait(&f, DB_ORDERS, "small", "s"), STORE_EFULL);
    disk.sync_errno = 0;
    assert_committed(&f, DB_ORDERS, "small", NULL);
    assert_committed(&f, DB_ORDERS, "before", "kept");
    store_stats st;
    store_get_stats(f.s, &st);
    assert_int_equal(st.failed_batches, 5);
    disk.armed = 0;
    fixture_down(&f);
}

/* A disk that fails with free space left is broken, not full: 500, not 507. */
static void an_io_error_with_space_left_stays_eio(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    disk_arm(&f);
    disk.write_errno = EIO;
    assert_int_equal(put_wait(&f, DB_ORDERS, "k", "v"), STORE_EIO);
    disk.write_errno = 0;
    assert_int_equal(put_wait(&f, DB_ORDERS, "k", "v"), 0);
    disk.armed = 0;
    fixture_down(&f);
}

/* Nothing to restart or reopen: the next commit after space is freed works,
 * and the data written before and after the full spell is all there, also
 * after a reopen. */
static void writes_resume_by_themselves_once_space_is_freed(void **state) {
    (void)state;
    store_fixture f;
    fixture_up(&f, 0, 0);
    assert_int_equal(put_wait(&f, DB_ORDERS, "before", "kept"), 0);
    disk_arm(&f);
    disk.limit = data_file_size(&f);
    for (int i = 0; i < 3; i++) assert_int_equal(put_big(&f, "huge", 'x'), STORE_EFULL);
    assert_committed(&f, DB_ORDERS, "before", "kept");
    disk.limit = 0; /* space freed */
    assert_int_equal(put_big(&f, "huge", 'y'), 0);
    assert_int_equal(put_wait(&f, DB_ORDERS, "after", "written"), 0);
    disk.armed = 0;
    fixture_close_store(&f);
    assert_int_equal(fixture_open_sized(&f, 0, 0), 0);
    assert_committed(&f, DB_ORDERS, "before", "kept");
    assert_committed(&f, DB_ORDERS, "after", "written");
    char *v = read_committed(f.s, DB_ORDERS, "huge", 4);
    assert_non_null(v);
    assert_int_equal(strlen(v), BIG_VALUE);
    assert_int_equal(v[0], 'y');
    free(v);
    fixture_down(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_short_write_on_a_full_file_system_is_efull),
        cmocka_unit_test(enospc_edquot_and_a_failed_sync_are_efull),
        cmocka_unit_test(an_io_error_with_space_left_stays_eio),
        cmocka_unit_test(writes_resume_by_themselves_once_space_is_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
