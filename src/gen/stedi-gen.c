/*-------------------------------------------------------------------------
 *
 * stedi-gen.c
 *		Generate synthetic STEDI Human Balance landing data.
 *
 * Writes the three JSON-lines landing datasets (customer, accelerometer,
 * step_trainer) in the folder layout the loader expects, with the shapes
 * and quirks of the real STEDI starter set, at any size:
 *
 *	- customers register in dense bursts ("cohorts"), so that, as in the
 *	  real set, many readings of different customers fall on the same
 *	  millisecond;
 *	- each customer has one session on the step trainer: 30 distance
 *	  readings at a fixed spacing, and at each of those timestamps one to
 *	  three accelerometer readings from the phone;
 *	- sessions end about 72 s after registration, so slow ones start up to
 *	  a minute before it and many readings predate the research consent;
 *	- about half the customers consent to research; a few per cent appear
 *	  again in a later record that gives or withdraws that consent (absent
 *	  or explicit null);
 *	- files hold at most 10,000 lines, and the reading files interleave
 *	  customers, so nothing may assume one customer's lines are adjacent.
 *
 * Output depends only on --scale and --seed: all randomness comes from our
 * own xoshiro256** generator and all arithmetic is on integers, so every
 * platform writes byte-identical files.  Memory use does not grow with the
 * scale: customers are generated and written one small batch at a time.
 *
 * IDENTIFICATION
 *		src/gen/stedi-gen.c
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "stedi_common.h"

#define PROGNAME			"stedi-gen"
#define GEN_VERSION			"0.1.0"

/* Exit code for usage and I/O errors alike. */
#define EXIT_FAILURE_GEN	2

/* The real set splits its files at 10,000 lines. */
#define MAX_LINES_PER_FILE	10000

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
 * Customers register in cohorts of this size, each as dense as the whole
 * real set (about a thousand customers in 41 minutes); cohorts are a day
 * apart.  Keeping the density fixed makes cross-customer timestamp
 * coincidences grow linearly with the scale, as everything else does.
 */
#define COHORT_SIZE			1000
#define COHORT_GAP_MS		INT64_C(86400000)
#define BASE_EPOCH_MS		INT64_C(1655560000000)	/* 2022-06-18 13:46 UTC */

/* One step trainer session: fixed count, fixed spacing per customer. */
#define STEPS_PER_SESSION	30
#define MAX_ACCEL_PER_STEP	3

/*
 * Readings are written for a batch of customers at a time, each reading
 * in one of several passes over the batch, so that, as in the real files,
 * a customer's readings come in short runs scattered among others'.
 */
#define BATCH_SIZE			32
#define ACCEL_PASSES		8
#define STEP_PASSES			6

#define IO_BUFFER_SIZE		(1024 * 1024)

/* Probabilities, in units of 1/10000. */
#define P_SHARE				5000	/* each share* field present */
#define P_LATE_UPDATE		450		/* first record already updated */
#define P_REPEAT			300		/* customer appears again later */
#define P_SAME_START		50		/* session starts with the previous one */

/*
 * Name lists.  Their product (1024 combinations) is about one cohort; past
 * that, emails get a numeric suffix to stay unique.
 */
static const char *const first_names[] = {
	"Aaron", "Aisha", "Alice", "Amir", "Anna", "Bruno", "Carla", "Chen",
	"Daniel", "Diego", "Elena", "Emma", "Fatima", "George", "Hannah", "Hiro",
	"Ines", "Ivan", "Julia", "Kofi", "Laura", "Leo", "Maria", "Mateo",
	"Nadia", "Omar", "Priya", "Rosa", "Sam", "Sofia", "Tom", "Yuki"
};

static const char *const last_names[] = {
	"Adams", "Baker", "Bauer", "Costa", "Dubois", "Evans", "Fischer", "Garcia",
	"Gupta", "Haddad", "Ito", "Jensen", "Kim", "Kowalski", "Lopez", "Martin",
	"Meyer", "Moreau", "Nakamura", "Novak", "Okafor", "Olsen", "Patel", "Quinn",
	"Rossi", "Santos", "Schmidt", "Silva", "Tanaka", "Walker", "Weber", "Young"
};

