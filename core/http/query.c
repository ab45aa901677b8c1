/* http/query: percent-decoding (shared with the router) and query-string
 * parameters. The raw query is kept as received; a parameter is decoded only
 * when asked for, into the caller's buffer. */
#include <string.h>

#include "http/internal.h"

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

long http_pct_decode(const char *s, size_t n, char *out, size_t outlen, int plus_space) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            ch = (char)(hi * 16 + lo);
            if (ch == '\0') return -1; /* would truncate the C string */
            i += 2;
        } else if (ch == '+' && plus_space) {
            ch = ' ';
        }
        if (o + 1 >= outlen) return -2;
        out[o++] = ch;
    }
    if (outlen == 0) return -2;
    out[o] = '\0';
    return (long)o;
}

/* Finds `name` among the '&'-separated pairs of the raw query. Keys are
 * compared decoded so "a%62=1" matches "ab". Bad encoding counts as -1, like
 * a value that does not fit: the caller answers 400 for both. */
int http_query_param(const http_request *r, const char *name, char *out, size_t outlen) {
    const char *q = http_request_query(r);
    char key[256];
    while (*q != '\0') {
        const char *end = strchr(q, '&');
        size_t len = end != NULL ? (size_t)(end - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - q) : len;
        long k = http_pct_decode(q, klen, key, sizeof key, 1);
        if (k >= 0 && strcmp(key, name) == 0) {
            const char *v = eq != NULL ? eq + 1 : q + len;
            size_t vlen = (size_t)(q + len - v);
            return http_pct_decode(v, vlen, out, outlen, 1) < 0 ? -1 : 1;
        }
        if (end == NULL) break;
        q = end + 1;
    }
    return 0;
}
