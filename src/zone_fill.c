/*-------------------------------------------------------------------------
 *
 * zone_fill.c
 *		stedi.fill_zone(): write a zone's definition into its table in
 *		batches, the way COPY writes.
 *
 * A full refresh writes every row of every zone: millions of rows at
 * scale.  INSERT ... SELECT writes them one at a time, each with its own
 * WAL record, free space map lookup and buffer lock.  Here the
 * definition's rows stream straight out of the executor (SPI with a
 * DestReceiver, so they are never gathered in memory) and are written a
 * batch at a time with table_multi_insert(): one WAL record per page,
 * through a bulk-write buffer ring that does not flush the shared buffer
 * cache.  Everything INSERT would check is still checked: NOT NULL and
 * CHECK constraints, and each index (unique ones included) gets its entry.
 * A partition's bounds are checked.  A table with triggers (foreign keys
 * included), row security or generated columns is refused rather than
 * have them silently skipped.
 *
 * With an owner column, the rows are written grouped by owner: they are
 * gathered up to maintenance_work_mem, sorted by a hash of the owner
 * (rows of one owner keep their order), and then written.  A customer who
 * withdraws consent or is erased has all rows deleted, and the pages
 * those rows lie on are what such a delete reads and writes (each one
 * whole, the first time after a checkpoint): rows written as they come,
 * in the order of the feeds, where each file holds a slice of every
 * customer's readings, put one customer's rows on as many pages as there
 * are files, while grouped they fill a few pages.  Files are the other
 * way rows are deleted (unloading), and the grouping scatters a file's
 * rows over the pages of its group; consent changes are by far the
 * more frequent.
 *
 * Memory: without an owner column at most FILL_BATCH_ROWS rows are held at
 * a time; with one, rows up to maintenance_work_mem (as tuples, plus 16
 * bytes each), and never fewer than FILL_BATCH_ROWS.  A unique index is
 * checked when the index entries are made, after the held rows are
 * written (first in the indexes that lead with the owner, in the owners'
 * order, then in the others, in the order the rows came): a fill that
 * fails on a duplicate and on another row's error may report the other
 * error first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "nodes/makefuncs.h"
#include "optimizer/clauses.h"
#include "catalog/pg_proc.h"
#include "utils/relcache.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"

/* COPY's own batch size: big enough to fill pages, small enough to bound memory */
#define FILL_BATCH_ROWS		1000

/* A row held to be written in its owner's group. */
typedef struct FillRow
{
	uint64		order;			/* owner's hash, then arrival within the group */
	Size		offset;			/* of its HeapTupleData and data in the arena */
} FillRow;

#define ST_SORT sort_fill_rows
#define ST_ELEMENT_TYPE FillRow
#define ST_COMPARE(a, b) ((a)->order < (b)->order ? -1 : (a)->order > (b)->order ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

typedef struct ZoneFill
{
	DestReceiver pub;			/* must be first */
	Relation	zone;
	ResultRelInfo *rri;
	EState	   *estate;
	BulkInsertState bistate;
	CommandId	cid;
	int		   *zone_attno;		/* zone column of each definition column */
	TupleTableSlot *batch[FILL_BATCH_ROWS];
	HeapTuple	batch_held[FILL_BATCH_ROWS];	/* held row of each, if any */
	int			nbatch;
	uint64		rows;
	const char *definition_name;
	const char *zone_name;
	MemoryContext cxt;			/* outlives the query: holds the batch */

	/* grouping by owner (owner_attno < 0: rows are written as they come) */
	int			owner_attno;	/* zone column of the owner, 0-based */
	ResultRelInfo *by_owner;	/* the indexes that lead with the owner */
	ResultRelInfo *by_arrival;	/* and the others */
	int16		owner_len;
	bool		owner_byval;
	TupleTableSlot *staging;	/* where a row is built and checked */
	MemoryContext row_cxt;		/* where a row is formed before it is held */
	char	   *arena;			/* the held rows */
	Size		arena_size;
	Size		arena_used;
	FillRow    *held;
	int			nheld;
	int			maxheld;
} ZoneFill;

PG_FUNCTION_INFO_V1(stedi_fill_zone);

