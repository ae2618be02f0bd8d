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

/* refresh.c */

/* what stedi_refresh_zones() did */
#define REFRESH_LOCK_BUSY		(-1)	/* another refresh was running */
#define REFRESH_NOTHING_NEW		0		/* nothing changed since the last one */

extern int64 stedi_refresh_zones(bool scheduled, bool wait_for_lock,
								 bool only_if_changed, bool full,
								 ReturnSetInfo *rsinfo);
extern void stedi_prune_run_history(void);

/* scheduler.c */
extern void stedi_scheduler_define_gucs(void);
extern void stedi_scheduler_register(void);

#endif							/* STEDI_H */
