-- stedi 0.2.0 -> 0.3.0
--
-- Trust boundaries:
-- * the loading protocol is kept by the server (src/loading.c): landing rows
--   only for a file begun in the same transaction, counts and owners
--   gathered by the server, finish_file(file_id, ...) without owners;
--   change tracking no longer trusts a session setting;
-- * settings are written only through set_setting (SECURITY DEFINER);
-- * a schedule runs only as a role its writer acts as, at most once a year;
-- * analysts read the curated tables, not their definitions, and may use
--   the =# operators;
-- * admins get EXECUTE on the functions they use, by name;
-- * the drop guard sees every command (DROP OWNED, cascades).

\echo Use "ALTER EXTENSION stedi UPDATE TO '0.3.0'" to load this file. \quit

-- This script runs as a superuser.  Refuse a schema stedi that someone
-- else made (or put objects in): its objects would be reached by this
-- script and, later, by the scheduler.  And resolve every name in
-- pg_catalog first, whatever the script's search_path.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
DO $$
DECLARE
    foreign_owner name;
BEGIN
    SELECT r.rolname INTO foreign_owner
      FROM (SELECT n.nspowner AS owner FROM pg_catalog.pg_namespace AS n
             WHERE n.nspname OPERATOR(pg_catalog.=) 'stedi'
            UNION ALL
            SELECT p.proowner FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) 'stedi'::pg_catalog.regnamespace
            UNION ALL
            SELECT c.relowner FROM pg_catalog.pg_class AS c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) 'stedi'::pg_catalog.regnamespace
            UNION ALL
            SELECT o.oprowner FROM pg_catalog.pg_operator AS o
             WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'stedi'::pg_catalog.regnamespace
            UNION ALL
            SELECT t.typowner FROM pg_catalog.pg_type AS t
             WHERE t.typnamespace OPERATOR(pg_catalog.=) 'stedi'::pg_catalog.regnamespace) AS o
      JOIN pg_catalog.pg_roles AS r ON r.oid OPERATOR(pg_catalog.=) o.owner
     WHERE NOT r.rolsuper
     LIMIT 1;
    IF foreign_owner IS NOT NULL THEN
        RAISE EXCEPTION 'schema "stedi" holds objects of role "%", who is not a superuser', foreign_owner
              USING ERRCODE = 'insufficient_privilege',
                    DETAIL = 'The extension''s functions would run with a superuser''s rights next to objects that role controls.',
                    HINT = 'Drop or rename that schema, then CREATE EXTENSION stedi makes its own.';
    END IF;
END
$$;

-- The loading protocol's record of the files this transaction loads (C,
-- src/loading.c): the server, not the loader, counts a file's rows and
-- gathers whose readings it holds.  Every landing row passes a CHECK
-- constraint that calls one of the first two; the other four are the
-- loading functions' own (only the extension's owner may execute them).
CREATE FUNCTION stedi.landing_row_check(kind text, file_id integer,
                                        line_number bigint, owner text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_landing_row_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.landing_row_check(text, integer, bigint, text) IS
    'CHECK of the landing tables: the row belongs to a file begun in this transaction (stedi.begin_file), of the table''s kind, in line order; or the writer may change landing by hand (stedi_admin, the owner), and the row is noted as untracked';
CREATE FUNCTION stedi.rejected_line_check(kind text, file_id integer, line_number bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_rejected_line_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.rejected_line_check(text, integer, bigint) IS
    'CHECK of landing.rejected: the line belongs to a file begun in this transaction, of its kind, in line order; or the writer may change landing by hand';
CREATE FUNCTION stedi.open_file(file_id integer, kind text) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_open_file' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.open_file(integer, text) IS
    'stedi.begin_file: the file is being loaded in this transaction (its rows may now be written)';
CREATE FUNCTION stedi.close_file(file_id integer, OUT kind text, OUT rows_loaded bigint,
                                 OUT rows_rejected bigint, OUT owners text[])
AS 'MODULE_PATHNAME', 'stedi_close_file' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.close_file(integer) IS
    'stedi.finish_file: what this transaction wrote for the file, counted by the server, and the distinct owners of its readings; no row may be added after';
CREATE FUNCTION stedi.track_erasure(tracked boolean) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_track_erasure' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.track_erasure(boolean) IS
    'stedi.forget_customer: its deletes from landing are tracked (it queues the customer itself)';
CREATE FUNCTION stedi.landing_change_is_tracked(operation text) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_landing_change_is_tracked' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.landing_change_is_tracked(text) IS
    'Whether the refresh already knows what a landing statement changed: an INSERT through the loading protocol, a DELETE of forget_customer';

-- Existing rows are checked as the extension's owner, who may write
-- landing by hand.
ALTER TABLE landing.customer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('customer', file_id, line_number, NULL));
ALTER TABLE landing.accelerometer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('accelerometer', file_id, line_number, user_email));
ALTER TABLE landing.step_trainer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('step_trainer', file_id, line_number, serial_number));
ALTER TABLE landing.rejected ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.rejected_line_check(kind, file_id, line_number));

