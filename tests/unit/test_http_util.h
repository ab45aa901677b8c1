/* Harness for the HTTP server tests: the server runs on a uv loop in the test
 * thread on 127.0.0.1 (kernel-chosen port); a client thread talks to it with
 * blocking sockets and records the first failed check; the test asserts
 * afterwards (cmocka asserts only in the test thread). Waits are blocking
 * reads with a timeout, never sleeps. Included by test_http_server.c only. */
#ifndef AS_TEST_HTTP_UTIL_H
#define AS_TEST_HTTP_UTIL_H
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"

/* ---- harness: loop, server, client thread ---- */

#define MAX_HELD 4

typedef struct harness harness;
typedef void (*client_fn)(harness *h);

struct harness {
    uv_loop_t loop;
    http_server *srv;
    uv_async_t done, kick;
    pthread_t thr;
    int port;
    client_fn client;
    int drained, client_done;
    char failure[512]; /* first failed check in the client thread */
    sem_t held_sem;
    http_request *held[MAX_HELD];
    int nheld;
    int pending, max_pending; /* requests awaiting an answer at once */
    int responses, last_status;
    int shutdown_on_hold;
};

#define CHECK(h, cond)                                                                         \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            if ((h)->failure[0] == '\0')                                                       \
                snprintf((h)->failure, sizeof (h)->failure, "line %d: %s", __LINE__, #cond);    \
            return;                                                                            \
        }                                                                                      \
    } while (0)

typedef struct {
    uv_timer_t t;
    http_request *req;
    harness *h;
} later;

static void later_closed(uv_handle_t *t) { free(t->data); }

static void answer_text(harness *h, http_request *req, const char *text) {
    h->pending--;
    http_respond(req, 200, "text/plain", text, strlen(text));
}

static void later_fire(uv_timer_t *t) {
    later *l = t->data;
    char n[64];
    if (http_query_param(l->req, "n", n, sizeof n) != 1) strcpy(n, "async");
    answer_text(l->h, l->req, n);
    uv_close((uv_handle_t *)t, later_closed);
}

/* Answers req from a 0-ms timer: after the handler has returned. */
static void answer_later(harness *h, http_request *req) {
    later *l = malloc(sizeof *l);
    assert_non_null(l);
    l->req = req;
    l->h = h;
    l->t.data = l;
    assert_int_equal(uv_timer_init(&h->loop, &l->t), 0);
    assert_int_equal(uv_timer_start(&l->t, later_fire, 0, 0), 0);
}

static void inspect(http_request *req) {
    char b[64], d[8], tiny[2];
    int rb = http_query_param(req, "b", b, sizeof b);
    int rc = http_query_param(req, "c", d, sizeof d);
    int rd = http_query_param(req, "d", d, sizeof d);
    int rt = http_query_param(req, "b", tiny, sizeof tiny);
    const char *x = http_request_header(req, "x-test");
    http_respond_json(req, 200,
                      json_pack("{s:s,s:s,s:s,s:s?,s:s,s:i,s:i,s:i}", "method", http_request_method(req),
                                "path", http_request_path(req), "query", http_request_query(req), "x",
                                x, "b", rb == 1 ? b : "", "c", rc, "d", rd, "tiny", rt));
}

static void on_drained(void *ud);

static void handler(http_request *req, void *ud) {
    harness *h = ud;
    const char *path = http_request_path(req);
    if (++h->pending > h->max_pending) h->max_pending = h->pending;
    http_request_set_route(req, path);
    if (strcmp(path, "/sync") == 0) {
        char n[64];
        answer_text(h, req, http_query_param(req, "n", n, sizeof n) == 1 ? n : "sync");
    } else if (strcmp(path, "/async") == 0) {
        answer_later(h, req);
    } else if (strcmp(path, "/echo") == 0) {
        size_t len;
        const char *body = http_request_body(req, &len);
        h->pending--;
        http_respond(req, 200, "application/octet-stream", body, len);
    } else if (strcmp(path, "/big") == 0) {
        static char big[6000];
        memset(big, 'b', sizeof big);
        h->pending--;
        http_respond(req, 200, "text/plain", big, sizeof big);
    } else if (strcmp(path, "/huge") == 0) { /* more than any socket buffer holds */
        size_t n = 16u << 20;
        char *huge = malloc(n);
        assert_non_null(huge);
        memset(huge, 'h', n);
        h->pending--;
        http_respond(req, 200, "text/plain", huge, n);
        free(huge);
    } else if (strcmp(path, "/error") == 0) {
        h->pending--;
        http_response_header(req, "Retry-After", "5");
        http_response_header(req, "Bad", "x\r\nInjected: 1");
        http_respond_error(req, 429, "slow_down", "wait", json_pack("{s:i,s:s}", "retry", 5, "code", "no"));
    } else if (strcmp(path, "/inspect") == 0) {
        h->pending--;
        inspect(req);
    } else if (strcmp(path, "/busy") == 0) { /* a loop turn that takes ms milliseconds */
        char ms[16];
        long n = http_query_param(req, "ms", ms, sizeof ms) == 1 ? atol(ms) : 0;
        struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
        answer_text(h, req, "busy");
    } else if (strcmp(path, "/hold") == 0) {
        h->held[h->nheld++] = req;
        if (h->shutdown_on_hold) {
            h->held[--h->nheld] = NULL;
            http_server_shutdown(h->srv, on_drained, h); /* the harness's own call is then a no-op */
            answer_later(h, req);
        }
        sem_post(&h->held_sem);
    } else {
        h->pending--;
        http_respond_error(req, 404, "not_found", "no such path", NULL);
    }
}

