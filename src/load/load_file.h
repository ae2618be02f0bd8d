/*
 * load_file.h
 *		Loading one file in a transaction of its own (load_file.c).
 */
#ifndef LOAD_LOAD_FILE_H
#define LOAD_LOAD_FILE_H

#include <stdbool.h>
#include <stdio.h>

#include "libpq-fe.h"

#include "copy_binary.h"
#include "files.h"
#include "record.h"
#include "report.h"
#include "unknown_fields.h"

/* State kept across the files of one run. */
typedef struct Loader
{
	PGconn	   *conn;
	RecordParser *parser[STEDI_NKINDS]; /* made when a kind is first seen */
	CopyBuf		rows;			/* tuples for landing.<kind> */
	CopyBuf		rejects;		/* tuples for landing.rejected */
	FILE	   *spill;			/* rejects of this file beyond a chunk */
	bool		spilled;		/* does spill hold any of this file's? */
	bool		force;			/* load content that was loaded before */
	Report	   *report;
	UnknownFields *unknown;		/* of the file under way */
	CopyBuf		unknown_json;	/* the same, as finish_file takes them */
	bool		bad_content;	/* the file failed for what it holds */
} Loader;

/*
 * Load one file in one transaction, unless its content was loaded before.
 * Returns false, having reported why, rolled back and logged the attempt,
 * if the run must stop.  A file that failed for what it holds (see
 * bad_content) is reported, rolled back and logged the same, but the run
 * goes on.
 */
extern bool load_file(Loader *ld, const LoadFile *f);

/* Close the loader's connection and free what it holds. */
extern void loader_free(Loader *ld);

#endif							/* LOAD_LOAD_FILE_H */
