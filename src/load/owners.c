/*
 * owners.c
 *		The distinct customers (emails) or devices (serial numbers) whose
 *		readings a file holds.
 *
 * A file holds readings of a few hundred owners at most, over thousands of
 * lines, so a small open-addressing set of copies is all it takes; it is
 * emptied for every file, so its memory is bounded by one file's owners.
 */
#include <stdlib.h>

#include "stedi_load.h"

struct OwnerSet
{
	char	  **slots;			/* NULL: free */
	size_t	   *lens;
	size_t		mask;			/* size - 1, a power of two */
	size_t		count;
};

static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t	h = UINT64_C(1469598103934665603);	/* FNV-1a */
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

OwnerSet *
owner_set_create(void)
{
	OwnerSet   *set = load_malloc(sizeof(OwnerSet));

	set->mask = 255;
	set->count = 0;
	set->slots = calloc(set->mask + 1, sizeof(char *));
	set->lens = calloc(set->mask + 1, sizeof(size_t));
	if (set->slots == NULL || set->lens == NULL)
		load_fatal("out of memory");
	return set;
}

void
owner_set_reset(OwnerSet *set)
{
	size_t		i;

	for (i = 0; i <= set->mask; i++)
	{
		free(set->slots[i]);
		set->slots[i] = NULL;
	}
	set->count = 0;
}

static void
insert_slot(char **slots, size_t *lens, size_t mask, char *owner, size_t len)
{
	size_t		i = (size_t) hash_bytes(owner, len) & mask;

	while (slots[i] != NULL)
		i = (i + 1) & mask;
	slots[i] = owner;
	lens[i] = len;
}

void
owner_set_add(OwnerSet *set, const char *owner, size_t len)
{
	size_t		i = (size_t) hash_bytes(owner, len) & set->mask;
	char	   *copy;

	for (; set->slots[i] != NULL; i = (i + 1) & set->mask)
	{
		if (set->lens[i] == len && memcmp(set->slots[i], owner, len) == 0)
			return;
	}

	/* keep the set at most half full */
	if ((set->count + 1) * 2 > set->mask + 1)
	{
		size_t		newmask = set->mask * 2 + 1;
		char	  **slots = calloc(newmask + 1, sizeof(char *));
		size_t	   *lens = calloc(newmask + 1, sizeof(size_t));
		size_t		j;

		if (slots == NULL || lens == NULL)
			load_fatal("out of memory");
		for (j = 0; j <= set->mask; j++)
			if (set->slots[j] != NULL)
				insert_slot(slots, lens, newmask, set->slots[j], set->lens[j]);
		free(set->slots);
		free(set->lens);
		set->slots = slots;
		set->lens = lens;
		set->mask = newmask;
	}

	copy = load_malloc(len + 1);
	memcpy(copy, owner, len);
	copy[len] = '\0';
	insert_slot(set->slots, set->lens, set->mask, copy, len);
	set->count++;
}

/* The set as a PostgreSQL text[] literal: {"a","b"}, quotes escaped. */
char *
owner_set_array_literal(const OwnerSet *set)
{
	size_t		size = 3;
	size_t		i;
	char	   *out;
	char	   *p;

	for (i = 0; i <= set->mask; i++)
		if (set->slots[i] != NULL)
			size += 2 * set->lens[i] + 3;
	out = load_malloc(size);
	p = out;
	*p++ = '{';
	for (i = 0; i <= set->mask; i++)
	{
		const char *s = set->slots[i];
		size_t		j;

		if (s == NULL)
			continue;
		if (p[-1] != '{')
			*p++ = ',';
		*p++ = '"';
		for (j = 0; j < set->lens[i]; j++)
		{
			if (s[j] == '"' || s[j] == '\\')
				*p++ = '\\';
			*p++ = s[j];
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

void
owner_set_free(OwnerSet *set)
{
	if (set == NULL)
		return;
	owner_set_reset(set);
	free(set->slots);
	free(set->lens);
	free(set);
}
