/* http/server: the listener, the list of connections, graceful shutdown and
 * the access-log buffer.
 *
 * Access-log lines are gathered in a small buffer and written with one
 * write(2) per loop turn (from a check handle) or when the buffer is full, so
 * a busy loop does not pay one syscall per request. Every write holds whole
 * lines and stays under PIPE_BUF, so lines from other threads never tear. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/internal.h"

#define LISTEN_BACKLOG 511

void http_config_defaults(http_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_header_bytes = 16 * 1024;
    cfg->max_body_bytes = 1024 * 1024;
    cfg->idle_timeout_ms = 60000;
    cfg->request_timeout_ms = 15000;
    cfg->max_connections = 10000;
    cfg->access_log = 1;
}

int http_server_new(http_server **out, uv_loop_t *loop, const http_config *cfg) {
    *out = NULL;
    if (cfg->handler == NULL) return UV_EINVAL;
    http_server *s = calloc(1, sizeof *s);
    if (s == NULL) return UV_ENOMEM;
    s->rbuf = malloc(HTTP_RBUF_SIZE);
    if (s->rbuf == NULL) {
        free(s);
        return UV_ENOMEM;
    }
    s->loop = loop;
    s->cfg = *cfg;
    /* zero limits mean "the default": a half-filled config stays safe */
    http_config d;
    http_config_defaults(&d);
    if (s->cfg.host == NULL) s->cfg.host = "127.0.0.1";
    if (s->cfg.max_header_bytes == 0) s->cfg.max_header_bytes = d.max_header_bytes;
    if (s->cfg.max_body_bytes == 0) s->cfg.max_body_bytes = d.max_body_bytes;
    if (s->cfg.idle_timeout_ms == 0) s->cfg.idle_timeout_ms = d.idle_timeout_ms;
    if (s->cfg.request_timeout_ms == 0) s->cfg.request_timeout_ms = d.request_timeout_ms;
    if (s->cfg.max_connections == 0) s->cfg.max_connections = d.max_connections;
    *out = s;
    return 0;
}

static void log_flush(http_server *s) {
    if (s->loglen == 0) return;
    ssize_t w = write(STDERR_FILENO, s->logbuf, s->loglen);
    (void)w; /* nothing sensible to do if stderr is gone */
    s->loglen = 0;
}

void http_server_log(http_server *s, const char *line, size_t len) {
    if (s->loglen + len > sizeof s->logbuf) log_flush(s);
    if (len > sizeof s->logbuf) {
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
        return;
    }
    memcpy(s->logbuf + s->loglen, line, len);
    s->loglen += len;
}

static void on_check(uv_check_t *h) { log_flush(h->data); }

static void on_connection(uv_stream_t *listener, int status) {
    http_server *s = listener->data;
    if (status < 0 || s->shutting_down) return;
    http_conn_accept(s);
}

static int bind_addr(http_server *s) {
    struct sockaddr_storage ss;
    int rc = strchr(s->cfg.host, ':') != NULL
                 ? uv_ip6_addr(s->cfg.host, s->cfg.port, (struct sockaddr_in6 *)&ss)
                 : uv_ip4_addr(s->cfg.host, s->cfg.port, (struct sockaddr_in *)&ss);
    if (rc == 0) rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    if (rc != 0) return rc;
    int len = sizeof ss;
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc != 0) return rc;
    s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

int http_server_listen(http_server *s) {
    if (s->listener_open || s->shutting_down) return UV_EINVAL;
    int rc = uv_tcp_init(s->loop, &s->listener);
    if (rc != 0) return rc;
    s->listener_open = 1;
    s->listener.data = s;
    rc = uv_check_init(s->loop, &s->flush);
    if (rc != 0) return rc;
    s->flush_open = 1;
    s->flush.data = s;
    rc = uv_check_start(&s->flush, on_check);
    if (rc != 0) return rc;
    uv_unref((uv_handle_t *)&s->flush); /* it must not keep the loop alive */
    return bind_addr(s);
}

static void maybe_free(http_server *s) {
    if (s->listener_open || s->flush_open || s->spare_busy) return;
    log_flush(s);
    free(s->rbuf);
    free(s);
}

static void on_flush_closed(uv_handle_t *h) {
    http_server *s = h->data;
    s->flush_open = 0;
    if (s->free_requested) {
        maybe_free(s);
        return;
    }
    if (!s->listener_open && s->on_drained != NULL && !s->drained) {
        s->drained = 1;
        s->on_drained(s->drained_ud);
    }
}

static void close_flush(http_server *s) {
    if (!s->flush_open || uv_is_closing((uv_handle_t *)&s->flush)) return;
    log_flush(s);
    uv_close((uv_handle_t *)&s->flush, on_flush_closed);
}

/* Drained once the listener is closed and no connection remains. */
static void maybe_drained(http_server *s) {
    if (!s->shutting_down || s->drained || s->listener_open || s->nconns > 0 || s->spare_busy) return;
    if (s->flush_open) {
        close_flush(s); /* on_drained runs from its close callback */
        return;
    }
    s->drained = 1;
    if (s->on_drained != NULL) s->on_drained(s->drained_ud);
}

static void on_listener_closed(uv_handle_t *h) {
    http_server *s = h->data;
    s->listener_open = 0;
    if (s->free_requested) maybe_free(s);
    else maybe_drained(s);
}

static void on_spare_closed(uv_handle_t *h) {
    http_server *s = h->data;
    s->spare_busy = 0;
    if (s->free_requested) {
        maybe_free(s);
    } else if (s->shutting_down) {
        maybe_drained(s);
    } else if (s->refused_waiting) { /* libuv waits for it before watching again */
        s->refused_waiting = 0;
        http_conn_accept(s);
    }
}

/* libuv stops watching a listener until the connection it reported is
 * accepted. One the server cannot take (no memory for it) is accepted into
 * the spare handle and closed, or no connection would ever be accepted
 * again; while the spare closes, its close callback accepts the next. */
void http_server_refuse(http_server *s) {
    if (s->spare_busy) {
        s->refused_waiting = 1;
        return;
    }
    if (!s->listener_open || uv_tcp_init(s->loop, &s->spare) != 0) return;
    s->spare_busy = 1;
    s->spare.data = s;
    (void)uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&s->spare); /* EAGAIN: none waited */
    uv_close((uv_handle_t *)&s->spare, on_spare_closed);
}

void http_server_shutdown(http_server *s, void (*on_drained)(void *ud), void *ud) {
    if (s->shutting_down) return;
    s->shutting_down = 1;
    s->on_drained = on_drained;
    s->drained_ud = ud;
    if (s->listener_open) uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    for (http_conn *c = s->conns, *next; c != NULL; c = next) {
        next = c->next;
        http_conn_shutdown(c); /* closing is asynchronous: c stays valid */
    }
    maybe_drained(s);
}

/* After on_drained, or after a failed listen: handles still open are closed
 * first and the memory is released from their close callbacks. */
void http_server_free(http_server *s) {
    if (s == NULL) return;
    s->free_requested = 1;
    if (s->listener_open && !uv_is_closing((uv_handle_t *)&s->listener))
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    close_flush(s);
    maybe_free(s);
}

unsigned http_server_connections(const http_server *s) { return s->nconns; }

int http_server_port(const http_server *s) { return s->port; }

void http_server_conn_add(http_server *s, http_conn *c) {
    c->prev = NULL;
    c->next = s->conns;
    if (s->conns != NULL) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
}

void http_server_conn_gone(http_server *s, http_conn *c) {
    if (c->prev != NULL) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next != NULL) c->next->prev = c->prev;
    s->nconns--;
    maybe_drained(s);
}
