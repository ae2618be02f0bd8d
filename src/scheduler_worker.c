/*-------------------------------------------------------------------------
 *
 * scheduler_worker.c
 *		The refresh worker: started by the launcher for one database, it
 *		reads the database's job, refreshes if it is due, records the run,
 *		tells the launcher when to come back and exits (scheduler.c says
 *		how it all fits together).
 *
 * Rights: a worker connects as the bootstrap superuser, because only then
 * can it read a job whatever role made it.  It pins its own search_path
 * (pg_catalog, pg_temp) and transaction mode over whatever the database or
 * a role sets, does its bookkeeping as the extension's owner, and runs the
 * refresh itself as the role that scheduled it, through the SQL function
 * stedi.refresh() (whose privilege check and SET search_path apply), only
 * while that role may execute it.  Every statement it runs names its
 * objects and operators with their schema (worker_statements below; the
 * regression test "security" runs each one beside planted decoys).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "scheduler.h"
#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_worker_statements);

/*
 * The longest interval between runs: interval '1 year', as PostgreSQL
 * compares intervals (12 months of 30 days).  The job table's CHECK
 * constraint holds the same bound.
 */
#define MAX_EVERY_USECS		(USECS_PER_DAY * DAYS_PER_MONTH * MONTHS_PER_YEAR)

/*
 * Every statement the worker runs, schema-qualified to the last operator.
 * (stedi_prune_sql, in refresh.c, is the other one.)
 */
#define SQL_READ_JOB \
	"SELECT j.every, j.next_run_at, j.run_as::pg_catalog.oid, " \
	"j.consecutive_failures, pg_catalog.clock_timestamp(), j.ctid " \
	"FROM stedi.refresh_job AS j"
#define SQL_UPDATE_JOB \
	"UPDATE stedi.refresh_job SET next_run_at = $1, consecutive_failures = $2, " \
	"last_checked_at = pg_catalog.clock_timestamp() " \
	"WHERE ctid OPERATOR(pg_catalog.=) $3"
#define SQL_RECORD_RUN \
	"INSERT INTO stedi.refresh_run (trigger, status, message, finished_at) " \
	"VALUES ('scheduled', $1, $2, pg_catalog.clock_timestamp())"
#define SQL_REFRESH \
	"SELECT pg_catalog.count(*) FROM stedi.refresh(only_if_changed => true)"

/* The session settings a worker pins, whatever the database or a role set. */
static const char *const worker_settings[][2] = {
	{"search_path", "pg_catalog, pg_temp"},
	{"role", "none"},
	{"default_transaction_read_only", "off"},
	{"default_transaction_isolation", "read committed"},
	{"intervalstyle", "postgres"},
};

typedef struct RefreshJob
{
	Interval	every;
	TimestampTz next_run;
	Oid			run_as;
	int			failures;
	TimestampTz now;
	ItemPointerData ctid;		/* the row version read */
} RefreshJob;

/*
 * An interval in microseconds as PostgreSQL compares intervals (a month is
 * 30 days), within [1 s, MAX_EVERY_USECS]: overflowing arithmetic clamps
 * to the longest wait, never to a negative one.
 */
static int64
interval_usecs(const Interval *iv)
{
	int64		months;
	int64		days;
	int64		total;

	if (pg_mul_s64_overflow((int64) iv->month, DAYS_PER_MONTH * USECS_PER_DAY, &months) ||
		pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &days) ||
		pg_add_s64_overflow(months, days, &total) ||
		pg_add_s64_overflow(total, iv->time, &total))
		return MAX_EVERY_USECS;
	return Min(Max(total, USECS_PER_SEC), MAX_EVERY_USECS);
}

static TimestampTz
time_after(TimestampTz t, int64 usecs)
{
	TimestampTz result;

	if (pg_add_s64_overflow(t, usecs, &result) || result > END_TIMESTAMP - 1)
		return END_TIMESTAMP - 1;
	return result;
}

static bool
read_job(RefreshJob *job)
{
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		d;

	if (SPI_execute(SQL_READ_JOB, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "stedi: could not read stedi.refresh_job");
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	job->every = *DatumGetIntervalP(SPI_getbinval(tup, desc, 1, &isnull));
	d = SPI_getbinval(tup, desc, 2, &isnull);
	job->next_run = isnull ? 0 : DatumGetTimestampTz(d);
	job->run_as = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	job->failures = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	job->now = DatumGetTimestampTz(SPI_getbinval(tup, desc, 5, &isnull));
	ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 6, &isnull)),
					&job->ctid);
	return true;
}

/*
 * The database has no schedule: free its slot, unless the job changed
 * since the worker began (another generation): then the launcher sends a
 * worker to read it again.
 */
