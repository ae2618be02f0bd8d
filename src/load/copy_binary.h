/*
 * copy_binary.h
 *		Binary COPY data as stedi-load writes it (copy_binary.c): a buffer
 *		it is assembled in, and the tuples of landing.<kind> and
 *		landing.rejected.
 */
#ifndef LOAD_COPY_BINARY_H
#define LOAD_COPY_BINARY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fields.h"
#include "lines.h"
#include "stedi_common.h"

/* How much of a rejected line is kept in landing.rejected.raw_line. */
#define MAX_RAW_BYTES		8192

/*
 * A growable byte buffer that binary COPY data is assembled in.  The fast
 * appenders below are inline because they run a few times per field of
 * every row.
 */
typedef struct CopyBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} CopyBuf;

/* Make room for more bytes, doubling (a first buffer is 64 kB). */
extern void copybuf_grow(CopyBuf *buf, size_t more);

static inline void
copybuf_reserve(CopyBuf *buf, size_t more)
{
	if (buf->cap - buf->len < more)
		copybuf_grow(buf, more);
}

/* Binary COPY integers are big-endian ("network order"): nbytes of v. */
static inline void
copybuf_put_uint(CopyBuf *buf, uint64_t v, int nbytes)
{
	unsigned char *p;
	int			i;

	copybuf_reserve(buf, (size_t) nbytes);
	p = (unsigned char *) buf->data + buf->len;
	for (i = nbytes - 1; i >= 0; i--)
	{
		p[i] = (unsigned char) v;
		v >>= 8;
	}
	buf->len += (size_t) nbytes;
}

static inline void
copybuf_put_int16(CopyBuf *buf, int16_t v)
{
	copybuf_put_uint(buf, (uint16_t) v, 2);
}

static inline void
copybuf_put_int32(CopyBuf *buf, int32_t v)
{
	copybuf_put_uint(buf, (uint32_t) v, 4);
}

static inline void
copybuf_put_int64(CopyBuf *buf, int64_t v)
{
	copybuf_put_uint(buf, (uint64_t) v, 8);
}

/* A field: its length word, then its bytes. */
static inline void
copybuf_put_bytes(CopyBuf *buf, const char *bytes, size_t len)
{
	copybuf_put_int32(buf, (int32_t) len);
	copybuf_reserve(buf, len);
	memcpy(buf->data + buf->len, bytes, len);
	buf->len += len;
}

/* The header that starts binary COPY data, and the trailer that ends it. */
extern void copy_put_header(CopyBuf *buf);
extern void copy_put_trailer(CopyBuf *buf);

/*
 * A tuple of landing.<kind>: the nfields converted values (in the column
 * order of fields), then file_id and line_number.
 */
extern void copy_put_record(CopyBuf *buf, const FieldSpec *fields,
							const FieldValue *values, int nfields,
							int32_t file_id, int64_t line_number);

/* The email and serial number a rejected line carries (NULL: none). */
typedef struct RejectedIdentity
{
	const char *email;
	size_t		email_len;
	const char *serial;
	size_t		serial_len;
} RejectedIdentity;

/*
 * A tuple of landing.rejected: (kind, file_id, line_number, byte_offset,
 * reason, raw_line, email, serial_number).
 */
extern void copy_put_rejected(CopyBuf *buf, StediKind kind, int32_t file_id,
							  const Line *line, const char *reason,
							  const RejectedIdentity *id);

#endif							/* LOAD_COPY_BINARY_H */
