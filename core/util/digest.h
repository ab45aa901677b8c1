/* util/digest: SHA-256 as lowercase hex, on OpenSSL's libcrypto.
 *
 * One place for the content hashes the server shows or keys on: a policy
 * set's file hashes and version, an idempotency record's request body and
 * the token it is keyed by. */
#ifndef AS_UTIL_DIGEST_H
#define AS_UTIL_DIGEST_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* out gets 64 hex digits and a NUL. 0, or -1 if libcrypto failed. */
int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
