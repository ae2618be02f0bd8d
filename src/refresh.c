/*-------------------------------------------------------------------------
 *
 * refresh.c
 *		stedi.refresh(): bring the trusted and curated zones up to date.
 *
 * The work itself is SQL, in stedi.maintain_zones() of the install script,
 * where a reader finds it beside the zones' definitions: a full rebuild
 * (the first time, when asked, or after a change only a rebuild can
 * apply), or else only the rows that new files and changed customers
 * touch.  This file is the frame around it: one run at a time, a run
 * history, and the rows the caller sees.  The whole run is one
 * transaction, so readers see the zones either before it or after it,
 * never a mix, and are never blocked (the zones are plain tables changed
 * by DML).
 *
 * Two runs never overlap: each takes the refresh lock, a transaction-level
 * lock on the extension's own catalog object (pg_extension, its oid, sub-id
 * STEDI_LOCK_REFRESH) that nothing but stedi takes: not ANALYZE, not
 * autovacuum, not a reader of the run history, and not a user either (no
 * SQL command locks that object; an advisory lock, which any role can take
 * and hold, would let anyone stop every refresh).  A manual run waits for
 * it; a scheduled one gives up and is logged as skipped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_refresh);
PG_FUNCTION_INFO_V1(stedi_lock_refresh_sql);

/*
 * Set only in the scheduler's refresh worker, around its call of
 * stedi.refresh(): that call is a scheduled run, which does not wait for
 * the refresh lock.  Process-local, and the worker exits after one run.
 */
bool		stedi_in_scheduled_refresh = false;
bool		stedi_scheduled_refresh_busy = false;

/*
 * How long a writer of the zones waits for the refresh lock before it says
 * so (NOTICE): an erasure behind a full refresh may wait minutes, and the
 * privacy officer who runs it should know why nothing happens.
 */
#define REFRESH_LOCK_NOTICE_MS	1000

/*
 * Take the refresh lock, held to the end of the transaction; pg_locks shows
 * it as locktype object, classid pg_extension, objid the extension's oid,
 * objsubid STEDI_LOCK_REFRESH.
 *
 * One lock order: every function that writes the zones, the owner maps or
 * the queues takes this lock before any table.  Refresh, erasure and
 * unload_file take it in ShareUpdateExclusiveLock, which conflicts with
 * itself: they run one at a time, and none of them can hold a table
 * another one waits for while it waits for this lock (the deadlock of
 * 0.2.0's forget_customer beside a full refresh).  Loads take it in
 * RowExclusiveLock, which conflicts with neither: a load never waits for
 * a refresh, an erasure or an unload, whose only common rows with a load
 * are queue entries and owner-map rows of its own new file.
 *
 * Returns false when !wait and another transaction holds it.  A writer that
 * waits longer than REFRESH_LOCK_NOTICE_MS says so, naming what it is
 * (purpose), then waits as long as it takes (lock_timeout applies).
 */
bool
stedi_lock_refresh(LOCKMODE mode, bool wait, const char *purpose)
{
	LOCKTAG		tag;
	Oid			extoid;
	int			waited_ms;

	(void) stedi_extension_owner(&extoid);
	if (!OidIsValid(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"stedi\" is not installed in this database")));
	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, ExtensionRelationId, extoid,
					   STEDI_LOCK_REFRESH);
	if (LockAcquire(&tag, mode, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return true;
	if (!wait)
		return false;

	/* a short wait is the common case: say nothing about it */
	for (waited_ms = 0; waited_ms < REFRESH_LOCK_NOTICE_MS; waited_ms += 10)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (LockAcquire(&tag, mode, false, true) != LOCKACQUIRE_NOT_AVAIL)
			return true;
	}
	ereport(NOTICE,
			(errmsg("%s is waiting for the refresh, erasure or unload in progress to finish",
					purpose),
			 errdetail("They take the refresh lock one at a time; this one has waited %d ms.",
					   REFRESH_LOCK_NOTICE_MS),
			 errhint("SELECT pid, mode, granted FROM pg_locks WHERE locktype = 'object' AND classid = 'pg_extension'::regclass AND objsubid = %d shows who holds it.",
					 STEDI_LOCK_REFRESH)));
	(void) LockAcquire(&tag, mode, false, false);
	return true;
}

