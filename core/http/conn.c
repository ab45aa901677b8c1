/* http/conn: one client connection (a long-lived handle).
 *
 * Owns the socket, one timer (idle, request or linger timeout, never more than
 * one at a time), the parser and the bytes read ahead of the request being
 * handled. Requests are parsed and handled one at a time: the parser pauses
 * after each complete request; the rest of the read stays buffered until the
 * answer is queued. If the handler answers inside its own call, parsing goes
 * on in the same feed loop; if it answers later, parsing resumes from the
 * write callback, so a handler's caller is never re-entered.
 *
 * Reading is not stopped for every request (that would cost two epoll_ctl
 * calls per request); bytes that arrive while a request is handled are
 * buffered, and reading stops once that buffer passes PEND_MAX.
 *
 * A connection that must close after an answer (error, Connection: close,
 * shutdown) first shuts its write side and drains the peer's bytes for a
 * moment (lingering close), so the peer reads the answer instead of a reset. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "http/internal.h"

#define PEND_MAX (64 * 1024)        /* read-ahead kept while a request is handled */
#define WQUEUE_MAX (256 * 1024)     /* unsent answer bytes before parsing pauses */
#define LINGER_MS 1000
#define SHUTDOWN_DRAIN_MS 5000 /* at shutdown, a stalled reader gets this long */
/* Reused buffers are capped so 10k idle connections stay small; a bigger
 * buffer is freed after use. */
#define FREE_WREQS 2
#define KEEP_WREQ_HEAD 4096
#define KEEP_WREQ_BODY (16 * 1024)
#define KEEP_PEND (16 * 1024)

static void conn_close(http_conn *c);
static void conn_continue(http_conn *c);
static void read_start(http_conn *c);

static void conn_free(http_conn *c) {
    http_wreq *w = c->free_wreqs;
    while (w != NULL) {
        http_wreq *next = w->next;
        free(w->head);
        free(w->body);
        free(w);
        w = next;
    }
    free(c->pend);
    http_request_release(&c->req);
    http_server_conn_gone(c->srv, c);
    free(c);
}

static void on_close(uv_handle_t *h) {
    http_conn *c = h->data;
    if (--c->handles_open == 0 && !c->busy) conn_free(c);
    /* busy: the request lives on until the handler answers */
}

