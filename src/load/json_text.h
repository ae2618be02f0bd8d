/*
 * json_text.h
 *		The text of a JSON line, before and beside YAJL (json_text.c).
 */
#ifndef LOAD_JSON_TEXT_H
#define LOAD_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOT_FOUND			SIZE_MAX

/* What a pass over the bytes of a line found; NOT_FOUND if nothing. */
typedef struct LineScan
{
	size_t		nul;			/* first NUL byte (the scan stops there) */
	size_t		bad_utf8;		/* first byte not valid UTF-8 */
	size_t		ff_vt;			/* first form feed or vertical tab */
	bool		backslash;		/* any backslash: escapes to look at */
} LineScan;

/*
 * One pass over the line for what JSON parsing must not or need not see
 * (see json_text.c).
 */
extern void scan_line(const char *s, size_t len, LineScan *scan);

/*
 * The line s with each escaped lone UTF-16 surrogate made \uFFFD: s itself,
 * or a copy in *buf (of *bufcap bytes, grown as need be).
 */
extern const char *fix_surrogates(const char *s, size_t len, char **buf,
								  size_t *bufcap);

/*
 * An integer: an optional minus and digits.  Returns false if the text is
 * something else (a decimal number).  *overflow says it is beyond int64.
 */
extern bool parse_integer(const char *s, size_t len, int64_t *value,
						  bool *overflow);

/*
 * A decimal number (JSON syntax, which YAJL has checked) as strtod reads
 * it; *buf (of *bufcap bytes) holds a long one for strtod.  May be
 * infinite.
 */
extern double parse_decimal(const char *s, size_t len, char **buf,
							size_t *bufcap);

#endif							/* LOAD_JSON_TEXT_H */
