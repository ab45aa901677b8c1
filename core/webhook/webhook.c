/* webhook: one delivery attempt at a time (see webhook.h).
 *
 * An attempt owns its connection, its deadline timer and the page it carries.
 * It resolves the host (uv_getaddrinfo), connects, writes the request, and
 * reads until llhttp has the status line and headers: that is the answer, so
 * the attempt ends there and closes. An attempt outlives webhook_stop() if it
 * must (its handles close asynchronously): it then only waits for its own
 * close callbacks and never touches the deliverer again. */
#include "webhook/webhook.h"

#include <llhttp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_POLL_MS 1000
#define DEFAULT_BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 30000

typedef struct attempt attempt;

struct webhook {
    uv_loop_t *loop;
    webhook_source src;
    char host[256];
    char port[8];
    char path[1024];
    char *secret;
    unsigned timeout_ms, poll_ms, backoff_min_ms, backoff_ms;
    uv_timer_t timer; /* the next look for events: poll or backoff */
    int backing_off;  /* the timer is a backoff: pokes wait for it */
    int stopping;
    attempt *cur;     /* the attempt in flight, or NULL */
    webhook_stats stats;
};

struct attempt {
    webhook *w;    /* NULL once it no longer reports (finished or abandoned) */
    int resolving; /* uv_getaddrinfo has not called back yet */
    int handles;   /* open handles: the deadline, then the connection */
    int closing;
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    uv_write_t write;
    uv_tcp_t tcp;
    uv_timer_t deadline;
    llhttp_t parser;
    llhttp_settings_t settings;
    int status;
    char *head, *body;
    size_t head_len, body_len;
    uint64_t last;
    char rbuf[4096];
};

/* ---- URL ---- */

static int url_char_ok(char c) { return c > 0x20 && c < 0x7f; }

int webhook_parse_url(const char *url, char *host, size_t hostlen, int *port, char *path,
                      size_t pathlen, char *err, size_t errlen) {
    static const char scheme[] = "http://";
    if (url == NULL || strncmp(url, scheme, sizeof scheme - 1) != 0) {
        snprintf(err, errlen, "the webhook URL must start with http:// (https is not supported)");
        return -1;
    }
    const char *h = url + sizeof scheme - 1;
    size_t n = strcspn(h, ":/");
    if (n == 0 || n >= hostlen || h[0] == '[') {
        snprintf(err, errlen, "the webhook URL needs a host name or IPv4 address");
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    const char *rest = h + n;
    *port = 80;
    if (*rest == ':') {
        char *end;
        long p = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || p < 1 || p > 65535 || (*end != '\0' && *end != '/')) {
            snprintf(err, errlen, "the webhook URL has a bad port");
            return -1;
        }
        *port = (int)p;
        rest = end;
    }
    if (*rest == '\0') rest = "/";
    if (strlen(rest) >= pathlen) {
        snprintf(err, errlen, "the webhook URL's path is too long");
        return -1;
    }
    for (const char *c = rest; *c; c++)
        if (!url_char_ok(*c)) {
            snprintf(err, errlen, "the webhook URL's path has a space or control character");
            return -1;
        }
    strcpy(path, rest);
    return 0;
}

/* ---- attempts ---- */

static void deliver(webhook *w);
static void schedule(webhook *w, unsigned ms, int backoff);

static void attempt_free(attempt *a) {
    free(a->head);
    free(a->body);
    free(a);
}

static void attempt_closed(uv_handle_t *h) {
    attempt *a = h->data;
    if (--a->handles == 0 && !a->resolving) attempt_free(a);
}

static void attempt_close(attempt *a) {
    if (a->closing) return;
    a->closing = 1;
    uv_timer_stop(&a->deadline);
    uv_close((uv_handle_t *)&a->deadline, attempt_closed);
    if (a->handles == 2) uv_close((uv_handle_t *)&a->tcp, attempt_closed);
}

