/*
 * parse.c
 *		Turn one line of a landing file into one binary COPY tuple for
 *		landing.<kind>, or into a human-readable reason why it cannot be.
 *
 * Binary COPY (rather than text COPY) means the server does no parsing at
 * all, and we need no escaping: each field is a length word and the value in
 * the type's send format.  The formats we produce are
 *
 *		text			the UTF-8 bytes, as they are
 *		date			int32 days since 2000-01-01
 *		timestamptz		int64 microseconds since 2000-01-01 00:00 UTC
 *		integer			int32
 *		float8			IEEE 754 double
 *		bigint			int64
 *
 * all big-endian.  Because the server does not check these beyond their
 * length, everything it would have checked is checked here: text must be
 * valid UTF-8 without NUL, dates and times must be in PostgreSQL's range.
 * A value the server would refuse would otherwise abort the whole file.
 *
 * JSON parsing is json-c's.  We keep one tokener and reset it per line, and
 * take each record's fields in a single pass over its keys.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "stedi_load.h"

/* PostgreSQL's timestamptz range, in microseconds since 2000-01-01 */
#define PG_MIN_TIMESTAMP	INT64_C(-211813488000000000)
#define PG_END_TIMESTAMP	INT64_C(9223371331200000000)	/* exclusive */

/* days from 1970-01-01 to 2000-01-01 */
#define UNIX_TO_PG_EPOCH_DAYS	10957

/* JSON nesting deeper than this is refused by the tokener */
#define MAX_JSON_DEPTH		32

#define MAX_FIELDS			10

typedef enum FieldType
{
	FIELD_TEXT,					/* JSON string -> text */
	FIELD_DATE,					/* JSON string "YYYY-MM-DD" -> date */
	FIELD_TIME,					/* JSON integer, epoch ms -> timestamptz */
	FIELD_INT4,					/* JSON integer -> integer */
	FIELD_FLOAT8				/* JSON number -> double precision */
} FieldType;

typedef struct FieldSpec
{
	const char *json_name;
	const char *column;
	FieldType	type;
	bool		required;		/* absent or null is a rejected line */
} FieldSpec;

/*
 * The fields of each kind, in the column order of its landing table.  The
 * last two columns of every table, file_id and line_number, are not fields.
 */
static const FieldSpec customer_fields[] = {
	{F_CUSTOMER_NAME, "customer_name", FIELD_TEXT, false},
	{F_EMAIL, "email", FIELD_TEXT, true},
	{F_PHONE, "phone", FIELD_TEXT, false},
	{F_BIRTH_DAY, "birth_day", FIELD_DATE, false},
	{F_SERIAL_NUMBER, "serial_number", FIELD_TEXT, true},
	{F_REGISTRATION_DATE, "registration_date", FIELD_TIME, false},
	{F_LAST_UPDATE_DATE, "last_update_date", FIELD_TIME, false},
	{F_SHARE_RESEARCH, "share_with_research_as_of_date", FIELD_TIME, false},
	{F_SHARE_PUBLIC, "share_with_public_as_of_date", FIELD_TIME, false},
	{F_SHARE_FRIENDS, "share_with_friends_as_of_date", FIELD_TIME, false},
};

static const FieldSpec accelerometer_fields[] = {
	{F_USER, "user_email", FIELD_TEXT, true},
	{F_TIMESTAMP, "reading_time", FIELD_TIME, true},
	{F_X, "x", FIELD_FLOAT8, true},
	{F_Y, "y", FIELD_FLOAT8, true},
	{F_Z, "z", FIELD_FLOAT8, true},
};

static const FieldSpec step_trainer_fields[] = {
	{F_SENSOR_READING_TIME, "sensor_reading_time", FIELD_TIME, true},
	{F_SERIAL_NUMBER, "serial_number", FIELD_TEXT, true},
	{F_DISTANCE, "distance_from_object", FIELD_INT4, true},
};

#define lengthof(a) ((int) (sizeof(a) / sizeof((a)[0])))

static const struct
{
	const FieldSpec *fields;
	int			nfields;
}			kind_fields[STEDI_NKINDS] = {
	[STEDI_CUSTOMER] = {customer_fields, lengthof(customer_fields)},
	[STEDI_ACCELEROMETER] = {accelerometer_fields, lengthof(accelerometer_fields)},
	[STEDI_STEP_TRAINER] = {step_trainer_fields, lengthof(step_trainer_fields)},
};

