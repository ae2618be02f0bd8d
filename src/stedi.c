/*-------------------------------------------------------------------------
 *
 * stedi.c
 *		Module entry point of the stedi extension.
 *
 * The module's SQL-callable functions live in one file per concern:
 * consent.c (the research-consent filter), same_millisecond.c (the
 * timestamp join operator and its operator families), refresh.c
 * (stedi.refresh()) and scheduler.c (the background worker that refreshes
 * on a schedule).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "stedi.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	stedi_scheduler_define_gucs();

	/*
	 * The scheduler needs shared memory and a worker started by the
	 * postmaster, which only a library in shared_preload_libraries can have.
	 * Loaded later, the module still serves every SQL function; only
	 * stedi.schedule_refresh() says what is missing.
	 */
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade)
		stedi_scheduler_register();
}
