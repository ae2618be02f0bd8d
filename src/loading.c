/*-------------------------------------------------------------------------
 *
 * loading.c
 *		The loading protocol's memory of what this transaction loads.
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
 * Memory: per open file a few counters and its distinct owners (each with
 * the first and last time of its readings), in
 * TopTransactionContext.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_open_file);
PG_FUNCTION_INFO_V1(stedi_close_file);
PG_FUNCTION_INFO_V1(stedi_landing_row_check);
PG_FUNCTION_INFO_V1(stedi_rejected_line_check);
PG_FUNCTION_INFO_V1(stedi_track_deletes);
PG_FUNCTION_INFO_V1(stedi_mark_erasure_refresh);
PG_FUNCTION_INFO_V1(stedi_in_erasure_refresh);
PG_FUNCTION_INFO_V1(stedi_landing_change_is_tracked);
PG_FUNCTION_INFO_V1(stedi_files_written_by_hand);

typedef struct OwnerKey
{
	const char *data;			/* not NUL-terminated */
	Size		len;
} OwnerKey;

/*
 * An owner of readings in a file, and the span of their times there: an
 * unload then reads the other files of an owner only where they hold
 * readings of the times it lost.
 */
typedef struct OwnerSpan
{
	OwnerKey	key;			/* first: the hash key */
	TimestampTz first;
	TimestampTz last;
} OwnerSpan;

/*
 * What a file's counters were when a subtransaction first wrote a row of
 * it: a subtransaction that rolls back puts them back, so that the counts
 * finish_file compares are those of the rows that are still there.
 */
typedef struct SavedCounts
{
	SubTransactionId subid;
	int64		last_line;
	int64		last_rejected_line;
	int64		rows;
	int64		rejected;
	struct SavedCounts *outer;
} SavedCounts;

/*
 * The most distinct owners a file's record keeps in memory (about 100 bytes
 * each, plus the value); past that, finish_file reads them from the file's
 * rows instead.
 */
#define MAX_KEPT_OWNERS		100000

typedef struct OpenFile
{
	int32		file_id;
	char		kind[16];		/* customer, accelerometer or step_trainer */
	SubTransactionId opened_in; /* the subtransaction that began it */
	bool		finished;
	SubTransactionId finished_in;	/* and the one that finished it */
	int64		last_line;		/* last line written to landing.<kind> */
	int64		last_rejected_line; /* and to landing.rejected */
	int64		rows;
	int64		rejected;
	HTAB	   *owners;			/* OwnerSpan: whose readings the file holds,
								 * and when; NULL past MAX_KEPT_OWNERS */
	OwnerSpan  *last_owner;		/* most rows repeat the previous owner */
	SavedCounts *saved;			/* innermost first */
} OpenFile;

/*
 * Transaction-scoped: the list and its files live in TopTransactionContext
 * and these pointers are reset by the transaction callback, commit or
 * abort, so nothing survives into the next transaction.
 */
static List *open_files = NIL;
static OpenFile *last_file = NULL;
static bool untracked_rows = false;
static bool tracked_deletes = false;
static bool erasure_refresh = false;
static SubTransactionId erasure_refresh_subid = InvalidSubTransactionId;

/*
 * The files that rows written by hand in this transaction belong to, per
 * landing table of records (NULL once there are more than
 * MAX_HAND_FILES): the landing tables have no unique index on (file_id,
 * line_number), so the statement trigger checks these files for a line
 * written twice, which every refresh would then trip over.
 */
#define MAX_HAND_FILES		1000
static const char *const hand_kinds[] = {"customer", "accelerometer", "step_trainer"};
static List *hand_files[3] = {NIL, NIL, NIL};
static List *hand_file_subids[3] = {NIL, NIL, NIL};	/* where each was noted */
static bool hand_files_overflow[3] = {false, false, false};
static SubTransactionId hand_overflow_subid[3];
static Oid	by_hand_checked_for = InvalidOid;
static bool by_hand_allowed = false;
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
			untracked_rows = false;
			tracked_deletes = false;
			erasure_refresh = false;
			for (int k = 0; k < 3; k++)
			{
				hand_files[k] = NIL;
				hand_file_subids[k] = NIL;
				hand_files_overflow[k] = false;
			}
			by_hand_checked_for = InvalidOid;
			by_hand_allowed = false;
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
/*
 * A subtransaction that rolls back releases the locks it took on files
 * written by hand: they are noted no more, so that the next write takes the
 * lock again.  One that commits hands them to its parent, locks and all.
 */
