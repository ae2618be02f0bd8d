/*
 * options.c
 *		The command-line options that the client programs share (see
 *		options.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

bool
stedi_client_option(StediClientOptions *opts, int c, const char *arg,
					const char *progname, const char *version,
					void (*help) (void))
{
	/* the options that take a value, and where each goes */
	static const char valued[] = "dhpU";
	const char **value[] = {&opts->dbname, &opts->host, &opts->port,
	&opts->user};
	const char *which = c > 0 && c < 0x100 ? strchr(valued, c) : NULL;

	if (which != NULL)
	{
		*value[which - valued] = arg;
		return true;
	}
	switch (c)
	{
		case 'w':
		case 'W':
			opts->prompt = c == 'w' ? STEDI_PROMPT_NEVER : STEDI_PROMPT_ALWAYS;
			return true;
		case 'q':
			opts->quiet = true;
			return true;
		case 'V':
			stedi_print_version(progname, version);
			exit(0);
		case STEDI_OPTION_HELP:
			help();
			exit(0);
		case STEDI_OPTION_JSON:
			opts->json = true;
			return true;
	}
	return false;
}

void
stedi_print_version(const char *progname, const char *version)
{
	printf("%s (stedi) %s\n", progname, version);
}

void
stedi_client_help(void)
{
	printf("      --json               print one JSON document instead of text\n");
	printf("  -q, --quiet              print errors only (and no progress bar)\n");
	printf("  -V, --version            output version information, then exit\n");
	printf("  -?, --help               show this help, then exit\n");
}

void
stedi_connect_help(const char *user_note)
{
	printf("  -d, --dbname=DBNAME      database name or connection string\n");
	printf("  -h, --host=HOSTNAME      database server host or socket directory\n");
	printf("  -p, --port=PORT          database server port\n");
	printf("  -U, --username=USERNAME  database user name%s\n", user_note);
	printf("  -w, --no-password        never prompt for password\n");
	printf("  -W, --password           force password prompt\n");
}
