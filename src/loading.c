/*-------------------------------------------------------------------------
 *
 * loading.c
 *		The loading protocol's memory of what this transaction loads: the
 *		files it has begun, kept across subtransactions and forgotten at
 *		its end, and whether its deletes are tracked and its refresh an
 *		erasure's.
 *
 * A landing row reaches the zones incrementally only if the refresh knows
 * which file it came from and whose readings that file holds.  So the
 * server, not the loader, keeps that record: stedi.begin_file() opens a
 * file for this transaction (open_file), every row written to a landing
 * table passes a CHECK constraint that calls landing_row_check() with its
 * file, line and owner, and stedi.finish_file() closes the file
 * (close_file), taking the counts and the owners gathered here.
 *
 * What that enforces, whatever the caller sends:
 *	 - a row belongs to a file begun in this transaction, of the table's
 *	   kind, and not yet finished: a loader cannot add rows to another
 *	   file, or rows that no refresh would pick up;
 *	 - line numbers of a file rise strictly, so (file_id, line_number)
 *	   stays unique without an index on landing;
 *	 - finish_file's counts are the rows actually written, and its owner
 *	   map the owners actually seen;
 *	 - a transaction cannot commit with a file begun and not finished.
 *
 * Rows written outside the protocol are refused, except for members of
 * stedi_admin and the extension's owner (changes by hand, pg_restore):
 * those rows are noted as untracked, and the landing tables' statement
 * trigger then asks for a full rebuild (landing_change_is_tracked).  No
 * user setting can change any of this: the state lives here, is reset at
 * the end of every transaction, and only functions that the extension's
 * owner alone may execute change it.
 *
 * The files: open_file and close_file are in loading_file.c, the CHECK
 * constraints' function in loading_row.c, the rows written by hand in
 * loading_by_hand.c; this one holds what they share and puts it back at
 * the end of each transaction and subtransaction.
 *
 * Memory: per open file a few counters and its distinct owners (each with
 * the first and last time of its readings), in
 * TopTransactionContext.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "loading.h"
#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_track_deletes);
PG_FUNCTION_INFO_V1(stedi_mark_erasure_refresh);
PG_FUNCTION_INFO_V1(stedi_in_erasure_refresh);
PG_FUNCTION_INFO_V1(stedi_landing_change_is_tracked);

/*
 * Transaction-scoped: the list and its files live in TopTransactionContext
 * and these pointers are reset by the transaction callback, commit or
 * abort, so nothing survives into the next transaction.
 */
static List *open_files = NIL;
static OpenFile *last_file = NULL;
static bool tracked_deletes = false;
static bool erasure_refresh = false;
static SubTransactionId erasure_refresh_subid = InvalidSubTransactionId;
static bool callback_registered = false;

static void
loading_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			foreach(lc, open_files)
			{
				OpenFile   *f = lfirst(lc);

				if (!f->finished)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
							 errmsg("file %d was begun but not finished in this transaction",
									f->file_id),
							 errdetail("Its rows would be in landing without the record the next refresh needs."),
							 errhint("Call stedi.finish_file() before COMMIT, or roll back.")));
			}
			break;
		default:
			open_files = NIL;
			last_file = NULL;
			tracked_deletes = false;
			erasure_refresh = false;
			stedi_forget_rows_by_hand();
			break;
	}
}

/*
 * A subtransaction that rolls back takes back what it did: a file it
 * began is no longer open (its landing.source_file row is gone), a file it
 * finished is open again (its counts, queue entry and log row are gone),
 * and an erasure it was in is over.  Rows it wrote stay counted, so that
 * finish_file then refuses the file rather than accept counts that no
 * longer hold.  A subtransaction that commits hands its files to its
 * parent.
 */
static void
loading_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, open_files)
		{
			OpenFile   *f = lfirst(lc);

			while (f->saved && f->saved->subid >= mySubid)
			{
				f->last_line = f->saved->last_line;
				f->last_rejected_line = f->saved->last_rejected_line;
				f->rows = f->saved->rows;
				f->rejected = f->saved->rejected;
				f->saved = f->saved->outer;
			}
			if (f->finished && f->finished_in >= mySubid)
				f->finished = false;
			if (f->opened_in >= mySubid)
			{
				if (last_file == f)
					last_file = NULL;
				open_files = foreach_delete_current(open_files, lc);
			}
		}
		tracked_deletes = false;
		/* (the refresh's own exception blocks must not end the mark) */
		if (erasure_refresh && erasure_refresh_subid >= mySubid)
			erasure_refresh = false;
		stedi_forget_hand_files(mySubid);
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		if (erasure_refresh && erasure_refresh_subid == mySubid)
			erasure_refresh_subid = parentSubid;
		stedi_hand_files_to_parent(mySubid, parentSubid);
		foreach(lc, open_files)
		{
			OpenFile   *f = lfirst(lc);

			if (f->opened_in >= mySubid)
				f->opened_in = parentSubid;
			if (f->finished && f->finished_in >= mySubid)
				f->finished_in = parentSubid;
			/* the parent's own saved counts, if any, are the older ones */
			if (f->saved && f->saved->subid >= mySubid)
			{
				if (f->saved->outer && f->saved->outer->subid >= parentSubid)
					f->saved = f->saved->outer;
				else
					f->saved->subid = parentSubid;
			}
		}
	}
}

