/*-------------------------------------------------------------------------
 *
 * pairing.c
 *		The tolerance join of the training table, a step trainer reading
 *		paired with its owner's phone readings taken within a tolerance of
 *		it, the clocks of the two devices being allowed to disagree.
 *
 * PostgreSQL has no nearest-in-time join, and a condition such as
 * abs(a - s) <= tolerance gives the planner nothing to hash or merge on:
 * it would loop over every reading of a customer for each step.  So time
 * is cut into buckets of 2 * tolerance + 1 milliseconds.  A phone reading
 * lies in one bucket; the window of a step reading, [s - tolerance,
 * s + tolerance], 2 * tolerance + 1 milliseconds long, meets at most two.
 * stedi.pair_readings() hashes the phone readings on (customer, bucket)
 * and looks each step reading up in its one or two buckets, checking the
 * exact offset of what it finds.
 *
 * Written as SQL, the nearest mode is a hash join followed by rank() over
 * every pair: a sort of all the pairs, which spills to disk at the sizes
 * users reach.  Here the pairs of one step reading are all found by one
 * probe, so the nearest is chosen as they are found and nothing is
 * sorted.  The work per step reading is that of the readings in its
 * buckets, whatever the number of readings of its customer.
 *
 * Memory is bounded as a hash join's is: the phone readings held at once
 * take at most about work_mem * hash_mem_multiplier.  When the table of
 * phone readings is larger than that, the customers are split by a hash
 * of their email into partitions; the first is joined in memory as the
 * readings arrive, the others are written to temporary files (both
 * sides) and joined one after the other.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_pair_readings);
PG_FUNCTION_INFO_V1(stedi_pairing_offset);

/*
 * The most partitions: past it (about 1.4 GB of readings at the default
 * work_mem), partitions outgrow the budget.  Each partition written for
 * later keeps two temporary files, about 24 kB of memory each.
 */
#define MAX_PARTITIONS		256
#define SPILL_KB			8

/*
 * How much of its table a phone reading's row takes, tuple header and line
 * pointer included: to count the rows from the table's size.
 */
#define TABLE_BYTES_PER_READING	100

/* the columns of the two inputs (the queries below) */
enum
{
	PHONE_EMAIL, PHONE_TIME, PHONE_X, PHONE_Y, PHONE_Z, PHONE_FILE, PHONE_LINE,
	PHONE_COLUMNS
};
enum
{
	STEP_EMAIL, STEP_TIME, STEP_SERIAL, STEP_DISTANCE, STEP_KEY, STEP_FILE,
	STEP_LINE, STEP_COLUMNS
};

/* the columns of the result: those of curated.machine_learning */
#define RESULT_COLUMNS		12

/*
 * The phone readings.  $1: the devices whose pairs are wanted, $2 their
 * claimants' emails (NULL, NULL: all).
 */
static const char *const phone_sql =
"SELECT a.user_email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number"
"  FROM trusted.accelerometer AS a"
" WHERE $2 IS NULL OR a.user_email = ANY ($2)";

/*
 * The step trainer readings, each with each curated customer who names its
 * device and the customer's key under the secret $4, save those of a
 * device named by several customers that two or more of them could pair
 * (stedi.claimants_reading_near): the same rule as the same-millisecond
 * definition, within the tolerance $3.
 */
static const char *const step_sql =
"SELECT c.email, s.sensor_reading_time, s.serial_number, s.distance_from_object,"
"       c.customer_key, s.file_id, s.line_number"
"  FROM trusted.step_trainer AS s"
"  JOIN (SELECT o.email, o.serial_number,"
"               stedi.customer_key(o.email, $4) AS customer_key"
"          FROM trusted.customer AS o"
"         WHERE $1 IS NULL OR o.serial_number = ANY ($1)"
"        OFFSET 0) AS c ON c.serial_number = s.serial_number"
" WHERE ($1 IS NULL OR s.serial_number = ANY ($1))"
"   AND (s.serial_number NOT IN (SELECT d.serial_number FROM trusted.customer AS d"
"                                 GROUP BY d.serial_number HAVING count(*) > 1)"
"        OR stedi.claimants_reading_near(s.serial_number, s.sensor_reading_time, $3) < 2)";

