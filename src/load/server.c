/*
 * server.c
 *		What stedi-load says to the server: connecting and checking the
 *		extension, statements and COPY for a file, and the server's message
 *		when a step of a file fails (see server.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "util.h"


/* ---- connection ---- */

/* Print the first line of libpq's message, which is the one that matters. */
static void
report_connection_failure(PGconn *conn)
{
	const char *msg = PQerrorMessage(conn);
	size_t		len = strcspn(msg, "\n");

	load_error("%.*s", (int) len, msg);
}

/* The end of a run that cannot go on: no connection or no extension. */
static void give_up(PGconn *conn, PGresult *res) LOAD_NORETURN;

static void
give_up(PGconn *conn, PGresult *res)
{
	PQclear(res);
	PQfinish(conn);
	load_exit_trouble();
}

PGconn *
connect_database(const StediClientOptions *opts)
{
	PGconn	   *conn = stedi_connect(load_progname, opts->dbname, opts->host,
									 opts->port, opts->user, opts->prompt);

	if (conn == NULL)
		load_fatal("out of memory");
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		report_connection_failure(conn);
		give_up(conn, NULL);
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

void
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
		give_up(conn, res);
	}
	if (PQntuples(res) != 1)
	{
		load_error("extension \"stedi\" is not installed in database \"%s\"",
				   PQdb(conn));
		fprintf(stderr, "%s: hint: Run CREATE EXTENSION stedi; in that database first.\n",
				load_progname);
		give_up(conn, res);
	}
	if (sscanf(PQgetvalue(res, 0, 0), "%d.%d", &major, &minor) != 2 ||
		major < PROTOCOL_SINCE_MAJOR ||
		(major == PROTOCOL_SINCE_MAJOR && minor < PROTOCOL_SINCE_MINOR))
	{
		load_error("extension \"stedi\" in database \"%s\" is version %s, older than this stedi-load",
				   PQdb(conn), PQgetvalue(res, 0, 0));
		fprintf(stderr, "%s: hint: Run ALTER EXTENSION stedi UPDATE; in that database first.\n",
				load_progname);
		give_up(conn, res);
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
		give_up(conn, res);
	}
	PQclear(res);
}


/* ---- statements for a file ---- */

/* The reason the file under way failed, for the ingest log and --json. */
static char *last_server_error = NULL;

void
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

void
set_file_error(const char *message)
{
	free(last_server_error);
	last_server_error = message != NULL ? load_strdup(message) : NULL;
}

const char *
file_error(void)
{
	return last_server_error;
}

void
rollback(PGconn *conn)
{
	if (PQstatus(conn) == CONNECTION_OK &&
		PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
}

/*
 * What a statement's result should be: false (and reported) if it is
 * something else.  Clears res.
 */
static bool
expect_result(PGconn *conn, const LoadFile *f, PGresult *res,
			  ExecStatusType expected)
{
	bool		ok = PQresultStatus(res) == expected;

	if (!ok)
		report_server_error(f, conn, res);
	PQclear(res);
	return ok;
}

bool
run_command(PGconn *conn, const LoadFile *f, const char *sql,
			int nparams, const char *const *params)
{
	return expect_result(conn, f,
						 PQexecParams(conn, sql, nparams, NULL, params,
									  NULL, NULL, 0),
						 PGRES_COMMAND_OK);
}

bool
start_copy(PGconn *conn, const LoadFile *f, const char *sql)
{
	return expect_result(conn, f, PQexec(conn, sql), PGRES_COPY_IN);
}

bool
send_copy_data(PGconn *conn, CopyBuf *buf)
{
	if (buf->len > 0 &&
		PQputCopyData(conn, buf->data, (int) buf->len) != 1)
		return false;
	buf->len = 0;
	return true;
}

bool
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

char *
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
