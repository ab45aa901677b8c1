/* http/request: turns llhttp's callbacks into an http_request, and the
 * request accessors.
 *
 * The request line and headers are copied into one per-request buffer as
 * NUL-terminated strings (llhttp hands out spans that may be split across
 * reads, and the read buffer is reused). Header-section and body limits are
 * enforced here, as the bytes arrive, so an oversized request is refused
 * before it is buffered. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/internal.h"

/* Bytes counted per header for the line's ": " and CRLF, which llhttp does
 * not hand to callbacks; keeps the limit close to the raw section size. */
#define HEADER_OVERHEAD 4
/* Buffers above these sizes are released after the request instead of
 * being kept for the next one. */
#define KEEP_HEAD 8192
#define KEEP_BODY (16 * 1024)
#define KEEP_EXTRA 4096

int http_buf_reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need) ncap *= 2;
    char *nb = realloc(*buf, ncap);
    if (nb == NULL) return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

static http_conn *conn_of(llhttp_t *p) { return p->data; }

/* A limit hit in a callback: the status and our reason (static text) are kept
 * on the connection, since llhttp replaces a callback's reason with its own
 * ("User callback error"). */
static int fail(llhttp_t *p, int status, const char *reason) {
    conn_of(p)->err_status = status;
    conn_of(p)->err_reason = reason;
    llhttp_set_error_reason(p, reason);
    return HPE_USER;
}

/* Appends to the head buffer after checking the header-section limit. */
static int head_add(llhttp_t *p, const char *at, size_t n, size_t counted) {
    http_conn *c = conn_of(p);
    http_request *r = &c->req;
    r->head_bytes += counted;
    if (r->head_bytes > c->srv->cfg.max_header_bytes)
        return fail(p, 431, "the header section is too large");
    if (http_buf_reserve(&r->head, &r->head_cap, r->head_len + n + 1) != 0)
        return fail(p, 503, "out of memory");
    memcpy(r->head + r->head_len, at, n);
    r->head_len += n;
    return 0;
}

static int nul(llhttp_t *p) { return head_add(p, "", 1, 0); }

static int on_message_begin(llhttp_t *p) {
    http_conn *c = conn_of(p);
    http_request *r = &c->req;
    r->id = ++c->srv->next_id;
    r->start_ns = uv_hrtime();
    c->in_message = 1;
    http_conn_timer(c, TM_REQUEST);
    return 0;
}

/* Known as soon as the method is: an error answer to a HEAD request that
 * fails later in its head (a bad header, a timeout) carries no body either. */
static int on_method_complete(llhttp_t *p) {
    conn_of(p)->req.head_only = llhttp_get_method(p) == HTTP_HEAD;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
    http_conn *c = conn_of(p);
    if (c->req.head_bytes + n > c->srv->cfg.max_header_bytes) /* the URL comes first */
        return fail(p, 414, "the request target is too long");
    return head_add(p, at, n, n);
}

/* The absolute form a proxy sends (RFC 9112 3.2.2), "http://host/path?q", is
 * served as "/path?q": the host is ours whatever it says. The URL is all the
 * head holds so far, so it shrinks in place. */
static void strip_absolute_form(http_request *r) {
    size_t skip;
    if (r->url_len >= 7 && strncasecmp(r->head, "http://", 7) == 0) skip = 7;
    else if (r->url_len >= 8 && strncasecmp(r->head, "https://", 8) == 0) skip = 8;
    else return;
    size_t pos = skip + strcspn(r->head + skip, "/?#");
    if (r->head[pos] != '/') r->head[--pos] = '/'; /* no path: "/" (the authority's last byte, or the "//") */
    memmove(r->head, r->head + pos, r->url_len - pos + 1); /* with the NUL */
    r->url_len -= pos;
    r->head_len -= pos;
}