/* The next batch slot, made the first time it is needed. */
static TupleTableSlot *
zone_fill_batch_slot(ZoneFill *fill, const TupleTableSlotOps *ops)
{
	TupleTableSlot *row = fill->batch[fill->nbatch];

	if (row == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(fill->cxt);

		row = fill->batch[fill->nbatch] =
			MakeSingleTupleTableSlot(RelationGetDescr(fill->zone), ops);
		MemoryContextSwitchTo(oldcxt);
	}
	return row;
}

/* A written row's entries in each index of indexes (the zone's, or a part). */
static void
zone_fill_index_row(ZoneFill *fill, ResultRelInfo *indexes, TupleTableSlot *row)
{
	List	   *recheck;

	recheck = ExecInsertIndexTuples(indexes, row, fill->estate,
									false, false, NULL, NIL);
	list_free(recheck);
}

static void
zone_fill_flush(ZoneFill *fill)
{
	EState	   *estate = fill->estate;
	MemoryContext oldcxt;
	int			i;

	if (fill->nbatch == 0)
		return;

	/* what the table and index AMs allocate goes with the batch */
	oldcxt = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	table_multi_insert(fill->zone, fill->batch, fill->nbatch, fill->cid, 0,
					   fill->bistate);
	if (fill->owner_attno >= 0)
	{
		/* held rows get their index entries later, in the order they came */
		for (i = 0; i < fill->nbatch; i++)
			fill->batch_held[i]->t_self = fill->batch[i]->tts_tid;
	}
	else if (fill->rri->ri_NumIndices > 0)
	{
		for (i = 0; i < fill->nbatch; i++)
			zone_fill_index_row(fill, fill->rri, fill->batch[i]);
	}
	MemoryContextSwitchTo(oldcxt);

	for (i = 0; i < fill->nbatch; i++)
		ExecClearTuple(fill->batch[i]);
	ResetPerTupleExprContext(estate);
	fill->rows += fill->nbatch;
	fill->nbatch = 0;
}

/*
 * Split the zone's indexes in two: those whose first column is the owner,
 * and the others.  Each part is a copy of the zone's ResultRelInfo with
 * its own index arrays (the index relations are the zone's, opened and
 * closed with it).
 */
static ResultRelInfo *
zone_fill_index_part(ZoneFill *fill, bool led_by_owner)
{
	ResultRelInfo *all = fill->rri;
	ResultRelInfo *part = makeNode(ResultRelInfo);
	int			i;

	memcpy(part, all, sizeof(ResultRelInfo));
	part->ri_NumIndices = 0;
	part->ri_IndexRelationDescs = palloc(sizeof(Relation) * Max(all->ri_NumIndices, 1));
	part->ri_IndexRelationInfo = palloc(sizeof(IndexInfo *) * Max(all->ri_NumIndices, 1));
	for (i = 0; i < all->ri_NumIndices; i++)
	{
		IndexInfo  *info = all->ri_IndexRelationInfo[i];

		if ((info->ii_IndexAttrNumbers[0] == fill->owner_attno + 1) != led_by_owner)
			continue;
		part->ri_IndexRelationDescs[part->ri_NumIndices] = all->ri_IndexRelationDescs[i];
		part->ri_IndexRelationInfo[part->ri_NumIndices] = info;
		part->ri_NumIndices++;
	}
	return part;
}

/*
 * The held row at offset in the arena, in slot, with t_self as its row id
 * once written.  (The arena may have moved since the row was copied in.)
 */
static HeapTuple
zone_fill_store_held(ZoneFill *fill, Size offset, TupleTableSlot *slot)
{
	HeapTuple	tuple = (HeapTuple) (fill->arena + offset);

	tuple->t_data = (HeapTupleHeader) ((char *) tuple + HEAPTUPLESIZE);
	ExecStoreHeapTuple(tuple, slot, false);
	/* (a formed tuple has no table: the index code expects the zone's) */
	slot->tts_tableOid = RelationGetRelid(fill->zone);
	return tuple;
}

/*
 * The written held rows' entries in indexes (a part of the zone's): in the
 * owners' order, or in the order the rows came, which is the arena's.
 */
