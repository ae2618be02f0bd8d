/*-------------------------------------------------------------------------
 *
 * model.c
 *		The records stedi-gen makes: customers, their devices, and the
 *		readings of their sessions, on the time lines of the real set.
 *
 * They have the shapes and quirks of the real STEDI starter set, at any
 * size:
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
 *	- files hold at most 10,000 records (with --faults, plus the bad lines
 *	  among them), and the reading files interleave customers, so nothing
 *	  may assume one customer's lines are adjacent.
 *
 * All of it is drawn from the data's own random stream, in an order that
 * depends on nothing but the options; memory use does not grow with the
 * scale: customers are made and written one small batch at a time.
 *
 * IDENTIFICATION
 *		src/gen/model.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/*
 * Customers register in cohorts of this size, each as dense as the whole
 * real set (about a thousand customers in 41 minutes); cohorts are a day
 * apart.  Keeping the density fixed makes cross-customer timestamp
 * coincidences grow linearly with the scale, as everything else does.
 */
#define COHORT_SIZE			1000
#define COHORT_GAP_MS		INT64_C(86400000)
#define BASE_EPOCH_MS		INT64_C(1655560000000)	/* 2022-06-18 13:46 UTC */

/*
 * Readings are written for a batch of customers at a time, each reading
 * in one of several passes over the batch, so that, as in the real files,
 * a customer's readings come in short runs scattered among others'.
 */
#define BATCH_SIZE			32
#define ACCEL_PASSES		8
#define STEP_PASSES			6

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

#define N_FIRST		LENGTHOF(first_names)
#define N_LAST		LENGTHOF(last_names)
#define N_COMBOS	(N_FIRST * N_LAST)

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
struct GenState
{
	Prng		rng;
	uint64_t	serial_key;
	int			combo[N_COMBOS];	/* name combinations, shuffled per round */
	int64_t		prev_start;		/* previous session's start, or -1 */
	int64_t		customers;		/* number of the next customer */
	bool		shuffled;		/* combo[] holds a shuffled round */
	int64_t		jitter_ms;		/* step trainer clock error bound (--jitter) */
	KindWriter *out;			/* the writer of each kind */
};

GenState *
gen_create(uint64_t seed, int64_t first_customer, int64_t jitter_ms,
		   KindWriter *out)
{
	GenState   *g = xmalloc(sizeof(GenState));

	memset(g, 0, sizeof(GenState));
	prng_seed(&g->rng, seed);
	g->customers = first_customer;
	g->jitter_ms = jitter_ms;
	g->serial_key = prng_next(&g->rng);
	g->out = out;
	return g;
}

/*
 * How far the step trainer's clock is off for the reading it took at ts,
 * in [-jitter_ms, jitter_ms]: a function of the device and the moment
 * alone (no draw from the stream), so that --jitter changes no other
 * value the generator writes, and the phone readings taken at ts stay the
 * reading's true partners.
 */
static int64_t
clock_error(const GenState *g, const char *serial, int64_t ts)
{
	uint64_t	x = (uint64_t) ts;
	const char *c;

	if (g->jitter_ms == 0)
		return 0;
	for (c = serial; *c; c++)
		x = (x ^ (uint64_t) (unsigned char) *c) * UINT64_C(0x100000001B3);
	return (int64_t) (splitmix64(&x) % (uint64_t) (2 * g->jitter_ms + 1)) - g->jitter_ms;
}

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

	/* a run numbered from the middle of a round shuffles for it first */
	if (index % N_COMBOS == 0 || !g->shuffled)
	{
		shuffle_combos(g);
		g->shuffled = true;
	}
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
		curve_sample(rng, reg_curve, LENGTHOF(reg_curve));
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
		curve_sample(rng, session_end_curve, LENGTHOF(session_end_curve)) -
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

/*
 * Write the batch's readings: pass by pass, customer by customer, newest
 * first within a run, which is how the real files are laid out.
 */
static void
flush_batch(GenState *g, const Session *batch, int n)
{
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
				if (s->accel[i].pass == pass)
					write_accel(&g->out[STEDI_ACCELEROMETER], s->email,
								&s->accel[i]);
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

				if (r->pass == pass)
					write_step(&g->out[STEDI_STEP_TRAINER], s->serial,
							   r->ts + clock_error(g, s->serial, r->ts),
							   r->distance);
			}
		}
	}
}

void
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
