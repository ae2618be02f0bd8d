/*-------------------------------------------------------------------------
 *
 * expectation.c
 *		Validation of the checks of data-quality expectations
 *		(stedi.expect): SQL expressions over a reading zone's columns.
 *
 * A check is written by a stedi_admin and evaluated by every refresh with
 * the extension owner's rights, inside the zone's definition view and on
 * the rows a refresh recomputes.  So it must be an expression over the
 * row and nothing else: it may not read a table (no subquery, and no
 * function that could: only PostgreSQL's own immutable functions,
 * operators and types, no domain), aggregate, return a set, or depend on
 * when, by whom or under which settings it is evaluated (which would also
 * make a zone differ from its definition from one refresh to the next).  The check is parsed alone, as PL/pgSQL parses
 * an expression, so that its text cannot close a parenthesis or a
 * statement it is later pasted into; it is then analyzed against the
 * zone's input (the candidate view: the zone's columns and loaded_at)
 * without being run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

/* Longest check accepted, in bytes. */
#define MAX_CHECK_BYTES		4096

PG_FUNCTION_INFO_V1(stedi_check_expectation);

static bool
function_is_not_core(Oid funcid, void *context)
{
	return get_func_namespace(funcid) != PG_CATALOG_NAMESPACE;
}

static bool
type_is_core(Oid type)
{
	HeapTuple	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	bool		core;

	if (!HeapTupleIsValid(tuple))
		return false;
	core = ((Form_pg_type) GETSTRUCT(tuple))->typnamespace == PG_CATALOG_NAMESPACE;
	ReleaseSysCache(tuple);
	return core;
}

/*
 * Why the tree is not a check over the row alone, or NULL.  A function or
 * operator that is not pg_catalog's could do anything; so could a cast to
 * a type of another schema (a domain's CHECK constraint, say, runs
 * whatever it calls, with the rights of whoever evaluates it).  A value
 * converted through its text form (a cast via a type's output function,
 * or such a function called by name) depends on the session's settings
 * (extra_float_digits, DateStyle, bytea_output, ...), although PostgreSQL
 * marks those functions immutable: the same row could pass in one
 * session and fail in another.
 */
static bool
not_over_row_walker(Node *node, const char **why)
{
	if (node == NULL)
		return false;
	if (IsA(node, CoerceToDomain) || IsA(node, CoerceToDomainValue))
	{
		*why = "It casts to a domain: only PostgreSQL's own types may be used.";
		return true;
	}
	if (IsA(node, CoerceViaIO))
	{
		*why = "It converts a value through its text form, which depends on the session's settings.";
		return true;
	}
	if (check_functions_in_node(node, function_is_not_core, NULL))
	{
		*why = "It calls a function or operator that is not PostgreSQL's own (schema pg_catalog).";
		return true;
	}
	if (IsA(node, Var) || IsA(node, Const) || IsA(node, FuncExpr) ||
		IsA(node, OpExpr) || IsA(node, RelabelType) || IsA(node, ArrayCoerceExpr) ||
		IsA(node, ConvertRowtypeExpr) || IsA(node, RowExpr) || IsA(node, ArrayExpr) ||
		IsA(node, CaseExpr) || IsA(node, CoalesceExpr) || IsA(node, MinMaxExpr) ||
		IsA(node, FieldSelect) || IsA(node, SubscriptingRef) || IsA(node, CollateExpr))
	{
		Oid			type = exprType(node);

		if (type == CSTRINGOID)
		{
			*why = "It calls a type's input or output function, whose result depends on the session's settings.";
			return true;
		}
		if (!type_is_core(type))
		{
			*why = psprintf("It uses the type %s, which is not PostgreSQL's own (schema pg_catalog).",
							format_type_be(type));
			return true;
		}
	}
	return expression_tree_walker(node, not_over_row_walker, (void *) why);
}

/* Raise the error for a check that is not an expression over the row. */
static void
reject_check(const char *check, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("check \"%s\" is not an expression over the zone's row", check),
			 errdetail("%s", detail),
			 errhint("A check is a boolean SQL expression over the zone's columns and loaded_at, using PostgreSQL's own immutable functions and operators, such as \"reading_time >= '2000-01-01'\".")));
}

/*
 * SELECT (check) FROM input, analyzed as a view would be, from the raw
 * parse of the check alone.
 */
