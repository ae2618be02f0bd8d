-- stedi 0.1.0: the STEDI Human Balance lakehouse.
--
-- landing  raw records, exactly as they arrived, with their lineage
-- trusted  records of customers who agreed to share their data for research
-- curated  what data scientists read: customers with readings, and the
--          training table pairing step trainer and accelerometer readings
-- stedi    the extension's own functions, operators and logs
--
-- Every name is schema-qualified: this script must not depend on the
-- search_path of whoever runs CREATE EXTENSION.

\echo Use "CREATE EXTENSION stedi" to load this file. \quit

CREATE SCHEMA landing;
CREATE SCHEMA trusted;
CREATE SCHEMA curated;

COMMENT ON SCHEMA landing IS 'STEDI landing zone: raw customer, accelerometer and step trainer records as loaded by stedi-load';
COMMENT ON SCHEMA trusted IS 'STEDI trusted zone: records of customers who agreed to share their data for research';
COMMENT ON SCHEMA curated IS 'STEDI curated zone: tables for data scientists';

------------------------------------------------------------------------------
-- Landing zone
------------------------------------------------------------------------------

-- One row per loaded file: the lineage every landing row points to, and
-- what makes loading idempotent (the content hash).
CREATE TABLE landing.source_file (
    file_id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL
                  CHECK (kind IN ('customer', 'accelerometer', 'step_trainer')),
    path          text NOT NULL,
    size_bytes    bigint NOT NULL,
    sha256        bytea CHECK (octet_length(sha256) = 32),
    forced        boolean NOT NULL DEFAULT false,
    lines_read    bigint,
    rows_loaded   bigint,
    rows_rejected bigint,
    extra_fields  bigint,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    load_duration interval,
    loaded_by     name NOT NULL DEFAULT current_user,
    CONSTRAINT counts_add_up CHECK (lines_read = rows_loaded + rows_rejected)
);
CREATE INDEX ON landing.source_file (sha256);
COMMENT ON TABLE landing.source_file IS 'One row per JSON-lines file loaded into the landing zone; file_id is the lineage of every landing row';
COMMENT ON COLUMN landing.source_file.sha256 IS 'SHA-256 of the file''s bytes: a file whose content is here already is skipped by stedi-load (unless --force)';
COMMENT ON COLUMN landing.source_file.forced IS 'Loaded with --force although the same content had been loaded before';
COMMENT ON COLUMN landing.source_file.lines_read IS 'Non-blank lines read; always rows_loaded + rows_rejected';
COMMENT ON COLUMN landing.source_file.extra_fields IS 'Unknown JSON fields seen in loaded rows (ignored)';

-- Times arrive as epoch milliseconds; timestamptz keeps them exactly
-- (microsecond resolution) and shows them as times.
CREATE TABLE landing.customer (
    customer_name                  text,
    email                          text NOT NULL,
    phone                          text,
    birth_day                      date,
    serial_number                  text NOT NULL,
    registration_date              timestamptz,
    last_update_date               timestamptz,
    share_with_research_as_of_date timestamptz,
    share_with_public_as_of_date   timestamptz,
    share_with_friends_as_of_date  timestamptz,
    file_id                        integer NOT NULL,
    line_number                    bigint NOT NULL
);
COMMENT ON TABLE landing.customer IS 'Customer records as they arrived (one per JSON line; a customer may appear more than once)';

-- No primary key on the landing tables: (file_id, line_number) is unique
-- by construction (stedi-load numbers the lines of a file it loads once,
-- in one transaction), and keeping a btree on it would cost about 40% of
-- the load time of a large file.

CREATE TABLE landing.accelerometer (
    user_email   text NOT NULL,
    reading_time timestamptz NOT NULL,
    x            double precision NOT NULL,
    y            double precision NOT NULL,
    z            double precision NOT NULL,
    file_id      integer NOT NULL,
    line_number  bigint NOT NULL
);
COMMENT ON TABLE landing.accelerometer IS 'Accelerometer readings from the mobile app, as they arrived';
COMMENT ON COLUMN landing.accelerometer.user_email IS 'JSON field "user": the email of the customer whose phone took the reading';
COMMENT ON COLUMN landing.accelerometer.reading_time IS 'JSON field "timestamp"';

CREATE TABLE landing.step_trainer (
    sensor_reading_time  timestamptz NOT NULL,
    serial_number        text NOT NULL,
    distance_from_object integer NOT NULL,
    file_id              integer NOT NULL,
    line_number          bigint NOT NULL
);
COMMENT ON TABLE landing.step_trainer IS 'Step trainer (distance sensor) readings, as they arrived';

