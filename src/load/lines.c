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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "stedi_load.h"

#define READ_CHUNK_BYTES	(256 * 1024)

struct LineReader
{
	int			fd;
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
};

/*
 * Append up to the free space of the buffer from the file.  Returns false on
 * a read error, with errno set.
 */
static bool
fill_buffer(LineReader *reader)
{
	for (;;)
	{
		ssize_t		n = read(reader->fd, reader->buf + reader->end,
							 reader->bufsize - reader->end);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		if (n == 0)
			reader->eof = true;
		reader->end += (size_t) n;
		return true;
	}
}

/*
 * Start reading the open file fd (the caller keeps ownership of fd).
 * Returns NULL on a read error, with errno set.
 */
LineReader *
line_reader_open(int fd)
{
	LineReader *reader = load_malloc(sizeof(LineReader));

	memset(reader, 0, sizeof(LineReader));
	reader->fd = fd;
	/* + 1: a line of MAX_LINE_BYTES may still end in "\r\n" */
	reader->bufsize = MAX_LINE_BYTES + 1 + READ_CHUNK_BYTES;
	reader->buf = load_malloc(reader->bufsize + 1);

#ifdef POSIX_FADV_SEQUENTIAL
	(void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif

	/*
	 * Skip a UTF-8 byte order mark.  Editors on Windows like to write one;
	 * it is not JSON.  Read until we have three bytes or the whole file, so
	 * that a short first read cannot hide it.
	 */
	while (reader->end < 3 && !reader->eof)
	{
		if (!fill_buffer(reader))
		{
			int			save_errno = errno;

			line_reader_free(reader);
			errno = save_errno;
			return NULL;
		}
	}
	if (reader->end >= 3 && memcmp(reader->buf, "\xEF\xBB\xBF", 3) == 0)
		reader->start = reader->scan = 3;

	return reader;
}

/*
 * Hand out the next line.  Returns 1 and fills *line, 0 at end of file, or
 * -1 on a read error with errno set.  *line stays valid until the next call.
 */
int
line_reader_next(LineReader *reader, Line *line)
{
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
	free(reader->buf);
	free(reader);
}