#define N_FIRST		((int) (sizeof(first_names) / sizeof(first_names[0])))
#define N_LAST		((int) (sizeof(last_names) / sizeof(last_names[0])))
#define N_COMBOS	(N_FIRST * N_LAST)

/* Accelerometer axis values as the app writes them. */
static const char *const axis_text[] = {"-1.0", "0.0", "1.0"};

/*
 * Piecewise-linear inverse CDFs: (cumulative share in 1/1000, value in ms).
 */
typedef struct CurvePoint
{
	int			permille;
	int64_t		ms;
} CurvePoint;

/*
 * Registration offset within a cohort, shaped like the real set: a thin
 * trickle for half an hour, then half the customers in the last minute.
 */
static const CurvePoint reg_curve[] = {
	{0, 0},
	{50, 1940000},
	{100, 1985000},
	{250, 2140000},
	{500, 2405000},
	{750, 2432000},
	{900, 2445000},
	{1000, 2452000}
};

/*
 * When the session's last reading comes, after registration.  In the real
 * set sessions end about 72 s after sign-up whatever their pace, so slow
 * sessions start up to a minute before it.
 */
static const CurvePoint session_end_curve[] = {
	{0, 54000},
	{50, 64000},
	{250, 70000},
	{500, 72200},
	{750, 72900},
	{1000, 74100}
};

#define CURVE_LEN(c)	((int) (sizeof(c) / sizeof((c)[0])))

/* How a repeated customer record changes the research consent. */
typedef enum UpdateKind
{
	UPDATE_NONE = 0,
	UPDATE_GIVE,				/* consent given in the later record */
	UPDATE_WITHDRAW_ABSENT,		/* withdrawn: field left out */
	UPDATE_WITHDRAW_NULL		/* withdrawn: field written as null */
} UpdateKind;

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

