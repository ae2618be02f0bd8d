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
 * JSON parsing is YAJL's streaming (SAX) parser.  Its callbacks put each
 * field of the record into a slot as they meet it: a string is used where it
 * lies in the line, a number is converted from its text here.  One parser
 * handle serves every line of a kind (yajl_allow_multiple_values): a line is
 * fed to it whole, and we check ourselves that it held exactly one complete
 * value.  So a line that loads allocates nothing; the handle is replaced
 * only after a line that left it in error or in the middle of a value.
 *
 * A field's key may be spelled three ways: as the STEDI apps write it
 * (camelCase: "serialNumber"), all in lower case as Athena and Hive write
 * column names ("serialnumber"), or in snake_case ("serial_number").  The
 * first is tried first, so the usual record pays nothing for the others.
 * Two spellings of one field in a record are a duplicate key.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

#include <yajl/yajl_parse.h>

#include "stedi_load.h"

/* PostgreSQL's timestamptz range, in microseconds since 2000-01-01 */
#define PG_MIN_TIMESTAMP	INT64_C(-211813488000000000)
#define PG_END_TIMESTAMP	INT64_C(9223371331200000000)	/* exclusive */

/* days from 1970-01-01 to 2000-01-01 */
#define UNIX_TO_PG_EPOCH_DAYS	10957

/* JSON nesting deeper than this (arrays and objects) is refused */
#define MAX_JSON_DEPTH		32

#define MAX_FIELDS			10

/* how much of a duplicate key a reason shows */
#define KEY_SHOWN_BYTES		64

/* a field's key: camelCase, all lower case, snake_case */
#define MAX_SPELLINGS		3

#define NOT_FOUND			SIZE_MAX

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
	size_t		max_bytes;		/* FIELD_TEXT: longest value, 0: no bound */
	bool		nonblank;		/* FIELD_TEXT: empty or blank is rejected */
} FieldSpec;

/*
 * Bounds of the text fields that reach an index (a btree entry holds at
 * most 2,704 bytes: one value over that would block its file or every
 * refresh).  An email address is at most 254 bytes: RFC 5321 (4.5.3.1.3)
 * bounds a path to 256 octets, angle brackets included.  Serial numbers
 * are UUIDs in the real feeds (36 bytes); names and phones get room to
 * spare.  The starter set's longest values: name 19, email 28, phone 10,
 * serial 36 bytes.
 */
#define EMAIL_MAX_BYTES		254
#define SERIAL_MAX_BYTES	128
#define NAME_MAX_BYTES		512
#define PHONE_MAX_BYTES		64

/*
 * The fields of each kind, in the column order of its landing table.  The
 * last two columns of every table, file_id and line_number, are not fields.
 */
static const FieldSpec customer_fields[] = {
	{F_CUSTOMER_NAME, "customer_name", FIELD_TEXT, false, NAME_MAX_BYTES},
	{F_EMAIL, "email", FIELD_TEXT, true, EMAIL_MAX_BYTES, true},
	{F_PHONE, "phone", FIELD_TEXT, false, PHONE_MAX_BYTES},
	{F_BIRTH_DAY, "birth_day", FIELD_DATE, false},
	{F_SERIAL_NUMBER, "serial_number", FIELD_TEXT, true, SERIAL_MAX_BYTES, true},
	{F_REGISTRATION_DATE, "registration_date", FIELD_TIME, false},
	{F_LAST_UPDATE_DATE, "last_update_date", FIELD_TIME, false},
	{F_SHARE_RESEARCH, "share_with_research_as_of_date", FIELD_TIME, false},
	{F_SHARE_PUBLIC, "share_with_public_as_of_date", FIELD_TIME, false},
	{F_SHARE_FRIENDS, "share_with_friends_as_of_date", FIELD_TIME, false},
};

static const FieldSpec accelerometer_fields[] = {
	{F_USER, "user_email", FIELD_TEXT, true, EMAIL_MAX_BYTES, true},
	{F_TIMESTAMP, "reading_time", FIELD_TIME, true},
	{F_X, "x", FIELD_FLOAT8, true},
	{F_Y, "y", FIELD_FLOAT8, true},
	{F_Z, "z", FIELD_FLOAT8, true},
};