/* One converted field, ready to be written. */
typedef struct FieldValue
{
	bool		isnull;
	const char *str;			/* FIELD_TEXT; points into the JSON object */
	size_t		len;
	int64_t		i64;			/* FIELD_DATE, FIELD_TIME, FIELD_INT4 */
	double		f8;				/* FIELD_FLOAT8 */
} FieldValue;

struct RecordParser
{
	StediKind	kind;
	const FieldSpec *fields;
	int			nfields;
	json_tokener *tok;
	json_object *slot[MAX_FIELDS];	/* value of each field in this line */
	FieldValue	value[MAX_FIELDS];
	char		reason[256];
};


/* ---- binary COPY buffer ---- */

void
copybuf_grow(CopyBuf *buf, size_t more)
{
	size_t		newcap = buf->cap > 0 ? buf->cap : 64 * 1024;

	while (newcap - buf->len < more)
		newcap *= 2;
	buf->data = load_realloc(buf->data, newcap);
	buf->cap = newcap;
}

void
copy_put_header(CopyBuf *buf)
{
	/* signature, flags (no OIDs), header extension length */
	static const char signature[11] = "PGCOPY\n\377\r\n\0";

	copybuf_reserve(buf, sizeof(signature));
	memcpy(buf->data + buf->len, signature, sizeof(signature));
	buf->len += sizeof(signature);
	copybuf_put_int32(buf, 0);
	copybuf_put_int32(buf, 0);
}

void
copy_put_trailer(CopyBuf *buf)
{
	copybuf_put_int16(buf, -1);
}


/* ---- UTF-8 ---- */

/*
 * Length of the UTF-8 character at s (avail bytes left), or 0 if it is not
 * a legal one.  As strict as PostgreSQL's pg_utf8_islegal: no overlong
 * forms, no surrogates, nothing above U+10FFFF.
 */
static int
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
static size_t
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
 * Append a rejected line's text as a text field, made fit for a text column
 * of a UTF8 database and cut to MAX_RAW_BYTES: a byte that is not part of
 * valid UTF-8 becomes U+FFFD, a NUL byte becomes the six characters \u0000
 * (as JSON would escape it).  Valid lines are stored unchanged apart from
 * the cut, which never splits a character.
 */
static void
put_raw_line(CopyBuf *buf, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *) data;
	size_t		lenpos;
	size_t		out = 0;
	size_t		i = 0;
	char	   *dst;

	copybuf_put_int32(buf, 0);	/* length, filled in below */
	lenpos = buf->len - 4;
	copybuf_reserve(buf, MAX_RAW_BYTES);
	dst = buf->data + buf->len;

	while (i < len)
	{
		const char *piece;
		size_t		piecelen;
		int			n = utf8_char_len(p + i, len - i);

		if (n == 0)
		{
			piece = "\xEF\xBF\xBD";
			piecelen = 3;
			n = 1;
		}
		else if (p[i] == '\0')
		{
			piece = "\\u0000";
			piecelen = 6;
		}
		else
		{
			piece = data + i;
			piecelen = (size_t) n;
		}
		if (out + piecelen > MAX_RAW_BYTES)
			break;
		memcpy(dst + out, piece, piecelen);
		out += piecelen;
		i += (size_t) n;
	}

	buf->len += out;
	buf->data[lenpos] = (char) (out >> 24);
	buf->data[lenpos + 1] = (char) (out >> 16);
	buf->data[lenpos + 2] = (char) (out >> 8);
	buf->data[lenpos + 3] = (char) out;
}

/*
 * Append a tuple for landing.rejected:
 * (kind, file_id, line_number, byte_offset, reason, raw_line).
 */
void
copy_put_rejected(CopyBuf *buf, StediKind kind, int32_t file_id,
				  const Line *line, const char *reason)
{
	const char *kindname = stedi_kind_name[kind];

	copybuf_put_int16(buf, 6);
	copybuf_put_bytes(buf, kindname, strlen(kindname));
	copybuf_put_int32(buf, 4);
	copybuf_put_int32(buf, file_id);
	copybuf_put_int32(buf, 8);
	copybuf_put_int64(buf, line->number);
	copybuf_put_int32(buf, 8);
	copybuf_put_int64(buf, line->offset);
	copybuf_put_bytes(buf, reason, strlen(reason));
	put_raw_line(buf, line->data, line->len);
}


/* ---- dates and times ---- */

