/*
 * connect.c
 *		Connecting the way psql does (see connect.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#include "connect.h"

/*
 * Read a password from the terminal without echoing it, as psql does.
 * Falls back to stdin/stderr when there is no terminal.  NULL when out of
 * memory.
 */
static char *
prompt_password(const char *user)
{
	FILE	   *in = fopen("/dev/tty", "r");
	FILE	   *out = fopen("/dev/tty", "w");
	struct termios saved,
				noecho;
	bool		restore = false;
	char		buf[1024];
	size_t		len;

	if (in == NULL || out == NULL)
	{
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		in = stdin;
		out = stderr;
	}
	if (tcgetattr(fileno(in), &saved) == 0)
	{
		noecho = saved;
		noecho.c_lflag &= ~(tcflag_t) ECHO;
		restore = tcsetattr(fileno(in), TCSAFLUSH, &noecho) == 0;
	}
	if (user != NULL && user[0] != '\0')
		fprintf(out, "Password for user %s: ", user);
	else
		fprintf(out, "Password: ");
	fflush(out);

	if (fgets(buf, sizeof(buf), in) == NULL)
		buf[0] = '\0';
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';

	if (restore)
	{
		tcsetattr(fileno(in), TCSAFLUSH, &saved);
		fputc('\n', out);
		fflush(out);
	}
	if (in != stdin)
	{
		fclose(in);
		fclose(out);
	}
	return strdup(buf);
}

PGconn *
stedi_connect(const char *progname, const char *dbname, const char *host,
			  const char *port, const char *user, StediPasswordPrompt prompt)
{
	char	   *password = NULL;
	PGconn	   *conn;
	bool		retry;

	if (prompt == STEDI_PROMPT_ALWAYS && (password = prompt_password(user)) == NULL)
		return NULL;

	do
	{
		/* dbname after the others, so a conninfo string wins, as in psql */
		static const char *const keywords[] = {
			"host", "port", "user", "password", "dbname",
			"fallback_application_name",
			"client_encoding", NULL
		};

		/* text goes both ways as UTF-8; the server converts if it must */
		const char *const values[] = {
			host, port, user, password, dbname,
			progname,
			"UTF8", NULL
		};

		conn = PQconnectdbParams(keywords, values, 1);
		if (conn == NULL)
			break;

		retry = false;
		if (PQstatus(conn) == CONNECTION_BAD &&
			PQconnectionNeedsPassword(conn) &&
			password == NULL &&
			prompt != STEDI_PROMPT_NEVER)
		{
			char	   *asked_user = strdup(PQuser(conn) ? PQuser(conn) : "");

			PQfinish(conn);
			conn = NULL;
			if (asked_user == NULL)
				break;
			password = prompt_password(asked_user);
			free(asked_user);
			if (password == NULL)
				break;
			retry = true;
		}
	} while (retry);

	if (password != NULL)
	{
		memset(password, 0, strlen(password));
		free(password);
	}
	return conn;
}
