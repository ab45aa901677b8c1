/* keys: the one place keys are encoded.
 *
 * A key is a sequence of fields: big-endian unsigned integers (so byte order
 * is numeric order) and strings terminated by 0x00 (so "ab" sorts before
 * "abc" and a string prefix never matches a longer string). Strings must not
 * contain NUL; callers validate ids. Keys are at most STORE_KEY_MAX bytes
 * (LMDB's default limit); a key that would overflow is marked and rejected by
 * the store with STORE_EINVAL. */
#ifndef AS_STORE_KEYS_H
#define AS_STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_MAX 511

typedef struct {
    unsigned char buf[STORE_KEY_MAX];
    size_t len;
    int overflow;
} store_key;

void key_init(store_key *k);
void key_u8(store_key *k, uint8_t v);
void key_u64(store_key *k, uint64_t v);
void key_str(store_key *k, const char *s); /* bytes then 0x00 */
void key_raw(store_key *k, const void *p, size_t n);

uint64_t key_get_u64(const void *p); /* decode 8 big-endian bytes */

#endif
