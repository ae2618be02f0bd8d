/*
 * digest.h
 *		SHA-256 of a file's bytes, shared by the stedi client programs:
 *		stedi-load knows a file by it, stedi-export writes it into its
 *		manifest.
 */
#ifndef STEDI_DIGEST_H
#define STEDI_DIGEST_H

#include <stdbool.h>

#define SHA256_BYTES		32

/* Hash the whole file from its start; leaves the offset at the end. */
extern bool file_sha256(int fd, unsigned char digest[SHA256_BYTES]);
extern void sha256_hex(const unsigned char digest[SHA256_BYTES],
					   char hex[2 * SHA256_BYTES + 1]);

#endif							/* STEDI_DIGEST_H */
