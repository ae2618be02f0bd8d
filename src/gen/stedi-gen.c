/*-------------------------------------------------------------------------
 *
 * stedi-gen.c
 *		Generate synthetic STEDI Human Balance landing data.
 *
 * Writes the three JSON-lines landing datasets (customer, accelerometer,
 * step_trainer) in the folder layout the loader expects, with the shapes
 * and quirks of the real STEDI starter set (model.c), at any size.
 *
 * Output depends only on --scale, --seed, --first-customer and --jitter
 * (customers are numbered from the first customer; an email carries its
 * number's round of 1,024, so runs in other rounds add new customers
 * rather than newer records of the same ones): all randomness comes from
 * our own xoshiro256** generator (prng.c) and all arithmetic is on
 * integers, so every platform writes byte-identical files.
 *
 * With --faults, bad lines of every kind the loader rejects (malformed or
 * cut-off JSON, wrong types, values out of range, invalid UTF-8, NUL bytes,
 * duplicate keys, deep nesting, over-long lines) are mixed in, about 0.5%
 * of the lines, along with quirks the loader must accept (CRLF, byte order
 * marks, blank lines, unknown fields).  Those come from a second random
 * generator of their own and are written in addition to the good records,
 * which stay exactly those of a run without --faults: the same records in
 * the same order and the same files (faults.c, badline.c).
 *
 * This file holds the program's options, its summary and its errors; the
 * files are written by writer.c.
 *
 * IDENTIFICATION
 *		src/gen/stedi-gen.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define GEN_VERSION			"0.3.0"

static void try_help(void) __attribute__((noreturn));

/*
 * Distinct customers per unit of scale.  With the repeated records added
 * (about 3%), scale 1 gives about 1,000 customer lines, 29,000 step
 * trainer and 80,000 accelerometer readings.
 */
#define CUSTOMERS_PER_UNIT	970

/* Scale is parsed as a fixed-point decimal with this many fraction digits. */
#define SCALE_FRAC_DIGITS	9
#define SCALE_ONE			INT64_C(1000000000)
#define SCALE_MAX_INT		1000000

/*
 * Report an error and exit.  Output already written is left in place: it
 * is incomplete but clearly so, and a rerun refuses to mix into it.
 */
void
fatal(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fputs(PROGNAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE_GEN);
}

void *
xmalloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
		fatal("out of memory");
	return p;
}


/* ---- command line ------------------------------------------------------ */

static void
usage(void)
{
	printf("%s generates synthetic STEDI Human Balance landing data.\n\n",
		   PROGNAME);
	printf("Usage:\n");
	printf("  %s --scale N [--seed S] [--first-customer K] [--jitter MS] [--faults] FOLDER\n\n",
		   PROGNAME);
	printf("Options:\n");
	printf("  -s, --scale=N    size; 1 is about 1,000 customers, 80,000\n"
		   "                   accelerometer and 29,000 step trainer readings\n");
	printf("      --seed=S     random seed, a non-negative integer (default 1)\n");
	printf("      --first-customer=K\n"
		   "                   number the customers from K (default 0, below\n"
		   "                   2^40); a customer's email carries its number\n"
		   "                   divided by 1,024 (nothing for 0), so runs with\n"
		   "                   no such round in common share no email or device\n");
	printf("      --jitter=MS  put each step trainer reading's time off by up to MS\n"
		   "                   milliseconds either way (0 to 1000, default 0), as\n"
		   "                   a device whose clock disagrees with the phone's;\n"
		   "                   the phone readings and every other value stay\n"
		   "                   those of a run without it\n");
	printf("      --faults     also write bad lines of every kind the loader\n"
		   "                   rejects (about 0.5%% of the lines), and blank\n"
		   "                   lines, CRLF, byte order marks and unknown fields,\n"
		   "                   which it accepts; the good records stay those of\n"
		   "                   a run without --faults\n");
	printf("  -V, --version    output version information, then exit\n");
	printf("  -h, --help       show this help, then exit\n\n");
	printf("Writes FOLDER/{customer,accelerometer,step_trainer}/landing/*.json,\n"
		   "creating the folders if needed; refuses if any *.json file is\n"
		   "already there.  The same scale, seed and first customer give\n"
		   "identical files.\n"
		   "Prints the files and non-blank lines written per kind; with\n"
		   "--faults, also the faulty lines per kind, the count of each kind\n"
		   "of fault, and of each quirk.\n");
}

static void
try_help(void)
{
	fprintf(stderr, "Try \"%s --help\" for more information.\n", PROGNAME);
	exit(EXIT_FAILURE_GEN);
}

/*
 * Parse a positive decimal such as "0.01" or "100" exactly, as fixed point
 * in units of 1/SCALE_ONE, so that no floating-point rounding can make two
 * platforms generate different amounts.
 */
