/*
 * json_text.c
 *		What stedi-load does with the text of a JSON line itself, where YAJL
 *		would not do as PostgreSQL and JSON want: a pass over the line
 *		before parsing (NUL bytes, UTF-8, form feeds), lone UTF-16
 *		surrogates, and the values of numbers.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"
#include "utf8.h"
#include "util.h"

/* ---- the line before parsing ---- */

#define BYTES_ONES			UINT64_C(0x0101010101010101)
#define BYTES_HIGHS			UINT64_C(0x8080808080808080)

/*
 * One pass over the line for what JSON parsing must not or need not see:
 * NUL, invalid UTF-8 (anywhere, in strings or not, as strict as
 * PostgreSQL), form feed and vertical tab (which YAJL, unlike JSON, takes
 * for whitespace) and backslashes.  Eight bytes at a time while they are
 * plain printable ASCII without a backslash, which is most of the time.
 */
void
scan_line(const char *s, size_t len, LineScan *scan)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	scan->nul = scan->bad_utf8 = scan->ff_vt = NOT_FOUND;
	scan->backslash = false;

	while (i < len)
	{
		unsigned char c;

		if (len - i >= 8)
		{
			uint64_t	x;
			uint64_t	y;

			memcpy(&x, p + i, 8);
			y = x ^ (BYTES_ONES * '\\');
			/* a byte >= 0x80, a byte < 0x20, a backslash */
			if (((x | ((x - BYTES_ONES * 0x20) & ~x) |
				  ((y - BYTES_ONES) & ~y)) & BYTES_HIGHS) == 0)
			{
				i += 8;
				continue;
			}
		}

		c = p[i];
		if (c >= 0x80)
		{
			int			n = utf8_char_len(p + i, len - i);

			if (n == 0)
			{
				if (scan->bad_utf8 == NOT_FOUND)
					scan->bad_utf8 = i;
				n = 1;
			}
			i += (size_t) n;
			continue;
		}
		if (c == '\0')
		{
			scan->nul = i;
			return;
		}
		if ((c == '\f' || c == '\v') && scan->ff_vt == NOT_FOUND)
			scan->ff_vt = i;
		else if (c == '\\')
			scan->backslash = true;
		i++;
	}
}

/* The value of four hex digits, or -1. */
static int
hex4(const char *s)
{
	int			v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * YAJL decodes an escaped UTF-16 surrogate that is not half of a pair into
 * "?" or into bytes that are not UTF-8.  Replace each such escape by
 * \uFFFD, the replacement character, as json-c (our parser before YAJL)
 * did.  It is six bytes too, so no offset moves.  Returns the line, or a
 * fixed copy of it.
 *
 * Backslashes are paired from the start of the line, which is how YAJL
 * reads them inside strings; one outside a string is an error that YAJL
 * reports where it stands, whatever follows.
 */
const char *
fix_surrogates(const char *s, size_t len, char **buf, size_t *bufcap)
{
	char	   *fixed = NULL;
	size_t		i = 0;

	while (i < len)
	{
		const char *bs = memchr(s + i, '\\', len - i);
		int			u;
		int			lo;

		if (bs == NULL)
			break;
		i = (size_t) (bs - s);
		if (len - i < 6 || s[i + 1] != 'u' || (u = hex4(s + i + 2)) < 0)
		{
			i += 2;				/* another escape (or an invalid one) */
			continue;
		}
		if (u >= 0xD800 && u <= 0xDBFF && len - i >= 12 &&
			s[i + 6] == '\\' && s[i + 7] == 'u' &&
			(lo = hex4(s + i + 8)) >= 0xDC00 && lo <= 0xDFFF)
		{
			i += 12;			/* a pair */
			continue;
		}
		if (u >= 0xD800 && u <= 0xDFFF)
		{
			if (fixed == NULL)
			{
				load_reserve(buf, bufcap, len + 1);
				fixed = *buf;
				memcpy(fixed, s, len);
				fixed[len] = '\0';
			}
			memcpy(fixed + i + 2, "FFFD", 4);
		}
		i += 6;
	}
	return fixed != NULL ? fixed : s;
}


/* ---- numbers ---- */

/*
 * An integer: an optional minus and digits.  Returns false if the text is
 * something else (a decimal number).  *overflow says it is beyond int64.
 */
bool
parse_integer(const char *s, size_t len, int64_t *value, bool *overflow)
{
	bool		neg = len > 0 && s[0] == '-';
	uint64_t	limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	uint64_t	v = 0;
	size_t		i;

	*overflow = false;
	*value = 0;
	if (len == (size_t) neg)
		return false;
	for (i = neg; i < len; i++)
	{
		unsigned	d = (unsigned) ((unsigned char) s[i] - '0');

		if (d > 9)
			return false;
		/* 18 digits cannot overflow; past that, check each one */
		if (i - neg >= 18 && !*overflow &&
			(v > limit / 10 || (v == limit / 10 && d > limit % 10)))
			*overflow = true;
		v = v * 10 + d;
	}
	if (*overflow)
		return true;
	if (neg)
		*value = v == 0 ? 0 : -(int64_t) (v - 1) - 1;
	else
		*value = (int64_t) v;
	return true;
}

/* Powers of ten a double holds exactly. */
static const double exact_powers_of_ten[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
	1e21, 1e22
};

/*
 * A decimal number (JSON syntax, which YAJL has checked) as strtod reads
 * it.  Most have few digits and a small exponent, and then one IEEE
 * multiplication or division of two exact doubles gives the correctly
 * rounded result, as strtod does (Clinger's fast path); others go to
 * strtod.  May be infinite.
 */
double
parse_decimal(const char *s, size_t len, char **buf, size_t *bufcap)
{
	char		local[64];
	char	   *copy;

#if FLT_EVAL_METHOD == 0
	const char *c = s;
	const char *end = s + len;
	bool		neg = false;
	uint64_t	mant = 0;
	int			digits = 0;
	int			exp10 = 0;

	if (c < end && *c == '-')
	{
		neg = true;
		c++;
	}
	for (; c < end && *c >= '0' && *c <= '9'; c++)
	{
		if (digits == 19)
			goto slow;
		mant = mant * 10 + (uint64_t) (*c - '0');
		digits += mant != 0;
	}
	if (c < end && *c == '.')
	{
		for (c++; c < end && *c >= '0' && *c <= '9'; c++)
		{
			if (digits == 19)
				goto slow;
			mant = mant * 10 + (uint64_t) (*c - '0');
			digits += mant != 0;
			exp10--;
		}
	}
	if (c < end && (*c == 'e' || *c == 'E'))
	{
		bool		eneg = false;
		int			e = 0;

		c++;
		if (c < end && (*c == '-' || *c == '+'))
			eneg = *c++ == '-';
		for (; c < end && *c >= '0' && *c <= '9'; c++)
		{
			if (e < 100000)
				e = e * 10 + (*c - '0');
		}
		exp10 += eneg ? -e : e;
	}
	if (c == end)
	{
		double		d;

		if (mant == 0)
			return neg ? -0.0 : 0.0;
		if (mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22)
		{
			d = (double) mant;
			if (exp10 < 0)
				d /= exact_powers_of_ten[-exp10];
			else
				d *= exact_powers_of_ten[exp10];
			return neg ? -d : d;
		}
	}
slow:
#endif

	/* strtod wants a terminated string */
	if (len < sizeof(local))
		copy = local;
	else
	{
		load_reserve(buf, bufcap, len + 1);
		copy = *buf;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	return strtod(copy, NULL);
}
