/*-------------------------------------------------------------------------
 *
 * stedi.c
 *		Module entry point of the stedi extension.
 *
 * The module's SQL-callable functions live in one file per concern:
 * consent.c (the research-consent filter), same_millisecond.c (the
 * timestamp join operator and its operator families), loading.c with
 * loading_file.c, loading_row.c and loading_by_hand.c (the loading
 * protocol's record of the files a transaction loads), refresh.c
 * (stedi.refresh()), scheduler.c with scheduler_launcher.c and
 * scheduler_worker.c (the background workers that refresh on a schedule)
 * and drop_guard.c (what may drop the landing zone).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/acl.h"
#include "utils/rel.h"

#include "stedi.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	stedi_scheduler_define_gucs();
	stedi_drop_guard_install();

	/*
	 * The scheduler needs shared memory and a worker started by the
	 * postmaster, which only a library in shared_preload_libraries can have.
	 * Loaded later, the module still serves every SQL function; only
	 * stedi.schedule_refresh() says what is missing.
	 */
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade)
		stedi_scheduler_register();
}

/*
 * The owner of extension stedi in this database, and its oid in *extoid;
 * InvalidOid for both when it is not installed.  Read from the catalog
 * directly, so that no search_path or user setting is involved.
 */
Oid
stedi_extension_owner(Oid *extoid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	*extoid = InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("stedi"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_extension ext = (Form_pg_extension) GETSTRUCT(tup);

		*extoid = ext->oid;
		owner = ext->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

/* Whether user has the rights of the extension's owner (superusers do). */
bool
stedi_acts_as_extension_owner(Oid user)
{
	Oid			extoid;
	Oid			extowner = stedi_extension_owner(&extoid);

	return OidIsValid(extowner) && has_privs_of_role(user, extowner);
}
