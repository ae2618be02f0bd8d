/*
 * stedi-load.c
 *		Load STEDI landing files (JSON lines) into the landing tables of the
 *		stedi extension.
 *
 *		stedi-load [connection options] [--kind KIND] [--quiet] PATH...
 *
 * This file holds the command line, the connection and the loading of each
 * file; see stedi_load.h for the other files.
 *
 * Each file is loaded in a transaction of its own:
 *
 *		BEGIN;
 *		INSERT INTO landing.source_file ... RETURNING file_id;
 *		COPY landing.<kind> (...) FROM STDIN (FORMAT binary);	-- good lines
 *		COPY landing.rejected (...) FROM STDIN (FORMAT binary); -- the others
 *		UPDATE landing.source_file SET lines_read = ..., ...;
 *		COMMIT;
 *
 * so a file is in the database entirely, with its lineage row and counts, or
 * not at all.  The good rows are streamed while the file is read; rejected
 * lines are gathered on the side (in memory, spilling to a tmpfile() past a
 * chunk) because the protocol can run only one COPY at a time.  At the first
 * error from the server we roll back that file and stop: a broken connection
 * or a missing table would fail every later file in the same way.  A file
 * whose content is at fault (a .gz file that is not gzip data, or is cut
 * off or corrupt) fails alone: it is rolled back, and the run goes on.
 *
 * Exit status: 0 when every file was loaded whole (or skipped, as loaded
 * before), 1 when some lines were rejected or some files or folders were
 * passed over but everything else worked, 2 on any other trouble.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#include "options.h"
#include "stedi_load.h"

/* State kept across the files of one run. */
typedef struct Loader
{
	PGconn	   *conn;
	bool		quiet;
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

/* Counts of one file, as landing.source_file records them. */
typedef struct FileCounts
{
	int64_t		lines;
	int64_t		loaded;
	int64_t		rejected;
} FileCounts;


static void
usage_hint(void)
{
	fprintf(stderr, "%s: hint: Try \"%s --help\" for more information.\n",
			load_progname, load_progname);
}

static void
help(void)
{
	printf("%s loads STEDI landing files (one JSON record a line) into the landing\n"
		   "tables of the stedi extension, one transaction per file.\n\n",
		   load_progname);
	printf("Usage:\n");
	printf("  %s [OPTION]... PATH...\n\n", load_progname);
	printf("PATH is the root of the layout customer/landing/, accelerometer/landing/,\n"
		   "step_trainer/landing/, or one KIND or KIND/landing folder of it, or a single\n"
		   "file.  A landing folder is read with its sub-folders; its files named\n"
		   "*.json, *.jsonl or *.ndjson (any letter case) are loaded, and each of those\n"
		   "with .gz after it is read as gzip.  Everything else in it, what a KIND\n"
		   "folder holds but landing/, trusted/ and curated/, and a folder at the root\n"
		   "that is not a kind's, is passed over and named with the reason.\n"
		   "Files are loaded customer first, then accelerometer, then step_trainer, by\n"
		   "path within a kind.\n\n");
	printf("Options:\n");
	printf("      --kind=KIND          the files named hold KIND records: customer,\n"
		   "                           accelerometer or step_trainer (needed for a file\n"
		   "                           outside KIND/landing/)\n");
	printf("      --force              load files whose content was loaded before\n"
		   "                           (they are skipped otherwise)\n");
	stedi_client_help();
	printf("\nConnection options:\n");
	stedi_connect_help("");
	printf("\nThe PG* environment variables (PGHOST, PGDATABASE, ...) apply as in psql.\n");
	printf("\nA file is known by the SHA-256 of its content: one loaded before is\n"
		   "skipped.  Each file is loaded in a transaction of its own, whole or not at\n"
		   "all; a run stopped at any moment can simply be run again.  On a terminal,\n"
		   "a progress bar shows on stderr.\n");
	printf("\nExit status: 0 if every file was loaded (or skipped as loaded before),\n"
		   "1 if some lines were rejected (see landing.rejected) or some files or\n"
		   "folders were passed over, 2 on a usage, connection, file or server error.\n");
}

/* ---- connection ---- */

/* Print the first line of libpq's message, which is the one that matters. */
static void
report_connection_failure(PGconn *conn)
{
	const char *msg = PQerrorMessage(conn);
	size_t		len = strcspn(msg, "\n");

	load_error("%.*s", (int) len, msg);
}

/* Connect (see ../common/connect.c); a failure ends the run. */
static PGconn *
connect_database(const StediClientOptions *opts)
{
	PGconn	   *conn = stedi_connect(load_progname, opts->dbname, opts->host,
									 opts->port, opts->user, opts->prompt);

	if (conn == NULL)
		load_fatal("out of memory");
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		report_connection_failure(conn);
		PQfinish(conn);
		load_exit_trouble();
	}
	return conn;
}

