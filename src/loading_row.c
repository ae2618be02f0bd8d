/*-------------------------------------------------------------------------
 *
 * loading_row.c
 *		The CHECK constraint of the landing tables: every row written there
 *		belongs to a file being loaded in this transaction, in line order.
 *
 * The rules are those loading.c lists; a row of no open file is for
 * loading_by_hand.c to allow or refuse.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "loading.h"

PG_FUNCTION_INFO_V1(stedi_landing_row_check);
PG_FUNCTION_INFO_V1(stedi_rejected_line_check);

/*
 * The checks both CHECK constraints make: the row's file is open in this
 * transaction, holds records of the row's kind, is not finished, and the
 * row's line comes after the last one written to the same table.  Counts
 * the row.  Returns the file, or NULL for a row written by hand (allowed
 * only to roles that may change landing by hand).  Never returns to the
 * CHECK with a NULL: its callers return true, or this raises an error.
 */
static OpenFile *
check_line(FunctionCallInfo fcinfo, bool quarantined)
{
	text	   *kind;
	int32		file_id;
	int64		line;
	OpenFile   *f;
	const char *what = quarantined ? "quarantined line" : "line";
	int64	   *last;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a landing row needs its kind, file and line")));
	kind = PG_GETARG_TEXT_PP(0);
	file_id = PG_GETARG_INT32(1);
	line = PG_GETARG_INT64(2);

	f = stedi_find_file(file_id);
	if (f == NULL)
	{
		stedi_check_by_hand(quarantined ? "landing.rejected" :
					  psprintf("landing.%s", text_to_cstring(kind)), file_id);
		if (!quarantined)
			stedi_note_hand_file(kind, file_id);
		return NULL;
	}
	if (f->finished ||
		strlen(f->kind) != VARSIZE_ANY_EXHDR(kind) ||
		memcmp(f->kind, VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("a row of %s cannot belong to file %d",
						quarantined ? "landing.rejected" :
						psprintf("landing.%s", text_to_cstring(kind)), file_id),
				 errdetail(f->finished ? "The file was finished already." :
						   "The file holds %s records.", f->kind)));

	/* the first row of this file in a subtransaction: keep the counts */
	if (GetCurrentTransactionNestLevel() > 1 &&
		(f->saved == NULL || f->saved->subid != GetCurrentSubTransactionId()))
	{
		SavedCounts *saved = MemoryContextAlloc(TopTransactionContext,
												sizeof(SavedCounts));

		saved->subid = GetCurrentSubTransactionId();
		saved->last_line = f->last_line;
		saved->last_rejected_line = f->last_rejected_line;
		saved->rows = f->rows;
		saved->rejected = f->rejected;
		saved->outer = f->saved;
		f->saved = saved;
	}

	last = quarantined ? &f->last_rejected_line : &f->last_line;
	if (line <= *last)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s " INT64_FORMAT " of file %d is out of order",
						what, line, file_id),
				 errdetail("Line " INT64_FORMAT " was written already; the lines of a file are written in order, each once.",
						   *last)));
	*last = line;
	if (quarantined)
		f->rejected++;
	else
		f->rows++;
	return f;
}

/*
 * stedi.landing_row_check(kind text, file_id integer, line_number bigint,
 *						   owner text, reading_time timestamptz)
 *		returns boolean
 *
 * The CHECK constraint of landing.customer, landing.accelerometer and
 * landing.step_trainer (owner: the reading's email or serial number, and
 * its time; both NULL for customers).  True, or an error:
 * insufficient_privilege for a row of no open file, check_violation for a
 * row of another kind's file, of a finished file, or out of line order.
 */
Datum
stedi_landing_row_check(PG_FUNCTION_ARGS)
{
	OpenFile   *f = check_line(fcinfo, false);

	if (f != NULL && !PG_ARGISNULL(3) && !PG_ARGISNULL(4))
		stedi_add_owner(f, PG_GETARG_TEXT_PP(3), PG_GETARG_TIMESTAMPTZ(4));
	PG_RETURN_BOOL(true);
}

/*
 * stedi.rejected_line_check(kind text, file_id integer, line_number bigint)
 *		returns boolean
 *
 * The CHECK constraint of landing.rejected: the same rules for quarantined
 * lines, counted apart.  (Quarantine feeds no zone: a line by hand needs
 * no rebuild, but is noted like any other.)
 */
Datum
stedi_rejected_line_check(PG_FUNCTION_ARGS)
{
	(void) check_line(fcinfo, true);
	PG_RETURN_BOOL(true);
}
