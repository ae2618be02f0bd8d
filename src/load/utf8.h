/*
 * utf8.h
 *		UTF-8 as PostgreSQL takes it, for the files of stedi-load that check
 *		text before the server sees it.
 */
#ifndef LOAD_UTF8_H
#define LOAD_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Length of the UTF-8 character at s (avail bytes left), or 0 if it is not
 * a legal one.  As strict as PostgreSQL's pg_utf8_islegal: no overlong
 * forms, no surrogates, nothing above U+10FFFF.
 */
static inline int
utf8_char_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80,
				hi = 0xBF;
	int			len;
	int			i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;			/* overlong */
		else if (c == 0xED)
			hi = 0x9F;			/* surrogates */
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		if (c == 0xF0)
			lo = 0x90;			/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;			/* above U+10FFFF */
	}
	else
		return 0;

	if (avail < (size_t) len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	return len;
}

/*
 * Offset of the first byte of s that is not valid UTF-8, or len if all of
 * it is.  Runs over every loaded line, so ASCII is skipped eight bytes at a
 * time.
 */
static inline size_t
utf8_invalid_offset(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		int			n;

		if (len - i >= 8)
		{
			uint64_t	chunk;

			memcpy(&chunk, p + i, 8);
			if ((chunk & UINT64_C(0x8080808080808080)) == 0)
			{
				i += 8;
				continue;
			}
		}
		n = utf8_char_len(p + i, len - i);
		if (n == 0)
			return i;
		i += (size_t) n;
	}
	return len;
}

/*
 * The next character of s (avail bytes left) as a text value of a UTF8
 * database can hold it, into *piece and *piecelen: itself, or U+FFFD for a
 * byte that is not part of valid UTF-8, or the six characters \u0000 (as
 * JSON would escape it) for a NUL byte.  Returns how many bytes of s it
 * stands for.
 */
static inline int
utf8_text_piece(const char *s, size_t avail, const char **piece,
				size_t *piecelen)
{
	int			n = utf8_char_len((const unsigned char *) s, avail);

	if (n == 0)
	{
		*piece = "\xEF\xBF\xBD";
		*piecelen = 3;
		return 1;
	}
	if (s[0] == '\0')
	{
		*piece = "\\u0000";
		*piecelen = 6;
	}
	else
	{
		*piece = s;
		*piecelen = (size_t) n;
	}
	return n;
}

#endif							/* LOAD_UTF8_H */
