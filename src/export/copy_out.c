/*
 * copy_out.c
 *		One split of the training table streamed out of the server with
 *		COPY ... TO STDOUT: the binary format parsed into the Parquet
 *		writer, or the csv format written as it comes (gzip optional).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "export.h"

/* microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch */
#define POSTGRES_EPOCH_MICROS INT64_C(946684800000000)

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t
be64(const unsigned char *p)
{
	return (uint64_t) be32(p) << 32 | be32(p + 4);
}

/* bytes of the binary COPY stream not yet parsed */
typedef struct CopyStream
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
	bool		header_seen;
	bool		ended;
} CopyStream;

/*
 * Parse the complete rows at the start of the stream into the writer;
 * returns how many bytes were used.  The stream's format: a header
 * ("PGCOPY\n\377\r\n\0", flags, extension length and bytes), then rows (a
 * 16-bit field count, each field a 32-bit length, -1 for NULL, and its
 * bytes, in network order), then a field count of -1.
 */
static size_t
parse_rows(Export *ex, CopyStream *s, ParquetWriter *w, ExportFile *f)
{
	size_t		at = 0;

	if (!s->header_seen)
	{
		if (s->len < 19)
			return 0;
		if (memcmp(s->data, "PGCOPY\n\377\r\n\0", 11) != 0)
			fail("the server sent no binary COPY header");
		if (s->len < 19 + be32(s->data + 15))
			return 0;
		at = 19 + be32(s->data + 15);
		s->header_seen = true;
	}
	for (;;)
	{
		size_t		row = at;
		int16_t		nfields;

		if (s->len - at < 2)
			break;
		nfields = (int16_t) (s->data[at] << 8 | s->data[at + 1]);
		if (nfields == -1)
		{
			s->ended = true;
			at += 2;
			break;
		}
		if (nfields != ex->ncolumns)
			fail("the server sent a row of %d fields, not %d", nfields, ex->ncolumns);
		at += 2;
		/* the whole row first, then its values */
		for (int i = 0; i < nfields; i++)
		{
			int32_t		len;

			if (s->len - at < 4)
				return row;
			len = (int32_t) be32(s->data + at);
			at += 4;
			if (len > 0)
			{
				if (s->len - at < (size_t) len)
					return row;
				at += len;
			}
		}
		at = row + 2;
		for (int i = 0; i < nfields; i++)
		{
			int32_t		len = (int32_t) be32(s->data + at);
			const unsigned char *v = s->data + at + 4;
			ExportColumn *c = &ex->columns[i];
			uint64_t	bits;
			double		d;

			at += 4 + (len > 0 ? len : 0);
			if (len < 0)
			{
				if (!c->nullable)
					fail("the server sent NULL for column %s, which is NOT NULL", c->name);
				parquet_put_null(w, i);
				continue;
			}
			switch (c->parquet)
			{
				case PARQUET_INT32:
					parquet_put_int32(w, i, (int32_t) be32(v));
					break;
				case PARQUET_INT64:
					parquet_put_int64(w, i, (int64_t) be64(v));
					break;
				case PARQUET_DOUBLE:
					bits = be64(v);
					memcpy(&d, &bits, sizeof(d));
					parquet_put_double(w, i, d);
					break;
				case PARQUET_TIMESTAMP:
					parquet_put_timestamp(w, i, (int64_t) be64(v) + POSTGRES_EPOCH_MICROS);
					break;
				case PARQUET_STRING:
				case PARQUET_UUID:
					parquet_put_bytes(w, i, v, len);
					break;
			}
		}
		if (parquet_end_row(w) != 0)
			fail("could not write %s: %s", f->partial, strerror(errno));
		f->rows++;
		if ((f->rows & 0xFFF) == 0)
			draw_progress(ex, f, false);
	}
	return at;
}

