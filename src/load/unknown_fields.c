/*
 * unknown_fields.c
 *		The names of the keys a file's loaded records carried that are not
 *		fields, each with how many records carried it: what
 *		landing.unknown_field keeps of the file.
 *
 * At most UNKNOWN_MAX_NAMES names are kept, each cut to UNKNOWN_NAME_BYTES;
 * so the memory is bounded (about 300 kB) whatever the file holds.  Names
 * past the limit still count in the total.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unknown_fields.h"
#include "utf8.h"
#include "util.h"

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
 * UNKNOWN_NAME_BYTES): as in landing.rejected.raw_line (see
 * utf8_text_piece), a NUL (from "\u0000") becomes those six characters and
 * a byte that is not UTF-8 (YAJL has checked the keys) U+FFFD; a name
 * longer than UNKNOWN_NAME_BYTES is cut at a character boundary and ends in
 * "...".  Returns the length.
 */
static size_t
unknown_name(const char *key, size_t len, char *out)
{
	size_t		n = 0;
	size_t		cut = 0;		/* the last boundary with room for "..." */
	size_t		i = 0;

	while (i < len)
	{
		const char *piece;
		size_t		piecelen;
		int			c = utf8_text_piece(key + i, len - i, &piece, &piecelen);

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
static void
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
