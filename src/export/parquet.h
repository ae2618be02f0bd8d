/*
 * parquet.h
 *		A streaming writer of Apache Parquet files, as much of the format
 *		as a flat table of the training set needs: required or optional
 *		columns of INT32, INT64, DOUBLE, STRING, UUID and UTC TIMESTAMP
 *		(microseconds), PLAIN encoding, one data page per column chunk,
 *		row groups of a bounded size, pages uncompressed or GZIP.
 *
 * The format: https://github.com/apache/parquet-format (README.md,
 * LogicalTypes.md, Encodings.md and src/main/thrift/parquet.thrift).
 *
 * Memory: the current row group's values, at most about row_group_bytes
 * plus one row, and one page compressed at a time.
 */
#ifndef PARQUET_H
#define PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ParquetType
{
	PARQUET_INT32,				/* INT32, INTEGER(32, signed) */
	PARQUET_INT64,				/* INT64, INTEGER(64, signed) */
	PARQUET_DOUBLE,				/* DOUBLE */
	PARQUET_STRING,				/* BYTE_ARRAY, STRING (UTF-8) */
	PARQUET_UUID,				/* FIXED_LEN_BYTE_ARRAY(16), UUID */
	PARQUET_TIMESTAMP			/* INT64, TIMESTAMP(isAdjustedToUTC, MICROS) */
} ParquetType;

typedef enum ParquetCodec
{
	PARQUET_UNCOMPRESSED = 0,	/* the CompressionCodec numbers */
	PARQUET_GZIP = 2
} ParquetCodec;

typedef struct ParquetColumn
{
	const char *name;
	ParquetType type;
	bool		nullable;
} ParquetColumn;

typedef struct ParquetWriter ParquetWriter;

/* the smallest row group size accepted, in bytes */
#define PARQUET_MIN_ROW_GROUP_BYTES 1024

/*
 * Start a file on out (written from its current position, taken as 0):
 * the columns are copied.  NULL with errno set if out cannot be written.
 */
extern ParquetWriter *parquet_open(FILE *out, const ParquetColumn *columns,
								   int ncolumns, ParquetCodec codec,
								   size_t row_group_bytes,
								   const char *created_by);

/* One value of the current row, column by column, in order. */
extern void parquet_put_null(ParquetWriter *w, int column);
extern void parquet_put_int32(ParquetWriter *w, int column, int32_t v);
extern void parquet_put_int64(ParquetWriter *w, int column, int64_t v);
extern void parquet_put_double(ParquetWriter *w, int column, double v);
/* a string's bytes (UTF-8), or a UUID's 16 bytes */
extern void parquet_put_bytes(ParquetWriter *w, int column, const void *p,
							  size_t n);
/* microseconds since 1970-01-01 00:00:00 UTC */
extern void parquet_put_timestamp(ParquetWriter *w, int column, int64_t micros);

/* End the row; a full row group is written.  0, or -1 with errno set. */
extern int	parquet_end_row(ParquetWriter *w);

/*
 * Write the last row group and the footer, and free the writer (out stays
 * open).  0, or -1 with errno set.
 */
extern int	parquet_finish(ParquetWriter *w);

/* Free a writer without finishing its file (after an error). */
extern void parquet_abandon(ParquetWriter *w);

/* rows written so far */
extern int64_t parquet_rows(const ParquetWriter *w);

#endif							/* PARQUET_H */
