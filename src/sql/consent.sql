-- The consent filter and the millisecond operator =# (C, src/consent.c
-- and src/same_millisecond.c).

------------------------------------------------------------------------------
-- Consent filter and the millisecond join operator (C)
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION stedi.has_research_consent(share_with_research_as_of_date timestamptz)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_has_research_consent'
LANGUAGE C IMMUTABLE PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION stedi.reading_has_research_consent(
    share_with_research_as_of_date timestamptz, reading_time timestamptz,
    consent_policy text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_reading_has_research_consent'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stedi.reading_has_research_consent(timestamptz, timestamptz, text) IS
    'True when a reading may be used for research: its customer consents, and under the as_of policy the reading was taken at or after the consent date';

COMMENT ON FUNCTION stedi.has_research_consent(timestamptz) IS
    'True when a customer agreed to share data for research: the consent date is present and not the epoch (0)';

-- The six comparisons of two times by the millisecond each falls in
-- (src/same_millisecond.c), each the function of one operator below.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('ms_eq', 'Both times fall in the same millisecond (operator =#)'),
        ('ms_ne', 'The times fall in different milliseconds (operator <>#)'),
        ('ms_lt', 'Millisecond of the first is before that of the second (operator <#)'),
        ('ms_le', 'Millisecond of the first is not after that of the second (operator <=#)'),
        ('ms_gt', 'Millisecond of the first is after that of the second (operator >#)'),
        ('ms_ge', 'Millisecond of the first is not before that of the second (operator >=#)'))
        AS v(name, description)
    LOOP
        EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION stedi.%I(timestamptz, timestamptz) RETURNS boolean
                                   AS %L, %L LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF',
                                  c.name, 'MODULE_PATHNAME', 'stedi_' || c.name);
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION stedi.%I(timestamptz, timestamptz) IS %L',
                                  c.name, c.description);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION stedi.ms_cmp(timestamptz, timestamptz) RETURNS integer
AS 'MODULE_PATHNAME', 'stedi_ms_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE OR REPLACE FUNCTION stedi.ms_hash(timestamptz) RETURNS integer
AS 'MODULE_PATHNAME', 'stedi_ms_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION stedi.ms_hash_extended(timestamptz, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'stedi_ms_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION stedi.ms_cmp(timestamptz, timestamptz) IS 'btree comparison of times at millisecond resolution';
COMMENT ON FUNCTION stedi.ms_hash(timestamptz) IS 'Hash of the millisecond a time falls in';
COMMENT ON FUNCTION stedi.ms_hash_extended(timestamptz, bigint) IS 'Seeded 64-bit hash of the millisecond a time falls in';

-- Operators and operator classes have no CREATE OR REPLACE: made when
-- missing (at install); an update that changes one drops it first.
DO $$
BEGIN
    IF pg_catalog.to_regoperator('stedi.=#(timestamptz,timestamptz)') IS NULL THEN
        CREATE OPERATOR stedi.=# (
            LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = stedi.ms_eq,
            COMMUTATOR = OPERATOR(stedi.=#), NEGATOR = OPERATOR(stedi.<>#),
            RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
        );
        CREATE OPERATOR stedi.<># (
            LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = stedi.ms_ne,
            COMMUTATOR = OPERATOR(stedi.<>#), NEGATOR = OPERATOR(stedi.=#),
            RESTRICT = neqsel, JOIN = neqjoinsel
        );
        CREATE OPERATOR stedi.<# (
            LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = stedi.ms_lt,
            COMMUTATOR = OPERATOR(stedi.>#), NEGATOR = OPERATOR(stedi.>=#),
            RESTRICT = scalarltsel, JOIN = scalarltjoinsel
        );
        CREATE OPERATOR stedi.<=# (
            LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = stedi.ms_le,
            COMMUTATOR = OPERATOR(stedi.>=#), NEGATOR = OPERATOR(stedi.>#),
            RESTRICT = scalarlesel, JOIN = scalarlejoinsel
        );
        CREATE OPERATOR stedi.># (
            LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = stedi.ms_gt,
            COMMUTATOR = OPERATOR(stedi.<#), NEGATOR = OPERATOR(stedi.<=#),
            RESTRICT = scalargtsel, JOIN = scalargtjoinsel
        );
        CREATE OPERATOR stedi.>=# (
            LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = stedi.ms_ge,
            COMMUTATOR = OPERATOR(stedi.<=#), NEGATOR = OPERATOR(stedi.<#),
            RESTRICT = scalargesel, JOIN = scalargejoinsel
        );

        CREATE OPERATOR CLASS stedi.timestamptz_ms_ops
        FOR TYPE timestamptz USING btree AS
            OPERATOR 1 stedi.<#,
            OPERATOR 2 stedi.<=#,
            OPERATOR 3 stedi.=#,
            OPERATOR 4 stedi.>=#,
            OPERATOR 5 stedi.>#,
            FUNCTION 1 stedi.ms_cmp(timestamptz, timestamptz);

        CREATE OPERATOR CLASS stedi.timestamptz_ms_ops
        FOR TYPE timestamptz USING hash AS
            OPERATOR 1 stedi.=#,
            FUNCTION 1 stedi.ms_hash(timestamptz),
            FUNCTION 2 stedi.ms_hash_extended(timestamptz, bigint);
    END IF;
END
$$;

COMMENT ON OPERATOR stedi.=# (timestamptz, timestamptz) IS 'same millisecond: readings taken at the same moment (hash- and merge-joinable)';
COMMENT ON OPERATOR stedi.<># (timestamptz, timestamptz) IS 'different milliseconds';
COMMENT ON OPERATOR stedi.<# (timestamptz, timestamptz) IS 'earlier millisecond';
COMMENT ON OPERATOR stedi.<=# (timestamptz, timestamptz) IS 'same or earlier millisecond';
COMMENT ON OPERATOR stedi.># (timestamptz, timestamptz) IS 'later millisecond';
COMMENT ON OPERATOR stedi.>=# (timestamptz, timestamptz) IS 'same or later millisecond';

COMMENT ON OPERATOR CLASS stedi.timestamptz_ms_ops USING btree IS 'Orders times by the millisecond they fall in; lets the planner merge-join on =#';
COMMENT ON OPERATOR CLASS stedi.timestamptz_ms_ops USING hash IS 'Hashes times by the millisecond they fall in; lets the planner hash-join on =#';
