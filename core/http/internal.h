/* http/internal: the structures shared by the http module's files.
 *
 * Ownership: the server owns its listener, its log-flush handle and the list
 * of connections. A connection (handle) owns its socket, its one timer, its
 * parser, the request being read or handled (embedded: one request at a time,
 * so no per-request allocation), the bytes read ahead of that request, and a
 * small free list of write requests. Buffers are reused from request to
 * request; only unusually large ones are released after use.
 *
 * Nothing here is part of the module's API: include only from core/http/. */
#ifndef AS_HTTP_INTERNAL_H
#define AS_HTTP_INTERNAL_H

#include <llhttp.h>

#include "http/http.h"

/* One header of the request: offsets into the request's head buffer. */
typedef struct {
    uint32_t name_off, name_len, value_off, value_len;
} http_header;

/* One queued answer (or interim 100 Continue): head and body buffers are
 * kept on the connection's free list and reused. */
typedef struct http_wreq {
    uv_write_t w;
    struct http_conn *conn;
    struct http_wreq *next;
    char *head;
    size_t head_cap;
    char *body;
    size_t body_cap;
} http_wreq;

struct http_request {
    struct http_conn *conn;
    uint64_t id;
    uint64_t start_ns; /* uv_hrtime() at the request's first byte */
    const char *method; /* static string from llhttp, "" until known */
    const char *route;
    void *data;
    /* request line and headers: NUL-terminated strings packed in head */
    char *head;
    size_t head_len, head_cap;
    size_t head_bytes; /* header section size counted against the limit */
    http_header *hdrs;
    unsigned nhdrs, hdrs_cap;
    /* The path is head[0..] once the URL is whole (url_len > 0), the query
     * head[query_off..]: offsets, not pointers, since head grows by realloc
     * (headers, then trailers) and a pointer into it would dangle. */
    size_t url_len, query_off; /* query_off 0: no query */
    int hstate; /* 0: between headers, 1: in a name, 2: in a value */
    char *body;
    size_t body_len, body_cap;
    /* extra response headers, "Name: value\r\n" each */
    char *extra;
    size_t extra_len, extra_cap;
    int keep_alive;
    int head_only; /* HEAD: the answer carries no body */
    int upgrade;   /* an Upgrade/CONNECT request: never parse after it */
};

/* What the connection's one timer is doing; TM_RESUME is a 0-ms timer that
 * resumes parsing after an answer given outside the parse loop; TM_WRITE
 * closes a connection whose queued answers the peer stopped reading. */
typedef enum { TM_NONE, TM_IDLE, TM_REQUEST, TM_LINGER, TM_RESUME, TM_WRITE } http_timer_mode;

typedef struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    http_server *srv;
    struct http_conn *prev, *next; /* server's list */
    llhttp_t parser;
    http_request req;
    /* bytes read but not parsed yet (read while a request is handled) */
    char *pend;
    size_t pend_off, pend_len, pend_cap;
    http_wreq *free_wreqs;
    unsigned nfree_wreqs;
    unsigned writes;       /* uv_write requests in flight */
    unsigned handles_open; /* tcp + timer until their close callbacks ran */
    http_timer_mode tmode;
    int err_status;        /* limit hit inside a parser callback: 413/414/431 */
    const char *err_reason; /* and why, in words (static text) */
    unsigned in_message : 1; /* bytes of a request seen, not yet complete */
    unsigned busy : 1;       /* a request awaits its answer */
    unsigned in_feed : 1;    /* inside conn_feed: answers must not re-enter it */
    unsigned reading : 1;
    unsigned close_after : 1; /* close after the current answer */
    unsigned done : 1;        /* no further request will be parsed */
    unsigned closing : 1;     /* uv_close called */
    unsigned lingering : 1;   /* write side shut, draining the peer's bytes */
    unsigned peer_eof : 1;
    unsigned timer_deferred : 1; /* the timer waited once for unread bytes */
} http_conn;

struct http_server {
    uv_loop_t *loop;
    http_config cfg;
    uv_tcp_t listener;
    uv_tcp_t spare;   /* accepts, to close at once, a connection we cannot take */
    uv_check_t flush; /* writes the access-log buffer once per loop turn */
    int listener_open, flush_open, spare_busy;
    int refused_waiting; /* a connection left unaccepted while the spare closed */
    int port;
    uint64_t next_id;
    unsigned nconns;
    http_conn *conns;
    int shutting_down, drained;
    void (*on_drained)(void *ud);
    void *drained_ud;
    int free_requested; /* http_server_free ran before the handles closed */
    /* access-log lines, flushed with one write per loop turn (or when full) */
    char logbuf[4096];
    size_t loglen;
    char *rbuf; /* HTTP_RBUF_SIZE bytes, shared by all reads (see conn.c) */
};

#define HTTP_RBUF_SIZE (64 * 1024)

/* request.c */
extern const llhttp_settings_t http_parser_settings;
/* Grows *buf to hold need bytes; 0 or -1 on OOM. */
int http_buf_reserve(char **buf, size_t *cap, size_t need);
void http_request_init(http_request *r, http_conn *c);
void http_request_reset(http_request *r);
void http_request_release(http_request *r);

/* conn.c */
void http_conn_accept(http_server *s);
void http_conn_shutdown(http_conn *c);
void http_conn_fail(http_conn *c, int status, const char *code, const char *message);
void http_conn_timer(http_conn *c, http_timer_mode mode);
void http_conn_send_continue(http_conn *c);
/* 1 if the connection closes after the current answer. */
int http_conn_will_close(const http_conn *c);
/* Called by response.c once an answer is queued (or dropped). */
void http_conn_answered(http_conn *c);
http_wreq *http_conn_wreq(http_conn *c);
void http_conn_drop_wreq(http_conn *c, http_wreq *w);
int http_conn_write(http_conn *c, http_wreq *w, size_t head_len, size_t body_len);

/* server.c */
void http_server_conn_add(http_server *s, http_conn *c);
/* The connection libuv reported cannot be served (no memory): accept it into
 * the spare handle and close it, so libuv watches the listener again. */
void http_server_refuse(http_server *s);
void http_server_conn_gone(http_server *s, http_conn *c);
void http_server_log(http_server *s, const char *line, size_t len);

/* query.c: percent-decodes s[0..n) into out (NUL-terminated). plus_space
 * turns '+' into ' '. Returns the decoded length, -1 on bad encoding or a
 * decoded NUL, -2 if it does not fit. */
long http_pct_decode(const char *s, size_t n, char *out, size_t outlen, int plus_space);

#endif