/* Start the COPY of one split's rows. */
static void
start_copy(Export *ex, const ExportFile *f, const char *options)
{
	char	   *sql = xmalloc(strlen(ex->select_list) + 200);
	PGresult   *res;

	/* (the split's name is one of three known words) */
	sprintf(sql, "COPY (SELECT %s FROM curated.machine_learning WHERE split = '%s') TO STDOUT WITH (%s)",
			ex->select_list, f->split, options);
	res = PQexec(ex->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		fail_server(ex->conn, "could not read the training table");
	PQclear(res);
	free(sql);
}

/* the end of a COPY: its command status */
static void
finish_copy(Export *ex)
{
	PGresult   *res = PQgetResult(ex->conn);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_server(ex->conn, "could not read the training table");
	PQclear(res);
	while ((res = PQgetResult(ex->conn)) != NULL)
		PQclear(res);
}

static void
write_parquet(Export *ex, ExportFile *f, FILE *out)
{
	ParquetColumn *columns = xmalloc(ex->ncolumns * sizeof(ParquetColumn));
	ParquetWriter *w;
	CopyStream	s = {0};
	char	   *buf;
	int			n;

	for (int i = 0; i < ex->ncolumns; i++)
	{
		columns[i].name = ex->columns[i].name;
		columns[i].type = ex->columns[i].parquet;
		columns[i].nullable = ex->columns[i].nullable;
	}
	w = parquet_open(out, columns, ex->ncolumns,
					 ex->gzip ? PARQUET_GZIP : PARQUET_UNCOMPRESSED,
					 ex->row_group_bytes, "stedi-export version " STEDI_EXPORT_VERSION);
	if (w == NULL)
		fail("could not write %s: %s", f->partial, strerror(errno));
	start_copy(ex, f, "FORMAT binary");
	while ((n = PQgetCopyData(ex->conn, &buf, 0)) > 0)
	{
		size_t		used;

		if (s.len + n > s.cap)
		{
			s.cap = (s.len + n) * 2;
			s.data = realloc(s.data, s.cap);
			if (s.data == NULL)
				fail("out of memory");
		}
		memcpy(s.data + s.len, buf, n);
		s.len += n;
		PQfreemem(buf);
		used = parse_rows(ex, &s, w, f);
		memmove(s.data, s.data + used, s.len - used);
		s.len -= used;
	}
	if (n == -2)
		fail_server(ex->conn, "could not read the training table");
	finish_copy(ex);
	if (!s.ended || s.len != 0)
		fail("the binary COPY stream of split %s ended early", f->split);
	free(s.data);
	if (parquet_finish(w) != 0)
		fail("could not write %s: %s", f->partial, strerror(errno));
	free(columns);
}

/* ---- COPY, csv, into a file or gzip ---- */

static void
write_csv(Export *ex, ExportFile *f, FILE *out)
{
	gzFile		gz = NULL;
	char	   *buf;
	int			n;

	if (ex->gzip)
	{
		gz = gzdopen(dup(fileno(out)), "wb");
		if (gz == NULL)
			fail("could not write %s: %s", f->partial, strerror(errno));
	}
	start_copy(ex, f, "FORMAT csv, HEADER");
	f->rows = -1;				/* the header comes first */
	while ((n = PQgetCopyData(ex->conn, &buf, 0)) > 0)
	{
		bool		ok = gz ? gzwrite(gz, buf, n) == n : fwrite(buf, 1, n, out) == (size_t) n;

		PQfreemem(buf);
		if (!ok)
			fail("could not write %s: %s", f->partial, strerror(errno));
		/* every message is a line, the header or a row */
		f->rows++;
		if ((f->rows & 0xFFF) == 0)
			draw_progress(ex, f, false);
	}
	if (n == -2)
		fail_server(ex->conn, "could not read the training table");
	finish_copy(ex);
	if (gz != NULL && gzclose(gz) != Z_OK)
		fail("could not write %s", f->partial);
}

void
export_file(Export *ex, ExportFile *f)
{
	FILE	   *out = fopen(f->partial, "wb");
	unsigned char digest[SHA256_BYTES];
	int			fd;
	struct stat st;

	if (out == NULL)
		fail("could not create %s: %s", f->partial, strerror(errno));
	if (ex->parquet)
		write_parquet(ex, f, out);
	else
		write_csv(ex, f, out);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0)
		fail("could not write %s: %s", f->partial, strerror(errno));
	draw_progress(ex, f, true);
	if (f->rows != f->expected_rows)
		fail("split %s: %" PRId64 " rows written, %" PRId64 " counted in the same snapshot",
			 f->split, f->rows, f->expected_rows);

	fd = open(f->partial, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0 || !file_sha256(fd, digest))
		fail("could not read %s back: %s", f->partial, strerror(errno));
	close(fd);
	f->bytes = st.st_size;
	sha256_hex(digest, f->sha256);
}