static const FieldSpec step_trainer_fields[] = {
	{F_SENSOR_READING_TIME, "sensor_reading_time", FIELD_TIME, true},
	{F_SERIAL_NUMBER, "serial_number", FIELD_TEXT, true, SERIAL_MAX_BYTES, true},
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

/* What a JSON value is; ABSENT is a field whose key did not appear. */
typedef enum JsonKind
{
	JSON_ABSENT = 0,
	JSON_NULL,
	JSON_BOOLEAN,
	JSON_INTEGER,				/* an optional minus and digits */
	JSON_DECIMAL,				/* a number with a fraction or exponent */
	JSON_STRING,
	JSON_OBJECT,
	JSON_ARRAY
} JsonKind;

/* ... in words, for "must be X, got Y" */
static const char *const json_kind_words[] = {
	[JSON_ABSENT] = "nothing",
	[JSON_NULL] = "null",
	[JSON_BOOLEAN] = "boolean",
	[JSON_INTEGER] = "integer",
	[JSON_DECIMAL] = "decimal number",
	[JSON_STRING] = "string",
	[JSON_OBJECT] = "object",
	[JSON_ARRAY] = "array",
};

/* A field's JSON value in this line, as the callbacks found it. */
typedef struct FieldSlot
{
	JsonKind	kind;
	bool		overflow;		/* JSON_INTEGER beyond int64 */
	int64_t		i64;			/* JSON_INTEGER */
	double		f8;				/* JSON_DECIMAL of a FIELD_FLOAT8 */
	const char *str;			/* JSON_STRING: in the line or the arena */
	size_t		len;
} FieldSlot;

/* One converted field, ready to be written. */
typedef struct FieldValue
{
	bool		isnull;
	const char *str;			/* FIELD_TEXT; in the line or the arena */
	size_t		len;
	int64_t		i64;			/* FIELD_DATE, FIELD_TIME, FIELD_INT4 */
	double		f8;				/* FIELD_FLOAT8 */
} FieldValue;

/*
 * A key met in some object of this line, in the table that finds duplicate
 * keys.  An entry whose stamp is not the current line's is free, so the
 * table is emptied per line by counting the stamp up.
 */
typedef struct KeyEntry
{
	uint32_t	stamp;
	uint32_t	object;			/* which object of the line */
	uint32_t	hash;
	uint32_t	len;
	const char *key;			/* in the line or the arena */
} KeyEntry;

/* Why a callback stopped the parse of a line. */
typedef enum ParseStop
{
	STOP_NONE,
	STOP_TRAILING,				/* a second value after the first */
	STOP_NESTING,				/* deeper than MAX_JSON_DEPTH */
	STOP_INTERNAL				/* the arena is full (cannot happen) */
} ParseStop;

struct RecordParser
{
	StediKind	kind;
	const FieldSpec *fields;
	int			nfields;
	size_t		name_len[MAX_FIELDS];

	/*
	 * The other spellings of each field's key ([0] is json_name), and which
	 * one the record used; a one-word key like "user" has only one.
	 */
	const char *spelling[MAX_FIELDS][MAX_SPELLINGS];
	size_t		spelling_len[MAX_FIELDS][MAX_SPELLINGS];
	int			nspellings[MAX_FIELDS];
	int			spelled[MAX_FIELDS];
	int			found_spelling; /* of find_field's last match */
	yajl_handle yajl;

	/* the line under way: what YAJL is fed, and what it has shown us */
	const char *text;			/* the line, or a fixed copy of it */
	size_t		text_len;
	int			depth;			/* arrays and objects open */
	uint32_t	object_id[MAX_JSON_DEPTH + 1];	/* of the object open at a
												 * depth */
	uint32_t	nobjects;
	int			values;			/* top-level values complete */
	JsonKind	top_kind;		/* of the first one */
	size_t		value_end;		/* offset just after the first one */
	bool		finishing;		/* in yajl_complete_parse: no offsets */
	int			field;			/* of the last key of the record: -1 not a
								 * field, -2 a field seen before */
	int			next_field;		/* the field the next key likely is */
	uint32_t	seen;			/* fields whose key was met, a bit each */
	bool		started;		/* start_line ran for this line */
	int64_t		extra;			/* keys of the record that are not fields */
	ParseStop	stop;
	const char *dup_key;		/* the first duplicate key, if any */
	size_t		dup_len;
	const char *dup_first;		/* its other spelling met before, if any */

	/* the record's keys that are not fields, for UnknownFields */
	const char **unknown_key;
	size_t	   *unknown_len;
	size_t		nunknown;
	size_t		unknown_cap;
	FieldSlot	slot[MAX_FIELDS];
	FieldValue	value[MAX_FIELDS];

	/* keys met in objects other than the record's fields */
	KeyEntry   *keys;
	uint32_t	keys_mask;		/* size - 1, a power of two */
	uint32_t	nkeys;			/* in use by this line */
	uint32_t	stamp;			/* of this line */

	/*
	 * Strings that YAJL hands over in a buffer of its own (those with
	 * escapes, which it decodes) are copied here to outlive the callback.
	 * It is made as large as the line before parsing, and decoding never
	 * lengthens a string, so it never moves while a line is parsed.
	 */
	char	   *arena;
	size_t		arena_len;
	size_t		arena_cap;

	char	   *fixed;			/* a line with lone surrogates fixed */
	size_t		fixed_cap;
	char	   *scratch;		/* a long number, terminated for strtod */
	size_t		scratch_cap;

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

/* An identity field, or NULL. */
static void
put_identity(CopyBuf *buf, const char *str, size_t len)
{
	if (str == NULL)
		copybuf_put_int32(buf, -1);
	else
		copybuf_put_bytes(buf, str, len);
}

/*
 * Append a tuple for landing.rejected: (kind, file_id, line_number,
 * byte_offset, reason, raw_line, email, serial_number).
 */
void
copy_put_rejected(CopyBuf *buf, StediKind kind, int32_t file_id,
				  const Line *line, const char *reason,
				  const RejectedIdentity *id)
{
	const char *kindname = stedi_kind_name[kind];

	copybuf_put_int16(buf, 8);
	copybuf_put_bytes(buf, kindname, strlen(kindname));
	copybuf_put_int32(buf, 4);
	copybuf_put_int32(buf, file_id);
	copybuf_put_int32(buf, 8);
	copybuf_put_int64(buf, line->number);
	copybuf_put_int32(buf, 8);
	copybuf_put_int64(buf, line->offset);
	copybuf_put_bytes(buf, reason, strlen(reason));
	put_raw_line(buf, line->data, line->len);
	put_identity(buf, id->email, id->email_len);
	put_identity(buf, id->serial, id->serial_len);
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


/* ---- memory for a line ---- */

/* YAJL allocates through these, so that running out of memory exits. */
static void *
json_malloc(void *ctx, size_t size)
{
	(void) ctx;
	return load_malloc(size);
}

static void *
json_realloc(void *ctx, void *ptr, size_t size)
{
	(void) ctx;
	return load_realloc(ptr, size);
}

static void
json_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

static yajl_alloc_funcs json_alloc_funcs = {
	json_malloc, json_realloc, json_free, NULL
};

static inline bool
in_buffer(const char *s, const char *buf, size_t len)
{
	uintptr_t	p = (uintptr_t) s;
	uintptr_t	b = (uintptr_t) buf;

	return buf != NULL && p >= b && p - b < len;
}

/*
 * A string from a callback, made to last until the line is done: one in
 * the line is used in place, one in YAJL's decoding buffer is copied to the
 * arena.  NULL if the arena is full, which cannot happen.
 */
static const char *
keep_string(RecordParser *p, const char *s, size_t len)
{
	char	   *copy;

	if (in_buffer(s, p->text, p->text_len) ||
		in_buffer(s, p->arena, p->arena_len))
		return s;
	if (p->arena_cap - p->arena_len < len)
		return NULL;
	copy = p->arena + p->arena_len;
	memcpy(copy, s, len);
	p->arena_len += len;
	return copy;
}


/* ---- the line before parsing ---- */

/* What a pass over the bytes of a line found; NOT_FOUND if nothing. */
typedef struct LineScan
{
	size_t		nul;			/* first NUL byte (the scan stops there) */
	size_t		bad_utf8;		/* first byte not valid UTF-8 */
	size_t		ff_vt;			/* first form feed or vertical tab */
	bool		backslash;		/* any backslash: escapes to look at */
} LineScan;

#define BYTES_ONES			UINT64_C(0x0101010101010101)
#define BYTES_HIGHS			UINT64_C(0x8080808080808080)

/*
 * One pass over the line for what JSON parsing must not or need not see:
 * NUL, invalid UTF-8 (anywhere, in strings or not, as strict as
 * PostgreSQL), form feed and vertical tab (which YAJL, unlike JSON, takes
 * for whitespace) and backslashes.  Eight bytes at a time while they are
 * plain printable ASCII without a backslash, which is most of the time.
 */
static void
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
static const char *
fix_surrogates(RecordParser *p, const char *s, size_t len)
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
				load_reserve(&p->fixed, &p->fixed_cap, len + 1);
				fixed = p->fixed;
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
static bool
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
static double
parse_decimal(RecordParser *p, const char *s, size_t len)
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
		load_reserve(&p->scratch, &p->scratch_cap, len + 1);
		copy = p->scratch;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	return strtod(copy, NULL);
}


/* ---- YAJL callbacks ---- */

/* memcmp() == 0 for the few bytes of a key, without a call */
static inline bool
same_bytes(const char *a, const char *b, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (a[i] != b[i])
			return false;
	}
	return true;
}

/*
 * Which field a key of the record is, or -1, with the spelling it has in
 * p->found_spelling.  Tries the likely one first, and camelCase, the
 * spelling of the STEDI apps, before the others.
 */
static inline int
find_field(RecordParser *p, const char *key, size_t len)
{
	int			i = p->next_field;
	int			n;

	for (n = 0; n < p->nfields; n++)
	{
		if (p->name_len[i] == len &&
			same_bytes(p->fields[i].json_name, key, len))
		{
			p->next_field = i + 1 < p->nfields ? i + 1 : 0;
			p->found_spelling = 0;
			return i;
		}
		if (++i == p->nfields)
			i = 0;
	}
	for (i = 0; i < p->nfields; i++)
	{
		int			s;

		for (s = 1; s < p->nspellings[i]; s++)
		{
			if (p->spelling_len[i][s] == len &&
				same_bytes(p->spelling[i][s], key, len))
			{
				p->found_spelling = s;
				return i;
			}
		}
	}
	return -1;
}

/* Double the key table, keeping this line's entries. */
static void
keys_grow(RecordParser *p)
{
	uint32_t	oldsize = p->keys_mask + 1;
	uint32_t	newsize = oldsize * 2;
	KeyEntry   *old = p->keys;
	uint32_t	i;

	p->keys = load_malloc(newsize * sizeof(KeyEntry));
	memset(p->keys, 0, newsize * sizeof(KeyEntry));
	p->keys_mask = newsize - 1;
	for (i = 0; i < oldsize; i++)
	{
		uint32_t	j;

		if (old[i].stamp != p->stamp)
			continue;
		for (j = old[i].hash & p->keys_mask; p->keys[j].stamp == p->stamp;
			 j = (j + 1) & p->keys_mask)
			;
		p->keys[j] = old[i];
	}
	free(old);
}

/* Add a key of an object; false if that object had it already. */
static bool
key_insert(RecordParser *p, uint32_t object, const char *key, size_t len)
{
	uint32_t	h = load_hash(object, key, len);
	uint32_t	i;
	KeyEntry   *e;

	if (p->nkeys >= (p->keys_mask + 1) / 2)
		keys_grow(p);
	for (i = h & p->keys_mask;; i = (i + 1) & p->keys_mask)
	{
		e = &p->keys[i];
		if (e->stamp != p->stamp)
			break;
		if (e->hash == h && e->object == object && e->len == len &&
			memcmp(e->key, key, len) == 0)
			return false;
	}
	e->stamp = p->stamp;
	e->object = object;
	e->hash = h;
	e->len = (uint32_t) len;
	e->key = key;
	p->nkeys++;
	return true;
}

static void
note_duplicate(RecordParser *p, const char *key, size_t len)
{
	if (p->dup_key == NULL)
	{
		p->dup_key = keep_string(p, key, len);
		p->dup_len = len;
	}
}

/* A field's key again, in the spelling s; first met in another one? */
static void
note_duplicate_field(RecordParser *p, int field, int s)
{
	if (p->dup_key == NULL)
	{
		p->dup_key = p->spelling[field][s];
		p->dup_len = p->spelling_len[field][s];
		if (p->spelled[field] != s)
			p->dup_first = p->spelling[field][p->spelled[field]];
	}
}

/* Keep a key of the record that is not a field, until the line is done. */
static void
note_unknown(RecordParser *p, const char *key, size_t len)
{
	if (p->nunknown == p->unknown_cap)
	{
		p->unknown_cap = p->unknown_cap > 0 ? p->unknown_cap * 2 : 16;
		p->unknown_key = load_realloc(p->unknown_key,
									  sizeof(const char *) * p->unknown_cap);
		p->unknown_len = load_realloc(p->unknown_len,
									  sizeof(size_t) * p->unknown_cap);
	}
	p->unknown_key[p->nunknown] = key;
	p->unknown_len[p->nunknown] = len;
	p->nunknown++;
}

/* A value starts at the top: it must be the line's first. */
static inline bool
top_value(RecordParser *p, JsonKind kind)
{
	if (p->values > 0)
	{
		p->stop = STOP_TRAILING;
		return false;
	}
	p->top_kind = kind;
	return true;
}

/* The value at the top is complete. */
static inline void
top_value_done(RecordParser *p)
{
	p->values++;
	p->value_end = p->finishing ? p->text_len
		: yajl_get_bytes_consumed(p->yajl);
}

/* The slot of the field whose value this is, if it is one. */
static inline FieldSlot *
field_slot(RecordParser *p)
{
	return p->depth == 1 && p->field >= 0 ? &p->slot[p->field] : NULL;
}

static int
json_scalar(RecordParser *p, JsonKind kind)
{
	FieldSlot  *slot;

	if (p->depth == 0)
	{
		if (!top_value(p, kind))
			return 0;
		top_value_done(p);
	}
	else if ((slot = field_slot(p)) != NULL)
		slot->kind = kind;
	return 1;
}

static int
json_null(void *ctx)
{
	return json_scalar(ctx, JSON_NULL);
}

static int
json_boolean(void *ctx, int value)
{
	(void) value;
	return json_scalar(ctx, JSON_BOOLEAN);
}

static int
json_number(void *ctx, const char *s, size_t len)
{
	RecordParser *p = ctx;
	FieldSlot  *slot;
	int64_t		i64;
	bool		overflow;

	if (p->depth == 0)
	{
		if (!top_value(p, parse_integer(s, len, &i64, &overflow) ?
					   JSON_INTEGER : JSON_DECIMAL))
			return 0;
		top_value_done(p);
	}
	else if ((slot = field_slot(p)) != NULL)
	{
		/* the text may be in YAJL's buffer: convert it now */
		if (parse_integer(s, len, &slot->i64, &slot->overflow))
			slot->kind = JSON_INTEGER;
		else
		{
			slot->kind = JSON_DECIMAL;
			if (p->fields[p->field].type == FIELD_FLOAT8)
				slot->f8 = parse_decimal(p, s, len);
		}
	}
	return 1;
}

static int
json_string(void *ctx, const unsigned char *s, size_t len)
{
	RecordParser *p = ctx;
	FieldSlot  *slot;

	if (p->depth == 0)
	{
		if (!top_value(p, JSON_STRING))
			return 0;
		top_value_done(p);
	}
	else if ((slot = field_slot(p)) != NULL)
	{
		slot->kind = JSON_STRING;
		slot->str = keep_string(p, (const char *) s, len);
		slot->len = len;
		if (slot->str == NULL)
		{
			p->stop = STOP_INTERNAL;
			return 0;
		}
	}
	return 1;
}

/* An array or object starts. */
static inline bool
open_value(RecordParser *p, JsonKind kind)
{
	FieldSlot  *slot;

	if (p->depth == 0)
	{
		if (!top_value(p, kind))
			return false;
	}
	else if ((slot = field_slot(p)) != NULL)
		slot->kind = kind;
	if (p->depth == MAX_JSON_DEPTH)
	{
		p->stop = STOP_NESTING;
		return false;
	}
	p->depth++;
	return true;
}

static int
json_start_map(void *ctx)
{
	RecordParser *p = ctx;

	if (!open_value(p, JSON_OBJECT))
		return 0;
	p->object_id[p->depth] = ++p->nobjects;
	return 1;
}

static int
json_start_array(void *ctx)
{
	return open_value(ctx, JSON_ARRAY);
}

static int
json_end(void *ctx)
{
	RecordParser *p = ctx;

	if (--p->depth == 0)
		top_value_done(p);
	return 1;
}

/*
 * A key.  The record's own keys are told apart by a bit per field, which is
 * all a good record needs; every other key (not a field, or in a nested
 * object) goes to the key table.
 */
static int
json_map_key(void *ctx, const unsigned char *ukey, size_t len)
{
	RecordParser *p = ctx;
	const char *key = (const char *) ukey;

	if (p->depth == 1)
	{
		int			i = find_field(p, key, len);

		if (i >= 0)
		{
			uint32_t	bit = UINT32_C(1) << i;

			if (p->seen & bit)
			{
				note_duplicate_field(p, i, p->found_spelling);
				p->field = -2;
			}
			else
			{
				p->seen |= bit;
				p->spelled[i] = p->found_spelling;
				p->field = i;
			}
			return 1;
		}
		p->field = -1;
		p->extra++;
	}

	key = keep_string(p, key, len);
	if (key == NULL)
	{
		p->stop = STOP_INTERNAL;
		return 0;
	}
	if (!key_insert(p, p->object_id[p->depth], key, len))
		note_duplicate(p, key, len);
	else if (p->depth == 1)
		note_unknown(p, key, len);
	return 1;
}

static const yajl_callbacks json_callbacks = {
	json_null,
	json_boolean,
	NULL,						/* integers and doubles: json_number */
	NULL,
	json_number,
	json_string,
	json_start_map,
	json_map_key,
	json_end,
	json_start_array,
	json_end
};

/* A fresh YAJL handle, in place of the one there was. */
static void
new_handle(RecordParser *p)
{
	if (p->yajl != NULL)
		yajl_free(p->yajl);
	p->yajl = yajl_alloc(&json_callbacks, &json_alloc_funcs, p);
	if (p->yajl == NULL)
		load_fatal("out of memory");
	/* strict JSON: no comments; UTF-8 we check ourselves, more strictly */
	yajl_config(p->yajl, yajl_allow_comments, 0);
	yajl_config(p->yajl, yajl_dont_validate_strings, 1);
	/* one value a line, line after line, through the same handle */
	yajl_config(p->yajl, yajl_allow_multiple_values, 1);
}


/* ---- records ---- */

/*
 * The spellings of a field's key: as written ("shareWithResearchAsOfDate"),
 * all in lower case ("sharewithresearchasofdate") and in snake_case
 * ("share_with_research_as_of_date"); one if it has no capital letter.
 */
static void
make_spellings(RecordParser *p, int field)
{
	const char *name = p->fields[field].json_name;
	size_t		len = strlen(name);
	char	   *lower = load_malloc(len + 1);
	char	   *snake = load_malloc(2 * len + 1);
	size_t		i,
				n = 0;
	bool		capitals = false;

	for (i = 0; i < len; i++)
	{
		char		c = name[i];

		if (c >= 'A' && c <= 'Z')
		{
			capitals = true;
			c = (char) (c - 'A' + 'a');
			snake[n++] = '_';
		}
		lower[i] = c;
		snake[n++] = c;
	}
	lower[len] = '\0';
	snake[n] = '\0';

	p->spelling[field][0] = name;
	p->spelling_len[field][0] = len;
	p->nspellings[field] = 1;
	if (!capitals)
	{
		free(lower);
		free(snake);
		return;
	}
	p->spelling[field][1] = lower;
	p->spelling_len[field][1] = len;
	p->spelling[field][2] = snake;
	p->spelling_len[field][2] = n;
	p->nspellings[field] = 3;
}

RecordParser *
record_parser_create(StediKind kind)
{
	RecordParser *parser = load_malloc(sizeof(RecordParser));
	int			i;

	memset(parser, 0, sizeof(RecordParser));
	parser->kind = kind;
	parser->fields = kind_fields[kind].fields;
	parser->nfields = kind_fields[kind].nfields;
	for (i = 0; i < parser->nfields; i++)
	{
		parser->name_len[i] = strlen(parser->fields[i].json_name);
		make_spellings(parser, i);
	}
	parser->keys_mask = 63;
	parser->keys = load_malloc((parser->keys_mask + 1) * sizeof(KeyEntry));
	memset(parser->keys, 0, (parser->keys_mask + 1) * sizeof(KeyEntry));
	new_handle(parser);
	return parser;
}

void
record_parser_free(RecordParser *parser)
{
	int			i;
	int			s;

	if (parser == NULL)
		return;
	for (i = 0; i < parser->nfields; i++)
	{
		for (s = 1; s < parser->nspellings[i]; s++)
			free((char *) parser->spelling[i][s]);
	}
	free(parser->unknown_key);
	free(parser->unknown_len);
	yajl_free(parser->yajl);
	free(parser->keys);
	free(parser->arena);
	free(parser->fixed);
	free(parser->scratch);
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

/* A line that is not JSON; on a last line without newline, say that. */
static const char *
reject_syntax(RecordParser *p, const Line *line, size_t offset,
			  const char *detail)
{
	if (!line->has_newline)
		return reject(p, "line cut off (no newline at end of file)");
	return reject(p, "malformed JSON at offset %zu: %s", offset, detail);
}

/* A line that is JSON so far, but ends in the middle of a value. */
static const char *
reject_cut_off(RecordParser *p, const Line *line)
{
	if (!line->has_newline)
		return reject(p, "line cut off (no newline at end of file)");
	return reject(p, "line cut off: the JSON ends before the record does");
}

/* The error YAJL stopped at, in its words. */
static const char *
reject_json_error(RecordParser *p, const Line *line)
{
	unsigned char *msg = yajl_get_error(p->yajl, 0, NULL, 0);
	size_t		offset = yajl_get_bytes_consumed(p->yajl);
	char		detail[128];
	const char *d = msg != NULL ? (const char *) msg : "syntax error";
	bool		parse_error = false;
	size_t		n;
	const char *reason;

	if (strncmp(d, "lexical error: ", 15) == 0)
		d += 15;
	else if (strncmp(d, "parse error: ", 13) == 0)
	{
		d += 13;
		parse_error = true;
	}
	snprintf(detail, sizeof(detail), "%s", d);
	n = strlen(detail);
	while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == '.'))
		detail[--n] = '\0';

	/*
	 * YAJL counts the bytes it took, up to and including the offending
	 * token for most parse errors and for an invalid character; point at
	 * the token instead.
	 */
	if (offset > 0 &&
		((parse_error && strstr(detail, "after key and value") == NULL) ||
		 strcmp(detail, "invalid char in json text") == 0))
		offset--;

	reason = reject_syntax(p, line, offset, detail);
	if (msg != NULL)
		yajl_free_error(p->yajl, msg);
	return reason;
}