/*
 * The extension creates the landing tables; without them there is no use.
 * The loading protocol this program speaks (stedi.finish_file counting the
 * rows itself) is that of extension version 0.3.0: an older version in the
 * database, left behind by a package upgrade, is reported, not guessed at.
 */
#define PROTOCOL_SINCE_MAJOR	0
#define PROTOCOL_SINCE_MINOR	3

static void
check_extension(PGconn *conn)
{
	PGresult   *res = PQexec(conn,
							 "SELECT extversion FROM pg_catalog.pg_extension "
							 "WHERE extname OPERATOR(pg_catalog.=) 'stedi'");
	int			major = 0;
	int			minor = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		report_connection_failure(conn);
		PQclear(res);
		PQfinish(conn);
		load_exit_trouble();
	}
	if (PQntuples(res) != 1)
	{
		load_error("extension \"stedi\" is not installed in database \"%s\"",
				   PQdb(conn));
		fprintf(stderr, "%s: hint: Run CREATE EXTENSION stedi; in that database first.\n",
				load_progname);
		PQclear(res);
		PQfinish(conn);
		load_exit_trouble();
	}
	if (sscanf(PQgetvalue(res, 0, 0), "%d.%d", &major, &minor) != 2 ||
		major < PROTOCOL_SINCE_MAJOR ||
		(major == PROTOCOL_SINCE_MAJOR && minor < PROTOCOL_SINCE_MINOR))
	{
		load_error("extension \"stedi\" in database \"%s\" is version %s, older than this stedi-load",
				   PQdb(conn), PQgetvalue(res, 0, 0));
		fprintf(stderr, "%s: hint: Run ALTER EXTENSION stedi UPDATE; in that database first.\n",
				load_progname);
		PQclear(res);
		PQfinish(conn);
		load_exit_trouble();
	}
	PQclear(res);

	/*
	 * The loader's own transaction mode, whatever the database or role
	 * default: under repeatable read, begin_file's look for an earlier load
	 * of the same content would read a snapshot older than the lock it just
	 * waited for.  And names resolve in pg_catalog first.
	 */
	res = PQexec(conn,
				 "SELECT pg_catalog.set_config('default_transaction_isolation', 'read committed', false), "
				 "pg_catalog.set_config('default_transaction_read_only', 'off', false), "
				 "pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		report_connection_failure(conn);
		PQclear(res);
		PQfinish(conn);
		load_exit_trouble();
	}
	PQclear(res);
}


/* ---- loading one file ---- */

/* The last server error, for the ingest log and --json. */
static char *last_server_error = NULL;

/* The server's message for a failed step of a file, which is rolled back. */
static void
report_server_error(const LoadFile *f, PGconn *conn, PGresult *res)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
	size_t		len;

	if (msg[0] == '\0')
		msg = PQerrorMessage(conn);
	len = strlen(msg);
	fprintf(stderr, "%s: could not load \"%s\" (rolled back): %s%s",
			load_progname, f->display, msg,
			len == 0 || msg[len - 1] != '\n' ? "\n" : "");

	free(last_server_error);
	last_server_error = load_strdup(msg);
	len = strcspn(last_server_error, "\n");
	last_server_error[len] = '\0';
}