static Query *
analyze_check(char *check, List *parsed, Oid input)
{
	RawStmt    *raw;
	SelectStmt *expr_stmt;
	SelectStmt *select;
	ResTarget  *target;
	ResTarget  *wrapped;
	RangeVar   *from;

	if (list_length(parsed) != 1)
		reject_check(check, "It is not a single expression.");
	raw = linitial_node(RawStmt, parsed);
	expr_stmt = (SelectStmt *) raw->stmt;
	if (!IsA(expr_stmt, SelectStmt) ||
		list_length(expr_stmt->targetList) != 1 ||
		expr_stmt->distinctClause != NIL || expr_stmt->fromClause != NIL ||
		expr_stmt->whereClause != NULL || expr_stmt->groupClause != NIL ||
		expr_stmt->havingClause != NULL || expr_stmt->windowClause != NIL ||
		expr_stmt->sortClause != NIL || expr_stmt->limitCount != NULL ||
		expr_stmt->limitOffset != NULL || expr_stmt->lockingClause != NIL ||
		expr_stmt->intoClause != NULL || expr_stmt->withClause != NULL)
		reject_check(check, "It is not a single expression: it has a clause of a query.");
	target = linitial_node(ResTarget, expr_stmt->targetList);
	if (target->name != NULL)
		reject_check(check, "It names its result (AS).");

	/* SELECT (check) FROM input, analyzed as a view would be */
	from = makeRangeVar(get_namespace_name(get_rel_namespace(input)),
						get_rel_name(input), -1);
	from->alias = makeAlias("c", NIL);	/* as the check runs (stedi.define_zone) */
	wrapped = makeNode(ResTarget);
	wrapped->val = target->val;
	wrapped->location = -1;
	select = makeNode(SelectStmt);
	select->targetList = list_make1(wrapped);
	select->fromClause = list_make1(from);
	raw = makeNode(RawStmt);
	raw->stmt = (Node *) select;
	raw->stmt_location = 0;
	raw->stmt_len = 0;
	return parse_analyze_fixedparams(raw, check, NULL, 0, NULL);
}

/*
 * stedi.check_expectation(input regclass, check text) returns void
 *
 * Validates check, an expectation's SQL expression, against input, the
 * relation whose columns it may name (the zone's candidate view).  Raises
 * invalid_parameter_value when the check is not one boolean expression, or
 * names a subquery, an aggregate, a window or set-returning function, a
 * function, operator or type that is not PostgreSQL's own (pg_catalog), a
 * function that is not immutable, or a conversion through text; syntax
 * and undefined-column errors with the parser's codes, reported as the
 * check's; program_limit_exceeded over 4,096 bytes.  Runs nothing of the
 * check.  The row is named c, as where the check runs.
 */
Datum
stedi_check_expectation(PG_FUNCTION_ARGS)
{
	Oid			input = PG_GETARG_OID(0);
	char	   *check = text_to_cstring(PG_GETARG_TEXT_PP(1));
	MemoryContext context = CurrentMemoryContext;
	List	   *parsed;
	Query	   *query = NULL;
	Node	   *expr;
	const char *why = NULL;

	if (strlen(check) > MAX_CHECK_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("check is %zu bytes long, more than the %d allowed",
						strlen(check), MAX_CHECK_BYTES)));

	/*
	 * one expression, nothing around it.  A syntax error, or a column the
	 * zone has not, is reported as the check's, not at a position in the
	 * statement that called this function.
	 */
	PG_TRY();
	{
		parsed = raw_parser(check, RAW_PARSE_PLPGSQL_EXPR);
		query = analyze_check(check, parsed, input);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE)
			ReThrowError(edata);	/* reject_check's own */
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("check \"%s\" is not an expression over the zone's row", check),
				 errdetail("%s", edata->message),
				 errhint("A check is a boolean SQL expression over the zone's columns and loaded_at, using PostgreSQL's own immutable functions and operators, such as \"reading_time >= '2000-01-01'\".")));
	}
	PG_END_TRY();

	if (query->hasSubLinks)
		reject_check(check, "It holds a subquery: a check sees its own row only.");
	if (query->hasAggs || query->hasWindowFuncs)
		reject_check(check, "It holds an aggregate or a window function: a check sees its own row only.");
	if (query->hasTargetSRFs)
		reject_check(check, "It returns a set.");
	expr = (Node *) linitial_node(TargetEntry, query->targetList)->expr;
	if (exprType(expr) != BOOLOID)
		reject_check(check, psprintf("It is of type %s, not boolean.",
									 format_type_be(exprType(expr))));
	if (not_over_row_walker(expr, &why))
		reject_check(check, why);
	if (contain_mutable_functions(expr))
		reject_check(check, "It calls a function that is not immutable: the same row must always pass or fail.");

	PG_RETURN_VOID();
}
