/*
 * stedi-export.c
 *		Write the training table, split by split, as Parquet or CSV files
 *		with a manifest, from one consistent snapshot of the database.
 *
 *	stedi-export [connection options] [--split NAME]... [--format parquet|csv]
 *				 [--gzip] [--row-group-size MB] [--json] [--quiet] OUTDIR
 *
 * The rows stream from the server with COPY ... TO STDOUT (binary for
 * Parquet, csv for CSV) inside one REPEATABLE READ READ ONLY transaction,
 * so a refresh that commits meanwhile is either wholly in the files or
 * wholly out of them, and the manifest says which refresh they reflect.
 * Files are written under temporary names and renamed into place when all
 * are complete, then the manifest, then files of splits or formats this
 * export did not write are removed: a file under its own name is always
 * whole, and the manifest lists, with their SHA-256, the files of the
 * last export that completed.  A lock on OUTDIR keeps two exports from
 * writing it at once; an export that fails removes its temporary files.
 *
 * Memory: for Parquet, one row group of values (--row-group-size, 32 MB by
 * default) and one compressed page of it at a time; for CSV, a row and
 * zlib's buffers.  Never the whole table.
 *
 * Exit status: 0 when every split asked for was written, 1 when one of
 * them has no rows (its file is written, empty), 2 on trouble (a bad
 * option, the connection, the server, the files); with --json one JSON
 * document on stdout says what happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "connect.h"
#include "digest.h"
#include "libpq-fe.h"
#include "parquet.h"

#define STEDI_EXPORT_VERSION "0.3.0"
#define EXIT_EMPTY		1
#define EXIT_TROUBLE	2

/* seconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch */
#define POSTGRES_EPOCH_MICROS INT64_C(946684800000000)

static const char *progname = "stedi-export";
static const char *const split_names[] = {"train", "validation", "test"};
#define NSPLITS 3

static bool json_output = false;

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
static char *partials[NSPLITS + 1];
static int	npartials;

static void
remove_partials(void)
{
	for (int i = 0; i < npartials; i++)
		if (partials[i] != NULL)
			unlink(partials[i]);
}

static void
remove_partials_and_die(int sig)
{
	remove_partials();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- reporting ---- */

static void
json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void fail(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));