/* Splits the URL in place: path NUL query NUL; a fragment is dropped. */
static int on_url_complete(llhttp_t *p) {
    http_request *r = &conn_of(p)->req;
    r->url_len = r->head_len;
    int rc = nul(p);
    if (rc != 0) return rc;
    strip_absolute_form(r);
    char *frag = memchr(r->head, '#', r->url_len);
    if (frag != NULL) *frag = '\0';
    char *q = memchr(r->head, '?', frag != NULL ? (size_t)(frag - r->head) : r->url_len);
    if (q != NULL) {
        *q = '\0';
        r->query_off = (size_t)(q + 1 - r->head);
    }
    return 0;
}

/* Ends a header value: trailing whitespace is not part of it. */
static int value_end(llhttp_t *p) {
    http_request *r = &conn_of(p)->req;
    http_header *h = &r->hdrs[r->nhdrs - 1];
    while (h->value_len > 0 && (r->head[r->head_len - 1] == ' ' || r->head[r->head_len - 1] == '\t')) {
        h->value_len--;
        r->head_len--;
    }
    r->hstate = 0;
    return nul(p);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
    http_request *r = &conn_of(p)->req;
    if (r->hstate == 2 && value_end(p) != 0) return HPE_USER;
    if (r->hstate != 1) {
        if (r->nhdrs == r->hdrs_cap) {
            unsigned ncap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
            http_header *nh = realloc(r->hdrs, ncap * sizeof *nh);
            if (nh == NULL) return fail(p, 503, "out of memory");
            r->hdrs = nh;
            r->hdrs_cap = ncap;
        }
        http_header *h = &r->hdrs[r->nhdrs++];
        memset(h, 0, sizeof *h);
        h->name_off = (uint32_t)r->head_len;
        r->hstate = 1;
    }
    r->hdrs[r->nhdrs - 1].name_len += (uint32_t)n;
    return head_add(p, at, n, n);
}

static int on_header_field_complete(llhttp_t *p) {
    http_request *r = &conn_of(p)->req;
    int rc = head_add(p, "", 1, HEADER_OVERHEAD);
    if (rc != 0) return rc;
    http_header *h = &r->hdrs[r->nhdrs - 1];
    h->value_off = (uint32_t)r->head_len;
    r->hstate = 2;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
    http_request *r = &conn_of(p)->req;
    r->hdrs[r->nhdrs - 1].value_len += (uint32_t)n;
    return head_add(p, at, n, n);
}

static int on_header_value_complete(llhttp_t *p) { return value_end(p); }