/*
 * "duplicate key", showing the key as a JSON string, cut if long; for two
 * spellings of one field, naming the one met first too.
 */
static const char *
reject_duplicate(RecordParser *p)
{
	const unsigned char *key = (const unsigned char *) p->dup_key;
	size_t		len = p->dup_len;
	char		shown[KEY_SHOWN_BYTES + 16];
	size_t		out = 0;
	size_t		i = 0;

	/* a field's spellings are plain ASCII and short */
	if (p->dup_first != NULL)
		return reject(p, "duplicate key \"%.*s\" (the same field as \"%s\")",
					  (int) len, p->dup_key, p->dup_first);

	while (i < len)
	{
		char		piece[8];
		size_t		piecelen;
		int			n = utf8_char_len(key + i, len - i);

		if (n == 0)				/* cannot be: the key was checked */
		{
			piece[0] = '?';
			piecelen = 1;
			n = 1;
		}
		else if (key[i] == '"' || key[i] == '\\')
		{
			piece[0] = '\\';
			piece[1] = (char) key[i];
			piecelen = 2;
		}
		else if (key[i] < 0x20)
			piecelen = (size_t) snprintf(piece, sizeof(piece), "\\u%04x", key[i]);
		else
		{
			memcpy(piece, key + i, (size_t) n);
			piecelen = (size_t) n;
		}
		if (out + piecelen > KEY_SHOWN_BYTES)
		{
			memcpy(shown + out, "...", 3);
			out += 3;
			break;
		}
		memcpy(shown + out, piece, piecelen);
		out += piecelen;
		i += (size_t) n;
	}
	shown[out] = '\0';
	return reject(p, "duplicate key \"%s\"", shown);
}

