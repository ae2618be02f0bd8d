/*
 * server.h
 *		What stedi-load says to the server (server.c).
 */
#ifndef LOAD_SERVER_H
#define LOAD_SERVER_H

#include "libpq-fe.h"

#include "copy_binary.h"
#include "files.h"
#include "options.h"

/*
 * Connect (see ../common/connect.c) as the options say.  A failure is
 * reported and ends the run.
 */
extern PGconn *connect_database(const StediClientOptions *opts);

/*
 * Check that the database has the extension, at a version that speaks this
 * program's loading protocol, and set the session up for loading.  Anything
 * else is reported and ends the run.
 */
extern void check_extension(PGconn *conn);

/*
 * The server's message for a failed step of file f, which is rolled back:
 * printed, and kept as the file's error (its first line).  res may be NULL:
 * the connection's message then.
 */
extern void report_server_error(const LoadFile *f, PGconn *conn,
								PGresult *res);

/*
 * The reason the file under way failed, for the ingest log and --json:
 * set it (NULL: none, as a new file starts), or read it (NULL if none).
 */
extern void set_file_error(const char *message);
extern const char *file_error(void);

/* Roll back the transaction, if one is open and the connection is fine. */
extern void rollback(PGconn *conn);

/*
 * Run a statement that returns no rows, or start a COPY ... FROM STDIN;
 * false (and reported) on error.
 */
extern bool run_command(PGconn *conn, const LoadFile *f, const char *sql,
						int nparams, const char *const *params);
extern bool start_copy(PGconn *conn, const LoadFile *f, const char *sql);

/*
 * Hand a buffer of COPY data to libpq and empty it; false on a connection
 * error (not reported: see report_server_error).
 */
extern bool send_copy_data(PGconn *conn, CopyBuf *buf);

/*
 * End a COPY.  With abort_reason, the server fails the COPY (and we do not
 * report that: the caller has reported the cause).  Returns false (and
 * reported) unless the COPY succeeded.
 */
extern bool end_copy(PGconn *conn, const LoadFile *f,
					 const char *abort_reason);

/*
 * A one-row, one-column query's value, newly allocated, "" for SQL NULL;
 * NULL (reported) on error.
 */
extern char *query_value(PGconn *conn, const LoadFile *f, const char *sql,
						 int nparams, const char *const *params);

#endif							/* LOAD_SERVER_H */