static int wants_continue(llhttp_t *p) {
    const char *e = http_request_header(&conn_of(p)->req, "Expect");
    if (e == NULL || strcasecmp(e, "100-continue") != 0) return 0;
    if (llhttp_get_http_major(p) != 1 || llhttp_get_http_minor(p) < 1) return 0;
    return (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
}

/* Fields whose meaning is one value (RFC 9110 section 5.3): two of them are
 * ambiguous (a proxy that added its own Authorization, say, and which one
 * wins), so the request is refused rather than one picked. */
static const char *repeated_singleton(const http_request *r) {
    static const struct {
        const char *name, *why;
    } once[] = {
        {"Authorization", "the Authorization header appears more than once"},
        {"Content-Type", "the Content-Type header appears more than once"},
        {"Host", "the Host header appears more than once"},
        {"Idempotency-Key", "the Idempotency-Key header appears more than once"},
    };
    for (size_t f = 0; f < sizeof once / sizeof once[0]; f++) {
        int seen = 0;
        for (unsigned i = 0; i < r->nhdrs; i++)
            if (strcasecmp(r->head + r->hdrs[i].name_off, once[f].name) == 0 && ++seen > 1) return once[f].why;
    }
    return NULL;
}

static int on_headers_complete(llhttp_t *p) {
    http_conn *c = conn_of(p);
    http_request *r = &c->req;
    if (r->hstate == 2 && value_end(p) != 0) return -1;
    r->method = llhttp_method_name(llhttp_get_method(p));
    r->head_only = llhttp_get_method(p) == HTTP_HEAD;
    /* llhttp also parses HTTP/0.9 lines (no version) and any digit pair;
     * we answer in HTTP/1.1 framing, so only 1.0 and 1.1 are requests. */
    if (llhttp_get_http_major(p) != 1 || llhttp_get_http_minor(p) > 1) {
        llhttp_set_error_reason(p, "unsupported HTTP version: HTTP/1.0 and HTTP/1.1 are served");
        return -1;
    }
    if ((c->err_reason = repeated_singleton(r)) != NULL) {
        llhttp_set_error_reason(p, c->err_reason);
        return -1;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->cfg.max_body_bytes) {
        c->err_status = 413;
        c->err_reason = "the body is larger than the limit";
        llhttp_set_error_reason(p, c->err_reason);
        return -1;
    }
    if (wants_continue(p)) http_conn_send_continue(c);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
    http_conn *c = conn_of(p);
    http_request *r = &c->req;
    if (r->body_len + n > c->srv->cfg.max_body_bytes)
        return fail(p, 413, "the body is larger than the limit");
    if (http_buf_reserve(&r->body, &r->body_cap, r->body_len + n + 1) != 0)
        return fail(p, 503, "out of memory");
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    return 0;
}

/* Pausing here makes llhttp_execute() return right after this request, so
 * the connection handles pipelined requests one at a time. */
static int on_message_complete(llhttp_t *p) {
    http_conn *c = conn_of(p);
    http_request *r = &c->req;
    if (r->hstate == 2 && value_end(p) != 0) return -1;
    if (r->body != NULL) r->body[r->body_len] = '\0';
    r->keep_alive = llhttp_should_keep_alive(p);
    r->upgrade = p->upgrade;
    c->in_message = 0;
    return HPE_PAUSED;
}

const llhttp_settings_t http_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_method_complete = on_method_complete,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_request_init(http_request *r, http_conn *c) {
    memset(r, 0, sizeof *r);
    r->conn = c;
    http_request_reset(r);
}

static void shrink(char **buf, size_t *cap, size_t keep) {
    if (*cap <= keep) return;
    free(*buf);
    *buf = NULL;
    *cap = 0;
}

/* Readies the request for the next one on the connection. */
void http_request_reset(http_request *r) {
    r->id = 0;
    r->start_ns = 0;
    r->method = "";
    r->route = NULL;
    r->data = NULL;
    r->head_len = r->head_bytes = r->url_len = r->query_off = 0;
    r->nhdrs = 0;
    r->hstate = 0;
    r->body_len = 0;
    r->extra_len = 0;
    r->keep_alive = r->head_only = r->upgrade = 0;
    shrink(&r->head, &r->head_cap, KEEP_HEAD);
    shrink(&r->body, &r->body_cap, KEEP_BODY);
    shrink(&r->extra, &r->extra_cap, KEEP_EXTRA);
}

void http_request_release(http_request *r) {
    free(r->head);
    free(r->hdrs);
    free(r->body);
    free(r->extra);
    memset(r, 0, sizeof *r);
}

/* ---- accessors ---- */

const char *http_request_method(const http_request *r) { return r->method; }
const char *http_request_path(const http_request *r) { return r->url_len > 0 ? r->head : ""; }
const char *http_request_query(const http_request *r) {
    return r->query_off != 0 ? r->head + r->query_off : "";
}
uint64_t http_request_id(const http_request *r) { return r->id; }
void http_request_set_route(http_request *r, const char *label) { r->route = label; }
const char *http_request_route(const http_request *r) { return r->route; }
void http_request_set_data(http_request *r, void *data) { r->data = data; }
void *http_request_data(const http_request *r) { return r->data; }

const char *http_request_header(const http_request *r, const char *name) {
    for (unsigned i = 0; i < r->nhdrs; i++) {
        const http_header *h = &r->hdrs[i];
        if (strcasecmp(r->head + h->name_off, name) == 0) return r->head + h->value_off;
    }
    return NULL;
}

const char *http_request_body(const http_request *r, size_t *len) {
    if (len != NULL) *len = r->body_len;
    return r->body != NULL && r->body_len > 0 ? r->body : "";
}
