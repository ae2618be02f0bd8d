/*
 * util.h
 *		What every file of stedi-load uses: its messages on stderr, the end
 *		of a run on trouble, memory that cannot fail (the run ends instead),
 *		a clock and a string hash.
 *
 * util.c depends on no other file of stedi-load: the modules depend on it,
 * and stedi-load.c (the program) on them.
 */
#ifndef LOAD_UTIL_H
#define LOAD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define LOAD_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define LOAD_NORETURN		__attribute__((noreturn))
#else
#define LOAD_PRINTF(f, a)
#define LOAD_NORETURN
#endif

/* the exit status of a run that ends on trouble (see stedi-load.c) */
#define EXIT_TROUBLE		2

/* "stedi-load", which begins every message */
extern const char *const load_progname;

/*
 * Print a message to stderr, prefixed "stedi-load: ".  The last one is kept
 * for the trouble hook.
 */
extern void load_error(const char *fmt,...) LOAD_PRINTF(1, 2);

/* load_error, then load_exit_trouble. */
extern void load_fatal(const char *fmt,...) LOAD_PRINTF(1, 2) LOAD_NORETURN;

/*
 * End the run with EXIT_TROUBLE, after calling the trouble hook, if one is
 * set, with the last message printed.
 */
extern void load_exit_trouble(void) LOAD_NORETURN;

/*
 * What load_exit_trouble calls before it exits: with --json, the program
 * sets it to print one JSON document that holds the message.
 */
typedef void (*LoadTroubleHook) (const char *last_message, int status);
extern void load_set_trouble_hook(LoadTroubleHook hook);

/* malloc, realloc and strdup that end the run when out of memory */
extern void *load_malloc(size_t size);
extern void *load_realloc(void *ptr, size_t size);
extern char *load_strdup(const char *s);

/*
 * Make *buf (of *cap bytes, NULL and 0 at first) hold at least need bytes;
 * what it held is kept.
 */
extern void load_reserve(char **buf, size_t *cap, size_t need);

/* Seconds on a monotonic clock, to measure a run or a file by. */
extern double load_now_seconds(void);

/*
 * FNV-1a of key, seeded with object (the object of the line it is in, for
 * the table of keys; 0 for a name alone).
 */
static inline uint32_t
load_hash(uint32_t object, const char *key, size_t len)
{
	uint32_t	h = (UINT32_C(2166136261) ^ object) * UINT32_C(16777619);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) key[i];
		h *= UINT32_C(16777619);
	}
	return h;
}

#endif							/* LOAD_UTIL_H */