static void on_response(void *ud, const http_request *req, int status, uint64_t duration_us) {
    harness *h = ud;
    (void)req;
    (void)duration_us;
    h->responses++;
    h->last_status = status;
}

static void maybe_end(harness *h) {
    if (!h->drained || !h->client_done) return;
    uv_close((uv_handle_t *)&h->done, NULL);
    uv_close((uv_handle_t *)&h->kick, NULL);
}

static void on_drained(void *ud) {
    harness *h = ud;
    h->drained++;
    maybe_end(h);
}

static void on_done(uv_async_t *a) {
    harness *h = a->data;
    h->client_done = 1;
    http_server_shutdown(h->srv, on_drained, h);
    maybe_end(h);
}

/* Answers the held requests (the client has gone away meanwhile). */
static void on_kick(uv_async_t *a) {
    harness *h = a->data;
    for (int i = 0; i < h->nheld; i++) answer_later(h, h->held[i]);
    h->nheld = 0;
}

static void *client_main(void *arg) {
    harness *h = arg;
    h->client(h);
    uv_async_send(&h->done);
    return NULL;
}

static void harness_config(harness *h, http_config *cfg) {
    http_config_defaults(cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 0;
    cfg->access_log = 0;
    cfg->handler = handler;
    cfg->on_response = on_response;
    cfg->ud = h;
}

/* Runs client against a server built from cfg until both are finished. */
static void run(harness *h, const http_config *cfg, client_fn client) {
    assert_int_equal(uv_loop_init(&h->loop), 0);
    assert_int_equal(sem_init(&h->held_sem, 0, 0), 0);
    assert_int_equal(http_server_new(&h->srv, &h->loop, cfg), 0);
    assert_int_equal(http_server_listen(h->srv), 0);
    h->port = http_server_port(h->srv);
    assert_true(h->port > 0);
    h->done.data = h->kick.data = h;
    assert_int_equal(uv_async_init(&h->loop, &h->done, on_done), 0);
    assert_int_equal(uv_async_init(&h->loop, &h->kick, on_kick), 0);
    h->client = client;
    assert_int_equal(pthread_create(&h->thr, NULL, client_main, h), 0);
    assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    pthread_join(h->thr, NULL);
    assert_int_equal(http_server_connections(h->srv), 0);
    http_server_free(h->srv);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    sem_destroy(&h->held_sem);
    if (h->failure[0] != '\0') fail_msg("%s", h->failure);
    assert_int_equal(h->drained, 1);
}

static void run_default(harness *h, client_fn client) {
    http_config cfg;
    harness_config(h, &cfg);
    run(h, &cfg, client);
}

/* ---- a blocking client ---- */

typedef struct {
    int fd;
    char buf[64 * 1024];
    size_t len;
} cli;

typedef struct {
    int status;
    char head[8192];
    char body[8192];
    size_t body_len;
} resp;

/* rcvbuf > 0 shrinks the receive window (set before connecting). */
static int cli_connect_rcvbuf(cli *c, int port, int rcvbuf) {
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    if (rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static int cli_connect(cli *c, int port) { return cli_connect_rcvbuf(c, port, 0); }

static int cli_send(cli *c, const char *data, size_t n) {
    while (n > 0) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

static int cli_sends(cli *c, const char *s) { return cli_send(c, s, strlen(s)); }

/* Reads more bytes; 0 on EOF or reset, -1 on timeout. */
static ssize_t cli_fill(cli *c) {
    if (c->len == sizeof c->buf) return -1;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (r < 0 && errno == ECONNRESET) return 0;
    if (r > 0) c->len += (size_t)r;
    return r;
}

static const char *resp_header(const resp *r, const char *name) {
    static __thread char value[256];
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ') v++;
            size_t vl = strcspn(v, "\r\n");
            if (vl >= sizeof value) vl = sizeof value - 1;
            memcpy(value, v, vl);
            value[vl] = '\0';
            return value;
        }
    }
    return NULL;
}

static void cli_consume(cli *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads a response's head; -1 if the connection ends or times out first. */
static int cli_head(cli *c, resp *r) {
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
        if (cli_fill(c) <= 0) return -1;
    size_t hl = (size_t)(end - c->buf) + 4;
    if (hl >= sizeof r->head) return -1;
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1) return -1;
    cli_consume(c, hl);
    return 0;
}

/* Reads one whole response (head and Content-Length body). */
static int cli_response(cli *c, resp *r) {
    if (cli_head(c, r) != 0) return -1;
    const char *cl = resp_header(r, "Content-Length");
    size_t blen = cl != NULL ? strtoul(cl, NULL, 10) : 0;
    if (blen >= sizeof r->body) return -1;
    while (c->len < blen)
        if (cli_fill(c) <= 0) return -1;
    memcpy(r->body, c->buf, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    cli_consume(c, blen);
    return 0;
}

/* 1 if the server closes the connection (EOF or reset) before a timeout. */
static int cli_closed(cli *c) {
    for (;;) {
        c->len = 0;
        ssize_t r = cli_fill(c);
        if (r == 0) return 1;
        if (r < 0) return 0;
    }
}

static void cli_close(cli *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

#endif
