/*-------------------------------------------------------------------------
 *
 * badline.c
 *		The faulty lines of --faults: each kind of bad line the loader
 *		rejects, made from a good record.
 *
 * Faulty lines are made from the good record they follow, by editing its
 * text, so that they look like what a broken app or device would write.
 * What is picked (which field, which edit) is drawn from the stream of
 * --faults, never from the data's.
 *
 * IDENTIFICATION
 *		src/gen/badline.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "gen.h"

/* The loader's limits, which faulty lines go beyond. */
#define LOADER_MAX_LINE		1048576
#define LOADER_MAX_DEPTH	32

/* Good records are far shorter; a faulty line adds a little to one. */
#define FAULT_LINE_MAX		2048

/* Fields of each kind that the loader requires. */
static const char *const required_fields[STEDI_NKINDS][5] = {
	[STEDI_CUSTOMER] = {F_EMAIL, F_SERIAL_NUMBER},
	[STEDI_ACCELEROMETER] = {F_USER, F_TIMESTAMP, F_X, F_Y, F_Z},
	[STEDI_STEP_TRAINER] = {F_SENSOR_READING_TIME, F_SERIAL_NUMBER, F_DISTANCE},
};
static const int n_required_fields[STEDI_NKINDS] = {2, 5, 3};

/* A string field and an epoch-milliseconds field every record has. */
static const char *const string_field[STEDI_NKINDS] = {
	F_EMAIL, F_USER, F_SERIAL_NUMBER
};
static const char *const time_field[STEDI_NKINDS] = {
	F_REGISTRATION_DATE, F_TIMESTAMP, F_SENSOR_READING_TIME
};

static const char *const axis_fields[] = {F_X, F_Y, F_Z};

/* Unknown fields that good records may carry; the loader ignores them. */
static const char *const extra_keys[] = {
	"appVersion", "deviceModel", "batteryLevel", "debug"
};
static const char *const extra_values[] = {
	"\"2.3.1\"", "\"Pixel 6\"", "87", "false"
};

/* Byte sequences that are not UTF-8: stray, truncated, overlong, surrogate. */
static const char *const bad_utf8[] = {
	"\xff", "\xc3", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80"
};

/* A faulty line under construction. */
typedef struct TextBuf
{
	char		data[FAULT_LINE_MAX];
	size_t		len;
} TextBuf;

/* A change to the value of one field: replaced, quoted, or given a ".5". */
typedef enum EditHow
{
	EDIT_REPLACE,
	EDIT_QUOTE,
	EDIT_FRACTION
} EditHow;

typedef struct ValueEdit
{
	const char *field;			/* NULL: one of x, y and z, at random */
	EditHow		how;
	const char *value;			/* the new value, for EDIT_REPLACE */
} ValueEdit;

/* Where one field of a record is: "key": value */
typedef struct FieldSpan
{
	size_t		key;			/* the key's opening quote */
	size_t		val;			/* the value's first byte */
	size_t		end;			/* just past the value */
} FieldSpan;

static void
tb_put(TextBuf *tb, const char *s, size_t n)
{
	if (tb->len + n > sizeof(tb->data))
		fatal("internal error: faulty line too long");
	memcpy(tb->data + tb->len, s, n);
	tb->len += n;
}

static void
tb_str(TextBuf *tb, const char *s)
{
	tb_put(tb, s, strlen(s));
}

/* s, with [from, to) replaced by text */
static void
tb_splice(TextBuf *tb, const char *s, size_t len, size_t from, size_t to,
		  const char *text, size_t tlen)
{
	tb_put(tb, s, from);
	tb_put(tb, text, tlen);
	tb_put(tb, s + to, len - to);
}

static uint32_t
fault_below(KindWriter *w, uint32_t n)
{
	return prng_below(&w->faults->rng, n);
}

/*
 * Find a field in a record we wrote.  Our string values hold no quotes,
 * so a quoted name followed by a colon can only be a key.
 */