/* The reason a file failed, for the ingest log and --json. */
static void
set_file_error(const char *message)
{
	free(last_server_error);
	last_server_error = load_strdup(message);
}

static void
rollback(PGconn *conn)
{
	if (PQstatus(conn) == CONNECTION_OK &&
		PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
}

/* Run a statement that returns no rows; false (and reported) on error. */
static bool
run_command(PGconn *conn, const LoadFile *f, const char *sql,
			int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params,
								   NULL, NULL, 0);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		report_server_error(f, conn, res);
	PQclear(res);
	return ok;
}

/* Start a COPY ... FROM STDIN; false (and reported) on error. */
static bool
start_copy(PGconn *conn, const LoadFile *f, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COPY_IN;

	if (!ok)
		report_server_error(f, conn, res);
	PQclear(res);
	return ok;
}

/* Hand a buffer of COPY data to libpq and empty it. */
static bool
send_copy_data(PGconn *conn, CopyBuf *buf)
{
	if (buf->len > 0 &&
		PQputCopyData(conn, buf->data, (int) buf->len) != 1)
		return false;
	buf->len = 0;
	return true;
}

/*
 * End a COPY.  With abort_reason, the server fails the COPY (and we do not
 * report that: the caller has reported the cause).  Returns false (and
 * reported) unless the COPY succeeded.
 */
static bool
end_copy(PGconn *conn, const LoadFile *f, const char *abort_reason)
{
	PGresult   *res;
	PGresult   *first = NULL;
	bool		ok;

	if (PQputCopyEnd(conn, abort_reason) != 1)
	{
		if (abort_reason == NULL)
			report_server_error(f, conn, NULL);
		return false;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (first == NULL)
			first = res;
		else
			PQclear(res);
	}
	ok = first != NULL && PQresultStatus(first) == PGRES_COMMAND_OK;
	if (!ok && abort_reason == NULL)
		report_server_error(f, conn, first);
	PQclear(first);
	return ok && abort_reason == NULL;
}

/* Move the rejected tuples gathered so far to the spill file. */
static bool
spill_rejects(Loader *ld)
{
	if (ld->spill == NULL)
	{
		ld->spill = tmpfile();
		if (ld->spill == NULL)
			return false;
	}
	if (fwrite(ld->rejects.data, 1, ld->rejects.len, ld->spill) !=
		ld->rejects.len)
		return false;
	ld->rejects.len = 0;
	ld->spilled = true;
	return true;
}

/* Empty the spill file for the next file. */
static bool
reset_spill(Loader *ld)
{
	ld->spilled = false;
	if (ld->spill == NULL)
		return true;
	rewind(ld->spill);
	return ftruncate(fileno(ld->spill), 0) == 0;
}

/*
 * COPY this file's rejected lines into landing.rejected: the spill file,
 * if any, then what is still in memory.
 */
static bool
copy_rejects(Loader *ld, const LoadFile *f)
{
	PGconn	   *conn = ld->conn;

	copy_put_trailer(&ld->rejects);
	if (!start_copy(conn, f,
					"COPY landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line, email, serial_number) "
					"FROM STDIN (FORMAT binary)"))
		return false;

	if (ld->spilled)
	{
		size_t		n;

		if (fflush(ld->spill) != 0)
		{
			load_error("could not write temporary file: %s", strerror(errno));
			end_copy(conn, f, "stedi-load: temporary file error");
			return false;
		}
		rewind(ld->spill);
		ld->rows.len = 0;
		copybuf_reserve(&ld->rows, COPY_CHUNK_BYTES);
		while ((n = fread(ld->rows.data, 1, COPY_CHUNK_BYTES, ld->spill)) > 0)
		{
			ld->rows.len = n;
			if (!send_copy_data(conn, &ld->rows))
			{
				report_server_error(f, conn, NULL);
				return false;
			}
		}
		if (ferror(ld->spill))
		{
			load_error("could not read temporary file: %s", strerror(errno));
			end_copy(conn, f, "stedi-load: temporary file error");
			return false;
		}
	}
	if (!send_copy_data(conn, &ld->rejects))
	{
		report_server_error(f, conn, NULL);
		return false;
	}
	return end_copy(conn, f, NULL);
}

