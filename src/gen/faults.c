/*-------------------------------------------------------------------------
 *
 * faults.c
 *		Where --faults puts what it adds to the good records: faulty lines
 *		(made in badline.c), blank lines, CRLF, byte order marks, unknown
 *		fields and cut-off last lines, and the counts of each.
 *
 * All of it is drawn from a random stream of its own, and added to the
 * good records, which stay exactly those of a run without --faults: the
 * same records in the same order and the same files.
 *
 * IDENTIFICATION
 *		src/gen/faults.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "gen.h"

/*
 * With --faults: chances per good record (1/10000) of what follows it, and
 * per file (1/10000) of what starts or ends it.  Over-long lines are big,
 * so they get a chance of their own, per million records.
 */
#define P_FAULT				50		/* a faulty line after the record */
#define P_TOO_LONG_PER_M	5		/* an over-long line after the record */
#define P_BLANK				20		/* a blank line after the record */
#define P_CRLF				100		/* the record ends in CRLF */
#define P_EXTRA_FIELD		50		/* the record has an unknown field */
#define P_BOM				500		/* the file starts with a BOM */
#define P_EOF_CUT			500		/* the file ends in a cut-off line */

/* Each FaultKind as the summary names it. */
static const char *const fault_name[NFAULTS] = {
	"malformed_json", "cut_off", "not_object", "missing_field", "wrong_type",
	"out_of_range", "invalid_utf8", "nul_byte", "duplicate_key", "too_deep",
	"too_long"
};

/*
 * Each kind of data has at least 30 records (customer: 1), so these, which
 * come after the given record, are in every run, however small.
 */
static const struct
{
	StediKind	kind;
	int64_t		record;
	FaultKind	fault;
}			forced_faults[] = {
	{STEDI_CUSTOMER, 0, FAULT_MISSING_FIELD},
	{STEDI_ACCELEROMETER, 2, FAULT_MALFORMED_JSON},
	{STEDI_ACCELEROMETER, 5, FAULT_NOT_OBJECT},
	{STEDI_ACCELEROMETER, 8, FAULT_INVALID_UTF8},
	{STEDI_ACCELEROMETER, 11, FAULT_NUL_BYTE},
	{STEDI_ACCELEROMETER, 14, FAULT_OUT_OF_RANGE},
	{STEDI_ACCELEROMETER, 17, FAULT_TOO_DEEP},
	{STEDI_STEP_TRAINER, 2, FAULT_CUT_OFF},
	{STEDI_STEP_TRAINER, 5, FAULT_DUPLICATE_KEY},
	{STEDI_STEP_TRAINER, 8, FAULT_WRONG_TYPE},
	{STEDI_STEP_TRAINER, 11, FAULT_TOO_LONG},
};

#define FORCED_LAST_RECORD	17

/* Blank lines: the loader skips them (and does not count them). */
static const char *const blank_lines[] = {"\n", "  \n", "\t\n", " \r\n", "\r\n"};

FaultState *
faults_create(uint64_t seed)
{
	FaultState *fs = xmalloc(sizeof(FaultState));

	memset(fs, 0, sizeof(FaultState));

	/*
	 * A stream of its own ("faults" in ASCII, to tell it apart), so that the
	 * good data stays what it is without faults.
	 */
	prng_seed(&fs->rng, seed ^ UINT64_C(0x6661756C7473));
	return fs;
}

/* A file may start with a byte order mark; the first customer file does. */
void
faults_file_start(KindWriter *w)
{
	if ((w->kindno == STEDI_CUSTOMER && w->nfiles == 1) ||
		prng_chance(&w->faults->rng, P_BOM))
	{
		writer_write(w, "\xEF\xBB\xBF", 3);
		w->faults->bom++;
	}
}

/*
 * A file may end in a line cut off without a newline, as if the writer had
 * died; the first accelerometer file does.
 */
void
faults_file_end(KindWriter *w)
{
	if (w->lines_in_file == 0)
		return;
	if ((w->kindno == STEDI_ACCELEROMETER && w->nfiles == 1) ||
		prng_chance(&w->faults->rng, P_EOF_CUT))
		put_fault(w, FAULT_CUT_OFF, w->last.data, w->last.len - 1, true);
}

/*
 * Write good record lb, maybe with CRLF or an unknown field, then maybe a
 * blank line and faulty lines.
 */
void
faults_put_record(KindWriter *w, const LineBuf *lb)
{
	FaultState *fs = w->faults;
	Prng	   *rng = &fs->rng;
	int64_t		rec = w->records++;
	const char *s = lb->data;
	size_t		len = lb->len - 1;	/* without the newline */
	bool		extra;
	bool		crlf;

	extra = prng_chance(rng, P_EXTRA_FIELD) ||
		(rec == 0 && w->kindno != STEDI_ACCELEROMETER);
	crlf = prng_chance(rng, P_CRLF) ||
		(rec == 1 && w->kindno != STEDI_STEP_TRAINER);
	if (extra)
	{
		put_extra_field(w, s, len);
		fs->extra_fields++;
	}
	else
		writer_write(w, s, len);
	if (crlf)
	{
		writer_write(w, "\r\n", 2);
		fs->crlf++;
	}
	else
		writer_write(w, "\n", 1);
	memcpy(w->last.data, lb->data, lb->len);
	w->last.len = lb->len;

	if (prng_chance(rng, P_BLANK) ||
		(rec == 3 && w->kindno == STEDI_ACCELEROMETER))
	{
		const char *b = blank_lines[prng_below(rng, LENGTHOF(blank_lines))];

		writer_write(w, b, strlen(b));
		fs->blank++;
	}

	if (rec <= FORCED_LAST_RECORD)
	{
		int			i;

		for (i = 0; i < LENGTHOF(forced_faults); i++)
		{
			if (forced_faults[i].kind == w->kindno &&
				forced_faults[i].record == rec)
				put_fault(w, forced_faults[i].fault, s, len, false);
		}
	}
	if (prng_chance(rng, P_FAULT))
		put_fault(w, (FaultKind) prng_below(rng, FAULT_TOO_LONG), s, len,
				  false);
	if (prng_below(rng, 1000000) < P_TOO_LONG_PER_M)
		put_fault(w, FAULT_TOO_LONG, s, len, false);
}

void
faults_print_summary(const FaultState *fs)
{
	int			f;

	printf("faults:");
	for (f = 0; f < NFAULTS; f++)
		printf(" %s=%lld", fault_name[f], (long long) fs->count[f]);
	printf("\nquirks: crlf=%lld bom=%lld blank=%lld extra_fields=%lld\n",
		   (long long) fs->crlf, (long long) fs->bom, (long long) fs->blank,
		   (long long) fs->extra_fields);
}

