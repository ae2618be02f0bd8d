/*-------------------------------------------------------------------------
 *
 * loading_by_hand.c
 *		Rows of landing written outside the loading protocol: allowed only
 *		to the roles that may change landing by hand, noted as untracked,
 *		and their files locked and listed for the statement trigger.
 *
 * Members of stedi_admin and the extension's owner change landing by hand
 * (and pg_restore writes it): a row of theirs that belongs to no file
 * begun in this transaction passes the CHECK (loading_row.c), and the
 * landing tables' statement trigger then asks for a full rebuild and checks
 * the files listed here for a line written twice.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "loading.h"
#include "stedi.h"

PG_FUNCTION_INFO_V1(stedi_files_written_by_hand);

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

/* a row of no open file was written in this transaction */
static bool untracked_rows = false;

/* The transaction ends: forget its rows by hand, and who may write them. */
void
stedi_forget_rows_by_hand(void)
{
	untracked_rows = false;
	for (int k = 0; k < 3; k++)
	{
		hand_files[k] = NIL;
		hand_file_subids[k] = NIL;
		hand_files_overflow[k] = false;
	}
	by_hand_checked_for = InvalidOid;
	by_hand_allowed = false;
}

/*
 * A subtransaction that rolls back releases the locks it took on files
 * written by hand: they are noted no more, so that the next write takes the
 * lock again.  One that commits hands them to its parent, locks and all.
 */
void
stedi_forget_hand_files(SubTransactionId subid)
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

/* A subtransaction that commits: its files are its parent's. */
void
stedi_hand_files_to_parent(SubTransactionId subid, SubTransactionId parent)
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

/*
 * A row for no open file: allowed, and noted as untracked, only for the
 * roles that may change landing by hand.
 */
void
stedi_check_by_hand(const char *table, int32 file_id)
{
	Oid			user = GetUserId();

	if (by_hand_checked_for != user)
	{
		Oid			admin = get_role_oid("stedi_admin", true);

		by_hand_allowed = stedi_acts_as_extension_owner(user) ||
			(OidIsValid(admin) && has_privs_of_role(user, admin));
		by_hand_checked_for = user;
		stedi_ensure_loading_callbacks();
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

/* Whether a row of no open file was written in this transaction. */
bool
stedi_wrote_rows_by_hand(void)
{
	return untracked_rows;
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
void
stedi_note_hand_file(text *kind, int32 file_id)
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
