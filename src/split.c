/*-------------------------------------------------------------------------
 *
 * split.c
 *		The split of the training table each customer is in: train,
 *		validation or test, decided from the customer's pseudonymous key.
 *
 * A model evaluated on readings of customers it was trained on looks
 * better than it is, so the training table is split by customer (as
 * scikit-learn's GroupShuffleSplit splits by group), never by reading.
 * The customer key is an HMAC of the email under the pseudonym secret
 * (pseudonym.c), so its bits are uniform and fixed for the customer: the
 * first 32 bits, read as a fraction of 2^32 in hundredths of a percent,
 * place the customer below the train share (train), below train plus
 * validation (validation), or above (test).  The same customer is in the
 * same split across refreshes, rebuilds, dumps and restores, as long as
 * the secret and the proportions stay.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(stedi_split_bounds);
PG_FUNCTION_INFO_V1(stedi_customer_split);

/* the splits, in the order their shares are given */
static const char *const split_names[3] = {"train", "validation", "test"};

/* shares are in hundredths of a percent: 10000 in all */
#define WHOLE				10000

/*
 * Parse proportions "TRAIN/VALIDATION/TEST", percentages of customers
 * with at most two decimals that add up to 100, into hundredths of a
 * percent.  invalid_parameter_value otherwise.
 */
static void
parse_proportions(const char *proportions, int shares[3])
{
	const char *p = proportions;
	int			sum = 0;

	for (int i = 0; i < 3; i++)
	{
		int			whole = 0,
					decimals = 0,
					digits = 0;

		while (*p == ' ')
			p++;
		while (*p >= '0' && *p <= '9' && digits < 4)
		{
			whole = whole * 10 + (*p++ - '0');
			digits++;
		}
		if (digits == 0 || (*p >= '0' && *p <= '9'))
			goto invalid;
		if (*p == '.')
		{
			p++;
			if (!(*p >= '0' && *p <= '9'))
				goto invalid;	/* "80." */
			for (int d = 0; d < 2; d++)
			{
				decimals *= 10;
				if (*p >= '0' && *p <= '9')
					decimals += *p++ - '0';
			}
			if (*p >= '0' && *p <= '9')
				goto invalid;
		}
		while (*p == ' ')
			p++;
		shares[i] = whole * 100 + decimals;
		sum += shares[i];
		if (i < 2 && *p++ != '/')
			goto invalid;
	}
	if (*p != '\0' || sum != WHOLE)
		goto invalid;
	return;

invalid:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid split proportions \"%s\"", proportions),
			 errdetail("They are three percentages of customers, train/validation/test, with at most two decimals, that add up to 100."),
			 errhint("For example: SELECT stedi.set_setting('split_proportions', '70/15/15');")));
}

/*
 * stedi.split_bounds(proportions text) returns integer[]
 *
 * The shares of train, validation and test, in hundredths of a percent,
 * of proportions written "80/10/10" (percentages with at most two
 * decimals adding up to 100; invalid_parameter_value otherwise): what
 * stedi.set_setting checks split_proportions with.
 */
Datum
stedi_split_bounds(PG_FUNCTION_ARGS)
{
	char	   *proportions = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			shares[3];
	Datum		elems[3];

	parse_proportions(proportions, shares);
	for (int i = 0; i < 3; i++)
		elems[i] = Int32GetDatum(shares[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, 3, INT4OID, sizeof(int32),
										  true, TYPALIGN_INT));
}

/* The proportions in force, read once per call site of a statement. */
static int *
shares_in_force(FunctionCallInfo fcinfo)
{
	int		   *shares = fcinfo->flinfo->fn_extra;

	if (shares == NULL)
	{
		char	   *value;
		bool		isnull;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("SELECT stedi.setting_value('split_proportions')", true, 1)
			!= SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read the setting split_proportions");
		(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			elog(ERROR, "the setting split_proportions is missing");
		value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		shares = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, 3 * sizeof(int));
		parse_proportions(value, shares);
		SPI_finish();
		fcinfo->flinfo->fn_extra = shares;
	}
	return shares;
}

/*
 * stedi.customer_split(customer_key uuid) returns text
 *
 * The split ('train', 'validation' or 'test') of the customer with this
 * key under the setting split_proportions (see the head of this file).
 * The setting is read once per statement and call site.
 * invalid_parameter_value if the stored setting does not parse.
 */
Datum
stedi_customer_split(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *key = PG_GETARG_UUID_P(0);
	int		   *shares = shares_in_force(fcinfo);
	uint32		first = ((uint32) key->data[0] << 24) | ((uint32) key->data[1] << 16) |
		((uint32) key->data[2] << 8) | (uint32) key->data[3];
	int			position = (int) (((uint64) first * WHOLE) >> 32);	/* 0 to 9999 */
	int			split = 2;

	if (position < shares[0])
		split = 0;
	else if (position < shares[0] + shares[1])
		split = 1;
	PG_RETURN_TEXT_P(cstring_to_text(split_names[split]));
}