static void
forget_database(Oid dboid, uint64 generation)
{
	ScheduledDatabase *slot;

	LWLockAcquire(stedi_scheduler_lock, LW_EXCLUSIVE);
	slot = stedi_scheduler_find_slot(dboid, false);
	if (slot && slot->generation == generation)
		slot->dboid = InvalidOid;
	else if (slot)
		slot->worker_reported = true;
	LWLockRelease(stedi_scheduler_lock);
}

static uint64
current_generation(Oid dboid)
{
	ScheduledDatabase *slot;
	uint64		generation = 0;

	LWLockAcquire(stedi_scheduler_lock, LW_SHARED);
	slot = stedi_scheduler_find_slot(dboid, false);
	if (slot)
		generation = slot->generation;
	LWLockRelease(stedi_scheduler_lock);
	return generation;
}

/*
 * Tell the launcher when the job is next due.  A change of the job
 * committed since the worker began (another generation) keeps needs_sync,
 * so that the launcher reads the job again at once.
 */
static void
report_next_run(Oid dboid, TimestampTz next_run, uint64 generation)
{
	ScheduledDatabase *slot;

	LWLockAcquire(stedi_scheduler_lock, LW_EXCLUSIVE);
	slot = stedi_scheduler_find_slot(dboid, true);
	if (slot)
	{
		slot->next_run = next_run;
		slot->worker_reported = true;
		slot->worker_deaths = 0;
		if (slot->generation == generation)
			slot->needs_sync = false;
	}
	LWLockRelease(stedi_scheduler_lock);
}

/*
 * Record when the job runs next, in the row version that was read: a
 * change committed meanwhile wins (returns false, and the launcher reads
 * the job again).
 */
static bool
update_job(const RefreshJob *job, TimestampTz next_run, int failures)
{
	Oid			types[3] = {TIMESTAMPTZOID, INT4OID, TIDOID};
	Datum		values[3];

	values[0] = TimestampTzGetDatum(next_run);
	values[1] = Int32GetDatum(failures);
	values[2] = PointerGetDatum(&job->ctid);
	if (SPI_execute_with_args(SQL_UPDATE_JOB, 3, types, values, NULL, false, 0)
		!= SPI_OK_UPDATE)
		elog(ERROR, "stedi: could not update stedi.refresh_job");
	return SPI_processed == 1;
}

/* A run that did not refresh: skipped, or failed with an error. */
static void
record_unfinished_run(const char *status, const char *message)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(status);
	values[1] = CStringGetTextDatum(message);
	if (SPI_execute_with_args(SQL_RECORD_RUN, 2, types, values, NULL, false, 0)
		!= SPI_OK_INSERT)
		elog(ERROR, "stedi: could not write stedi.refresh_run");
	stedi_prune_run_history();
}

static TimestampTz
backoff(const RefreshJob *job, int failures)
{
	int64		every = interval_usecs(&job->every);

	return time_after(job->now,
					  Max(every, stedi_doubled_delay(every, failures)));
}

static Oid
refresh_function(void)
{
	Oid			argtypes[2] = {BOOLOID, BOOLOID};

	return LookupFuncName(list_make2(makeString("stedi"), makeString("refresh")),
						  2, argtypes, false);
}

/*
 * Run stedi.refresh(only_if_changed => true) as the job's role, in a
 * subtransaction, so that a failure can be recorded in the transaction
 * that rolls the refresh back.  The caller acts as the extension's owner;
 * so does this on return.  Returns the time of the next run, or 0 when the
 * job row changed meanwhile.
 */
static TimestampTz
run_due_job(RefreshJob *job)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec_context;
	ErrorData  *volatile error = NULL;
	volatile bool busy = false;
	int			failures = job->failures;
	TimestampTz next_run;
	const char *refused = NULL;

	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(job->run_as)))
		refused = psprintf("the role the refresh runs as (oid %u) no longer exists; schedule it again",
						   job->run_as);
	else if (pg_proc_aclcheck(refresh_function(), job->run_as, ACL_EXECUTE) != ACLCHECK_OK)
		refused = psprintf("role \"%s\" may not execute stedi.refresh(); grant it stedi_admin or schedule again as such a role",
						   GetUserNameFromId(job->run_as, false));
	if (refused)
	{
		failures++;
		next_run = backoff(job, failures);
		record_unfinished_run("failed", refused);
		return update_job(job, next_run, failures) ? next_run : 0;
	}

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		SetUserIdAndSecContext(job->run_as,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		stedi_in_scheduled_refresh = true;
		stedi_scheduled_refresh_busy = false;
		if (SPI_execute(SQL_REFRESH, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "stedi: the scheduled refresh did not run");
		busy = stedi_scheduled_refresh_busy;
		stedi_in_scheduled_refresh = false;
		SetUserIdAndSecContext(save_userid, save_sec_context);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		stedi_in_scheduled_refresh = false;
		MemoryContextSwitchTo(caller);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller);
	CurrentResourceOwner = owner;

	if (error)
	{
		failures++;
		next_run = backoff(job, failures);
		record_unfinished_run("failed", error->message);
		ereport(LOG,
				(errmsg("stedi: scheduled refresh failed, retrying at %s: %s",
						timestamptz_to_str(next_run), error->message)));
	}
	else
	{
		if (busy)
			record_unfinished_run("skipped",
								  "another refresh of this database was in progress");
		else
			failures = 0;
		next_run = time_after(job->now, interval_usecs(&job->every));
	}
	return update_job(job, next_run, failures) ? next_run : 0;
}

