/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *		Refresh the zones on a schedule, from background workers: the
 *		shared memory they share, the settings, and the SQL functions.
 *
 * A database's schedule is the one row of its stedi.refresh_job table.
 * One launcher, started by the postmaster when stedi is in
 * shared_preload_libraries, keeps a small table in shared memory of the
 * databases that have a schedule and when each is next due.  When one is
 * due, it starts a short-lived worker connected to that database, which
 * reads the job, refreshes if anything changed, records the run and
 * exits.  The launcher is in scheduler_launcher.c, the worker in
 * scheduler_worker.c; this file holds the table they share and the SQL
 * functions that ordinary backends call.
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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "scheduler.h"
#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_scheduler_check);
PG_FUNCTION_INFO_V1(stedi_refresh_job_changed);
PG_FUNCTION_INFO_V1(stedi_scheduler_running);

/* GUCs */
static int	max_scheduled_databases = 64;
int			stedi_max_refresh_workers = 2;

SchedulerShared *stedi_scheduler = NULL;
LWLock	   *stedi_scheduler_lock = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * Per-process flags.  stedi_am_refresh_worker is set once in a worker and
 * never changes; job_change_pending lives for one transaction and is
 * cleared at its end, commit or abort.
 */
bool		stedi_am_refresh_worker = false;
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
	stedi_scheduler = ShmemInitStruct("stedi scheduler", scheduler_shmem_size(),
									  &found);
	if (!found)
	{
		memset(stedi_scheduler, 0, scheduler_shmem_size());
		stedi_scheduler->nslots = max_scheduled_databases;
	}
	stedi_scheduler_lock = &(GetNamedLWLockTranche("stedi scheduler"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The slot of database dboid; with create, a free slot made its own when
 * it has none (NULL when every slot is taken); without, NULL when it has
 * none.  Caller holds stedi_scheduler_lock (exclusively to create).
 */
ScheduledDatabase *
stedi_scheduler_find_slot(Oid dboid, bool create)
{
	ScheduledDatabase *free_slot = NULL;
	int			i;

	for (i = 0; i < stedi_scheduler->nslots; i++)
	{
		ScheduledDatabase *slot = &stedi_scheduler->slots[i];

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

/* base (microseconds) doubled times times, at most MAX_BACKOFF_USECS */
int64
stedi_doubled_delay(int64 base, int times)
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

	LWLockAcquire(stedi_scheduler_lock, LW_SHARED);
	latch = stedi_scheduler->launcher_latch;
	LWLockRelease(stedi_scheduler_lock);
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
							&stedi_max_refresh_workers,
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

	if (stedi_scheduler == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stedi cannot schedule refreshes on this server"),
				 errdetail("Scheduled refreshes run in a background worker, which needs stedi in shared_preload_libraries."),
				 errhint("Add stedi to shared_preload_libraries in postgresql.conf and restart the server, or schedule \"SELECT stedi.refresh(only_if_changed => true)\" with pg_cron.")));

	LWLockAcquire(stedi_scheduler_lock, LW_SHARED);
	slot = stedi_scheduler_find_slot(MyDatabaseId, false);
	if (slot == NULL)
		slot = stedi_scheduler_find_slot(InvalidOid, false);
	LWLockRelease(stedi_scheduler_lock);
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

	if (stedi_scheduler != NULL)
	{
		LWLockAcquire(stedi_scheduler_lock, LW_SHARED);
		running = stedi_scheduler->launcher_latch != NULL;
		LWLockRelease(stedi_scheduler_lock);
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
			LWLockAcquire(stedi_scheduler_lock, LW_EXCLUSIVE);
			slot = stedi_scheduler_find_slot(MyDatabaseId, true);
			if (slot)
			{
				slot->needs_sync = true;
				slot->generation++;
			}
			LWLockRelease(stedi_scheduler_lock);
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
	if (stedi_scheduler != NULL && !stedi_am_refresh_worker)
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