-- Lines that could not become landing rows, with the reason: nothing is lost.
CREATE TABLE landing.rejected (
    kind        text NOT NULL
                CHECK (kind IN ('customer', 'accelerometer', 'step_trainer')),
    file_id     integer NOT NULL,
    line_number bigint NOT NULL,
    byte_offset bigint NOT NULL,
    reason      text NOT NULL,
    raw_line    text NOT NULL,
    PRIMARY KEY (file_id, line_number)
);
COMMENT ON TABLE landing.rejected IS 'Quarantine: input lines that were not loaded, with the reason and the raw text (truncated to 8192 bytes)';

-- Every attempt to load a file, whatever came of it.
CREATE TABLE stedi.ingest_log (
    attempt_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256        bytea NOT NULL,
    kind          text NOT NULL,
    path          text NOT NULL,
    size_bytes    bigint NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('loaded', 'skipped', 'failed')),
    file_id       integer,
    lines_read    bigint,
    rows_loaded   bigint,
    rows_rejected bigint,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    message       text,
    loaded_by     name NOT NULL DEFAULT current_user
);
CREATE INDEX ON stedi.ingest_log (sha256);
COMMENT ON TABLE stedi.ingest_log IS 'Every attempt of stedi-load to load a file: loaded, skipped (its content was loaded before) or failed (and rolled back), keyed by content hash';

-- The loading protocol of stedi-load, one transaction per file:
--   BEGIN;
--   SELECT stedi.begin_file(kind, path, size, sha256, force);  -- NULL: skip
--   COPY landing.<kind> ... FROM STDIN;  COPY landing.rejected ... FROM STDIN;
--   SELECT stedi.finish_file(file_id, ...);
--   COMMIT;
-- begin_file holds a lock on the content hash until the transaction ends,
-- so two loaders given the same file never both load it: the second waits,
-- then sees the first one's row and skips.
CREATE FUNCTION stedi.begin_file(kind text, path text, size_bytes bigint,
                                 sha256 bytea, force boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_file_id integer;
BEGIN
    IF octet_length(sha256) IS DISTINCT FROM 32 THEN
        RAISE EXCEPTION 'sha256 must be 32 bytes'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(
        ('x' || substr(encode(sha256, 'hex'), 1, 16))::bit(64)::bigint);
    IF NOT force AND EXISTS (SELECT FROM landing.source_file f
                              WHERE f.sha256 = begin_file.sha256) THEN
        RETURN NULL;
    END IF;
    INSERT INTO landing.source_file (kind, path, size_bytes, sha256, forced)
    VALUES (begin_file.kind, begin_file.path, begin_file.size_bytes,
            begin_file.sha256,
            force AND EXISTS (SELECT FROM landing.source_file f
                               WHERE f.sha256 = begin_file.sha256))
    RETURNING file_id INTO new_file_id;
    RETURN new_file_id;
END
$$;
COMMENT ON FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean) IS
    'stedi-load: register a file about to be loaded in this transaction; NULL when its content was loaded before (and not force)';

CREATE FUNCTION stedi.finish_file(file_id integer, lines_read bigint,
                                  rows_loaded bigint, rows_rejected bigint,
                                  extra_fields bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f landing.source_file;
BEGIN
    UPDATE landing.source_file AS s
       SET lines_read = finish_file.lines_read,
           rows_loaded = finish_file.rows_loaded,
           rows_rejected = finish_file.rows_rejected,
           extra_fields = finish_file.extra_fields,
           load_duration = clock_timestamp() - s.loaded_at
     WHERE s.file_id = finish_file.file_id
    RETURNING * INTO f;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no file % is being loaded', finish_file.file_id
              USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO stedi.ingest_log (sha256, kind, path, size_bytes, outcome, file_id,
                                  lines_read, rows_loaded, rows_rejected, started_at)
    VALUES (f.sha256, f.kind, f.path, f.size_bytes, 'loaded', f.file_id,
            f.lines_read, f.rows_loaded, f.rows_rejected, f.loaded_at);
END
$$;
COMMENT ON FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint) IS
    'stedi-load: record the counts of a file loaded in this transaction, and log the attempt';

CREATE FUNCTION stedi.log_ingest(sha256 bytea, kind text, path text,
                                 size_bytes bigint, outcome text,
                                 started_at timestamptz, message text DEFAULT NULL)
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO stedi.ingest_log (sha256, kind, path, size_bytes, outcome,
                                  started_at, message, file_id)
    VALUES (sha256, kind, path, size_bytes, outcome, started_at, message,
            CASE WHEN outcome = 'skipped' THEN
                (SELECT min(f.file_id) FROM landing.source_file f
                  WHERE f.sha256 = log_ingest.sha256) END)
    RETURNING file_id
