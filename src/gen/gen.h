/*-------------------------------------------------------------------------
 *
 * gen.h
 *		What the files of stedi-gen share: the records it makes, its random
 *		generator, the writer of each kind of data and the state of --faults.
 *
 * IDENTIFICATION
 *		src/gen/gen.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef STEDI_GEN_H
#define STEDI_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stedi_common.h"

#define PROGNAME			"stedi-gen"

/* Exit code for usage and I/O errors alike. */
#define EXIT_FAILURE_GEN	2

#define LENGTHOF(a)	((int) (sizeof(a) / sizeof((a)[0])))

/* One step trainer session: fixed count, fixed spacing per customer. */
#define STEPS_PER_SESSION	30
#define MAX_ACCEL_PER_STEP	3

/* How a repeated customer record changes the research consent. */
typedef enum UpdateKind
{
	UPDATE_NONE = 0,
	UPDATE_GIVE,				/* consent given in the later record */
	UPDATE_WITHDRAW_ABSENT,		/* withdrawn: field left out */
	UPDATE_WITHDRAW_NULL		/* withdrawn: field written as null */
} UpdateKind;

/* A customer's record, and what a repeated record of theirs changes. */
typedef struct Customer
{
	char		name[48];
	char		email[80];
	char		phone[16];
	char		birthday[16];
	char		serial[40];
	int64_t		registered;
	int64_t		updated;
	bool		share_research;
	bool		share_public;
	bool		share_friends;
	UpdateKind	update;
	int64_t		update_at;		/* lastUpdateDate of the later record */
} Customer;

/* A reading of the phone (accelerometer) or of the device (step trainer). */
typedef struct AccelReading
{
	int64_t		ts;
	uint8_t		x;				/* 0, 1, 2: -1.0, 0.0, 1.0 */
	uint8_t		y;
	uint8_t		z;
	uint8_t		pass;
} AccelReading;

typedef struct StepReading
{
	int64_t		ts;
	int32_t		distance;
	uint8_t		pass;
} StepReading;

/* One customer's session, waiting in the batch to be written. */
typedef struct Session
{
	const char *email;			/* points into the batch's Customer */
	const char *serial;
	int			naccel;
	int			nstep;
	AccelReading accel[STEPS_PER_SESSION * MAX_ACCEL_PER_STEP];
	StepReading step[STEPS_PER_SESSION];
} Session;

/* A line under construction; every line we write is far shorter. */
typedef struct LineBuf
{
	char		data[512];
	size_t		len;
} LineBuf;

/* The state of one xoshiro256** stream. */
typedef struct Prng
{
	uint64_t	s[4];
} Prng;

/*
 * What --faults mixes in: kinds of bad line, in the order they are
 * reported, each named as the loader's reason would classify it.
 */
typedef enum FaultKind
{
	FAULT_MALFORMED_JSON = 0,	/* not JSON, and not a prefix of it */
	FAULT_CUT_OFF,				/* a prefix of a record */
	FAULT_NOT_OBJECT,			/* an array, string or number */
	FAULT_MISSING_FIELD,		/* a required field absent or null */
	FAULT_WRONG_TYPE,			/* a field of the wrong JSON type */
	FAULT_OUT_OF_RANGE,			/* a number beyond its column's type */
	FAULT_INVALID_UTF8,			/* invalid UTF-8 inside a string */
	FAULT_NUL_BYTE,				/* a raw NUL byte inside a string */
	FAULT_DUPLICATE_KEY,		/* a key twice in one object */
	FAULT_TOO_DEEP,				/* arrays nested beyond the loader's limit */
	FAULT_TOO_LONG,				/* a line beyond the loader's limit */
	NFAULTS
} FaultKind;

/* State and counts of --faults, shared by the three writers. */
typedef struct FaultState
{
	Prng		rng;			/* apart from the data's, which it never
								 * touches */
	int64_t		count[NFAULTS];
	int64_t		crlf;			/* good records ending in CRLF */
	int64_t		bom;			/* files starting with a BOM */
	int64_t		blank;			/* blank lines */
	int64_t		extra_fields;	/* good records with an unknown field */
} FaultState;

