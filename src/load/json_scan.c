/*
 * json_scan.c
 *		A JSON line through YAJL: where each field's value is, which keys
 *		are duplicates or not fields, and whether the line held one whole
 *		value.
 *
 * JSON parsing is YAJL's streaming (SAX) parser.  Its callbacks put each
 * field of the record into a slot as they meet it: a string is used where it
 * lies in the line, a number is converted from its text at once
 * (json_text.c), as it may lie in YAJL's buffer.  One parser handle serves
 * every line of a kind (yajl_allow_multiple_values): a line is fed to it
 * whole, and record.c checks that it held exactly one complete value.  So
 * a line that loads allocates nothing; the handle is replaced only after a
 * line that left it in error or in the middle of a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "json_text.h"
#include "util.h"

/*
 * A key met in some object of this line, in the table that finds duplicate
 * keys.  An entry whose stamp is not the current line's is free, so the
 * table is emptied per line by counting the stamp up.
 */
struct KeyEntry
{
	uint32_t	stamp;
	uint32_t	object;			/* which object of the line */
	uint32_t	hash;
	uint32_t	len;
	const char *key;			/* in the line or the arena */
};

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
keep_string(JsonScan *p, const char *s, size_t len)
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


/* ---- the keys of the line's objects, for duplicates ---- */

/* Double the key table, keeping this line's entries. */
static void
keys_grow(JsonScan *p)
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
key_insert(JsonScan *p, uint32_t object, const char *key, size_t len)
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
note_duplicate(JsonScan *p, const char *key, size_t len)
{
	if (p->dup_key == NULL)
	{
		p->dup_key = keep_string(p, key, len);
		p->dup_len = len;
	}
}

/* A field's key again, in the spelling s; first met in another one? */
static void
note_duplicate_field(JsonScan *p, int field, int s)
{
	if (p->dup_key == NULL)
	{
		p->dup_key = p->map->spelling[field][s];
		p->dup_len = p->map->spelling_len[field][s];
		if (p->spelled[field] != s)
			p->dup_first = p->map->spelling[field][p->spelled[field]];
	}
}

/* ---- YAJL callbacks ---- */

/* Keep a key of the record that is not a field, until the line is done. */
static void
note_unknown(JsonScan *p, const char *key, size_t len)
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
top_value(JsonScan *p, JsonKind kind)
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
top_value_done(JsonScan *p)
{
	p->values++;
	p->value_end = p->finishing ? p->text_len
		: yajl_get_bytes_consumed(p->yajl);
}

/* The slot of the field whose value this is, if it is one. */
static inline FieldSlot *
field_slot(JsonScan *p)
{
	return p->depth == 1 && p->field >= 0 ? &p->slot[p->field] : NULL;
}

static int
json_scalar(JsonScan *p, JsonKind kind)
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
	JsonScan   *p = ctx;
	FieldSlot  *slot;
	int64_t		i64;
	bool		overflow;

	if (p->depth == 0)
		return json_scalar(p, parse_integer(s, len, &i64, &overflow) ?
						   JSON_INTEGER : JSON_DECIMAL);
	if ((slot = field_slot(p)) != NULL)
	{
		/* the text may be in YAJL's buffer: convert it now */
		if (parse_integer(s, len, &slot->i64, &slot->overflow))
			slot->kind = JSON_INTEGER;
		else
		{
			slot->kind = JSON_DECIMAL;
			if (p->map->fields[p->field].type == FIELD_FLOAT8)
				slot->f8 = parse_decimal(s, len, &p->scratch, &p->scratch_cap);
		}
	}
	return 1;
}

static int
json_string(void *ctx, const unsigned char *s, size_t len)
{
	JsonScan   *p = ctx;
	FieldSlot  *slot;

	if (p->depth == 0)
		return json_scalar(p, JSON_STRING);
	if ((slot = field_slot(p)) != NULL)
	{
		slot->kind = JSON_STRING;
		slot->decoded = !in_buffer((const char *) s, p->text, p->text_len);
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
open_value(JsonScan *p, JsonKind kind)
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
	JsonScan   *p = ctx;

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
	JsonScan   *p = ctx;

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
	JsonScan   *p = ctx;
	const char *key = (const char *) ukey;

	if (p->depth == 1)
	{
		int			i = field_map_find(p->map, key, len, &p->next_field,
									   &p->found_spelling);

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

void
json_scan_reset(JsonScan *p)
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

/* ---- the scanner and its lines ---- */

void
json_scan_init(JsonScan *p, const FieldMap *map)
{
	memset(p, 0, sizeof(JsonScan));
	p->map = map;
	p->keys_mask = 63;
	p->keys = load_malloc((p->keys_mask + 1) * sizeof(KeyEntry));
	memset(p->keys, 0, (p->keys_mask + 1) * sizeof(KeyEntry));
	json_scan_reset(p);
}

void
json_scan_free(JsonScan *p)
{
	free(p->unknown_key);
	free(p->unknown_len);
	yajl_free(p->yajl);
	free(p->keys);
	free(p->arena);
	free(p->fixed);
	free(p->scratch);
}

void
json_scan_start(JsonScan *p, const char *text, size_t len, bool escapes)
{
	/* room for every string YAJL decodes */
	if (escapes)
		load_reserve(&p->arena, &p->arena_cap, len);
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

yajl_status
json_scan_feed(JsonScan *p, size_t len)
{
	return yajl_parse(p->yajl, (const unsigned char *) p->text, len);
}

yajl_status
json_scan_complete(JsonScan *p)
{
	p->finishing = true;
	return yajl_complete_parse(p->yajl);
}

size_t
json_scan_error(JsonScan *p, char *detail, size_t size)
{
	unsigned char *msg = yajl_get_error(p->yajl, 0, NULL, 0);
	size_t		offset = yajl_get_bytes_consumed(p->yajl);
	const char *d = msg != NULL ? (const char *) msg : "syntax error";
	bool		parse_error = false;
	size_t		n;

	if (strncmp(d, "lexical error: ", 15) == 0)
		d += 15;
	else if (strncmp(d, "parse error: ", 13) == 0)
	{
		d += 13;
		parse_error = true;
	}
	snprintf(detail, size, "%s", d);
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

	if (msg != NULL)
		yajl_free_error(p->yajl, msg);
	return offset;
}
