/*-------------------------------------------------------------------------
 *
 * drop_guard.c
 *		DROP EXTENSION stedi keeps landing data unless told CASCADE.
 *
 * Dropping an extension drops every table it made, rows and all, without
 * a question.  For stedi that is the whole lakehouse, and the landing rows
 * may be the only copy left of what the devices sent.  An event trigger
 * at ddl_command_start reads the DROP EXTENSION statement itself (only C
 * sees whether CASCADE was given) and, when it names stedi without
 * CASCADE while landing holds rows, refuses and says how many rows and
 * files would go.  An empty lakehouse drops as any extension does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(stedi_guard_drop);

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

Datum
stedi_guard_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	DropStmt   *stmt;
	int64		counts[5];
	int			rc;
	int			i;
	bool		isnull;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stedi.guard_drop() must be called as an event trigger")));

	trigdata = (EventTriggerData *) fcinfo->context;
	if (!IsA(trigdata->parsetree, DropStmt))
		PG_RETURN_VOID();
	stmt = (DropStmt *) trigdata->parsetree;
	if (stmt->removeType != OBJECT_EXTENSION ||
		stmt->behavior == DROP_CASCADE ||
		!names_stedi(stmt->objects))
		PG_RETURN_VOID();

	/*
	 * Everything schema-qualified, pg_catalog's count() included: this runs
	 * with the dropping superuser's rights and search_path.  Counting only
	 * once there is something to count keeps an empty lakehouse quick.
	 */
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
		PG_RETURN_VOID();
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

	PG_RETURN_VOID();
}