static void
zone_fill_index_held(ZoneFill *fill, ResultRelInfo *indexes, bool owners_order)
{
	EState	   *estate = fill->estate;
	TupleTableSlot *slot = fill->batch[0];
	MemoryContext oldcxt;
	Size		offset = 0;
	int			i;

	if (indexes->ri_NumIndices == 0)
		return;
	oldcxt = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	for (i = 0; i < fill->nheld; i++)
	{
		HeapTuple	tuple;

		tuple = zone_fill_store_held(fill, owners_order ? fill->held[i].offset : offset,
									 slot);
		zone_fill_index_row(fill, indexes, slot);
		ExecClearTuple(slot);
		offset += MAXALIGN(HEAPTUPLESIZE + tuple->t_len);
		if (i % FILL_BATCH_ROWS == FILL_BATCH_ROWS - 1)
		{
			CHECK_FOR_INTERRUPTS();
			ResetPerTupleExprContext(estate);
		}
	}
	MemoryContextSwitchTo(oldcxt);
	ResetPerTupleExprContext(estate);
}

/*
 * Write the held rows, grouped by owner, then their index entries: in the
 * owners' order in the indexes that lead with the owner, in the order the
 * rows came in the others, and empty the arena.  An index that leads with
 * the owner then takes each owner's entries together, on one leaf or the
 * next, not each on a leaf of its own.  Rows come in the order of their
 * key (file and line), and a B-tree takes keys in ascending order at its
 * rightmost leaf without descending from the root; in the owners' order
 * the same entries cost a descent each, and half-full pages.
 */
static void
zone_fill_write_held(ZoneFill *fill)
{
	int			i;

	if (fill->nheld == 0)
		return;
	sort_fill_rows(fill->held, fill->nheld);
	for (i = 0; i < fill->nheld; i++)
	{
		TupleTableSlot *row = zone_fill_batch_slot(fill, &TTSOpsHeapTuple);

		CHECK_FOR_INTERRUPTS();
		fill->batch_held[fill->nbatch] =
			zone_fill_store_held(fill, fill->held[i].offset, row);
		if (++fill->nbatch == FILL_BATCH_ROWS)
			zone_fill_flush(fill);
	}
	zone_fill_flush(fill);

	zone_fill_index_held(fill, fill->by_owner, true);
	zone_fill_index_held(fill, fill->by_arrival, false);
	fill->nheld = 0;
	fill->arena_used = 0;
}

/*
 * Hold a checked row in the arena, written once the arena is full.  The
 * arena is one block, grown by doubling up to maintenance_work_mem (or
 * further, to hold at least FILL_BATCH_ROWS rows) and reused: held rows cost no
 * allocation each, and no memory is given back and faulted in again
 * between one arena of rows and the next.
 */
static void
zone_fill_hold(ZoneFill *fill, TupleTableSlot *row)
{
	Size		limit = Min((Size) maintenance_work_mem * 1024, MaxAllocHugeSize / 2);
	MemoryContext oldcxt;
	HeapTuple	tuple;
	Size		need;
	uint32		hash = 0;

	MemoryContextReset(fill->row_cxt);
	oldcxt = MemoryContextSwitchTo(fill->row_cxt);
	tuple = ExecCopySlotHeapTuple(row);
	/* (a compressed or external owner is expanded here, and freed with the row) */
	if (!row->tts_isnull[fill->owner_attno])
		hash = datum_image_hash(row->tts_values[fill->owner_attno],
								fill->owner_byval, fill->owner_len);
	MemoryContextSwitchTo(oldcxt);
	need = MAXALIGN(HEAPTUPLESIZE + tuple->t_len);

	if (fill->arena_used + need > limit && fill->nheld >= FILL_BATCH_ROWS)
		zone_fill_write_held(fill);
	if (fill->arena_used + need > fill->arena_size)
	{
		Size		size = Max(fill->arena_size, 1024 * 1024);

		while (size < fill->arena_used + need)
			size *= 2;
		size = Max(Min(size, limit), fill->arena_used + need);
		fill->arena = fill->arena == NULL ?
			MemoryContextAllocHuge(fill->cxt, size) :
			repalloc_huge(fill->arena, size);
		fill->arena_size = size;
	}
	if (fill->nheld == fill->maxheld)
	{
		fill->maxheld = fill->maxheld == 0 ? 4096 : fill->maxheld * 2;
		fill->held = fill->held == NULL ?
			MemoryContextAllocHuge(fill->cxt, sizeof(FillRow) * fill->maxheld) :
			repalloc_huge(fill->held, sizeof(FillRow) * fill->maxheld);
	}

	memcpy(fill->arena + fill->arena_used, tuple, HEAPTUPLESIZE);
	memcpy(fill->arena + fill->arena_used + HEAPTUPLESIZE, tuple->t_data, tuple->t_len);
	fill->held[fill->nheld].order = ((uint64) hash << 32) | (uint32) fill->nheld;
	fill->held[fill->nheld].offset = fill->arena_used;
	fill->nheld++;
	fill->arena_used += need;
}

