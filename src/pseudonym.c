/*-------------------------------------------------------------------------
 *
 * pseudonym.c
 *		Pseudonymous customer keys for the curated zone.
 *
 * Data scientists must be able to group readings by customer without
 * learning who the customer is.  The key is HMAC-SHA-256 of the email under
 * a secret made at CREATE EXTENSION: the same email always gives the same
 * key, so keys are stable across refreshes, but without the secret one
 * cannot compute the key of a known email (a plain hash of an email can be
 * reversed by hashing a list of candidate emails), nor turn a key back into
 * an email (HMAC is one-way).  The secret lives in a table only the
 * extension's owner can read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hmac.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#define SECRET_BYTES	32

PG_FUNCTION_INFO_V1(stedi_customer_key);
PG_FUNCTION_INFO_V1(stedi_random_secret);

/*
 * customer_key(email text, secret bytea) -> uuid: the first 128 bits of
 * HMAC-SHA-256(secret, email).
 */
Datum
stedi_customer_key(PG_FUNCTION_ARGS)
{
	text	   *email = PG_GETARG_TEXT_PP(0);
	bytea	   *secret = PG_GETARG_BYTEA_PP(1);
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	pg_uuid_t  *key;
	pg_hmac_ctx *ctx;

	if (VARSIZE_ANY_EXHDR(secret) < SECRET_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the pseudonym secret must be at least %d bytes", SECRET_BYTES)));

	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL ||
		pg_hmac_init(ctx, (uint8 *) VARDATA_ANY(secret),
					 VARSIZE_ANY_EXHDR(secret)) < 0 ||
		pg_hmac_update(ctx, (uint8 *) VARDATA_ANY(email),
					   VARSIZE_ANY_EXHDR(email)) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
	{
		const char *why = ctx ? pg_hmac_error(ctx) : "out of memory";

		pg_hmac_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a customer key: %s", why)));
	}
	pg_hmac_free(ctx);

	key = palloc(sizeof(pg_uuid_t));
	memcpy(key->data, mac, UUID_LEN);
	PG_RETURN_UUID_P(key);
}

/* random_secret() -> bytea: 32 bytes from the strong random source */
Datum
stedi_random_secret(PG_FUNCTION_ARGS)
{
	bytea	   *result = palloc(VARHDRSZ + SECRET_BYTES);

	SET_VARSIZE(result, VARHDRSZ + SECRET_BYTES);
	if (!pg_strong_random(VARDATA(result), SECRET_BYTES))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes for the pseudonym secret")));
	PG_RETURN_BYTEA_P(result);
}
