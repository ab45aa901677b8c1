/* util/bin: see bin.h. */
#include "util/bin.h"

#include <stdlib.h>
#include <string.h>

void bw_u64(textbuf *tb, uint64_t v) {
    unsigned char buf[10];
    size_t n = 0;
    while (v >= 0x80) {
        buf[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    buf[n++] = (unsigned char)v;
    tb_append(tb, buf, n);
}

void bw_i64(textbuf *tb, int64_t v) { bw_u64(tb, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

void bw_str(textbuf *tb, const char *s) {
    if (s == NULL) {
        bw_u64(tb, 0);
        return;
    }
    size_t n = strlen(s);
    bw_u64(tb, (uint64_t)n + 1);
    tb_append(tb, s, n);
}

void br_init(bin_reader *r, const void *data, size_t len) {
    r->p = data;
    r->end = r->p + len;
    r->failed = 0;
}

uint64_t br_u64(bin_reader *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && !r->failed; shift += 7) {
        if (r->p == r->end) break;
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) return v;
    }
    r->failed = 1;
    return 0;
}

int64_t br_i64(bin_reader *r) {
    uint64_t u = br_u64(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* The length of the next string (+1 encoded), or -1 for NULL/failure. */
static int64_t str_len(bin_reader *r) {
    uint64_t n = br_u64(r);
    if (r->failed || n == 0) return -1;
    if (n - 1 > (uint64_t)(r->end - r->p)) {
        r->failed = 1;
        return -1;
    }
    return (int64_t)(n - 1);
}

char *br_str(bin_reader *r) {
    int64_t n = str_len(r);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL) {
        r->failed = 1;
        return NULL;
    }
    memcpy(s, r->p, (size_t)n);
    s[n] = '\0';
    r->p += n;
    return s;
}

void br_str_into(bin_reader *r, char *dst, size_t cap) {
    int64_t n = str_len(r);
    dst[0] = '\0';
    if (n < 0) return;
    if ((size_t)n >= cap) {
        r->failed = 1;
        return;
    }
    memcpy(dst, r->p, (size_t)n);
    dst[n] = '\0';
    r->p += n;
}