static bool
parse_scale(const char *s, int64_t *result)
{
	int64_t		ipart = 0;
	int64_t		fpart = 0;
	int			fdigits = 0;
	bool		any = false;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++)
	{
		ipart = ipart * 10 + (*p - '0');
		if (ipart > SCALE_MAX_INT)
			return false;
		any = true;
	}
	if (*p == '.')
	{
		for (p++; *p >= '0' && *p <= '9'; p++)
		{
			/* digits beyond the precision cannot change the count */
			if (fdigits < SCALE_FRAC_DIGITS)
			{
				fpart = fpart * 10 + (*p - '0');
				fdigits++;
			}
			any = true;
		}
	}
	if (!any || *p != '\0')
		return false;
	while (fdigits++ < SCALE_FRAC_DIGITS)
		fpart *= 10;
	*result = ipart * SCALE_ONE + fpart;
	return *result > 0;
}

static bool
parse_seed(const char *s, uint64_t *result)
{
	char	   *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*result = (uint64_t) v;
	return true;
}

static void
print_summary(const KindWriter *w)
{
	printf("%s: %d file%s, %lld line%s", w->kind, w->nfiles,
		   w->nfiles == 1 ? "" : "s", (long long) w->lines,
		   w->lines == 1 ? "" : "s");
	if (w->faults != NULL)
		printf(" (%lld faulty)", (long long) w->faulty);
	putchar('\n');
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"scale", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'S'},
		{"faults", no_argument, NULL, 'F'},
		{"first-customer", required_argument, NULL, 'C'},
		{"jitter", required_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	int64_t		scale = 0;
	uint64_t	seed = 1;
	uint64_t	first_customer = 0;
	uint64_t	jitter_ms = 0;
	bool		faults = false;
	FaultState *fs = NULL;
	int64_t		ncustomers;
	const char *folder;
	KindWriter	out[STEDI_NKINDS];
	GenState   *g;
	int			c;
	int			k;

	while ((c = getopt_long(argc, argv, "s:hV", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 's':
				if (!parse_scale(optarg, &scale))
					fatal("invalid scale \"%s\": must be a positive decimal number up to %d",
						  optarg, SCALE_MAX_INT);
				break;
			case 'S':
				if (!parse_seed(optarg, &seed))
					fatal("invalid seed \"%s\": must be a non-negative integer",
						  optarg);
				break;
			case 'F':
				faults = true;
				break;
			case 'C':
				/* (serial numbers end in 48 bits of the number: stay below) */
				if (!parse_seed(optarg, &first_customer) ||
					first_customer >= (UINT64_C(1) << 40))
					fatal("invalid first customer \"%s\": must be a non-negative integer below 2^40",
						  optarg);
				break;
			case 'J':
				if (!parse_seed(optarg, &jitter_ms) || jitter_ms > 1000)
					fatal("invalid jitter \"%s\": must be a whole number of milliseconds from 0 to 1000",
						  optarg);
				break;
			case 'h':
				usage();
				exit(0);
			case 'V':
				printf("%s (stedi) %s\n", PROGNAME, GEN_VERSION);
				exit(0);
			default:
				try_help();
		}
	}
	if (scale == 0)
	{
		fprintf(stderr, "%s: no scale given (--scale)\n", PROGNAME);
		try_help();
	}
	if (optind >= argc)
	{
		fprintf(stderr, "%s: no output folder given\n", PROGNAME);
		try_help();
	}
	if (optind + 1 < argc)
	{
		fprintf(stderr, "%s: too many command-line arguments (first is \"%s\")\n",
				PROGNAME, argv[optind + 1]);
		try_help();
	}
	folder = argv[optind];
	if (folder[0] == '\0')
		fatal("output folder name is empty");

	/* round to nearest; a tiny scale still yields one customer */
	ncustomers = (scale * CUSTOMERS_PER_UNIT + SCALE_ONE / 2) / SCALE_ONE;
	if (ncustomers < 1)
		ncustomers = 1;

	g = gen_create(seed, (int64_t) first_customer, (int64_t) jitter_ms, out);
	if (faults)
		fs = faults_create(seed);

	writers_init(out, folder, fs);

	generate(g, ncustomers);

	for (k = 0; k < STEDI_NKINDS; k++)
		writer_finish(&out[k]);
	for (k = 0; k < STEDI_NKINDS; k++)
		print_summary(&out[k]);
	if (fs != NULL)
		faults_print_summary(fs);
	if (fflush(stdout) != 0 || ferror(stdout))
		fatal("could not write to standard output: %s", strerror(errno));

	free(fs);
	free(g);
	return 0;
}
