/*
 * export.h
 *		What the files of stedi-export share: the export being written,
 *		and the helpers that report and end it.
 */
#ifndef STEDI_EXPORT_H
#define STEDI_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "digest.h"
#include "json_out.h"
#include "libpq-fe.h"
#include "parquet.h"

#define STEDI_EXPORT_VERSION "0.3.0"
#define EXIT_EMPTY		1
#define EXIT_TROUBLE	2
#define NSPLITS			3

extern const char *const progname;
extern const char *const split_names[NSPLITS];
extern bool json_output;

typedef struct ExportColumn
{
	char	   *name;
	char	   *sql_type;		/* as format_type() spells it */
	bool		nullable;
	ParquetType parquet;
	const char *parquet_name;	/* for the manifest */
} ExportColumn;

typedef struct ExportFile
{
	const char *split;
	char		name[64];		/* in OUTDIR */
	char	   *path;
	char	   *partial;		/* written here, then renamed */
	int64_t		rows;
	int64_t		expected_rows;	/* counted first, in the same snapshot */
	int64_t		bytes;
	char		sha256[2 * SHA256_BYTES + 1];
} ExportFile;

typedef struct Export
{
	PGconn	   *conn;
	bool		parquet;
	bool		gzip;
	bool		quiet;
	bool		progress;
	size_t		row_group_bytes;
	const char *outdir;
	ExportColumn *columns;
	int			ncolumns;
	char	   *select_list;
	char	   *state;			/* stedi.training_set_state(), JSON */
	ExportFile	files[NSPLITS];
	int			nfiles;
	double		last_draw;
	char		exported_at[32];
} Export;

/* the temporary files being written, removed if the export fails */
extern char *partials[NSPLITS + 1];
extern int	npartials;

/* report.c */
extern void fail(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
extern void *xmalloc(size_t n);
extern char *xstrdup(const char *s);
extern char *path_in(const char *dir, const char *name);
extern void fail_server(PGconn *conn, const char *what) __attribute__((noreturn));
extern PGresult *query(Export *ex, const char *sql, const char *what);
extern void draw_progress(Export *ex, const ExportFile *f, bool done);

/* copy_out.c: one split's file, and its size and SHA-256 */
extern void export_file(Export *ex, ExportFile *f);

/* manifest.c */
extern void write_manifest(Export *ex, FILE *out);
extern void publish(Export *ex);

#endif							/* STEDI_EXPORT_H */
