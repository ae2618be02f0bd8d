/*
 * stedi_load.h
 *		Internal interfaces of stedi-load, shared by its source files:
 *
 *		files.c			which files a command line names, their kind, and
 *						what it passes over
 *		lines.c			reading a file (maybe gzip) line by line with
 *						bounded memory
 *		parse.c			one JSON line -> one binary COPY tuple (or a reason),
 *						and the unknown field names of a file
 *		stedi-load.c	command line, connection, one transaction per file
 *
 * Not installed; the stedi backend never includes it.
 */
#ifndef STEDI_LOAD_H
#define STEDI_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "stedi_common.h"
#include "util.h"

/*
 * A line longer than this is rejected without being parsed.  It bounds the
 * reader's buffer, and so the memory stedi-load needs, whatever the input.
 */
#define MAX_LINE_BYTES		(1024 * 1024)

/* How much of a rejected line is kept in landing.rejected.raw_line. */
#define MAX_RAW_BYTES		8192

#include "files.h"
#include "utf8.h"


/* ---- ../common/digest.c ---- */

#include "digest.h"


/* ---- report.c: what a person or a program sees of a run ---- */

typedef enum FileOutcome
{
	FILE_LOADED,
	FILE_SKIPPED,				/* its content was loaded before */
	FILE_FAILED					/* rolled back */
} FileOutcome;

typedef struct FileResult
{
	FileOutcome outcome;
	char		sha256[2 * SHA256_BYTES + 1];
	int32_t		file_id;		/* the new one, or the earlier one if skipped */
	int64_t		size_bytes;
	int64_t		lines;
	int64_t		loaded;
	int64_t		rejected;
	int64_t		extra_fields;
	double		seconds;
	const char *message;		/* why it failed */
	struct UnknownFields *unknown;	/* a loaded file's unknown field names */
	const char *unknown_json;	/* the same as a JSON object */

	/*
	 * The three pointers are lent to report_file for the call only; it
	 * keeps copies of what it needs.
	 */
} FileResult;

typedef struct Report Report;

extern Report *report_start(const FileList *list, bool quiet, bool json,
							bool progress);
extern void report_progress(Report *report, int64_t file_bytes_done,
							int64_t file_rows);
extern void report_file(Report *report, const LoadFile *f,
						const FileResult *result);
extern int	report_finish(Report *report, bool stopped);
extern void report_json_error(const char *message, int status);


/* ---- lines.c ---- */

typedef struct LineReader LineReader;

typedef struct Line
{
	char	   *data;			/* line without "\n" / "\r\n"; see too_long */
	size_t		len;
	int64_t		number;			/* 1-based physical line number */
	int64_t		offset;			/* byte offset of data[0] in the file */
	bool		has_newline;	/* false for a last line cut off at EOF */
	bool		too_long;		/* len > MAX_LINE_BYTES; data is only the
								 * head of the line and is not terminated */
} Line;

extern LineReader *line_reader_open(int fd, bool gzip);
extern int	line_reader_next(LineReader *reader, Line *line);
extern const char *line_reader_error(const LineReader *reader);
extern bool line_reader_data_error(const LineReader *reader);
extern int64_t line_reader_stored_offset(const LineReader *reader,
										 const Line *line);
extern void line_reader_free(LineReader *reader);


/* ---- parse.c ---- */

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

extern void copybuf_grow(CopyBuf *buf, size_t more);

static inline void
copybuf_reserve(CopyBuf *buf, size_t more)
{
	if (buf->cap - buf->len < more)
		copybuf_grow(buf, more);
}

/* Binary COPY integers are big-endian ("network order"). */
static inline void
copybuf_put_int16(CopyBuf *buf, int16_t v)
{
	unsigned char *p;
	uint16_t	u = (uint16_t) v;

	copybuf_reserve(buf, 2);
	p = (unsigned char *) buf->data + buf->len;
	p[0] = (unsigned char) (u >> 8);
	p[1] = (unsigned char) u;
	buf->len += 2;
}

static inline void
copybuf_put_int32(CopyBuf *buf, int32_t v)
{
	unsigned char *p;
	uint32_t	u = (uint32_t) v;

	copybuf_reserve(buf, 4);
	p = (unsigned char *) buf->data + buf->len;
	p[0] = (unsigned char) (u >> 24);
	p[1] = (unsigned char) (u >> 16);
	p[2] = (unsigned char) (u >> 8);
	p[3] = (unsigned char) u;
	buf->len += 4;
}

static inline void
copybuf_put_int64(CopyBuf *buf, int64_t v)
{
	unsigned char *p;
	uint64_t	u = (uint64_t) v;
	int			i;

	copybuf_reserve(buf, 8);
	p = (unsigned char *) buf->data + buf->len;
	for (i = 7; i >= 0; i--)
	{
		p[i] = (unsigned char) u;
		u >>= 8;
	}
	buf->len += 8;
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

extern void copy_put_header(CopyBuf *buf);
extern void copy_put_trailer(CopyBuf *buf);
/* The email and serial number a rejected line carries (NULL: none). */
typedef struct RejectedIdentity
{
	const char *email;
	size_t		email_len;
	const char *serial;
	size_t		serial_len;
} RejectedIdentity;

extern void copy_put_rejected(CopyBuf *buf, StediKind kind, int32_t file_id,
							  const Line *line, const char *reason,
							  const RejectedIdentity *id);

typedef struct RecordParser RecordParser;
typedef struct UnknownFields UnknownFields;

extern RecordParser *record_parser_create(StediKind kind);
extern void record_parser_free(RecordParser *parser);
extern const char *record_copy_columns(StediKind kind);
extern const char *record_parse(RecordParser *parser, const Line *line,
								int32_t file_id, CopyBuf *out,
								UnknownFields *unknown);
extern void record_rejected_identity(const RecordParser *parser,
									 RejectedIdentity *id);

/* the unknown field names of one file's loaded records, with counts */
extern UnknownFields *unknown_fields_create(void);
extern void unknown_fields_reset(UnknownFields *u);
extern void unknown_fields_free(UnknownFields *u);
extern void unknown_fields_add_record(UnknownFields *u,
									  const char *const *keys,
									  const size_t *lens, size_t nkeys,
									  int64_t count);
extern int64_t unknown_fields_total(const UnknownFields *u);
extern int64_t unknown_fields_left_out(const UnknownFields *u);
extern int	unknown_fields_count(UnknownFields *u);
extern const char *unknown_fields_name(const UnknownFields *u, int i,
									   size_t *len, int64_t *records);
extern void unknown_fields_json(UnknownFields *u, CopyBuf *buf);
extern void copybuf_put_json_string(CopyBuf *buf, const char *s, size_t len);

#endif							/* STEDI_LOAD_H */
