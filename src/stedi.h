/*-------------------------------------------------------------------------
 *
 * stedi.h
 *		Declarations shared by the files of the stedi backend module.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STEDI_H
#define STEDI_H

#include "fmgr.h"
#include "nodes/execnodes.h"
#include "storage/lockdefs.h"
#include "utils/timestamp.h"

/* stedi.c */
extern Oid	stedi_extension_owner(Oid *extoid);
extern bool stedi_acts_as_extension_owner(Oid user);

/*
 * The refresh lock: a lock on the extension's catalog object with this
 * sub-id (PostgreSQL's own locks on an extension use sub-id 0).
 */
#define STEDI_LOCK_REFRESH		1

/* refresh.c */
extern bool stedi_in_scheduled_refresh;
extern bool stedi_scheduled_refresh_busy;
extern const char *const stedi_prune_sql;
extern bool stedi_lock_refresh(LOCKMODE mode, bool wait, const char *purpose);

/* what stedi_refresh_zones() did */
#define REFRESH_LOCK_BUSY		(-1)	/* another refresh was running */
#define REFRESH_NOTHING_NEW		0		/* nothing changed since the last one */

extern int64 stedi_refresh_zones(bool scheduled, bool wait_for_lock,
								 bool only_if_changed, bool full,
								 ReturnSetInfo *rsinfo);
extern void stedi_prune_run_history(void);

/*
 * The millisecond a time falls in, the resolution of the STEDI clocks:
 * floor(microseconds / 1000), so -1 us lies in millisecond -1, not 0
 * (the =# operators, same_millisecond.c, and the tolerance join,
 * pairing.c).
 */
static inline int64
stedi_millisecond_of(TimestampTz t)
{
	int64		ms = t / 1000;

	if (t % 1000 < 0)
		ms--;
	return ms;
}

/* The largest pairing tolerance, in ms: one hour (set_setting's bound). */
#define STEDI_MAX_TOLERANCE_MS	3600000

/* drop_guard.c */
extern void stedi_drop_guard_install(void);

/* scheduler.c */
extern void stedi_scheduler_define_gucs(void);
extern void stedi_scheduler_register(void);

#endif							/* STEDI_H */
