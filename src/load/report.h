/*
 * report.h
 *		What a person or a program sees of a stedi-load run (report.c).
 */
#ifndef LOAD_REPORT_H
#define LOAD_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "files.h"
#include "unknown_fields.h"

typedef enum FileOutcome
{
	FILE_LOADED,
	FILE_SKIPPED,				/* its content was loaded before */
	FILE_FAILED					/* rolled back */
} FileOutcome;

typedef struct FileResult
{
	FileOutcome outcome;
	char		sha256[2 * SHA256_BYTES + 1];
	int32_t		file_id;		/* the new one, or the earlier one if skipped */
	int64_t		size_bytes;
	int64_t		lines;
	int64_t		loaded;
	int64_t		rejected;
	int64_t		extra_fields;
	double		seconds;
	const char *message;		/* why it failed */
	UnknownFields *unknown;		/* a loaded file's unknown field names */
	const char *unknown_json;	/* the same as a JSON object */

	/*
	 * The three pointers are lent to report_file for the call only; it
	 * keeps copies of what it needs.
	 */
} FileResult;

typedef struct Report Report;

extern Report *report_start(const FileList *list, bool quiet, bool json,
							bool progress);
extern void report_progress(Report *report, int64_t file_bytes_done,
							int64_t file_rows);
extern void report_file(Report *report, const LoadFile *f,
						const FileResult *result);
extern int	report_finish(Report *report, bool stopped);
extern void report_json_error(const char *message, int status);

#endif							/* LOAD_REPORT_H */
