/* store/pack: history records (the feed, the timelines) stored compressed
 * against a dictionary of their own shapes.
 *
 * A feed event or a timeline group is JSON text of which most bytes repeat
 * from record to record: member names, vocabularies, the envelope, a policy
 * version. zstd with a fixed dictionary made of such records
 * (history-v1.dict, written by scripts/history-dict) keeps only what is new
 * in each: a return's case.created event goes from 1.3 KB to about 0.2 KB,
 * its timeline group from 3 KB to 0.35 KB. These databases are written once
 * and read seldom (a timeline page, the feed, a replay), so the few µs of
 * compression go to the writer thread and the reads pay less than a µs per
 * record. Live records (cases, orders, indexes) stay plain: they are read
 * and rewritten by every request.
 *
 * A stored value says how it is stored by its first byte: '{' is plain JSON
 * (everything written before packing existed, and records too small to gain),
 * PACK_TAG_V1 is a zstd frame against dictionary v1 (without checksum: LMDB
 * pages are not torn, and a damaged frame still fails to decode). A
 * dictionary in use is frozen; a better one comes with a tag of its own, and
 * every tag ever used stays readable.
 *
 * Thread safety: the dictionaries are built once (pack_init, or the first
 * call) and only read after; each pack_ctx / unpack_buf belongs to one thread. */
#ifndef AS_STORE_PACK_H
#define AS_STORE_PACK_H

#include <stddef.h>

#define PACK_TAG_V1 0x01
/* Tags are control bytes; JSON text never starts with one, so a first byte
 * from here on is plain text. */
#define PACK_TAG_PLAIN_MIN 0x20
/* Smaller values are stored plain: the frame header would eat the gain. */
#define PACK_MIN 96

/* Builds the dictionaries: 0, or -1 when out of memory. Idempotent and
 * thread-safe; store_open calls it so a later failure cannot happen mid-commit. */
int pack_init(void);

/* The writer's side. */
typedef struct pack_ctx pack_ctx;
pack_ctx *pack_ctx_new(void); /* NULL: out of memory */
void pack_ctx_free(pack_ctx *pc);
/* Packs src (n bytes of JSON text) into *out (malloc'd, *outlen bytes):
 * 1 packed, 0 not worth it (small, or no smaller: store src as it is), -1
 * out of memory. */
int pack_value(pack_ctx *pc, const void *src, size_t n, unsigned char **out, size_t *outlen);

/* The readers' side: a buffer a thread reuses for the values it unpacks. */
typedef struct {
    void *dctx; /* ZSTD_DCtx, made on first use */
    char *buf;
    size_t cap;
} unpack_buf;

#define UNPACK_BUF_INIT {NULL, NULL, 0}

/* The JSON text of stored value v (n bytes): v itself when stored plain
 * (then as LMDB gives it: not NUL-terminated), else unpacked into b
 * (NUL-terminated; valid until the next call with b).
 * 0, or -1 when v is damaged, of a tag this build does not know (a control
 * byte other than PACK_TAG_V1), or memory ran out. */
int unpack_value(unpack_buf *b, const void *v, size_t n, const char **text, size_t *len);
void unpack_buf_free(unpack_buf *b);

/* 1 if v (n bytes) is stored packed. */
int pack_is_packed(const void *v, size_t n);

#endif