static FieldSpan
find_field(const char *s, size_t len, const char *name)
{
	size_t		nlen = strlen(name);
	size_t		i;

	for (i = 0; i + nlen + 2 < len; i++)
	{
		FieldSpan	f;
		size_t		j;

		if (s[i] != '"' || memcmp(s + i + 1, name, nlen) != 0 ||
			s[i + 1 + nlen] != '"')
			continue;
		j = i + nlen + 2;
		while (j < len && s[j] == ' ')
			j++;
		if (j >= len || s[j] != ':')
			continue;
		j++;
		while (j < len && s[j] == ' ')
			j++;
		f.key = i;
		f.val = j;
		if (j < len && s[j] == '"')
		{
			j++;
			while (j < len && s[j] != '"')
				j++;
			j++;
		}
		else
		{
			while (j < len && s[j] != ',' && s[j] != '}')
				j++;
		}
		f.end = j;
		return f;
	}
	fatal("internal error: no field \"%s\" in a generated record", name);
}

/* s with the value of field "name" replaced */
static void
replace_value(TextBuf *tb, const char *s, size_t len, const char *name,
			  const char *value)
{
	FieldSpan	f = find_field(s, len, name);

	tb_splice(tb, s, len, f.val, f.end, value, strlen(value));
}

/* s with the value of field "name" quoted, or with ".5" after it */
static void
retype_value(TextBuf *tb, const char *s, size_t len, const char *name,
			 bool quote)
{
	FieldSpan	f = find_field(s, len, name);
	char		value[64];

	snprintf(value, sizeof(value), quote ? "\"%.*s\"" : "%.*s.5",
			 (int) (f.end - f.val), s + f.val);
	tb_splice(tb, s, len, f.val, f.end, value, strlen(value));
}

/* s with a field added last: , "key": value */
static void
add_field(KindWriter *w, TextBuf *tb, const char *s, size_t len,
		  const char *key, const char *value)
{
	char		field[256];

	snprintf(field, sizeof(field), "%s\"%s\"%s%s", item_sep(w), key,
			 key_sep(w), value);
	tb_splice(tb, s, len, len - 1, len - 1, field, strlen(field));
}

/* s with bytes put somewhere inside the value of string field "name" */
static void
insert_in_string(KindWriter *w, TextBuf *tb, const char *s, size_t len,
				 const char *name, const char *bytes, size_t nbytes)
{
	FieldSpan	f = find_field(s, len, name);
	size_t		at = f.val + 1 + fault_below(w, (uint32_t) (f.end - f.val - 1));

	tb_splice(tb, s, len, at, at, bytes, nbytes);
}

/* A prefix of the record: between a fifth and nine tenths of it. */
static void
make_cut_off(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	size_t		cut = len * (20 + fault_below(w, 70)) / 100;

	tb_put(tb, s, cut > 0 ? cut : 1);
}

static void
make_malformed(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	const char *p;
	size_t		i;

	switch (fault_below(w, 6))
	{
		case 0:					/* the first colon left out */
			p = memchr(s, ':', len);
			tb_splice(tb, s, len, (size_t) (p - s), (size_t) (p - s) + 1, " ", 1);
			break;
		case 1:					/* a stray character after the first comma */
			p = memchr(s, ',', len);
			tb_splice(tb, s, len, (size_t) (p - s) + 1, (size_t) (p - s) + 1,
					  "#", 1);
			break;
		case 2:					/* text after the closing brace */
			tb_put(tb, s, len);
			tb_str(tb, fault_below(w, 2) == 0 ? "}" : " ok");
			break;
		case 3:					/* single-quoted strings */
			tb_put(tb, s, len);
			for (i = 0; i < tb->len; i++)
			{
				if (tb->data[i] == '"')
					tb->data[i] = '\'';
			}
			break;
		case 4:					/* a comma before the closing brace */
			tb_splice(tb, s, len, len - 1, len - 1, ",", 1);
			break;
		default:				/* a NaN literal, as printf writes one */
			replace_value(tb, s, len,
						  w->kindno == STEDI_ACCELEROMETER ?
						  axis_fields[fault_below(w, 3)] :
						  w->kindno == STEDI_STEP_TRAINER ?
						  F_DISTANCE : F_REGISTRATION_DATE,
						  fault_below(w, 2) == 0 ? "nan" : "-nan");
			break;
	}
}

static void
make_not_object(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	FieldSpan	f;

	switch (fault_below(w, 3))
	{
		case 0:					/* the record in an array */
			tb_str(tb, "[");
			tb_put(tb, s, len);
			tb_str(tb, "]");
			break;
		case 1:					/* a string */
			f = find_field(s, len, string_field[w->kindno]);
			tb_put(tb, s + f.val, f.end - f.val);
			break;
		default:				/* a number */
			f = find_field(s, len, time_field[w->kindno]);
			tb_put(tb, s + f.val, f.end - f.val);
			break;
	}
}

