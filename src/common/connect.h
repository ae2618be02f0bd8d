/*
 * connect.h
 *		Connecting the way psql does, shared by the stedi client programs.
 */
#ifndef STEDI_CONNECT_H
#define STEDI_CONNECT_H

#include "libpq-fe.h"

typedef enum StediPasswordPrompt
{
	STEDI_PROMPT_AUTO,			/* when the server asks for one */
	STEDI_PROMPT_ALWAYS,		/* -W */
	STEDI_PROMPT_NEVER			/* -w */
} StediPasswordPrompt;

/*
 * Connect: dbname may be a connection string or URI, the PG* environment
 * variables fill in the rest, and the password is asked for on the
 * terminal when the server wants one (unless STEDI_PROMPT_NEVER).  The
 * client encoding is UTF8.  Returns the connection, whose status the
 * caller checks; NULL when out of memory.
 */
extern PGconn *stedi_connect(const char *progname, const char *dbname,
							 const char *host, const char *port,
							 const char *user, StediPasswordPrompt prompt);

#endif							/* STEDI_CONNECT_H */