static void conn_close(http_conn *c) {
    if (c->closing) return;
    c->closing = 1;
    c->reading = 0;
    c->tmode = TM_NONE;
    uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

static void on_timer(uv_timer_t *t);

void http_conn_timer(http_conn *c, http_timer_mode mode) {
    if (c->closing) return;
    c->timer_deferred = 0;
    const http_config *cfg = &c->srv->cfg;
    uint64_t drain = c->srv->shutting_down && cfg->idle_timeout_ms > SHUTDOWN_DRAIN_MS
                         ? SHUTDOWN_DRAIN_MS : cfg->idle_timeout_ms;
    uint64_t ms = mode == TM_IDLE      ? cfg->idle_timeout_ms
                  : mode == TM_REQUEST ? cfg->request_timeout_ms
                  : mode == TM_LINGER  ? LINGER_MS
                  : mode == TM_WRITE   ? drain
                                       : 0;
    c->tmode = mode;
    if (mode == TM_NONE) uv_timer_stop(&c->timer);
    else uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* Bytes from the peer wait in the socket, unread, while we read from it. */
static int bytes_waiting(http_conn *c) {
    uv_os_fd_t fd;
    int n = 0;
    if (!c->reading || uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) return 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* libuv runs due timers before it polls for reads, so after a long loop turn
 * (a slow handler, a big pipelined batch) a connection whose bytes came in
 * time would be judged idle or slow before they are read; the close then
 * resets it. Such a timer waits once more, for as long again: the read comes
 * first in this very turn. Once per arming, so a slow client gains at most
 * one more period, and only while the loop runs late. */
static void on_timer(uv_timer_t *t) {
    http_conn *c = t->data;
    http_timer_mode mode = c->tmode;
    c->tmode = TM_NONE;
    if ((mode == TM_IDLE || mode == TM_REQUEST) && !c->timer_deferred && bytes_waiting(c)) {
        http_conn_timer(c, mode);
        c->timer_deferred = 1;
        return;
    }
    if (mode == TM_RESUME)
        conn_continue(c);
    else if (mode == TM_REQUEST && c->in_message && !c->busy && !c->done)
        http_conn_fail(c, 408, "request_timeout", "the request was not received in time");
    else if (mode != TM_NONE)
        conn_close(c);
}

/* ---- writes ---- */

/* Answers are queued and no other timer runs: a peer that stops reading
 * them is closed after the idle timeout (each write that completes starts
 * it again), instead of holding its buffers, and a shutdown, forever. */
static void watch_writes(http_conn *c) {
    if (c->writes > 0 && c->tmode == TM_NONE) http_conn_timer(c, TM_WRITE);
}

http_wreq *http_conn_wreq(http_conn *c) {
    http_wreq *w = c->free_wreqs;
    if (w != NULL) {
        c->free_wreqs = w->next;
        c->nfree_wreqs--;
        return w;
    }
    w = calloc(1, sizeof *w);
    if (w != NULL) w->conn = c;
    return w;
}

void http_conn_drop_wreq(http_conn *c, http_wreq *w) {
    if (c->nfree_wreqs >= FREE_WREQS || w->head_cap > KEEP_WREQ_HEAD || w->body_cap > KEEP_WREQ_BODY) {
        free(w->head);
        free(w->body);
        free(w);
        return;
    }
    w->next = c->free_wreqs;
    c->free_wreqs = w;
    c->nfree_wreqs++;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    http_conn *c = req->data;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->lingering = 1;
    http_conn_timer(c, TM_LINGER);
    if (!c->reading) read_start(c); /* to see the peer's EOF; bytes are dropped */
}

/* The last answer is written: close, draining the peer's bytes first. */
static void conn_finish(http_conn *c) {
    if (c->closing || c->lingering) return;
    if (c->peer_eof) {
        conn_close(c);
        return;
    }
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c);
    else http_conn_timer(c, TM_NONE);
}

static void on_write(uv_write_t *req, int status) {
    http_wreq *w = (http_wreq *)req;
    http_conn *c = w->conn;
    c->writes--;
    http_conn_drop_wreq(c, w);
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    /* the peer reads: give it the full time again (at shutdown the drain time
     * is a total, not per write), or stop */
    if (c->tmode == TM_WRITE && (c->writes == 0 || !c->srv->shutting_down))
        http_conn_timer(c, c->writes > 0 ? TM_WRITE : TM_NONE);
    if (c->done) {
        if (c->writes == 0 && !c->busy) conn_finish(c);
        return;
    }
    conn_continue(c);
}

/* Writes at once when nothing is queued (most answers fit the socket
 * buffer): no write callback, and no epoll_ctl from libuv's drain. The rest,
 * if any, is queued with one uv_write. */
int http_conn_write(http_conn *c, http_wreq *w, size_t head_len, size_t body_len) {
    uv_buf_t bufs[2] = {uv_buf_init(w->head, (unsigned)head_len), uv_buf_init(w->body, (unsigned)body_len)};
    unsigned nbufs = body_len > 0 ? 2 : 1;
    w->conn = c;
    int rc = c->writes == 0 ? uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs) : UV_EAGAIN;
    if (rc >= 0 && (size_t)rc == head_len + body_len) {
        http_conn_drop_wreq(c, w);
        return 0;
    }
    if (rc > 0) {
        size_t n = (size_t)rc;
        if (n >= head_len) {
            bufs[0] = uv_buf_init(w->body + (n - head_len), (unsigned)(body_len - (n - head_len)));
            nbufs = 1;
        } else {
            bufs[0] = uv_buf_init(w->head + n, (unsigned)(head_len - n));
        }
        rc = 0;
    }
    if (rc == 0 || rc == UV_EAGAIN) rc = uv_write(&w->w, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write);
    if (rc != 0) {
        http_conn_drop_wreq(c, w);
        conn_close(c);
        return rc;
    }
    c->writes++;
    watch_writes(c);
    return 0;
}

void http_conn_send_continue(http_conn *c) {
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (c->closing) return;
    http_wreq *w = http_conn_wreq(c);
    if (w == NULL || http_buf_reserve(&w->head, &w->head_cap, sizeof line) != 0) {
        if (w != NULL) http_conn_drop_wreq(c, w);
        return; /* the client sends its body after a while anyway */
    }
    memcpy(w->head, line, sizeof line - 1);
    http_conn_write(c, w, sizeof line - 1, 0);
}

/* ---- reading and parsing ---- */

static int write_blocked(http_conn *c) {
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WQUEUE_MAX;
}

static void dispatch(http_conn *c) {
    c->busy = 1;
    http_conn_timer(c, TM_NONE);
    c->srv->cfg.handler(&c->req, c->srv->cfg.ud);
}

static void parse_error(http_conn *c, llhttp_errno_t e) {
    int status = c->err_status ? c->err_status : 400;
    const char *reason = c->err_reason ? c->err_reason : llhttp_get_error_reason(&c->parser);
    if (reason == NULL) reason = llhttp_errno_name(e);
    if (status == 431) http_conn_fail(c, 431, "headers_too_large", reason);
    else if (status == 414) http_conn_fail(c, 414, "uri_too_long", reason);
    else if (status == 413) http_conn_fail(c, 413, "body_too_large", reason);
    else if (status == 503) http_conn_fail(c, 503, "unavailable", reason);
    else http_conn_fail(c, 400, "bad_request", reason);
}

/* Parses data, handling each complete request; returns the bytes consumed.
 * Stops early while a request awaits its answer or answers pile up unsent. */
static size_t conn_feed(http_conn *c, const char *data, size_t len) {
    size_t done = 0;
    c->in_feed = 1;
    while (done < len && !c->busy && !c->done && !c->closing && !write_blocked(c)) {
        llhttp_errno_t e = llhttp_execute(&c->parser, data + done, len - done);
        if (e == HPE_OK) {
            done = len;
        } else if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
            done = (size_t)(llhttp_get_error_pos(&c->parser) - data);
            if (e == HPE_PAUSED) llhttp_resume(&c->parser);
            else llhttp_resume_after_upgrade(&c->parser);
            if (c->closing) break;
            dispatch(c);
        } else {
            parse_error(c, e);
            done = len;
        }
    }
    c->in_feed = 0;
    if (c->done || c->closing) done = len; /* nothing more will be parsed */
    return done;
}