typedef struct AccelReading
{
	int64_t		ts;
	uint8_t		x;				/* indexes into axis_text */
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

/* Output of one kind: a sequence of numbered files in its landing folder. */
typedef struct KindWriter
{
	const char *kind;
	char	   *dir;
	char	   *path;			/* current file, for error messages */
	FILE	   *fp;
	char	   *buffer;
	int			nfiles;
	int			lines_in_file;
	int64_t		lines;
} KindWriter;

/* A line under construction; every line we write is far shorter. */
typedef struct LineBuf
{
	char		data[512];
	size_t		len;
} LineBuf;

typedef struct Prng
{
	uint64_t	s[4];
} Prng;

static void fatal(const char *fmt,...)
			__attribute__((format(printf, 1, 2), noreturn));
static void try_help(void) __attribute__((noreturn));


/*
 * Report an error and exit.  Output already written is left in place: it
 * is incomplete but clearly so, and a rerun refuses to mix into it.
 */
static void
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

static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

static char *
path_join(const char *a, const char *b)
{
	size_t		la = strlen(a);
	size_t		lb = strlen(b);
	char	   *p = xmalloc(la + lb + 2);

	memcpy(p, a, la);
	/* avoid "dir//x" when the user gave a trailing slash */
	if (la == 0 || a[la - 1] != '/')
		p[la++] = '/';
	memcpy(p + la, b, lb + 1);
	return p;
}


/* ---- random numbers ---------------------------------------------------- */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void
prng_seed(Prng *p, uint64_t seed)
{
	int			i;

	/* splitmix64 never yields an all-zero xoshiro state */
	for (i = 0; i < 4; i++)
		p->s[i] = splitmix64(&seed);
}

static inline uint64_t
rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t
prng_next(Prng *p)
{
	uint64_t   *s = p->s;
	uint64_t	result = rotl64(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform in [0, n), without modulo bias (Lemire's method). */
static uint32_t
prng_below(Prng *p, uint32_t n)
{
	uint64_t	m = (prng_next(p) >> 32) * (uint64_t) n;
	uint32_t	low = (uint32_t) m;

	if (low < n)
	{
		uint32_t	threshold = (uint32_t) (-n) % n;

		while (low < threshold)
		{
			m = (prng_next(p) >> 32) * (uint64_t) n;
			low = (uint32_t) m;
		}
	}
	return (uint32_t) (m >> 32);
}

/* Uniform in [lo, hi]; ranges here are far below 2^32. */
static int64_t
prng_range(Prng *p, int64_t lo, int64_t hi)
{
	return lo + (int64_t) prng_below(p, (uint32_t) (hi - lo + 1));
}

static bool
prng_chance(Prng *p, uint32_t per10000)
{
	return prng_below(p, 10000) < per10000;
}


/* ---- line formatting --------------------------------------------------- */

static inline void
lb_reset(LineBuf *lb)
{
	lb->len = 0;
}

static inline void
lb_str(LineBuf *lb, const char *s)
{
	size_t		n = strlen(s);

	memcpy(lb->data + lb->len, s, n);
	lb->len += n;
}

static inline void
lb_int(LineBuf *lb, int64_t v)
{
	char		tmp[24];
	int			n = 0;
	uint64_t	u;

	if (v < 0)
	{
		lb->data[lb->len++] = '-';
		u = (uint64_t) 0 - (uint64_t) v;
	}
	else
		u = (uint64_t) v;
	do
	{
		tmp[n++] = (char) ('0' + u % 10);
		u /= 10;
	} while (u != 0);
	while (n > 0)
		lb->data[lb->len++] = tmp[--n];
}


/* ---- output files ------------------------------------------------------ */

/*
 * mkdir -p: create each missing component.  An existing directory is fine;
 * anything else in the way is an error.
 */
static void
make_dirs(const char *path)
{
	char	   *buf = xmalloc(strlen(path) + 1);
	char	   *p;

	strcpy(buf, path);
	p = buf;
	for (;;)
	{
		char		saved;
		struct stat st;

		while (*p == '/')
			p++;
		while (*p != '\0' && *p != '/')
			p++;
		saved = *p;
		*p = '\0';
		if (mkdir(buf, 0777) != 0)
		{
			int			save_errno = errno;

			if (save_errno != EEXIST || stat(buf, &st) != 0 ||
				!S_ISDIR(st.st_mode))
				fatal("could not create directory \"%s\": %s", buf,
					  strerror(save_errno == EEXIST ? ENOTDIR : save_errno));
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(buf);
}

static bool
has_json_suffix(const char *name)
{
	size_t		len = strlen(name);
	size_t		slen = strlen(STEDI_FILE_SUFFIX);

	return len >= slen && strcmp(name + len - slen, STEDI_FILE_SUFFIX) == 0;
}

/* Refuse to write where data of an earlier run (or real data) already is. */
static void
check_empty_landing(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
	{
		/* not there yet (or blocked by a file, which mkdir will report) */
		if (errno == ENOENT || errno == ENOTDIR)
			return;
		fatal("could not open directory \"%s\": %s", dir, strerror(errno));
	}
	errno = 0;
	while ((de = readdir(d)) != NULL)
	{
		if (has_json_suffix(de->d_name))
			fatal("\"%s\" already contains *%s files; refusing to mix data sets",
				  dir, STEDI_FILE_SUFFIX);
		errno = 0;
	}
	if (errno != 0)
		fatal("could not read directory \"%s\": %s", dir, strerror(errno));
	closedir(d);
}

static void
writer_init(KindWriter *w, const char *folder, StediKind kind)
{
	char	   *kind_dir = path_join(folder, stedi_kind_name[kind]);

	memset(w, 0, sizeof(*w));
	w->kind = stedi_kind_name[kind];
	w->dir = path_join(kind_dir, STEDI_LANDING_DIR);
	w->buffer = xmalloc(IO_BUFFER_SIZE);
	free(kind_dir);
}

static void
writer_close_file(KindWriter *w)
{
	if (w->fp == NULL)
		return;
	if (fclose(w->fp) != 0)
		fatal("could not write \"%s\": %s", w->path, strerror(errno));
	w->fp = NULL;
}

static void
writer_open_next(KindWriter *w)
{
	char		name[64];

	writer_close_file(w);
	w->nfiles++;
	/* zero-padded, so that name order is the order the files were written */
	snprintf(name, sizeof(name), "%s-%06d%s", w->kind, w->nfiles,
			 STEDI_FILE_SUFFIX);
	free(w->path);
	w->path = path_join(w->dir, name);

	/* "x": never overwrite, even if a file appeared since the check */
	w->fp = fopen(w->path, "wx");
	if (w->fp == NULL)
		fatal("could not create \"%s\": %s", w->path, strerror(errno));
	if (setvbuf(w->fp, w->buffer, _IOFBF, IO_BUFFER_SIZE) != 0)
		fatal("could not set up buffering for \"%s\"", w->path);
	w->lines_in_file = 0;
}

static void
writer_put(KindWriter *w, const LineBuf *lb)
{
	if (w->fp == NULL || w->lines_in_file >= MAX_LINES_PER_FILE)
		writer_open_next(w);
	if (fwrite(lb->data, 1, lb->len, w->fp) != lb->len)
		fatal("could not write \"%s\": %s", w->path, strerror(errno));
	w->lines_in_file++;
	w->lines++;
}

static void
writer_finish(KindWriter *w)
{
	writer_close_file(w);
	free(w->buffer);
	w->buffer = NULL;
}


/* ---- generation -------------------------------------------------------- */

/*
 * A bijection on 48-bit integers (xorshifts and odd multipliers are each
 * invertible modulo 2^48).  Feeding it the customer number makes the last
 * UUID group, and so the whole serial number, unique without remembering
 * the serials already handed out.
 */
static uint64_t
mix48(uint64_t x, uint64_t key)
{
	const uint64_t mask = (UINT64_C(1) << 48) - 1;

	x = (x + key) & mask;
	x ^= x >> 23;
	x = (x * UINT64_C(0x9E3779B97F4B)) & mask;
	x ^= x >> 21;
	x = (x * UINT64_C(0xC2B2AE3D27D5)) & mask;
	x ^= x >> 24;
	return x;
}

static void
put_hex(char *dst, uint64_t v, int ndigits)
{
	static const char digits[] = "0123456789abcdef";
	int			i;

	for (i = ndigits - 1; i >= 0; i--)
	{
		dst[i] = digits[v & 0xF];
		v >>= 4;
	}
}

/* A version-4-shaped UUID, like the devices' serial numbers. */
static void
make_serial(Prng *rng, uint64_t index, uint64_t key, char *out)
{
	uint64_t	r1 = prng_next(rng);
	uint64_t	r2 = prng_next(rng);

	put_hex(out, r1 >> 32, 8);
	out[8] = '-';
	put_hex(out + 9, (r1 >> 16) & 0xFFFF, 4);
	out[13] = '-';
	put_hex(out + 14, 0x4000 | (r1 & 0x0FFF), 4);
	out[18] = '-';
	put_hex(out + 19, 0x8000 | ((r2 >> 48) & 0x3FFF), 4);
	out[23] = '-';
	put_hex(out + 24, mix48(index, key), 12);
	out[36] = '\0';
}

static int64_t
curve_sample(Prng *rng, const CurvePoint *curve, int npoints)
{
	int64_t		u = prng_range(rng, 0, 999999);	/* in 1/10^6 */
	int			i;

	for (i = 1; i < npoints; i++)
	{
		int64_t		hi = (int64_t) curve[i].permille * 1000;

		if (u < hi)
		{
			int64_t		lo = (int64_t) curve[i - 1].permille * 1000;

			return curve[i - 1].ms +
				(curve[i].ms - curve[i - 1].ms) * (u - lo) / (hi - lo);
		}
	}
	return curve[npoints - 1].ms;
}

/* Everything that persists across customers. */
typedef struct GenState
{
	Prng		rng;
	uint64_t	serial_key;
	int			combo[N_COMBOS];	/* name combinations, shuffled per round */
	int64_t		prev_start;		/* previous session's start, or -1 */
	int64_t		customers;		/* distinct customers made so far */
	KindWriter	out[STEDI_NKINDS];
} GenState;

static void
shuffle_combos(GenState *g)
{
	int			i;

	for (i = 0; i < N_COMBOS; i++)
		g->combo[i] = i;
	for (i = N_COMBOS - 1; i > 0; i--)
	{
		int			j = (int) prng_below(&g->rng, (uint32_t) i + 1);
		int			t = g->combo[i];

		g->combo[i] = g->combo[j];
		g->combo[j] = t;
	}
}

/*
 * Make one customer and their session.  "pos" is the position in the
 * cohort: the first few positions of every cohort get the quirks that must
 * exist at any scale, however small.
 */
static void
make_customer(GenState *g, int64_t cohort_base, int pos, Customer *c,
			  Session *s)
{
	Prng	   *rng = &g->rng;
	int64_t		index = g->customers++;
	int64_t		name_round = index / N_COMBOS;
	int			combo;
	const char *first;
	const char *last;
	int64_t		start;
	int32_t		spacing;
	int			i;

	if (index % N_COMBOS == 0)
		shuffle_combos(g);
	combo = g->combo[index % N_COMBOS];
	first = first_names[combo / N_LAST];
	last = last_names[combo % N_LAST];
	snprintf(c->name, sizeof(c->name), "%s %s", first, last);
	if (name_round == 0)
		snprintf(c->email, sizeof(c->email), "%s.%s@test.com", first, last);
	else
		snprintf(c->email, sizeof(c->email), "%s.%s%lld@test.com", first,
				 last, (long long) name_round);
	snprintf(c->phone, sizeof(c->phone), "801555%04d",
			 (int) prng_below(rng, 10000));
	/* the app's birthDay is a bare year, not zero-padded below 1000 */
	snprintf(c->birthday, sizeof(c->birthday), "%d-01-01",
			 (int) prng_range(rng, 960, 1969));
	make_serial(rng, (uint64_t) index, g->serial_key, c->serial);

	c->registered = cohort_base +
		curve_sample(rng, reg_curve, CURVE_LEN(reg_curve));
	c->updated = c->registered;
	if (prng_chance(rng, P_LATE_UPDATE))
	{
		/* settings changed about a minute after sign-up, rarely at once */
		if (prng_below(rng, 8) == 0)
			c->updated += 1;
		else
			c->updated += prng_range(rng, 58000, 68500);
	}
	c->share_research = prng_chance(rng, P_SHARE);
	c->share_public = prng_chance(rng, P_SHARE);
	c->share_friends = prng_chance(rng, P_SHARE);

	/* a few fixed positions guarantee every kind of repeated record */
	c->update = UPDATE_NONE;
	if (pos == 2)
	{
		c->share_research = false;
		c->update = UPDATE_GIVE;
	}
	else if (pos == 3)
	{
		c->share_research = true;
		c->update = UPDATE_WITHDRAW_NULL;
	}
	else if (pos == 4)
	{
		c->share_research = true;
		c->update = UPDATE_WITHDRAW_ABSENT;
	}
	else if (prng_chance(rng, P_REPEAT))
	{
		if (!c->share_research)
			c->update = UPDATE_GIVE;
		else if (prng_below(rng, 2) == 0)
			c->update = UPDATE_WITHDRAW_ABSENT;
		else
			c->update = UPDATE_WITHDRAW_NULL;
	}

	/*
	 * The session: step trainer readings every 2033..4000 ms (steps of a
	 * third of 100 ms), ending about 72 s after registration.  The second
	 * customer of each cohort, and a few others, start at the very
	 * millisecond of the previous session, so that cross-customer
	 * coincidences exist at any scale.
	 */
	spacing = 2000 + (int32_t) prng_range(rng, 1, 60) * 100 / 3;
	start = c->registered +
		curve_sample(rng, session_end_curve, CURVE_LEN(session_end_curve)) -
		(int64_t) spacing * (STEPS_PER_SESSION - 1);
	if (g->prev_start >= 0 &&
		(pos == 1 || prng_chance(rng, P_SAME_START)))
		start = g->prev_start;
	g->prev_start = start;

	if (c->update != UPDATE_NONE)
	{
		int64_t		span = (int64_t) spacing * (STEPS_PER_SESSION - 1);

		/* the later record may come mid-session, splitting its readings */
		c->update_at = start + prng_range(rng, 0, span + 120000);
		if (c->update_at <= c->updated)
			c->update_at = c->updated + prng_range(rng, 1000, 60000);
	}

	s->email = c->email;
	s->serial = c->serial;
	s->naccel = 0;
	s->nstep = STEPS_PER_SESSION;
	for (i = 0; i < STEPS_PER_SESSION; i++)
	{
		int64_t		ts = start + (int64_t) i * spacing;
		uint32_t	u = prng_below(rng, 100);
		int			mult = u < 78 ? 3 : (u < 97 ? 2 : 1);
		int			k;

		s->step[i].ts = ts;
		s->step[i].distance = (int32_t) prng_range(rng, 201, 300);
		s->step[i].pass = (uint8_t) prng_below(rng, STEP_PASSES);
		for (k = 0; k < mult; k++)
		{
			AccelReading *a = &s->accel[s->naccel++];

			a->ts = ts;
			a->x = (uint8_t) prng_below(rng, 3);
			a->y = (uint8_t) prng_below(rng, 3);
			/* z is never positive in the app's data */
			a->z = (uint8_t) prng_below(rng, 2);
			a->pass = (uint8_t) prng_below(rng, ACCEL_PASSES);
		}
	}
}

static void
put_share(LineBuf *lb, const char *field, bool present, int64_t at)
{
	if (!present)
		return;
	lb_str(lb, ", \"");
	lb_str(lb, field);
	lb_str(lb, "\": ");
	lb_int(lb, at);
}

/*
 * Write a customer record; "later" writes the repeated record with the
 * changed research consent instead of the original one.
 */
static void
write_customer(KindWriter *w, const Customer *c, bool later)
{
	LineBuf		lb;
	int64_t		updated = later ? c->update_at : c->updated;

	lb_reset(&lb);
	lb_str(&lb, "{\"" F_CUSTOMER_NAME "\": \"");
	lb_str(&lb, c->name);
	lb_str(&lb, "\", \"" F_EMAIL "\": \"");
	lb_str(&lb, c->email);
	lb_str(&lb, "\", \"" F_PHONE "\": \"");
	lb_str(&lb, c->phone);
	lb_str(&lb, "\", \"" F_BIRTH_DAY "\": \"");
	lb_str(&lb, c->birthday);
	lb_str(&lb, "\", \"" F_SERIAL_NUMBER "\": \"");
	lb_str(&lb, c->serial);
	lb_str(&lb, "\", \"" F_REGISTRATION_DATE "\": ");
	lb_int(&lb, c->registered);
	lb_str(&lb, ", \"" F_LAST_UPDATE_DATE "\": ");
	lb_int(&lb, updated);

	/* share dates are as of the record's last update, as the app sets them */
	if (!later)
		put_share(&lb, F_SHARE_RESEARCH, c->share_research, c->updated);
	else if (c->update == UPDATE_GIVE)
		put_share(&lb, F_SHARE_RESEARCH, true, c->update_at);
	else if (c->update == UPDATE_WITHDRAW_NULL)
		lb_str(&lb, ", \"" F_SHARE_RESEARCH "\": null");
	put_share(&lb, F_SHARE_PUBLIC, c->share_public, c->updated);
	put_share(&lb, F_SHARE_FRIENDS, c->share_friends, c->updated);
	lb_str(&lb, "}\n");
	writer_put(w, &lb);
}

/*
 * Write the batch's readings: pass by pass, customer by customer, newest
 * first within a run, which is how the real files are laid out.
 */
static void
flush_batch(GenState *g, const Session *batch, int n)
{
	LineBuf		lb;
	int			pass;
	int			b;
	int			i;

	for (pass = 0; pass < ACCEL_PASSES; pass++)
	{
		for (b = 0; b < n; b++)
		{
			const Session *s = &batch[b];

			for (i = s->naccel - 1; i >= 0; i--)
			{
				const AccelReading *a = &s->accel[i];

				if (a->pass != pass)
					continue;
				lb_reset(&lb);
				lb_str(&lb, "{\"" F_USER "\":\"");
				lb_str(&lb, s->email);
				lb_str(&lb, "\",\"" F_TIMESTAMP "\":");
				lb_int(&lb, a->ts);
				lb_str(&lb, ",\"" F_X "\":");
				lb_str(&lb, axis_text[a->x]);
				lb_str(&lb, ",\"" F_Y "\":");
				lb_str(&lb, axis_text[a->y]);
				lb_str(&lb, ",\"" F_Z "\":");
				lb_str(&lb, axis_text[a->z]);
				lb_str(&lb, "}\n");
				writer_put(&g->out[STEDI_ACCELEROMETER], &lb);
			}
		}
	}

	for (pass = 0; pass < STEP_PASSES; pass++)
	{
		for (b = 0; b < n; b++)
		{
			const Session *s = &batch[b];

			for (i = s->nstep - 1; i >= 0; i--)
			{
				const StepReading *r = &s->step[i];

				if (r->pass != pass)
					continue;
				lb_reset(&lb);
				lb_str(&lb, "{\"" F_SENSOR_READING_TIME "\":");
				lb_int(&lb, r->ts);
				lb_str(&lb, ",\"" F_SERIAL_NUMBER "\":\"");
				lb_str(&lb, s->serial);
				lb_str(&lb, "\",\"" F_DISTANCE "\":");
				lb_int(&lb, r->distance);
				lb_str(&lb, "}\n");
				writer_put(&g->out[STEDI_STEP_TRAINER], &lb);
			}
		}
	}
}

static void
generate(GenState *g, int64_t ncustomers)
{
	Customer   *customers = xmalloc(sizeof(Customer) * COHORT_SIZE);
	Session    *batch = xmalloc(sizeof(Session) * BATCH_SIZE);
	int64_t		done = 0;
	int64_t		cohort = 0;

	while (done < ncustomers)
	{
		int64_t		base = BASE_EPOCH_MS + cohort * COHORT_GAP_MS;
		int			size = (int) (ncustomers - done < COHORT_SIZE ?
								  ncustomers - done : COHORT_SIZE);
		int			nbatch = 0;
		int			pos;

		g->prev_start = -1;
		for (pos = 0; pos < size; pos++)
		{
			make_customer(g, base, pos, &customers[pos], &batch[nbatch]);
			write_customer(&g->out[STEDI_CUSTOMER], &customers[pos], false);
			if (++nbatch == BATCH_SIZE)
			{
				flush_batch(g, batch, nbatch);
				nbatch = 0;
			}
		}
		flush_batch(g, batch, nbatch);

		/* the repeated records come after the cohort's first records */
		for (pos = 0; pos < size; pos++)
		{
			if (customers[pos].update != UPDATE_NONE)
				write_customer(&g->out[STEDI_CUSTOMER], &customers[pos], true);
		}

		done += size;
		cohort++;
	}
	free(batch);
	free(customers);
}


/* ---- command line ------------------------------------------------------ */

static void
usage(void)
{
	printf("%s generates synthetic STEDI Human Balance landing data.\n\n",
		   PROGNAME);
	printf("Usage:\n");
	printf("  %s --scale N [--seed S] FOLDER\n\n", PROGNAME);
	printf("Options:\n");
	printf("  -s, --scale=N    size; 1 is about 1,000 customers, 80,000\n"
		   "                   accelerometer and 29,000 step trainer readings\n");
	printf("      --seed=S     random seed, a non-negative integer (default 1)\n");
	printf("  -V, --version    output version information, then exit\n");
	printf("  -h, --help       show this help, then exit\n\n");
	printf("Writes FOLDER/{customer,accelerometer,step_trainer}/landing/*.json,\n"
		   "creating the folders if needed; refuses if any *.json file is\n"
		   "already there.  The same scale and seed give identical files.\n");
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
	printf("%s: %d file%s, %lld line%s\n", w->kind, w->nfiles,
		   w->nfiles == 1 ? "" : "s", (long long) w->lines,
		   w->lines == 1 ? "" : "s");
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"scale", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	int64_t		scale = 0;
	uint64_t	seed = 1;
	int64_t		ncustomers;
	const char *folder;
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

	g = xmalloc(sizeof(GenState));
	memset(g, 0, sizeof(GenState));
	prng_seed(&g->rng, seed);
	g->serial_key = prng_next(&g->rng);

	/* check all three before creating anything, so a refusal leaves no trace */
	for (k = 0; k < STEDI_NKINDS; k++)
	{
		writer_init(&g->out[k], folder, (StediKind) k);
		check_empty_landing(g->out[k].dir);
	}
	for (k = 0; k < STEDI_NKINDS; k++)
		make_dirs(g->out[k].dir);

	generate(g, ncustomers);

	for (k = 0; k < STEDI_NKINDS; k++)
		writer_finish(&g->out[k]);
	for (k = 0; k < STEDI_NKINDS; k++)
		print_summary(&g->out[k]);
	if (fflush(stdout) != 0 || ferror(stdout))
		fatal("could not write to standard output: %s", strerror(errno));

	for (k = 0; k < STEDI_NKINDS; k++)
	{
		free(g->out[k].dir);
		free(g->out[k].path);
	}
	free(g);
	return 0;
}