$$;
COMMENT ON FUNCTION stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text) IS
    'stedi-load: log an attempt that loaded nothing (skipped, or failed and rolled back); for a skipped file, returns the file_id its content was first loaded as';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['customer', 'accelerometer', 'step_trainer', 'rejected'] LOOP
        EXECUTE format('COMMENT ON COLUMN landing.%I.file_id IS %L', t,
                       'Source file: landing.source_file.file_id');
        EXECUTE format('COMMENT ON COLUMN landing.%I.line_number IS %L', t,
                       'Line in the source file, counting from 1');
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- Consent filter and the millisecond join operator (C)
------------------------------------------------------------------------------

CREATE FUNCTION stedi.has_research_consent(share_with_research_as_of_date timestamptz)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_has_research_consent'
LANGUAGE C IMMUTABLE PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION stedi.reading_has_research_consent(
    share_with_research_as_of_date timestamptz, reading_time timestamptz,
    consent_policy text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_reading_has_research_consent'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stedi.reading_has_research_consent(timestamptz, timestamptz, text) IS
    'True when a reading may be used for research: its customer consents, and under the as_of policy the reading was taken at or after the consent date';

COMMENT ON FUNCTION stedi.has_research_consent(timestamptz) IS
    'True when a customer agreed to share data for research: the consent date is present and not the epoch (0)';

CREATE FUNCTION stedi.ms_eq(timestamptz, timestamptz) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_ms_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION stedi.ms_ne(timestamptz, timestamptz) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_ms_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION stedi.ms_lt(timestamptz, timestamptz) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_ms_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION stedi.ms_le(timestamptz, timestamptz) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_ms_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION stedi.ms_gt(timestamptz, timestamptz) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_ms_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION stedi.ms_ge(timestamptz, timestamptz) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_ms_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION stedi.ms_cmp(timestamptz, timestamptz) RETURNS integer
AS 'MODULE_PATHNAME', 'stedi_ms_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION stedi.ms_hash(timestamptz) RETURNS integer
AS 'MODULE_PATHNAME', 'stedi_ms_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION stedi.ms_hash_extended(timestamptz, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'stedi_ms_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION stedi.ms_eq(timestamptz, timestamptz) IS 'Both times fall in the same millisecond (operator =#)';
COMMENT ON FUNCTION stedi.ms_ne(timestamptz, timestamptz) IS 'The times fall in different milliseconds (operator <>#)';
COMMENT ON FUNCTION stedi.ms_lt(timestamptz, timestamptz) IS 'Millisecond of the first is before that of the second (operator <#)';
COMMENT ON FUNCTION stedi.ms_le(timestamptz, timestamptz) IS 'Millisecond of the first is not after that of the second (operator <=#)';
COMMENT ON FUNCTION stedi.ms_gt(timestamptz, timestamptz) IS 'Millisecond of the first is after that of the second (operator >#)';
COMMENT ON FUNCTION stedi.ms_ge(timestamptz, timestamptz) IS 'Millisecond of the first is not before that of the second (operator >=#)';
COMMENT ON FUNCTION stedi.ms_cmp(timestamptz, timestamptz) IS 'btree comparison of times at millisecond resolution';
COMMENT ON FUNCTION stedi.ms_hash(timestamptz) IS 'Hash of the millisecond a time falls in';
COMMENT ON FUNCTION stedi.ms_hash_extended(timestamptz, bigint) IS 'Seeded 64-bit hash of the millisecond a time falls in';

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

COMMENT ON OPERATOR stedi.=# (timestamptz, timestamptz) IS 'same millisecond: readings taken at the same moment (hash- and merge-joinable)';
COMMENT ON OPERATOR stedi.<># (timestamptz, timestamptz) IS 'different milliseconds';
COMMENT ON OPERATOR stedi.<# (timestamptz, timestamptz) IS 'earlier millisecond';
COMMENT ON OPERATOR stedi.<=# (timestamptz, timestamptz) IS 'same or earlier millisecond';
COMMENT ON OPERATOR stedi.># (timestamptz, timestamptz) IS 'later millisecond';
COMMENT ON OPERATOR stedi.>=# (timestamptz, timestamptz) IS 'same or later millisecond';

CREATE OPERATOR CLASS stedi.timestamptz_ms_ops
FOR TYPE timestamptz USING btree AS
    OPERATOR 1 stedi.<#,
    OPERATOR 2 stedi.<=#,
    OPERATOR 3 stedi.=#,
    OPERATOR 4 stedi.>=#,
    OPERATOR 5 stedi.>#,
    FUNCTION 1 stedi.ms_cmp(timestamptz, timestamptz);
COMMENT ON OPERATOR CLASS stedi.timestamptz_ms_ops USING btree IS 'Orders times by the millisecond they fall in; lets the planner merge-join on =#';

CREATE OPERATOR CLASS stedi.timestamptz_ms_ops
FOR TYPE timestamptz USING hash AS
    OPERATOR 1 stedi.=#,
    FUNCTION 1 stedi.ms_hash(timestamptz),
    FUNCTION 2 stedi.ms_hash_extended(timestamptz, bigint);
COMMENT ON OPERATOR CLASS stedi.timestamptz_ms_ops USING hash IS 'Hashes times by the millisecond they fall in; lets the planner hash-join on =#';

------------------------------------------------------------------------------
-- Settings
------------------------------------------------------------------------------

-- Only values that differ from their default are stored: the defaults live
-- in stedi.settings, so an upgrade can change a default that no one set.
CREATE TABLE stedi.setting (
    name   text PRIMARY KEY,
    value  text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    set_by name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE stedi.setting IS 'Settings of the lakehouse that differ from their defaults (see stedi.settings); change them with stedi.set_setting()';

CREATE VIEW stedi.settings AS
SELECT d.name, coalesce(s.value, d.default_value) AS value, d.default_value,
       s.value IS NULL AS is_default, s.set_at, s.set_by, d.description
  FROM (VALUES
        ('consent_policy', 'original',
         'Which readings of a consenting customer the trusted zone keeps: original (all of them, as the original pipeline) or as_of (only those taken at or after the customer''s research consent date); set with stedi.set_consent_policy()'),
        ('run_history_retention', '30 days',
         'How long stedi.refresh_run and stedi.refresh_log keep a run (an interval)')
       ) AS d(name, default_value, description)
  LEFT JOIN stedi.setting AS s USING (name);
COMMENT ON VIEW stedi.settings IS 'Every setting of the lakehouse: its value, its default and what it does';

CREATE FUNCTION stedi.setting_value(name text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT value FROM stedi.settings WHERE settings.name = setting_value.name $$;
COMMENT ON FUNCTION stedi.setting_value(text) IS 'The current value of a setting';

CREATE FUNCTION stedi.set_setting(name text, value text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM stedi.settings s WHERE s.name = set_setting.name) THEN
        RAISE EXCEPTION 'unknown stedi setting "%"', set_setting.name
              USING ERRCODE = 'undefined_object',
                    HINT = 'SELECT name FROM stedi.settings lists them.';
    END IF;
    IF value IS NULL THEN
        DELETE FROM stedi.setting s WHERE s.name = set_setting.name;
        RETURN;
    END IF;
    CASE name
    WHEN 'consent_policy' THEN
        IF value NOT IN ('original', 'as_of') THEN
            RAISE EXCEPTION 'invalid consent policy "%"', value
                  USING ERRCODE = 'invalid_parameter_value',
                        DETAIL = 'The policies are original (every reading of a consenting customer) and as_of (only readings taken at or after the consent date).',
                        HINT = 'SELECT stedi.set_consent_policy(''as_of'');';
        END IF;
    WHEN 'run_history_retention' THEN
        BEGIN
            IF value::interval <= interval '0' THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value';
            END IF;
        EXCEPTION WHEN invalid_parameter_value OR invalid_datetime_format
                       OR datetime_field_overflow OR syntax_error THEN
            RAISE EXCEPTION 'invalid value for run_history_retention: "%"', value
                  USING ERRCODE = 'invalid_parameter_value',
                        DETAIL = 'It must be a positive interval.',
                        HINT = 'For example: SELECT stedi.set_setting(''run_history_retention'', ''14 days'');';
        END;
    END CASE;
    INSERT INTO stedi.setting AS s (name, value) VALUES (set_setting.name, set_setting.value)
    ON CONFLICT ON CONSTRAINT setting_pkey DO UPDATE
       SET value = EXCLUDED.value, set_at = now(), set_by = current_user;
END
$$;

CREATE FUNCTION stedi.set_consent_policy(policy text) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM stedi.set_setting('consent_policy', policy);
    RETURN stedi.setting_value('consent_policy');
END
$$;
COMMENT ON FUNCTION stedi.set_consent_policy(text) IS
    'as_of: the trusted zone keeps only readings taken at or after the customer''s research consent date; original (the default): every reading of a consenting customer.  Takes effect at the next refresh';
COMMENT ON FUNCTION stedi.set_setting(text, text) IS 'Change a setting (NULL restores its default)';

------------------------------------------------------------------------------
-- Pseudonymous customer keys
------------------------------------------------------------------------------

-- The secret of the keyed hash that turns an email into a customer key.
-- Made at CREATE EXTENSION from the server's strong random source; only
-- the extension's owner can read it.
CREATE TABLE stedi.pseudonym_secret (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    secret bytea NOT NULL CHECK (octet_length(secret) >= 32)
);
COMMENT ON TABLE stedi.pseudonym_secret IS 'The secret key of stedi.customer_key(); whoever holds it can link customer keys to emails';

CREATE FUNCTION stedi.random_secret() RETURNS bytea
AS 'MODULE_PATHNAME', 'stedi_random_secret' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.random_secret() IS '32 bytes from the server''s strong random source';
INSERT INTO stedi.pseudonym_secret (secret) VALUES (stedi.random_secret());

CREATE FUNCTION stedi.customer_key(email text, secret bytea) RETURNS uuid
AS 'MODULE_PATHNAME', 'stedi_customer_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stedi.customer_key(text, bytea) IS
    'Pseudonymous customer key: the first 128 bits of HMAC-SHA-256(secret, email), as a uuid';

------------------------------------------------------------------------------
-- Trusted and curated zones
--
-- Materialized views, each with a unique index on never-null columns so
-- that stedi.refresh() can refresh them CONCURRENTLY.  Created empty;
-- stedi.refresh() populates them.  Every rule about consent is applied
-- here, in the trusted zone; curated is made of trusted alone.
------------------------------------------------------------------------------

-- One truth per customer: the record with the latest lastUpdateDate wins;
-- ties go to the record loaded last (highest file, then line).  Consent is
-- decided on that record, so a later record that withdraws consent wins.
CREATE MATERIALIZED VIEW trusted.customer AS
SELECT customer_name, email, phone, birth_day, serial_number,
       registration_date, last_update_date,
       share_with_research_as_of_date, share_with_public_as_of_date,
       share_with_friends_as_of_date, file_id, line_number
  FROM (SELECT DISTINCT ON (email) *
          FROM landing.customer
         ORDER BY email, last_update_date DESC NULLS LAST,
                  file_id DESC, line_number DESC) AS latest
 WHERE stedi.has_research_consent(share_with_research_as_of_date)
WITH NO DATA;
CREATE UNIQUE INDEX customer_email_idx ON trusted.customer (email);
COMMENT ON MATERIALIZED VIEW trusted.customer IS 'Customers who agreed to share their data for research: the latest record of each email (customer_trusted)';

-- Under the as_of consent policy, only readings taken at or after the
-- customer's consent date.  The policy is read from stedi.settings at
-- refresh, so the session's own settings never change the result.
CREATE MATERIALIZED VIEW trusted.accelerometer AS
SELECT a.user_email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number
  FROM landing.accelerometer AS a
  JOIN trusted.customer AS c ON c.email = a.user_email
 CROSS JOIN (SELECT stedi.setting_value('consent_policy') AS consent_policy) AS p
 WHERE stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                          a.reading_time, p.consent_policy)
WITH NO DATA;
CREATE UNIQUE INDEX accelerometer_lineage_idx ON trusted.accelerometer (file_id, line_number);
COMMENT ON MATERIALIZED VIEW trusted.accelerometer IS 'Accelerometer readings of customers in trusted.customer, taken when the consent policy allows (accelerometer_trusted)';

-- No name, email, phone or birthday: curated is what data scientists read.
CREATE MATERIALIZED VIEW curated.customer AS
SELECT stedi.customer_key(c.email, k.secret) AS customer_key,
       c.serial_number, c.registration_date, c.last_update_date,
       c.share_with_research_as_of_date, c.share_with_public_as_of_date,
       c.share_with_friends_as_of_date
  FROM trusted.customer AS c
 CROSS JOIN stedi.pseudonym_secret AS k
 WHERE EXISTS (SELECT FROM trusted.accelerometer AS a WHERE a.user_email = c.email)
WITH NO DATA;
CREATE UNIQUE INDEX customer_key_idx ON curated.customer (customer_key);
COMMENT ON MATERIALIZED VIEW curated.customer IS 'Trusted customers who have accelerometer readings, by pseudonymous key (customer_curated)';

CREATE MATERIALIZED VIEW trusted.step_trainer AS
SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
       s.file_id, s.line_number
  FROM landing.step_trainer AS s
 CROSS JOIN (SELECT stedi.setting_value('consent_policy') AS consent_policy) AS p
 WHERE EXISTS (SELECT FROM curated.customer AS c
                WHERE c.serial_number = s.serial_number
                  AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                                         s.sensor_reading_time,
                                                         p.consent_policy))
WITH NO DATA;
CREATE UNIQUE INDEX step_trainer_lineage_idx ON trusted.step_trainer (file_id, line_number);
COMMENT ON MATERIALIZED VIEW trusted.step_trainer IS 'Step trainer readings of devices owned by customers in curated.customer, taken when the consent policy allows (step_trainer_trusted)';

-- The training table pairs a step trainer reading with the accelerometer
-- readings taken in the same millisecond BY THE CUSTOMER WHO OWNS THAT STEP
-- TRAINER.  A join on time alone (as the original pipeline did) would also
-- pair readings of strangers whose clocks happen to coincide.  The
-- customer appears only as a pseudonymous key.
CREATE MATERIALIZED VIEW curated.machine_learning AS
SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
       stedi.customer_key(c.email, k.secret) AS customer_key,
       a.reading_time, a.x, a.y, a.z,
       s.file_id AS step_trainer_file_id,
       s.line_number AS step_trainer_line_number,
       a.file_id AS accelerometer_file_id,
       a.line_number AS accelerometer_line_number
  FROM trusted.step_trainer AS s
  JOIN trusted.customer AS c ON c.serial_number = s.serial_number
  JOIN trusted.accelerometer AS a
    ON a.user_email = c.email
   AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time
 CROSS JOIN stedi.pseudonym_secret AS k
WITH NO DATA;
CREATE UNIQUE INDEX machine_learning_lineage_idx ON curated.machine_learning
    (step_trainer_file_id, step_trainer_line_number,
     accelerometer_file_id, accelerometer_line_number);
COMMENT ON MATERIALIZED VIEW curated.machine_learning IS 'Each step trainer reading paired with the accelerometer readings its owner took in the same millisecond, by pseudonymous customer key (machine_learning_curated)';

------------------------------------------------------------------------------
-- What changed in landing since the last refresh
------------------------------------------------------------------------------

-- A note per statement that changed a landing table.  stedi.refresh()
-- deletes the notes it can see before it reads landing: notes left are
-- changes no refresh has seen yet.  Insert-only, so concurrent loaders
-- never wait for each other here.
CREATE TABLE stedi.landing_change (
    relation   regclass NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stedi.landing_change IS 'Changes to landing tables that no refresh has seen yet (one row per statement)';

CREATE FUNCTION stedi.note_landing_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO stedi.landing_change (relation) VALUES (TG_RELID);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stedi.note_landing_change() IS 'Statement trigger on landing tables: notes that the zones are out of date';

CREATE TRIGGER landing_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON landing.customer FOR EACH STATEMENT EXECUTE FUNCTION stedi.note_landing_change();
CREATE TRIGGER landing_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON landing.accelerometer FOR EACH STATEMENT EXECUTE FUNCTION stedi.note_landing_change();
CREATE TRIGGER landing_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON landing.step_trainer FOR EACH STATEMENT EXECUTE FUNCTION stedi.note_landing_change();
-- A change of the consent policy changes the zones as much as new data.
CREATE TRIGGER landing_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON stedi.setting FOR EACH STATEMENT EXECUTE FUNCTION stedi.note_landing_change();

------------------------------------------------------------------------------
-- Refresh and its log
------------------------------------------------------------------------------

CREATE TABLE stedi.refresh_run (
    run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger     text NOT NULL DEFAULT 'manual'
                CHECK (trigger IN ('manual', 'scheduled')),
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    message     text
);
CREATE INDEX ON stedi.refresh_run (started_at);
COMMENT ON TABLE stedi.refresh_run IS 'One row per refresh of the zones, manual or scheduled; pruned after the run_history_retention setting';
COMMENT ON COLUMN stedi.refresh_run.message IS 'Why a run failed (the error) or was skipped';

CREATE TABLE stedi.refresh_log (
    run_id   bigint NOT NULL REFERENCES stedi.refresh_run ON DELETE CASCADE,
    step     integer NOT NULL,
    view     regclass NOT NULL,
    method   text NOT NULL CHECK (method IN ('complete', 'concurrent')),
    rows     bigint NOT NULL,
    duration interval NOT NULL,
    PRIMARY KEY (run_id, step)
);
COMMENT ON TABLE stedi.refresh_log IS 'One row per view refreshed in a run: how (complete or concurrent), its row count afterwards and how long it took';

CREATE FUNCTION stedi.refresh(
    only_if_changed boolean DEFAULT false,
    OUT view regclass, OUT method text, OUT rows bigint, OUT duration interval)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'stedi_refresh'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.refresh(boolean) IS
    'Refresh the trusted and curated zones in dependency order (concurrently once populated), analyze each, log row counts and durations; with only_if_changed, do nothing when no landing table changed since the last refresh';

------------------------------------------------------------------------------
-- Refresh on a schedule
------------------------------------------------------------------------------

-- This database's schedule: at most one row.
CREATE TABLE stedi.refresh_job (
    one                  boolean PRIMARY KEY DEFAULT true CHECK (one),
    every                interval NOT NULL CHECK (every >= interval '1 second'),
    run_as               regrole NOT NULL DEFAULT current_user::regrole,
    created_at           timestamptz NOT NULL DEFAULT now(),
    next_run_at          timestamptz NOT NULL DEFAULT now(),
    last_checked_at      timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE stedi.refresh_job IS 'The refresh schedule of this database (stedi.schedule_refresh); run by the stedi scheduler background worker';
COMMENT ON COLUMN stedi.refresh_job.run_as IS 'The role the scheduled refresh runs as: whoever scheduled it';
COMMENT ON COLUMN stedi.refresh_job.consecutive_failures IS 'Failed runs in a row; each doubles the wait before the next try, up to an hour';

CREATE FUNCTION stedi.scheduler_check() RETURNS void
AS 'MODULE_PATHNAME', 'stedi_scheduler_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.scheduler_check() IS 'Fails, saying why, when this server cannot run scheduled refreshes';

CREATE FUNCTION stedi.scheduler_running() RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_scheduler_running' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.scheduler_running() IS 'Whether the stedi scheduler background worker is running';

CREATE FUNCTION stedi.refresh_job_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'stedi_refresh_job_changed' LANGUAGE C;
COMMENT ON FUNCTION stedi.refresh_job_changed() IS 'Statement trigger on stedi.refresh_job: tells the scheduler at commit';
CREATE TRIGGER refresh_job_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON stedi.refresh_job FOR EACH STATEMENT EXECUTE FUNCTION stedi.refresh_job_changed();

CREATE FUNCTION stedi.schedule_refresh(every interval)
RETURNS stedi.refresh_job
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job stedi.refresh_job;
BEGIN
    PERFORM stedi.scheduler_check();
    IF every IS NULL OR every < interval '1 second' THEN
        RAISE EXCEPTION 'refresh interval must be at least 1 second, not %', coalesce(every::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO stedi.refresh_job AS j (every) VALUES (schedule_refresh.every)
    ON CONFLICT (one) DO UPDATE
       SET every = EXCLUDED.every, run_as = current_user::regrole,
           next_run_at = now(), consecutive_failures = 0
    RETURNING * INTO job;
    RETURN job;
END
$$;
COMMENT ON FUNCTION stedi.schedule_refresh(interval) IS
    'Refresh the zones of this database every so often, in a background worker, when landing changed (needs stedi in shared_preload_libraries)';

CREATE FUNCTION stedi.unschedule_refresh() RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (DELETE FROM stedi.refresh_job RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;
COMMENT ON FUNCTION stedi.unschedule_refresh() IS 'Stop refreshing this database on a schedule; true if there was a schedule';

------------------------------------------------------------------------------
-- What an operator looks at
------------------------------------------------------------------------------

CREATE VIEW stedi.zone_status AS
SELECT v.step, v.view,
       last_ok.rows,
       last_ok.finished_at AS last_refreshed_at,
       last_ok.duration AS last_refresh_duration,
       EXISTS (SELECT FROM stedi.landing_change) AS landing_changed_since,
       last_run.status AS last_run_status,
       last_run.message AS last_run_message,
       job.every AS refresh_every,
       job.next_run_at,
       job.consecutive_failures,
       (job.every IS NOT NULL
        AND (job.next_run_at < now() - greatest(job.every, interval '1 minute')
             OR NOT stedi.scheduler_running())) AS schedule_overdue
  FROM (VALUES (1, 'trusted.customer'::regclass),
               (2, 'trusted.accelerometer'::regclass),
               (3, 'curated.customer'::regclass),
               (4, 'trusted.step_trainer'::regclass),
               (5, 'curated.machine_learning'::regclass)) AS v(step, view)
  LEFT JOIN LATERAL (
        SELECT l.rows, l.duration, r.finished_at
          FROM stedi.refresh_log AS l
          JOIN stedi.refresh_run AS r USING (run_id)
         WHERE l.view = v.view AND r.status = 'succeeded'
         ORDER BY r.run_id DESC
         LIMIT 1) AS last_ok ON true
  LEFT JOIN LATERAL (
        SELECT status, message FROM stedi.refresh_run
         ORDER BY run_id DESC LIMIT 1) AS last_run ON true
  LEFT JOIN stedi.refresh_job AS job ON true
 ORDER BY v.step;
COMMENT ON VIEW stedi.zone_status IS
    'Each trusted and curated view: rows and time of its last successful refresh, whether landing changed since, the last run and the schedule (schedule_overdue: it should have run but did not)';

------------------------------------------------------------------------------
-- Right to erasure
------------------------------------------------------------------------------

-- What was erased, and when, and by whom: never whose data it was.
CREATE TABLE stedi.erasure_log (
    erasure_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at         timestamptz NOT NULL DEFAULT now(),
    erased_by         name NOT NULL DEFAULT session_user,
    customer_records  bigint NOT NULL,
    accelerometer_rows bigint NOT NULL,
    step_trainer_rows bigint NOT NULL,
    rejected_lines    bigint NOT NULL
);
COMMENT ON TABLE stedi.erasure_log IS 'One row per stedi.forget_customer(): counts of what was removed, with no email or other personal field';

CREATE FUNCTION stedi.forget_customer(email text)
RETURNS stedi.erasure_log
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    serials text[];
    result stedi.erasure_log;
    n_customer bigint;
    n_accelerometer bigint;
    n_step_trainer bigint;
    n_rejected bigint;
BEGIN
    IF email IS NULL OR email = '' THEN
        RAISE EXCEPTION 'forget_customer needs an email'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- the devices of this customer that no other customer's record names
    SELECT coalesce(array_agg(DISTINCT c.serial_number), '{}') INTO serials
      FROM landing.customer AS c
     WHERE c.email = forget_customer.email
       AND NOT EXISTS (SELECT FROM landing.customer AS o
                        WHERE o.serial_number = c.serial_number
                          AND o.email <> forget_customer.email);

    WITH gone AS (DELETE FROM landing.customer AS c
                   WHERE c.email = forget_customer.email RETURNING 1)
    SELECT count(*) INTO n_customer FROM gone;
    WITH gone AS (DELETE FROM landing.accelerometer AS a
                   WHERE a.user_email = forget_customer.email RETURNING 1)
    SELECT count(*) INTO n_accelerometer FROM gone;
    WITH gone AS (DELETE FROM landing.step_trainer AS s
                   WHERE s.serial_number = ANY (serials) RETURNING 1)
    SELECT count(*) INTO n_step_trainer FROM gone;
    -- quarantined lines that carry the email, or one of those devices
    WITH gone AS (DELETE FROM landing.rejected AS r
                   WHERE strpos(lower(r.raw_line), lower(forget_customer.email)) > 0
                      OR EXISTS (SELECT FROM unnest(serials) AS s(serial)
                                  WHERE strpos(r.raw_line, s.serial) > 0)
                  RETURNING 1)
    SELECT count(*) INTO n_rejected FROM gone;

    -- trusted and curated, in the same transaction
    PERFORM count(*) FROM stedi.refresh();

    INSERT INTO stedi.erasure_log (customer_records, accelerometer_rows,
                                   step_trainer_rows, rejected_lines)
    VALUES (n_customer, n_accelerometer, n_step_trainer, n_rejected)
    RETURNING * INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION stedi.forget_customer(text) IS
    'Right to erasure: remove every row of a customer from landing (quarantined lines included), trusted and curated, in one transaction, and log counts only';

------------------------------------------------------------------------------
-- Roles and privileges
--
-- stedi_loader   loads landing (stedi-load), reads nothing
-- stedi_analyst  reads curated, nothing else
-- stedi_admin    everything: landing, trusted, curated, refresh, settings,
--                schedules, erasure (but not the pseudonym secret)
-- Roles belong to the cluster, not the database: they are created if
-- missing and stay after DROP EXTENSION.  Grant them to login roles.
------------------------------------------------------------------------------

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['stedi_loader', 'stedi_analyst', 'stedi_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- Functions that act with the extension owner's rights, for roles that
-- may not touch the tables behind them.  Each pins its search_path.
ALTER FUNCTION stedi.refresh(boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean) SECURITY DEFINER;
ALTER FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint) SECURITY DEFINER;
ALTER FUNCTION stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text) SECURITY DEFINER;
ALTER FUNCTION stedi.note_landing_change() SECURITY DEFINER;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stedi FROM PUBLIC;

GRANT USAGE ON SCHEMA landing, stedi TO stedi_loader;
GRANT INSERT ON landing.customer, landing.accelerometer, landing.step_trainer,
                landing.rejected TO stedi_loader;
GRANT EXECUTE ON FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean),
                          stedi.finish_file(integer, bigint, bigint, bigint, bigint),
                          stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text)
      TO stedi_loader;

GRANT USAGE ON SCHEMA curated TO stedi_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA curated TO stedi_analyst;

GRANT USAGE ON SCHEMA landing, trusted, curated, stedi TO stedi_admin;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA landing TO stedi_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA trusted, curated TO stedi_admin;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA stedi TO stedi_admin;
REVOKE ALL ON stedi.pseudonym_secret FROM stedi_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA stedi TO stedi_admin;
