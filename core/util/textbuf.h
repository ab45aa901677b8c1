/* util/textbuf: a growing text buffer for building answers and pages.
 *
 * The first allocation failure is remembered (tb.failed) and makes every
 * later call a no-op, so a builder appends without checking each step and
 * looks once at the end. The text is always NUL-terminated once non-empty. */
#ifndef AS_UTIL_TEXTBUF_H
#define AS_UTIL_TEXTBUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} textbuf;

/* Grows tb for n more bytes and appends them (the slow path of tb_append). */
void tb_append_grow(textbuf *tb, const void *p, size_t n);
/* Appends n bytes: inline while they fit, which is nearly always. */
static inline void tb_append(textbuf *tb, const void *p, size_t n) {
    if (tb->len + n + 1 <= tb->cap && !tb->failed) {
        memcpy(tb->buf + tb->len, p, n);
        tb->len += n;
        tb->buf[tb->len] = '\0';
        return;
    }
    tb_append_grow(tb, p, n);
}
void tb_printf(textbuf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text over (the caller frees it) and resets tb; NULL if any
 * append failed. */
char *tb_take(textbuf *tb, size_t *len);
void tb_free(textbuf *tb);

#endif