/* One of the fields the loader requires, at random. */
static FieldSpan
some_required_field(KindWriter *w, const char *s, size_t len)
{
	const char *name = required_fields[w->kindno]
		[fault_below(w, (uint32_t) n_required_fields[w->kindno])];

	return find_field(s, len, name);
}

/* A required field left out, or set to null. */
static void
make_missing_field(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	FieldSpan	f = some_required_field(w, s, len);
	size_t		from = f.key;
	size_t		to = f.end;
	size_t		k = f.end;

	if (fault_below(w, 3) == 0)
	{
		tb_splice(tb, s, len, f.val, f.end, "null", 4);
		return;
	}
	while (k < len && s[k] == ' ')
		k++;
	if (s[k] == ',')
	{
		/* drop the field and the separator after it */
		to = k + 1;
		while (to < len && s[to] == ' ')
			to++;
	}
	else
	{
		/* the last field: drop the separator before it */
		while (from > 0 && s[from - 1] == ' ')
			from--;
		if (from > 0 && s[from - 1] == ',')
			from--;
	}
	tb_splice(tb, s, len, from, to, "", 0);
}

/*
 * Wrong types: a number or a boolean where a string goes, a string where a
 * number goes, a fraction where an integer goes, a string not a date.
 */
static const ValueEdit wrong_type[STEDI_NKINDS][4] = {
	[STEDI_CUSTOMER] = {
		{F_EMAIL, EDIT_REPLACE, "42"},
		{F_BIRTH_DAY, EDIT_REPLACE, "\"not a date\""},
		{F_REGISTRATION_DATE, EDIT_QUOTE},
		{F_SERIAL_NUMBER, EDIT_REPLACE, "false"}
	},
	[STEDI_ACCELEROMETER] = {
		{NULL, EDIT_QUOTE},
		{F_TIMESTAMP, EDIT_FRACTION},
		{F_USER, EDIT_REPLACE, "42"},
		{NULL, EDIT_REPLACE, "true"}
	},
	[STEDI_STEP_TRAINER] = {
		{F_DISTANCE, EDIT_QUOTE},
		{F_SENSOR_READING_TIME, EDIT_FRACTION},
		{F_SENSOR_READING_TIME, EDIT_QUOTE},
		{F_SERIAL_NUMBER, EDIT_REPLACE, "12345"}
	}
};

/*
 * Out of range: times beyond timestamptz either way (a customer's last
 * update twice as often as the registration), axis values beyond float8,
 * distances beyond int4.
 */
static const ValueEdit out_of_range[STEDI_NKINDS][3] = {
	[STEDI_CUSTOMER] = {
		{F_REGISTRATION_DATE, EDIT_REPLACE, "99999999999999999"},
		{F_LAST_UPDATE_DATE, EDIT_REPLACE, "-99999999999999999"},
		{F_LAST_UPDATE_DATE, EDIT_REPLACE, "-99999999999999999"}
	},
	[STEDI_ACCELEROMETER] = {
		{F_TIMESTAMP, EDIT_REPLACE, "99999999999999999"},
		{NULL, EDIT_REPLACE, "1e999"},
		{NULL, EDIT_REPLACE, "-1e999"}
	},
	[STEDI_STEP_TRAINER] = {
		{F_SENSOR_READING_TIME, EDIT_REPLACE, "99999999999999999"},
		{F_DISTANCE, EDIT_REPLACE, "3000000000"},
		{F_DISTANCE, EDIT_REPLACE, "-3000000000"}
	}
};

/* s with edit e made to one of its fields */
static void
edit_value(KindWriter *w, TextBuf *tb, const char *s, size_t len,
		   const ValueEdit *e)
{
	const char *name = e->field ? e->field : axis_fields[fault_below(w, 3)];

	if (e->how == EDIT_REPLACE)
		replace_value(tb, s, len, name, e->value);
	else
		retype_value(tb, s, len, name, e->how == EDIT_QUOTE);
}

static void
make_wrong_type(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	uint32_t	v = fault_below(w, LENGTHOF(wrong_type[0]));

	edit_value(w, tb, s, len, &wrong_type[w->kindno][v]);
}

static void
make_out_of_range(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	uint32_t	v = fault_below(w, LENGTHOF(out_of_range[0]));

	edit_value(w, tb, s, len, &out_of_range[w->kindno][v]);
}

