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
 * through these functions, so the rules live in exactly one place.
 *
 * Under the as_of consent policy a reading counts only if it was taken at
 * or after the consent date: data collected before the customer agreed was
 * not collected for research.  The policy is an argument, not a GUC, so
 * that the views' results depend on what is stored in the database and
 * never on the session that happens to refresh them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/* 1970-01-01 00:00:00 UTC, in PostgreSQL's microseconds since 2000-01-01 */
#define UNIX_EPOCH_TIMESTAMPTZ \
	(-((TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY))

PG_FUNCTION_INFO_V1(stedi_has_research_consent);
PG_FUNCTION_INFO_V1(stedi_reading_has_research_consent);

static inline bool
consents(TimestampTz as_of)
{
	return as_of != UNIX_EPOCH_TIMESTAMPTZ;
}

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
	PG_RETURN_BOOL(consents(as_of));
}

/*
 * reading_has_research_consent(share_with_research_as_of_date timestamptz,
 *								reading_time timestamptz,
 *								consent_policy text) -> bool
 */
Datum
stedi_reading_has_research_consent(PG_FUNCTION_ARGS)
{
	TimestampTz as_of;
	char	   *policy;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("consent policy must not be null"),
				 errhint("The policies are \"original\" and \"as_of\".")));
	policy = text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	as_of = PG_GETARG_TIMESTAMPTZ(0);
	if (!consents(as_of))
		PG_RETURN_BOOL(false);

	if (strcmp(policy, "original") == 0)
		PG_RETURN_BOOL(true);
	if (strcmp(policy, "as_of") == 0)
		PG_RETURN_BOOL(!PG_ARGISNULL(1) && PG_GETARG_TIMESTAMPTZ(1) >= as_of);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown consent policy \"%s\"", policy),
			 errdetail("The policies are \"original\" (every reading of a consenting customer) and \"as_of\" (readings taken at or after the consent date)."),
			 errhint("Set it with stedi.set_consent_policy().")));
	PG_RETURN_BOOL(false);		/* keep the compiler quiet */
}