/* The attempt is over: report to the deliverer (unless abandoned) and close. */
static void finish(attempt *a, int ok, const char *why) {
    webhook *w = a->w;
    a->w = NULL;
    attempt_close(a);
    if (w == NULL) return;
    w->cur = NULL;
    w->stats.last_status = a->status;
    if (ok) {
        w->stats.delivered_seq = a->last;
        w->stats.deliveries++;
        w->backoff_ms = w->backoff_min_ms;
        w->src.acknowledged(w->src.ud, a->last);
        schedule(w, 0, 0); /* the next page, from the loop rather than recursively */
        return;
    }
    w->stats.failures++;
    log_emit(LOG_WARN, "webhook delivery failed",
             json_pack("{s:s,s:I,s:i,s:I}", "error", why, "after_seq", (json_int_t)w->stats.delivered_seq,
                       "status", a->status, "retry_ms", (json_int_t)w->backoff_ms));
    schedule(w, w->backoff_ms, 1);
    w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
}

static int on_headers_complete(llhttp_t *p) {
    attempt *a = p->data;
    a->status = p->status_code;
    return HPE_PAUSED; /* the status is the answer: no need for the body */
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    attempt *a = h->data;
    *buf = uv_buf_init(a->rbuf, sizeof a->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    attempt *a = s->data;
    if (a->w == NULL || nread == 0) return;
    if (nread < 0) {
        finish(a, 0, nread == UV_EOF ? "the endpoint closed before answering" : uv_strerror((int)nread));
        return;
    }
    llhttp_errno_t e = llhttp_execute(&a->parser, buf->base, (size_t)nread);
    if (e == HPE_PAUSED) {
        char why[64];
        snprintf(why, sizeof why, "the endpoint answered %d", a->status);
        finish(a, a->status >= 200 && a->status < 300, why);
    } else if (e != HPE_OK) {
        finish(a, 0, "the endpoint's answer is not HTTP");
    }
}

static void on_written(uv_write_t *req, int status) {
    attempt *a = req->data;
    if (status < 0 && a->w) finish(a, 0, uv_strerror(status));
}

static void on_connected(uv_connect_t *req, int status) {
    attempt *a = req->data;
    if (a->w == NULL) return; /* abandoned: the close cancelled the connect */
    if (status < 0) {
        finish(a, 0, uv_strerror(status));
        return;
    }
    uv_buf_t bufs[2] = {uv_buf_init(a->head, (unsigned)a->head_len),
                        uv_buf_init(a->body, (unsigned)a->body_len)};
    int rc = uv_write(&a->write, (uv_stream_t *)&a->tcp, bufs, 2, on_written);
    if (rc == 0) rc = uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read);
    if (rc != 0) finish(a, 0, uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    attempt *a = req->data;
    a->resolving = 0;
    if (a->w == NULL) { /* abandoned meanwhile: its handles may all be closed */
        uv_freeaddrinfo(res);
        if (a->handles == 0) attempt_free(a);
        return;
    }
    if (status < 0) {
        uv_freeaddrinfo(res);
        finish(a, 0, uv_strerror(status));
        return;
    }
    int rc = uv_tcp_init(a->w->loop, &a->tcp);
    if (rc == 0) {
        a->handles++;
        a->tcp.data = a;
        rc = uv_tcp_connect(&a->connect, &a->tcp, res->ai_addr, on_connected);
    }
    uv_freeaddrinfo(res);
    if (rc != 0) finish(a, 0, uv_strerror(rc));
}

static void on_deadline(uv_timer_t *t) {
    attempt *a = t->data;
    if (a->w) finish(a, 0, "no answer within the timeout");
}

/* "sha256=" and the hex HMAC of body under secret, or "" without a secret. */
static int signature(const webhook *w, const char *body, size_t len, char *out, size_t outlen) {
    out[0] = '\0';
    if (w->secret == NULL) return 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (HMAC(EVP_sha256(), w->secret, (int)strlen(w->secret), (const unsigned char *)body, len, md,
             &mdlen) == NULL ||
        outlen < 7 + 2 * (size_t)mdlen + 1)
        return -1;
    memcpy(out, "sha256=", 7);
    for (unsigned int i = 0; i < mdlen; i++) snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static attempt *attempt_new(webhook *w, char *body, size_t len, uint64_t last) {
    attempt *a = calloc(1, sizeof *a);
    char sig[7 + 2 * EVP_MAX_MD_SIZE + 1];
    if (a == NULL || signature(w, body, len, sig, sizeof sig) != 0) {
        free(a);
        return NULL;
    }
    size_t cap = strlen(w->path) + strlen(w->host) + strlen(sig) + 256;
    a->head = malloc(cap);
    if (a->head == NULL) {
        free(a);
        return NULL;
    }
    int n = snprintf(a->head, cap,
                     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: aftersaled\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
                     "%s%s%s\r\n",
                     w->path, w->host, w->port, len, sig[0] ? "X-Aftersale-Signature: " : "", sig,
                     sig[0] ? "\r\n" : "");
    a->head_len = (size_t)n;
    a->body = body;
    a->body_len = len;
    a->last = last;
    a->w = w;
    llhttp_settings_init(&a->settings);
    a->settings.on_headers_complete = on_headers_complete;
    llhttp_init(&a->parser, HTTP_RESPONSE, &a->settings);
    a->parser.data = a;
    a->gai.data = a->connect.data = a->write.data = a;
    return a;
}

/* Starts an attempt with the next page, or waits for one. */
static void deliver(webhook *w) {
    if (w->stopping || w->cur != NULL) return;
    char *body = NULL;
    size_t len = 0;
    uint64_t last = 0;
    int rc = w->src.next_page(w->src.ud, w->stats.delivered_seq, &body, &len, &last);
    if (rc == 0) {
        schedule(w, w->poll_ms, 0);
        return;
    }
    attempt *a = rc > 0 ? attempt_new(w, body, len, last) : NULL;
    if (a == NULL) {
        free(body);
        w->stats.failures++;
        schedule(w, w->backoff_ms, 1);
        return;
    }
    w->cur = a;
    if (uv_timer_init(w->loop, &a->deadline) != 0) {
        w->cur = NULL;
        attempt_free(a);
        schedule(w, w->backoff_ms, 1);
        return;
    }
    a->handles = 1;
    a->deadline.data = a;
    uv_timer_start(&a->deadline, on_deadline, w->timeout_ms, 0);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    a->resolving = 1;
    rc = uv_getaddrinfo(w->loop, &a->gai, on_resolved, w->host, w->port, &hints);
    if (rc != 0) {
        a->resolving = 0;
        finish(a, 0, uv_strerror(rc));
    }
}

/* ---- the deliverer ---- */

static void on_timer(uv_timer_t *t) {
    webhook *w = t->data;
    w->backing_off = 0;
    deliver(w);
}

static void schedule(webhook *w, unsigned ms, int backoff) {
    if (w->stopping) return;
    w->backing_off = backoff;
    uv_timer_start(&w->timer, on_timer, ms, 0);
}

int webhook_start(webhook **out, uv_loop_t *loop, const webhook_config *cfg,
                  const webhook_source *src, uint64_t delivered, char *err, size_t errlen) {
    *out = NULL;
    webhook *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int port;
    if (webhook_parse_url(cfg->url, w->host, sizeof w->host, &port, w->path, sizeof w->path, err,
                          errlen) != 0) {
        free(w);
        return -1;
    }
    snprintf(w->port, sizeof w->port, "%d", port);
    if (cfg->secret && (w->secret = strdup(cfg->secret)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(w);
        return -1;
    }
    w->loop = loop;
    w->src = *src;
    w->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    w->poll_ms = cfg->poll_ms ? cfg->poll_ms : DEFAULT_POLL_MS;
    w->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
    w->backoff_ms = w->backoff_min_ms;
    w->stats.delivered_seq = delivered;
    int rc = uv_timer_init(loop, &w->timer);
    if (rc != 0) {
        snprintf(err, errlen, "%s", uv_strerror(rc));
        free(w->secret);
        free(w);
        return -1;
    }
    w->timer.data = w;
    schedule(w, 0, 0);
    *out = w;
    return 0;
}

void webhook_poke(webhook *w) {
    if (w != NULL && !w->backing_off && w->cur == NULL && !w->stopping) schedule(w, 0, 0);
}

void webhook_get_stats(const webhook *w, webhook_stats *st) {
    if (w) *st = w->stats;
    else memset(st, 0, sizeof *st);
}

static void on_timer_closed(uv_handle_t *h) {
    webhook *w = h->data;
    free(w->secret);
    free(w);
}

void webhook_stop(webhook *w) {
    if (w == NULL || w->stopping) return;
    w->stopping = 1;
    if (w->cur) {
        attempt *a = w->cur;
        w->cur = NULL;
        a->w = NULL;
        attempt_close(a);
    }
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}
