/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *		Refresh the zones on a schedule, from a background worker.
 *
 * A database's schedule is the one row of its stedi.refresh_job table.
 * One launcher, started by the postmaster when stedi is in
 * shared_preload_libraries, keeps a small table in shared memory of the
 * databases that have a schedule and when each is next due.  When one is
 * due, it starts a short-lived worker connected to that database, which
 * reads the job, refreshes if anything changed, records the run and
 * exits.
 *
 * Why short-lived workers and a launcher that connects to no database: a
 * worker that stayed connected to a database would keep DROP DATABASE
 * from ever succeeding, and would have to notice DROP EXTENSION by itself.
 * Here nothing stays connected between runs; a worker that finds the
 * extension or the job gone simply forgets the database.
 *
 * How the launcher learns of schedules: at start it sends a worker to
 * every database once (after a restart, shared memory is empty, the job
 * tables are not); afterwards, a statement trigger on stedi.refresh_job
 * tells it at commit, so that stedi.schedule_refresh(), an UPDATE of the
 * table by hand and a restore from a dump all take effect at once.  Each
 * such commit bumps the database's generation; a worker's report of when
 * to run next clears "read the job again" only if the generation is the
 * one it started under, and its update of the job row applies only to the
 * row version it read, so a change committed during a run is never lost.
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
 * A worker that exits without reporting (it could not connect, or failed
 * before its error handling) is retried after a backoff that doubles, from
 * WORKER_DIED_RETRY_USECS up to MAX_BACKOFF_USECS, never in a loop.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "utils/lsyscache.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "parser/parse_func.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "stedi.h"

PGDLLEXPORT void stedi_scheduler_main(Datum main_arg);
PGDLLEXPORT void stedi_refresh_worker_main(Datum main_arg);

PG_FUNCTION_INFO_V1(stedi_scheduler_check);
PG_FUNCTION_INFO_V1(stedi_refresh_job_changed);
PG_FUNCTION_INFO_V1(stedi_scheduler_running);
PG_FUNCTION_INFO_V1(stedi_worker_statements);

/* A failing refresh is retried after every * 2^failures, at most this. */
#define MAX_BACKOFF_USECS	(USECS_PER_SEC * 3600)

/* A worker that died without saying when to run next is retried after this. */
#define WORKER_DIED_RETRY_USECS	(USECS_PER_SEC * 10)

/*
 * The longest interval between runs: interval '1 year', as PostgreSQL
 * compares intervals (12 months of 30 days).  The job table's CHECK
 * constraint holds the same bound.
 */
#define MAX_EVERY_USECS		(USECS_PER_DAY * DAYS_PER_MONTH * MONTHS_PER_YEAR)

/* The launcher wakes at least this often, to reap workers and reload. */
#define MAX_NAP_MSECS		10000

typedef struct ScheduledDatabase
{
	Oid			dboid;			/* InvalidOid: free slot */
	bool		needs_sync;		/* job table changed: read it again */
	uint64		generation;		/* committed changes of the job table */
	TimestampTz next_run;		/* when the job is next due */
	bool		worker_reported;	/* the last worker said when to run next */
	int			worker_deaths;	/* workers in a row that did not */
} ScheduledDatabase;

typedef struct SchedulerShared
{
	Latch	   *launcher_latch; /* NULL while no launcher runs */
	int			nslots;
	ScheduledDatabase slots[FLEXIBLE_ARRAY_MEMBER];
} SchedulerShared;

/* GUCs */
static int	max_scheduled_databases = 64;
static int	max_refresh_workers = 2;

static SchedulerShared *scheduler = NULL;
static LWLock *scheduler_lock = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * Per-process flags.  am_refresh_worker is set once in a worker and never
 * changes; job_change_pending lives for one transaction and is cleared at
 * its end, commit or abort.
 */
static bool am_refresh_worker = false;
static bool job_change_pending = false;
static bool xact_callback_registered = false;

/* ----------------------------------------------------------------
 * Shared memory
 * ----------------------------------------------------------------
 */

static Size
scheduler_shmem_size(void)
{
	return add_size(offsetof(SchedulerShared, slots),
					mul_size(max_scheduled_databases, sizeof(ScheduledDatabase)));
}

static void
scheduler_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(scheduler_shmem_size());
	RequestNamedLWLockTranche("stedi scheduler", 1);
}