static void
zone_fill_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	ZoneFill   *fill = (ZoneFill *) self;
	TupleDesc	zonedesc = RelationGetDescr(fill->zone);
	int			live = 0;
	int			i;

	/* the definition's columns, in order, are the zone's live columns */
	for (i = 0; i < zonedesc->natts; i++)
		if (!TupleDescAttr(zonedesc, i)->attisdropped)
			live++;
	if (live != typeinfo->natts)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("definition %s does not match zone %s",
						fill->definition_name, fill->zone_name),
				 errdetail("The definition has %d columns and the zone %d.",
						   typeinfo->natts, live),
				 errhint("A zone table has the columns of its definition view, in the same order.")));

	fill->zone_attno = palloc(sizeof(int) * Max(live, 1));
	live = 0;
	for (i = 0; i < zonedesc->natts; i++)
	{
		Form_pg_attribute za = TupleDescAttr(zonedesc, i);
		Form_pg_attribute da;

		if (za->attisdropped)
			continue;
		da = TupleDescAttr(typeinfo, live);

		/*
		 * Values are stored as they come, never coerced: a zone column with
		 * a length or precision takes only a column declared the same.
		 */
		if (da->atttypid != za->atttypid ||
			(za->atttypmod != -1 && da->atttypmod != za->atttypmod))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("definition %s does not match zone %s",
							fill->definition_name, fill->zone_name),
					 errdetail("Column %d is %s in the definition and %s in the zone.",
							   live + 1,
							   format_type_with_typemod(da->atttypid, da->atttypmod),
							   format_type_with_typemod(za->atttypid, za->atttypmod)),
					 errhint("A zone table has the columns of its definition view, in the same order.")));
		if (za->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("cannot insert a non-DEFAULT value into column \"%s\" of zone %s",
							NameStr(za->attname), fill->zone_name),
					 errdetail("Column \"%s\" is an identity column defined as GENERATED ALWAYS.",
							   NameStr(za->attname))));
		fill->zone_attno[live++] = i;
	}

	/*
	 * The rows written get the command id current while the definition runs:
	 * invisible to its own snapshot, like any INSERT ... SELECT's.
	 */
	fill->cid = GetCurrentCommandId(true);
}

static bool
zone_fill_receive(TupleTableSlot *slot, DestReceiver *self)
{
	ZoneFill   *fill = (ZoneFill *) self;
	TupleTableSlot *row = fill->owner_attno >= 0 ? fill->staging :
		zone_fill_batch_slot(fill, table_slot_callbacks(fill->zone));
	int			i;

	ExecClearTuple(row);
	memset(row->tts_isnull, true, sizeof(bool) * row->tts_tupleDescriptor->natts);
	slot_getallattrs(slot);
	for (i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		row->tts_values[fill->zone_attno[i]] = slot->tts_values[i];
		row->tts_isnull[fill->zone_attno[i]] = slot->tts_isnull[i];
	}
	ExecStoreVirtualTuple(row);
	/* as INSERT has it, for a CHECK that reads tableoid */
	row->tts_tableOid = RelationGetRelid(fill->zone);
	/* the row must outlive the definition's current tuple (a held one is copied) */
	if (fill->owner_attno < 0)
		ExecMaterializeSlot(row);

	if (fill->zone->rd_att->constr)
		ExecConstraints(fill->rri, row, fill->estate);
	if (fill->zone->rd_rel->relispartition)
		ExecPartitionCheck(fill->rri, row, fill->estate, true);

	if (fill->owner_attno >= 0)
	{
		zone_fill_hold(fill, row);
		/* what the checks allocated: a held row is already copied */
		ResetPerTupleExprContext(fill->estate);
	}
	else if (++fill->nbatch == FILL_BATCH_ROWS)
		zone_fill_flush(fill);
	return true;
}

