/*
 * options.h
 *		The command-line options that stedi-load and stedi-export share:
 *		the connection options of psql (-d, -h, -p, -U, -w, -W), --json,
 *		-q, -V and -?, and the lines of --help that tell them.
 */
#ifndef STEDI_OPTIONS_H
#define STEDI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>

#include "connect.h"

/* What the shared options say; zeroed, they are the defaults. */
typedef struct StediClientOptions
{
	const char *dbname;			/* -d: a name or a connection string */
	const char *host;			/* -h */
	const char *port;			/* -p */
	const char *user;			/* -U */
	StediPasswordPrompt prompt; /* -w, -W */
	bool		quiet;			/* -q */
	bool		json;			/* --json */
} StediClientOptions;

/*
 * For getopt_long: the short options (a leading ':' so that a missing value
 * is told apart from an unknown option), and the long ones, to start a
 * program's table with.  A program's own long options take values below
 * STEDI_OPTION_HELP.
 */
#define STEDI_CLIENT_SHORT_OPTIONS	":d:h:p:U:wWqV?"

#define STEDI_OPTION_HELP	0x100
#define STEDI_OPTION_JSON	0x101

#define STEDI_CLIENT_LONG_OPTIONS \
	{"dbname", required_argument, NULL, 'd'}, \
	{"host", required_argument, NULL, 'h'}, \
	{"port", required_argument, NULL, 'p'}, \
	{"username", required_argument, NULL, 'U'}, \
	{"no-password", no_argument, NULL, 'w'}, \
	{"password", no_argument, NULL, 'W'}, \
	{"quiet", no_argument, NULL, 'q'}, \
	{"version", no_argument, NULL, 'V'}, \
	{"help", no_argument, NULL, STEDI_OPTION_HELP}, \
	{"json", no_argument, NULL, STEDI_OPTION_JSON}

/*
 * Take option c, getopt_long's answer (arg its optarg), into opts when it
 * is one of the shared options, and return true; false for any other.
 * --version prints "PROGNAME (stedi) VERSION" and --help calls help; both
 * then exit with status 0.
 */
extern bool stedi_client_option(StediClientOptions *opts, int c,
								const char *arg, const char *progname,
								const char *version, void (*help) (void));

/* Print "PROGNAME (stedi) VERSION", as --version does. */
extern void stedi_print_version(const char *progname, const char *version);

/* The lines of --help for --json, -q, -V and -?. */
extern void stedi_client_help(void);

/*
 * The lines of --help for the connection options; user_note ends the line
 * of -U (after "database user name").
 */
extern void stedi_connect_help(const char *user_note);

#endif							/* STEDI_OPTIONS_H */