/* Keeps unparsed bytes for later; stops reading past PEND_MAX. */
static void pend_add(http_conn *c, const char *data, size_t n) {
    if (c->pend_off > 0 && c->pend_len > 0) memmove(c->pend, c->pend + c->pend_off, c->pend_len);
    c->pend_off = 0;
    if (http_buf_reserve(&c->pend, &c->pend_cap, c->pend_len + n) != 0) {
        conn_close(c);
        return;
    }
    memcpy(c->pend + c->pend_len, data, n);
    c->pend_len += n;
    if (c->pend_len > PEND_MAX && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* After any event: arm the idle timer and reading if the connection waits
 * for a new request. */
static void conn_settle(http_conn *c) {
    if (c->closing || c->lingering || c->busy || c->done) return;
    if (c->peer_eof) {
        /* nothing more will come; once the buffered requests are all
         * answered (parsing stops early only while writes pile up), close */
        if (write_blocked(c)) return; /* on_write parses on */
        c->done = 1;
        if (c->writes == 0) conn_close(c);
        return;
    }
    /* with bytes pending the peer is not reading our answers: idle too */
    if (!c->in_message && c->tmode != TM_IDLE && c->tmode != TM_RESUME) http_conn_timer(c, TM_IDLE);
    if (!c->reading && c->pend_len <= PEND_MAX) read_start(c);
}

/* Parses buffered bytes once the previous answer is queued. */
static void conn_continue(http_conn *c) {
    if (c->busy || c->closing || c->done || c->in_feed) return;
    if (c->pend_len > 0) {
        size_t used = conn_feed(c, c->pend + c->pend_off, c->pend_len);
        if (c->closing) return;
        c->pend_off += used;
        c->pend_len -= used;
        if (c->pend_len == 0) c->pend_off = 0;
        if (c->pend_len == 0 && c->pend_cap > KEEP_PEND) {
            free(c->pend);
            c->pend = NULL;
            c->pend_cap = 0;
        }
    }
    conn_settle(c);
}

static void read_end(http_conn *c, ssize_t err) {
    if (c->lingering || err != UV_EOF) {
        conn_close(c);
        return;
    }
    /* EOF: the peer may only have shut its write side; answer every request
     * it sent (the one handled, those buffered behind it), then close. */
    c->peer_eof = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
    if (!c->busy) conn_continue(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)hint;
    http_conn *c = h->data;
    /* One buffer for all connections: read_cb always follows at once and
     * copies out whatever it does not parse. */
    *buf = uv_buf_init(c->srv->rbuf, HTTP_RBUF_SIZE);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    http_conn *c = st->data;
    if (nread == 0 || c->closing) return;
    if (nread < 0) {
        read_end(c, nread);
        return;
    }
    if (c->lingering || c->done) return; /* draining: bytes are dropped */
    if (c->pend_len == 0 && !c->busy) {
        size_t used = conn_feed(c, buf->base, (size_t)nread);
        if (!c->closing && used < (size_t)nread) pend_add(c, buf->base + used, (size_t)nread - used);
    } else {
        pend_add(c, buf->base, (size_t)nread); /* after the bytes already waiting */
        if (!c->busy) conn_continue(c);
    }
    if (!c->closing) conn_settle(c);
}

static void read_start(http_conn *c) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
    else c->reading = 1;
}

/* ---- lifecycle ---- */

void http_conn_fail(http_conn *c, int status, const char *code, const char *message) {
    if (c->busy || c->closing) return;
    http_request *r = &c->req;
    if (r->id == 0) r->id = ++c->srv->next_id;
    if (r->start_ns == 0) r->start_ns = uv_hrtime();
    c->in_message = 0;
    c->close_after = 1;
    c->busy = 1;
    http_conn_timer(c, TM_NONE);
    http_respond_error(r, status, code, message, NULL);
}

int http_conn_will_close(const http_conn *c) {
    const http_request *r = &c->req;
    /* after the peer's EOF, the last buffered request gets the last answer */
    int last = c->peer_eof && c->pend_len == 0;
    return !r->keep_alive || r->upgrade || c->close_after || last || c->srv->shutting_down;
}

void http_conn_answered(http_conn *c) {
    int closes = http_conn_will_close(c);
    http_request_reset(&c->req);
    c->busy = 0;
    c->err_status = 0;
    c->err_reason = NULL;
    if (c->handles_open == 0) { /* the peer left while the request was handled */
        conn_free(c);
        return;
    }
    if (c->closing) return;
    if (closes) {
        c->done = 1;
        if (c->writes == 0) conn_finish(c);
        else watch_writes(c);
        return;
    }
    if (c->in_feed) return; /* the feed loop goes on */
    if (c->pend_len > 0) {
        /* Parse the next request from the loop, not from inside the
         * caller's http_respond*(): on_write does it, or a 0-ms timer. */
        if (c->writes == 0) http_conn_timer(c, TM_RESUME);
        else watch_writes(c);
        return;
    }
    conn_settle(c);
}

/* Server shutdown: close now if idle, else after the current answer. */
void http_conn_shutdown(http_conn *c) {
    if (c->closing) return;
    if (c->lingering) {
        conn_close(c);
    } else if (c->busy || c->in_message) {
        c->close_after = 1;
    } else if (c->writes > 0) {
        c->done = 1;
        http_conn_timer(c, TM_WRITE); /* the shorter drain time from now on */
    } else {
        conn_close(c);
    }
}

void http_conn_accept(http_server *s) {
    http_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        http_server_refuse(s);
        return;
    }
    c->srv = s;
    c->tcp.data = c->timer.data = c;
    http_request_init(&c->req, c);
    llhttp_init(&c->parser, HTTP_REQUEST, &http_parser_settings);
    c->parser.data = c;
    if (uv_timer_init(s->loop, &c->timer) != 0) {
        http_request_release(&c->req);
        free(c);
        http_server_refuse(s);
        return;
    }
    c->handles_open = 1;
    http_server_conn_add(s, c);
    if (uv_tcp_init(s->loop, &c->tcp) != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->timer, on_close);
        return;
    }
    c->handles_open = 2;
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (s->nconns > s->cfg.max_connections) {
        http_conn_fail(c, 503, "too_many_connections", "the server has too many connections");
        return;
    }
    read_start(c);
    if (!c->closing) http_conn_timer(c, TM_IDLE);
}