/*
 * JSON whitespace only (space, tab, CR; the LF ended the line)?  Such
 * lines are skipped, and not counted.  A form feed or vertical tab is not
 * JSON whitespace: a line of them is rejected, not skipped.
 */
static bool
is_blank(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	}
	return true;
}

/*
 * Stream the lines of the file into the COPY of landing.<kind> that is in
 * progress, gathering rejected lines on the side.  Returns false (reported,
 * COPY aborted) on a read, temporary file or connection error.
 */
static bool
stream_lines(Loader *ld, const LoadFile *f, LineReader *reader,
			 int32_t file_id, FileCounts *counts)
{
	PGconn	   *conn = ld->conn;
	RecordParser *parser = ld->parser[f->kind];
	Line		line;
	int			rc;

	ld->rows.len = 0;
	ld->rejects.len = 0;
	copy_put_header(&ld->rows);
	copy_put_header(&ld->rejects);

	while ((rc = line_reader_next(reader, &line)) > 0)
	{
		const char *reason;

		if (!line.too_long && is_blank(line.data, line.len))
			continue;

		counts->lines++;
		report_progress(ld->report, line_reader_stored_offset(reader, &line),
						counts->loaded);
		reason = record_parse(parser, &line, file_id, &ld->rows, ld->unknown);
		if (reason == NULL)
			counts->loaded++;
		else
		{
			RejectedIdentity id;

			counts->rejected++;
			record_rejected_identity(parser, &id);
			copy_put_rejected(&ld->rejects, f->kind, file_id, &line, reason, &id);
			if (ld->rejects.len >= COPY_CHUNK_BYTES && !spill_rejects(ld))
			{
				load_error("could not write temporary file: %s",
						   strerror(errno));
				end_copy(conn, f, "stedi-load: temporary file error");
				return false;
			}
		}

		if (ld->rows.len >= COPY_CHUNK_BYTES && !send_copy_data(conn, &ld->rows))
		{
			report_server_error(f, conn, NULL);
			return false;
		}
	}
	if (rc < 0)
	{
		char		message[300];

		/* bad gzip data: this file fails alone, the run goes on */
		ld->bad_content = line_reader_data_error(reader);
		if (ld->bad_content)
		{
			load_error("could not load \"%s\" (rolled back): %s", f->display,
					   line_reader_error(reader));
			snprintf(message, sizeof(message), "%s", line_reader_error(reader));
		}
		else
		{
			load_error("could not read \"%s\": %s", f->display,
					   line_reader_error(reader));
			snprintf(message, sizeof(message), "could not read the file: %s",
					 line_reader_error(reader));
		}
		set_file_error(message);
		end_copy(conn, f, "stedi-load: could not read the file");
		return false;
	}

	copy_put_trailer(&ld->rows);
	if (!send_copy_data(conn, &ld->rows))
	{
		report_server_error(f, conn, NULL);
		return false;
	}
	return end_copy(conn, f, NULL);
}

/* A one-row, one-column query; NULL (reported) on error, "" for SQL NULL. */
static char *
query_value(PGconn *conn, const LoadFile *f, const char *sql,
			int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params,
								   NULL, NULL, 0);
	char	   *value = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		value = load_strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	else
		report_server_error(f, conn, res);
	PQclear(res);
	return value;
}

/*
 * Record in stedi.ingest_log an attempt that loaded nothing, in a
 * transaction of its own (the file's own was rolled back or skipped).
 * Returns the file_id the server answers (the earlier load, for a skip).
 */
