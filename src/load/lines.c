/*
 * lines.c
 *		Read a JSON-lines file one physical line at a time, in bounded memory.
 *
 * The reader owns one buffer of MAX_LINE_BYTES plus a read chunk.  A line
 * that fits is handed out in place (no copy): the caller gets a pointer into
 * the buffer, with the "\n" or "\r\n" removed and a '\0' written after the
 * line, so that it is a C string too (the JSON parser does not need that).
 * A line longer than MAX_LINE_BYTES is handed out once, as its head only and
 * marked too_long, and the rest of it is skipped up to the next newline; so
 * memory stays bounded whatever the file holds.
 *
 * We use read(2) rather than stdio: the buffer is ours anyway, and stdio
 * would only add a second copy of every byte.
 *
 * A gzip-compressed file is inflated straight into the same buffer, a read
 * chunk at a time, so the bounds above hold for the decompressed text
 * whatever its size (a "gzip bomb" costs time, not memory).  We drive
 * zlib's inflate() ourselves rather than use gzread(): gzread passes data
 * that is not gzip through unchanged, takes a file cut off in the middle for
 * one that ended, and ignores what follows the last member; each of those
 * must fail the file instead.  Members written one after the other (as
 * "cat a.gz b.gz" makes) are one text, as gzip -d reads them.  Line numbers
 * and byte offsets are those of the decompressed text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "lines.h"
#include "util.h"

#define READ_CHUNK_BYTES	(256 * 1024)

/* compressed bytes read from a .gz file at a time */
#define GZIP_CHUNK_BYTES	(64 * 1024)

struct LineReader
{
	/* what every line uses first, so that it shares a cache line or two */
	char	   *buf;
	size_t		bufsize;		/* usable bytes; one more is allocated for
								 * the terminator of an unterminated last
								 * line */
	size_t		start;			/* first byte of the next line */
	size_t		scan;			/* [start, scan) is known to hold no '\n' */
	size_t		end;			/* end of the bytes read so far */
	int64_t		buf_offset;		/* file offset of buf[0] */
	int64_t		line_number;	/* of the last line handed out */
	bool		eof;
	bool		skipping;		/* discarding the tail of an over-long line */
	bool		started;		/* the byte order mark was looked for */
	bool		gzip;			/* inflate what is read */
	int			fd;

	bool		data_error;		/* -1 because of the content, not of I/O */
	char		error[256];		/* why line_reader_next returned -1 */

	/* gzip only */
	z_stream	zs;
	bool		zs_ready;		/* inflateInit2 done */
	unsigned char *zin;			/* compressed bytes read, not yet inflated */
	bool		raw_eof;		/* the file has no more compressed bytes */
	bool		member_done;	/* at the end of a gzip member */
	int64_t		members;		/* gzip members inflated whole */
	int64_t		stored_read;	/* compressed bytes read from the file */
};

/* read(2), again after an interruption; false on an error, with errno set */
static bool
read_some(int fd, void *buf, size_t size, size_t *got)
{
	for (;;)
	{
		ssize_t		n = read(fd, buf, size);

		if (n >= 0)
		{
			*got = (size_t) n;
			return true;
		}
		if (errno != EINTR)
			return false;
	}
}

static bool
fail_io(LineReader *reader)
{
	snprintf(reader->error, sizeof(reader->error), "%s", strerror(errno));
	reader->data_error = false;
	return false;
}

static bool
fail_gzip(LineReader *reader, const char *what)
{
	snprintf(reader->error, sizeof(reader->error), "%s", what);
	reader->data_error = true;
	return false;
}

/*
 * Inflate into the free space of the buffer, at least one byte unless the
 * compressed data is at its end (then eof is set).  False on a read error
 * or on data that is not (or no longer) valid gzip, with the reason set.
 */
