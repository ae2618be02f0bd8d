/*
 * record.h
 *		One line of a landing file into one binary COPY tuple, or the reason
 *		it is rejected (record.c).
 */
#ifndef LOAD_RECORD_H
#define LOAD_RECORD_H

#include <stdint.h>

#include "copy_binary.h"
#include "lines.h"
#include "stedi_common.h"
#include "unknown_fields.h"

typedef struct RecordParser RecordParser;

/* A parser for the records of one kind, for every file of it. */
extern RecordParser *record_parser_create(StediKind kind);
extern void record_parser_free(RecordParser *parser);

/*
 * Parse one line.  On success, append its tuple to out, add its keys that
 * are not fields to unknown and return NULL.  Otherwise return why the
 * line is rejected; the string stays valid until the next call.
 */
extern const char *record_parse(RecordParser *parser, const Line *line,
								int32_t file_id, CopyBuf *out,
								UnknownFields *unknown);

/* The email and serial number the line rejected last carries. */
extern void record_rejected_identity(const RecordParser *parser,
									 RejectedIdentity *id);

#endif							/* LOAD_RECORD_H */
