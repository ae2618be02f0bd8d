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

#endif							/* LOAD_UTF8_H */
