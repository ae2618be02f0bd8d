/*-------------------------------------------------------------------------
 *
 * drop_guard.c
 *		The landing zone goes only by a DROP EXTENSION that names stedi.
 *
 * Dropping an extension drops every table it made, rows and all, without
 * a question.  For stedi that is the whole lakehouse, and the landing rows
 * may be the only copy left of what the devices sent.  So:
 *
 *	 - DROP EXTENSION stedi without CASCADE is refused while landing holds
 *	   rows, saying how many rows and files would go; an empty lakehouse
 *	   drops as any extension does;
 *	 - DROP EXTENSION stedi CASCADE drops it, data and all: it was asked for;
 *	 - every other statement that would drop the extension is refused,
 *	   whatever landing holds: DROP OWNED BY its owner, DROP SCHEMA ...
 *	   CASCADE of one of its schemas, DROP EXTENSION plpgsql CASCADE or
 *	   DROP LANGUAGE plpgsql CASCADE (a cascade through its functions).
 *
 * How: an event trigger at ddl_command_start (stedi.guard_drop(), for every
 * command) reads the statement.  A DROP EXTENSION that names stedi is
 * checked there (only C sees whether CASCADE was given) and, when it may
 * go ahead, arms the guard for this statement.  For every other statement
 * the trigger has only loaded this library, whose object access hook then
 * sees each object a statement drops, by whatever path, before it goes,
 * and refuses to drop the extension unless armed.  An sql_drop event
 * trigger cannot do this: it belongs to the extension, so a statement that
 * drops the extension drops the trigger before it would fire.
 *
 * A non-owner's DROP EXTENSION is left to PostgreSQL, so that its own
 * "must be owner" error is the one reported.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
#include "nodes/parsenodes.h"
#include "tcop/cmdtag.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_guard_drop);

static object_access_hook_type prev_object_access_hook = NULL;

/* in the order the DROP locks them */
static const char *const landing_tables[] = {
	"source_file", "customer", "accelerometer", "step_trainer", "rejected"
};

/*
 * The statement under way, as the event trigger saw it: its tag, and
 * whether it is a DROP EXTENSION of stedi that may go ahead.  Cleared when
 * the extension is dropped and at the end of the transaction.
 */
static const char *statement_tag = NULL;
static bool drop_armed = false;
static bool callback_registered = false;

static void
guard_xact_callback(XactEvent event, void *arg)
{
	statement_tag = NULL;
	drop_armed = false;
}

static bool
names_stedi(List *objects)
{
	ListCell   *lc;

	foreach(lc, objects)
	{
		if (strcmp(strVal(lfirst(lc)), "stedi") == 0)
			return true;
	}
	return false;
}

static void
guard_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	Oid			extoid;

	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	/*
	 * Single-user mode and session_replication_role = replica (both for
	 * superusers only) fire no event trigger: nothing could arm the guard,
	 * which is off there as every event trigger is.
	 */
	if (access != OAT_DROP || classId != ExtensionRelationId ||
		creating_extension || !IsUnderPostmaster ||
		SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return;
	(void) stedi_extension_owner(&extoid);
	if (objectId != extoid)
		return;

	if (drop_armed)
	{
		drop_armed = false;		/* for this one statement */
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("%s would drop extension \"stedi\"",
					statement_tag ? statement_tag : "this statement"),
			 errdetail("Extension stedi holds the landing zone, which may be the only copy of what the devices sent; it is dropped only by a DROP EXTENSION that names it."),
			 errhint("Keep a copy with pg_dump, then drop the extension itself: DROP EXTENSION stedi CASCADE.")));
}

/*
 * Called from _PG_init: the hook is in place from the moment the library
 * is loaded, which the event trigger does for every DDL statement.
 */
void
stedi_drop_guard_install(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = guard_object_access;
}

/*
 * Refuse a DROP EXTENSION stedi without CASCADE while landing holds rows,
 * saying how many.
 */
