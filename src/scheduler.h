/*-------------------------------------------------------------------------
 *
 * scheduler.h
 *		The refresh scheduler's shared memory, and what its three files
 *		share: scheduler.c (shared memory, settings and the SQL functions),
 *		scheduler_launcher.c (the launcher) and scheduler_worker.c (the
 *		per-database refresh worker).
 *
 *-------------------------------------------------------------------------
 */
#ifndef STEDI_SCHEDULER_H
#define STEDI_SCHEDULER_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

/* A failing refresh is retried after every * 2^failures, at most this. */
#define MAX_BACKOFF_USECS	(USECS_PER_SEC * 3600)

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

/* scheduler.c */
extern SchedulerShared *stedi_scheduler;	/* NULL: not preloaded */
extern LWLock *stedi_scheduler_lock;
extern int	stedi_max_refresh_workers;
extern bool stedi_am_refresh_worker;

extern ScheduledDatabase *stedi_scheduler_find_slot(Oid dboid, bool create);
extern int64 stedi_doubled_delay(int64 base, int times);

/* the entry points of the two kinds of background worker */
extern PGDLLEXPORT void stedi_scheduler_main(Datum main_arg);
extern PGDLLEXPORT void stedi_refresh_worker_main(Datum main_arg);

#endif							/* STEDI_SCHEDULER_H */