/* A phone reading held in memory, with what the result needs of it. */
typedef struct PhoneReading
{
	struct PhoneReading *next;	/* in its bucket */
	int64		ms;				/* its millisecond */
	TimestampTz reading_time;
	float8		x,
				y,
				z;
	int64		line_number;
	int32		file_id;
} PhoneReading;

/* An email as the key of the customers' table: the bytes of a text. */
typedef struct EmailKey
{
	const char *data;
	int			len;
} EmailKey;

typedef struct CustomerEntry
{
	EmailKey	email;
	uint32		hash;
	int32		id;
	char		status;
} CustomerEntry;

static inline bool
email_equal(EmailKey a, EmailKey b)
{
	return a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
}

#define SH_PREFIX		customers
#define SH_ELEMENT_TYPE	CustomerEntry
#define SH_KEY_TYPE		EmailKey
#define SH_KEY			email
#define SH_HASH_KEY(tb, key) hash_bytes((const unsigned char *) (key).data, (key).len)
#define SH_EQUAL(tb, a, b) email_equal(a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) a->hash
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* The phone readings of one customer in one bucket. */
typedef struct BucketKey
{
	int32		customer;
	int64		bucket;
} BucketKey;

typedef struct BucketEntry
{
	BucketKey	key;
	PhoneReading *readings;
	char		status;
} BucketEntry;

static inline uint32
bucket_hash(BucketKey key)
{
	return hash_combine(murmurhash32((uint32) key.customer),
						murmurhash32((uint32) key.bucket ^ (uint32) (key.bucket >> 32)));
}

#define SH_PREFIX		buckets
#define SH_ELEMENT_TYPE	BucketEntry
#define SH_KEY_TYPE		BucketKey
#define SH_KEY			key
#define SH_HASH_KEY(tb, k) bucket_hash(k)
#define SH_EQUAL(tb, a, b) ((a).customer == (b).customer && (a).bucket == (b).bucket)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* readings are allocated this many at a time */
#define READINGS_PER_CHUNK	1024

/* The state of one call. */
typedef struct PairingJoin
{
	int64		tolerance;		/* ms */
	int64		width;			/* of a bucket: 2 * tolerance + 1 ms */
	bool		nearest;
	int			partitions;
	MemoryContext partition_cxt;	/* the readings of one partition */
	customers_hash *customers;
	buckets_hash *buckets;
	PhoneReading *chunk;		/* readings not yet used */
	int			chunk_left;
	int64		expected_readings;	/* in the first partition */
	int64		held;			/* phone readings held in this partition */
	MemoryContext spill_cxt;	/* the temporary files */
	Tuplestorestate **phone_spill;	/* per partition, the first unused */
	Tuplestorestate **step_spill;
	TupleDesc	phone_desc;		/* the inputs' rows, as spilled */
	TupleDesc	step_desc;
	MemoryContext scratch_cxt;	/* detoasted emails of the current row */
	bool		scratch_used;
	Tuplestorestate *result;
	TupleDesc	result_desc;
} PairingJoin;

static inline int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
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
 * The bytes of an email.  A long one may be compressed or stored apart:
 * it is then detoasted into the scratch context, which lives for the row.
 */
static EmailKey
email_of(PairingJoin *join, Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	EmailKey	key;

	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
	{
		MemoryContext old = MemoryContextSwitchTo(join->scratch_cxt);

		v = pg_detoast_datum_packed(v);
		join->scratch_used = true;
		MemoryContextSwitchTo(old);
	}
	key.data = VARDATA_ANY(v);
	key.len = VARSIZE_ANY_EXHDR(v);
	return key;
}