/*
 * stedi.lock_refresh(purpose text) returns void
 *
 * Take the refresh lock for the rest of the transaction, before any table
 * (see stedi_lock_refresh).  purpose 'load' takes it in the mode loads
 * share with everything, and never waits; 'erasure', 'unload',
 * 'expectation' (a change of the rules) and 'setting' (a change of what
 * the definitions read) take it as a refresh does, waiting (with a NOTICE
 * after 1000 ms).  Only the
 * extension's owner may call it (the SECURITY DEFINER functions of stedi):
 * anyone else could hold it in an open transaction and stop every
 * refresh.  Errors: insufficient_privilege, invalid_parameter_value.
 */
Datum
stedi_lock_refresh_sql(PG_FUNCTION_ARGS)
{
	char	   *purpose = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (!stedi_acts_as_extension_owner(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("stedi.lock_refresh() may only be called by the functions of stedi"),
				 errhint("Refresh with stedi.refresh(), erase with stedi.forget_customer().")));
	if (strcmp(purpose, "load") == 0)
		(void) stedi_lock_refresh(RowExclusiveLock, true, "load");
	else if (strcmp(purpose, "erasure") == 0)
		(void) stedi_lock_refresh(ShareUpdateExclusiveLock, true, "stedi.forget_customer()");
	else if (strcmp(purpose, "unload") == 0)
		(void) stedi_lock_refresh(ShareUpdateExclusiveLock, true, "stedi.unload_file()");
	else if (strcmp(purpose, "expectation") == 0)
		(void) stedi_lock_refresh(ShareUpdateExclusiveLock, true, "stedi.expect()");
	else if (strcmp(purpose, "setting") == 0)
		(void) stedi_lock_refresh(ShareUpdateExclusiveLock, true, "stedi.set_setting()");
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown purpose \"%s\" for the refresh lock", purpose),
				 errhint("Purposes are load, erasure, unload, expectation and setting.")));
	PG_RETURN_VOID();
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

/*
 * One row of stedi.refresh_log.  natts is the width of stedi.maintain_zones()'s
 * rows: 9 since 0.3.0 (step, view, method, rows, duration, inserted,
 * deleted, duplicates, reason), 5 before (the library serves a database whose
 * extension is not updated yet, whose log has the first six columns).
 */
