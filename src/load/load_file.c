/*
 * load_file.c
 *		Load one file in a transaction of its own:
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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load_file.h"
#include "server.h"
#include "util.h"

/* Size of the chunks handed to PQputCopyData. */
#define COPY_CHUNK_BYTES	(32 * 1024)

/* Counts of one file, as landing.source_file records them. */
typedef struct FileCounts
{
	int64_t		lines;
	int64_t		loaded;
	int64_t		rejected;
} FileCounts;


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

bool
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
	set_file_error(NULL);
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
			 stedi_kind_name[f->kind], fields_copy_columns(f->kind));
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
		set_file_error("the file changed while it was being loaded");
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
		result.message = file_error() != NULL ? file_error() : "error";
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

void
loader_free(Loader *ld)
{
	int			i;

	PQfinish(ld->conn);
	for (i = 0; i < STEDI_NKINDS; i++)
		record_parser_free(ld->parser[i]);
	if (ld->spill != NULL)
		fclose(ld->spill);
	unknown_fields_free(ld->unknown);
	free(ld->unknown_json.data);
}