static void
scheduler_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	scheduler = ShmemInitStruct("stedi scheduler", scheduler_shmem_size(), &found);
	if (!found)
	{
		memset(scheduler, 0, scheduler_shmem_size());
		scheduler->nslots = max_scheduled_databases;
	}
	scheduler_lock = &(GetNamedLWLockTranche("stedi scheduler"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/* Caller holds scheduler_lock. */
static ScheduledDatabase *
find_slot(Oid dboid, bool create)
{
	ScheduledDatabase *free_slot = NULL;
	int			i;

	for (i = 0; i < scheduler->nslots; i++)
	{
		ScheduledDatabase *slot = &scheduler->slots[i];

		if (slot->dboid == dboid)
			return slot;
		if (slot->dboid == InvalidOid && free_slot == NULL)
			free_slot = slot;
	}
	if (create && free_slot)
	{
		free_slot->dboid = dboid;
		free_slot->needs_sync = false;
		free_slot->generation = 0;
		free_slot->next_run = 0;
		free_slot->worker_reported = true;
		free_slot->worker_deaths = 0;
	}
	return create ? free_slot : NULL;
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

	LWLockAcquire(scheduler_lock, LW_EXCLUSIVE);
	slot = find_slot(dboid, false);
	if (slot && slot->generation == generation)
		slot->dboid = InvalidOid;
	else if (slot)
		slot->worker_reported = true;
	LWLockRelease(scheduler_lock);
}

static uint64
current_generation(Oid dboid)
{
	ScheduledDatabase *slot;
	uint64		generation = 0;

	LWLockAcquire(scheduler_lock, LW_SHARED);
	slot = find_slot(dboid, false);
	if (slot)
		generation = slot->generation;
	LWLockRelease(scheduler_lock);
	return generation;
}

/* base doubled times times, at most MAX_BACKOFF_USECS */
static int64
doubled_delay(int64 base, int times)
{
	int64		delay = base;
	int			i;

	for (i = 0; i < times && delay < MAX_BACKOFF_USECS; i++)
		delay *= 2;
	return Min(delay, MAX_BACKOFF_USECS);
}

static void
wake_launcher(void)
{
	Latch	   *latch;

	LWLockAcquire(scheduler_lock, LW_SHARED);
	latch = scheduler->launcher_latch;
	LWLockRelease(scheduler_lock);
	if (latch)
		SetLatch(latch);
}

/* ----------------------------------------------------------------
 * Module load: GUCs and the launcher's registration
 * ----------------------------------------------------------------
 */

void
stedi_scheduler_define_gucs(void)
{
	/* a PGC_POSTMASTER variable can only be defined while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("stedi.max_scheduled_databases",
								"Maximum number of databases with a refresh schedule.",
								"Sizes the scheduler's shared memory.",
								&max_scheduled_databases,
								64, 1, 10000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
	DefineCustomIntVariable("stedi.max_refresh_workers",
							"Maximum number of scheduled refreshes running at once, over all databases.",
							"Each takes one of max_worker_processes.",
							&max_refresh_workers,
							2, 1, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("stedi");
}

void
stedi_scheduler_register(void)
{
	BackgroundWorker worker;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = scheduler_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = scheduler_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "stedi");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "stedi_scheduler_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "stedi scheduler");
	snprintf(worker.bgw_type, BGW_MAXLEN, "stedi scheduler");
	RegisterBackgroundWorker(&worker);
}

/* ----------------------------------------------------------------
 * SQL-callable functions, run in ordinary backends
 * ----------------------------------------------------------------
 */

/*
 * stedi.scheduler_check(): fail with a clear message when schedules cannot
 * run here.  Called by stedi.schedule_refresh() before it stores anything.
 */
Datum
stedi_scheduler_check(PG_FUNCTION_ARGS)
{
	ScheduledDatabase *slot;

	if (scheduler == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stedi cannot schedule refreshes on this server"),
				 errdetail("Scheduled refreshes run in a background worker, which needs stedi in shared_preload_libraries."),
				 errhint("Add stedi to shared_preload_libraries in postgresql.conf and restart the server, or schedule \"SELECT stedi.refresh(only_if_changed => true)\" with pg_cron.")));

	LWLockAcquire(scheduler_lock, LW_SHARED);
	slot = find_slot(MyDatabaseId, false);
	if (slot == NULL)
		slot = find_slot(InvalidOid, false);
	LWLockRelease(scheduler_lock);
	if (slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many databases with a refresh schedule"),
				 errdetail("stedi.max_scheduled_databases is %d.", max_scheduled_databases),
				 errhint("Raise stedi.max_scheduled_databases and restart the server.")));

	PG_RETURN_VOID();
}

/*
 * stedi.scheduler_running(): whether the launcher is up, for zone_status.
 */
Datum
stedi_scheduler_running(PG_FUNCTION_ARGS)
{
	bool		running = false;

	if (scheduler != NULL)
	{
		LWLockAcquire(scheduler_lock, LW_SHARED);
		running = scheduler->launcher_latch != NULL;
		LWLockRelease(scheduler_lock);
	}
	PG_RETURN_BOOL(running);
}

static void
job_change_xact_callback(XactEvent event, void *arg)
{
	ScheduledDatabase *slot;

	if (!job_change_pending)
		return;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
			job_change_pending = false;
			LWLockAcquire(scheduler_lock, LW_EXCLUSIVE);
			slot = find_slot(MyDatabaseId, true);
			if (slot)
			{
				slot->needs_sync = true;
				slot->generation++;
			}
			LWLockRelease(scheduler_lock);
			if (slot)
				wake_launcher();
			else
				ereport(WARNING,
						(errmsg("stedi: no room to schedule refreshes of this database"),
						 errhint("Raise stedi.max_scheduled_databases and restart the server.")));
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* COMMIT PREPARED would come from anywhere, unseen by this hook */
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot PREPARE a transaction that changed the refresh schedule"),
					 errhint("Change the schedule in a transaction of its own.")));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			job_change_pending = false;
			break;
		default:
			break;
	}
}