static void
zone_fill_shutdown(DestReceiver *self)
{
	ZoneFill   *fill = (ZoneFill *) self;

	if (fill->owner_attno >= 0)
		zone_fill_write_held(fill);
	zone_fill_flush(fill);
}

static void
zone_fill_destroy(DestReceiver *self)
{
}

/*
 * Whether every expression the leader evaluates for a written row (the
 * zone's CHECK constraints, its indexes' expressions and predicates) is
 * parallel safe.
 */
static bool
writes_are_parallel_safe(Relation zone)
{
	TupleConstr *constr = RelationGetDescr(zone)->constr;
	List	   *exprs = NIL;
	List	   *indexes;
	ListCell   *lc;
	Query	   *query;
	int			i;

	if (constr != NULL)
		for (i = 0; i < constr->num_check; i++)
			exprs = lappend(exprs, stringToNode(constr->check[i].ccbin));
	indexes = RelationGetIndexList(zone);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

		exprs = list_concat(exprs, RelationGetIndexExpressions(index));
		exprs = list_concat(exprs, RelationGetIndexPredicate(index));
		index_close(index, AccessShareLock);
	}
	if (exprs == NIL)
		return true;

	/* max_parallel_hazard() reads a query: make one of the expressions */
	query = makeNode(Query);
	query->commandType = CMD_SELECT;
	i = 0;
	foreach(lc, exprs)
		query->targetList = lappend(query->targetList,
									makeTargetEntry((Expr *) lfirst(lc), ++i,
													NULL, false));
	return max_parallel_hazard(query) == PROPARALLEL_SAFE;
}

/*
 * fill_zone(zone regclass, definition regclass [, owner name]) -> bigint:
 * append every row of the view or table "definition" to "zone"; returns
 * how many.  With owner, a column of the zone, the rows are written
 * grouped by it, a maintenance_work_mem of rows at a time.  Errors: a zone
 * that is not a plain table, or has triggers, row security or generated
 * columns; a definition whose columns differ from the zone's; an owner
 * column the zone has not (undefined_column); no INSERT right on the zone.
 */
