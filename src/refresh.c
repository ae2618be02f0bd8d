/*-------------------------------------------------------------------------
 *
 * refresh.c
 *		stedi.refresh(): bring the trusted and curated zones up to date.
 *
 * The zones are materialized views stacked on each other, so they must be
 * refreshed in dependency order, and each must have fresh planner
 * statistics before the next one reads it: a view over a just-refreshed,
 * never-analyzed view gets row estimates of zero and a nested-loop plan
 * that can run for many minutes.  Hence every step is "refresh, analyze,
 * count, log".
 *
 * A view that has never been populated is refreshed plainly (there are no
 * readers to protect, and the concurrent diff against nothing is wasted
 * work); afterwards always CONCURRENTLY, so that readers keep the old
 * contents until the new ones commit.  The whole run is one transaction,
 * so readers see either the zones before the run or after it, never a
 * mix of the two.
 *
 * Two runs never overlap: each takes a self-conflicting lock on
 * stedi.refresh_run, which still lets anyone read the run history.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(stedi_refresh);

typedef struct ZoneView
{
	const char *zone;
	const char *name;
} ZoneView;

/* Dependency order: each view reads only landing tables and views above it. */
static const ZoneView zone_views[] = {
	{"trusted", "customer"},
	{"trusted", "accelerometer"},
	{"curated", "customer"},
	{"trusted", "step_trainer"},
	{"curated", "machine_learning"},
};

static const char *const landing_tables[] = {
	"customer", "accelerometer", "step_trainer",
};

static Oid
zone_relid(const char *zone, const char *name)
{
	return RangeVarGetRelid(makeRangeVar(pstrdup(zone), pstrdup(name), -1),
							NoLock, false);
}

static bool
relation_is_populated(Oid relid)
{
	HeapTuple	tuple;
	bool		populated;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	populated = ((Form_pg_class) GETSTRUCT(tuple))->relispopulated;
	ReleaseSysCache(tuple);
	return populated;
}

static void
spi_exec(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != expected)
		elog(ERROR, "stedi: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

static int64
spi_single_int8(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	bool		isnull;
	int			rc;
	Datum		d;

	rc = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 1);
	if (rc < 0 || SPI_processed != 1)
		elog(ERROR, "stedi: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

static Interval *
interval_between(TimestampTz start, TimestampTz end)
{
	Interval   *result = palloc0(sizeof(Interval));

	result->time = end - start;
	return result;
}

/*
 * stedi.refresh() returns table (view regclass, method text, rows bigint,
 * duration interval)
 */
Datum
stedi_refresh(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			run_relid;
	int64		run_id;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	run_relid = zone_relid("stedi", "refresh_run");
	LockRelationOid(run_relid, ShareUpdateExclusiveLock);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stedi: SPI_connect failed");

	run_id = spi_single_int8("INSERT INTO stedi.refresh_run (trigger) "
							 "VALUES ('manual') RETURNING run_id",
							 0, NULL, NULL);

	/*
	 * Landing tables grow between runs by bulk loads that autovacuum may not
	 * have analyzed yet; the first view's plan depends on their statistics.
	 */
	for (i = 0; i < lengthof(landing_tables); i++)
	{
		CHECK_FOR_INTERRUPTS();
		spi_exec(psprintf("ANALYZE landing.%s",
						  quote_identifier(landing_tables[i])),
				 SPI_OK_UTILITY);
	}

	for (i = 0; i < lengthof(zone_views); i++)
	{
		const ZoneView *zv = &zone_views[i];
		Oid			relid = zone_relid(zv->zone, zv->name);
		char	   *qualified = quote_qualified_identifier(zv->zone, zv->name);
		bool		concurrently = relation_is_populated(relid);
		TimestampTz started;
		TimestampTz finished;
		int64		rows;
		Interval   *duration;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		Oid			log_types[6] = {INT8OID, INT4OID, REGCLASSOID, TEXTOID,
		INT8OID, INTERVALOID};
		Datum		log_values[6];

		CHECK_FOR_INTERRUPTS();

		started = GetCurrentTimestamp();
		spi_exec(psprintf("REFRESH MATERIALIZED VIEW %s%s",
						  concurrently ? "CONCURRENTLY " : "", qualified),
				 SPI_OK_UTILITY);
		spi_exec(psprintf("ANALYZE %s", qualified), SPI_OK_UTILITY);
		rows = spi_single_int8(psprintf("SELECT count(*) FROM %s", qualified),
							   0, NULL, NULL);
		finished = GetCurrentTimestamp();
		duration = interval_between(started, finished);

		log_values[0] = Int64GetDatum(run_id);
		log_values[1] = Int32GetDatum(i + 1);
		log_values[2] = ObjectIdGetDatum(relid);
		log_values[3] = CStringGetTextDatum(concurrently ? "concurrent" : "complete");
		log_values[4] = Int64GetDatum(rows);
		log_values[5] = IntervalPGetDatum(duration);
		if (SPI_execute_with_args("INSERT INTO stedi.refresh_log "
								  "(run_id, step, view, method, rows, duration) "
								  "VALUES ($1, $2, $3, $4, $5, $6)",
								  6, log_types, log_values, NULL, false, 0)
			!= SPI_OK_INSERT)
			elog(ERROR, "stedi: could not write stedi.refresh_log");

		values[0] = ObjectIdGetDatum(relid);
		values[1] = log_values[3];
		values[2] = Int64GetDatum(rows);
		values[3] = IntervalPGetDatum(duration);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	{
		Oid			argtypes[1] = {INT8OID};
		Datum		args[1] = {Int64GetDatum(run_id)};

		if (SPI_execute_with_args("UPDATE stedi.refresh_run "
								  "SET finished_at = clock_timestamp(), status = 'succeeded' "
								  "WHERE run_id = $1",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "stedi: could not update stedi.refresh_run");
	}

	SPI_finish();
	return (Datum) 0;
}