/*
 * Statement trigger on stedi.refresh_job: at commit, have the launcher read
 * this database's job again.  Not at once: before commit a worker would
 * not see the change yet.
 */
Datum
stedi_refresh_job_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stedi_refresh_job_changed() must be called as a trigger")));

	/* a worker keeps shared memory up to date itself */
	if (scheduler != NULL && !am_refresh_worker)
	{
		if (!xact_callback_registered)
		{
			RegisterXactCallback(job_change_xact_callback, NULL);
			xact_callback_registered = true;
		}
		job_change_pending = true;
	}
	return PointerGetDatum(NULL);
}

/* ----------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------
 */

typedef struct RunningWorker
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} RunningWorker;

static RunningWorker *running;	/* max_refresh_workers entries at most */
static int	nrunning = 0;
static int	running_capacity = 0;
static List *databases_to_probe = NIL;

/* Every database a worker may connect to, probed once when the launcher starts. */
static List *
all_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext caller = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		old = MemoryContextSwitchTo(caller);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

static bool
database_exists(Oid dboid)
{
	bool		exists;

	StartTransactionCommand();
	exists = SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dboid));
	CommitTransactionCommand();
	return exists;
}

static bool
worker_running_for(Oid dboid)
{
	int			i;

	for (i = 0; i < nrunning; i++)
		if (running[i].dboid == dboid)
			return true;
	return false;
}

static bool
launch_worker(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "stedi");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "stedi_refresh_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "stedi refresh of database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "stedi refresh");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		ereport(LOG,
				(errmsg("stedi scheduler: no background worker slot free for a refresh of database %u", dboid),
				 errhint("Raise max_worker_processes, or lower stedi.max_refresh_workers.")));
		return false;
	}
	running[nrunning].dboid = dboid;
	running[nrunning].handle = handle;
	nrunning++;

	LWLockAcquire(scheduler_lock, LW_EXCLUSIVE);
	{
		ScheduledDatabase *slot = find_slot(dboid, false);

		if (slot)
			slot->worker_reported = false;
	}
	LWLockRelease(scheduler_lock);
	return true;
}

/* Forget workers that have exited; retry later a database whose worker died. */
static void
reap_workers(void)
{
	int			i = 0;

	while (i < nrunning)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(running[i].handle, &pid) != BGWH_STOPPED)
		{
			i++;
			continue;
		}

		LWLockAcquire(scheduler_lock, LW_EXCLUSIVE);
		{
			ScheduledDatabase *slot = find_slot(running[i].dboid, false);

			/*
			 * Exited without saying when to run next: it could not connect,
			 * or failed before it could record anything.  Whatever the
			 * reason, wait longer each time; a change of the job (a new
			 * generation) still sends a worker at once.
			 */
			if (slot && !slot->worker_reported)
			{
				int64		delay = doubled_delay(WORKER_DIED_RETRY_USECS,
												  slot->worker_deaths);

				slot->worker_deaths++;
				slot->worker_reported = true;
				slot->needs_sync = false;
				slot->next_run = GetCurrentTimestamp() + delay;
				ereport(LOG,
						(errmsg("stedi scheduler: the refresh worker of database %u exited without finishing; next try in %d s",
								running[i].dboid, (int) (delay / USECS_PER_SEC))));
			}
		}
		LWLockRelease(scheduler_lock);

		pfree(running[i].handle);
		running[i] = running[--nrunning];
	}
}