/* Forget what the last row needed. */
static inline void
next_row(PairingJoin *join)
{
	if (join->scratch_used)
	{
		MemoryContextReset(join->scratch_cxt);
		join->scratch_used = false;
	}
	CHECK_FOR_INTERRUPTS();
}

/* Which partition a customer's readings are joined in. */
static inline int
partition_of(PairingJoin *join, Datum email)
{
	EmailKey	key;

	if (join->partitions == 1)
		return 0;
	key = email_of(join, email);
	return murmurhash32(hash_bytes((const unsigned char *) key.data, key.len))
		% join->partitions;
}

/*
 * Forget the readings held, to hold those of the next partition: about
 * this many, to size its table of buckets (at most a quarter of the
 * budget: it grows if need be).
 */
static void
start_partition(PairingJoin *join, int64 readings)
{
	MemoryContext old;
	int64		room = get_hash_memory_limit() / 4 / sizeof(BucketEntry);

	MemoryContextReset(join->partition_cxt);
	old = MemoryContextSwitchTo(join->partition_cxt);
	join->customers = customers_create(join->partition_cxt, 64, NULL);
	join->buckets = buckets_create(join->partition_cxt,
								   Max(64, Min(readings, room)), NULL);
	join->chunk = NULL;
	join->chunk_left = 0;
	join->held = 0;
	MemoryContextSwitchTo(old);
}

/* Hold one phone reading (the columns of phone_sql) in memory. */
static void
hold_reading(PairingJoin *join, Datum *values)
{
	EmailKey	email = email_of(join, values[PHONE_EMAIL]);
	CustomerEntry *customer;
	BucketEntry *entry;
	BucketKey	key;
	PhoneReading *r;
	bool		found;

	customer = customers_insert(join->customers, email, &found);
	if (!found)
	{
		char	   *copy = MemoryContextAlloc(join->partition_cxt, email.len + 1);

		memcpy(copy, email.data, email.len);
		copy[email.len] = '\0';
		customer->email.data = copy;
		customer->id = join->customers->members - 1;
	}
	if (join->chunk_left == 0)
	{
		join->chunk = MemoryContextAlloc(join->partition_cxt,
										 READINGS_PER_CHUNK * sizeof(PhoneReading));
		join->chunk_left = READINGS_PER_CHUNK;
	}
	r = join->chunk++;
	join->chunk_left--;
	join->held++;
	r->reading_time = DatumGetTimestampTz(values[PHONE_TIME]);
	refuse_infinite(r->reading_time);
	r->ms = stedi_millisecond_of(r->reading_time);
	r->x = DatumGetFloat8(values[PHONE_X]);
	r->y = DatumGetFloat8(values[PHONE_Y]);
	r->z = DatumGetFloat8(values[PHONE_Z]);
	r->file_id = DatumGetInt32(values[PHONE_FILE]);
	r->line_number = DatumGetInt64(values[PHONE_LINE]);
	key.customer = customer->id;
	key.bucket = floor_div(r->ms, join->width);
	entry = buckets_insert(join->buckets, key, &found);
	if (!found)
		entry->readings = NULL;
	r->next = entry->readings;
	entry->readings = r;
}

/* Write the pair of a step reading and a phone reading to the result. */
static void
emit_pair(PairingJoin *join, Datum *step, PhoneReading *r)
{
	Datum		values[RESULT_COLUMNS];
	bool		nulls[RESULT_COLUMNS] = {0};

	values[0] = step[STEP_TIME];
	values[1] = step[STEP_SERIAL];
	values[2] = step[STEP_DISTANCE];
	values[3] = step[STEP_KEY];
	values[4] = TimestampTzGetDatum(r->reading_time);
	values[5] = Float8GetDatum(r->x);
	values[6] = Float8GetDatum(r->y);
	values[7] = Float8GetDatum(r->z);
	values[8] = step[STEP_FILE];
	values[9] = step[STEP_LINE];
	values[10] = Int32GetDatum(r->file_id);
	values[11] = Int64GetDatum(r->line_number);
	tuplestore_putvalues(join->result, join->result_desc, values, nulls);
}