/*
 * Whether stedi.refresh_job, the table the worker's statements name, is the
 * extension's own, in a schema its owner owns: a schema stedi made by
 * someone else (renamed into place, say) is not read, so that nothing in it
 * runs with the worker's rights.
 */
static bool
schedule_table_is_the_extensions(Oid extoid, Oid extowner)
{
	Oid			nsp = get_namespace_oid("stedi", true);
	Oid			relid;
	HeapTuple	tup;
	bool		ours = false;

	if (!OidIsValid(nsp))
		return false;
	relid = get_relname_relid("refresh_job", nsp);
	if (!OidIsValid(relid) ||
		getExtensionOfObject(RelationRelationId, relid) != extoid)
		return false;
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	if (HeapTupleIsValid(tup))
	{
		ours = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner == extowner ||
			superuser_arg(((Form_pg_namespace) GETSTRUCT(tup))->nspowner);
		ReleaseSysCache(tup);
	}
	if (!ours)
		ereport(LOG,
				(errmsg("stedi scheduler: schema \"stedi\" of database %u is not owned by the extension's owner; its schedule is not run",
						MyDatabaseId)));
	return ours;
}

static void
pin_worker_settings(void)
{
	int			i;

	for (i = 0; i < lengthof(worker_settings); i++)
		SetConfigOption(worker_settings[i][0], worker_settings[i][1],
						PGC_SUSET, PGC_S_SESSION);
}

void
stedi_refresh_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	uint64		generation;
	RefreshJob	job;
	Oid			extoid;
	Oid			extowner;
	Oid			save_userid;
	int			save_sec_context;
	enum
	{
		NO_SCHEDULE, NOT_DUE, RAN, JOB_CHANGED
	}			outcome = NO_SCHEDULE;
	TimestampTz next_run = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	stedi_am_refresh_worker = true;
	pgstat_report_appname("stedi refresh");
	pin_worker_settings();

	/* before the snapshot: a change committed after this is seen as one */
	generation = current_generation(dboid);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "stedi: scheduled refresh");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stedi: SPI_connect failed");

	/*
	 * No extension, or one without a schedule table (an older version), or
	 * no schedule: nothing to do here until a schedule appears.
	 */
	extowner = stedi_extension_owner(&extoid);
	if (OidIsValid(extoid) && schedule_table_is_the_extensions(extoid, extowner))
	{
		/* the bookkeeping is the extension owner's, not the superuser's */
		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(extowner,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		if (read_job(&job))
		{
			if (job.next_run > job.now)
			{
				outcome = NOT_DUE;
				next_run = job.next_run;
			}
			else
			{
				next_run = run_due_job(&job);
				outcome = next_run ? RAN : JOB_CHANGED;
			}
		}
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* only what committed is reported */
	switch (outcome)
	{
		case NO_SCHEDULE:
			forget_database(dboid, generation);
			break;
		case NOT_DUE:
		case RAN:
			report_next_run(dboid, next_run, generation);
			break;
		case JOB_CHANGED:
			/* an impossible generation: the launcher reads the job again */
			report_next_run(dboid, GetCurrentTimestamp(), PG_UINT64_MAX);
			break;
	}
	proc_exit(0);
}

/*
 * stedi.worker_statements() returns table (statement text, parameter_types text)
 *
 * Every SQL statement the scheduler's worker runs, with the types of its
 * parameters, and then each setting it pins, as a set_config() call, so that the regression test can run each one beside
 * planted decoys.  The worker reads exactly these constants.
 */
Datum
stedi_worker_statements(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	static const char *const statements[][2] = {
		{SQL_READ_JOB, ""},
		{SQL_UPDATE_JOB, "timestamptz, integer, tid"},
		{SQL_RECORD_RUN, "text, text"},
		{SQL_REFRESH, ""},
	};
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < lengthof(statements); i++)
	{
		values[0] = CStringGetTextDatum(statements[i][0]);
		values[1] = CStringGetTextDatum(statements[i][1]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	values[0] = CStringGetTextDatum(stedi_prune_sql);
	values[1] = CStringGetTextDatum("");
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	for (i = 0; i < lengthof(worker_settings); i++)
	{
		values[0] = CStringGetTextDatum(psprintf("SELECT pg_catalog.set_config('%s', '%s', false)",
												 worker_settings[i][0],
												 worker_settings[i][1]));
		values[1] = CStringGetTextDatum("");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
