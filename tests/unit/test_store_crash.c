/* store: a commit callback with status 0 means durable. A child process
 * writes and acknowledges keys from its commit callbacks only; the parent
 * kills it with SIGKILL mid-stream, reopens the store and finds every
 * acknowledged key with its exact value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "store/keys.h"
#include "test_store_util.h"

#define IN_FLIGHT 32      /* batches the child keeps submitted */
#define ACKS_WANTED 2000  /* the parent stops reading here ... */
#define READ_BUDGET_MS 4000 /* ... or after this long */

static void value_of(uint32_t id, char *out, size_t outlen) {
    snprintf(out, outlen, "value-%08u-%0*u", id, (int)(id % 64), id);
}

typedef struct {
    store *s;
    int fd;
    uint32_t next_id;
} child_ctx;

typedef struct {
    child_ctx *c;
    uint32_t id;
} child_item;

static void child_submit(child_ctx *c);

static void on_child_commit(int status, void *ud) {
    child_item *it = ud;
    child_ctx *c = it->c;
    if (status == 0 && write(c->fd, &it->id, sizeof it->id) != (ssize_t)sizeof it->id) _exit(3);
    free(it);
    if (status != 0) _exit(4);
    child_submit(c);
}

static void child_submit(child_ctx *c) {
    child_item *it = malloc(sizeof *it);
    if (it == NULL) _exit(5);
    *it = (child_item){c, c->next_id++};
    store_key k;
    key_init(&k);
    key_u64(&k, it->id);
    char val[128];
    value_of(it->id, val, sizeof val);
    store_batch *b = store_batch_new(c->s);
    store_batch_put(b, DB_EVENTS, k.buf, k.len, val, strlen(val));
    store_submit(b, on_child_commit, it);
}

static void child_main(const char *dir, int fd) {
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) _exit(1);
    store_config cfg = {.path = dir, .map_size = (size_t)8 << 20, .map_max = (size_t)1 << 30};
    child_ctx c = {NULL, fd, 1};
    if (store_open(&c.s, &loop, &cfg) != 0) _exit(2);
    for (int i = 0; i < IN_FLIGHT; i++) child_submit(&c);
    uv_run(&loop, UV_RUN_DEFAULT); /* runs until killed */
    _exit(6);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads acknowledged ids until enough, the budget is spent, or EOF. */
static size_t read_acks(int fd, uint32_t *acks, size_t max) {
    size_t n = 0, partial = 0;
    unsigned char buf[4096];
    int64_t deadline = now_ms() + READ_BUDGET_MS;
    while (n < max) {
        int64_t left = deadline - now_ms();
        if (left <= 0) break;
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break;
        ssize_t got = read(fd, buf + partial, sizeof buf - partial);
        if (got <= 0) break;
        size_t have = partial + (size_t)got, i = 0;
        for (; i + 4 <= have && n < max; i += 4) memcpy(&acks[n++], buf + i, 4);
        partial = have - i;
        memmove(buf, buf + i, partial);
    }
    return n;
}

static void every_acknowledged_write_survives_sigkill(void **state) {
    (void)state;
    store_fixture f;
    memset(&f, 0, sizeof f);
    fixture_mkdir(&f);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(f.dir, fds[1]);
    }
    close(fds[1]);
    static uint32_t acks[ACKS_WANTED];
    size_t n = read_acks(fds[0], acks, ACKS_WANTED);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int wstatus;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    close(fds[0]);
    assert_true(WIFSIGNALED(wstatus)); /* it was still writing, not dead on an error */
    print_message("crash: %zu acknowledged writes before SIGKILL\n", n);
    assert_true(n > 0);

    assert_int_equal(uv_loop_init(&f.loop), 0);
    assert_int_equal(fixture_open_sized(&f, 0, 0), 0);
    store_read *rd;
    assert_int_equal(store_read_begin(f.s, &rd), 0);
    for (size_t i = 0; i < n; i++) {
        store_key k;
        key_init(&k);
        key_u64(&k, acks[i]);
        const void *v;
        size_t vlen;
        char want[128];
        value_of(acks[i], want, sizeof want);
        assert_int_equal(store_read_get(rd, DB_EVENTS, k.buf, k.len, &v, &vlen), 0);
        assert_int_equal(vlen, strlen(want));
        assert_memory_equal(v, want, vlen);
    }
    store_read_end(rd);
    fixture_down(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_acknowledged_write_survives_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