/*
 * Pair one step reading (the columns of step_sql) with the readings held
 * of its customer: in window mode every reading within the tolerance, in
 * nearest mode those of the nearest millisecond within it, the earlier
 * on a tie.
 */
static void
probe_step(PairingJoin *join, Datum *values)
{
	EmailKey	email = email_of(join, values[STEP_EMAIL]);
	TimestampTz t = DatumGetTimestampTz(values[STEP_TIME]);
	CustomerEntry *customer;
	BucketKey	key;
	int64		ms,
				first,
				last,
				best = 0;
	bool		found_best = false;

	refuse_infinite(t);
	customer = customers_lookup(join->customers, email);
	if (customer == NULL)
		return;					/* no phone readings */
	ms = stedi_millisecond_of(t);
	first = floor_div(ms - join->tolerance, join->width);
	last = floor_div(ms + join->tolerance, join->width);
	key.customer = customer->id;
	/* pass 0 finds the nearest offset (nearest mode); pass 1 emits */
	for (int pass = join->nearest ? 0 : 1; pass < 2; pass++)
	{
		for (key.bucket = first; key.bucket <= last; key.bucket++)
		{
			BucketEntry *entry = buckets_lookup(join->buckets, key);

			if (entry == NULL)
				continue;
			for (PhoneReading *r = entry->readings; r != NULL; r = r->next)
			{
				int64		offset = r->ms - ms;

				if (offset < -join->tolerance || offset > join->tolerance)
					continue;
				if (pass == 0)
				{
					if (!found_best || Abs(offset) < Abs(best) ||
						(Abs(offset) == Abs(best) && offset < best))
						best = offset;
					found_best = true;
				}
				else if (!join->nearest || offset == best)
					emit_pair(join, values, r);
			}
		}
		if (pass == 0 && !found_best)
			return;
	}
}

/* Where a query's rows go: held or probed, or written for later. */
typedef struct InputReceiver
{
	DestReceiver pub;
	PairingJoin *join;
	bool		phone;			/* phone readings (else step readings) */
} InputReceiver;

static bool
receive_input(TupleTableSlot *slot, DestReceiver *self)
{
	InputReceiver *input = (InputReceiver *) self;
	PairingJoin *join = input->join;
	int			p;

	next_row(join);
	slot_getallattrs(slot);
	p = partition_of(join, slot->tts_values[0]);
	if (p != 0)
	{
		Tuplestorestate **spill = input->phone ? join->phone_spill : join->step_spill;

		if (spill[p] == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(join->spill_cxt);

			spill[p] = tuplestore_begin_heap(false, false, SPILL_KB);
			MemoryContextSwitchTo(old);
		}
		tuplestore_puttupleslot(spill[p], slot);
	}
	else if (input->phone)
		hold_reading(join, slot->tts_values);
	else
		probe_step(join, slot->tts_values);
	return true;
}

/* keep the row type, to read back the rows written for later */
static void
receive_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	InputReceiver *input = (InputReceiver *) self;
	PairingJoin *join = input->join;
	TupleDesc  *desc = input->phone ? &join->phone_desc : &join->step_desc;
	MemoryContext old = MemoryContextSwitchTo(join->spill_cxt);

	*desc = CreateTupleDescCopy(typeinfo);
	MemoryContextSwitchTo(old);
}

static void
receive_nothing(DestReceiver *self)
{
}

/*
 * Run one input's query, its rows handed over one by one as the executor
 * makes them (no copy): the phone readings are held, the step readings
 * probe them; the rows of later partitions are written to their files.
 */
