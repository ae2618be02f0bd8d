/*
 * digest.c
 *		The content hash that makes loading idempotent (stedi-load), and
 *		that a manifest gives of each file written (stedi-export).
 *
 * A file is known by the SHA-256 of its bytes, not by its name or its
 * modification time: a file copied, renamed or touched is the same file,
 * and one rewritten in place is a new one.  OpenSSL's implementation uses
 * the CPU's SHA instructions where there are any, so hashing costs a
 * fraction of loading.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "digest.h"

#define READ_CHUNK	(1024 * 1024)

bool
file_sha256(int fd, unsigned char digest[SHA256_BYTES])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *buf = malloc(READ_CHUNK);
	unsigned int len = 0;
	bool		ok = false;
	ssize_t		n;

	if (ctx == NULL || buf == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto done;
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto done;
	while ((n = read(fd, buf, READ_CHUNK)) != 0)
	{
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t) n) != 1)
			goto done;
	}
	ok = EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len == SHA256_BYTES;

done:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ok;
}

void
sha256_hex(const unsigned char digest[SHA256_BYTES],
		   char hex[2 * SHA256_BYTES + 1])
{
	static const char digits[] = "0123456789abcdef";
	int			i;

	for (i = 0; i < SHA256_BYTES; i++)
	{
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0x0f];
	}
	hex[2 * SHA256_BYTES] = '\0';
}
