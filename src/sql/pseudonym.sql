-- Pseudonymous customer keys: one identity per email, and the secret of
-- the keyed hash.

------------------------------------------------------------------------------
-- Pseudonymous customer keys
------------------------------------------------------------------------------

-- The secret of the keyed hash that turns an email into a customer key.
-- Made by the first refresh (stedi.maintain_zones), from the server's
-- strong random source, and not by this script: so a restored dump brings
-- back the original secret, and every customer their key, instead of
-- clashing with a new one.  Only the extension's owner can read it.
CREATE TABLE IF NOT EXISTS stedi.pseudonym_secret (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    secret bytea NOT NULL CHECK (octet_length(secret) >= 32)
);
COMMENT ON TABLE stedi.pseudonym_secret IS 'The secret key of stedi.customer_key(); whoever holds it can link customer keys to emails';

CREATE OR REPLACE FUNCTION stedi.random_secret() RETURNS bytea
AS 'MODULE_PATHNAME', 'stedi_random_secret' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.random_secret() IS '32 bytes from the server''s strong random source';

-- One identity per person: emails compare with their ASCII letters in
-- lower case.  The domain of an address is case-insensitive (RFC 5321,
-- 2.4); its local part may in principle not be, but no real mail system
-- tells Ada.Quill@ from ada.quill@, and the feeds spell one customer both
-- ways.  Only ASCII is folded (the "C" collation): the result never
-- depends on the server's locale or its library's version, so keys kept
-- in indexes and pseudonyms stay stable across upgrades of the system.
CREATE OR REPLACE FUNCTION stedi.normalize_email(email text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.lower(email COLLATE pg_catalog."C");
COMMENT ON FUNCTION stedi.normalize_email(text) IS
    'The identity of an email: its ASCII letters in lower case (A-Z only, whatever the locale); trusted and curated key customers by it';

CREATE OR REPLACE FUNCTION stedi.customer_key(email text, secret bytea) RETURNS uuid
AS 'MODULE_PATHNAME', 'stedi_customer_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stedi.customer_key(text, bytea) IS
    'Pseudonymous customer key: the first 128 bits of HMAC-SHA-256(secret, email), as a uuid; the zones pass it normalized emails';

