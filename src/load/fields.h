/*
 * fields.h
 *		The fields of each kind of record (fields.c): their keys and the
 *		spellings of those, their types and bounds, and how a field's JSON
 *		value becomes a column's value or the reason a line is rejected.
 */
#ifndef LOAD_FIELDS_H
#define LOAD_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stedi_common.h"
#include "util.h"

/* the most fields a kind has */
#define MAX_FIELDS			10

/* a field's key: camelCase, all lower case, snake_case */
#define MAX_SPELLINGS		3

/* the size of a reason a line is rejected */
#define REASON_BYTES		256

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
extern const char *const json_kind_words[];

/* A field's JSON value in this line, as the scanner found it. */
typedef struct FieldSlot
{
	JsonKind	kind;
	bool		overflow;		/* JSON_INTEGER beyond int64 */
	bool		decoded;		/* JSON_STRING: decoded by YAJL (it had
								 * escapes), so not in the line */
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
 * The fields of one kind, in the column order of its landing table, with
 * the spellings of each field's key ([0] is json_name; a one-word key like
 * "user" has only one).
 */
typedef struct FieldMap
{
	StediKind	kind;
	const FieldSpec *fields;
	int			nfields;
	const char *spelling[MAX_FIELDS][MAX_SPELLINGS];
	size_t		spelling_len[MAX_FIELDS][MAX_SPELLINGS];
	int			nspellings[MAX_FIELDS];
} FieldMap;

extern void field_map_init(FieldMap *map, StediKind kind);
extern void field_map_free(FieldMap *map);

/*
 * The column list for "COPY landing.<kind> (...)": the fields' columns in
 * order, then file_id and line_number.
 */
extern const char *fields_copy_columns(StediKind kind);

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
 * *spelling.  Tries *next first, the field the key likely is, and sets it
 * to the one after a match in camelCase; camelCase, the spelling of the
 * STEDI apps, is tried before the others.  Inline: it runs for every key.
 */
static inline int
field_map_find(const FieldMap *m, const char *key, size_t len, int *next,
			   int *spelling)
{
	int			i = *next;
	int			n;

	for (n = 0; n < m->nfields; n++)
	{
		if (m->spelling_len[i][0] == len &&
			same_bytes(m->spelling[i][0], key, len))
		{
			*next = i + 1 < m->nfields ? i + 1 : 0;
			*spelling = 0;
			return i;
		}
		if (++i == m->nfields)
			i = 0;
	}
	for (i = 0; i < m->nfields; i++)
	{
		int			s;

		for (s = 1; s < m->nspellings[i]; s++)
		{
			if (m->spelling_len[i][s] == len &&
				same_bytes(m->spelling[i][s], key, len))
			{
				*spelling = s;
				return i;
			}
		}
	}
	return -1;
}

/*
 * Check and convert one field's JSON value (of the given kind) into *out.
 * Returns NULL, or the reason the line is rejected (formatted into reason,
 * of REASON_BYTES), naming the field as name, the key as the record
 * spelled it.  A null value counts as absent.
 */
extern const char *field_convert(const FieldSpec *spec, const char *name,
								 JsonKind kind, const FieldSlot *slot,
								 FieldValue *out, char *reason);

/*
 * The value of the field of column column, when its key was met (its bit
 * is set in seen) with a string value that could be a landing value
 * (bounded, not blank, no NUL, valid UTF-8), else NULL: what a rejected
 * line is known by.
 */
extern const char *field_identity(const FieldMap *map, const FieldSlot *slot,
								  uint32_t seen, const char *column,
								  size_t *len);

/* Format why a line is rejected into reason (REASON_BYTES); returns it. */
extern const char *reason_printf(char *reason, const char *fmt,...) LOAD_PRINTF(2, 3);

#endif							/* LOAD_FIELDS_H */