static void
forget_hand_files(SubTransactionId subid)
{
	for (int k = 0; k < 3; k++)
	{
		List	   *files = NIL;
		List	   *subids = NIL;
		ListCell   *f;
		ListCell   *n;
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		forboth(f, hand_files[k], n, hand_file_subids[k])
		{
			if ((SubTransactionId) lfirst_int(n) < subid)
			{
				files = lappend_int(files, lfirst_int(f));
				subids = lappend_int(subids, lfirst_int(n));
			}
		}
		MemoryContextSwitchTo(old);
		hand_files[k] = files;
		hand_file_subids[k] = subids;
		if (hand_files_overflow[k] && hand_overflow_subid[k] >= subid)
			hand_files_overflow[k] = false;
	}
}

static void
hand_files_to_parent(SubTransactionId subid, SubTransactionId parent)
{
	for (int k = 0; k < 3; k++)
	{
		ListCell   *n;

		foreach(n, hand_file_subids[k])
		{
			if ((SubTransactionId) lfirst_int(n) >= subid)
				lfirst_int(n) = (int) parent;
		}
		if (hand_files_overflow[k] && hand_overflow_subid[k] >= subid)
			hand_overflow_subid[k] = parent;
	}
}

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
		forget_hand_files(mySubid);
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		if (erasure_refresh && erasure_refresh_subid == mySubid)
			erasure_refresh_subid = parentSubid;
		hand_files_to_parent(mySubid, parentSubid);
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

static void
ensure_callback(void)
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
static void
require_extension_owner(const char *function)
{
	if (!stedi_acts_as_extension_owner(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s may only be called by the stedi loading functions", function),
				 errhint("Load files with stedi-load (stedi.begin_file and stedi.finish_file).")));
}

static uint32
owner_hash(const void *key, Size keysize)
{
	const OwnerKey *k = key;

	return hash_bytes((const unsigned char *) k->data, (int) k->len);
}

static int
owner_match(const void *key1, const void *key2, Size keysize)
{
	const OwnerKey *a = key1;
	const OwnerKey *b = key2;

	if (a->len != b->len)
		return 1;
	return memcmp(a->data, b->data, a->len);
}

static OpenFile *
find_file(int32 file_id)
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

/*
 * stedi.open_file(file_id integer, kind text) returns void
 *
 * Called by stedi.begin_file() with the file it just registered.  Errors:
 * insufficient_privilege for any other caller.
 */
Datum
stedi_open_file(PG_FUNCTION_ARGS)
{
	int32		file_id = PG_GETARG_INT32(0);
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(1));
	MemoryContext old;
	OpenFile   *f;
	HASHCTL		ctl;

	require_extension_owner("stedi.open_file()");
	ensure_callback();
	if (find_file(file_id) != NULL)
		elog(ERROR, "stedi: file %d is already open", file_id);

	old = MemoryContextSwitchTo(TopTransactionContext);
	f = palloc0(sizeof(OpenFile));
	f->file_id = file_id;
	f->opened_in = GetCurrentSubTransactionId();
	strlcpy(f->kind, kind, sizeof(f->kind));
	ctl.keysize = sizeof(OwnerKey);
	ctl.entrysize = sizeof(OwnerSpan);
	ctl.hash = owner_hash;
	ctl.match = owner_match;
	ctl.hcxt = TopTransactionContext;
	f->owners = hash_create("stedi file owners", 256, &ctl,
							HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	open_files = lappend(open_files, f);
	MemoryContextSwitchTo(old);
	PG_RETURN_VOID();
}

