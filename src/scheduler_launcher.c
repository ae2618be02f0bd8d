/*-------------------------------------------------------------------------
 *
 * scheduler_launcher.c
 *		The scheduler's launcher: the background worker, connected to no
 *		database, that starts a refresh worker for each database that is
 *		due (scheduler.c says how it all fits together).
 *
 * The postmaster starts it, and restarts it should it fail.  It starts
 * short-lived refresh workers (scheduler_worker.c), at most
 * stedi.max_refresh_workers at once: first for the databases whose slot
 * in shared memory is due or asks for the job to be read again, then, once
 * after it starts, for every database there is, to learn of the schedules
 * that shared memory lost in a restart.
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
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "scheduler.h"

/* A worker that died without saying when to run next is retried after this. */
#define WORKER_DIED_RETRY_USECS	(USECS_PER_SEC * 10)

/* The launcher wakes at least this often, to reap workers and reload. */
#define MAX_NAP_MSECS		10000

typedef struct RunningWorker
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} RunningWorker;

static RunningWorker *running;	/* stedi.max_refresh_workers entries at most */
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

	LWLockAcquire(stedi_scheduler_lock, LW_EXCLUSIVE);
	{
		ScheduledDatabase *slot = stedi_scheduler_find_slot(dboid, false);

		if (slot)
			slot->worker_reported = false;
	}
	LWLockRelease(stedi_scheduler_lock);
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

		LWLockAcquire(stedi_scheduler_lock, LW_EXCLUSIVE);
		{
			ScheduledDatabase *slot = stedi_scheduler_find_slot(running[i].dboid, false);

			/*
			 * Exited without saying when to run next: it could not connect,
			 * or failed before it could record anything.  Whatever the
			 * reason, wait longer each time; a change of the job (a new
			 * generation) still sends a worker at once.
			 */
			if (slot && !slot->worker_reported)
			{
				int64		delay = stedi_doubled_delay(WORKER_DIED_RETRY_USECS,
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
		LWLockRelease(stedi_scheduler_lock);

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

	for (i = 0;
		 i < stedi_scheduler->nslots && nrunning < stedi_max_refresh_workers;
		 i++)
	{
		ScheduledDatabase *slot = &stedi_scheduler->slots[i];
		Oid			dboid;
		bool		due;

		LWLockAcquire(stedi_scheduler_lock, LW_SHARED);
		dboid = slot->dboid;
		due = slot->needs_sync || slot->next_run <= now;
		if (dboid != InvalidOid && !due && slot->next_run < wake)
			wake = slot->next_run;
		LWLockRelease(stedi_scheduler_lock);

		if (dboid == InvalidOid || !due || worker_running_for(dboid))
			continue;
		if (!database_exists(dboid))
		{
			LWLockAcquire(stedi_scheduler_lock, LW_EXCLUSIVE);
			slot->dboid = InvalidOid;
			LWLockRelease(stedi_scheduler_lock);
			continue;
		}
		if (!launch_worker(dboid))
		{
			wake = now + USECS_PER_SEC;
			break;
		}
	}

	while (databases_to_probe != NIL && nrunning < stedi_max_refresh_workers)
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
	LWLockAcquire(stedi_scheduler_lock, LW_EXCLUSIVE);
	if (stedi_scheduler->launcher_latch == MyLatch)
		stedi_scheduler->launcher_latch = NULL;
	LWLockRelease(stedi_scheduler_lock);
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
	LWLockAcquire(stedi_scheduler_lock, LW_EXCLUSIVE);
	stedi_scheduler->launcher_latch = MyLatch;
	for (i = 0; i < stedi_scheduler->nslots; i++)
		if (stedi_scheduler->slots[i].dboid != InvalidOid)
			stedi_scheduler->slots[i].needs_sync = true;
	LWLockRelease(stedi_scheduler_lock);
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
