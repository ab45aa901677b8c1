/* http/response: answers. Builds the status line and headers into the write
 * request's reused head buffer and the body into its body buffer, queues both
 * with one uv_write, then writes the access-log line and reports to
 * on_response. The access log holds the path only (never the query, headers
 * or body) so no personal data reaches the logs. */
#include <string.h>
#include <time.h>

#include "http/internal.h"

static const char *reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

/* Appends a JSON string literal (with quotes) of s, at most max input bytes;
 * returns the new length. out must have room for 6 * max + 3 bytes. */
static size_t json_str(char *out, size_t o, const char *s, size_t max) {
    static const char hex[] = "0123456789abcdef";
    out[o++] = '"';
    for (size_t i = 0; i < max && s[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) { /* keeps the line valid UTF-8 */
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[ch >> 4];
            out[o + 5] = hex[ch & 15];
            o += 6;
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    return o;
}

static size_t put(char *out, size_t o, const char *s, size_t n) {
    if (n > 0) memcpy(out + o, s, n);
    return o + n;
}

static size_t put_u64(char *out, size_t o, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) out[o++] = tmp[--n];
    return o;
}

#define LOG_PATH_MAX 512

/* Built by hand, not with Jansson or printf: it runs once per request. */
static void access_log(http_server *s, const http_request *r, int status, size_t bytes,
                       uint64_t duration_us) {
    char line[6 * LOG_PATH_MAX + 1024]; /* every field at its worst escaping */
    size_t o = put(line, 0, "{\"ts\":", 6);
    o = put_u64(line, o, (uint64_t)time(NULL));
    static const char mid[] = ",\"level\":\"info\",\"msg\":\"request\",\"request_id\":";
    o = put(line, o, mid, sizeof mid - 1);
    o = put_u64(line, o, r->id);
    o = put(line, o, ",\"method\":", 10);
    o = json_str(line, o, r->method, 32);
    o = put(line, o, ",\"path\":", 8);
    o = json_str(line, o, http_request_path(r), LOG_PATH_MAX);
    o = put(line, o, ",\"route\":", 9);
    o = r->route != NULL ? json_str(line, o, r->route, 64) : put(line, o, "null", 4);
    o = put(line, o, ",\"status\":", 10);
    o = put_u64(line, o, (uint64_t)(status < 0 ? 0 : status));
    o = put(line, o, ",\"bytes\":", 9);
    o = put_u64(line, o, bytes);
    o = put(line, o, ",\"duration_us\":", 15);
    o = put_u64(line, o, duration_us);
    o = put(line, o, "}\n", 2);
    http_server_log(s, line, o);
}

/* Logs and reports the answer, then hands the connection back. */
static void answer_done(http_request *r, int status, size_t bytes) {
    http_conn *c = r->conn;
    http_server *s = c->srv;
    uint64_t duration_us = (uv_hrtime() - r->start_ns) / 1000;
    if (s->cfg.access_log) access_log(s, r, status, bytes, duration_us);
    if (s->cfg.on_response != NULL) s->cfg.on_response(s->cfg.ud, r, status, duration_us);
    http_conn_answered(c);
}

/* Builds the head into w->head; returns its length, 0 on OOM. */
static size_t build_head(http_request *r, http_wreq *w, int status, const char *ctype, size_t body_len) {
    const char *reason = reason_phrase(status);
    size_t clen = strlen(ctype), rlen = strlen(reason);
    if (http_buf_reserve(&w->head, &w->head_cap, 160 + rlen + clen + r->extra_len) != 0) return 0;
    char *h = w->head;
    size_t o = put(h, 0, "HTTP/1.1 ", 9);
    o = put_u64(h, o, (uint64_t)(status % 1000));
    h[o++] = ' ';
    o = put(h, o, reason, rlen);
    o = put(h, o, "\r\nContent-Type: ", 16);
    o = put(h, o, ctype, clen);
    o = put(h, o, "\r\nContent-Length: ", 18);
    o = put_u64(h, o, body_len);
    o = put(h, o, "\r\nX-Request-Id: ", 16);
    o = put_u64(h, o, r->id);
    if (http_conn_will_close(r->conn)) o = put(h, o, "\r\nConnection: close\r\n", 21);
    else o = put(h, o, "\r\nConnection: keep-alive\r\n", 26);
    o = put(h, o, r->extra, r->extra_len);
    return put(h, o, "\r\n", 2);
}

/* Queues head + the body already in w->body; always finishes the answer. */
static void send_answer(http_request *r, http_wreq *w, int status, const char *ctype, size_t body_len) {
    size_t head_len = build_head(r, w, status, ctype, body_len);
    if (head_len == 0) {
        http_conn_shutdown(r->conn); /* out of memory: give up the connection */
        status = 500;
    } else {
        http_conn_write(r->conn, w, head_len, r->head_only ? 0 : body_len);
        w = NULL;
    }
    if (w != NULL) http_conn_drop_wreq(r->conn, w);
    answer_done(r, status, body_len);
}

/* 1 if the request can be answered; 0 if the peer is gone or it was answered. */
static int answerable(http_request *r) { return r->conn->busy && !r->conn->closing; }

void http_respond(http_request *r, int status, const char *content_type, const char *body, size_t len) {
    if (!r->conn->busy) return; /* answered already: the contract allows one */
    http_wreq *w = answerable(r) ? http_conn_wreq(r->conn) : NULL;
    if (w == NULL || http_buf_reserve(&w->body, &w->body_cap, len + 1) != 0) {
        if (w != NULL) http_conn_drop_wreq(r->conn, w);
        if (!r->conn->closing) http_conn_shutdown(r->conn);
        answer_done(r, status, 0);
        return;
    }
    if (len > 0) memcpy(w->body, body, len);
    send_answer(r, w, status, content_type != NULL ? content_type : "application/octet-stream", len);
}

static const char oom_body[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

void http_respond_json(http_request *r, int status, json_t *body) {
    if (!r->conn->busy) {
        json_decref(body);
        return;
    }
    http_wreq *w = answerable(r) && body != NULL ? http_conn_wreq(r->conn) : NULL;
    if (w == NULL) {
        json_decref(body);
        if (r->conn->closing) answer_done(r, status, 0);
        else http_respond(r, 500, "application/json", oom_body, sizeof oom_body - 1);
        return;
    }
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    size_t n = json_dumpb(body, w->body, w->body_cap, flags);
    if (n > w->body_cap && http_buf_reserve(&w->body, &w->body_cap, n) == 0)
        n = json_dumpb(body, w->body, w->body_cap, flags);
    json_decref(body);
    if (n == 0 || n > w->body_cap) {
        http_conn_drop_wreq(r->conn, w);
        http_respond(r, 500, "application/json", oom_body, sizeof oom_body - 1);
        return;
    }
    send_answer(r, w, status, "application/json", n);
}

void http_respond_error(http_request *r, int status, const char *code, const char *message,
                        json_t *details) {
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", message != NULL ? message : "");
    if (err != NULL && json_is_object(details)) json_object_update_missing(err, details);
    json_decref(details);
    http_respond_json(r, status, err != NULL ? json_pack("{s:o}", "error", err) : NULL);
}

/* Header injection guard: names and values may not carry CR or LF. */
void http_response_header(http_request *r, const char *name, const char *value) {
    if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) return;
    size_t nl = strlen(name), vl = strlen(value);
    if (http_buf_reserve(&r->extra, &r->extra_cap, r->extra_len + nl + vl + 4) != 0) return;
    r->extra_len = put(r->extra, r->extra_len, name, nl);
    r->extra_len = put(r->extra, r->extra_len, ": ", 2);
    r->extra_len = put(r->extra, r->extra_len, value, vl);
    r->extra_len = put(r->extra, r->extra_len, "\r\n", 2);
}