static void
refuse_if_landing_holds_rows(Oid extowner)
{
	int64		counts[5];
	int			rc;
	int			i;
	bool		isnull;
	Oid			save_userid;
	int			save_sec_context;

	/*
	 * As the extension's owner, who can read landing whoever is dropping,
	 * and schema-qualified to pg_catalog's count(): this runs inside a
	 * superuser's statement, under that session's search_path.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(extowner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	/*
	 * Lock out loaders first, as the DROP itself would: a load that commits
	 * between the count and the drop would otherwise go with it.
	 */
	for (i = 0; i < lengthof(landing_tables); i++)
		(void) RangeVarGetRelid(makeRangeVar("landing", (char *) landing_tables[i], -1),
								AccessExclusiveLock, false);

	/*
	 * ... and count what is committed now, not what the statement's (or a
	 * repeatable read transaction's) snapshot saw before it waited.
	 */
	PushActiveSnapshot(GetLatestSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stedi: SPI_connect failed");
	rc = SPI_execute("SELECT EXISTS (SELECT FROM landing.source_file)"
					 " OR EXISTS (SELECT FROM landing.customer)"
					 " OR EXISTS (SELECT FROM landing.accelerometer)"
					 " OR EXISTS (SELECT FROM landing.step_trainer)"
					 " OR EXISTS (SELECT FROM landing.rejected)",
					 true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "stedi: looking for landing rows failed: %s",
			 SPI_result_code_string(rc));
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 1, &isnull)))
	{
		SPI_finish();
		PopActiveSnapshot();
		SetUserIdAndSecContext(save_userid, save_sec_context);
		return;
	}

	rc = SPI_execute("SELECT (SELECT pg_catalog.count(*) FROM landing.customer),"
					 " (SELECT pg_catalog.count(*) FROM landing.accelerometer),"
					 " (SELECT pg_catalog.count(*) FROM landing.step_trainer),"
					 " (SELECT pg_catalog.count(*) FROM landing.rejected),"
					 " (SELECT pg_catalog.count(*) FROM landing.source_file)",
					 true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "stedi: counting landing rows failed: %s",
			 SPI_result_code_string(rc));
	for (i = 0; i < 5; i++)
		counts[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc,
												i + 1, &isnull));
	SPI_finish();
	PopActiveSnapshot();
	SetUserIdAndSecContext(save_userid, save_sec_context);

	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("extension \"stedi\" holds landing data"),
			 errdetail_plural("Dropping it would delete " INT64_FORMAT " customer records, "
							  INT64_FORMAT " accelerometer readings, "
							  INT64_FORMAT " step trainer readings and "
							  INT64_FORMAT " quarantined lines, loaded from "
							  INT64_FORMAT " file.",
							  "Dropping it would delete " INT64_FORMAT " customer records, "
							  INT64_FORMAT " accelerometer readings, "
							  INT64_FORMAT " step trainer readings and "
							  INT64_FORMAT " quarantined lines, loaded from "
							  INT64_FORMAT " files.",
							  (unsigned long) counts[4],
							  counts[0], counts[1], counts[2], counts[3], counts[4]),
			 errhint("Keep a copy with pg_dump first.  To drop the extension and its data, use DROP EXTENSION stedi CASCADE.")));
}

/*
 * stedi.guard_drop() returns event_trigger, at ddl_command_start of every
 * command.  Errors: dependent_objects_still_exist for DROP EXTENSION stedi
 * without CASCADE while landing holds rows.
 */
Datum
stedi_guard_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	DropStmt   *stmt;
	Oid			extoid;
	Oid			extowner;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stedi.guard_drop() must be called as an event trigger")));

	if (!callback_registered)
	{
		RegisterXactCallback(guard_xact_callback, NULL);
		callback_registered = true;
	}
	trigdata = (EventTriggerData *) fcinfo->context;
	statement_tag = GetCommandTagName(trigdata->tag);
	drop_armed = false;

	if (!IsA(trigdata->parsetree, DropStmt))
		PG_RETURN_VOID();
	stmt = (DropStmt *) trigdata->parsetree;
	if (stmt->removeType != OBJECT_EXTENSION || !names_stedi(stmt->objects))
		PG_RETURN_VOID();

	/* a non-owner gets PostgreSQL's own "must be owner" */
	extowner = stedi_extension_owner(&extoid);
	if (!OidIsValid(extoid) || !pg_extension_ownercheck(extoid, GetUserId()))
		PG_RETURN_VOID();

	if (stmt->behavior != DROP_CASCADE)
		refuse_if_landing_holds_rows(extowner);
	drop_armed = true;
	PG_RETURN_VOID();
}
