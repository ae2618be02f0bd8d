/*
 * json_scan.h
 *		A JSON line through YAJL (json_scan.c): where each field's value is,
 *		which keys are duplicates or not fields, and whether the line held
 *		one whole value.
 */
#ifndef LOAD_JSON_SCAN_H
#define LOAD_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "fields.h"

/* JSON nesting deeper than this (arrays and objects) is refused */
#define MAX_JSON_DEPTH		32

/* Why a callback stopped the parse of a line. */
typedef enum ParseStop
{
	STOP_NONE,
	STOP_TRAILING,				/* a second value after the first */
	STOP_NESTING,				/* deeper than MAX_JSON_DEPTH */
	STOP_INTERNAL				/* the arena is full (cannot happen) */
} ParseStop;

typedef struct KeyEntry KeyEntry;

/*
 * One YAJL handle, for every line of a kind, and what its callbacks have
 * shown of the line under way.
 */
typedef struct JsonScan
{
	const FieldMap *map;
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
	int			found_spelling; /* of field_map_find's last match */
	uint32_t	seen;			/* fields whose key was met, a bit each */
	int			spelled[MAX_FIELDS];	/* which spelling each one had */
	bool		started;		/* json_scan_start ran for this line */
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
} JsonScan;

/* A scanner for the records of map's kind, and its end. */
extern void json_scan_init(JsonScan *scan, const FieldMap *map);
extern void json_scan_free(JsonScan *scan);

/*
 * Get ready for a line of len bytes whose text (the line, or a copy with
 * surrogates fixed) is text: what the callbacks track starts afresh.  With
 * escapes, room for every string YAJL decodes is made first.
 */
extern void json_scan_start(JsonScan *scan, const char *text, size_t len,
							bool escapes);

/*
 * Feed YAJL the first len bytes of the line, then (json_scan_complete) tell
 * it the line is over.
 */
extern yajl_status json_scan_feed(JsonScan *scan, size_t len);
extern yajl_status json_scan_complete(JsonScan *scan);

/*
 * The error YAJL stopped at, in its words, into detail; returns the offset
 * of the offending token in the line.
 */
extern size_t json_scan_error(JsonScan *scan, char *detail, size_t size);

/*
 * A fresh YAJL handle, in place of one left in error or in the middle of a
 * value.
 */
extern void json_scan_reset(JsonScan *scan);

#endif							/* LOAD_JSON_SCAN_H */
