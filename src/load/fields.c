/*
 * fields.c
 *		The fields of each kind of record: their keys, the column each fills
 *		and its type and bounds, and how a field's JSON value becomes the
 *		column's value, or the reason its line is quarantined in
 *		landing.rejected.
 *
 * A field's key may be spelled three ways: as the STEDI apps write it
 * (camelCase: "serialNumber"), all in lower case as Athena and Hive write
 * column names ("serialnumber"), or in snake_case ("serial_number").  The
 * first is tried first, so the usual record pays nothing for the others.
 * Two spellings of one field in a record are a duplicate key.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "utf8.h"

/* PostgreSQL's timestamptz range, in microseconds since 2000-01-01 */
#define PG_MIN_TIMESTAMP	INT64_C(-211813488000000000)
#define PG_END_TIMESTAMP	INT64_C(9223371331200000000)	/* exclusive */

/* days from 1970-01-01 to 2000-01-01 */
#define UNIX_TO_PG_EPOCH_DAYS	10957

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

/* ... in words, for "must be X, got Y" */
const char *const json_kind_words[] = {
	[JSON_ABSENT] = "nothing",
	[JSON_NULL] = "null",
	[JSON_BOOLEAN] = "boolean",
	[JSON_INTEGER] = "integer",
	[JSON_DECIMAL] = "decimal number",
	[JSON_STRING] = "string",
	[JSON_OBJECT] = "object",
	[JSON_ARRAY] = "array",
};


/*
 * The fields of kind, with the spellings of each field's key: as written
 * ("shareWithResearchAsOfDate"), all in lower case
 * ("sharewithresearchasofdate") and in snake_case
 * ("share_with_research_as_of_date"); one if it has no capital letter.
 */
void
field_map_init(FieldMap *map, StediKind kind)
{
	int			field;

	memset(map, 0, sizeof(FieldMap));
	map->kind = kind;
	map->fields = kind_fields[kind].fields;
	map->nfields = kind_fields[kind].nfields;
	for (field = 0; field < map->nfields; field++)
	{
		const char *name = map->fields[field].json_name;
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

		map->spelling[field][0] = name;
		map->spelling_len[field][0] = len;
		map->nspellings[field] = 1;
		if (!capitals)
		{
			free(lower);
			free(snake);
			continue;
		}
		map->spelling[field][1] = lower;
		map->spelling_len[field][1] = len;
		map->spelling[field][2] = snake;
		map->spelling_len[field][2] = n;
		map->nspellings[field] = 3;
	}
}

void
field_map_free(FieldMap *map)
{
	int			i;
	int			s;

	for (i = 0; i < map->nfields; i++)
	{
		for (s = 1; s < map->nspellings[i]; s++)
			free((char *) map->spelling[i][s]);
	}
}

const char *
fields_copy_columns(StediKind kind)
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


/* ---- values ---- */

const char *
reason_printf(char *reason, const char *fmt,...)
			  {
			  va_list		ap;

	va_start(ap, fmt);
	vsnprintf(reason, REASON_BYTES, fmt, ap);
	va_end(ap);
	return reason;
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
 * Does a field of type type take a JSON value of kind kind (not absent or
 * null)?  If not, *takes says what it takes.
 */
static bool
field_takes(FieldType type, JsonKind kind, const char **takes)
{
	switch (type)
	{
		case FIELD_TEXT:
		case FIELD_DATE:
			*takes = "a string";
			return kind == JSON_STRING;
		case FIELD_TIME:
		case FIELD_INT4:
			*takes = "an integer";
			return kind == JSON_INTEGER;
		case FIELD_FLOAT8:
			*takes = "a number";
			return kind == JSON_INTEGER || kind == JSON_DECIMAL;
	}
	return true;
}

const char *
field_convert(const FieldSpec *spec, const char *name, JsonKind kind,
			  const FieldSlot *slot, FieldValue *out, char *reason)
{
	const char *takes;

	out->isnull = false;
	if (kind == JSON_ABSENT || kind == JSON_NULL)
	{
		if (spec->required)
			return reason_printf(reason, "missing required field \"%s\"", name);
		out->isnull = true;
		return NULL;
	}
	if (!field_takes(spec->type, kind, &takes))
		return reason_printf(reason, "\"%s\" must be %s, got %s",
							 name, takes, json_kind_words[kind]);

	switch (spec->type)
	{
		case FIELD_TEXT:
			out->str = slot->str;
			out->len = slot->len;
			/* the line had no NUL byte, but "\u0000" makes one */
			if (memchr(out->str, '\0', out->len) != NULL)
				return reason_printf(reason, "\"%s\" contains a NUL character (\\u0000)",
									 name);
			/* decoded escapes are UTF-8 (see fix_surrogates); be sure */
			if (slot->decoded &&
				utf8_invalid_offset(out->str, out->len) < out->len)
				return reason_printf(reason, "\"%s\" is not valid UTF-8", name);
			if (spec->max_bytes > 0 && out->len > spec->max_bytes)
				return reason_printf(reason, "\"%s\" is %zu bytes, longer than the %zu allowed",
									 name, out->len, spec->max_bytes);
			if (spec->nonblank && is_blank_text(out->str, out->len))
				return reason_printf(reason, "\"%s\" is empty", name);
			return NULL;

		case FIELD_DATE:
			if (!parse_date(slot->str, slot->len, &out->i64))
				return reason_printf(reason, "%s is not a date YYYY-MM-DD", name);
			return NULL;

		case FIELD_TIME:
			if (slot->overflow ||
				!epoch_ms_to_timestamptz(slot->i64, &out->i64))
				return reason_printf(reason, "\"%s\" is out of range for timestamptz",
									 name);
			return NULL;

		case FIELD_INT4:
			if (slot->overflow ||
				slot->i64 < INT32_MIN || slot->i64 > INT32_MAX)
				return reason_printf(reason, "\"%s\" is out of range for integer",
									 name);
			out->i64 = slot->i64;
			return NULL;

		case FIELD_FLOAT8:
			if (kind == JSON_INTEGER)
			{
				if (slot->overflow)
					return reason_printf(reason, "\"%s\" is out of range (an integer beyond 64 bits)",
										 name);
				out->f8 = (double) slot->i64;
			}
			else
				out->f8 = slot->f8;
			/* 1e999 overflows to infinity */
			if (!isfinite(out->f8))
				return reason_printf(reason, "\"%s\" is not a finite number", name);
			return NULL;
	}
	return reason_printf(reason, "internal error: unknown field type");
}

const char *
field_identity(const FieldMap *map, const FieldSlot *slot, uint32_t seen,
			   const char *column, size_t *len)
{
	int			i;

	for (i = 0; i < map->nfields; i++)
	{
		const FieldSpec *spec = &map->fields[i];
		const FieldSlot *s = &slot[i];

		if (strcmp(spec->column, column) != 0)
			continue;
		if (!(seen & (UINT32_C(1) << i)) || s->kind != JSON_STRING ||
			s->len > spec->max_bytes ||
			is_blank_text(s->str, s->len) ||
			memchr(s->str, '\0', s->len) != NULL ||
			utf8_invalid_offset(s->str, s->len) < s->len)
			return NULL;
		*len = s->len;
		return s->str;
	}
	return NULL;
}
