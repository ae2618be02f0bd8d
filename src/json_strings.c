/*-------------------------------------------------------------------------
 *
 * json_strings.c
 *		The JSON strings of a quarantined line, decoded, for erasure.
 *
 * A quarantined line may not be JSON at all, and the email it carries may
 * be written with escapes ("ann\u0040x.com", "ann\/x"): a search of its raw
 * text for the email misses it.  This reads the line the way a JSON lexer
 * reads strings, whatever else is wrong with it, and returns each complete
 * string literal decoded, so that erasure compares values, never
 * substrings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(stedi_json_strings);

/*
 * Strings longer than this are no one's email (254 bytes, RFC 5321) or
 * serial number (128): they are not returned.
 */
#define IDENTITY_MAX_BYTES	254

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at s (len bytes left), or -1. */
static int
hex4(const char *s, size_t len)
{
	int			v = 0;
	int			i;

	if (len < 4)
		return -1;
	for (i = 0; i < 4; i++)
	{
		int			h = hex_value(s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * stedi.json_strings(line text) returns text[]
 *
 * Each complete JSON string literal of line (keys and values alike), its
 * escapes decoded, in order; a string that is cut off at the end of the
 * line, that holds an invalid escape, \u0000 or a lone surrogate, or that
 * is empty or longer than 254 bytes once decoded, is left out.  Used by
 * stedi.forget_customer() on landing.rejected.raw_line.  Raises no error
 * whatever the line holds.
 */
Datum
stedi_json_strings(PG_FUNCTION_ARGS)
{
	text	   *line = PG_GETARG_TEXT_PP(0);
	const char *p = VARDATA_ANY(line);
	size_t		len = VARSIZE_ANY_EXHDR(line);
	ArrayBuildState *result = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	StringInfoData buf;
	size_t		i = 0;

	initStringInfo(&buf);
	while (i < len)
	{
		bool		ok = true;

		CHECK_FOR_INTERRUPTS();
		if (p[i] != '"')
		{
			i++;
			continue;
		}
		/* a string starts: decode to its closing quote */
		i++;
		resetStringInfo(&buf);
		while (i < len && p[i] != '"')
		{
			if (p[i] != '\\')
			{
				appendStringInfoChar(&buf, p[i]);
				i++;
				continue;
			}
			if (i + 1 >= len)
			{
				i = len;
				break;
			}
			switch (p[i + 1])
			{
				case '"':
				case '\\':
				case '/':
					appendStringInfoChar(&buf, p[i + 1]);
					i += 2;
					break;
				case 'b':
					appendStringInfoChar(&buf, '\b');
					i += 2;
					break;
				case 'f':
					appendStringInfoChar(&buf, '\f');
					i += 2;
					break;
				case 'n':
					appendStringInfoChar(&buf, '\n');
					i += 2;
					break;
				case 'r':
					appendStringInfoChar(&buf, '\r');
					i += 2;
					break;
				case 't':
					appendStringInfoChar(&buf, '\t');
					i += 2;
					break;
				case 'u':
					{
						int			cp = hex4(p + i + 2, len - i - 2);
						unsigned char utf8[8];

						i += 2;
						if (cp < 0)
						{
							ok = false;
							break;
						}
						i += 4;
						if (cp >= 0xD800 && cp <= 0xDBFF)
						{
							int			lo = -1;

							if (i + 6 <= len && p[i] == '\\' && p[i + 1] == 'u')
								lo = hex4(p + i + 2, len - i - 2);
							if (lo < 0xDC00 || lo > 0xDFFF)
							{
								ok = false;
								break;
							}
							i += 6;
							cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						}
						else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0)
						{
							ok = false;
							break;
						}
						unicode_to_utf8((pg_wchar) cp, utf8);
						appendBinaryStringInfo(&buf, (const char *) utf8,
											   pg_utf_mblen(utf8));
						break;
					}
				default:
					ok = false;
					i += 2;
					break;
			}
		}
		if (i >= len)
			break;				/* cut off: no closing quote */
		i++;					/* the closing quote */
		if (ok && buf.len > 0 && buf.len <= IDENTITY_MAX_BYTES &&
			pg_verifymbstr(buf.data, buf.len, true))
			accumArrayResult(result, PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len)),
							 false, TEXTOID, CurrentMemoryContext);
	}
	PG_RETURN_DATUM(makeArrayResult(result, CurrentMemoryContext));
}
