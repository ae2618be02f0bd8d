/*-------------------------------------------------------------------------
 *
 * loading_file.c
 *		Begin and finish a file of the loading protocol: stedi.begin_file()
 *		opens its record (open_file), stedi.finish_file() takes the counts
 *		and the owners gathered in it (close_file).
 *
 * Between the two, every row of the file that passes the landing tables'
 * CHECK (loading_row.c) is counted, and the owner of its reading noted
 * here with the first and last time of their readings in the file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "loading.h"

PG_FUNCTION_INFO_V1(stedi_open_file);
PG_FUNCTION_INFO_V1(stedi_close_file);

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
 * The most distinct owners a file's record keeps in memory (about 100 bytes
 * each, plus the value); past that, finish_file reads them from the file's
 * rows instead.
 */
#define MAX_KEPT_OWNERS		100000

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

	stedi_require_extension_owner("stedi.open_file()");
	stedi_ensure_loading_callbacks();
	if (stedi_find_file(file_id) != NULL)
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
	MemoryContextSwitchTo(old);
	stedi_add_open_file(f);
	PG_RETURN_VOID();
}

/*
 * Note that file f holds a reading of owner at time at.  Past
 * MAX_KEPT_OWNERS owners, f keeps none (f->owners NULL).
 */
void
stedi_add_owner(OpenFile *f, text *owner, TimestampTz at)
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

	stedi_require_extension_owner("stedi.close_file()");
	f = stedi_find_file(file_id);
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
