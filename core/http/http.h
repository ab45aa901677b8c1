/* http: HTTP/1.1 server on libuv + llhttp.
 *
 * A connection is a long-lived handle; an http_request is one request/response
 * pair. The server parses requests (keep-alive, pipelining, Content-Length and
 * chunked bodies), enforces limits and timeouts, and hands each complete
 * request to one handler. The handler must answer every request exactly once,
 * now or later (for example after a durable commit) with http_respond*().
 * Requests on one connection are handled one at a time, in order: while a
 * request waits for its answer the parser is paused, so pipelined requests are
 * answered in the order they came.
 *
 * If the peer goes away while a request is pending, the request stays valid
 * until it is answered; the answer is then dropped and the request freed.
 *
 * Limits (all answered with the spec's JSON error body, then the connection
 * is closed): header section over max_header_bytes -> 431, body over
 * max_body_bytes -> 413, malformed request -> 400, no complete request within
 * request_timeout_ms of its first byte -> 408, connections over
 * max_connections -> 503. An idle keep-alive connection is closed after
 * idle_timeout_ms.
 *
 * Every answered request is logged as one JSON line (request id, method, path,
 * route label, status, bytes, duration) and reported to on_response. */
#ifndef AS_HTTP_H
#define AS_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_server http_server;
typedef struct http_request http_request;

typedef void (*http_handler_fn)(http_request *req, void *ud);
/* Called after each answer is queued, for metrics. duration_us is from the
 * request's first byte to the answer. */
typedef void (*http_response_fn)(void *ud, const http_request *req, int status,
                                 uint64_t duration_us);

typedef struct {
    const char *host; /* "127.0.0.1" */
    int port;
    size_t max_header_bytes;     /* default 16 KiB */
    size_t max_body_bytes;       /* default 1 MiB */
    unsigned idle_timeout_ms;    /* keep-alive idle, default 60000 */
    unsigned request_timeout_ms; /* first byte to complete request, default 15000 */
    unsigned max_connections;    /* default 10000 */
    int access_log;              /* 1: one JSON line per request */
    http_handler_fn handler;
    http_response_fn on_response; /* may be NULL */
    void *ud;                     /* passed to handler and on_response */
} http_config;

/* Fills cfg with the defaults above (host/port/handler left zero). */
void http_config_defaults(http_config *cfg);

/* Returns 0 or a negative libuv error. */
int http_server_new(http_server **out, uv_loop_t *loop, const http_config *cfg);
/* Binds and listens; returns 0 or a negative libuv error (e.g. UV_EADDRINUSE). */
int http_server_listen(http_server *s);
/* Graceful stop, step 1: close the listener; idle keep-alive connections are
 * closed, busy ones close after their current answer. on_drained is called
 * (once) when no connection remains. */
void http_server_shutdown(http_server *s, void (*on_drained)(void *ud), void *ud);
/* Frees the server; only after on_drained has run. */
void http_server_free(http_server *s);

unsigned http_server_connections(const http_server *s);
/* The bound port (with cfg.port 0 the kernel picks one). */
int http_server_port(const http_server *s);

/* ---- request accessors (valid until the request is answered) ---- */
const char *http_request_method(const http_request *r); /* "GET", "POST", ... */
const char *http_request_path(const http_request *r);   /* raw path, no query */
const char *http_request_query(const http_request *r);  /* raw query, "" if none */
/* Case-insensitive lookup; NULL if absent. */
const char *http_request_header(const http_request *r, const char *name);
const char *http_request_body(const http_request *r, size_t *len); /* NUL-terminated */
uint64_t http_request_id(const http_request *r);
/* A short route label ("POST /v1/orders") used in logs and metrics. */
void http_request_set_route(http_request *r, const char *label);
const char *http_request_route(const http_request *r);
/* An opaque pointer the handler may hang on the request (e.g. auth info). */
void http_request_set_data(http_request *r, void *data);
void *http_request_data(const http_request *r);

/* Query parameter `name`, percent-decoded ('+' is a space) into out.
 * Returns 1 if found, 0 if absent, -1 if it does not fit in outlen. */
int http_query_param(const http_request *r, const char *name, char *out, size_t outlen);

/* ---- answers: exactly one per request ---- */
void http_respond(http_request *r, int status, const char *content_type,
                  const char *body, size_t len);
/* Serialises body (stolen) compactly with JSON_PRESERVE_ORDER. */
void http_respond_json(http_request *r, int status, json_t *body);
/* {"error":{"code":code,"message":message, ...details}}; details (stolen, may
 * be NULL) is an object whose keys are merged into "error". */
void http_respond_error(http_request *r, int status, const char *code,
                        const char *message, json_t *details);
/* Adds a response header for this request's answer (e.g. "Retry-After"). */
void http_response_header(http_request *r, const char *name, const char *value);

#endif
