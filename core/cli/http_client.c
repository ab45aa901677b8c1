/* cli/http_client: see http_client.h. */
#include "cli/http_client.h"

#include <errno.h>
#include <llhttp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/textbuf.h"

#define TIMEOUT_S 60

/* http://HOST[:PORT][/...] -> host and port. */
static int parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen) {
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0) return -1;
    const char *h = url + sizeof scheme - 1;
    size_t n = strcspn(h, ":/");
    if (n == 0 || n >= hostlen) return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    if (h[n] == ':') {
        size_t p = strcspn(h + n + 1, "/");
        if (p == 0 || p >= portlen) return -1;
        memcpy(port, h + n + 1, p);
        port[p] = '\0';
    } else {
        snprintf(port, portlen, "80");
    }
    return 0;
}

static int dial(const char *host, const char *port, char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        struct timeval tv = {TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct {
    textbuf body;
    int done;
} response;

static int on_body(llhttp_t *p, const char *at, size_t len) {
    tb_append(&((response *)p->data)->body, at, len);
    return 0;
}

static int on_complete(llhttp_t *p) {
    ((response *)p->data)->done = 1;
    return HPE_PAUSED;
}

int http_call(const char *url, const char *method, const char *path, const char *token, const char *body,
              http_answer *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    char host[256], port[16];
    if (parse_url(url, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "not an http://HOST[:PORT] address: %s", url);
        return -1;
    }
    int fd = dial(host, port, err, errlen);
    if (fd < 0) return -1;
    textbuf req = {0};
    size_t blen = body ? strlen(body) : 0;
    tb_printf(&req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nAccept: application/json\r\n", method, path,
              host, port);
    if (token) tb_printf(&req, "Authorization: Bearer %s\r\n", token);
    if (body) tb_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    tb_append(&req, "\r\n", 2);
    if (body) tb_append(&req, body, blen);
    int rc = req.failed || send_all(fd, req.buf, req.len) != 0 ? -1 : 0;
    tb_free(&req);
    if (rc != 0) {
        snprintf(err, errlen, "cannot send the request: %s", strerror(errno));
        close(fd);
        return -1;
    }
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_body = on_body;
    settings.on_message_complete = on_complete;
    llhttp_t parser;
    llhttp_init(&parser, HTTP_RESPONSE, &settings);
    response r = {{0}, 0};
    parser.data = &r;
    char buf[16384];
    llhttp_errno_t perr = HPE_OK;
    while (!r.done && perr == HPE_OK) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            perr = llhttp_finish(&parser);
            break;
        }
        perr = llhttp_execute(&parser, buf, (size_t)n);
    }
    close(fd);
    if (!r.done || r.body.failed) {
        snprintf(err, errlen, "no complete answer from %s (%s)", url,
                 perr != HPE_OK && perr != HPE_PAUSED ? llhttp_errno_name(perr) : "closed early");
        tb_free(&r.body);
        return -1;
    }
    out->status = llhttp_get_status_code(&parser);
    tb_append(&r.body, "", 0);
    out->body = r.body.buf ? r.body.buf : strdup("");
    out->len = r.body.len;
    return out->body ? 0 : -1;
}

void http_answer_free(http_answer *a) {
    free(a->body);
    memset(a, 0, sizeof *a);
}