static void
log_zone(int64 run_id, Datum *values, bool *nulls, int natts)
{
	Oid			types[10] = {INT8OID, INT4OID, REGCLASSOID, TEXTOID, INT8OID,
	INTERVALOID, INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum		args[10];
	char		argnulls[10];
	int			i;

	args[0] = Int64GetDatum(run_id);
	argnulls[0] = ' ';
	for (i = 0; i < natts; i++)
	{
		args[i + 1] = values[i];
		argnulls[i + 1] = nulls[i] ? 'n' : ' ';
	}
	if (SPI_execute_with_args(natts == 9 ?
							  "INSERT INTO stedi.refresh_log "
							  "(run_id, step, view, method, rows, duration, "
							  "inserted, deleted, duplicates, reason) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)" :
							  "INSERT INTO stedi.refresh_log "
							  "(run_id, step, view, method, rows, duration) "
							  "VALUES ($1, $2, $3, $4, $5, $6)",
							  natts + 1, types, args, argnulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "stedi: could not write stedi.refresh_log");
}

/*
 * Delete runs older than the run_history_retention setting, and their
 * zones' log rows, so that a refresh every second does not grow the
 * history without bound.
 */
const char *const stedi_prune_sql =
"WITH pruned AS (DELETE FROM stedi.refresh_run WHERE started_at OPERATOR(pg_catalog.<) "
"(pg_catalog.now() OPERATOR(pg_catalog.-) "
"stedi.setting_value('run_history_retention')::pg_catalog.interval) "
"RETURNING run_id) "
"DELETE FROM stedi.refresh_log WHERE run_id OPERATOR(pg_catalog.=) ANY "
"(SELECT run_id FROM pruned)";

void
stedi_prune_run_history(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stedi: SPI_connect failed");
	spi_exec(stedi_prune_sql, SPI_OK_DELETE);
	SPI_finish();
}

/*
 * Whether nothing at all changed since the last refresh: every queue is
 * empty and every zone has been filled.  Then SPI_tuptable holds the
 * zones' rows as stedi.maintain_zones() would return them, which is not
 * called.  That path plans a dozen statements in a session that has not
 * yet run it; this one plans one, which matters to the scheduler, whose
 * workers each run in a session of their own.  A database whose stedi is
 * older than 0.3.0 (no stedi.zones()) always takes maintain_zones.
 * (Not read-only: the statement takes a snapshot of its own, after the
 * refresh lock, so that it sees what an erasure or unload that held the
 * lock committed meanwhile; the caller's snapshot predates the wait.)
 */
static bool
nothing_changed(void)
{
	if (!OidIsValid(LookupFuncName(list_make2(makeString("stedi"), makeString("zones")),
								   0, NULL, true)))
		return false;
	if (SPI_execute("SELECT z.step, z.zone, 'incremental'::pg_catalog.text, s.rows, "
					"'0'::pg_catalog.interval, 0::pg_catalog.int8, 0::pg_catalog.int8, "
					"0::pg_catalog.int8, 'nothing changed'::pg_catalog.text "
					"FROM stedi.zones() AS z JOIN stedi.zone_state AS s "
					"ON s.view OPERATOR(pg_catalog.=) z.zone "
					"WHERE NOT EXISTS (SELECT FROM stedi.pending_file) "
					"AND NOT EXISTS (SELECT FROM stedi.pending_customer) "
					"AND NOT EXISTS (SELECT FROM stedi.pending_unload) "
					"AND NOT EXISTS (SELECT FROM stedi.landing_change) "
					"AND EXISTS (SELECT FROM stedi.pseudonym_secret) "
					"ORDER BY z.step", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "stedi: could not read the refresh queues");
	return SPI_processed == 5;
}

/*
 * Bring every zone up to date.  Returns the run id of the logged run, or
 * REFRESH_LOCK_BUSY when !wait_for_lock and another run holds the lock, or
 * REFRESH_NOTHING_NEW when only_if_changed and nothing changed.  With
 * rsinfo, one row per zone goes into its tuplestore.
 */
int64
stedi_refresh_zones(bool scheduled, bool wait_for_lock, bool only_if_changed,
					bool full, ReturnSetInfo *rsinfo)
{
	Oid			argtypes[2] = {BOOLOID, BOOLOID};
	Datum		args[2];
	Oid			run_types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		run_values[2];
	TimestampTz started_at;
	Oid			run_id_type = INT8OID;
	Datum		run_id_datum;
	SPITupleTable *zones;
	uint64		nzones;
	int			natts;
	uint64		i;
	int64		run_id;

	if (!stedi_lock_refresh(ShareUpdateExclusiveLock, wait_for_lock,
							 scheduled ? "the scheduled refresh" : "stedi.refresh()"))
		return REFRESH_LOCK_BUSY;

	/* the run's own start, not its transaction's */
	started_at = GetCurrentTimestamp();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stedi: SPI_connect failed");

	args[0] = BoolGetDatum(full);
	args[1] = BoolGetDatum(only_if_changed);
	if (full || !nothing_changed())
	{
		if (SPI_execute_with_args("SELECT * FROM stedi.maintain_zones($1, $2)",
								  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "stedi: stedi.maintain_zones() failed");
	}
	else if (only_if_changed)
	{
		SPI_finish();
		return REFRESH_NOTHING_NEW;
	}
	zones = SPI_tuptable;
	nzones = SPI_processed;
	natts = zones->tupdesc->natts;
	if (natts != 9 && natts != 5)
		elog(ERROR, "stedi: stedi.maintain_zones() returns %d columns", natts);
	if (nzones == 0)
	{
		SPI_finish();
		return REFRESH_NOTHING_NEW;
	}

	run_values[0] = CStringGetTextDatum(scheduled ? "scheduled" : "manual");
	run_values[1] = TimestampTzGetDatum(started_at);
	run_id = spi_single_int8("INSERT INTO stedi.refresh_run (trigger, started_at) "
							 "VALUES ($1, $2) RETURNING run_id",
							 2, run_types, run_values);

	for (i = 0; i < nzones; i++)
	{
		HeapTuple	tup = zones->vals[i];
		TupleDesc	desc = zones->tupdesc;
		Datum		values[9];
		bool		nulls[9];
		int			col;

		for (col = 0; col < natts; col++)
			values[col] = SPI_getbinval(tup, desc, col + 1, &nulls[col]);
		log_zone(run_id, values, nulls, natts);

		if (rsinfo)
		{
			if (rsinfo->setDesc->natts != natts - 1)
				elog(ERROR, "stedi: stedi.refresh() returns %d columns, stedi.maintain_zones() %d",
					 rsinfo->setDesc->natts, natts);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values + 1, nulls + 1);
		}
	}

	run_id_datum = Int64GetDatum(run_id);
	if (SPI_execute_with_args("UPDATE stedi.refresh_run "
							  "SET finished_at = pg_catalog.clock_timestamp(), status = 'succeeded' "
							  "WHERE run_id OPERATOR(pg_catalog.=) $1",
							  1, &run_id_type, &run_id_datum, NULL, false, 0)
		!= SPI_OK_UPDATE)
		elog(ERROR, "stedi: could not update stedi.refresh_run");

	/*
	 * The settings the run applied, what the zones it leaves reflect (from
	 * 0.3.0 on: a database at an older version, while it is updated step by
	 * step with this library, has no such column yet).
	 */
	if (SPI_execute("SELECT FROM pg_catalog.pg_proc "
					"WHERE oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure('stedi.settings_in_force()')",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "stedi: could not look for stedi.settings_in_force()");
	if (SPI_processed == 1 &&
		SPI_execute_with_args("UPDATE stedi.refresh_run SET settings = stedi.settings_in_force() "
							  "WHERE run_id OPERATOR(pg_catalog.=) $1",
							  1, &run_id_type, &run_id_datum, NULL, false, 0)
		!= SPI_OK_UPDATE)
		elog(ERROR, "stedi: could not record the settings of the run");

	stedi_prune_run_history();
	SPI_finish();
	return run_id;
}

/*
 * stedi.refresh(only_if_changed boolean DEFAULT false, full boolean DEFAULT false)
 *		returns table (view regclass, method text, rows bigint, duration interval,
 *					   inserted bigint, deleted bigint, duplicates bigint,
 *					   reason text)
 *
 * One row per zone refreshed, in dependency order: full or incremental and
 * why, rows after, the zone's own duration, rows inserted and deleted, and
 * for the reading zones the identical readings set aside among the rows it
 * computed; none when only_if_changed and nothing changed.  Waits for a refresh in progress, except in the scheduler's
 * worker, where it returns no rows and notes that it was skipped.
 */
Datum
stedi_refresh(PG_FUNCTION_ARGS)
{
	bool		only_if_changed = PG_ARGISNULL(0) ? false : PG_GETARG_BOOL(0);
	bool		full = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	bool		scheduled = stedi_in_scheduled_refresh;
	int64		result;

	InitMaterializedSRF(fcinfo, 0);
	result = stedi_refresh_zones(scheduled, !scheduled, only_if_changed, full,
								 (ReturnSetInfo *) fcinfo->resultinfo);
	if (scheduled && result == REFRESH_LOCK_BUSY)
		stedi_scheduled_refresh_busy = true;
	return (Datum) 0;
}
