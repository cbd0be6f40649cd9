/* digest: base64 decode/encode and SHA-256 with libcrypto's EVP (see digest.h). */
#include "api/code/digest.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define CHUNK (1u << 20) /* EVP takes int lengths: feed it in slices */

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int digest_b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
	EVP_ENCODE_CTX *ctx;
	size_t total = 0, quanta = 0;
	bool pad = false;
	uint8_t *buf;
	int n, ret = -EINVAL;

	/* libcrypto takes '-' as an end marker and ignores what follows; check
	 * the alphabet (and that '=' only ends the text) ourselves first. */
	for (size_t i = 0; i < len; i++) {
		if (space(in[i]))
			continue;
		if (!b64_char(in[i]) || (pad && in[i] != '='))
			return -EINVAL;
		pad = pad || in[i] == '=';
		quanta++;
	}
	if (quanta % 4 != 0)
		return -EINVAL;
	buf = malloc(quanta / 4 * 3 + 1);
	ctx = EVP_ENCODE_CTX_new();
	if (buf == NULL || ctx == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	EVP_DecodeInit(ctx);
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t slice = len - off < CHUNK ? len - off : CHUNK;

		if (EVP_DecodeUpdate(ctx, buf + total, &n, (const unsigned char *)in + off,
				     (int)slice) < 0)
			goto err;
		total += (size_t)n;
	}
	if (EVP_DecodeFinal(ctx, buf + total, &n) < 0)
		goto err;
	total += (size_t)n;
	EVP_ENCODE_CTX_free(ctx);
	*out = buf;
	*out_len = total;
	return 0;

err:
	EVP_ENCODE_CTX_free(ctx);
	free(buf);
	return ret;
}

char *digest_b64_encode(const void *in, size_t len)
{
	const unsigned char *p = in;
	size_t cap, pos = 0;
	char *out;

	if (len > SIZE_MAX / 2)
		return NULL;
	cap = (len + 2) / 3 * 4 + 1;
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	/* Slices that are whole 3-byte groups encode without padding in the middle. */
	for (size_t off = 0; off < len;) {
		size_t slice = len - off < CHUNK / 4 * 3 ? len - off : CHUNK / 4 * 3;

		pos += (size_t)EVP_EncodeBlock((unsigned char *)out + pos, p + off, (int)slice);
		off += slice;
	}
	out[pos] = '\0';
	return out;
}

int digest_sha256_b64(const void *buf, size_t len, char out[DIGEST_SHA256_B64_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -EINVAL;
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	out[DIGEST_SHA256_B64_LEN] = '\0';
	return 0;
}