/*
 * Days since 1970-01-01 of a proleptic Gregorian date (the algorithm of
 * H. Hinnant's "chrono-Compatible Low-Level Date Algorithms").
 */
static int64_t
days_from_civil(int y, int m, int d)
{
	int			era;
	int			yoe;
	int			doy;
	int			doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t) era * 146097 + doe - 719468;
}

static bool
is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Parse a date "YYYY-MM-DD" into days since 2000-01-01.  The year may have
 * one to four digits: the STEDI app writes years before 1000 unpadded
 * ("993-01-01"), as PostgreSQL's own date input accepts.  Otherwise nothing
 * else is accepted: years 1 to 9999 only, two-digit month and day, no time
 * part, no spaces or signs, and the day must exist in that month.
 */
static bool
parse_date(const char *s, size_t len, int64_t *days)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t		ylen;
	size_t		i;
	int			y = 0,
				m,
				d;

	if (len < 7 || len > 10)
		return false;
	ylen = len - 6;				/* what is left of "-MM-DD" */
	for (i = 0; i < len; i++)
	{
		if (i == ylen || i == ylen + 3)
		{
			if (s[i] != '-')
				return false;
		}
		else if (s[i] < '0' || s[i] > '9')
			return false;
	}
	for (i = 0; i < ylen; i++)
		y = y * 10 + (s[i] - '0');
	m = (s[ylen + 1] - '0') * 10 + (s[ylen + 2] - '0');
	d = (s[ylen + 4] - '0') * 10 + (s[ylen + 5] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	if (d > mdays[m - 1] + (m == 2 && is_leap_year(y)))
		return false;

	*days = days_from_civil(y, m, d) - UNIX_TO_PG_EPOCH_DAYS;
	return true;
}

/*
 * Epoch milliseconds to timestamptz microseconds.  Every step is checked
 * before it is done, so no input can overflow: first the shift of epoch
 * (ms near INT64_MIN), then the range in milliseconds, which makes the
 * multiplication safe.  Both bounds are multiples of 1000.
 */
static bool
epoch_ms_to_timestamptz(int64_t ms, int64_t *result)
{
	int64_t		pg_ms;

	if (ms < INT64_MIN + STEDI_PG_EPOCH_MS)
		return false;
	pg_ms = ms - STEDI_PG_EPOCH_MS;
	if (pg_ms < PG_MIN_TIMESTAMP / 1000 || pg_ms >= PG_END_TIMESTAMP / 1000)
		return false;
	*result = pg_ms * 1000;
	return true;
}


/* ---- records ---- */

