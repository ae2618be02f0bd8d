/*
 * copy_binary.c
 *		The binary COPY data stedi-load sends: a tuple of landing.<kind> for
 *		each line loaded, one of landing.rejected for each line rejected.
 *
 * Binary COPY (rather than text COPY) means the server does no parsing at
 * all, and we need no escaping: each field is a length word and the value in
 * the type's send format.  The formats we produce are
 *
 *		text			the UTF-8 bytes, as they are
 *		date			int32 days since 2000-01-01
 *		timestamptz		int64 microseconds since 2000-01-01 00:00 UTC
 *		integer			int32
 *		float8			IEEE 754 double
 *		bigint			int64
 *
 * all big-endian.  Because the server does not check these beyond their
 * length, everything it would have checked is checked before (fields.c):
 * text must be valid UTF-8 without NUL, dates and times must be in
 * PostgreSQL's range.  A value the server would refuse would otherwise
 * abort the whole file.
 */
#include "copy_binary.h"
#include "utf8.h"
#include "util.h"

void
copybuf_grow(CopyBuf *buf, size_t more)
{
	size_t		newcap = buf->cap > 0 ? buf->cap : 64 * 1024;

	while (newcap - buf->len < more)
		newcap *= 2;
	buf->data = load_realloc(buf->data, newcap);
	buf->cap = newcap;
}

void
copy_put_header(CopyBuf *buf)
{
	/* signature, flags (no OIDs), header extension length */
	static const char signature[11] = "PGCOPY\n\377\r\n\0";

	copybuf_reserve(buf, sizeof(signature));
	memcpy(buf->data + buf->len, signature, sizeof(signature));
	buf->len += sizeof(signature);
	copybuf_put_int32(buf, 0);
	copybuf_put_int32(buf, 0);
}

void
copy_put_trailer(CopyBuf *buf)
{
	copybuf_put_int16(buf, -1);
}

void
copy_put_record(CopyBuf *buf, const FieldSpec *fields,
				const FieldValue *values, int nfields, int32_t file_id,
				int64_t line_number)
{
	int			i;

	copybuf_put_int16(buf, (int16_t) (nfields + 2));
	for (i = 0; i < nfields; i++)
	{
		const FieldValue *v = &values[i];
		uint64_t	bits;

		if (v->isnull)
		{
			copybuf_put_int32(buf, -1);
			continue;
		}
		switch (fields[i].type)
		{
			case FIELD_TEXT:
				copybuf_put_bytes(buf, v->str, v->len);
				break;
			case FIELD_DATE:
			case FIELD_INT4:
				copybuf_put_int32(buf, 4);
				copybuf_put_int32(buf, (int32_t) v->i64);
				break;
			case FIELD_TIME:
				copybuf_put_int32(buf, 8);
				copybuf_put_int64(buf, v->i64);
				break;
			case FIELD_FLOAT8:
				memcpy(&bits, &v->f8, sizeof(bits));
				copybuf_put_int32(buf, 8);
				copybuf_put_int64(buf, (int64_t) bits);
				break;
		}
	}
	copybuf_put_int32(buf, 4);
	copybuf_put_int32(buf, file_id);
	copybuf_put_int32(buf, 8);
	copybuf_put_int64(buf, line_number);
}

/*
 * Append a rejected line's text as a text field, made fit for a text column
 * of a UTF8 database and cut to MAX_RAW_BYTES (see utf8_text_piece), never
 * within a character.  Valid lines are stored unchanged apart from the cut.
 */
static void
put_raw_line(CopyBuf *buf, const char *data, size_t len)
{
	size_t		lenpos;
	size_t		out = 0;
	size_t		i = 0;
	char	   *dst;

	copybuf_put_int32(buf, 0);	/* length, filled in below */
	lenpos = buf->len - 4;
	copybuf_reserve(buf, MAX_RAW_BYTES);
	dst = buf->data + buf->len;

	while (i < len)
	{
		const char *piece;
		size_t		piecelen;
		int			n = utf8_text_piece(data + i, len - i, &piece, &piecelen);

		if (out + piecelen > MAX_RAW_BYTES)
			break;
		memcpy(dst + out, piece, piecelen);
		out += piecelen;
		i += (size_t) n;
	}

	buf->len += out;
	buf->data[lenpos] = (char) (out >> 24);
	buf->data[lenpos + 1] = (char) (out >> 16);
	buf->data[lenpos + 2] = (char) (out >> 8);
	buf->data[lenpos + 3] = (char) out;
}

/* An identity field, or NULL. */
static void
put_identity(CopyBuf *buf, const char *str, size_t len)
{
	if (str == NULL)
		copybuf_put_int32(buf, -1);
	else
		copybuf_put_bytes(buf, str, len);
}

void
copy_put_rejected(CopyBuf *buf, StediKind kind, int32_t file_id,
				  const Line *line, const char *reason,
				  const RejectedIdentity *id)
{
	const char *kindname = stedi_kind_name[kind];

	copybuf_put_int16(buf, 8);
	copybuf_put_bytes(buf, kindname, strlen(kindname));
	copybuf_put_int32(buf, 4);
	copybuf_put_int32(buf, file_id);
	copybuf_put_int32(buf, 8);
	copybuf_put_int64(buf, line->number);
	copybuf_put_int32(buf, 8);
	copybuf_put_int64(buf, line->offset);
	copybuf_put_bytes(buf, reason, strlen(reason));
	put_raw_line(buf, line->data, line->len);
	put_identity(buf, id->email, id->email_len);
	put_identity(buf, id->serial, id->serial_len);
}