static void
add_owner(OpenFile *f, text *owner, TimestampTz at)
{
	OwnerKey	key;
	OwnerSpan  *entry = f->last_owner;
	bool		found;

	if (f->owners == NULL)
		return;					/* too many to keep: finish_file reads them */
	key.data = VARDATA_ANY(owner);
	key.len = VARSIZE_ANY_EXHDR(owner);
	if (entry == NULL || entry->key.len != key.len ||
		memcmp(entry->key.data, key.data, key.len) != 0)
	{
		if (hash_get_num_entries(f->owners) >= MAX_KEPT_OWNERS &&
			hash_search(f->owners, &key, HASH_FIND, NULL) == NULL)
		{
			hash_destroy(f->owners);
			f->owners = NULL;
			f->last_owner = NULL;
			return;
		}
		entry = hash_search(f->owners, &key, HASH_ENTER, &found);
		if (!found)
		{
			char	   *copy = MemoryContextAlloc(TopTransactionContext, key.len + 1);

			memcpy(copy, key.data, key.len);
			copy[key.len] = '\0';
			entry->key.data = copy;
			entry->key.len = key.len;
			entry->first = at;
			entry->last = at;
		}
		/* (dynahash never moves an entry: the pointer stays good) */
		f->last_owner = entry;
	}
	if (at < entry->first)
		entry->first = at;
	if (at > entry->last)
		entry->last = at;
}

/*
 * A row for no open file: allowed, and noted as untracked, only for the
 * roles that may change landing by hand.
 */
static void
check_by_hand(const char *table, int32 file_id)
{
	Oid			user = GetUserId();

	if (by_hand_checked_for != user)
	{
		Oid			admin = get_role_oid("stedi_admin", true);

		by_hand_allowed = stedi_acts_as_extension_owner(user) ||
			(OidIsValid(admin) && has_privs_of_role(user, admin));
		by_hand_checked_for = user;
		ensure_callback();
	}
	if (!by_hand_allowed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("file %d is not being loaded in this transaction", file_id),
				 errdetail("Rows reach %s only as part of a file begun with stedi.begin_file() in the same transaction and not yet finished.",
						   table),
				 errhint("Load files with stedi-load.")));
	untracked_rows = true;
}

/* The index of a landing table of records in hand_kinds, or 3 for none. */
static int
hand_kind(text *kind)
{
	int			k;

	for (k = 0; k < 3; k++)
	{
		if (strlen(hand_kinds[k]) == VARSIZE_ANY_EXHDR(kind) &&
			memcmp(hand_kinds[k], VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind)) == 0)
			break;
	}
	return k;
}

/*
 * Two transactions writing the same file's rows by hand at once would each
 * pass the statement trigger's check (each sees the other's rows only once
 * committed).  So a transaction takes, for each file whose rows it writes
 * by hand, a lock on (landing table, file) held to its end: pg_locks shows
 * locktype object, classid the landing table's oid, objid the file_id.
 * Past MAX_HAND_FILES files it takes one on the whole table instead (objid
 * 0, no file's id), which every writer of single files holds in share
 * mode.  A transaction that had to wait reads the other one's rows in its
 * next statement; under REPEATABLE READ or SERIALIZABLE its snapshot
 * cannot, and it fails as a serialization failure, to be retried.
 */
static void
lock_hand_file(int k, int32 file_id, LOCKMODE mode)
{
	LOCKTAG		tag;
	Oid			table = get_relname_relid(hand_kinds[k],
										  get_namespace_oid("landing", false));

	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, table, (Oid) file_id, 0);
	if (LockAcquire(&tag, mode, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return;
	(void) LockAcquire(&tag, mode, false, false);
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access to the rows of file %d in landing.%s",
						file_id, hand_kinds[k]),
				 errdetail("Another transaction wrote rows of that file by hand meanwhile, which this transaction's snapshot does not see."),
				 errhint("Retry the transaction.")));
}

