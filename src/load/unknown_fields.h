/*
 * unknown_fields.h
 *		The unknown field names of one file's loaded records, with counts
 *		(unknown_fields.c).
 */
#ifndef LOAD_UNKNOWN_FIELDS_H
#define LOAD_UNKNOWN_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "copy_binary.h"

typedef struct UnknownFields UnknownFields;

/* Made once, reset for each file. */
extern UnknownFields *unknown_fields_create(void);
extern void unknown_fields_reset(UnknownFields *u);
extern void unknown_fields_free(UnknownFields *u);

/* A loaded record carried these nkeys keys, count in all, not fields. */
extern void unknown_fields_add_record(UnknownFields *u,
									  const char *const *keys,
									  const size_t *lens, size_t nkeys,
									  int64_t count);

/* Unknown keys in the loaded records, names kept or not: extra_fields. */
extern int64_t unknown_fields_total(const UnknownFields *u);

/* The unknown keys whose names were not kept. */
extern int64_t unknown_fields_left_out(const UnknownFields *u);

/*
 * The number of names kept, and the i'th of them (len bytes, not
 * terminated) with the records that carried it, most frequent first.
 */
extern int	unknown_fields_count(UnknownFields *u);
extern const char *unknown_fields_name(const UnknownFields *u, int i,
									   size_t *len, int64_t *records);

/* The names kept as a JSON object {"name": records, ...} in buf. */
extern void unknown_fields_json(UnknownFields *u, CopyBuf *buf);

#endif							/* LOAD_UNKNOWN_FIELDS_H */
