/* store/keys: the key encoder of keys.h.
 *
 * A key that would not fit is marked twice: `overflow` for the caller, and
 * `len` set to STORE_KEY_MAX + 1 so that a caller who passes (buf, len) to the
 * store without checking the flag still gets STORE_EINVAL instead of a
 * silently truncated key. Nothing is ever written past buf. */
#include "store/keys.h"

#include <string.h>

void key_init(store_key *k) {
    k->len = 0;
    k->overflow = 0;
}

/* Reserves n bytes, or marks the key as overflowed. */
static unsigned char *key_room(store_key *k, size_t n) {
    if (k->overflow) return NULL;
    if (k->len > STORE_KEY_MAX || n > STORE_KEY_MAX - k->len) {
        k->overflow = 1;
        k->len = STORE_KEY_MAX + 1;
        return NULL;
    }
    unsigned char *p = k->buf + k->len;
    k->len += n;
    return p;
}

void key_u8(store_key *k, uint8_t v) {
    unsigned char *p = key_room(k, 1);
    if (p) *p = v;
}

void key_u64(store_key *k, uint64_t v) {
    unsigned char *p = key_room(k, 8);
    if (p == NULL) return;
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (56 - 8 * i));
}

void key_str(store_key *k, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n >= STORE_KEY_MAX) { /* also keeps n + 1 from wrapping */
        key_room(k, STORE_KEY_MAX + 1);
        return;
    }
    unsigned char *p = key_room(k, n + 1);
    if (p == NULL) return;
    if (n) memcpy(p, s, n);
    p[n] = 0;
}

void key_raw(store_key *k, const void *src, size_t n) {
    unsigned char *p = key_room(k, n);
    if (p && n) memcpy(p, src, n);
}

uint64_t key_get_u64(const void *p) {
    const unsigned char *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | b[i];
    return v;
}
