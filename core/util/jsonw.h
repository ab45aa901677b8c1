/* util/jsonw: a streaming JSON writer, the emitter sink that produces text.
 *
 * Writes compact JSON into a textbuf as the emitter calls arrive: commas and
 * colons are placed by the writer, strings are escaped, and bytes that are not
 * valid UTF-8 (and NUL, which Jansson refuses as \u0000) are replaced by
 * U+FFFD, so whatever a policy or a client handed in, the text stored is
 * always valid JSON that Jansson reads back (raw values are our own encoders'
 * output, spliced as they are: see emit.h). Nesting is
 * bounded (JSONW_MAX_DEPTH); a deeper document fails the writer like an
 * allocation failure does (textbuf.failed). */
#ifndef AS_UTIL_JSONW_H
#define AS_UTIL_JSONW_H

#include "util/emit.h"
#include "util/textbuf.h"

#define JSONW_MAX_DEPTH 64

typedef struct {
    emitter base;
    textbuf *tb;
    int depth;
    int after_key;                            /* a key was written, its value is next */
    unsigned char first[JSONW_MAX_DEPTH + 1]; /* no member written yet at this depth */
} jsonw;

void jsonw_init(jsonw *w, textbuf *tb);
static inline emitter *jsonw_emitter(jsonw *w) { return &w->base; }

/* Appends s as a JSON string literal (quotes included), escaped and with
 * invalid UTF-8 replaced. */
void jsonw_quote(textbuf *tb, const char *s, size_t len);

#endif