static void
read_input(PairingJoin *join, const char *sql, ParamListInfo params,
		   bool phone)
{
	InputReceiver input = {{0}};
	SPIExecuteOptions options = {0};
	int			rc;

	input.pub.receiveSlot = receive_input;
	input.pub.rStartup = receive_startup;
	input.pub.rShutdown = receive_nothing;
	input.pub.rDestroy = receive_nothing;
	input.pub.mydest = DestNone;
	input.join = join;
	input.phone = phone;
	options.params = params;
	options.read_only = true;
	options.dest = (DestReceiver *) &input;
	rc = SPI_execute_extended(sql, &options);
	/* (a SELECT whose rows go to a receiver of ours reports "utility") */
	if (rc < 0)
		elog(ERROR, "could not read the %s readings to pair: %s",
			 phone ? "phone" : "step trainer", SPI_result_code_string(rc));
}

/* for DEBUG1: what a partition's phone readings take in memory */
static void
report_partition(PairingJoin *join, int p)
{
	if (!message_level_is_interesting(DEBUG1))
		return;
	elog(DEBUG1, "stedi pairing: partition %d of %d holds %lld phone readings in %zu bytes (budget %zu)",
		 p + 1, join->partitions, (long long) join->held,
		 MemoryContextMemAllocated(join->partition_cxt, true),
		 get_hash_memory_limit());
}

/*
 * Read back the rows of partition p written to one input's temporary file:
 * the phone readings are held, the step readings probe them.
 */