/* A string field of the kind, for bytes that do not belong in one. */
static const char *
some_string_field(KindWriter *w)
{
	if (w->kindno == STEDI_CUSTOMER && fault_below(w, 2) == 0)
		return F_CUSTOMER_NAME;
	return string_field[w->kindno];
}

/* The same key again, right after the first, with the same value. */
static void
make_duplicate_key(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	FieldSpan	f = some_required_field(w, s, len);
	char		field[128];

	snprintf(field, sizeof(field), "%s%.*s", item_sep(w),
			 (int) (f.end - f.key), s + f.key);
	tb_splice(tb, s, len, f.end, f.end, field, strlen(field));
}

static void
make_too_deep(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	int			depth = LOADER_MAX_DEPTH + 8 + (int) fault_below(w, 24);
	char		nest[2 * (LOADER_MAX_DEPTH + 32) + 1];
	int			i;

	for (i = 0; i < depth; i++)
	{
		nest[i] = '[';
		nest[depth + i] = ']';
	}
	nest[2 * depth] = '\0';
	add_field(w, tb, s, len, "extra", nest);
}

/*
 * A good record with a padding field that takes the line past the loader's
 * limit, 1.1 MB or a little more.  Too big for a TextBuf: written directly.
 */
static void
put_too_long(KindWriter *w, const char *s, size_t len)
{
	static char pad[4096];
	char		field[64];
	size_t		n = LOADER_MAX_LINE + 51424 + fault_below(w, 100000);

	if (pad[0] == '\0')
		memset(pad, 'a', sizeof(pad));
	snprintf(field, sizeof(field), "%s\"pad\"%s\"", item_sep(w), key_sep(w));
	writer_write(w, s, len - 1);
	writer_write(w, field, strlen(field));
	while (n > 0)
	{
		size_t		chunk = n < sizeof(pad) ? n : sizeof(pad);

		writer_write(w, pad, chunk);
		n -= chunk;
	}
	writer_write(w, "\"}\n", 3);
}

static void
make_invalid_utf8(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	const char *bad = bad_utf8[fault_below(w, LENGTHOF(bad_utf8))];

	insert_in_string(w, tb, s, len, some_string_field(w), bad, strlen(bad));
}

static void
make_nul_byte(KindWriter *w, TextBuf *tb, const char *s, size_t len)
{
	insert_in_string(w, tb, s, len, some_string_field(w), "", 1);
}

/*
 * How each kind of faulty line is made from good record s (len bytes, no
 * newline).  Over-long lines are too big for a TextBuf: put_too_long
 * writes them.
 */
typedef void (*MakeLine) (KindWriter *w, TextBuf *tb, const char *s,
						  size_t len);

static const MakeLine make_line[NFAULTS] = {
	[FAULT_MALFORMED_JSON] = make_malformed,
	[FAULT_CUT_OFF] = make_cut_off,
	[FAULT_NOT_OBJECT] = make_not_object,
	[FAULT_MISSING_FIELD] = make_missing_field,
	[FAULT_WRONG_TYPE] = make_wrong_type,
	[FAULT_OUT_OF_RANGE] = make_out_of_range,
	[FAULT_INVALID_UTF8] = make_invalid_utf8,
	[FAULT_NUL_BYTE] = make_nul_byte,
	[FAULT_DUPLICATE_KEY] = make_duplicate_key,
	[FAULT_TOO_DEEP] = make_too_deep,
};

void
put_fault(KindWriter *w, FaultKind fault, const char *s, size_t len,
		  bool at_eof)
{
	if (fault == FAULT_TOO_LONG)
		put_too_long(w, s, len);
	else
	{
		TextBuf		tb;

		tb.len = 0;
		make_line[fault] (w, &tb, s, len);
		if (!at_eof)
			tb_put(&tb, "\n", 1);
		writer_write(w, tb.data, tb.len);
	}
	w->faults->count[fault]++;
	w->faulty++;
	w->lines++;
}

void
put_extra_field(KindWriter *w, const char *s, size_t len)
{
	TextBuf		tb;
	int			e = (int) fault_below(w, LENGTHOF(extra_keys));

	tb.len = 0;
	add_field(w, &tb, s, len, extra_keys[e], extra_values[e]);
	writer_write(w, tb.data, tb.len);
}
