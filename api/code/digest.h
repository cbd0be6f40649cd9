/* digest: base64 and SHA-256 for code intake and the API, through OpenSSL's libcrypto.
 *
 * Contract:
 * - digest_b64_decode() decodes standard base64 (RFC 4648 alphabet, '='
 *   padding; whitespace and line breaks are skipped) into a new buffer the
 *   caller frees. Any other character, or a length that is not whole
 *   quanta, is -EINVAL: nothing is silently dropped.
 * - digest_b64_encode() encodes into a new NUL-terminated string (no line
 *   breaks); NULL if out of memory.
 * - digest_sha256_b64() is Lambda's CodeSha256: base64 of the 32-byte
 *   SHA-256 of the buffer, 44 characters and a NUL.
 * Errors: -EINVAL, -ENOMEM. Thread: any. */
#ifndef EMBER_API_DIGEST_H
#define EMBER_API_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_SHA256_B64_LEN 44

int digest_b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len);
char *digest_b64_encode(const void *in, size_t len);
int digest_sha256_b64(const void *buf, size_t len, char out[DIGEST_SHA256_B64_LEN + 1]);

#endif
