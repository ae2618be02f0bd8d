/*
 * report.c
 *		How stedi-export reports: errors on stderr (and as JSON with
 *		--json) that end the run with status 2, the progress bar, and the
 *		small helpers every file uses.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export.h"

/* Report trouble and exit 2: on stderr, and as JSON with --json. */
void
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
		json_out_string(stdout, message);
		printf("}\n");
	}
	exit(EXIT_TROUBLE);
}

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		fail("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char	   *p = strdup(s);

	if (p == NULL)
		fail("out of memory");
	return p;
}

char *
path_in(const char *dir, const char *name)
{
	char	   *p = xmalloc(strlen(dir) + strlen(name) + 2);

	sprintf(p, "%s/%s", dir, name);
	return p;
}

/* the first line of the server's message */
void
fail_server(PGconn *conn, const char *what)
{
	const char *msg = PQerrorMessage(conn);

	fail("%s: %.*s", what, (int) strcspn(msg, "\n"), msg);
}

PGresult *
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

void
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

