/*
 * util.c
 *		stedi-load's messages, the end of a run on trouble, memory that
 *		cannot fail, and a clock (see util.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

const char *const load_progname = "stedi-load";

/* the last message printed, for the trouble hook */
static char last_error[1024];

static LoadTroubleHook trouble_hook = NULL;

static void print_message(const char *fmt, va_list ap) LOAD_PRINTF(1, 0);

static void
print_message(const char *fmt, va_list ap)
{
	va_list		again;

	va_copy(again, ap);
	vsnprintf(last_error, sizeof(last_error), fmt, again);
	va_end(again);
	fprintf(stderr, "%s: ", load_progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
load_error(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	print_message(fmt, ap);
	va_end(ap);
}

void
load_fatal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	print_message(fmt, ap);
	va_end(ap);
	load_exit_trouble();
}

void
load_set_trouble_hook(LoadTroubleHook hook)
{
	trouble_hook = hook;
}

void
load_exit_trouble(void)
{
	if (trouble_hook != NULL)
		trouble_hook(last_error, EXIT_TROUBLE);
	exit(EXIT_TROUBLE);
}

void *
load_malloc(size_t size)
{
	void	   *p = malloc(size > 0 ? size : 1);

	if (p == NULL)
		load_fatal("out of memory");
	return p;
}

void *
load_realloc(void *ptr, size_t size)
{
	void	   *p = realloc(ptr, size > 0 ? size : 1);

	if (p == NULL)
		load_fatal("out of memory");
	return p;
}

char *
load_strdup(const char *s)
{
	size_t		len = strlen(s) + 1;

	return memcpy(load_malloc(len), s, len);
}

void
load_reserve(char **buf, size_t *cap, size_t need)
{
	size_t		newcap = *cap > 0 ? *cap : 4096;

	if (*cap >= need)
		return;
	while (newcap < need)
		newcap *= 2;
	*buf = load_realloc(*buf, newcap);
	*cap = newcap;
}

double
load_now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}
