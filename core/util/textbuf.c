/* util/textbuf: see textbuf.h. */
#include "util/textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL; 0, or -1 (tb->failed set). */
static int reserve(textbuf *tb, size_t n) {
    if (tb->failed) return -1;
    if (tb->len + n + 1 <= tb->cap) return 0;
    size_t cap = tb->cap ? tb->cap : 1024;
    while (cap < tb->len + n + 1) cap *= 2;
    char *grown = realloc(tb->buf, cap);
    if (grown == NULL) {
        tb->failed = 1;
        return -1;
    }
    tb->buf = grown;
    tb->cap = cap;
    return 0;
}

void tb_append_grow(textbuf *tb, const void *p, size_t n) {
    if (reserve(tb, n) != 0) return;
    memcpy(tb->buf + tb->len, p, n);
    tb->len += n;
    tb->buf[tb->len] = '\0';
}

void tb_printf(textbuf *tb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        tb->failed = 1;
        return;
    }
    if (reserve(tb, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(tb->buf + tb->len, tb->cap - tb->len, fmt, ap);
    va_end(ap);
    tb->len += (size_t)n;
}

char *tb_take(textbuf *tb, size_t *len) {
    char *text = tb->failed ? NULL : tb->buf;
    if (text == NULL) free(tb->buf);
    if (len) *len = text ? tb->len : 0;
    *tb = (textbuf){0};
    return text;
}

void tb_free(textbuf *tb) {
    free(tb->buf);
    *tb = (textbuf){0};
}