static int32_t
log_attempt(Loader *ld, const LoadFile *f, const char *sha_param,
			const char *size_text, const char *outcome, const char *started,
			const char *message)
{
	const char *params[7];
	char	   *value;
	int32_t		file_id = 0;

	if (PQstatus(ld->conn) != CONNECTION_OK)
		return 0;
	/* a file that could not be read has no hash, maybe no size: NULL */
	params[0] = sha_param != NULL && sha_param[0] != '\0' ? sha_param : NULL;
	params[1] = stedi_kind_name[f->kind];
	params[2] = f->path_text;
	params[3] = size_text != NULL && size_text[0] != '\0' ? size_text : NULL;
	params[4] = outcome;
	params[5] = started;
	params[6] = message;
	value = query_value(ld->conn, f,
						"SELECT stedi.log_ingest(decode($1, 'hex'), $2, $3, $4, $5, $6, $7)",
						7, params);
	if (value != NULL)
		file_id = (int32_t) strtol(value, NULL, 10);
	free(value);
	return file_id;
}

static bool
same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
		a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * A file that could not be opened or read before its transaction began
 * (it vanished after it was listed, say): report it and log the attempt,
 * with what is known of it.  Returns false: the run stops.
 */
static bool
fail_unread(Loader *ld, const LoadFile *f, FileResult *result,
			const char *size_text, const char *what, int err)
{
	char		message[256];

	snprintf(message, sizeof(message), "could not %s the file: %s", what,
			 strerror(err));
	load_error("could not %s \"%s\": %s", what, f->display, strerror(err));
	result->message = message;
	(void) log_attempt(ld, f, NULL, size_text, "failed", NULL, message);
	report_file(ld->report, f, result);
	return false;
}

/*
 * Load one file in one transaction, unless its content was loaded before.
 * Returns false, having reported why, rolled back and logged the attempt,
 * if the run must stop.  A file that failed for what it holds (see
 * bad_content) is reported, rolled back and logged the same, but the run
 * goes on.
 */