/* Only white space (or nothing): no one's email or serial number. */
static bool
is_blank_text(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' &&
			s[i] != '\f' && s[i] != '\v')
			return false;
	return true;
}

/*
 * Check and convert one field's JSON value into *out.  Returns NULL or the
 * reason the line is rejected, naming the field as name (the key as the
 * record spelled it).  A null value counts as absent.
 */
static const char *
convert_field(RecordParser *parser, const FieldSpec *spec, const char *name,
			  JsonKind kind, const FieldSlot *slot, FieldValue *out)
{
	out->isnull = false;
	if (kind == JSON_ABSENT || kind == JSON_NULL)
	{
		if (spec->required)
			return reject(parser, "missing required field \"%s\"", name);
		out->isnull = true;
		return NULL;
	}

	switch (spec->type)
	{
		case FIELD_TEXT:
			if (kind != JSON_STRING)
				return reject(parser, "\"%s\" must be a string, got %s",
							  name, json_kind_words[kind]);
			out->str = slot->str;
			out->len = slot->len;
			/* the line had no NUL byte, but "\u0000" makes one */
			if (memchr(out->str, '\0', out->len) != NULL)
				return reject(parser, "\"%s\" contains a NUL character (\\u0000)",
							  name);
			/* decoded escapes are UTF-8 (see fix_surrogates); be sure */
			if (!in_buffer(out->str, parser->text, parser->text_len) &&
				utf8_invalid_offset(out->str, out->len) < out->len)
				return reject(parser, "\"%s\" is not valid UTF-8", name);
			if (spec->max_bytes > 0 && out->len > spec->max_bytes)
				return reject(parser, "\"%s\" is %zu bytes, longer than the %zu allowed",
							  name, out->len, spec->max_bytes);
			if (spec->nonblank && is_blank_text(out->str, out->len))
				return reject(parser, "\"%s\" is empty", name);
			return NULL;

		case FIELD_DATE:
			if (kind != JSON_STRING)
				return reject(parser, "\"%s\" must be a string, got %s",
							  name, json_kind_words[kind]);
			if (!parse_date(slot->str, slot->len, &out->i64))
				return reject(parser, "%s is not a date YYYY-MM-DD", name);
			return NULL;

		case FIELD_TIME:
			if (kind != JSON_INTEGER)
				return reject(parser, "\"%s\" must be an integer, got %s",
							  name, json_kind_words[kind]);
			if (slot->overflow ||
				!epoch_ms_to_timestamptz(slot->i64, &out->i64))
				return reject(parser, "\"%s\" is out of range for timestamptz",
							  name);
			return NULL;

		case FIELD_INT4:
			if (kind != JSON_INTEGER)
				return reject(parser, "\"%s\" must be an integer, got %s",
							  name, json_kind_words[kind]);
			if (slot->overflow ||
				slot->i64 < INT32_MIN || slot->i64 > INT32_MAX)
				return reject(parser, "\"%s\" is out of range for integer",
							  name);
			out->i64 = slot->i64;
			return NULL;

		case FIELD_FLOAT8:
			if (kind != JSON_INTEGER && kind != JSON_DECIMAL)
				return reject(parser, "\"%s\" must be a number, got %s",
							  name, json_kind_words[kind]);
			if (kind == JSON_INTEGER)
			{
				if (slot->overflow)
					return reject(parser, "\"%s\" is out of range (an integer beyond 64 bits)",
								  name);
				out->f8 = (double) slot->i64;
			}
			else
				out->f8 = slot->f8;
			/* 1e999 overflows to infinity */
			if (!isfinite(out->f8))
				return reject(parser, "\"%s\" is not a finite number", name);
			return NULL;
	}
	return reject(parser, "internal error: unknown field type");
}

