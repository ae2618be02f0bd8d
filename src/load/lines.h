/*
 * lines.h
 *		Reading a file (maybe gzip) line by line in bounded memory
 *		(lines.c).
 */
#ifndef LOAD_LINES_H
#define LOAD_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A line longer than this is rejected without being parsed.  It bounds the
 * reader's buffer, and so the memory stedi-load needs, whatever the input.
 */
#define MAX_LINE_BYTES		(1024 * 1024)

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

#endif							/* LOAD_LINES_H */