static bool
fill_gzip(LineReader *reader)
{
	z_stream   *zs = &reader->zs;
	size_t		room = reader->bufsize - reader->end;

	zs->next_out = (Bytef *) reader->buf + reader->end;
	zs->avail_out = (uInt) room;
	while (zs->avail_out == room)
	{
		int			rc;

		if (zs->avail_in == 0 && !reader->raw_eof)
		{
			size_t		got;

			if (!read_some(reader->fd, reader->zin, GZIP_CHUNK_BYTES, &got))
				return fail_io(reader);
			reader->raw_eof = got == 0;
			reader->stored_read += (int64_t) got;
			zs->next_in = reader->zin;
			zs->avail_in = (uInt) got;
			continue;
		}
		if (reader->member_done)
		{
			if (zs->avail_in == 0)
			{
				reader->eof = true;
				return true;
			}
			/* another member follows; inflate checks its header */
			if (inflateReset(zs) != Z_OK)
				return fail_gzip(reader, "internal error: inflateReset failed");
			reader->member_done = false;
		}
		if (zs->avail_in == 0)
			return fail_gzip(reader, "the gzip data ends before it is complete (the file is cut off or corrupt)");

		rc = inflate(zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
		{
			reader->member_done = true;
			reader->members++;
		}
		else if (rc == Z_MEM_ERROR)
			load_fatal("out of memory");
		else if (rc != Z_OK)
		{
			char		what[200];

			/* after a complete member: bytes that do not start another */
			if (reader->members > 0 && zs->total_out == 0)
				return fail_gzip(reader, "data after the end of the gzip data is not gzip");
			snprintf(what, sizeof(what), "corrupt gzip data: %s",
					 zs->msg != NULL ? zs->msg : "inflate failed");
			return fail_gzip(reader, what);
		}
	}
	reader->end += room - zs->avail_out;
	return true;
}

/*
 * Append to the free space of the buffer from the file.  Returns false on a
 * read error or bad gzip data, with the reason set.
 */
static bool
fill_buffer(LineReader *reader)
{
	size_t		got;

	if (reader->gzip)
		return fill_gzip(reader);
	if (!read_some(reader->fd, reader->buf + reader->end,
				   reader->bufsize - reader->end, &got))
		return fail_io(reader);
	if (got == 0)
		reader->eof = true;
	reader->end += got;
	return true;
}

/*
 * Start reading the open file fd (the caller keeps ownership of fd), from
 * where it stands; gzip says it holds gzip data.  Errors show at the first
 * line_reader_next.
 */
LineReader *
line_reader_open(int fd, bool gzip)
{
	LineReader *reader = load_malloc(sizeof(LineReader));

	memset(reader, 0, sizeof(LineReader));
	reader->fd = fd;
	reader->gzip = gzip;
	/* + 1: a line of MAX_LINE_BYTES may still end in "\r\n" */
	reader->bufsize = MAX_LINE_BYTES + 1 + READ_CHUNK_BYTES;
	reader->buf = load_malloc(reader->bufsize + 1);

#ifdef POSIX_FADV_SEQUENTIAL
	(void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	return reader;
}

/*
 * Before the first line: check that a .gz file starts as gzip data does,
 * and skip a UTF-8 byte order mark.  False with the reason set if not.
 */
static bool
start_reading(LineReader *reader)
{
	reader->started = true;
	if (reader->gzip)
	{
		z_stream   *zs = &reader->zs;
		size_t		got = 0;

		reader->zin = load_malloc(GZIP_CHUNK_BYTES);
		/* the two bytes every gzip member starts with, in one read or two */
		while (got < 2)
		{
			size_t		n;

			if (!read_some(reader->fd, reader->zin + got, GZIP_CHUNK_BYTES - got, &n))
				return fail_io(reader);
			if (n == 0)
				break;
			got += n;
		}
		reader->stored_read = (int64_t) got;
		reader->raw_eof = got < 2;
		if (got < 2 || reader->zin[0] != 0x1f || reader->zin[1] != 0x8b)
			return fail_gzip(reader, "not gzip data, although the name ends in .gz");
		memset(zs, 0, sizeof(z_stream));
		/* 16 + the largest window: gzip format only, not zlib or raw */
		if (inflateInit2(zs, 16 + MAX_WBITS) != Z_OK)
			load_fatal("out of memory");
		reader->zs_ready = true;
		zs->next_in = reader->zin;
		zs->avail_in = (uInt) got;
	}

	/*
	 * Skip a UTF-8 byte order mark.  Editors on Windows like to write one;
	 * it is not JSON.  Read until we have three bytes or the whole file, so
	 * that a short first read cannot hide it.
	 */
	while (reader->end < 3 && !reader->eof)
	{
		if (!fill_buffer(reader))
			return false;
	}
	if (reader->end >= 3 && memcmp(reader->buf, "\xEF\xBB\xBF", 3) == 0)
		reader->start = reader->scan = 3;
	return true;
}

/* Why line_reader_next returned -1 (a message without the file's name). */
const char *
line_reader_error(const LineReader *reader)
{
	return reader->error[0] != '\0' ? reader->error : "read error";
}

/* Did it return -1 for what the file holds (bad gzip), not for an I/O error? */
bool
line_reader_data_error(const LineReader *reader)
{
	return reader->data_error;
}

/*
 * How far into the file as stored line is: its end, or for a gzip file the
 * compressed bytes inflated so far (for a progress bar counting stored bytes).
 */
int64_t
line_reader_stored_offset(const LineReader *reader, const Line *line)
{
	if (reader->gzip)
		return reader->stored_read - (int64_t) reader->zs.avail_in;
	return line->offset + (int64_t) line->len;
}

/*
 * Hand out the next line.  Returns 1 and fills *line, 0 at end of file, or
 * -1 on a read error or bad gzip data (see line_reader_error).  *line stays valid until the next call.
 */
int
line_reader_next(LineReader *reader, Line *line)
{
	if (!reader->started && !start_reading(reader))
		return -1;
	for (;;)
	{
		char	   *nl = memchr(reader->buf + reader->scan, '\n',
								reader->end - reader->scan);

		if (nl != NULL)
		{
			size_t		pos = (size_t) (nl - reader->buf);
			size_t		len = pos - reader->start;

			if (reader->skipping)
			{
				/* end of an over-long line already handed out */
				reader->skipping = false;
				reader->start = reader->scan = pos + 1;
				continue;
			}

			line->data = reader->buf + reader->start;
			line->offset = reader->buf_offset + (int64_t) reader->start;
			line->number = ++reader->line_number;
			line->has_newline = true;
			if (len > 0 && line->data[len - 1] == '\r')
				len--;
			line->too_long = len > MAX_LINE_BYTES;
			line->data[len] = '\0';
			line->len = len;
			reader->start = reader->scan = pos + 1;
			return 1;
		}
		reader->scan = reader->end;

		if (reader->skipping)
		{
			/* everything buffered belongs to the over-long line: drop it */
			reader->buf_offset += (int64_t) reader->end;
			reader->start = reader->scan = reader->end = 0;
		}
		else if (reader->end - reader->start > MAX_LINE_BYTES + 1)
		{
			/*
			 * No newline within MAX_LINE_BYTES: hand out the head now, while
			 * we have it, and skip the rest on the following calls.
			 */
			line->data = reader->buf + reader->start;
			line->len = reader->end - reader->start;
			line->offset = reader->buf_offset + (int64_t) reader->start;
			line->number = ++reader->line_number;
			line->has_newline = false;
			line->too_long = true;
			reader->skipping = true;
			reader->start = reader->scan = reader->end;
			return 1;
		}

		if (reader->eof)
		{
			size_t		len = reader->end - reader->start;

			if (len == 0)
				return 0;

			/* a last line without a newline; bufsize + 1 leaves room */
			line->data = reader->buf + reader->start;
			line->data[len] = '\0';
			line->len = len;
			line->offset = reader->buf_offset + (int64_t) reader->start;
			line->number = ++reader->line_number;
			line->has_newline = false;
			line->too_long = len > MAX_LINE_BYTES;
			reader->start = reader->scan = reader->end;
			return 1;
		}

		/*
		 * Move the partial line at the end of the buffer to its start, then
		 * read more behind it.  The partial line is at most MAX_LINE_BYTES,
		 * so there is always at least a read chunk of room.
		 */
		if (reader->start > 0)
		{
			size_t		keep = reader->end - reader->start;

			memmove(reader->buf, reader->buf + reader->start, keep);
			reader->buf_offset += (int64_t) reader->start;
			reader->scan -= reader->start;
			reader->end = keep;
			reader->start = 0;
		}
		if (!fill_buffer(reader))
			return -1;
	}
}

void
line_reader_free(LineReader *reader)
{
	if (reader == NULL)
		return;
	if (reader->zs_ready)
		inflateEnd(&reader->zs);
	free(reader->zin);
	free(reader->buf);
	free(reader);
}
