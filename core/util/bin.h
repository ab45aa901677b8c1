/* util/bin: a compact binary record format: varints and length-prefixed
 * strings, written in a fixed field order by the record's own codec.
 *
 * Integers are zigzag varints (small and negative numbers take few bytes);
 * a string is its length + 1 as a varint then its bytes, 0 standing for NULL.
 * The reader checks every length against what is left and remembers its
 * first failure (br.failed), so a decoder reads field after field and looks
 * once at the end: a truncated or damaged record fails, never overruns. */
#ifndef AS_UTIL_BIN_H
#define AS_UTIL_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "util/textbuf.h"

void bw_u64(textbuf *tb, uint64_t v);
void bw_i64(textbuf *tb, int64_t v);
/* s may be NULL; a string with a NUL byte is cut there (ids and texts never hold one). */
void bw_str(textbuf *tb, const char *s);

typedef struct {
    const unsigned char *p, *end;
    int failed;
} bin_reader;

void br_init(bin_reader *r, const void *data, size_t len);
uint64_t br_u64(bin_reader *r);
int64_t br_i64(bin_reader *r);
/* A malloc'd copy (NULL for a NULL string, or on failure with r->failed). */
char *br_str(bin_reader *r);
/* Into a fixed buffer; a string longer than cap - 1 fails the reader. */
void br_str_into(bin_reader *r, char *dst, size_t cap);

#endif