static bool
load_file(Loader *ld, const LoadFile *f)
{
	PGconn	   *conn = ld->conn;
	double		started = load_now_seconds();
	FileResult	result;
	FileCounts	counts = {0};
	LineReader *reader = NULL;
	struct stat st;
	struct stat st_after;
	unsigned char digest[SHA256_BYTES];
	int32_t		file_id;
	char		size_text[32];
	char		started_text[64];
	char		sql[1024];
	char		num[5][32];
	const char *params[7];
	char	   *value = NULL;
	bool		ok = false;
	int			fd;
	int			i;

	memset(&result, 0, sizeof(result));
	result.outcome = FILE_FAILED;
	started_text[0] = '\0';
	size_text[0] = '\0';
	/* no message of an earlier file may pass for this one's */
	free(last_server_error);
	last_server_error = NULL;
	ld->bad_content = false;
	unknown_fields_reset(ld->unknown);

	fd = open(f->realpath, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
	{
		int			err = errno;

		if (fd >= 0)
			close(fd);
		return fail_unread(ld, f, &result, NULL, "open", err);
	}
	result.size_bytes = st.st_size;
	snprintf(size_text, sizeof(size_text), "%lld", (long long) st.st_size);

	/*
	 * The content hash decides whether the file was loaded before: of the
	 * bytes as stored, compressed or not.
	 */
	if (!file_sha256(fd, digest) || lseek(fd, 0, SEEK_SET) != 0)
	{
		int			err = errno;

		close(fd);
		return fail_unread(ld, f, &result, size_text, "read", err);
	}
	sha256_hex(digest, result.sha256);

	/*
	 * A .gz file must start as gzip data does, before it can be found
	 * loaded before: an empty x.json.gz has the hash of every empty file,
	 * and would be skipped as one of them instead of failing.
	 */
	if (f->gzip)
	{
		unsigned char magic[2];
		ssize_t		got = pread(fd, magic, sizeof(magic), 0);

		if (got < 0)
		{
			int			err = errno;

			close(fd);
			return fail_unread(ld, f, &result, size_text, "read", err);
		}
		if (got < 2 || magic[0] != 0x1f || magic[1] != 0x8b)
		{
			const char *why = "not gzip data, although the name ends in .gz";

			load_error("could not load \"%s\" (rolled back): %s",
					   f->display, why);
			set_file_error(why);
			ld->bad_content = true;
			goto done;
		}
	}

	reader = line_reader_open(fd, f->gzip);
	if (ld->parser[f->kind] == NULL)
		ld->parser[f->kind] = record_parser_create(f->kind);
	if (!reset_spill(ld))
	{
		load_error("could not truncate temporary file: %s", strerror(errno));
		goto done;
	}

	if (!run_command(conn, f, "BEGIN", 0, NULL))
		goto done;

	value = query_value(conn, f, "SELECT pg_catalog.now()::pg_catalog.text", 0, NULL);
	if (value == NULL)
		goto done;
	snprintf(started_text, sizeof(started_text), "%s", value);
	free(value);

	/* waits while another loader holds the same content */
	params[0] = stedi_kind_name[f->kind];
	params[1] = f->path_text;
	params[2] = size_text;
	params[3] = result.sha256;
	params[4] = ld->force ? "true" : "false";
	value = query_value(conn, f,
						"SELECT stedi.begin_file($1, $2, $3, decode($4, 'hex'), $5)",
						5, params);
	if (value == NULL)
		goto done;
	if (value[0] == '\0')
	{
		/* loaded before: nothing to do but say so */
		rollback(conn);
		result.outcome = FILE_SKIPPED;
		result.file_id = log_attempt(ld, f, result.sha256, size_text,
									 "skipped", started_text, NULL);
		result.seconds = load_now_seconds() - started;
		report_file(ld->report, f, &result);
		ok = true;
		goto done;
	}
	file_id = (int32_t) strtol(value, NULL, 10);

	snprintf(sql, sizeof(sql), "COPY landing.%s (%s) FROM STDIN (FORMAT binary)",
			 stedi_kind_name[f->kind], record_copy_columns(f->kind));
	if (!start_copy(conn, f, sql))
		goto done;
	if (!stream_lines(ld, f, reader, file_id, &counts))
		goto done;

	/*
	 * A file still being written (or rewritten) while we read it would be
	 * loaded under the hash of other bytes: refuse it.
	 */
	if (fstat(fd, &st_after) != 0 || !same_file_state(&st, &st_after))
	{
		load_error("\"%s\" changed while it was being loaded; rolled back",
				   f->display);
		free(last_server_error);
		last_server_error = load_strdup("the file changed while it was being loaded");
		goto done;
	}

	if (counts.rejected > 0 && !copy_rejects(ld, f))
		goto done;

	snprintf(num[0], sizeof(num[0]), "%d", file_id);
	snprintf(num[1], sizeof(num[1]), "%lld", (long long) counts.lines);
	snprintf(num[2], sizeof(num[2]), "%lld", (long long) counts.loaded);
	snprintf(num[3], sizeof(num[3]), "%lld", (long long) counts.rejected);
	snprintf(num[4], sizeof(num[4]), "%lld",
			 (long long) unknown_fields_total(ld->unknown));
	for (i = 0; i < 5; i++)
		params[i] = num[i];
	unknown_fields_json(ld->unknown, &ld->unknown_json);
	params[5] = ld->unknown_json.data;
	free(value);
	/* the server counted the rows and gathered their owners itself */
	value = query_value(conn, f, "SELECT stedi.finish_file($1, $2, $3, $4, $5, $6)",
						6, params);
	if (value == NULL)
		goto done;

	if (!run_command(conn, f, "COMMIT", 0, NULL))
		goto done;
	ok = true;

	result.outcome = FILE_LOADED;
	result.file_id = file_id;
	result.lines = counts.lines;
	result.loaded = counts.loaded;
	result.rejected = counts.rejected;
	result.extra_fields = unknown_fields_total(ld->unknown);
	result.unknown = ld->unknown;
	result.unknown_json = ld->unknown_json.data;
	result.seconds = load_now_seconds() - started;
	report_file(ld->report, f, &result);

done:
	free(value);
	if (!ok)
	{
		rollback(conn);
		result.message = last_server_error ? last_server_error : "error";
		(void) log_attempt(ld, f, result.sha256, size_text, "failed",
						   started_text[0] ? started_text : "now",
						   result.message);
		result.seconds = load_now_seconds() - started;
		report_file(ld->report, f, &result);
	}
	line_reader_free(reader);
	close(fd);
	return ok || ld->bad_content;
}


/* ---- main ---- */

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		STEDI_CLIENT_LONG_OPTIONS,
		{"kind", required_argument, NULL, 1},
		{"force", no_argument, NULL, 2},
		{NULL, 0, NULL, 0}
	};
	StediClientOptions opts = {0};
	int			forced_kind = -1;
	FileList	list = {0};
	Loader		ld = {0};
	bool		stopped = false;
	int			status;
	int			c;
	int			i;

	if (argc > 1 &&
		(strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		help();
		exit(0);
	}
	if (argc > 1 &&
		(strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		stedi_print_version(load_progname, STEDI_LOAD_VERSION);
		exit(0);
	}

	/*
	 * With --json, every exit prints one JSON document: one that ends the
	 * run before its report (a usage, file or connection error) holds the
	 * last message printed.  Looked for first, so that a usage error before
	 * --json is told in JSON too.
	 */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
	{
		if (strcmp(argv[i], "--json") == 0)
			load_set_trouble_hook(report_json_error);
	}

	/* report bad options ourselves, named "stedi-load" and not argv[0] */
	opterr = 0;
	while ((c = getopt_long(argc, argv, STEDI_CLIENT_SHORT_OPTIONS,
							long_options, NULL)) != -1)
	{
		/* (--json: the trouble hook is set before) */
		if (stedi_client_option(&opts, c, optarg, load_progname,
								STEDI_LOAD_VERSION, help))
			continue;
		switch (c)
		{
			case 1:
				forced_kind = kind_from_name(optarg);
				if (forced_kind < 0)
				{
					load_error("invalid kind \"%s\": must be customer, accelerometer or step_trainer",
							   optarg);
					load_exit_trouble();
				}
				break;
			case 2:
				ld.force = true;
				break;
			case ':':
				load_error("option \"%s\" needs a value", argv[optind - 1]);
				usage_hint();
				load_exit_trouble();
			default:
				/* getopt returns '?' for -? too, leaving optopt alone */
				if (optopt == 0 && strcmp(argv[optind - 1], "-?") == 0)
				{
					help();
					exit(0);
				}
				if (optopt != 0)
					load_error("invalid option \"-%c\"", optopt);
				else
					load_error("invalid option \"%s\"", argv[optind - 1]);
				usage_hint();
				load_exit_trouble();
		}
	}

	if (optind >= argc)
	{
		load_error("no PATH given: name the files or folders to load");
		usage_hint();
		load_exit_trouble();
	}

	/* find every file, and check it can be read, before touching the database */
	for (i = optind; i < argc; i++)
	{
		if (!collect_path(&list, argv[i], i, forced_kind))
			load_exit_trouble();
	}
	if (!order_files(&list))
		load_exit_trouble();

	ld.quiet = opts.quiet;
	ld.conn = connect_database(&opts);
	check_extension(ld.conn);

	ld.unknown = unknown_fields_create();
	ld.report = report_start(&list, ld.quiet, opts.json, true);
	for (i = 0; i < list.nfiles && !stopped; i++)
		stopped = !load_file(&ld, &list.files[i]);
	status = report_finish(ld.report, stopped);

	PQfinish(ld.conn);
	for (i = 0; i < STEDI_NKINDS; i++)
		record_parser_free(ld.parser[i]);
	if (ld.spill != NULL)
		fclose(ld.spill);
	unknown_fields_free(ld.unknown);
	free(ld.unknown_json.data);
	return status;
}
