/*-------------------------------------------------------------------------
 *
 * pairing.c
 *		The tolerance join of the training table: a step trainer reading
 *		pairs with its owner's phone readings taken within a tolerance of
 *		it, the clocks of the two devices being allowed to disagree.
 *
 * PostgreSQL has no nearest-in-time join, and a condition such as
 * abs(a - s) <= tolerance gives the planner nothing to hash or merge on:
 * it would loop over every reading of a customer for each step.  So time
 * is cut into buckets of 2 * tolerance + 1 milliseconds.  A phone reading
 * lies in one bucket (pairing_bucket); the window of a step reading,
 * [s - tolerance, s + tolerance], 2 * tolerance + 1 milliseconds long,
 * meets at most two (pairing_buckets).  The planner then hash-joins on
 * (customer, bucket), plain bigint equality, and the exact condition is
 * checked on what each probe finds (pairing_offset): the work per step
 * reading is that of the readings of two buckets, whatever the number of
 * readings of its customer.  With a tolerance of 0 a bucket is one
 * millisecond, and the join is the same-millisecond join.
 *
 * Times are compared at the clocks' resolution, one millisecond, as the
 * =# operators do (same_millisecond.c): floor(microseconds / 1000).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/timestamp.h"

#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_pairing_bucket);
PG_FUNCTION_INFO_V1(stedi_pairing_buckets);
PG_FUNCTION_INFO_V1(stedi_pairing_offset);

/* The largest tolerance, in milliseconds: one hour (set_setting's bound). */
#define MAX_TOLERANCE_MS	3600000

static inline int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

static int64
bucket_width(FunctionCallInfo fcinfo)
{
	int32		tolerance = PG_GETARG_INT32(1);

	if (tolerance < 0 || tolerance > MAX_TOLERANCE_MS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pairing tolerance %d ms is out of range", tolerance),
				 errdetail("It must be from 0 to %d ms.", MAX_TOLERANCE_MS)));
	return 2 * (int64) tolerance + 1;
}

static void
refuse_infinite(TimestampTz t)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a reading time may not be infinite")));
}

/*
 * stedi.pairing_bucket(t timestamptz, tolerance_ms integer) returns bigint
 *
 * The bucket a phone reading at t lies in, for a tolerance in ms (0 to
 * 3,600,000; invalid_parameter_value otherwise): floor(ms(t) / (2 *
 * tolerance + 1)).  datetime_value_out_of_range for an infinite t.
 */
Datum
stedi_pairing_bucket(PG_FUNCTION_ARGS)
{
	TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);
	int64		width = bucket_width(fcinfo);

	refuse_infinite(t);
	PG_RETURN_INT64(floor_div(stedi_millisecond_of(t), width));
}

/*
 * stedi.pairing_buckets(t timestamptz, tolerance_ms integer) returns bigint[]
 *
 * The buckets the window of a step reading at t meets, [t - tolerance,
 * t + tolerance]: one or two, ascending.  Errors as pairing_bucket.
 */
Datum
stedi_pairing_buckets(PG_FUNCTION_ARGS)
{
	TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);
	int64		width = bucket_width(fcinfo);
	int64		tolerance = (width - 1) / 2;
	int64		ms;
	Datum		buckets[2];
	int			n = 1;

	refuse_infinite(t);
	ms = stedi_millisecond_of(t);
	buckets[0] = Int64GetDatum(floor_div(ms - tolerance, width));
	if (floor_div(ms + tolerance, width) != DatumGetInt64(buckets[0]))
		buckets[n++] = Int64GetDatum(floor_div(ms + tolerance, width));
	PG_RETURN_ARRAYTYPE_P(construct_array(buckets, n, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * stedi.pairing_offset(reading timestamptz, step timestamptz) returns bigint
 *
 * How many milliseconds the phone reading lies after the step reading
 * (negative: before), each taken at its millisecond.  Errors as
 * pairing_bucket for an infinite time.
 */
Datum
stedi_pairing_offset(PG_FUNCTION_ARGS)
{
	TimestampTz reading = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz step = PG_GETARG_TIMESTAMPTZ(1);

	refuse_infinite(reading);
	refuse_infinite(step);
	PG_RETURN_INT64(stedi_millisecond_of(reading) - stedi_millisecond_of(step));
}