CREATE OR REPLACE FUNCTION stedi.begin_file(kind text, path text, size_bytes bigint,
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
    PERFORM stedi.open_file(new_file_id, begin_file.kind);
    RETURN new_file_id;
END
$$;

DROP FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint, text[]);
CREATE FUNCTION stedi.finish_file(file_id integer, lines_read bigint,
                                  rows_loaded bigint, rows_rejected bigint,
                                  extra_fields bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f landing.source_file;
    written record;
BEGIN
    -- only a file begun in this transaction; its rows as the server counted them
    written := stedi.close_file(finish_file.file_id);
    IF (written.rows_loaded, written.rows_rejected)
       IS DISTINCT FROM (finish_file.rows_loaded, finish_file.rows_rejected) THEN
        RAISE EXCEPTION 'file % does not hold the rows it says', finish_file.file_id
              USING ERRCODE = 'check_violation',
                    DETAIL = format('It says %s loaded and %s rejected; %s and %s were written.',
                                    finish_file.rows_loaded, finish_file.rows_rejected,
                                    written.rows_loaded, written.rows_rejected);
    END IF;
    UPDATE landing.source_file AS s
       SET lines_read = finish_file.lines_read,
           rows_loaded = finish_file.rows_loaded,
           rows_rejected = finish_file.rows_rejected,
           extra_fields = finish_file.extra_fields,
           load_duration = clock_timestamp() - s.loaded_at
     WHERE s.file_id = finish_file.file_id
    RETURNING * INTO f;
    INSERT INTO stedi.ingest_log (sha256, kind, path, size_bytes, outcome, file_id,
                                  lines_read, rows_loaded, rows_rejected, started_at)
    VALUES (f.sha256, f.kind, f.path, f.size_bytes, 'loaded', f.file_id,
            f.lines_read, f.rows_loaded, f.rows_rejected, f.loaded_at);
    -- the next refresh adds this file's rows
    INSERT INTO stedi.pending_file (file_id, kind) VALUES (f.file_id, f.kind)
    ON CONFLICT DO NOTHING;
    -- summarize the block ranges this file filled, so that refresh finds
    -- its rows through the BRIN index (reads only what is not summarized:
    -- about this file)
    PERFORM brin_summarize_new_values(CASE f.kind
        WHEN 'customer' THEN 'landing.customer_file_idx'::regclass
        WHEN 'accelerometer' THEN 'landing.accelerometer_file_idx'::regclass
        ELSE 'landing.step_trainer_file_idx'::regclass END);
    -- whose readings it holds: the emails, or the devices' serial numbers
    -- (NULL: more than the server keeps in memory; read from the file's rows)
    IF f.kind = 'accelerometer' THEN
        INSERT INTO stedi.accelerometer_file_user (user_email, file_id)
        SELECT o, f.file_id FROM unnest(written.owners) AS o
        UNION
        SELECT a.user_email, f.file_id FROM landing.accelerometer AS a
         WHERE written.owners IS NULL AND a.file_id = f.file_id
        ON CONFLICT DO NOTHING;
    ELSIF f.kind = 'step_trainer' THEN
        INSERT INTO stedi.step_trainer_file_serial (serial_number, file_id)
        SELECT o, f.file_id FROM unnest(written.owners) AS o
        UNION
        SELECT s.serial_number, f.file_id FROM landing.step_trainer AS s
         WHERE written.owners IS NULL AND s.file_id = f.file_id
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint) IS
    'stedi-load: record the counts of the file begun in this transaction (they must match the rows written), queue it for the next refresh, and log the attempt';

CREATE OR REPLACE FUNCTION stedi.log_ingest(sha256 bytea, kind text, path text,
                                 size_bytes bigint, outcome text,
                                 started_at timestamptz, message text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first_file_id integer;
BEGIN
    -- a load is logged by finish_file, in the load's own transaction
    IF outcome IS DISTINCT FROM 'skipped' AND outcome IS DISTINCT FROM 'failed' THEN
        RAISE EXCEPTION 'stedi.log_ingest logs only attempts that loaded nothing, not "%"', outcome
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'A file that loads is logged by stedi.finish_file.';
    END IF;
    IF kind IS NULL OR kind NOT IN ('customer', 'accelerometer', 'step_trainer')
       OR octet_length(sha256) IS DISTINCT FROM 32 OR NOT size_bytes >= 0 THEN
        RAISE EXCEPTION 'stedi.log_ingest needs a kind, a 32-byte sha256 and a size'
              USING ERRCODE = 'invalid_parameter_value',
                    DETAIL = 'Kinds are customer, accelerometer and step_trainer.';
    END IF;
    IF outcome = 'skipped' THEN
        SELECT min(f.file_id) INTO first_file_id FROM landing.source_file AS f
         WHERE f.sha256 = log_ingest.sha256;
    END IF;
    INSERT INTO stedi.ingest_log (sha256, kind, path, size_bytes, outcome,
                                  started_at, message, file_id)
    VALUES (log_ingest.sha256, log_ingest.kind, log_ingest.path, log_ingest.size_bytes,
            log_ingest.outcome, log_ingest.started_at, log_ingest.message, first_file_id);
    RETURN first_file_id;
END
$$;

-- incremental refresh: its temporary tables go with each call, so two
-- refreshes (two erasures) work in one transaction
CREATE OR REPLACE FUNCTION stedi.apply_zone_changes(customer_files integer[],
                                         accelerometer_files integer[],
                                         step_trainer_files integer[],
                                         erased text[])
RETURNS TABLE (step integer, view regclass, method text, rows bigint, duration interval)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    policy text := stedi.setting_value('consent_policy');
    secret bytea := (SELECT p.secret FROM stedi.pseudonym_secret AS p);
    changed text[];          -- customers whose latest record may differ
    lost text[];             -- leave trusted (or must be recomputed)
    gained text[];           -- enter trusted (or are recomputed)
    lost_serials text[];     -- devices whose rows are recomputed
    pull_serials text[];     -- devices whose old rows are read again
    accelerometer_read integer[];   -- files to read accelerometer rows from
    step_trainer_read integer[];    -- and step trainer rows
    delta bigint[] := ARRAY[0, 0, 0, 0, 0];
    n bigint;
    t0 timestamptz := clock_timestamp();
    z record;
BEGIN

    -- 1. Customers: the latest consenting record of each changed email,
    --    against what trusted holds.
    SELECT array_agg(DISTINCT e) INTO changed
      FROM (SELECT c.email FROM landing.customer AS c
             WHERE c.file_id = ANY (customer_files)
            UNION ALL SELECT unnest(erased)) AS x(e);
    IF changed IS NOT NULL THEN
        CREATE TEMP TABLE stedi_new_customer ON COMMIT DROP AS
        SELECT * FROM trusted.customer_definition AS d WHERE d.email = ANY (changed);
        CREATE TEMP TABLE stedi_old_customer ON COMMIT DROP AS
        SELECT * FROM trusted.customer AS c WHERE c.email = ANY (changed);

        -- consent or device changed: out with the old rows, in with the new
        SELECT array_agg(o.email) INTO lost
          FROM stedi_old_customer AS o LEFT JOIN stedi_new_customer AS n USING (email)
         WHERE n.email IS NULL
            OR (n.share_with_research_as_of_date, n.serial_number)
               IS DISTINCT FROM (o.share_with_research_as_of_date, o.serial_number);
        SELECT array_agg(n.email) INTO gained
          FROM stedi_new_customer AS n LEFT JOIN stedi_old_customer AS o USING (email)
         WHERE o.email IS NULL OR n.email = ANY (lost);
        SELECT array_agg(DISTINCT o.serial_number) INTO lost_serials
          FROM stedi_old_customer AS o WHERE o.email = ANY (lost);

        -- a newer record that changes neither: the customer row alone
        UPDATE trusted.customer AS c
           SET customer_name = n.customer_name, phone = n.phone, birth_day = n.birth_day,
               registration_date = n.registration_date, last_update_date = n.last_update_date,
               share_with_public_as_of_date = n.share_with_public_as_of_date,
               share_with_friends_as_of_date = n.share_with_friends_as_of_date,
               file_id = n.file_id, line_number = n.line_number
          FROM stedi_new_customer AS n
         WHERE c.email = n.email AND NOT (n.email = ANY (coalesce(gained, '{}')));
        UPDATE curated.customer AS c
           SET registration_date = n.registration_date, last_update_date = n.last_update_date,
               share_with_public_as_of_date = n.share_with_public_as_of_date,
               share_with_friends_as_of_date = n.share_with_friends_as_of_date
          FROM stedi_new_customer AS n
         WHERE c.customer_key = stedi.customer_key(n.email, secret)
           AND NOT (n.email = ANY (coalesce(gained, '{}')));

        IF lost IS NOT NULL THEN
            -- pairs and step trainer rows of their devices are recomputed
            -- below for whoever still owns the device
            -- (the training table's key begins with the step trainer row's)
            DELETE FROM curated.machine_learning AS m
             USING trusted.step_trainer AS s
             WHERE s.serial_number = ANY (lost_serials)
               AND m.step_trainer_file_id = s.file_id
               AND m.step_trainer_line_number = s.line_number;
            GET DIAGNOSTICS n = ROW_COUNT; delta[5] := delta[5] - n;
            DELETE FROM trusted.step_trainer AS s WHERE s.serial_number = ANY (lost_serials);
            GET DIAGNOSTICS n = ROW_COUNT; delta[4] := delta[4] - n;
            DELETE FROM curated.customer AS c
             WHERE c.customer_key IN (SELECT stedi.customer_key(e, secret) FROM unnest(lost) AS e);
            GET DIAGNOSTICS n = ROW_COUNT; delta[3] := delta[3] - n;
            DELETE FROM trusted.accelerometer AS a WHERE a.user_email = ANY (lost);
            GET DIAGNOSTICS n = ROW_COUNT; delta[2] := delta[2] - n;
            DELETE FROM trusted.customer AS c WHERE c.email = ANY (lost);
            GET DIAGNOSTICS n = ROW_COUNT; delta[1] := delta[1] - n;
        END IF;
        IF gained IS NOT NULL THEN
            INSERT INTO trusted.customer
            SELECT * FROM stedi_new_customer AS n WHERE n.email = ANY (gained);
            GET DIAGNOSTICS n = ROW_COUNT; delta[1] := delta[1] + n;
        END IF;
        -- gone with this call, so that a second refresh in the same
        -- transaction (two erasures, say) makes its own
        DROP TABLE pg_temp.stedi_new_customer, pg_temp.stedi_old_customer;
    END IF;

    -- 2. Accelerometer: rows of new files, and every row of gained
    --    customers (found through the files that hold them).
    SELECT array_agg(DISTINCT f) INTO accelerometer_read
      FROM (SELECT unnest(accelerometer_files)
            UNION ALL SELECT m.file_id FROM stedi.accelerometer_file_user AS m
                       WHERE m.user_email = ANY (gained)) AS x(f);
    IF accelerometer_read IS NOT NULL THEN
        INSERT INTO trusted.accelerometer
        SELECT a.* FROM landing.accelerometer AS a
          JOIN trusted.customer AS c ON c.email = a.user_email
         WHERE a.file_id = ANY (accelerometer_read)
           AND (a.file_id = ANY (accelerometer_files) OR a.user_email = ANY (gained))
           AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                                  a.reading_time, policy)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT; delta[2] := delta[2] + n;
    END IF;

    -- 3. New accelerometer rows pair with the step trainer rows there are.
    --    (Each customer's key is computed once, not once per pair.)
    WITH owner AS MATERIALIZED (
        SELECT c.email, c.serial_number, stedi.customer_key(c.email, secret) AS customer_key
          FROM trusted.customer AS c
         WHERE c.email IN (SELECT a.user_email FROM trusted.accelerometer AS a
                            WHERE a.file_id = ANY (accelerometer_read)
                              AND (a.file_id = ANY (accelerometer_files)
                                   OR a.user_email = ANY (gained))))
    INSERT INTO curated.machine_learning
    SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
           o.customer_key, a.reading_time, a.x, a.y, a.z,
           s.file_id, s.line_number, a.file_id, a.line_number
      FROM trusted.accelerometer AS a
      JOIN owner AS o ON o.email = a.user_email
      JOIN trusted.step_trainer AS s
        ON s.serial_number = o.serial_number
       AND s.sensor_reading_time OPERATOR(stedi.=#) a.reading_time
     WHERE a.file_id = ANY (accelerometer_read)
       AND (a.file_id = ANY (accelerometer_files) OR a.user_email = ANY (gained))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT; delta[5] := delta[5] + n;

    -- 4. Customers with their first readings become curated.
    WITH added AS (
        INSERT INTO curated.customer
        SELECT stedi.customer_key(c.email, secret), c.serial_number, c.registration_date,
               c.last_update_date, c.share_with_research_as_of_date,
               c.share_with_public_as_of_date, c.share_with_friends_as_of_date
          FROM trusted.customer AS c
         WHERE c.email IN (SELECT a.user_email FROM trusted.accelerometer AS a
                            WHERE a.file_id = ANY (accelerometer_read)
                              AND (a.file_id = ANY (accelerometer_files)
                                   OR a.user_email = ANY (gained)))
        ON CONFLICT DO NOTHING
        RETURNING serial_number)
    SELECT array_agg(DISTINCT serial_number), count(*) INTO pull_serials, n FROM added;
    delta[3] := delta[3] + n;

    -- devices of customers recomputed above, still curated through anyone
    SELECT array_agg(DISTINCT s) INTO pull_serials
      FROM (SELECT unnest(pull_serials)
            UNION ALL SELECT c.serial_number FROM curated.customer AS c
                       WHERE c.serial_number = ANY (lost_serials)) AS x(s);

    -- 5. Step trainer: rows of new files, and every row of the devices
    --    that just became curated.
    SELECT array_agg(DISTINCT f) INTO step_trainer_read
      FROM (SELECT unnest(step_trainer_files)
            UNION ALL SELECT m.file_id FROM stedi.step_trainer_file_serial AS m
                       WHERE m.serial_number = ANY (pull_serials)) AS x(f);
    IF step_trainer_read IS NOT NULL THEN
        INSERT INTO trusted.step_trainer
        SELECT s.* FROM landing.step_trainer AS s
         WHERE s.file_id = ANY (step_trainer_read)
           AND (s.file_id = ANY (step_trainer_files) OR s.serial_number = ANY (pull_serials))
           AND EXISTS (SELECT FROM curated.customer AS c
                        WHERE c.serial_number = s.serial_number
                          AND stedi.reading_has_research_consent(
                                  c.share_with_research_as_of_date,
                                  s.sensor_reading_time, policy))
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT; delta[4] := delta[4] + n;
    END IF;

    -- 6. New step trainer rows pair with all accelerometer rows.
    WITH owner AS MATERIALIZED (
        SELECT c.email, c.serial_number, stedi.customer_key(c.email, secret) AS customer_key
          FROM trusted.customer AS c
         WHERE c.serial_number IN (SELECT s.serial_number FROM trusted.step_trainer AS s
                                    WHERE s.file_id = ANY (step_trainer_read)
                                      AND (s.file_id = ANY (step_trainer_files)
                                           OR s.serial_number = ANY (pull_serials))))
    INSERT INTO curated.machine_learning
    SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
           o.customer_key, a.reading_time, a.x, a.y, a.z,
           s.file_id, s.line_number, a.file_id, a.line_number
      FROM trusted.step_trainer AS s
      JOIN owner AS o ON o.serial_number = s.serial_number
      JOIN trusted.accelerometer AS a
        ON a.user_email = o.email
       AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time
     WHERE s.file_id = ANY (step_trainer_read)
       AND (s.file_id = ANY (step_trainer_files) OR s.serial_number = ANY (pull_serials))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT; delta[5] := delta[5] + n;

    -- Row counts, and fresh statistics for a zone that grew by a tenth.
    FOR z IN SELECT * FROM (VALUES
        (1, 'trusted.customer'::regclass), (2, 'trusted.accelerometer'),
        (3, 'curated.customer'), (4, 'trusted.step_trainer'),
        (5, 'curated.machine_learning')) AS v(step, zone) ORDER BY 1
    LOOP
        UPDATE stedi.zone_state AS s
           SET rows = s.rows + delta[z.step], refreshed_at = now()
         WHERE s.view = z.zone
        RETURNING s.rows INTO n;
        IF abs(n - (SELECT s.analyzed_rows FROM stedi.zone_state AS s WHERE s.view = z.zone))
           > greatest(1000, n / 10) THEN
            EXECUTE format('ANALYZE %s', z.zone);
            UPDATE stedi.zone_state AS s SET analyzed_rows = n WHERE s.view = z.zone;
        END IF;
        step := z.step; view := z.zone; method := 'incremental'; rows := n;
        duration := CASE WHEN z.step = 1 THEN clock_timestamp() - t0 ELSE interval '0' END;
        RETURN NEXT;
    END LOOP;
END
$$;

-- The same content is loaded once unless forced: the database refuses a
-- second unforced load.  Loads that 0.2.0 let through twice (loaders under
-- repeatable read) are marked forced, which they were in effect.
UPDATE landing.source_file AS f SET forced = true
 WHERE NOT f.forced
   AND EXISTS (SELECT FROM landing.source_file AS e
                WHERE e.sha256 = f.sha256 AND NOT e.forced AND e.file_id < f.file_id);
CREATE UNIQUE INDEX source_file_sha256_once ON landing.source_file (sha256) WHERE NOT forced;
COMMENT ON INDEX landing.source_file_sha256_once IS 'Finds rows of landing.source_file by sha256';

-- audit columns name who connected, not the owner of the function that wrote them
ALTER TABLE landing.source_file ALTER COLUMN loaded_by SET DEFAULT session_user;
ALTER TABLE stedi.ingest_log ALTER COLUMN loaded_by SET DEFAULT session_user;
ALTER TABLE stedi.setting ALTER COLUMN set_by SET DEFAULT session_user;

-- settings: written only through set_setting, a retention of 1 minute to
-- 100 years (wider values, once accepted, would fail every refresh)
UPDATE stedi.setting
   SET value = CASE WHEN value::interval < interval '1 minute' THEN '00:01:00' ELSE '36500 days' END
 WHERE name = 'run_history_retention'
   AND NOT value::interval BETWEEN interval '1 minute' AND interval '100 years';

-- settings: written only through set_setting
CREATE OR REPLACE FUNCTION stedi.set_setting(name text, value text) RETURNS void
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
        IF name = 'consent_policy' THEN
            INSERT INTO stedi.landing_change (relation) VALUES ('stedi.setting'::regclass);
        END IF;
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
        -- read and stored in one IntervalStyle (this function's), so that
        -- the value means the same in every session that reads it
        BEGIN
            IF NOT value::interval BETWEEN interval '1 minute' AND interval '100 years' THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value';
            END IF;
            value := value::interval::text;
        EXCEPTION WHEN invalid_parameter_value OR invalid_datetime_format
                       OR datetime_field_overflow OR interval_field_overflow
                       OR syntax_error THEN
            RAISE EXCEPTION 'invalid value for run_history_retention: "%"', value
                  USING ERRCODE = 'invalid_parameter_value',
                        DETAIL = 'It must be an interval from 1 minute to 100 years.',
                        HINT = 'For example: SELECT stedi.set_setting(''run_history_retention'', ''14 days'');';
        END;
    END CASE;
    INSERT INTO stedi.setting AS s (name, value, set_by)
    VALUES (set_setting.name, set_setting.value, session_user)
    ON CONFLICT ON CONSTRAINT setting_pkey DO UPDATE
       SET value = EXCLUDED.value, set_at = now(), set_by = EXCLUDED.set_by;
    IF name = 'consent_policy' THEN
        -- every reading may change zone: the next refresh is a full one
        INSERT INTO stedi.landing_change (relation) VALUES ('stedi.setting'::regclass);
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.set_setting(text, text) IS 'Change a setting (NULL restores its default); the only way to change one, so every value is validated';
COMMENT ON TABLE stedi.setting IS 'Settings of the lakehouse that differ from their defaults (see stedi.settings); written only by stedi.set_setting(), which validates each value';

-- change tracking: what the server knows, never a session setting
CREATE OR REPLACE FUNCTION stedi.note_landing_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- the loading protocol and forget_customer say what they change more
    -- precisely; what they did is known to the server alone (src/loading.c),
    -- never to a setting a session could change
    IF NOT stedi.landing_change_is_tracked(TG_OP) THEN
        INSERT INTO stedi.landing_change (relation) VALUES (TG_RELID);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON TABLE stedi.landing_change IS 'Changes not made through the loading protocol or by forget_customer; any of them makes the next refresh a full one';

CREATE OR REPLACE FUNCTION stedi.forget_customer(email text)
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
    IF email IS NULL OR btrim(email) = '' THEN
        RAISE EXCEPTION 'forget_customer needs an email'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- say precisely what changes: this customer (see note_landing_change)
    PERFORM stedi.track_erasure(true);
    INSERT INTO stedi.pending_customer (email) VALUES (forget_customer.email);

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
    -- quarantined lines that carry the email, or one of those devices, as
    -- a complete JSON string: "ann@x.com" is no part of "joann@x.com" or of
    -- "ann@x.com.au"; a blank serial number (0.2.0 loaded some) names no one
    WITH gone AS (DELETE FROM landing.rejected AS r
                   WHERE strpos(lower(r.raw_line), '"' || lower(forget_customer.email) || '"') > 0
                      OR EXISTS (SELECT FROM unnest(serials) AS s(serial)
                                  WHERE btrim(s.serial) <> ''
                                    AND strpos(r.raw_line, '"' || s.serial || '"') > 0)
                  RETURNING 1)
    SELECT count(*) INTO n_rejected FROM gone;

    DELETE FROM stedi.accelerometer_file_user AS m WHERE m.user_email = forget_customer.email;
    DELETE FROM stedi.step_trainer_file_serial AS m WHERE m.serial_number = ANY (serials);

    -- trusted and curated, in the same transaction
    PERFORM stedi.track_erasure(false);
    PERFORM count(*) FROM stedi.refresh();

    INSERT INTO stedi.erasure_log (customer_records, accelerometer_rows,
                                   step_trainer_rows, rejected_lines)
    VALUES (n_customer, n_accelerometer, n_step_trainer, n_rejected)
    RETURNING * INTO result;
    RETURN result;
END
$$;

-- schedules: at most a year apart, run only as a role their writer acts as
UPDATE stedi.refresh_job SET every = interval '1 year' WHERE every > interval '1 year';
ALTER TABLE stedi.refresh_job DROP CONSTRAINT refresh_job_every_check,
    ADD CONSTRAINT refresh_job_every_check
        CHECK (every BETWEEN interval '1 second' AND interval '1 year');
ALTER FUNCTION stedi.refresh_job_changed() SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION stedi.check_refresh_job_run_as() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_has_role(current_user, NEW.run_as::oid, 'USAGE') THEN
        RAISE EXCEPTION 'a refresh schedule cannot run as role "%"', NEW.run_as
              USING ERRCODE = 'insufficient_privilege',
                    DETAIL = format('Role "%s" does not have the privileges of role "%s".',
                                    current_user, NEW.run_as),
                    HINT = 'Schedule it as that role: SET ROLE, then SELECT stedi.schedule_refresh(...).';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION stedi.check_refresh_job_run_as() IS
    'Trigger on stedi.refresh_job: a schedule may run only as a role whose privileges its writer has';
CREATE TRIGGER check_run_as BEFORE INSERT OR UPDATE OF run_as
    ON stedi.refresh_job FOR EACH ROW EXECUTE FUNCTION stedi.check_refresh_job_run_as();
COMMENT ON TRIGGER check_run_as ON stedi.refresh_job IS 'A schedule runs only as a role whose privileges its writer has (stedi.check_refresh_job_run_as)';
COMMENT ON COLUMN stedi.refresh_job.run_as IS 'The role the scheduled refresh runs as: whoever scheduled it (a role whose privileges the writer has)';

DROP FUNCTION stedi.schedule_refresh(interval);
-- run_as defaults to the caller's current_user: a default is computed in
-- the caller's query, before this function takes its owner's rights.  The
-- caller's login role must have the privileges of run_as (it could SET
-- ROLE to it), so no one schedules a refresh as a role they cannot act as.
CREATE FUNCTION stedi.schedule_refresh(every interval,
                                       run_as regrole DEFAULT current_user::regrole)
RETURNS stedi.refresh_job
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job stedi.refresh_job;
BEGIN
    PERFORM stedi.scheduler_check();
    IF run_as IS NULL OR NOT pg_has_role(session_user, run_as::oid, 'USAGE') THEN
        RAISE EXCEPTION 'a refresh schedule cannot run as role "%"', coalesce(run_as::text, 'NULL')
              USING ERRCODE = 'insufficient_privilege',
                    DETAIL = format('Role "%s" does not have the privileges of role "%s".',
                                    session_user, run_as),
                    HINT = 'Schedule it as that role: SET ROLE, then SELECT stedi.schedule_refresh(...).';
    END IF;
    IF every IS NULL OR NOT every BETWEEN interval '1 second' AND interval '1 year' THEN
        RAISE EXCEPTION 'refresh interval must be between 1 second and 1 year, not %', coalesce(every::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'For example: SELECT stedi.schedule_refresh(''5 minutes'');';
    END IF;
    INSERT INTO stedi.refresh_job AS j (every, run_as)
    VALUES (schedule_refresh.every, schedule_refresh.run_as)
    ON CONFLICT (one) DO UPDATE
       SET every = EXCLUDED.every, run_as = EXCLUDED.run_as,
           next_run_at = now(), consecutive_failures = 0
    RETURNING * INTO job;
    RETURN job;
END
$$;
COMMENT ON FUNCTION stedi.schedule_refresh(interval, regrole) IS
    'Refresh the zones of this database every so often (1 second to 1 year), in a background worker, when landing changed, as run_as (by default the caller; needs stedi in shared_preload_libraries)';

CREATE OR REPLACE FUNCTION stedi.unschedule_refresh() RETURNS boolean
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH gone AS (DELETE FROM stedi.refresh_job RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;

CREATE FUNCTION stedi.worker_statements(OUT statement text, OUT parameter_types text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'stedi_worker_statements' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.worker_statements() IS
    'Every SQL statement the scheduler''s refresh worker runs (with its parameter types), and the settings it pins, for review and for the regression test';

-- the drop guard sees every command
DROP EVENT TRIGGER stedi_guard_drop;
COMMENT ON FUNCTION stedi.guard_drop() IS 'Event trigger: refuses DROP EXTENSION stedi without CASCADE while landing holds rows, saying how many, and any other statement that would drop the extension';
CREATE EVENT TRIGGER stedi_guard_drop ON ddl_command_start
    EXECUTE FUNCTION stedi.guard_drop();
COMMENT ON EVENT TRIGGER stedi_guard_drop IS 'stedi and its landing data go only by DROP EXTENSION stedi, and only with CASCADE while landing holds rows (stedi.guard_drop)';

-- New constraints get the comment the install script gives them.
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN
        SELECT format('CONSTRAINT %I ON %s', k.conname, k.conrelid::regclass) AS target,
               'Checks ' || pg_get_constraintdef(k.oid, true) AS what
          FROM pg_constraint AS k
          JOIN pg_class AS c ON c.oid = k.conrelid
         WHERE c.relnamespace IN ('landing'::regnamespace, 'stedi'::regnamespace)
           AND k.contype = 'c'
           AND obj_description(k.oid, 'pg_constraint') IS NULL
    LOOP
        EXECUTE format('COMMENT ON %s IS %L', o.target, o.what);
    END LOOP;
END
$$;

-- Rights, as a fresh install grants them (in the same order, so that a
-- dump of an updated database equals one of a fresh install).
-- Functions that act with the extension owner's rights, for roles that
-- may not touch the tables behind them.  Each pins its search_path.
ALTER FUNCTION stedi.refresh(boolean, boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION stedi.refresh(boolean, boolean) SET intervalstyle = postgres;
ALTER FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean) SECURITY DEFINER;
ALTER FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint) SECURITY DEFINER;
ALTER FUNCTION stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text) SECURITY DEFINER;
ALTER FUNCTION stedi.note_landing_change() SECURITY DEFINER;
ALTER FUNCTION stedi.set_setting(text, text) SECURITY DEFINER;
ALTER FUNCTION stedi.set_setting(text, text) SET intervalstyle = postgres;

-- Nothing for PUBLIC; each role gets what it needs by name, so that a
-- function added later is nobody's until granted.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stedi FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stedi FROM stedi_loader, stedi_admin;
REVOKE ALL ON ALL TABLES IN SCHEMA curated, stedi FROM stedi_analyst, stedi_admin;
REVOKE ALL ON SCHEMA stedi FROM stedi_loader, stedi_admin;
REVOKE ALL ON SCHEMA landing FROM stedi_loader, stedi_admin;
REVOKE ALL ON SCHEMA curated FROM stedi_analyst, stedi_admin;

GRANT USAGE ON SCHEMA landing, stedi TO stedi_loader;
GRANT INSERT ON landing.customer, landing.accelerometer, landing.step_trainer,
                landing.rejected TO stedi_loader;
GRANT EXECUTE ON FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean),
                          stedi.finish_file(integer, bigint, bigint, bigint, bigint),
                          stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text),
                          stedi.landing_row_check(text, integer, bigint, text),
                          stedi.rejected_line_check(text, integer, bigint)
      TO stedi_loader, stedi_admin;

-- Analysts read the curated tables, and nothing behind them: not the
-- definition views, which read trusted with their owner's rights.  The
-- millisecond operators work on what they read.
GRANT USAGE ON SCHEMA curated, stedi TO stedi_analyst;
GRANT SELECT ON curated.customer, curated.machine_learning TO stedi_analyst;
GRANT EXECUTE ON FUNCTION stedi.ms_eq(timestamptz, timestamptz), stedi.ms_ne(timestamptz, timestamptz),
                          stedi.ms_lt(timestamptz, timestamptz), stedi.ms_le(timestamptz, timestamptz),
                          stedi.ms_gt(timestamptz, timestamptz), stedi.ms_ge(timestamptz, timestamptz),
                          stedi.ms_cmp(timestamptz, timestamptz), stedi.ms_hash(timestamptz),
                          stedi.ms_hash_extended(timestamptz, bigint)
      TO stedi_analyst, stedi_admin;

-- Admins change landing by hand, read every zone and the logs, and change
-- schedules; settings only through set_setting, which validates them.
GRANT USAGE ON SCHEMA landing, trusted, curated, stedi TO stedi_admin;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA landing TO stedi_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA trusted, curated TO stedi_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA stedi TO stedi_admin;
REVOKE ALL ON stedi.pseudonym_secret FROM stedi_admin;
GRANT EXECUTE ON FUNCTION stedi.refresh(boolean, boolean),
                          stedi.forget_customer(text),
                          stedi.set_setting(text, text),
                          stedi.set_consent_policy(text),
                          stedi.setting_value(text),
                          stedi.schedule_refresh(interval, regrole),
                          stedi.unschedule_refresh(),
                          stedi.scheduler_check(),
                          stedi.scheduler_running(),
                          stedi.worker_statements(),
                          stedi.has_research_consent(timestamptz),
                          stedi.reading_has_research_consent(timestamptz, timestamptz, text),
                          stedi.customer_key(text, bytea),
                          stedi.fill_zone(regclass, regclass)
      TO stedi_admin;