/* Output of one kind: a sequence of numbered files in its landing folder. */
typedef struct KindWriter
{
	const char *kind;
	StediKind	kindno;
	char	   *dir;
	char	   *path;			/* current file, for error messages */
	FILE	   *fp;
	char	   *buffer;
	int			nfiles;
	int			lines_in_file;	/* good records in the current file */
	int64_t		lines;			/* non-blank lines, faulty ones included */

	/* with --faults only */
	FaultState *faults;			/* NULL without --faults */
	int64_t		records;		/* good records written */
	int64_t		faulty;			/* faulty lines written */
	LineBuf		last;			/* the last good record written */
} KindWriter;


/* stedi-gen.c */

/*
 * Report an error on stderr and exit with EXIT_FAILURE_GEN.  Output already
 * written is left in place: it is incomplete but clearly so, and a rerun
 * refuses to mix into it.
 */
extern void fatal(const char *fmt,...)
			__attribute__((format(printf, 1, 2), noreturn));

/* malloc that ends the program when out of memory; never returns NULL */
extern void *xmalloc(size_t size);


/* model.c: the records, made in order */

/* Everything the generator keeps from one customer to the next. */
typedef struct GenState GenState;

/*
 * A generator for the data of seed, numbering its customers from
 * first_customer, putting the step trainer's clock off by up to jitter_ms,
 * and writing to out[STEDI_NKINDS]; free it with free().
 */
extern GenState *gen_create(uint64_t seed, int64_t first_customer,
							int64_t jitter_ms, KindWriter *out);

/* Make and write ncustomers customers and all their readings; call once. */
extern void generate(GenState *g, int64_t ncustomers);


/* prng.c: xoshiro256**, seeded by splitmix64; the same on every platform */

/* the next splitmix64 value of the sequence at *x, advancing it */
extern uint64_t splitmix64(uint64_t *x);
/* start stream p from seed, any value (0 included) */
extern void prng_seed(Prng *p, uint64_t seed);

/* the next 64 random bits of stream p */
extern uint64_t prng_next(Prng *p);

/* uniform in [0, n), n > 0 */
extern uint32_t prng_below(Prng *p, uint32_t n);

/* uniform in [lo, hi], a range below 2^32 */
extern int64_t prng_range(Prng *p, int64_t lo, int64_t hi);

/* true with a chance of per10000 in 10,000 */
extern bool prng_chance(Prng *p, uint32_t per10000);


/* writer.c: the JSON lines of each kind, in numbered files */

/*
 * Set up out[STEDI_NKINDS], the writers of FOLDER's three landing folders,
 * with faults (NULL without --faults).  Refuses (fatal) if any of them
 * already holds data files, checking all three before creating any, so
 * that a refusal leaves no trace; creates the folders that are missing.
 */
extern void writers_init(KindWriter *out, const char *folder,
						 FaultState *faults);

/* Close the writer's last file (fatal if that fails) and free its memory. */
extern void writer_finish(KindWriter *w);

/* Write len bytes of data to the current file; fatal if that fails. */
extern void writer_write(KindWriter *w, const char *data, size_t len);

/* What separates the fields of w's records, and a key from its value. */
extern const char *item_sep(const KindWriter *w);
extern const char *key_sep(const KindWriter *w);

/*
 * Write one good record of each kind.  "later" writes the customer's
 * repeated record, with the changed research consent, instead of the first.
 */
extern void write_customer(KindWriter *w, const Customer *c, bool later);
extern void write_accel(KindWriter *w, const char *email,
						const AccelReading *a);
extern void write_step(KindWriter *w, const char *serial, int64_t ts,
					   int32_t distance);


/* faults.c: what --faults adds, and where */

/* The state of --faults for seed, its counts all zero; never NULL. */
extern FaultState *faults_create(uint64_t seed);

/*
 * The writer calls these with --faults: as a file starts, before it ends,
 * and to write good record lb (its data ending in a newline) with whatever
 * is to come with it.
 */
extern void faults_file_start(KindWriter *w);
extern void faults_file_end(KindWriter *w);
extern void faults_put_record(KindWriter *w, const LineBuf *lb);

/* Print the count of each kind of fault and of each quirk to stdout. */
extern void faults_print_summary(const FaultState *fs);


/* badline.c: the faulty lines */

/*
 * Write a faulty line of the given kind made from good record s (len bytes,
 * no newline), and count it; at_eof: as the file's last line, without a
 * newline (only for FAULT_CUT_OFF).
 */
extern void put_fault(KindWriter *w, FaultKind fault, const char *s,
					  size_t len, bool at_eof);

/* Write good record s (len bytes, no newline) with an unknown field added. */
extern void put_extra_field(KindWriter *w, const char *s, size_t len);

#endif							/* STEDI_GEN_H */
