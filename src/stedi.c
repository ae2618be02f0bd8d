/*-------------------------------------------------------------------------
 *
 * stedi.c
 *		Module entry point of the stedi extension.
 *
 * The module's SQL-callable functions live in one file per concern:
 * consent.c (the research-consent filter), same_millisecond.c (the
 * timestamp join operator and its operator families), refresh.c
 * (stedi.refresh()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