RecordParser *
record_parser_create(StediKind kind)
{
	RecordParser *parser = load_malloc(sizeof(RecordParser));

	memset(parser, 0, sizeof(RecordParser));
	parser->kind = kind;
	parser->fields = kind_fields[kind].fields;
	parser->nfields = kind_fields[kind].nfields;
	parser->tok = json_tokener_new_ex(MAX_JSON_DEPTH);
	if (parser->tok == NULL)
		load_fatal("out of memory");

	/*
	 * Strict: no trailing text after the value (a line is one value).  We
	 * validate UTF-8 ourselves before the tokener sees a line, more strictly
	 * than json-c does; its check stays on as a second line of defence.
	 */
	json_tokener_set_flags(parser->tok,
						   JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return parser;
}

void
record_parser_free(RecordParser *parser)
{
	if (parser == NULL)
		return;
	json_tokener_free(parser->tok);
	free(parser);
}

/*
 * The column list for "COPY landing.<kind> (...)": the fields' columns in
 * order, then file_id and line_number.
 */
const char *
record_copy_columns(StediKind kind)
{
	static char columns[STEDI_NKINDS][512];
	char	   *p = columns[kind];
	int			i;

	if (p[0] != '\0')
		return p;
	for (i = 0; i < kind_fields[kind].nfields; i++)
	{
		strcat(p, kind_fields[kind].fields[i].column);
		strcat(p, ", ");
	}
	strcat(p, "file_id, line_number");
	return p;
}

/* What a JSON value is, in words, for "must be X, got Y". */
static const char *
json_type_words(json_object *value)
{
	switch (json_object_get_type(value))
	{
		case json_type_null:
			return "null";
		case json_type_boolean:
			return "boolean";
		case json_type_double:
			return "decimal number";
		case json_type_int:
			return "integer";
		case json_type_object:
			return "object";
		case json_type_array:
			return "array";
		case json_type_string:
			return "string";
	}
	return "unknown";
}

static const char *
reject(RecordParser *parser, const char *fmt,...) LOAD_PRINTF(2, 3);

static const char *
reject(RecordParser *parser, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(parser->reason, sizeof(parser->reason), fmt, ap);
	va_end(ap);
	return parser->reason;
}

/*
 * Check and convert one field's JSON value into *out.  Returns NULL or the
 * reason the line is rejected.  A null value counts as absent.
 */
static const char *
convert_field(RecordParser *parser, const FieldSpec *spec, json_object *value,
			  FieldValue *out)
{
	const char *name = spec->json_name;
	int64_t		i64;

	out->isnull = false;
	if (value == NULL)			/* absent, or JSON null */
	{
		if (spec->required)
			return reject(parser, "missing required field \"%s\"", name);
		out->isnull = true;
		return NULL;
	}

	switch (spec->type)
	{
		case FIELD_TEXT:
			if (!json_object_is_type(value, json_type_string))
				return reject(parser, "\"%s\" must be a string, got %s",
							  name, json_type_words(value));
			out->str = json_object_get_string(value);
			out->len = (size_t) json_object_get_string_len(value);
			/* the line had no NUL byte, but "\u0000" makes one */
			if (memchr(out->str, '\0', out->len) != NULL)
				return reject(parser, "\"%s\" contains a NUL character (\\u0000)",
							  name);
			return NULL;

		case FIELD_DATE:
			if (!json_object_is_type(value, json_type_string))
				return reject(parser, "\"%s\" must be a string, got %s",
							  name, json_type_words(value));
			if (!parse_date(json_object_get_string(value),
							(size_t) json_object_get_string_len(value),
							&out->i64))
				return reject(parser, "%s is not a date YYYY-MM-DD", name);
			return NULL;

		case FIELD_TIME:
			if (!json_object_is_type(value, json_type_int))
				return reject(parser, "\"%s\" must be an integer, got %s",
							  name, json_type_words(value));

			/*
			 * Integers beyond int64 come back saturated at INT64_MIN or
			 * INT64_MAX, which are out of range too.
			 */
			if (!epoch_ms_to_timestamptz(json_object_get_int64(value),
										 &out->i64))
				return reject(parser, "\"%s\" is out of range for timestamptz",
							  name);
			return NULL;

		case FIELD_INT4:
			if (!json_object_is_type(value, json_type_int))
				return reject(parser, "\"%s\" must be an integer, got %s",
							  name, json_type_words(value));
			i64 = json_object_get_int64(value);
			if (i64 < INT32_MIN || i64 > INT32_MAX)
				return reject(parser, "\"%s\" is out of range for integer",
							  name);
			out->i64 = i64;
			return NULL;

		case FIELD_FLOAT8:
			if (!json_object_is_type(value, json_type_double) &&
				!json_object_is_type(value, json_type_int))
				return reject(parser, "\"%s\" must be a number, got %s",
							  name, json_type_words(value));
			/*
			 * json-c reads an integer literal beyond 64 bits as INT64_MIN or
			 * UINT64_MAX (it saturates), so we cannot know its value.
			 */
			if (json_object_is_type(value, json_type_int) &&
				(json_object_get_int64(value) == INT64_MIN ||
				 json_object_get_uint64(value) == UINT64_MAX))
				return reject(parser, "\"%s\" is out of range (an integer beyond 64 bits)",
							  name);
			out->f8 = json_object_get_double(value);
			/* json-c accepts NaN and Infinity, and 1e999 overflows to inf */
			if (!isfinite(out->f8))
				return reject(parser, "\"%s\" is not a finite number", name);
			return NULL;
	}
	return reject(parser, "internal error: unknown field type");
}

/* Append the converted fields as one tuple. */
static void
put_record(RecordParser *parser, int32_t file_id, int64_t line_number,
		   CopyBuf *out)
{
	int			i;

	copybuf_put_int16(out, (int16_t) (parser->nfields + 2));
	for (i = 0; i < parser->nfields; i++)
	{
		const FieldValue *v = &parser->value[i];
		uint64_t	bits;

		if (v->isnull)
		{
			copybuf_put_int32(out, -1);
			continue;
		}
		switch (parser->fields[i].type)
		{
			case FIELD_TEXT:
				copybuf_put_bytes(out, v->str, v->len);
				break;
			case FIELD_DATE:
			case FIELD_INT4:
				copybuf_put_int32(out, 4);
				copybuf_put_int32(out, (int32_t) v->i64);
				break;
			case FIELD_TIME:
				copybuf_put_int32(out, 8);
				copybuf_put_int64(out, v->i64);
				break;
			case FIELD_FLOAT8:
				memcpy(&bits, &v->f8, sizeof(bits));
				copybuf_put_int32(out, 8);
				copybuf_put_int64(out, (int64_t) bits);
				break;
		}
	}
	copybuf_put_int32(out, 4);
	copybuf_put_int32(out, file_id);
	copybuf_put_int32(out, 8);
	copybuf_put_int64(out, line_number);
}

/*
 * Take the fields out of a parsed object, in one pass over its keys, and
 * convert them.  Returns NULL or the reason for rejecting the line; counts
 * keys that are not fields of this kind in *extra.
 */
static const char *
take_fields(RecordParser *parser, json_object *obj, int64_t *extra)
{
	int			i;

	memset(parser->slot, 0, sizeof(parser->slot));
	*extra = 0;

	{
		json_object_object_foreach(obj, key, value)
		{
			for (i = 0; i < parser->nfields; i++)
			{
				const char *name = parser->fields[i].json_name;

				if (key[0] == name[0] && strcmp(key, name) == 0)
					break;
			}
			if (i < parser->nfields)
				parser->slot[i] = value;
			else
				(*extra)++;
		}
	}

	/* check in field order, so the reason given is always the first */
	for (i = 0; i < parser->nfields; i++)
	{
		const char *reason = convert_field(parser, &parser->fields[i],
										   parser->slot[i], &parser->value[i]);

		if (reason != NULL)
			return reason;
	}
	return NULL;
}

/*
 * Parse one line.  On success, append its tuple to out, add its count of
 * unknown keys to *extra_fields and return NULL.  Otherwise return why the
 * line is rejected; the string stays valid until the next call.
 *
 * line->data[line->len] must be '\0' (the line reader sees to that) unless
 * the line is too long, in which case we do not look at it.
 */
const char *
record_parse(RecordParser *parser, const Line *line, int32_t file_id,
			 CopyBuf *out, int64_t *extra_fields)
{
	json_object *obj;
	enum json_tokener_error jerr;
	size_t		bad;
	size_t		end;
	int64_t		extra;
	const char *reason;

	if (line->too_long)
		return reject(parser, "line longer than %d bytes", MAX_LINE_BYTES);

	/* text columns cannot hold NUL, and the tokener would stop at it */
	if (memchr(line->data, '\0', line->len) != NULL)
		return reject(parser, "line contains a NUL byte");

	bad = utf8_invalid_offset(line->data, line->len);
	if (bad < line->len)
	{
		if (!line->has_newline)
			return reject(parser, "line cut off (no newline at end of file)");
		return reject(parser, "line is not valid UTF-8 (at offset %zu)", bad);
	}

	/*
	 * Passing the terminating '\0' tells the tokener the input ends here, so
	 * a bare number at the end of the line is complete.
	 */
	json_tokener_reset(parser->tok);
	obj = json_tokener_parse_ex(parser->tok, line->data, (int) line->len + 1);
	jerr = json_tokener_get_error(parser->tok);
	end = json_tokener_get_parse_end(parser->tok);
	if (jerr != json_tokener_success)
	{
		if (obj != NULL)
			json_object_put(obj);
		if (!line->has_newline)
			return reject(parser, "line cut off (no newline at end of file)");
		return reject(parser, "malformed JSON at offset %zu: %s",
					  end, json_tokener_error_desc(jerr));
	}

	/* strict mode already refuses this; trailing whitespace is consumed */
	if (end < line->len)
	{
		json_object_put(obj);
		return reject(parser,
					  "malformed JSON at offset %zu: text after the JSON value",
					  end);
	}

	/* json-c represents the JSON value null as a NULL object */
	if (obj == NULL)
		return reject(parser, "not a JSON object (got null)");
	if (!json_object_is_type(obj, json_type_object))
	{
		reason = reject(parser, "not a JSON object (got %s)",
						json_type_words(obj));
		json_object_put(obj);
		return reason;
	}

	reason = take_fields(parser, obj, &extra);
	if (reason == NULL)
	{
		put_record(parser, file_id, line->number, out);
		*extra_fields += extra;
	}

	/* the text values point into obj: free it only now */
	json_object_put(obj);
	return reason;
}
