/*-------------------------------------------------------------------------
 *
 * same_millisecond.c
 *		Comparison of timestamptz values at the resolution of the STEDI
 *		devices' clocks: one millisecond.
 *
 * The step trainer and the phone stamp their readings in epoch
 * milliseconds.  Two readings were "taken at the same moment" when they
 * fall in the same millisecond, whatever sub-millisecond part a value may
 * carry after arithmetic or after arriving from another source.  The
 * operators here (=#, <>#, <#, <=#, >#, >=#) compare the millisecond each
 * value falls in, i.e. floor(microseconds / 1000).
 *
 * They form a btree operator family (so the planner can merge-join on =#)
 * and a hash operator family (so it can hash-join on it).  Both hash and
 * order are functions of that one canonical millisecond, which is what
 * makes them consistent with =#: values the operator calls equal always
 * hash equal and sort together.  Infinities map to the extreme
 * milliseconds and compare as they do for timestamptz.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "stedi.h"

static inline int
millisecond_cmp(FunctionCallInfo fcinfo)
{
	int64		a = stedi_millisecond_of(PG_GETARG_TIMESTAMPTZ(0));
	int64		b = stedi_millisecond_of(PG_GETARG_TIMESTAMPTZ(1));

	return (a > b) - (a < b);
}

PG_FUNCTION_INFO_V1(stedi_ms_eq);
PG_FUNCTION_INFO_V1(stedi_ms_ne);
PG_FUNCTION_INFO_V1(stedi_ms_lt);
PG_FUNCTION_INFO_V1(stedi_ms_le);
PG_FUNCTION_INFO_V1(stedi_ms_gt);
PG_FUNCTION_INFO_V1(stedi_ms_ge);
PG_FUNCTION_INFO_V1(stedi_ms_cmp);
PG_FUNCTION_INFO_V1(stedi_ms_hash);
PG_FUNCTION_INFO_V1(stedi_ms_hash_extended);

Datum
stedi_ms_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(millisecond_cmp(fcinfo) == 0);
}

Datum
stedi_ms_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(millisecond_cmp(fcinfo) != 0);
}

Datum
stedi_ms_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(millisecond_cmp(fcinfo) < 0);
}

Datum
stedi_ms_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(millisecond_cmp(fcinfo) <= 0);
}

Datum
stedi_ms_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(millisecond_cmp(fcinfo) > 0);
}

Datum
stedi_ms_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(millisecond_cmp(fcinfo) >= 0);
}

/* btree support function 1 */
Datum
stedi_ms_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(millisecond_cmp(fcinfo));
}

/*
 * hash support functions 1 and 2: the hash of the millisecond as a bigint,
 * so that equal milliseconds hash equal by construction.
 */
Datum
stedi_ms_hash(PG_FUNCTION_ARGS)
{
	int64		ms = stedi_millisecond_of(PG_GETARG_TIMESTAMPTZ(0));

	return DirectFunctionCall1(hashint8, Int64GetDatumFast(ms));
}

Datum
stedi_ms_hash_extended(PG_FUNCTION_ARGS)
{
	int64		ms = stedi_millisecond_of(PG_GETARG_TIMESTAMPTZ(0));

	return DirectFunctionCall2(hashint8extended, Int64GetDatumFast(ms),
							   PG_GETARG_DATUM(1));
}