/* Have this file's callbacks keep the record from now on. */
void
stedi_ensure_loading_callbacks(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(loading_xact_callback, NULL);
		RegisterSubXactCallback(loading_subxact_callback, NULL);
		callback_registered = true;
	}
}

/*
 * The protocol's own functions run inside stedi's SECURITY DEFINER loading
 * functions, as the extension's owner; EXECUTE is not granted to anyone
 * else, and this checks it once more, so that a grant made by mistake
 * cannot open a file or switch tracking off.
 */
void
stedi_require_extension_owner(const char *function)
{
	if (!stedi_acts_as_extension_owner(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s may only be called by the stedi loading functions", function),
				 errhint("Load files with stedi-load (stedi.begin_file and stedi.finish_file).")));
}

/* The file of that id begun in this transaction (finished or not), or NULL. */
OpenFile *
stedi_find_file(int32 file_id)
{
	ListCell   *lc;

	if (last_file && last_file->file_id == file_id)
		return last_file;
	foreach(lc, open_files)
	{
		OpenFile   *f = lfirst(lc);

		if (f->file_id == file_id)
		{
			last_file = f;
			return f;
		}
	}
	return NULL;
}

/* Add a file begun in this transaction, made in TopTransactionContext. */
void
stedi_add_open_file(OpenFile *f)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	open_files = lappend(open_files, f);
	MemoryContextSwitchTo(old);
}

/*
 * stedi.track_deletes(on boolean) returns void
 *
 * stedi.forget_customer() and stedi.unload_file() say that the deletes they
 * make are tracked: they queue what they removed for the refresh
 * themselves.  Only they may (the extension's owner).
 */
Datum
stedi_track_deletes(PG_FUNCTION_ARGS)
{
	stedi_require_extension_owner("stedi.track_deletes()");
	stedi_ensure_loading_callbacks();
	tracked_deletes = PG_GETARG_BOOL(0);
	PG_RETURN_VOID();
}

/*
 * stedi.mark_erasure_refresh(on boolean) returns void
 *
 * stedi.forget_customer() says that the refresh it runs is an erasure's:
 * the expectations whose action is fail then keep rows out and put their
 * files back in the queue instead of failing it (stedi.check_zone), so
 * that no rule about the data of others can stop a customer from being
 * erased.  Only the extension's owner may; the mark ends with the
 * transaction, or the subtransaction it was set in.
 */
Datum
stedi_mark_erasure_refresh(PG_FUNCTION_ARGS)
{
	stedi_require_extension_owner("stedi.mark_erasure_refresh()");
	stedi_ensure_loading_callbacks();
	erasure_refresh = PG_GETARG_BOOL(0);
	erasure_refresh_subid = GetCurrentSubTransactionId();
	PG_RETURN_VOID();
}

/*
 * stedi.in_erasure_refresh() returns boolean
 *
 * Whether the refresh running is an erasure's (stedi.mark_erasure_refresh).
 */
Datum
stedi_in_erasure_refresh(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(erasure_refresh);
}

/*
 * stedi.landing_change_is_tracked(operation text) returns boolean
 *
 * For the statement trigger of the landing tables: whether the refresh
 * already knows precisely what this statement changed.  An INSERT is,
 * unless a row was written by hand in this transaction (every row passes
 * landing_row_check); a DELETE only inside forget_customer or unload_file
 * (and a DELETE of landing.source_file is refused outside them); UPDATE and
 * TRUNCATE never.
 */
Datum
stedi_landing_change_is_tracked(PG_FUNCTION_ARGS)
{
	char	   *op = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (strcmp(op, "INSERT") == 0)
		PG_RETURN_BOOL(!stedi_wrote_rows_by_hand());
	if (strcmp(op, "DELETE") == 0)
		PG_RETURN_BOOL(tracked_deletes);
	PG_RETURN_BOOL(false);
}
