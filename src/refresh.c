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
 * What changed in landing is known from stedi.landing_change, where a
 * statement trigger on each landing table leaves a row.  A run consumes
 * the rows it can see *before* it reads any landing table, so a change
 * committed meanwhile stays behind for the next run: a change can make a
 * run happen twice, never zero times.
 *
 * Two runs never overlap: each takes a self-conflicting lock on
 * stedi.refresh_run, which still lets anyone read the run history.  A
 * manual run waits for it; a scheduled one gives up and is logged as
 * skipped.
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

#include "stedi.h"

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

static bool
all_views_populated(void)
{
	int			i;

	for (i = 0; i < lengthof(zone_views); i++)
		if (!relation_is_populated(zone_relid(zone_views[i].zone,
											  zone_views[i].name)))
			return false;
	return true;
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
 * Consume the change notes this run can see and analyze the landing tables
 * they name.  Returns whether there were any.
 */
static bool
consume_landing_changes(void)
{
	uint64		i;
	uint64		nchanged;
	SPITupleTable *changed;

	spi_exec("WITH consumed AS (DELETE FROM stedi.landing_change RETURNING relation) "
			 "SELECT DISTINCT relation::regclass::text FROM consumed",
			 SPI_OK_SELECT);
	nchanged = SPI_processed;
	changed = SPI_tuptable;

	/*
	 * Landing tables grow by bulk loads that autovacuum may not have
	 * analyzed yet, and the first views' plans depend on their statistics.
	 */
	for (i = 0; i < nchanged; i++)
	{
		char	   *relation = SPI_getvalue(changed->vals[i], changed->tupdesc, 1);

		CHECK_FOR_INTERRUPTS();
		spi_exec(psprintf("ANALYZE %s", relation), SPI_OK_UTILITY);
	}
	return nchanged > 0;
}

static void
log_view(int64 run_id, int step, Oid relid, const char *method, int64 rows,
		 Interval *duration)
{
	Oid			types[6] = {INT8OID, INT4OID, REGCLASSOID, TEXTOID, INT8OID,
	INTERVALOID};
	Datum		values[6];

	values[0] = Int64GetDatum(run_id);
	values[1] = Int32GetDatum(step);
	values[2] = ObjectIdGetDatum(relid);
	values[3] = CStringGetTextDatum(method);
	values[4] = Int64GetDatum(rows);
	values[5] = IntervalPGetDatum(duration);
	if (SPI_execute_with_args("INSERT INTO stedi.refresh_log "
							  "(run_id, step, view, method, rows, duration) "
							  "VALUES ($1, $2, $3, $4, $5, $6)",
							  6, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "stedi: could not write stedi.refresh_log");
}

/*
 * Delete runs older than the run_history_retention setting, so that a
 * refresh every second does not grow the history without bound.
 */
void
stedi_prune_run_history(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stedi: SPI_connect failed");
	spi_exec("DELETE FROM stedi.refresh_run WHERE started_at < "
			 "now() - stedi.setting_value('run_history_retention')::interval",
			 SPI_OK_DELETE);
	SPI_finish();
}

/*
 * Refresh every zone view.  Returns the run id of the logged run, or
 * REFRESH_LOCK_BUSY when !wait_for_lock and another run holds the lock, or
 * REFRESH_NOTHING_NEW when only_if_changed and nothing changed.  With
 * rsinfo, one row per view goes into its tuplestore.
 */
int64
stedi_refresh_zones(bool scheduled, bool wait_for_lock, bool only_if_changed,
					ReturnSetInfo *rsinfo)
{
	Oid			run_relid = zone_relid("stedi", "refresh_run");
	Oid			trigger_type = TEXTOID;
	Datum		trigger;
	Oid			run_id_type = INT8OID;
	Datum		run_id_datum;
	int64		run_id;
	bool		changed;
	int			i;

	if (wait_for_lock)
		LockRelationOid(run_relid, ShareUpdateExclusiveLock);
	else if (!ConditionalLockRelationOid(run_relid, ShareUpdateExclusiveLock))
		return REFRESH_LOCK_BUSY;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stedi: SPI_connect failed");

	changed = consume_landing_changes();
	if (only_if_changed && !changed && all_views_populated())
	{
		SPI_finish();
		return REFRESH_NOTHING_NEW;
	}

	trigger = CStringGetTextDatum(scheduled ? "scheduled" : "manual");
	run_id = spi_single_int8("INSERT INTO stedi.refresh_run (trigger) "
							 "VALUES ($1) RETURNING run_id",
							 1, &trigger_type, &trigger);

	for (i = 0; i < lengthof(zone_views); i++)
	{
		const ZoneView *zv = &zone_views[i];
		Oid			relid = zone_relid(zv->zone, zv->name);
		char	   *qualified = quote_qualified_identifier(zv->zone, zv->name);
		bool		concurrently = relation_is_populated(relid);
		const char *method = concurrently ? "concurrent" : "complete";
		TimestampTz started;
		int64		rows;
		Interval   *duration;

		CHECK_FOR_INTERRUPTS();

		started = GetCurrentTimestamp();
		spi_exec(psprintf("REFRESH MATERIALIZED VIEW %s%s",
						  concurrently ? "CONCURRENTLY " : "", qualified),
				 SPI_OK_UTILITY);
		spi_exec(psprintf("ANALYZE %s", qualified), SPI_OK_UTILITY);
		rows = spi_single_int8(psprintf("SELECT count(*) FROM %s", qualified),
							   0, NULL, NULL);
		duration = interval_between(started, GetCurrentTimestamp());

		log_view(run_id, i + 1, relid, method, rows, duration);

		if (rsinfo)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};

			values[0] = ObjectIdGetDatum(relid);
			values[1] = CStringGetTextDatum(method);
			values[2] = Int64GetDatum(rows);
			values[3] = IntervalPGetDatum(duration);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
	}

	run_id_datum = Int64GetDatum(run_id);
	if (SPI_execute_with_args("UPDATE stedi.refresh_run "
							  "SET finished_at = clock_timestamp(), status = 'succeeded' "
							  "WHERE run_id = $1",
							  1, &run_id_type, &run_id_datum, NULL, false, 0)
		!= SPI_OK_UPDATE)
		elog(ERROR, "stedi: could not update stedi.refresh_run");

	stedi_prune_run_history();
	SPI_finish();
	return run_id;
}

/*
 * stedi.refresh(only_if_changed boolean DEFAULT false)
 *		returns table (view regclass, method text, rows bigint, duration interval)
 */
Datum
stedi_refresh(PG_FUNCTION_ARGS)
{
	bool		only_if_changed = PG_ARGISNULL(0) ? false : PG_GETARG_BOOL(0);

	InitMaterializedSRF(fcinfo, 0);
	stedi_refresh_zones(false, true, only_if_changed,
						(ReturnSetInfo *) fcinfo->resultinfo);
	return (Datum) 0;
}
