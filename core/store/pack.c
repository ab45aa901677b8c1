/* store/pack: see pack.h. */
#include "store/pack.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Generated from history-v1.dict by the build (scripts/embed-bytes.cmake). */
extern const unsigned char history_v1_dict[];
extern const size_t history_v1_dict_len;

/* zstd's default level: on these small records it packs as tight as the
 * higher ones within a few bytes, at a fraction of their time. */
#define PACK_LEVEL 3
/* A value unpacks to at most this (the store's largest values are timeline
 * pages of entries of 16 KiB messages, far below). */
#define UNPACK_MAX (64u << 20)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static ZSTD_CDict *cdict_v1;
static ZSTD_DDict *ddict_v1;

static void build_dicts(void) {
    cdict_v1 = ZSTD_createCDict(history_v1_dict, history_v1_dict_len, PACK_LEVEL);
    ddict_v1 = ZSTD_createDDict(history_v1_dict, history_v1_dict_len);
}

int pack_init(void) {
    pthread_once(&once, build_dicts);
    return cdict_v1 && ddict_v1 ? 0 : -1;
}

struct pack_ctx {
    ZSTD_CCtx *cctx;
};

pack_ctx *pack_ctx_new(void) {
    if (pack_init() != 0) return NULL;
    pack_ctx *pc = malloc(sizeof *pc);
    if (pc == NULL) return NULL;
    if ((pc->cctx = ZSTD_createCCtx()) == NULL) {
        free(pc);
        return NULL;
    }
    /* no checksum: 4 bytes a record for what LMDB already guarantees */
    if (ZSTD_isError(ZSTD_CCtx_setParameter(pc->cctx, ZSTD_c_checksumFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(pc->cctx, ZSTD_c_contentSizeFlag, 1))) {
        pack_ctx_free(pc);
        return NULL;
    }
    return pc;
}

void pack_ctx_free(pack_ctx *pc) {
    if (pc == NULL) return;
    ZSTD_freeCCtx(pc->cctx);
    free(pc);
}

int pack_value(pack_ctx *pc, const void *src, size_t n, unsigned char **out, size_t *outlen) {
    *out = NULL;
    *outlen = 0;
    if (n < PACK_MIN) return 0;
    size_t cap = 1 + ZSTD_compressBound(n);
    unsigned char *dst = malloc(cap);
    if (dst == NULL) return -1;
    dst[0] = PACK_TAG_V1;
    if (ZSTD_isError(ZSTD_CCtx_refCDict(pc->cctx, cdict_v1))) {
        free(dst);
        return -1;
    }
    size_t z = ZSTD_compress2(pc->cctx, dst + 1, cap - 1, src, n);
    if (ZSTD_isError(z) || 1 + z >= n) { /* an error here is memory: the bound always fits */
        free(dst);
        return ZSTD_isError(z) ? -1 : 0;
    }
    *out = dst;
    *outlen = 1 + z;
    return 1;
}

int pack_is_packed(const void *v, size_t n) {
    return n > 0 && ((const unsigned char *)v)[0] == PACK_TAG_V1;
}

static int reserve(unpack_buf *b, size_t need) {
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) cap *= 2;
    char *p = realloc(b->buf, cap);
    if (p == NULL) return -1;
    b->buf = p;
    b->cap = cap;
    return 0;
}

int unpack_value(unpack_buf *b, const void *v, size_t n, const char **text, size_t *len) {
    const unsigned char *p = v;
    if (n == 0 || p[0] >= PACK_TAG_PLAIN_MIN) { /* plain JSON text */
        *text = v;
        *len = n;
        return 0;
    }
    if (p[0] != PACK_TAG_V1) return -1; /* a tag this build does not know */
    if (pack_init() != 0) return -1;
    unsigned long long size = ZSTD_getFrameContentSize(p + 1, n - 1);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > UNPACK_MAX) return -1;
    if (b->dctx == NULL && (b->dctx = ZSTD_createDCtx()) == NULL) return -1;
    if (reserve(b, (size_t)size + 1) != 0) return -1;
    size_t got = ZSTD_decompress_usingDDict(b->dctx, b->buf, (size_t)size, p + 1, n - 1, ddict_v1);
    if (ZSTD_isError(got) || got != size) return -1;
    b->buf[got] = '\0';
    *text = b->buf;
    *len = got;
    return 0;
}

void unpack_buf_free(unpack_buf *b) {
    ZSTD_freeDCtx(b->dctx);
    free(b->buf);
    b->dctx = NULL;
    b->buf = NULL;
    b->cap = 0;
}
