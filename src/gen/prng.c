/*-------------------------------------------------------------------------
 *
 * prng.c
 *		The random numbers of stedi-gen: xoshiro256**, seeded by
 *		splitmix64.
 *
 * Our own generator, with integer arithmetic only, so that every platform
 * draws the same numbers from the same seed and writes the same files.
 *
 * IDENTIFICATION
 *		src/gen/prng.c
 *
 *-------------------------------------------------------------------------
 */
#include "gen.h"

uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

void
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
uint64_t
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
uint32_t
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
int64_t
prng_range(Prng *p, int64_t lo, int64_t hi)
{
	return lo + (int64_t) prng_below(p, (uint32_t) (hi - lo + 1));
}

bool
prng_chance(Prng *p, uint32_t per10000)
{
	return prng_below(p, 10000) < per10000;
}