/*
 * Start workers for the databases that are due, then for the ones still to
 * probe.  Returns how long the launcher may sleep, in milliseconds.
 */
static long
launch_due_workers(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake = now + MAX_NAP_MSECS * INT64CONST(1000);
	int			i;

	for (i = 0; i < scheduler->nslots && nrunning < max_refresh_workers; i++)
	{
		Oid			dboid;
		bool		due;

		LWLockAcquire(scheduler_lock, LW_SHARED);
		dboid = scheduler->slots[i].dboid;
		due = scheduler->slots[i].needs_sync || scheduler->slots[i].next_run <= now;
		if (dboid != InvalidOid && !due && scheduler->slots[i].next_run < wake)
			wake = scheduler->slots[i].next_run;
		LWLockRelease(scheduler_lock);

		if (dboid == InvalidOid || !due || worker_running_for(dboid))
			continue;
		if (!database_exists(dboid))
		{
			LWLockAcquire(scheduler_lock, LW_EXCLUSIVE);
			scheduler->slots[i].dboid = InvalidOid;
			LWLockRelease(scheduler_lock);
			continue;
		}
		if (!launch_worker(dboid))
		{
			wake = now + USECS_PER_SEC;
			break;
		}
	}

	while (databases_to_probe != NIL && nrunning < max_refresh_workers)
	{
		Oid			dboid = linitial_oid(databases_to_probe);

		databases_to_probe = list_delete_first(databases_to_probe);
		if (worker_running_for(dboid))
			continue;
		if (!launch_worker(dboid))
		{
			databases_to_probe = lcons_oid(dboid, databases_to_probe);
			wake = now + USECS_PER_SEC;
			break;
		}
	}

	/* still work waiting for a free worker: look again soon */
	if (databases_to_probe != NIL)
		wake = Min(wake, now + USECS_PER_SEC);

	return Max(0, (long) ((wake - now + 999) / 1000));
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(scheduler_lock, LW_EXCLUSIVE);
	if (scheduler->launcher_latch == MyLatch)
		scheduler->launcher_latch = NULL;
	LWLockRelease(scheduler_lock);
}

void
stedi_scheduler_main(Datum main_arg)
{
	MemoryContext loop_context;
	int			i;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: only the shared catalogs, to list and check databases */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("stedi scheduler");

	running_capacity = 100;		/* the most stedi.max_refresh_workers allows */
	running = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(RunningWorker) * running_capacity);

	/*
	 * After a crash of the launcher alone, shared memory still holds the
	 * schedules; their workers are gone, so read every job again.
	 */
	LWLockAcquire(scheduler_lock, LW_EXCLUSIVE);
	scheduler->launcher_latch = MyLatch;
	for (i = 0; i < scheduler->nslots; i++)
		if (scheduler->slots[i].dboid != InvalidOid)
			scheduler->slots[i].needs_sync = true;
	LWLockRelease(scheduler_lock);
	before_shmem_exit(launcher_detach, (Datum) 0);

	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		databases_to_probe = all_databases();
		MemoryContextSwitchTo(old);
	}

	ereport(LOG, (errmsg("stedi scheduler started")));

	loop_context = AllocSetContextCreate(TopMemoryContext, "stedi scheduler loop",
										 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		nap;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		old = MemoryContextSwitchTo(loop_context);
		reap_workers();
		MemoryContextSwitchTo(TopMemoryContext);	/* the probe list lives there */
		nap = launch_due_workers();
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop_context);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nap, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------
 * The per-database worker
 * ----------------------------------------------------------------
 */

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
 * Tell the launcher when the job is next due.  A change of the job
 * committed since the worker began (another generation) keeps needs_sync,
 * so that the launcher reads the job again at once.
 */
static void
report_next_run(Oid dboid, TimestampTz next_run, uint64 generation)
{
	ScheduledDatabase *slot;

	LWLockAcquire(scheduler_lock, LW_EXCLUSIVE);
	slot = find_slot(dboid, true);
	if (slot)
	{
		slot->next_run = next_run;
		slot->worker_reported = true;
		slot->worker_deaths = 0;
		if (slot->generation == generation)
			slot->needs_sync = false;
	}
	LWLockRelease(scheduler_lock);
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

	return time_after(job->now, Max(every, doubled_delay(every, failures)));
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
	am_refresh_worker = true;
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