/* Note (and lock) the file of a row of landing.<kind> written by hand. */
static void
note_hand_file(text *kind, int32 file_id)
{
	int			k;

	k = hand_kind(kind);
	if (k == 3 || hand_files_overflow[k] || list_member_int(hand_files[k], file_id))
		return;
	if (list_length(hand_files[k]) >= MAX_HAND_FILES)
	{
		lock_hand_file(k, 0, ExclusiveLock);
		hand_files_overflow[k] = true;
		hand_overflow_subid[k] = GetCurrentSubTransactionId();
		return;
	}
	if (hand_files[k] == NIL)
		lock_hand_file(k, 0, ShareLock);
	lock_hand_file(k, file_id, ExclusiveLock);
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		hand_files[k] = lappend_int(hand_files[k], file_id);
		hand_file_subids[k] = lappend_int(hand_file_subids[k],
										  (int) GetCurrentSubTransactionId());
		MemoryContextSwitchTo(old);
	}
}

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

	f = find_file(file_id);
	if (f == NULL)
	{
		check_by_hand(quarantined ? "landing.rejected" :
					  psprintf("landing.%s", text_to_cstring(kind)), file_id);
		if (!quarantined)
			note_hand_file(kind, file_id);
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
		add_owner(f, PG_GETARG_TEXT_PP(3), PG_GETARG_TIMESTAMPTZ(4));
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

/*
 * stedi.close_file(file_id integer, OUT kind text, OUT rows_loaded bigint,
 *					OUT rows_rejected bigint, OUT owners text[],
 *					OUT first_times timestamptz[], OUT last_times timestamptz[])
 *
 * Called by stedi.finish_file(): what this transaction wrote for the file,
 * counted here, and the distinct owners of its readings with the first and
 * last time of each one's readings (all three NULL when there were more
 * than MAX_KEPT_OWNERS owners).  Errors:
 * undefined_object when the file was not begun in this transaction (or was
 * finished already), insufficient_privilege for any caller but the
 * loading functions.
 */
Datum
stedi_close_file(PG_FUNCTION_ARGS)
{
	int32		file_id = PG_GETARG_INT32(0);
	OpenFile   *f;
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	Datum	   *owners;
	Datum	   *firsts;
	Datum	   *lasts;
	HASH_SEQ_STATUS seq;
	OwnerSpan  *entry;
	int			n = 0;

	require_extension_owner("stedi.close_file()");
	f = find_file(file_id);
	if (f == NULL || f->finished)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("file %d is not being loaded in this transaction", file_id),
				 errdetail(f ? "It was finished already." :
						   "A file is finished in the transaction that began it."),
				 errhint("Load files with stedi-load.")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "stedi: close_file must return a record");

	f->finished = true;
	f->finished_in = GetCurrentSubTransactionId();

	values[0] = CStringGetTextDatum(f->kind);
	values[1] = Int64GetDatum(f->rows);
	values[2] = Int64GetDatum(f->rejected);
	if (f->owners == NULL)
		nulls[3] = nulls[4] = nulls[5] = true;
	else
	{
		long		kept = Max(1, hash_get_num_entries(f->owners));

		owners = palloc(sizeof(Datum) * kept);
		firsts = palloc(sizeof(Datum) * kept);
		lasts = palloc(sizeof(Datum) * kept);
		hash_seq_init(&seq, f->owners);
		while ((entry = hash_seq_search(&seq)) != NULL)
		{
			owners[n] = PointerGetDatum(cstring_to_text_with_len(entry->key.data,
																 (int) entry->key.len));
			firsts[n] = TimestampTzGetDatum(entry->first);
			lasts[n] = TimestampTzGetDatum(entry->last);
			n++;
		}
		values[3] = PointerGetDatum(construct_array(owners, n, TEXTOID, -1,
													false, TYPALIGN_INT));
		values[4] = PointerGetDatum(construct_array(firsts, n, TIMESTAMPTZOID,
													sizeof(TimestampTz),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[5] = PointerGetDatum(construct_array(lasts, n, TIMESTAMPTZOID,
													sizeof(TimestampTz),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
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
	require_extension_owner("stedi.track_deletes()");
	ensure_callback();
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
	require_extension_owner("stedi.mark_erasure_refresh()");
	ensure_callback();
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
		PG_RETURN_BOOL(!untracked_rows);
	if (strcmp(op, "DELETE") == 0)
		PG_RETURN_BOOL(tracked_deletes);
	PG_RETURN_BOOL(false);
}

/*
 * stedi.files_written_by_hand(kind text) returns integer[]
 *
 * For the statement trigger of the landing tables: the files that rows of
 * landing.<kind> written by hand in this transaction belong to; NULL when
 * there were more than 1,000 of them (check the whole table).
 */
Datum
stedi_files_written_by_hand(PG_FUNCTION_ARGS)
{
	text	   *kind = PG_GETARG_TEXT_PP(0);
	Datum	   *ids;
	ListCell   *lc;
	int			k;
	int			n = 0;

	k = hand_kind(kind);
	if (k == 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown landing table \"%s\"", text_to_cstring(kind)),
				 errhint("Tables are customer, accelerometer and step_trainer.")));
	if (hand_files_overflow[k])
		PG_RETURN_NULL();
	ids = palloc(sizeof(Datum) * Max(1, list_length(hand_files[k])));
	foreach(lc, hand_files[k])
		ids[n++] = Int32GetDatum(lfirst_int(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, n, INT4OID, 4, true, TYPALIGN_INT));
}