static void
read_spilled(PairingJoin *join, int p, bool phone)
{
	Tuplestorestate *spill = phone ? join->phone_spill[p] : join->step_spill[p];
	TupleTableSlot *slot;

	slot = MakeSingleTupleTableSlot(phone ? join->phone_desc : join->step_desc,
									&TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(spill, true, false, slot))
	{
		next_row(join);
		slot_getallattrs(slot);
		if (phone)
			hold_reading(join, slot->tts_values);
		else
			probe_step(join, slot->tts_values);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* Join one of the partitions written to temporary files. */
static void
join_spilled(PairingJoin *join, int p)
{
	if (join->phone_spill[p] == NULL || join->step_spill[p] == NULL)
		return;					/* nothing pairs */
	start_partition(join, tuplestore_tuple_count(join->phone_spill[p]));
	read_spilled(join, p, true);
	report_partition(join, p);
	read_spilled(join, p, false);
}

/* the arguments of the inputs' queries, $1 to $4 */
static ParamListInfo
input_params(FunctionCallInfo fcinfo)
{
	ParamListInfo params = makeParamList(4);
	Oid			types[4] = {TEXTARRAYOID, TEXTARRAYOID, INT4OID, BYTEAOID};
	int			args[4] = {3, 4, 0, 2};

	params->numParams = 4;
	for (int i = 0; i < 4; i++)
	{
		ParamExternData *prm = &params->params[i];

		prm->ptype = types[i];
		/*
		 * Constants for the planner, but the secret: a constant shows in a
		 * plan, which a user may have printed (debug_print_plan).
		 */
		prm->pflags = types[i] == BYTEAOID ? 0 : PARAM_FLAG_CONST;
		prm->isnull = PG_ARGISNULL(args[i]);
		prm->value = prm->isnull ? (Datum) 0 : PG_GETARG_DATUM(args[i]);
	}
	return params;
}

/*
 * stedi.pair_readings(tolerance_ms integer, nearest boolean, secret bytea,
 *					   devices text[] DEFAULT NULL,
 *					   claimants text[] DEFAULT NULL)
 * returns SETOF the columns of curated.machine_learning
 *
 * The training table's pairs within a tolerance (ms, 0 to 3,600,000;
 * invalid_parameter_value otherwise), in nearest mode or (false) window
 * mode, with customer keys made with the pseudonym secret: all of them,
 * or those of the devices given, whose claimants' emails are given with
 * them.  Reads trusted.customer, accelerometer and step_trainer with the
 * rights of its caller, in the caller's snapshot (the secret comes as an
 * argument so that a view can read it with its owner's rights).
 * null_value_not_allowed for a null tolerance, mode or secret.
 * Memory: the phone readings of one partition, about work_mem *
 * hash_mem_multiplier (see the head of this file), plus the result's
 * tuplestore, which spills to disk past work_mem.
 * datetime_value_out_of_range for an infinite reading time.
 */
Datum
stedi_pair_readings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		tolerance;
	PairingJoin join = {0};
	MemoryContext call_cxt = CurrentMemoryContext;
	ParamListInfo params;
	int64		input_bytes;
	size_t		budget = get_hash_memory_limit();

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the tolerance, the mode and the secret of a pairing may not be null")));
	tolerance = PG_GETARG_INT32(0);
	if (tolerance < 0 || tolerance > STEDI_MAX_TOLERANCE_MS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pairing tolerance %d ms is out of range", tolerance),
				 errdetail("It must be from 0 to %d ms.", STEDI_MAX_TOLERANCE_MS)));
	join.tolerance = tolerance;
	join.width = 2 * join.tolerance + 1;
	join.nearest = PG_GETARG_BOOL(1);

	InitMaterializedSRF(fcinfo, 0);
	join.result = rsinfo->setResult;
	join.result_desc = rsinfo->setDesc;
	join.partition_cxt = AllocSetContextCreate(call_cxt, "stedi pairing partition",
											   ALLOCSET_DEFAULT_SIZES);
	join.spill_cxt = AllocSetContextCreate(call_cxt, "stedi pairing spill",
										   ALLOCSET_DEFAULT_SIZES);
	join.scratch_cxt = AllocSetContextCreate(call_cxt, "stedi pairing row",
											 ALLOCSET_SMALL_SIZES);
	params = input_params(fcinfo);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * As many partitions as the readings take budgets of memory.  A reading
	 * held takes about 4/3 of its row on disk, its bucket included (136
	 * bytes for a row of 102 at scale 100, in the DEBUG1 report); counted
	 * here as 3/2.  The readings of the claimants given are counted
	 * (through the index on user_email); all readings are sized from the
	 * table's files: never from statistics, which may not count the rows
	 * loaded since the last ANALYZE.
	 */
	{
		bool		isnull;
		int			rc;

		if (PG_ARGISNULL(4))
			rc = SPI_execute("SELECT pg_catalog.pg_relation_size('trusted.accelerometer')",
							 true, 1);
		else
			rc = SPI_execute_with_args("SELECT count(*) * " CppAsString2(TABLE_BYTES_PER_READING)
									   "  FROM trusted.accelerometer WHERE user_email = ANY ($1)",
									   1, (Oid[]) {TEXTARRAYOID},
									   (Datum[]) {PG_GETARG_DATUM(4)}, NULL, true, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not size the phone readings to pair");
		input_bytes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1,
												  &isnull));
	}
	join.partitions = Min(MAX_PARTITIONS, input_bytes / 2 * 3 / budget + 1);
	join.expected_readings = input_bytes / TABLE_BYTES_PER_READING / join.partitions;
	join.phone_spill = MemoryContextAllocZero(call_cxt,
											  join.partitions * sizeof(Tuplestorestate *));
	join.step_spill = MemoryContextAllocZero(call_cxt,
											 join.partitions * sizeof(Tuplestorestate *));

	start_partition(&join, join.expected_readings);
	read_input(&join, phone_sql, params, true);
	report_partition(&join, 0);
	read_input(&join, step_sql, params, false);
	for (int p = 1; p < join.partitions; p++)
	{
		join_spilled(&join, p);
		if (join.phone_spill[p] != NULL)
			tuplestore_end(join.phone_spill[p]);
		if (join.step_spill[p] != NULL)
			tuplestore_end(join.step_spill[p]);
	}

	SPI_finish();
	MemoryContextDelete(join.partition_cxt);
	MemoryContextDelete(join.spill_cxt);
	MemoryContextDelete(join.scratch_cxt);
	return (Datum) 0;
}

/*
 * stedi.pairing_offset(reading timestamptz, step timestamptz) returns bigint
 *
 * How many milliseconds the phone reading lies after the step reading
 * (negative: before), each taken at its millisecond, as the =# operators
 * take them (same_millisecond.c): what stedi.pairing_quality reports.
 * datetime_value_out_of_range for an infinite time.
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