/* Report trouble and exit 2: on stderr, and as JSON with --json. */
static void
fail(const char *fmt,...)
{
	char		message[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", progname, message);
	if (json_output)
	{
		printf("{\"status\": %d, \"error\": ", EXIT_TROUBLE);
		json_string(stdout, message);
		printf("}\n");
	}
	exit(EXIT_TROUBLE);
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		fail("out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	char	   *p = strdup(s);

	if (p == NULL)
		fail("out of memory");
	return p;
}

static char *
path_in(const char *dir, const char *name)
{
	char	   *p = xmalloc(strlen(dir) + strlen(name) + 2);

	sprintf(p, "%s/%s", dir, name);
	return p;
}

/* the first line of the server's message */
static void
fail_server(PGconn *conn, const char *what)
{
	const char *msg = PQerrorMessage(conn);

	fail("%s: %.*s", what, (int) strcspn(msg, "\n"), msg);
}

static PGresult *
query(Export *ex, const char *sql, const char *what)
{
	PGresult   *res = PQexec(ex->conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_server(ex->conn, what);
	return res;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
draw_progress(Export *ex, const ExportFile *f, bool done)
{
	double		now = now_seconds();

	if (!ex->progress || (!done && now - ex->last_draw < 0.1))
		return;
	ex->last_draw = now;
	fprintf(stderr, "\r%-10s %12" PRId64 " of %" PRId64 " rows (%3d%%)%s",
			f->split, f->rows, f->expected_rows,
			f->expected_rows ? (int) (100 * f->rows / f->expected_rows) : 100,
			done ? "\n" : "");
	fflush(stderr);
}

/* ---- what is exported ---- */

/* The columns of curated.machine_learning, and their Parquet types. */
static void
read_columns(Export *ex)
{
	PGresult   *res = query(ex,
							"SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull"
							"  FROM pg_catalog.pg_attribute AS a"
							" WHERE a.attrelid = 'curated.machine_learning'::pg_catalog.regclass"
							"   AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
							"could not read the columns of curated.machine_learning");
	size_t		len = 0;

	ex->ncolumns = PQntuples(res);
	ex->columns = xmalloc(ex->ncolumns * sizeof(ExportColumn));
	for (int i = 0; i < ex->ncolumns; i++)
	{
		ExportColumn *c = &ex->columns[i];
		const char *t = PQgetvalue(res, i, 1);

		c->name = xstrdup(PQgetvalue(res, i, 0));
		c->sql_type = xstrdup(t);
		c->nullable = strcmp(PQgetvalue(res, i, 2), "t") == 0;
		if (strcmp(t, "integer") == 0)
			c->parquet = PARQUET_INT32, c->parquet_name = "INT32";
		else if (strcmp(t, "bigint") == 0)
			c->parquet = PARQUET_INT64, c->parquet_name = "INT64";
		else if (strcmp(t, "double precision") == 0)
			c->parquet = PARQUET_DOUBLE, c->parquet_name = "DOUBLE";
		else if (strcmp(t, "text") == 0)
			c->parquet = PARQUET_STRING, c->parquet_name = "BYTE_ARRAY STRING";
		else if (strcmp(t, "uuid") == 0)
			c->parquet = PARQUET_UUID, c->parquet_name = "FIXED_LEN_BYTE_ARRAY(16) UUID";
		else if (strcmp(t, "timestamp with time zone") == 0)
			c->parquet = PARQUET_TIMESTAMP,
				c->parquet_name = "INT64 TIMESTAMP(isAdjustedToUTC=true, MICROS)";
		else
			fail("column %s of curated.machine_learning is of type %s, which cannot be exported",
				 c->name, t);
		len += strlen(c->name) * 2 + 4;
	}
	PQclear(res);

	ex->select_list = xmalloc(len + 1);
	ex->select_list[0] = '\0';
	for (int i = 0; i < ex->ncolumns; i++)
	{
		char	   *quoted = PQescapeIdentifier(ex->conn, ex->columns[i].name,
												strlen(ex->columns[i].name));

		if (quoted == NULL)
			fail("out of memory");
		if (i > 0)
			strcat(ex->select_list, ", ");
		strcat(ex->select_list, quoted);
		PQfreemem(quoted);
	}
}

/* How many rows each split has, in the export's snapshot. */
static void
count_rows(Export *ex)
{
	PGresult   *res = query(ex,
							"SELECT split, count(*) FROM curated.machine_learning GROUP BY split",
							"could not count the rows of curated.machine_learning");

	for (int i = 0; i < PQntuples(res); i++)
		for (int f = 0; f < ex->nfiles; f++)
			if (strcmp(PQgetvalue(res, i, 0), ex->files[f].split) == 0)
				ex->files[f].expected_rows = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	PQclear(res);
}

/* ---- COPY, binary, into Parquet ---- */

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

/* ---- files ---- */

static void
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

static void
write_manifest(Export *ex, FILE *out)
{
	int64_t		total = 0;

	fprintf(out, "{\n  \"exported_at\": \"%s\",\n", ex->exported_at);
	fprintf(out, "  \"exported_by\": \"stedi-export %s\",\n", STEDI_EXPORT_VERSION);
	fprintf(out, "  \"table\": \"curated.machine_learning\",\n");
	fprintf(out, "  \"format\": \"%s\",\n", ex->parquet ? "parquet" : "csv");
	fprintf(out, "  \"compression\": \"%s\",\n", ex->gzip ? "gzip" : "none");
	if (ex->parquet)
		fprintf(out, "  \"row_group_bytes\": %zu,\n", ex->row_group_bytes);
	fprintf(out, "  \"reflects\": %s,\n", ex->state);
	fprintf(out, "  \"columns\": [");
	for (int i = 0; i < ex->ncolumns; i++)
	{
		ExportColumn *c = &ex->columns[i];

		fprintf(out, "%s\n    {\"name\": ", i ? "," : "");
		json_string(out, c->name);
		fprintf(out, ", \"type\": ");
		json_string(out, c->sql_type);
		if (ex->parquet)
			fprintf(out, ", \"parquet_type\": \"%s\"", c->parquet_name);
		fprintf(out, ", \"nullable\": %s}", c->nullable ? "true" : "false");
	}
	fprintf(out, "\n  ],\n  \"files\": [");
	for (int i = 0; i < ex->nfiles; i++)
	{
		ExportFile *f = &ex->files[i];

		fprintf(out, "%s\n    {\"split\": \"%s\", \"file\": ", i ? "," : "", f->split);
		json_string(out, f->name);
		fprintf(out, ", \"rows\": %" PRId64 ", \"bytes\": %" PRId64 ", \"sha256\": \"%s\"}",
				f->rows, f->bytes, f->sha256);
		total += f->rows;
	}
	fprintf(out, "\n  ],\n  \"rows\": %" PRId64 "\n}\n", total);
}

/* Rename the files into place, the manifest last, and make that durable. */
static void
publish(Export *ex)
{
	char	   *manifest = path_in(ex->outdir, "manifest.json");
	char	   *partial = path_in(ex->outdir, ".manifest.json.partial");
	FILE	   *out;
	int			dir;

	partials[npartials++] = partial;
	out = fopen(partial, "w");

	if (out == NULL)
		fail("could not create %s: %s", partial, strerror(errno));
	write_manifest(ex, out);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0)
		fail("could not write %s: %s", partial, strerror(errno));
	for (int i = 0; i < ex->nfiles; i++)
		if (rename(ex->files[i].partial, ex->files[i].path) != 0)
			fail("could not rename %s: %s", ex->files[i].partial, strerror(errno));
	if (rename(partial, manifest) != 0)
		fail("could not rename %s: %s", partial, strerror(errno));
	npartials = 0;				/* all in place */
	/* what an earlier export wrote and this one did not */
	for (int s = 0; s < NSPLITS; s++)
	{
		static const char *const suffixes[] = {"parquet", "csv", "csv.gz"};

		for (int k = 0; k < 3; k++)
		{
			char		name[64];
			bool		written = false;
			char	   *path;

			snprintf(name, sizeof(name), "%s.%s", split_names[s], suffixes[k]);
			for (int i = 0; i < ex->nfiles; i++)
				written |= strcmp(ex->files[i].name, name) == 0;
			if (written)
				continue;
			path = path_in(ex->outdir, name);
			if (unlink(path) != 0 && errno != ENOENT)
				fail("could not remove %s, of an earlier export: %s", path, strerror(errno));
			free(path);
		}
	}
	dir = open(ex->outdir, O_RDONLY);
	if (dir < 0 || fsync(dir) != 0)
		fail("could not sync %s: %s", ex->outdir, strerror(errno));
	close(dir);
	free(manifest);
	free(partial);
}

/* ---- main ---- */

static void
help(void)
{
	printf("%s writes the STEDI training table, split by split, as Parquet or CSV\n"
		   "files with a manifest, from one consistent snapshot.\n\n", progname);
	printf("Usage:\n  %s [OPTION]... OUTDIR\n\n", progname);
	printf("Options:\n");
	printf("      --split=NAME         export this split: train, validation or test\n"
		   "                           (repeatable; default: all three)\n");
	printf("      --format=FORMAT      parquet (default) or csv\n");
	printf("      --gzip               compress: gzip CSV files (.csv.gz), GZIP Parquet pages\n");
	printf("      --row-group-size=MB  Parquet row groups of about MB megabytes (1 to 1024,\n"
		   "                           default 32): the memory the export takes\n");
	printf("      --json               print one JSON document instead of text\n");
	printf("  -q, --quiet              print errors only (and no progress bar)\n");
	printf("  -V, --version            output version information, then exit\n");
	printf("  -?, --help               show this help, then exit\n\n");
	printf("Connection options (as psql's; the PG* environment variables apply):\n");
	printf("  -d, --dbname=DBNAME      database name or connection string\n");
	printf("  -h, --host=HOSTNAME      database server host or socket directory\n");
	printf("  -p, --port=PORT          database server port\n");
	printf("  -U, --username=USERNAME  database user name (a member of stedi_analyst)\n");
	printf("  -w, --no-password        never prompt for password\n");
	printf("  -W, --password           force password prompt\n\n");
	printf("Writes OUTDIR/SPLIT.parquet (or SPLIT.csv, SPLIT.csv.gz) and\n"
		   "OUTDIR/manifest.json.  Exit status: 0 when every split was written, 1 when\n"
		   "one of them has no rows, 2 on trouble.  On a terminal a progress bar shows\n"
		   "on stderr.\n");
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"no-password", no_argument, NULL, 'w'},
		{"password", no_argument, NULL, 'W'},
		{"quiet", no_argument, NULL, 'q'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 1},
		{"split", required_argument, NULL, 2},
		{"format", required_argument, NULL, 3},
		{"gzip", no_argument, NULL, 4},
		{"json", no_argument, NULL, 5},
		{"row-group-size", required_argument, NULL, 6},
		{NULL, 0, NULL, 0}
	};
	Export		ex = {0};
	const char *dbname = NULL,
			   *host = NULL,
			   *port = NULL,
			   *user = NULL;
	StediPasswordPrompt prompt = STEDI_PROMPT_AUTO;
	bool		wanted[NSPLITS] = {false};
	bool		any_split = false;
	int			status = 0;
	int			c;

	ex.parquet = true;
	ex.row_group_bytes = (size_t) 32 << 20;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
	{
		size_t		n = strlen(argv[i]);

		/* (getopt_long takes any unambiguous prefix of a long option) */
		if (n >= 4 && strncmp(argv[i], "--json", n) == 0)
			json_output = true;
		if (strcmp(argv[i], "-?") == 0)
		{
			help();
			return 0;
		}
	}

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:h:p:U:wWqV?", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				dbname = optarg;
				break;
			case 'h':
				host = optarg;
				break;
			case 'p':
				port = optarg;
				break;
			case 'U':
				user = optarg;
				break;
			case 'w':
				prompt = STEDI_PROMPT_NEVER;
				break;
			case 'W':
				prompt = STEDI_PROMPT_ALWAYS;
				break;
			case 'q':
				ex.quiet = true;
				break;
			case 'V':
				printf("%s (stedi) %s\n", progname, STEDI_EXPORT_VERSION);
				return 0;
			case 1:
				help();
				return 0;
			case 2:
				{
					int			s;

					for (s = 0; s < NSPLITS && strcmp(optarg, split_names[s]) != 0; s++)
						;
					if (s == NSPLITS)
						fail("invalid split \"%s\": must be train, validation or test", optarg);
					wanted[s] = any_split = true;
					break;
				}
			case 3:
				if (strcmp(optarg, "parquet") == 0)
					ex.parquet = true;
				else if (strcmp(optarg, "csv") == 0)
					ex.parquet = false;
				else
					fail("invalid format \"%s\": must be parquet or csv", optarg);
				break;
			case 4:
				ex.gzip = true;
				break;
			case 5:
				json_output = true; /* (already, from the scan above) */
				break;
			case 6:
				{
					char	   *end;
					long		mb = strtol(optarg, &end, 10);

					if (*optarg == '\0' || *end != '\0' || mb < 1 || mb > 1024)
						fail("invalid row group size \"%s\": must be 1 to 1024 (MB)", optarg);
					ex.row_group_bytes = (size_t) mb << 20;
					break;
				}
			case '?':
				if (optopt == '?')
				{
					help();
					return 0;
				}
				if (optopt > ' ' && optopt < 127)
					fail("invalid option -- '%c'; try \"%s --help\"", optopt, progname);
				fail("invalid option \"%s\"; try \"%s --help\"", argv[optind - 1], progname);
			case ':':
				fail("option \"%s\" needs a value", argv[optind - 1]);
			default:
				fail("invalid option; try \"%s --help\"", progname);
		}
	}
	if (argc - optind != 1)
		fail("one output folder (OUTDIR) expected; try \"%s --help\"", progname);
	ex.outdir = argv[optind];
	ex.progress = !ex.quiet && !json_output && isatty(fileno(stderr));

	for (int s = 0; s < NSPLITS; s++)
	{
		ExportFile *f;

		if (any_split && !wanted[s])
			continue;
		f = &ex.files[ex.nfiles++];
		f->split = split_names[s];
		snprintf(f->name, sizeof(f->name), "%s.%s", f->split,
				 ex.parquet ? "parquet" : ex.gzip ? "csv.gz" : "csv");
		f->path = path_in(ex.outdir, f->name);
		f->partial = xmalloc(strlen(ex.outdir) + strlen(f->name) + 16);
		sprintf(f->partial, "%s/.%s.partial", ex.outdir, f->name);
	}
	ex.conn = stedi_connect(progname, dbname, host, port, user, prompt);
	if (ex.conn == NULL)
		fail("out of memory");
	if (PQstatus(ex.conn) == CONNECTION_BAD)
		fail_server(ex.conn, "could not connect");

	if (mkdir(ex.outdir, 0777) != 0 && errno != EEXIST)
		fail("could not create %s: %s", ex.outdir, strerror(errno));
	{
		char	   *lock = path_in(ex.outdir, ".stedi-export.lock");
		int			fd = open(lock, O_RDWR | O_CREAT, 0666);

		if (fd < 0)
			fail("could not create %s: %s", lock, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) != 0)
			fail("another stedi-export is writing %s", ex.outdir);
		free(lock);				/* (the lock lasts as long as the program) */
	}
	for (int i = 0; i < ex.nfiles; i++)
		partials[npartials++] = ex.files[i].partial;
	atexit(remove_partials);
	signal(SIGINT, remove_partials_and_die);
	signal(SIGTERM, remove_partials_and_die);
	signal(SIGHUP, remove_partials_and_die);
	{
		time_t		now = time(NULL);

		strftime(ex.exported_at, sizeof(ex.exported_at), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	}

	/*
	 * One snapshot for everything read, the manifest's facts included; and
	 * text in the forms the readers parse, whatever the user's settings:
	 * ISO times in UTC, doubles in their shortest exact form.
	 */
	PQclear(query(&ex, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "could not begin"));
	PQclear(query(&ex, "SET LOCAL datestyle = 'ISO, YMD'; SET LOCAL timezone = 'UTC';"
				  " SET LOCAL extra_float_digits = 1", "could not set the export's formats"));
	{
		PGresult   *res = query(&ex, "SELECT stedi.training_set_state()",
								"could not read what the training table reflects");

		ex.state = xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	read_columns(&ex);
	count_rows(&ex);
	for (int i = 0; i < ex.nfiles; i++)
		export_file(&ex, &ex.files[i]);
	PQclear(query(&ex, "COMMIT", "could not end the snapshot"));
	PQfinish(ex.conn);
	publish(&ex);

	for (int i = 0; i < ex.nfiles; i++)
		if (ex.files[i].rows == 0)
			status = EXIT_EMPTY;
	if (json_output)
	{
		printf("{\"status\": %d, \"manifest\": ", status);
		write_manifest(&ex, stdout);
		printf("}\n");
	}
	else if (!ex.quiet)
		for (int i = 0; i < ex.nfiles; i++)
			printf("%-10s %12" PRId64 " rows  %12" PRId64 " bytes  %s\n",
				   ex.files[i].split, ex.files[i].rows, ex.files[i].bytes, ex.files[i].path);
	if (status == EXIT_EMPTY && !ex.quiet)
		fprintf(stderr, "%s: a split asked for has no rows (its file is written, empty)\n", progname);
	return status;
}
