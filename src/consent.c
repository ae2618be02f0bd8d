/*-------------------------------------------------------------------------
 *
 * consent.c
 *		The research-consent filter of the trusted zone.
 *
 * A customer record carries shareWithResearchAsOfDate, the moment the
 * customer agreed that their data may be used for research.  The original
 * STEDI pipeline treated a customer as consenting when that field was
 * present and non-zero; the apps write 0 (the epoch) for "never asked",
 * so the epoch itself is not a consent date.  Every trusted view filters
 * through this one function, so the rule lives in exactly one place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

/* 1970-01-01 00:00:00 UTC, in PostgreSQL's microseconds since 2000-01-01 */
#define UNIX_EPOCH_TIMESTAMPTZ \
	(-((TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY))

PG_FUNCTION_INFO_V1(stedi_has_research_consent);

/*
 * has_research_consent(share_with_research_as_of_date timestamptz) -> bool
 *
 * Not STRICT: a customer with no consent date must get false, not null, so
 * that the answer reads the same in a WHERE clause and in a select list.
 */
Datum
stedi_has_research_consent(PG_FUNCTION_ARGS)
{
	TimestampTz as_of;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);

	as_of = PG_GETARG_TIMESTAMPTZ(0);
	PG_RETURN_BOOL(as_of != UNIX_EPOCH_TIMESTAMPTZ);
}