Datum
stedi_fill_zone(PG_FUNCTION_ARGS)
{
	Oid			zoneid = PG_GETARG_OID(0);
	Oid			definitionid = PG_GETARG_OID(1);
	char	   *definition_name;
	char	   *zone_name;
	AclResult	aclresult;
	ZoneFill	fill;
	SPIExecuteOptions options;
	SPIPrepareOptions prepare;
	SPIPlanPtr	plan;
	int			rc;
	int			i;

	/*
	 * Lock both before reading their names, so that neither can be renamed
	 * or dropped between the checks and the read.
	 */
	memset(&fill, 0, sizeof(fill));
	fill.zone = table_open(zoneid, RowExclusiveLock);
	LockRelationOid(definitionid, AccessShareLock);
	definition_name = get_rel_name(definitionid);
	if (definition_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("definition with OID %u does not exist", definitionid)));
	zone_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(fill.zone)),
										   RelationGetRelationName(fill.zone));
	definition_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(definitionid)),
												 definition_name);

	aclresult = pg_class_aclcheck(zoneid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(fill.zone));

	fill.definition_name = definition_name;
	fill.zone_name = zone_name;
	fill.cxt = CurrentMemoryContext;
	if (fill.zone->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("zone %s is not a table", zone_name)));
	if (fill.zone->trigdesc != NULL ||
		check_enable_rls(zoneid, InvalidOid, true) == RLS_ENABLED ||
		(fill.zone->rd_att->constr && fill.zone->rd_att->constr->has_generated_stored))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("zone %s has triggers, row security or generated columns", zone_name),
				 errdetail("fill_zone writes rows the way COPY does, and would skip them."),
				 errhint("Fill the table with INSERT ... SELECT instead.")));

	fill.owner_attno = -1;
	if (PG_NARGS() > 2)
	{
		char	   *owner = NameStr(*PG_GETARG_NAME(2));
		AttrNumber	attno = get_attnum(zoneid, owner);
		Form_pg_attribute attr;

		if (attno <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("zone %s has no column \"%s\"", zone_name, owner),
					 errhint("The owner is a column of the zone, by which its rows are grouped.")));
		attr = TupleDescAttr(RelationGetDescr(fill.zone), attno - 1);
		fill.owner_attno = attno - 1;
		fill.owner_len = attr->attlen;
		fill.owner_byval = attr->attbyval;
		fill.staging = MakeSingleTupleTableSlot(RelationGetDescr(fill.zone),
												&TTSOpsVirtual);
		fill.row_cxt = AllocSetContextCreate(CurrentMemoryContext,
											 "stedi fill_zone row",
											 ALLOCSET_DEFAULT_SIZES);
	}

	fill.pub.receiveSlot = zone_fill_receive;
	fill.pub.rStartup = zone_fill_startup;
	fill.pub.rShutdown = zone_fill_shutdown;
	fill.pub.rDestroy = zone_fill_destroy;
	fill.pub.mydest = DestNone;

	fill.estate = CreateExecutorState();
	fill.rri = makeNode(ResultRelInfo);
	InitResultRelInfo(fill.rri, fill.zone, 0, NULL, 0);
	ExecOpenIndices(fill.rri, false);
	if (fill.owner_attno >= 0)
	{
		fill.by_owner = zone_fill_index_part(&fill, true);
		fill.by_arrival = zone_fill_index_part(&fill, false);
	}
	fill.bistate = GetBulkInsertState();

	/*
	 * The definition may run as a parallel query, and a transaction cannot
	 * get its id once parallel mode has begun; CREATE TABLE AS has one by
	 * then too, from creating its table.  The workers only read: all rows
	 * are written here, in the leader.
	 */
	(void) GetCurrentTransactionId();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "stedi: SPI_connect failed");

	/*
	 * The leader checks each row while the query runs; in parallel mode a
	 * CHECK or index expression that is not parallel safe would fail where
	 * INSERT succeeds.  Such a zone is filled by a serial plan.
	 */
	memset(&prepare, 0, sizeof(prepare));
	prepare.cursorOptions = writes_are_parallel_safe(fill.zone) ?
		CURSOR_OPT_PARALLEL_OK : 0;
	plan = SPI_prepare_extended(psprintf("SELECT * FROM %s", definition_name),
								&prepare);
	if (plan == NULL)
		elog(ERROR, "stedi: planning %s failed: %s", definition_name,
			 SPI_result_code_string(SPI_result));
	memset(&options, 0, sizeof(options));
	options.read_only = false;
	options.dest = &fill.pub;
	rc = SPI_execute_plan_extended(plan, &options);
	/* SPI says UTILITY for a SELECT whose rows go to another receiver */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "stedi: reading %s failed: %s", definition_name,
			 SPI_result_code_string(rc));
	SPI_finish();

	FreeBulkInsertState(fill.bistate);
	table_finish_bulk_insert(fill.zone, 0);
	ExecCloseIndices(fill.rri);
	for (i = 0; i < FILL_BATCH_ROWS && fill.batch[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(fill.batch[i]);
	if (fill.staging != NULL)
	{
		ExecDropSingleTupleTableSlot(fill.staging);
		MemoryContextDelete(fill.row_cxt);
		if (fill.arena != NULL)
			pfree(fill.arena);
		if (fill.held != NULL)
			pfree(fill.held);
	}
	FreeExecutorState(fill.estate);
	table_close(fill.zone, NoLock);

	PG_RETURN_INT64((int64) fill.rows);
}
