/* util/digest: SHA-256 as hex (see digest.h). */
#include "util/digest.h"

#include <openssl/evp.h>
#include <stdio.h>

int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) return -1;
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}
