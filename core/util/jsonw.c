/* util/jsonw: see jsonw.h. */
#include "util/jsonw.h"

#include <inttypes.h>
#include <stdio.h>

static jsonw *W(emitter *e) { return (jsonw *)e; }

/* Before a value: the comma that separates it from the previous one. */
static void before_value(jsonw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (!w->first[w->depth]) tb_append(w->tb, ",", 1);
        w->first[w->depth] = 0;
    }
}

static void level_open(jsonw *w, char c) {
    before_value(w);
    if (w->depth == JSONW_MAX_DEPTH) {
        w->tb->failed = 1;
        return;
    }
    tb_append(w->tb, &c, 1);
    w->first[++w->depth] = 1;
}

static void level_close(jsonw *w, char c) {
    if (w->depth > 0) w->depth--;
    tb_append(w->tb, &c, 1);
}

static void w_object_begin(emitter *e, int size) {
    (void)size;
    level_open(W(e), '{');
}
static void w_object_end(emitter *e) { level_close(W(e), '}'); }
static void w_array_begin(emitter *e) { level_open(W(e), '['); }
static void w_array_end(emitter *e) { level_close(W(e), ']'); }

static void w_key(emitter *e, const char *k) {
    jsonw *w = W(e);
    if (!w->first[w->depth]) tb_append(w->tb, ",", 1);
    w->first[w->depth] = 0;
    jsonw_quote(w->tb, k, strlen(k));
    tb_append(w->tb, ":", 1);
    w->after_key = 1;
}

static void w_string(emitter *e, const char *s, size_t len) {
    before_value(W(e));
    jsonw_quote(W(e)->tb, s, len);
}

/* Decimal digits of v, written backwards from the end of buf (no printf:
 * integers are most of what a document holds). Returns the first digit. */
static char *format_i64(int64_t v, char *end) {
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = end;
    do *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0) *--p = '-';
    return p;
}

static void w_integer(emitter *e, int64_t v) {
    jsonw *w = W(e);
    before_value(w);
    char num[24];
    char *p = format_i64(v, num + sizeof num);
    tb_append(w->tb, p, (size_t)(num + sizeof num - p));
}

static void w_boolean(emitter *e, int v) {
    before_value(W(e));
    tb_append(W(e)->tb, v ? "true" : "false", v ? 4 : 5);
}

static void w_null(emitter *e) {
    before_value(W(e));
    tb_append(W(e)->tb, "null", 4);
}

/* Raw JSON comes from our own encoders (see emit.h): spliced as it is. */
static void w_raw(emitter *e, const char *json, size_t len) {
    jsonw *w = W(e);
    before_value(w);
    tb_append(w->tb, json, len);
}

static const emitter_ops jsonw_ops = {
    w_object_begin, w_object_end, w_array_begin, w_array_end, w_key,
    w_string,       w_integer,    w_boolean,     w_null,      w_raw,
};

void jsonw_init(jsonw *w, textbuf *tb) {
    w->base.ops = &jsonw_ops;
    w->tb = tb;
    w->depth = 0;
    w->after_key = 0;
    w->first[0] = 1;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_valid_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
    else return 0;
    if (len > n) return 0;
    unsigned cp = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* Bytes a string may hold as they are: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
    R16(0), R16(0), /* controls */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* space ! " # ... */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* ... [ \ ] ^ _ */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* >= 0x80: checked as UTF-8 */
#undef R16
};

void jsonw_quote(textbuf *tb, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;
    tb_append(tb, "\"", 1);
    while (p < end) {
        while (p < end && plain[*p]) p++;
        if (p == end) break;
        unsigned c = *p;
        size_t ok = c >= 0x80 ? utf8_valid_len(p, (size_t)(end - p)) : 0;
        if (ok) {
            p += ok;
            continue;
        }
        tb_append(tb, run, (size_t)(p - run)); /* the clean run before this byte */
        if (c >= 0x80 || c == 0) {
            /* U+FFFD for a byte that starts no character, and for NUL: Jansson
             * (and so every reader of stored text) refuses \u0000 */
            tb_append(tb, "\xEF\xBF\xBD", 3);
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            tb_append(tb, esc, 2);
        } else if (c == '\n') {
            tb_append(tb, "\\n", 2);
        } else if (c == '\t') {
            tb_append(tb, "\\t", 2);
        } else if (c == '\r') {
            tb_append(tb, "\\r", 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            tb_append(tb, esc, 6);
        }
        run = ++p;
    }
    tb_append(tb, run, (size_t)(p - run));
    tb_append(tb, "\"", 1);
}
