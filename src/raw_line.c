/*-------------------------------------------------------------------------
 *
 * raw_line.c
 *		Whose a quarantined line is, read from its raw text, for erasure.
 *
 * A quarantined line may not be JSON at all, and the email it carries may
 * be written with escapes ("ann\u0040x.com", "ann\/x"): a search of its raw
 * text for the email misses it, and a search for the bare string finds it
 * where it is no one's email (a serial number "N/A" is also a phone number
 * "N/A").  This reads the line the way a JSON lexer reads strings, whatever
 * else is wrong with it, and compares the decoded value of each "email",
 * "user" and "serialNumber" field, never substrings or other fields.
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

PG_FUNCTION_INFO_V1(stedi_raw_line_names);

/* Values longer than this are no one's email (RFC 5321) or serial number. */
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
 * The character that a JSON escape of one letter (\" \\ \/ \b \f \n \r \t)
 * stands for, given its letter; '\0' for any other letter.
 */
static char
unescaped(char letter)
{
	static const char letters[] = "\"\\/bfnrt";
	static const char chars[] = "\"\\/\b\f\n\r\t";
	const char *at = memchr(letters, letter, sizeof(letters) - 1);

	return at ? chars[at - letters] : '\0';
}

/*
 * Decode the escape \uXXXX whose backslash is at p[*pos] into buf, with
 * the \uXXXX of the low surrogate that must follow a high one; *pos ends
 * after them.  Returns false for \u0000, a lone surrogate or fewer than
 * four hex digits (then *pos ends after the \u, or after the first
 * \uXXXX).
 */
static bool
decode_u_escape(const char *p, size_t len, size_t *pos, StringInfo buf)
{
	size_t		i = *pos + 2;	/* the first hex digit */
	int			cp = hex4(p + i, len - i);
	int			lo;
	unsigned char utf8[8];

	if (cp < 0)
	{
		*pos = i;
		return false;
	}
	i += 4;
	if (cp >= 0xD800 && cp <= 0xDBFF)
	{
		lo = (i + 5 < len && p[i] == '\\' && p[i + 1] == 'u') ?
			hex4(p + i + 2, len - i - 2) : -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
		{
			*pos = i;
			return false;
		}
		i += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0)
	{
		*pos = i;
		return false;
	}
	unicode_to_utf8((pg_wchar) cp, utf8);
	appendBinaryStringInfo(buf, (const char *) utf8, pg_utf_mblen(utf8));
	*pos = i;
	return true;
}

/*
 * Decode the JSON string literal whose opening quote is at p[*pos] into
 * buf; *pos ends after its closing quote.  Returns false for a string cut
 * off at the end of the line (*pos = len) or one that holds an invalid
 * escape, \u0000 or a lone surrogate (then *pos is after it all the same).
 */
static bool
decode_string(const char *p, size_t len, size_t *pos, StringInfo buf)
{
	size_t		i = *pos + 1;
	bool		ok = true;

	resetStringInfo(buf);
	while (i < len && p[i] != '"')
	{
		char		c;

		if (p[i] != '\\')
		{
			appendStringInfoChar(buf, p[i++]);
			continue;
		}
		if (i + 1 >= len)
		{
			i = len;
			break;
		}
		if (p[i + 1] == 'u')
		{
			if (!decode_u_escape(p, len, &i, buf))
				ok = false;
			continue;
		}
		c = unescaped(p[i + 1]);
		if (c == '\0')
			ok = false;
		else
			appendStringInfoChar(buf, c);
		i += 2;
	}
	if (i >= len)
	{
		*pos = len;
		return false;
	}
	*pos = i + 1;
	return ok && pg_verifymbstr(buf->data, buf->len, true);
}

static size_t
skip_space(const char *p, size_t len, size_t i)
{
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

/* The email with its ASCII letters folded, as stedi.normalize_email does. */
static bool
same_person(const StringInfo value, const char *person, size_t person_len)
{
	int			j;

	if ((size_t) value->len != person_len)
		return false;
	for (j = 0; j < value->len; j++)
	{
		char		c = value->data[j];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != person[j])
			return false;
	}
	return true;
}

/*
 * stedi.raw_line_names(line text, person text, serials text[]) returns boolean
 *
 * Whether line holds a field "email" or "user" whose string value, decoded
 * and with its ASCII letters folded, is person (a normalized email), or a
 * field "serialNumber" whose string value is one of serials (blank ones
 * name no one).  Keys and values are read as JSON string literals wherever
 * they stand, escapes decoded; a string cut off at the end of the line, or
 * holding an invalid escape, \u0000 or a lone surrogate, matches nothing.
 * Used by stedi.forget_customer() on landing.rejected.raw_line.  Reads the
 * line once, keeps at most one value in memory, and raises no error
 * whatever the line holds.
 */
Datum
stedi_raw_line_names(PG_FUNCTION_ARGS)
{
	text	   *line = PG_GETARG_TEXT_PP(0);
	text	   *person_t = PG_GETARG_TEXT_PP(1);
	ArrayType  *serials_a = PG_GETARG_ARRAYTYPE_P(2);
	const char *p = VARDATA_ANY(line);
	size_t		len = VARSIZE_ANY_EXHDR(line);
	const char *person = VARDATA_ANY(person_t);
	size_t		person_len = VARSIZE_ANY_EXHDR(person_t);
	Datum	   *serials;
	bool	   *serial_nulls;
	int			nserials;
	StringInfoData key;
	StringInfoData value;
	size_t		i = 0;

	deconstruct_array(serials_a, TEXTOID, -1, false, TYPALIGN_INT,
					  &serials, &serial_nulls, &nserials);
	initStringInfo(&key);
	initStringInfo(&value);
	while (i < len)
	{
		bool		key_ok;
		bool		is_email;
		bool		is_serial;
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (p[i] != '"')
		{
			i++;
			continue;
		}
		key_ok = decode_string(p, len, &i, &key);
		i = skip_space(p, len, i);
		if (i >= len || p[i] != ':')
			continue;			/* a value, not a key: read on */
		i = skip_space(p, len, i + 1);
		if (i >= len || p[i] != '"')
			continue;			/* the value is not a string */
		is_email = key_ok && (strcmp(key.data, "email") == 0 || strcmp(key.data, "user") == 0);
		is_serial = key_ok && strcmp(key.data, "serialNumber") == 0;
		if (!decode_string(p, len, &i, &value) || value.len == 0 ||
			value.len > IDENTITY_MAX_BYTES)
			continue;
		if (is_email && same_person(&value, person, person_len))
			PG_RETURN_BOOL(true);
		if (!is_serial)
			continue;
		for (n = 0; n < nserials; n++)
		{
			text	   *s;

			if (serial_nulls[n])
				continue;
			s = DatumGetTextPP(serials[n]);
			if (VARSIZE_ANY_EXHDR(s) == (size_t) value.len &&
				memcmp(VARDATA_ANY(s), value.data, value.len) == 0 &&
				strspn(value.data, " \t\n\r\f\v") < (size_t) value.len)
				PG_RETURN_BOOL(true);
		}
	}
	PG_RETURN_BOOL(false);
}