/*
 * One identity field of the line rejected last, when its key was met with a
 * string value that could be a landing value (bounded, not blank, no NUL,
 * valid UTF-8), else NULL.
 */
static const char *
identity_field(const RecordParser *p, const char *column, size_t *len)
{
	int			i;

	if (!p->started)
		return NULL;
	for (i = 0; i < p->nfields; i++)
	{
		const FieldSpec *spec = &p->fields[i];
		const FieldSlot *slot = &p->slot[i];

		if (strcmp(spec->column, column) != 0)
			continue;
		if (!(p->seen & (UINT32_C(1) << i)) || slot->kind != JSON_STRING ||
			slot->len > spec->max_bytes ||
			is_blank_text(slot->str, slot->len) ||
			memchr(slot->str, '\0', slot->len) != NULL ||
			utf8_invalid_offset(slot->str, slot->len) < slot->len)
			return NULL;
		*len = slot->len;
		return slot->str;
	}
	return NULL;
}

/*
 * The email and serial number the line that record_parse rejected last
 * carries, for stedi.forget_customer to find it by: valid until the next
 * call.  A line rejected before it was parsed (too long, a NUL byte, not
 * UTF-8) carries none; one rejected while parsing carries those met before
 * the fault.
 */
void
record_rejected_identity(const RecordParser *p, RejectedIdentity *id)
{
	id->email = identity_field(p, p->kind == STEDI_ACCELEROMETER ?
							   "user_email" : "email", &id->email_len);
	id->serial = identity_field(p, "serial_number", &id->serial_len);
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

/* Get ready for a line: what the callbacks track starts afresh. */
static void
start_line(RecordParser *p, const char *text, size_t len)
{
	p->text = text;
	p->text_len = len;
	p->depth = 0;
	p->nobjects = 0;
	p->values = 0;
	p->top_kind = JSON_ABSENT;
	p->value_end = 0;
	p->finishing = false;
	p->field = -1;
	p->next_field = 0;
	p->seen = 0;
	p->started = true;
	p->extra = 0;
	p->stop = STOP_NONE;
	p->dup_key = NULL;
	p->dup_len = 0;
	p->dup_first = NULL;
	p->nunknown = 0;
	p->arena_len = 0;
	p->nkeys = 0;
	if (++p->stamp == 0)
	{
		/* after 2^32 lines: clear the table for real, once */
		memset(p->keys, 0, (p->keys_mask + 1) * sizeof(KeyEntry));
		p->stamp = 1;
	}
}

/*
 * Parse one line.  On success, append its tuple to out, add its keys that
 * are not fields to unknown and return NULL.  Otherwise return why the
 * line is rejected; the string stays valid until the next call.
 *
 * The checks come in this order, and the first that fails gives the
 * reason: length, NUL bytes, UTF-8, JSON syntax (including a line cut off
 * or nested too deep), a JSON object, duplicate keys, then each field in
 * the order of the table's columns.
 */
const char *
record_parse(RecordParser *parser, const Line *line, int32_t file_id,
			 CopyBuf *out, UnknownFields *unknown)
{
	RecordParser *p = parser;
	LineScan	scan;
	const char *text = line->data;
	size_t		feed;
	size_t		i;
	yajl_status status;
	const char *reason;

	p->started = false;
	if (line->too_long)
		return reject(p, "line longer than %d bytes", MAX_LINE_BYTES);

	scan_line(line->data, line->len, &scan);
	/* text columns cannot hold NUL */
	if (scan.nul != NOT_FOUND)
		return reject(p, "line contains a NUL byte");
	if (scan.bad_utf8 != NOT_FOUND)
	{
		if (!line->has_newline)
			return reject(p, "line cut off (no newline at end of file)");
		return reject(p, "line is not valid UTF-8 (at offset %zu)",
					  scan.bad_utf8);
	}
	if (scan.backslash)
	{
		text = fix_surrogates(p, line->data, line->len);
		/* room for every string YAJL decodes */
		load_reserve(&p->arena, &p->arena_cap, line->len);
	}
	start_line(p, text, line->len);

	/*
	 * YAJL takes a form feed or vertical tab for whitespace, JSON does not:
	 * parse only what comes before, which may hold an earlier error.
	 */
	feed = scan.ff_vt != NOT_FOUND ? scan.ff_vt : line->len;

	status = yajl_parse(p->yajl, (const unsigned char *) text, feed);
	if (status != yajl_status_ok)
	{
		if (status == yajl_status_client_canceled && p->stop == STOP_NESTING)
			reason = line->has_newline ?
				reject(p, "nesting deeper than %d levels", MAX_JSON_DEPTH) :
				reject(p, "line cut off (no newline at end of file)");
		else if (status == yajl_status_client_canceled &&
				 p->stop == STOP_TRAILING)
		{
			/* a second value: say where it starts */
			for (i = p->value_end; i < line->len; i++)
			{
				if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
					break;
			}
			reason = reject_syntax(p, line, i, "text after the JSON value");
		}
		else if (status == yajl_status_client_canceled &&
				 p->stop == STOP_INTERNAL)
			reason = reject(p, "internal error: no room for the line's strings");
		else
			reason = reject_json_error(p, line);
		new_handle(p);
		return reason;
	}
	if (scan.ff_vt != NOT_FOUND)
	{
		new_handle(p);
		return reject_syntax(p, line, scan.ff_vt, "invalid char in json text");
	}

	/* inside an array or object still: the line ends too soon */
	if (p->depth > 0)
	{
		new_handle(p);
		return reject_cut_off(p, line);
	}

	/*
	 * No value complete yet, so the line ends in a top-level one: a number,
	 * which needs to see that it ends, or something cut off.
	 */
	if (p->values == 0)
	{
		p->finishing = true;
		status = yajl_complete_parse(p->yajl);
		if (status != yajl_status_ok || p->values == 0)
		{
			new_handle(p);
			return reject_cut_off(p, line);
		}
	}

	/*
	 * After the value, whitespace only.  A second value that started and
	 * stopped the parse was dealt with above; this finds one that had not
	 * ended yet (and sits in YAJL's buffer, so the handle must go).
	 */
	for (i = p->value_end; i < line->len; i++)
	{
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
		{
			new_handle(p);
			return reject_syntax(p, line, i, "text after the JSON value");
		}
	}

	if (p->top_kind != JSON_OBJECT)
		return reject(p, "not a JSON object (got %s)",
					  json_kind_words[p->top_kind]);
	if (p->dup_key != NULL)
		return reject_duplicate(p);

	/* check in field order, so the reason given is always the first */
	for (i = 0; i < (size_t) p->nfields; i++)
	{
		bool		seen = (p->seen & (UINT32_C(1) << i)) != 0;

		reason = convert_field(p, &p->fields[i],
							   p->spelling[i][seen ? p->spelled[i] : 0],
							   seen ? p->slot[i].kind : JSON_ABSENT,
							   &p->slot[i], &p->value[i]);
		if (reason != NULL)
			return reason;
	}

	put_record(p, file_id, line->number, out);
	if (p->extra > 0)
		unknown_fields_add_record(unknown, p->unknown_key, p->unknown_len,
								  p->nunknown, p->extra);
	return NULL;
}


/* ---- unknown field names of a file ---- */

/*
 * The names of the keys a file's loaded records carried that are not
 * fields, each with how many records carried it: what landing.unknown_field
 * keeps of the file.  At most UNKNOWN_MAX_NAMES names are kept, each cut to
 * UNKNOWN_NAME_BYTES; so the memory is bounded (about 300 kB) whatever the
 * file holds.  Names past the limit still count in the total.
 */
#define UNKNOWN_MAX_NAMES	1000
#define UNKNOWN_NAME_BYTES	256		/* landing.unknown_field's CHECK */
#define UNKNOWN_SLOTS		2048	/* hash slots, a power of two */

typedef struct UnknownName
{
	size_t		name;			/* offset in names */
	size_t		len;
	int64_t		records;
	int64_t		last_record;	/* the last record counted, to count once */
} UnknownName;

struct UnknownFields
{
	int64_t		total;			/* unknown keys of the loaded records */
	int64_t		records;		/* records seen with any */
	int64_t		left_out;		/* keys whose names were not kept */
	UnknownName entry[UNKNOWN_MAX_NAMES];
	int			nentries;
	int16_t		slot[UNKNOWN_SLOTS];	/* entry + 1, 0: free */
	bool		sorted;			/* entries no longer match slots */
	char	   *names;
	size_t		names_len;
	size_t		names_cap;
};

UnknownFields *
unknown_fields_create(void)
{
	UnknownFields *u = load_malloc(sizeof(UnknownFields));

	memset(u, 0, sizeof(UnknownFields));
	return u;
}

void
unknown_fields_reset(UnknownFields *u)
{
	u->total = 0;
	u->records = 0;
	u->left_out = 0;
	u->nentries = 0;
	u->sorted = false;
	u->names_len = 0;
	memset(u->slot, 0, sizeof(u->slot));
}

void
unknown_fields_free(UnknownFields *u)
{
	if (u == NULL)
		return;
	free(u->names);
	free(u);
}

/*
 * A key as landing.unknown_field can keep it, into out (at least
 * UNKNOWN_NAME_BYTES): a NUL (from "\u0000") becomes those six characters,
 * as in landing.rejected.raw_line, and a name longer than
 * UNKNOWN_NAME_BYTES is cut at a character boundary and ends in "...".
 * YAJL has checked that keys are UTF-8, but a byte that is not would become
 * U+FFFD all the same.  Returns the length.
 */
static size_t
unknown_name(const char *key, size_t len, char *out)
{
	const unsigned char *k = (const unsigned char *) key;
	size_t		n = 0;
	size_t		cut = 0;		/* the last boundary with room for "..." */
	size_t		i = 0;

	while (i < len)
	{
		const char *piece;
		size_t		piecelen;
		int			c = utf8_char_len(k + i, len - i);

		if (c == 0)
		{
			piece = "\xEF\xBF\xBD";
			piecelen = 3;
			c = 1;
		}
		else if (k[i] == '\0')
		{
			piece = "\\u0000";
			piecelen = 6;
		}
		else
		{
			piece = key + i;
			piecelen = (size_t) c;
		}
		if (n + piecelen > UNKNOWN_NAME_BYTES)
		{
			memcpy(out + cut, "...", 3);
			return cut + 3;
		}
		memcpy(out + n, piece, piecelen);
		n += piecelen;
		if (n <= UNKNOWN_NAME_BYTES - 3)
			cut = n;
		i += (size_t) c;
	}
	return n;
}

static void
unknown_fields_add(UnknownFields *u, const char *key, size_t keylen)
{
	char		name[UNKNOWN_NAME_BYTES];
	size_t		len = unknown_name(key, keylen, name);
	uint32_t	h = load_hash(0, name, len);
	uint32_t	i;
	UnknownName *e;

	for (i = h & (UNKNOWN_SLOTS - 1);; i = (i + 1) & (UNKNOWN_SLOTS - 1))
	{
		if (u->slot[i] == 0)
			break;
		e = &u->entry[u->slot[i] - 1];
		if (e->len == len && memcmp(u->names + e->name, name, len) == 0)
		{
			/* two long keys cut to one name: still one record */
			if (e->last_record != u->records)
			{
				e->records++;
				e->last_record = u->records;
			}
			return;
		}
	}
	if (u->nentries == UNKNOWN_MAX_NAMES)
	{
		u->left_out++;
		return;
	}
	load_reserve(&u->names, &u->names_cap, u->names_len + len + 1);
	memcpy(u->names + u->names_len, name, len);
	e = &u->entry[u->nentries];
	e->name = u->names_len;
	e->len = len;
	e->records = 1;
	e->last_record = u->records;
	u->names_len += len;
	u->slot[i] = (int16_t) ++u->nentries;
}

/* A loaded record carried these keys, which are not fields. */
void
unknown_fields_add_record(UnknownFields *u, const char *const *keys,
						  const size_t *lens, size_t nkeys, int64_t count)
{
	size_t		i;

	u->records++;
	u->total += count;
	for (i = 0; i < nkeys; i++)
		unknown_fields_add(u, keys[i], lens[i]);
}

/* Unknown keys in the loaded records, names kept or not: extra_fields. */
int64_t
unknown_fields_total(const UnknownFields *u)
{
	return u->total;
}

/*
 * The unknown keys whose names were not kept: the names first met once
 * UNKNOWN_MAX_NAMES were kept (the first met are kept, not the most
 * frequent).
 */
int64_t
unknown_fields_left_out(const UnknownFields *u)
{
	return u->left_out;
}

static int
compare_unknown(const void *a, const void *b, void *arg)
{
	const UnknownName *ea = a;
	const UnknownName *eb = b;
	const char *names = arg;
	int			c;

	if (ea->records != eb->records)
		return ea->records > eb->records ? -1 : 1;
	c = memcmp(names + ea->name, names + eb->name,
			   ea->len < eb->len ? ea->len : eb->len);
	if (c != 0)
		return c;
	return ea->len < eb->len ? -1 : ea->len > eb->len;
}

/*
 * The number of names kept, and the i'th of them, most frequent first
 * (then bytewise): once this is called, no name may be added until reset.
 */
int
unknown_fields_count(UnknownFields *u)
{
	if (!u->sorted)
	{
		qsort_r(u->entry, (size_t) u->nentries, sizeof(UnknownName),
				compare_unknown, u->names);
		u->sorted = true;
	}
	return u->nentries;
}

const char *
unknown_fields_name(const UnknownFields *u, int i, size_t *len,
					int64_t *records)
{
	*len = u->entry[i].len;
	*records = u->entry[i].records;
	return u->names + u->entry[i].name;
}

/* Append s (len bytes of UTF-8) to buf as a JSON string. */
void
copybuf_put_json_string(CopyBuf *buf, const char *s, size_t len)
{
	size_t		i;

	/* + 3: the quotes, and the NUL sprintf writes after an escape */
	copybuf_reserve(buf, 6 * len + 3);
	buf->data[buf->len++] = '"';
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			buf->data[buf->len++] = '\\';
			buf->data[buf->len++] = (char) c;
		}
		else if (c < 0x20 || c == 0x7f)
			buf->len += (size_t) sprintf(buf->data + buf->len, "\\u%04x", c);
		else
			buf->data[buf->len++] = (char) c;
	}
	buf->data[buf->len++] = '"';
}

/*
 * The names kept as a JSON object {"name": records, ...}, NUL-terminated in
 * buf (emptied first): finish_file's unknown_fields.
 */
void
unknown_fields_json(UnknownFields *u, CopyBuf *buf)
{
	int			n = unknown_fields_count(u);
	int			i;

	buf->len = 0;
	copybuf_reserve(buf, 2);
	buf->data[buf->len++] = '{';
	for (i = 0; i < n; i++)
	{
		size_t		len;
		int64_t		records;
		const char *name = unknown_fields_name(u, i, &len, &records);

		if (i > 0)
		{
			copybuf_reserve(buf, 2);
			buf->data[buf->len++] = ',';
			buf->data[buf->len++] = ' ';
		}
		copybuf_put_json_string(buf, name, len);
		copybuf_reserve(buf, 32);
		buf->len += (size_t) sprintf(buf->data + buf->len, ": %lld",
									 (long long) records);
	}
	copybuf_reserve(buf, 2);
	buf->data[buf->len++] = '}';
	buf->data[buf->len] = '\0';
}
