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
                                        line_number bigint, owner text,
                                        reading_time timestamptz)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_landing_row_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.landing_row_check(text, integer, bigint, text, timestamptz) IS
    'CHECK of the landing tables: the row belongs to a file begun in this transaction (stedi.begin_file), of the table''s kind, in line order, and its owner and reading time are noted for the file''s owner map; or the writer may change landing by hand (stedi_admin, the owner), and the row is noted as untracked';
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
                                 OUT rows_rejected bigint, OUT owners text[],
                                 OUT first_times timestamptz[], OUT last_times timestamptz[])
AS 'MODULE_PATHNAME', 'stedi_close_file' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.close_file(integer) IS
    'stedi.finish_file: what this transaction wrote for the file, counted by the server, and the distinct owners of its readings with the first and last time of each one''s (NULL past 100,000 owners); no row may be added after';
CREATE FUNCTION stedi.track_deletes(tracked boolean) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_track_deletes' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.track_deletes(boolean) IS
    'stedi.forget_customer and stedi.unload_file: their deletes from landing are tracked (they queue what they removed themselves)';
CREATE FUNCTION stedi.mark_erasure_refresh(erasing boolean) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_mark_erasure_refresh' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.mark_erasure_refresh(boolean) IS
    'stedi.forget_customer: the refresh it runs is an erasure''s, which no expectation whose action is fail may stop (until the end of the transaction)';
CREATE FUNCTION stedi.in_erasure_refresh() RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_in_erasure_refresh' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.in_erasure_refresh() IS
    'Whether the refresh running is an erasure''s (stedi.mark_erasure_refresh)';
CREATE FUNCTION stedi.landing_change_is_tracked(operation text) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_landing_change_is_tracked' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.landing_change_is_tracked(text) IS
    'Whether the refresh already knows what a landing statement changed: an INSERT through the loading protocol, a DELETE of forget_customer or unload_file';

-- Existing rows are checked as the extension's owner, who may write
-- landing by hand.
ALTER TABLE landing.customer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('customer', file_id, line_number, NULL, NULL));
ALTER TABLE landing.accelerometer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('accelerometer', file_id, line_number, user_email, reading_time));
ALTER TABLE landing.step_trainer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('step_trainer', file_id, line_number, serial_number, sensor_reading_time));
ALTER TABLE landing.rejected ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.rejected_line_check(kind, file_id, line_number));

-- a file that vanished after it was listed is logged too, without a hash
ALTER TABLE stedi.ingest_log ALTER COLUMN sha256 DROP NOT NULL,
    ALTER COLUMN size_bytes DROP NOT NULL,
    ADD CONSTRAINT content_known_unless_failed
        CHECK (outcome = 'failed' OR (sha256 IS NOT NULL AND size_bytes IS NOT NULL));
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
    -- a failed attempt may not have read the file (it vanished after it
    -- was listed): no hash, maybe no size
    IF kind IS NULL OR kind NOT IN ('customer', 'accelerometer', 'step_trainer')
       OR (octet_length(sha256) IS DISTINCT FROM 32
           AND NOT (outcome = 'failed' AND sha256 IS NULL))
       OR NOT coalesce(size_bytes >= 0, outcome = 'failed') THEN
        RAISE EXCEPTION 'stedi.log_ingest needs a kind, a 32-byte sha256 and a size'
              USING ERRCODE = 'invalid_parameter_value',
                    DETAIL = 'Kinds are customer, accelerometer and step_trainer; only a failed attempt may lack the hash and the size.';
    END IF;
    IF outcome = 'skipped' THEN
        SELECT min(f.file_id) INTO first_file_id FROM landing.source_file AS f
         WHERE f.sha256 = log_ingest.sha256;
        IF first_file_id IS NULL THEN
            SELECT min(u.file_id) INTO first_file_id FROM stedi.unload_log AS u
             WHERE u.sha256 = log_ingest.sha256;
            message := coalesce(message, format('loaded before as file %s, since unloaded (stedi.unload_log)', first_file_id));
        END IF;
    END IF;
    INSERT INTO stedi.ingest_log (sha256, kind, path, size_bytes, outcome,
                                  started_at, message, file_id)
    VALUES (log_ingest.sha256, log_ingest.kind, log_ingest.path, log_ingest.size_bytes,
            log_ingest.outcome, coalesce(log_ingest.started_at, now()), log_ingest.message,
            first_file_id);
    RETURN first_file_id;
END
$$;
COMMENT ON FUNCTION stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text) IS
    'stedi-load: log an attempt that loaded nothing (skipped, or failed and rolled back); for a skipped file, returns the file_id its content was first loaded as';

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
DECLARE
    -- (the policy in force before: setting it to the same again changes
    -- no zone, so it costs the next refresh no rebuild; read once no other
    -- setter can change it before this one commits, or two setters that
    -- cross could each see their own value as the one in force, and the
    -- change of the first would go without its rebuild)
    policy_before text;
    pairing_before text;
    split_before text;
BEGIN
    -- (after a refresh that runs, before the next: a refresh reads one
    -- consent policy and one pairing tolerance throughout)
    PERFORM stedi.lock_refresh('setting');
    LOCK TABLE stedi.setting IN SHARE ROW EXCLUSIVE MODE;
    policy_before := stedi.setting_value('consent_policy');
    pairing_before := stedi.pairing_tolerance_ms() || ' ' || stedi.setting_value('pairing_mode');
    split_before := stedi.split_bounds(stedi.setting_value('split_proportions'))::text;
    IF NOT EXISTS (SELECT FROM stedi.settings s WHERE s.name = set_setting.name) THEN
        RAISE EXCEPTION 'unknown stedi setting "%"', set_setting.name
              USING ERRCODE = 'undefined_object',
                    HINT = 'SELECT name FROM stedi.settings lists them.';
    END IF;
    IF value IS NULL THEN
        DELETE FROM stedi.setting s WHERE s.name = set_setting.name;
        IF stedi.setting_value('consent_policy') IS DISTINCT FROM policy_before THEN
            INSERT INTO stedi.landing_change (relation) VALUES ('stedi.setting'::regclass);
        END IF;
        IF stedi.pairing_tolerance_ms() || ' ' || stedi.setting_value('pairing_mode') <> pairing_before THEN
            PERFORM stedi.define_pairing();
            INSERT INTO stedi.landing_change (relation)
            VALUES ('curated.machine_learning_definition'::regclass);
        END IF;
        IF stedi.split_bounds(stedi.setting_value('split_proportions'))::text <> split_before THEN
            INSERT INTO stedi.landing_change (relation)
            VALUES ('curated.customer_definition'::regclass);
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
    WHEN 'pairing_mode' THEN
        IF value NOT IN ('nearest', 'window') THEN
            RAISE EXCEPTION 'invalid pairing mode "%"', value
                  USING ERRCODE = 'invalid_parameter_value',
                        DETAIL = 'The modes are nearest (the phone readings of the nearest millisecond within the tolerance) and window (every phone reading within it).',
                        HINT = 'SELECT stedi.set_setting(''pairing_mode'', ''window'');';
        END IF;
    WHEN 'split_proportions' THEN
        -- (stored in one spelling: 80/10/10, 33.33/33.33/33.34)
        value := array_to_string(ARRAY(SELECT trim_scale(share / 100.0)
                                         FROM unnest(stedi.split_bounds(value)) AS share), '/');
    WHEN 'pairing_tolerance' THEN
        BEGIN
            IF NOT value::interval BETWEEN interval '0' AND interval '1 hour'
               OR date_part('microseconds', value::interval)::bigint % 1000 <> 0
               OR date_part('month', value::interval) <> 0 OR date_part('day', value::interval) <> 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value';
            END IF;
            value := value::interval::text;
        EXCEPTION WHEN invalid_parameter_value OR invalid_datetime_format
                       OR datetime_field_overflow OR interval_field_overflow
                       OR syntax_error THEN
            RAISE EXCEPTION 'invalid value for pairing_tolerance: "%"', value
                  USING ERRCODE = 'invalid_parameter_value',
                        DETAIL = 'It must be an interval of whole milliseconds from 0 to 1 hour.',
                        HINT = 'For example: SELECT stedi.set_setting(''pairing_tolerance'', ''500 milliseconds'');';
        END;
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
    IF stedi.setting_value('consent_policy') IS DISTINCT FROM policy_before THEN
        -- every reading may change zone: the next refresh is a full one
        INSERT INTO stedi.landing_change (relation) VALUES ('stedi.setting'::regclass);
    END IF;
    IF stedi.pairing_tolerance_ms() || ' ' || stedi.setting_value('pairing_mode') <> pairing_before THEN
        -- every pair may change: the training table is rebuilt next
        PERFORM stedi.define_pairing();
        INSERT INTO stedi.landing_change (relation)
        VALUES ('curated.machine_learning_definition'::regclass);
    END IF;
    IF stedi.split_bounds(stedi.setting_value('split_proportions'))::text <> split_before THEN
        -- every customer's split may change: both curated tables are
        -- compared whole next
        INSERT INTO stedi.landing_change (relation)
        VALUES ('curated.customer_definition'::regclass);
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
DECLARE
    files integer[];
    twice_file integer;
    twice_line bigint;
BEGIN
    -- the loading protocol and forget_customer say what they change more
    -- precisely; what they did is known to the server alone (src/loading.c),
    -- never to a setting a session could change
    IF NOT stedi.landing_change_is_tracked(TG_OP) THEN
        INSERT INTO stedi.landing_change (relation) VALUES (TG_RELID);
        -- a line of a file is one row: written twice by hand, it would
        -- stop every refresh at the zone's key (the landing tables keep
        -- no unique index, for the speed of loading)
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            files := stedi.files_written_by_hand(TG_TABLE_NAME);
            IF files IS NULL THEN
                EXECUTE format('SELECT t.file_id, t.line_number FROM %s AS t
                                 GROUP BY t.file_id, t.line_number HAVING count(*) > 1 LIMIT 1',
                               TG_RELID::regclass) INTO twice_file, twice_line;
            ELSIF cardinality(files) > 0 THEN
                EXECUTE format('SELECT t.file_id, t.line_number FROM %s AS t
                                 WHERE t.file_id = ANY ($1)
                                 GROUP BY t.file_id, t.line_number HAVING count(*) > 1 LIMIT 1',
                               TG_RELID::regclass) INTO twice_file, twice_line USING files;
            END IF;
            IF twice_file IS NOT NULL THEN
                RAISE EXCEPTION 'line % of file % would be in % twice',
                                twice_line, twice_file, TG_RELID::regclass
                      USING ERRCODE = 'unique_violation',
                            DETAIL = 'Each line of a landing file is one row; the zones are keyed by file and line.',
                            HINT = 'Change the row that is there, or write the new one under a line number of its own.';
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stedi.note_landing_change() IS 'Statement trigger on landing tables: notes a change that only a full refresh can apply';
COMMENT ON TABLE stedi.landing_change IS 'Changes not made through the loading protocol or by forget_customer; any of them makes the next refresh a full one';

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

-- Data integrity:
-- * one identity per person: emails compare with their ASCII letters in
--   lower case (stedi.normalize_email) in trusted, curated, the owner maps
--   and erasure; the first refresh after this update is a full one, which
--   gives customers spelled with capitals their new keys;
-- * every text value that reaches an index has a bound, and an email or a
--   serial number is never blank, for writes by hand too;
-- * quarantined lines keep the email and serial number they carry;
-- * one lock order: refresh, erasure and unload take the refresh lock
--   before any table; loads take it in a mode that never waits;
-- * a full refresh no longer stalls loaders (finish_file does not
--   summarize the BRIN indexes; refresh does);
-- * stedi.unload_file retracts a loaded file; its record is never deleted
--   alone.

-- Rows 0.2.0 accepted that the new bounds refuse: the update stops and
-- says which, rather than dropping anyone's data.
DO $$
DECLARE
    n_customer bigint;
    n_accelerometer bigint;
    n_step_trainer bigint;
BEGIN
    SELECT count(*) INTO n_customer FROM landing.customer AS c
     WHERE NOT (octet_length(c.email) <= 254 AND btrim(c.email, E' \t\n\r\f\x0B') <> ''
                AND octet_length(c.serial_number) <= 128
                AND btrim(c.serial_number, E' \t\n\r\f\x0B') <> ''
                AND coalesce(octet_length(c.customer_name) <= 512, true)
                AND coalesce(octet_length(c.phone) <= 64, true));
    SELECT count(*) INTO n_accelerometer FROM landing.accelerometer AS a
     WHERE NOT (octet_length(a.user_email) <= 254 AND btrim(a.user_email, E' \t\n\r\f\x0B') <> '');
    SELECT count(*) INTO n_step_trainer FROM landing.step_trainer AS s
     WHERE NOT (octet_length(s.serial_number) <= 128 AND btrim(s.serial_number, E' \t\n\r\f\x0B') <> '');
    IF n_customer + n_accelerometer + n_step_trainer > 0 THEN
        RAISE EXCEPTION 'landing holds values that stedi 0.3.0 refuses'
              USING ERRCODE = 'check_violation',
                    DETAIL = format('%s customer records, %s accelerometer readings and %s step trainer readings have a blank email or serial number, or a value over its bound (bytes: email 254, serial number 128, name 512, phone 64).',
                                    n_customer, n_accelerometer, n_step_trainer),
                    HINT = 'Correct or delete those rows (as the extension''s owner), or erase their customers with stedi.forget_customer, then ALTER EXTENSION stedi UPDATE again.';
    END IF;
END
$$;

CREATE FUNCTION stedi.files_written_by_hand(kind text) RETURNS integer[]
AS 'MODULE_PATHNAME', 'stedi_files_written_by_hand' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.files_written_by_hand(text) IS
    'The files that rows of landing.<kind> written by hand in this transaction belong to (NULL: more than 1,000), for the check that no line is there twice';

CREATE FUNCTION stedi.lock_refresh(purpose text) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_lock_refresh_sql' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.lock_refresh(text) IS
    'Take the refresh lock to the end of the transaction, for a load (never waits), an erasure or an unload (one at a time with refreshes; says so after waiting 1000 ms); only stedi''s own functions may';

-- One identity per person: emails compare with their ASCII letters in
-- lower case.  The domain of an address is case-insensitive (RFC 5321,
-- 2.4); its local part may in principle not be, but no real mail system
-- tells Ada.Quill@ from ada.quill@, and the feeds spell one customer both
-- ways.  Only ASCII is folded (the "C" collation): the result never
-- depends on the server's locale or its library's version, so keys kept
-- in indexes and pseudonyms stay stable across upgrades of the system.
CREATE FUNCTION stedi.normalize_email(email text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.lower(email COLLATE pg_catalog."C");
COMMENT ON FUNCTION stedi.normalize_email(text) IS
    'The identity of an email: its ASCII letters in lower case (A-Z only, whatever the locale); trusted and curated key customers by it';

COMMENT ON FUNCTION stedi.customer_key(text, bytea) IS
    'Pseudonymous customer key: the first 128 bits of HMAC-SHA-256(secret, email), as a uuid; the zones pass it normalized emails';

ALTER TABLE landing.customer ADD CONSTRAINT values_within_bounds
        CHECK (octet_length(email) <= 254 AND btrim(email, E' \t\n\r\f\x0B') <> ''
               AND octet_length(serial_number) <= 128
               AND btrim(serial_number, E' \t\n\r\f\x0B') <> ''
               AND octet_length(customer_name) <= 512 AND octet_length(phone) <= 64);
ALTER TABLE landing.accelerometer ADD CONSTRAINT values_within_bounds
        CHECK (octet_length(user_email) <= 254
               AND btrim(user_email, E' \t\n\r\f\x0B') <> '');
ALTER TABLE landing.step_trainer ADD CONSTRAINT values_within_bounds
        CHECK (octet_length(serial_number) <= 128
               AND btrim(serial_number, E' \t\n\r\f\x0B') <> '');
ALTER TABLE landing.rejected ADD COLUMN email text, ADD COLUMN serial_number text,
    ADD CONSTRAINT values_within_bounds
        CHECK (octet_length(email) <= 254 AND octet_length(serial_number) <= 128);
COMMENT ON COLUMN landing.rejected.email IS 'The email the line carries (customer "email", accelerometer "user"), when it parsed far enough to have one: how stedi.forget_customer finds it';
COMMENT ON COLUMN landing.rejected.serial_number IS 'The serial number the line carries (customer and step trainer "serialNumber"), when it parsed far enough to have one';
-- Lines 0.2.0 quarantined get the email and serial number they carry, as
-- stedi-load keeps them now, where their raw text is a JSON object: so
-- that erasure finds them by their decoded values too.
DO $$
DECLARE
    r record;
    doc jsonb;
    email_key text;
BEGIN
    -- (not a line whose invalid bytes stedi-load showed as U+FFFD: it
    -- carries no value as it was sent)
    FOR r IN SELECT q.file_id, q.line_number, q.kind, q.raw_line FROM landing.rejected AS q
              WHERE strpos(q.raw_line, U&'\FFFD') = 0 LOOP
        BEGIN
            doc := r.raw_line::jsonb;
        EXCEPTION WHEN OTHERS THEN
            CONTINUE;           -- not JSON (the reason it was quarantined)
        END;
        CONTINUE WHEN jsonb_typeof(doc) <> 'object';
        email_key := CASE r.kind WHEN 'customer' THEN 'email' WHEN 'accelerometer' THEN 'user' END;
        UPDATE landing.rejected AS q
           SET email = CASE WHEN jsonb_typeof(doc -> email_key) = 'string'
                             AND octet_length(doc ->> email_key) <= 254
                             AND btrim(doc ->> email_key, E' \t\n\r\f\x0B') <> ''
                            THEN doc ->> email_key END,
               serial_number = CASE WHEN r.kind <> 'accelerometer'
                                     AND jsonb_typeof(doc -> 'serialNumber') = 'string'
                                     AND octet_length(doc ->> 'serialNumber') <= 128
                                     AND btrim(doc ->> 'serialNumber', E' \t\n\r\f\x0B') <> ''
                                    THEN doc ->> 'serialNumber' END
         WHERE q.file_id = r.file_id AND q.line_number = r.line_number;
    END LOOP;
END
$$;

-- zones key customers by their normalized email
CREATE OR REPLACE VIEW trusted.customer_definition AS
SELECT customer_name, email, phone, birth_day, serial_number,
       registration_date, last_update_date,
       share_with_research_as_of_date, share_with_public_as_of_date,
       share_with_friends_as_of_date, file_id, line_number
  FROM (SELECT DISTINCT ON (email) *
          FROM (SELECT l.customer_name, stedi.normalize_email(l.email) AS email,
                       l.phone, l.birth_day, l.serial_number,
                       l.registration_date, l.last_update_date,
                       l.share_with_research_as_of_date,
                       l.share_with_public_as_of_date,
                       l.share_with_friends_as_of_date, l.file_id, l.line_number
                  FROM landing.customer AS l) AS spelled
         ORDER BY email, last_update_date DESC NULLS LAST,
                  file_id DESC, line_number DESC) AS latest
 WHERE stedi.has_research_consent(share_with_research_as_of_date);

CREATE OR REPLACE VIEW trusted.accelerometer_definition AS
SELECT c.email AS user_email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number
  FROM landing.accelerometer AS a
  JOIN trusted.customer AS c ON c.email = stedi.normalize_email(a.user_email)
 WHERE stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                          a.reading_time, (SELECT stedi.setting_value('consent_policy')));

-- owner maps hold normalized emails, and the span of each owner's
-- reading times in each file: made again from landing, once; queues hold
-- normalized emails; the zones are rebuilt by the next refresh
TRUNCATE stedi.accelerometer_file_user, stedi.step_trainer_file_serial;
ALTER TABLE stedi.accelerometer_file_user
    ADD COLUMN first_time timestamptz NOT NULL, ADD COLUMN last_time timestamptz NOT NULL;
ALTER TABLE stedi.step_trainer_file_serial
    ADD COLUMN first_time timestamptz NOT NULL, ADD COLUMN last_time timestamptz NOT NULL;
INSERT INTO stedi.accelerometer_file_user (user_email, file_id, first_time, last_time)
SELECT stedi.normalize_email(a.user_email), a.file_id, min(a.reading_time), max(a.reading_time)
  FROM landing.accelerometer AS a
 GROUP BY 1, 2;
INSERT INTO stedi.step_trainer_file_serial (serial_number, file_id, first_time, last_time)
SELECT s.serial_number, s.file_id, min(s.sensor_reading_time), max(s.sensor_reading_time)
  FROM landing.step_trainer AS s
 GROUP BY 1, 2;
UPDATE stedi.pending_customer AS p SET email = stedi.normalize_email(p.email);
INSERT INTO stedi.landing_change (relation)
SELECT 'landing.customer'::regclass
 WHERE EXISTS (SELECT FROM landing.customer AS c WHERE c.email <> stedi.normalize_email(c.email))
    OR EXISTS (SELECT FROM landing.accelerometer AS a
                WHERE a.user_email <> stedi.normalize_email(a.user_email));
COMMENT ON TABLE stedi.accelerometer_file_user IS 'Which landing files hold accelerometer readings of which email (normalized: stedi.normalize_email), and the first and last time of those readings (filled by stedi.finish_file)';
COMMENT ON TABLE stedi.pending_customer IS 'Customers whose records were erased or unloaded, to be recomputed by the next refresh (normalized emails)';

-- Accelerometer and step trainer files unloaded since the last refresh
-- (by stedi.unload_file): the next refresh removes what they gave the zones.
CREATE TABLE stedi.pending_unload (
    file_id integer PRIMARY KEY,
    kind    text NOT NULL
);
COMMENT ON TABLE stedi.pending_unload IS 'Accelerometer and step trainer files unloaded since the last refresh: their rows are what the next refresh removes from the zones';

CREATE OR REPLACE FUNCTION stedi.begin_file(kind text, path text, size_bytes bigint,
                                 sha256 bytea, force boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_file_id integer;
    seen boolean;
BEGIN
    IF octet_length(sha256) IS DISTINCT FROM 32 THEN
        RAISE EXCEPTION 'sha256 must be 32 bytes'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stedi.lock_refresh('load');
    PERFORM pg_advisory_xact_lock(
        ('x' || substr(encode(sha256, 'hex'), 1, 16))::bit(64)::bigint);
    -- content loaded before, or loaded and since unloaded: an unloaded
    -- file may have held customers erased since, whom it would bring back
    seen := EXISTS (SELECT FROM landing.source_file AS f
                     WHERE f.sha256 = begin_file.sha256)
            OR EXISTS (SELECT FROM stedi.unload_log AS u
                        WHERE u.sha256 = begin_file.sha256);
    IF seen AND NOT force THEN
        RETURN NULL;
    END IF;
    INSERT INTO landing.source_file (kind, path, size_bytes, sha256, forced)
    VALUES (begin_file.kind, begin_file.path, begin_file.size_bytes,
            begin_file.sha256, seen)
    RETURNING file_id INTO new_file_id;
    PERFORM stedi.open_file(new_file_id, begin_file.kind);
    RETURN new_file_id;
END
$$;
COMMENT ON FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean) IS
    'stedi-load: register a file about to be loaded in this transaction; NULL when its content was loaded before (and not force)';

-- Schema drift: the field names a file's loaded records carried that stedi
-- does not know, each with how many records carried it.  A name is kept to
-- 256 bytes (stedi-load cuts a longer one at a character boundary and marks
-- the cut with "..."), and a file names at most 1,000 of them.
CREATE TABLE landing.unknown_field (
    file_id    integer NOT NULL,
    field_name text NOT NULL CHECK (octet_length(field_name) <= 256),
    records    bigint NOT NULL CHECK (records > 0),
    PRIMARY KEY (file_id, field_name)
);
COMMENT ON TABLE landing.unknown_field IS 'Schema drift: each unknown field name the loaded records of a file carried, with how many records carried it (written by stedi.finish_file)';
COMMENT ON COLUMN landing.unknown_field.field_name IS 'The unknown field name as the records spelled it (cut at 256 bytes, the cut marked "...")';
COMMENT ON COLUMN landing.unknown_field.records IS 'How many of the file''s loaded records carried it';
COMMENT ON COLUMN landing.source_file.extra_fields IS 'Unknown JSON fields seen in loaded rows (ignored); landing.unknown_field names them';

DROP FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint, text[]);
CREATE FUNCTION stedi.finish_file(file_id integer, lines_read bigint,
                                  rows_loaded bigint, rows_rejected bigint,
                                  extra_fields bigint,
                                  unknown_fields jsonb DEFAULT NULL)
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
    -- the unknown field names, {"name": records, ...}
    IF unknown_fields IS NOT NULL THEN
        IF jsonb_typeof(unknown_fields) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'unknown_fields must be a JSON object of field names and record counts'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF (SELECT count(*) FROM jsonb_object_keys(unknown_fields)) > 1000 THEN
            RAISE EXCEPTION 'unknown_fields names more than 1000 fields'
                  USING ERRCODE = 'program_limit_exceeded',
                        HINT = 'stedi-load keeps the first 1000 names of a file.';
        END IF;
        INSERT INTO landing.unknown_field (file_id, field_name, records)
        SELECT f.file_id, u.key,
               CASE WHEN jsonb_typeof(u.value) = 'number' THEN u.value::text::numeric END::bigint
          FROM jsonb_each(unknown_fields) AS u;
    END IF;
    INSERT INTO stedi.ingest_log (sha256, kind, path, size_bytes, outcome, file_id,
                                  lines_read, rows_loaded, rows_rejected, started_at)
    VALUES (f.sha256, f.kind, f.path, f.size_bytes, 'loaded', f.file_id,
            f.lines_read, f.rows_loaded, f.rows_rejected, f.loaded_at);
    -- the next refresh adds this file's rows
    INSERT INTO stedi.pending_file (file_id, kind) VALUES (f.file_id, f.kind)
    ON CONFLICT DO NOTHING;
    -- whose readings it holds: the emails, or the devices' serial numbers,
    -- each with the span of its readings' times (NULL: more than the
    -- server keeps in memory; read from the file's rows).  (A refresh that
    -- repaired the maps in this transaction, before the file's last rows,
    -- may have added its entries with narrower spans: they are widened.)
    IF f.kind = 'accelerometer' THEN
        INSERT INTO stedi.accelerometer_file_user AS m (user_email, file_id, first_time, last_time)
        SELECT stedi.normalize_email(o.owner), f.file_id, min(o.first_time), max(o.last_time)
          FROM unnest(written.owners, written.first_times, written.last_times)
               AS o(owner, first_time, last_time)
         GROUP BY 1
        UNION ALL
        SELECT stedi.normalize_email(a.user_email), f.file_id, min(a.reading_time), max(a.reading_time)
          FROM landing.accelerometer AS a
         WHERE written.owners IS NULL AND a.file_id = f.file_id
         GROUP BY 1
        ON CONFLICT ON CONSTRAINT accelerometer_file_user_pkey DO UPDATE
           SET first_time = least(m.first_time, excluded.first_time),
               last_time = greatest(m.last_time, excluded.last_time);
    ELSIF f.kind = 'step_trainer' THEN
        INSERT INTO stedi.step_trainer_file_serial AS m (serial_number, file_id, first_time, last_time)
        SELECT o.owner, f.file_id, min(o.first_time), max(o.last_time)
          FROM unnest(written.owners, written.first_times, written.last_times)
               AS o(owner, first_time, last_time)
         GROUP BY 1
        UNION ALL
        SELECT s.serial_number, f.file_id, min(s.sensor_reading_time), max(s.sensor_reading_time)
          FROM landing.step_trainer AS s
         WHERE written.owners IS NULL AND s.file_id = f.file_id
         GROUP BY 1
        ON CONFLICT ON CONSTRAINT step_trainer_file_serial_pkey DO UPDATE
           SET first_time = least(m.first_time, excluded.first_time),
               last_time = greatest(m.last_time, excluded.last_time);
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint, jsonb) IS
    'stedi-load: record the counts of the file begun in this transaction (they must match the rows written) and its unknown field names with their record counts ({"name": records}; at most 1,000 names of at most 256 bytes), queue it for the next refresh, and log the attempt';

-- Refresh at every batch size (issue 13):
-- * zone by zone through change tables (pg_temp.stedi_minus_N and
--   stedi_plus_N), analyzed before anything joins them; each zone
--   incremental or full by cost; only rows that differ are written, so a
--   full rebuild of unchanged data writes nothing and leaves no dead rows;
-- * a run log with each zone's own duration, method and reason, rows
--   inserted and deleted, and the run's real start;
-- * landing.customer found by identity; the training table by reading
--   (its key) and by device (its device index).
DROP FUNCTION stedi.rebuild_zones(boolean);
DROP FUNCTION stedi.apply_zone_changes(integer[], integer[], integer[], text[]);
DROP FUNCTION stedi.maintain_zones(boolean, boolean);
DROP FUNCTION stedi.refresh(boolean, boolean);
COMMENT ON FUNCTION stedi.fill_zone(regclass, regclass) IS 'Append every row of a definition view (or a table with the same columns) to its zone table in batches (multi-row inserts, as COPY writes); returns how many';
-- The same, the rows written grouped by their owner: a customer's rows
-- on few pages, so that withdrawing or erasing them touches few.
CREATE FUNCTION stedi.fill_zone(zone regclass, definition regclass, owner name) RETURNS bigint
AS 'MODULE_PATHNAME', 'stedi_fill_zone' LANGUAGE C STRICT;
COMMENT ON FUNCTION stedi.fill_zone(regclass, regclass, name) IS 'Append every row of a definition view (or a table with the same columns) to its zone table, grouped by the zone''s column owner (rows sorted by a hash of it, maintenance_work_mem of rows at a time), in batches as COPY writes; returns how many';

CREATE INDEX customer_identity_idx ON landing.customer (stedi.normalize_email(email));
COMMENT ON TABLE stedi.step_trainer_file_serial IS 'Which landing files hold step trainer readings of which device, and the first and last time of those readings (filled by stedi.finish_file)';
COMMENT ON COLUMN stedi.accelerometer_file_user.first_time IS 'The earliest reading time of the email''s readings in the file';
COMMENT ON COLUMN stedi.accelerometer_file_user.last_time IS 'The latest reading time of the email''s readings in the file';
COMMENT ON COLUMN stedi.step_trainer_file_serial.first_time IS 'The earliest reading time of the device''s readings in the file';
COMMENT ON COLUMN stedi.step_trainer_file_serial.last_time IS 'The latest reading time of the device''s readings in the file';
COMMENT ON TRIGGER landing_changed ON landing.customer IS 'Notes a change made other than by stedi-load: the next refresh compares every zone whole with its definition';
COMMENT ON TRIGGER landing_changed ON landing.accelerometer IS 'Notes a change made other than by stedi-load: the next refresh compares every zone whole with its definition';
COMMENT ON TRIGGER landing_changed ON landing.step_trainer IS 'Notes a change made other than by stedi-load: the next refresh compares every zone whole with its definition';

-- (OFFSET 0 keeps the owners a subquery of their own: each customer's key
-- is computed once, not once per pair.)
-- How many trusted customers who name a device have a trusted
-- accelerometer reading in the millisecond of t: more than one, and a
-- reading of the device at t is held back.  (A function, so that the
-- planner prices it as one call, made only for devices that several
-- name, and not as a subquery run for every reading.)
CREATE FUNCTION stedi.claimants_reading_at(serial_number text, t timestamptz) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = on
AS $$
    SELECT count(DISTINCT o.email)
      FROM trusted.customer AS o
      JOIN trusted.accelerometer AS b ON b.user_email = o.email
     WHERE o.serial_number = claimants_reading_at.serial_number
       AND b.reading_time OPERATOR(stedi.=#) t
$$;
COMMENT ON FUNCTION stedi.claimants_reading_at(text, timestamptz) IS
    'How many trusted customers who name the device (serial number) have a trusted accelerometer reading in the millisecond of t; more than one holds the device''s reading at t back from the training table';


------------------------------------------------------------------------------
-- Pairing within a tolerance (src/pairing.c)
--
-- The two devices' clocks may disagree.  With pairing_tolerance above 0, a
-- step trainer reading at s pairs with its owner's phone readings taken
-- within the tolerance T: in 'window' mode with every one of them
-- (|ms(a) - ms(s)| <= T), in 'nearest' mode with those of the nearest
-- millisecond (all readings of that millisecond; of two equally near, the
-- earlier).  The readings of a device that several trusted customers name
-- are held back when more than one of them has a reading within T.  The
-- join is a C operator hashing the phone readings on (customer, time
-- bucket), buckets of 2T + 1 ms, each step trainer reading probing the
-- buckets its window meets (stedi.pair_readings).  With T = 0 the
-- definition is the same-millisecond join above.
------------------------------------------------------------------------------

CREATE FUNCTION stedi.pairing_offset(reading timestamptz, step timestamptz) RETURNS bigint
AS 'MODULE_PATHNAME', 'stedi_pairing_offset' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stedi.pairing_offset(timestamptz, timestamptz) IS
    'Milliseconds from a step trainer reading to a phone reading (negative: the phone reading is earlier), each at its millisecond; datetime_value_out_of_range for an infinite time (src/pairing.c)';

-- The pairing tolerance in force, in whole milliseconds.
CREATE FUNCTION stedi.pairing_tolerance_ms() RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (extract(epoch FROM stedi.setting_value('pairing_tolerance')::interval) * 1000)::integer
$$;
COMMENT ON FUNCTION stedi.pairing_tolerance_ms() IS 'The setting pairing_tolerance in milliseconds (0: the same millisecond)';

-- How many trusted customers who name a device have a trusted phone
-- reading within tolerance_ms of t: more than one, and the device's
-- reading at t is held back.
CREATE FUNCTION stedi.claimants_reading_near(serial_number text, t timestamptz,
                                             tolerance_ms integer) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = on
AS $$
    SELECT count(DISTINCT o.email)
      FROM trusted.customer AS o
      JOIN trusted.accelerometer AS b ON b.user_email = o.email
     WHERE o.serial_number = claimants_reading_near.serial_number
       AND b.reading_time OPERATOR(stedi.>=#) t - tolerance_ms * interval '1 millisecond'
       AND b.reading_time OPERATOR(stedi.<=#) t + tolerance_ms * interval '1 millisecond'
$$;
COMMENT ON FUNCTION stedi.claimants_reading_near(text, timestamptz, integer) IS
    'How many trusted customers who name the device (serial number) have a trusted accelerometer reading within tolerance_ms of t (each at its millisecond); more than one holds the device''s reading at t back from the training table';

-- The pairs within a tolerance, found by a C operator (src/pairing.c):
-- the phone readings hashed by (customer, time bucket of 2T + 1 ms), each
-- step trainer reading looked up in the one or two buckets its window
-- meets, the nearest chosen as they are found.  All pairs, or those of
-- the given devices, whose claimants' emails come with them.  The secret
-- is an argument so that the definition view reads it with its owner's
-- rights; the tables are read with the caller's.
CREATE FUNCTION stedi.pair_readings(tolerance_ms integer, nearest boolean, secret bytea,
                                    devices text[] DEFAULT NULL, claimants text[] DEFAULT NULL)
RETURNS TABLE (sensor_reading_time timestamptz, serial_number text, distance_from_object integer,
               customer_key uuid, reading_time timestamptz, x double precision,
               y double precision, z double precision,
               step_trainer_file_id integer, step_trainer_line_number bigint,
               accelerometer_file_id integer, accelerometer_line_number bigint)
AS 'MODULE_PATHNAME', 'stedi_pair_readings' LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
-- (no plan of it printed where its caller could read the secret)
SET debug_print_plan = off;
COMMENT ON FUNCTION stedi.pair_readings(integer, boolean, bytea, text[], text[]) IS
    'The training table''s pairs within tolerance_ms (0 to 3,600,000 ms; invalid_parameter_value otherwise) in nearest mode (true) or window mode, customer keys made with the secret: all of them, or those of the devices given with their claimants'' emails; memory about work_mem * hash_mem_multiplier, larger inputs split into partitions written to temporary files (src/pairing.c)';

-- Make the training table's definition view again from the pairing
-- settings: the same-millisecond join for a tolerance of 0, else the
-- bucket join of the chosen mode.  Called by stedi.set_setting when they
-- change (the next refresh then rebuilds the table).
CREATE FUNCTION stedi.define_pairing() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tolerance integer := stedi.pairing_tolerance_ms();
BEGIN
    IF tolerance = 0 THEN
        CREATE OR REPLACE VIEW curated.machine_learning_definition AS
        SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
               s.customer_key,
               a.reading_time, a.x, a.y, a.z,
               s.file_id AS step_trainer_file_id,
               s.line_number AS step_trainer_line_number,
               a.file_id AS accelerometer_file_id,
               a.line_number AS accelerometer_line_number,
               stedi.customer_split(s.customer_key) AS split
          FROM (SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
                       s.file_id, s.line_number, c.email, c.customer_key
                  FROM trusted.step_trainer AS s
                  JOIN (SELECT o.email, o.serial_number, stedi.customer_key(o.email, k.secret) AS customer_key
                          FROM trusted.customer AS o CROSS JOIN stedi.pseudonym_secret AS k
                        OFFSET 0) AS c ON c.serial_number = s.serial_number
                 WHERE s.serial_number NOT IN (SELECT d.serial_number FROM trusted.customer AS d
                                                GROUP BY d.serial_number HAVING count(*) > 1)
                    OR stedi.claimants_reading_at(s.serial_number, s.sensor_reading_time) < 2
                OFFSET 0) AS s
          JOIN trusted.accelerometer AS a
            ON a.user_email = s.email
           AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time;
        RETURN;
    END IF;
    EXECUTE format('CREATE OR REPLACE VIEW curated.machine_learning_definition AS
                    SELECT p.*, stedi.customer_split(p.customer_key) AS split
                      FROM stedi.pseudonym_secret AS k
                     CROSS JOIN LATERAL stedi.pair_readings(%s, %L, k.secret) AS p',
                   tolerance, stedi.setting_value('pairing_mode') = 'nearest');
END
$$;
COMMENT ON FUNCTION stedi.define_pairing() IS 'Make curated.machine_learning_definition again from the settings pairing_tolerance and pairing_mode';

-- How well pairing worked, device by device: per curated customer and the
-- device it names, its step trainer readings, those paired, those with no
-- phone reading within the tolerance (or held back), and the median and
-- largest time difference of the pairs, in ms.
CREATE VIEW stedi.pairing_quality AS
SELECT c.customer_key, c.serial_number,
       coalesce(s.readings, 0) AS step_readings,
       coalesce(m.paired, 0) AS paired,
       coalesce(s.readings, 0) - coalesce(m.paired, 0) AS unpaired,
       m.median_offset_ms, m.max_offset_ms
  FROM curated.customer AS c
  LEFT JOIN (SELECT s.serial_number, count(*) AS readings
               FROM trusted.step_trainer AS s GROUP BY s.serial_number) AS s
    ON s.serial_number = c.serial_number
  LEFT JOIN (SELECT m.customer_key, m.serial_number,
                    count(DISTINCT (m.step_trainer_file_id, m.step_trainer_line_number)) AS paired,
                    percentile_cont(0.5) WITHIN GROUP
                        (ORDER BY abs(stedi.pairing_offset(m.reading_time, m.sensor_reading_time))) AS median_offset_ms,
                    max(abs(stedi.pairing_offset(m.reading_time, m.sensor_reading_time))) AS max_offset_ms
               FROM curated.machine_learning AS m
              GROUP BY m.customer_key, m.serial_number) AS m
    ON m.customer_key = c.customer_key AND m.serial_number = c.serial_number;
COMMENT ON VIEW stedi.pairing_quality IS 'Per curated customer (by key) and device: step trainer readings, those paired with phone readings, those unpaired (no phone reading within the tolerance, or held back), and the median and largest absolute time difference of the pairs in ms';
COMMENT ON COLUMN stedi.pairing_quality.step_readings IS 'Trusted step trainer readings of the device';
COMMENT ON COLUMN stedi.pairing_quality.paired IS 'Of those, the readings paired with a phone reading of this customer';
COMMENT ON COLUMN stedi.pairing_quality.unpaired IS 'Readings with no phone reading of this customer within the pairing tolerance, or held back (the device is named by several)';
COMMENT ON COLUMN stedi.pairing_quality.median_offset_ms IS 'Median absolute time difference of the pairs, in ms';
COMMENT ON COLUMN stedi.pairing_quality.max_offset_ms IS 'Largest absolute time difference of the pairs, in ms';

------------------------------------------------------------------------------
-- The splits of the training table (src/split.c): each customer is in
-- train, validation or test, from the first 32 bits of their key against
-- the shares of the setting split_proportions, so that no customer's
-- readings are in two splits.
------------------------------------------------------------------------------

CREATE FUNCTION stedi.split_bounds(proportions text) RETURNS integer[]
AS 'MODULE_PATHNAME', 'stedi_split_bounds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stedi.split_bounds(text) IS
    'The shares of train, validation and test in hundredths of a percent, of proportions written ''80/10/10'' (percentages with at most two decimals adding up to 100); invalid_parameter_value otherwise (src/split.c)';
-- (no SET clause: it runs once per row of the curated tables, and its one
-- query names everything by schema)
CREATE FUNCTION stedi.customer_split(customer_key uuid) RETURNS text
AS 'MODULE_PATHNAME', 'stedi_customer_split' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION stedi.customer_split(uuid) IS
    'The split of the customer with this key, train, validation or test: the first 32 bits of the key as a fraction of 2^32, in hundredths of a percent, against the cumulated shares of the setting split_proportions (read once per statement) (src/split.c)';

-- The settings that shape the zones, as a refresh applies them: recorded
-- with each refresh (stedi.refresh_run.settings), so that what a training
-- set reflects is known even when a setting changed since.
CREATE FUNCTION stedi.settings_in_force() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'consent_policy', stedi.setting_value('consent_policy'),
        'pairing_tolerance_ms', stedi.pairing_tolerance_ms(),
        'pairing_mode', stedi.setting_value('pairing_mode'),
        'split_proportions', stedi.setting_value('split_proportions'))
$$;
COMMENT ON FUNCTION stedi.settings_in_force() IS
    'The settings that shape the zones, as JSON: consent_policy, pairing_tolerance_ms, pairing_mode, split_proportions; each refresh records them in stedi.refresh_run.settings';

-- each refresh records the settings it applied
ALTER TABLE stedi.refresh_run ADD COLUMN settings jsonb;
COMMENT ON COLUMN stedi.refresh_run.settings IS 'The settings a run that succeeded applied (stedi.settings_in_force()): what the zones it left reflect';

-- What a training set read now reflects, for the manifest stedi-export
-- writes: the extension's version, the last refresh that succeeded, and
-- the settings it applied (those changed since apply at the next refresh).
-- (Analysts read neither the run history nor the settings themselves.)
CREATE FUNCTION stedi.training_set_state() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH last_run AS (
        SELECT r.run_id, r.trigger, r.started_at, r.finished_at, r.settings
          FROM stedi.refresh_run AS r
         WHERE r.status = 'succeeded'
         ORDER BY r.run_id DESC LIMIT 1)
    SELECT jsonb_build_object(
               'extension_version', (SELECT e.extversion FROM pg_extension AS e WHERE e.extname = 'stedi'),
               'last_refresh', (SELECT jsonb_build_object('run_id', l.run_id, 'trigger', l.trigger,
                                                          'started_at', l.started_at, 'finished_at', l.finished_at)
                                  FROM last_run AS l))
           || coalesce((SELECT l.settings FROM last_run AS l), stedi.settings_in_force())
           || jsonb_build_object('settings_changed_since',
                                 (SELECT l.settings IS DISTINCT FROM stedi.settings_in_force()
                                    FROM last_run AS l WHERE l.settings IS NOT NULL))
$$;
COMMENT ON FUNCTION stedi.training_set_state() IS
    'What the training table reflects, as JSON: extension_version; last_refresh (run_id, trigger, started_at, finished_at of the last refresh that succeeded; null if none); the settings that refresh applied (consent_policy, pairing_tolerance_ms, pairing_mode, split_proportions; the current ones if it recorded none); settings_changed_since (true when a setting changed after it, applied by the next refresh; null when unknown)';

-- the pairing settings, with their defaults
CREATE OR REPLACE VIEW stedi.settings AS
SELECT d.name, coalesce(s.value, d.default_value) AS value, d.default_value,
       s.value IS NULL AS is_default, s.set_at, s.set_by, d.description
  FROM (VALUES
        ('consent_policy', 'original',
         'Which readings of a consenting customer the trusted zone keeps: original (all of them, as the original pipeline) or as_of (only those taken at or after the customer''s research consent date); set with stedi.set_consent_policy()'),
        ('run_history_retention', '30 days',
         'How long stedi.refresh_run and stedi.refresh_log keep a run (an interval)'),
        ('pairing_tolerance', '00:00:00',
         'How far apart in time a step trainer reading and a phone reading may be to pair (an interval of whole milliseconds, 0 to 1 hour; 0: the same millisecond)'),
        ('pairing_mode', 'nearest',
         'With a pairing tolerance above 0: nearest (the phone readings of the nearest millisecond; of two equally near, the earlier) or window (every phone reading within the tolerance)'),
        ('split_proportions', '80/10/10',
         'The shares of customers in the train, validation and test splits of the training table, in percent with at most two decimals, adding up to 100 (a customer''s split comes from their key: stedi.customer_split)')
       ) AS d(name, default_value, description)
  LEFT JOIN stedi.setting AS s USING (name);
COMMENT ON VIEW stedi.settings IS 'Every setting of the lakehouse: its value, its default and what it does';
-- Splits (issue 16): each curated customer, and each pair, carries the
-- split of its customer, computed here for the rows there are.
ALTER TABLE curated.customer ADD COLUMN split text;
UPDATE curated.customer SET split = stedi.customer_split(customer_key);
ALTER TABLE curated.customer ALTER COLUMN split SET NOT NULL;
ALTER TABLE curated.machine_learning ADD COLUMN split text;
UPDATE curated.machine_learning SET split = stedi.customer_split(customer_key);
ALTER TABLE curated.machine_learning ALTER COLUMN split SET NOT NULL;
CREATE OR REPLACE VIEW curated.customer_definition AS
SELECT c.customer_key, c.serial_number, c.registration_date, c.last_update_date,
       c.share_with_research_as_of_date, c.share_with_public_as_of_date,
       c.share_with_friends_as_of_date, stedi.customer_split(c.customer_key) AS split
  FROM (SELECT c.*, stedi.customer_key(c.email, k.secret) AS customer_key
          FROM trusted.customer AS c
         CROSS JOIN stedi.pseudonym_secret AS k
         WHERE EXISTS (SELECT FROM trusted.accelerometer AS a WHERE a.user_email = c.email)) AS c;
-- (the training table's definition: the same-millisecond join, the default)
SELECT stedi.define_pairing();

-- Identical readings counted once, ambiguous devices held back, and
-- expectations (issue 14): the reading zones are made of candidates.
CREATE VIEW trusted.accelerometer_candidate AS
SELECT stedi.normalize_email(a.user_email) AS user_email, a.reading_time, a.x, a.y, a.z,
       a.file_id, a.line_number, f.loaded_at
  FROM landing.accelerometer AS a
  JOIN trusted.customer AS c ON c.email = stedi.normalize_email(a.user_email)
  JOIN landing.source_file AS f ON f.file_id = a.file_id
 WHERE stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                          a.reading_time, (SELECT stedi.setting_value('consent_policy')));

CREATE VIEW trusted.step_trainer_candidate AS
SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
       s.file_id, s.line_number, f.loaded_at
  FROM landing.step_trainer AS s
  JOIN landing.source_file AS f ON f.file_id = s.file_id
 WHERE EXISTS (SELECT FROM curated.customer AS c
                WHERE c.serial_number = s.serial_number
                  AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                                         s.sensor_reading_time,
                                                         (SELECT stedi.setting_value('consent_policy'))));

------------------------------------------------------------------------------
-- Expectations: data-quality rules over the reading zones
--
-- An expectation is a check, a boolean SQL expression over a reading
-- zone's columns and loaded_at (when the reading's file was loaded), and
-- what to do with a row for which it is false (as in Databricks' Delta
-- Live Tables, but incremental and inside the database):
--   warn  keep the row in the zone, and record it;
--   drop  keep the row out of the zone, and record it, so that nothing is
--         lost: landing keeps the row, stedi.expectation_violation says
--         which rule keeps it out;
--   fail  the refresh fails, naming the rule.
-- A check that is null passes, as in a CHECK constraint.  Checks run on
-- the rows a refresh computes (all of them in a full refresh), before
-- identical readings are counted once.  They govern the zones readings
-- come into, trusted.accelerometer and trusted.step_trainer; the curated
-- zones are made of those.
------------------------------------------------------------------------------

CREATE FUNCTION stedi.check_expectation(input regclass, "check" text) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_check_expectation' LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION stedi.check_expectation(regclass, text) IS
    'Validate an expectation''s check against the columns of input (a zone''s candidate view): one boolean expression, no subquery, aggregate or set, only PostgreSQL''s own immutable functions and operators; raises invalid_parameter_value otherwise, program_limit_exceeded over 4,096 bytes (src/expectation.c)';

-- The reading zones, and what their expectations and duplicates work on.
CREATE FUNCTION stedi.reading_zones(OUT step integer, OUT zone regclass,
                                    OUT candidate regclass, OUT owner name,
                                    OUT reading_time name, OUT reading text[],
                                    OUT owner_files regclass)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES (2, 'trusted.accelerometer'::regclass, 'trusted.accelerometer_candidate'::regclass,
            'user_email'::name, 'reading_time'::name, '{reading_time,user_email,x,y,z}'::text[],
            'stedi.accelerometer_file_user'::regclass),
           (4, 'trusted.step_trainer', 'trusted.step_trainer_candidate',
            'serial_number', 'sensor_reading_time',
            '{sensor_reading_time,serial_number,distance_from_object}',
            'stedi.step_trainer_file_serial')
$$;
COMMENT ON FUNCTION stedi.reading_zones() IS 'The zones readings come into: the zone''s step, its candidate view (rows before expectations and duplicates), the column of the reading''s owner (customer or device) and its time, the columns that make two readings identical (the time first: sorting on it all but never compares the others), and the table of which files hold whose readings';

CREATE TABLE stedi.expectation (
    zone         regclass NOT NULL
                 CHECK (zone IN ('trusted.accelerometer'::regclass, 'trusted.step_trainer'::regclass)),
    name         text NOT NULL CHECK (name ~ '^[[:alnum:]_][[:alnum:]_ .-]{0,62}$'),
    check_sql    text NOT NULL,
    on_violation text NOT NULL CHECK (on_violation IN ('warn', 'drop', 'fail')),
    builtin      boolean NOT NULL DEFAULT false,
    declared_at  timestamptz NOT NULL DEFAULT now(),
    declared_by  name NOT NULL DEFAULT session_user,
    last_run_at  timestamptz,
    last_checked bigint,
    last_violated bigint,
    PRIMARY KEY (zone, name)
);
COMMENT ON TABLE stedi.expectation IS 'Data-quality rules of the reading zones (stedi.expect): a check over the zone''s columns and loaded_at, and what a row that fails it does (warn, drop, fail); written only by stedi.expect and stedi.unexpect';
COMMENT ON COLUMN stedi.expectation.zone IS 'The reading zone the rule governs: trusted.accelerometer or trusted.step_trainer';
COMMENT ON COLUMN stedi.expectation.check_sql IS 'The check: a boolean SQL expression over the zone''s columns and loaded_at; a row passes unless it is false';
COMMENT ON COLUMN stedi.expectation.on_violation IS 'What a row that fails the check does: warn (stays in the zone, recorded), drop (kept out of the zone, recorded) or fail (the refresh fails)';
COMMENT ON COLUMN stedi.expectation.declared_at IS 'When the rule was declared or last changed';
COMMENT ON COLUMN stedi.expectation.declared_by IS 'Who declared it (session user); stedi for the shipped rules';
COMMENT ON COLUMN stedi.expectation.last_run_at IS 'When a refresh last checked it';
COMMENT ON COLUMN stedi.expectation.builtin IS 'Shipped with stedi: cannot be removed or changed';
COMMENT ON COLUMN stedi.expectation.last_checked IS 'Rows the last refresh that computed the zone checked (all of them in a full refresh, the rows it recomputed otherwise)';
COMMENT ON COLUMN stedi.expectation.last_violated IS 'Of those, the rows for which the check was false';

-- The shipped rules.  Each keeps the published counts of the starter set.
INSERT INTO stedi.expectation (zone, name, check_sql, on_violation, builtin, declared_by) VALUES
    ('trusted.accelerometer', 'reading_time_after_2000', $c$reading_time >= '2000-01-01 00:00:00+00'$c$, 'drop', true, 'stedi'),
    ('trusted.accelerometer', 'reading_time_not_ahead_of_load', $c$reading_time <= loaded_at + interval '1 day'$c$, 'drop', true, 'stedi'),
    ('trusted.step_trainer', 'reading_time_after_2000', $c$sensor_reading_time >= '2000-01-01 00:00:00+00'$c$, 'drop', true, 'stedi'),
    ('trusted.step_trainer', 'reading_time_not_ahead_of_load', $c$sensor_reading_time <= loaded_at + interval '1 day'$c$, 'drop', true, 'stedi'),
    ('trusted.step_trainer', 'distance_not_negative', $c$distance_from_object >= 0$c$, 'drop', true, 'stedi');

-- Rows that fail an expectation whose action is warn or drop, by the
-- row's lineage.  Computed, like a zone, by every refresh: a full one
-- records again every row of the zone's candidates that fails, an
-- incremental one those of the files and owners it recomputed.
CREATE TABLE stedi.expectation_violation (
    zone         regclass NOT NULL,
    expectation  text NOT NULL,
    file_id      integer NOT NULL,
    line_number  bigint NOT NULL,
    owner        text NOT NULL,
    on_violation text NOT NULL CHECK (on_violation IN ('warn', 'drop')),
    found_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (zone, expectation, file_id, line_number)
);
CREATE INDEX ON stedi.expectation_violation (file_id);
CREATE INDEX ON stedi.expectation_violation (owner);
COMMENT ON TABLE stedi.expectation_violation IS 'Each row of a reading zone''s candidates that fails an expectation, by lineage (the landing file and line): dropped rows are out of the zone, warned ones in it';
COMMENT ON COLUMN stedi.expectation_violation.zone IS 'The zone whose expectation the row fails';
COMMENT ON COLUMN stedi.expectation_violation.expectation IS 'The expectation''s name (stedi.expectation)';
COMMENT ON COLUMN stedi.expectation_violation.file_id IS 'Lineage: the landing file of the row (landing.source_file)';
COMMENT ON COLUMN stedi.expectation_violation.line_number IS 'Lineage: the row''s line in that file';
COMMENT ON COLUMN stedi.expectation_violation.on_violation IS 'warn: the row is in the zone; drop: it is kept out';
COMMENT ON COLUMN stedi.expectation_violation.found_at IS 'When the refresh that recorded it ran';
COMMENT ON COLUMN stedi.expectation_violation.owner IS 'The reading''s customer (normalized email) or device (serial number): how a refresh finds the violations of a customer or device it recomputes, and an erasure removes them';

-- The settings that decide what a check's text means are pinned (time
-- zone, date and interval styles, float and bytea output), here, where the
-- definition binds the check's constants, in stedi.check_zone, which reads
-- the same text again, and in stedi.expect, which validates it: the same
-- check means the same in every session.
-- The definition of a reading zone, made again from its expectations:
-- the candidates for which no drop rule's check is false, and of
-- identical readings the first loaded (lowest file, then line), which
-- keeps its lineage.  Each check was validated by stedi.check_expectation
-- as one expression; it is put between line breaks, so that nothing of
-- its text (a comment) reaches past it, and parsed with
-- standard_conforming_strings on, as it was validated.
CREATE FUNCTION stedi.define_zone(zone regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
SET timezone = 'UTC'
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 1
SET bytea_output = 'hex'
AS $$
DECLARE
    r record;
    columns text;
    reading text;
    checks text;
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.zone = define_zone.zone;
    SELECT string_agg('c.' || quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_attribute AS a
     WHERE a.attrelid = define_zone.zone AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT string_agg('c.' || quote_ident(k), ', ') INTO reading FROM unnest(r.reading) AS k;
    SELECT string_agg(format(E'(\n%s\n) IS NOT FALSE', e.check_sql), E'\n   AND ' ORDER BY e.name)
      INTO checks
      FROM stedi.expectation AS e
     WHERE e.zone = define_zone.zone AND e.on_violation = 'drop';
    EXECUTE format(E'CREATE OR REPLACE VIEW %s_definition AS\nSELECT DISTINCT ON (%s) %s\n  FROM %s AS c\n WHERE %s\n ORDER BY %s, c.file_id, c.line_number',
                   zone, reading, columns, r.candidate, coalesce(checks, 'true'), reading);
END
$$;
COMMENT ON FUNCTION stedi.define_zone(regclass) IS 'Make a reading zone''s definition view again from its drop expectations: its candidates that meet them, identical readings once (the first loaded)';

SELECT stedi.define_zone(z.zone) FROM stedi.reading_zones() AS z;

-- Declare an expectation, or change one (same zone and name); the next
-- refresh computes every zone again, in full.
CREATE FUNCTION stedi.expect(zone regclass, name text, "check" text,
                             on_violation text DEFAULT 'drop')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
SET timezone = 'UTC'
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 1
SET bytea_output = 'hex'
AS $$
DECLARE
    r record;
    old stedi.expectation;
    message text;
    state text;
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.zone = expect.zone;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expectations govern trusted.accelerometer and trusted.step_trainer, not %', zone
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'The curated zones are made of those two: an expectation there governs them too.';
    END IF;
    IF on_violation IS NULL OR on_violation NOT IN ('warn', 'drop', 'fail') THEN
        RAISE EXCEPTION 'on_violation must be warn, drop or fail, not %', coalesce(quote_literal(on_violation), 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF name IS NULL OR name !~ '^[[:alnum:]_][[:alnum:]_ .-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid expectation name %', coalesce(quote_literal(name), 'NULL')
              USING ERRCODE = 'invalid_parameter_value',
                    DETAIL = 'A name is 1 to 63 letters, digits, spaces, "_", "." or "-", not starting with a space, "." or "-".';
    END IF;
    IF "check" IS NULL THEN
        RAISE EXCEPTION 'an expectation needs a check' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stedi.check_expectation(r.candidate, "check");
    PERFORM stedi.lock_refresh('expectation');
    -- a check that raises an error on a row landing holds now would stop
    -- every full refresh, erasures' included: refused now
    BEGIN
        EXECUTE format(E'SELECT count(*) FILTER (WHERE (\n%s\n) IS FALSE) FROM %s AS c',
                       "check", r.candidate);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
        RAISE EXCEPTION 'check "%" cannot be evaluated on a row of % as it is: %', "check", zone, message
              USING ERRCODE = state,
                    HINT = 'A check must evaluate on every row: guard it (CASE, NULLIF) against the values the data holds.';
    END;
    SELECT * INTO old FROM stedi.expectation AS e WHERE e.zone = expect.zone AND e.name = expect.name
       FOR UPDATE;
    IF old.builtin THEN
        RAISE EXCEPTION 'expectation "%" of % is shipped with stedi and cannot be changed', name, zone
              USING ERRCODE = 'insufficient_privilege',
                    HINT = 'Declare a rule of your own under another name beside it.';
    END IF;
    IF old.check_sql IS NOT DISTINCT FROM "check" AND old.on_violation IS NOT DISTINCT FROM expect.on_violation THEN
        RETURN;
    END IF;
    INSERT INTO stedi.expectation AS e (zone, name, check_sql, on_violation)
    VALUES (zone, name, "check", on_violation)
    ON CONFLICT ON CONSTRAINT expectation_pkey DO UPDATE
       SET check_sql = EXCLUDED.check_sql, on_violation = EXCLUDED.on_violation,
           declared_at = now(), declared_by = session_user,
           last_run_at = NULL, last_checked = NULL, last_violated = NULL;
    DELETE FROM stedi.expectation_violation AS v WHERE v.zone = expect.zone AND v.expectation = expect.name;
    PERFORM stedi.define_zone(zone);
    INSERT INTO stedi.landing_change (relation) VALUES ('stedi.expectation'::regclass);
END
$$;
COMMENT ON FUNCTION stedi.expect(regclass, text, text, text) IS
    'Declare (or change) an expectation of trusted.accelerometer or trusted.step_trainer: a check over the zone''s columns and loaded_at, and on_violation warn, drop (default) or fail; the next refresh computes every zone again.  Raises invalid_parameter_value for another zone, a bad name, action or check (stedi.check_expectation), insufficient_privilege for a shipped rule';

CREATE FUNCTION stedi.unexpect(zone regclass, name text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    old stedi.expectation;
BEGIN
    PERFORM stedi.lock_refresh('expectation');
    SELECT * INTO old FROM stedi.expectation AS e WHERE e.zone = unexpect.zone AND e.name = unexpect.name
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% has no expectation "%"', zone, name
              USING ERRCODE = 'undefined_object',
                    HINT = 'stedi.expectation_status lists them.';
    END IF;
    IF old.builtin THEN
        RAISE EXCEPTION 'expectation "%" of % is shipped with stedi and cannot be removed', name, zone
              USING ERRCODE = 'insufficient_privilege',
                    DETAIL = 'It keeps impossible readings out of the zone.';
    END IF;
    DELETE FROM stedi.expectation AS e WHERE e.zone = unexpect.zone AND e.name = unexpect.name;
    DELETE FROM stedi.expectation_violation AS v WHERE v.zone = unexpect.zone AND v.expectation = unexpect.name;
    PERFORM stedi.define_zone(zone);
    INSERT INTO stedi.landing_change (relation) VALUES ('stedi.expectation'::regclass);
END
$$;
COMMENT ON FUNCTION stedi.unexpect(regclass, text) IS
    'Remove an expectation declared with stedi.expect, and the violations recorded under it; the next refresh computes every zone again.  Raises undefined_object when there is none, insufficient_privilege for a shipped rule';

CREATE VIEW stedi.expectation_status AS
SELECT e.zone, e.name, e.check_sql AS "check", e.on_violation, e.builtin,
       e.last_run_at, e.last_checked, e.last_violated,
       (SELECT count(*) FROM stedi.expectation_violation AS v
         WHERE v.zone = e.zone AND v.expectation = e.name) AS violating
  FROM stedi.expectation AS e;
-- Devices that several trusted customers name (the fulfilment defect of
-- the original data), and how many of their readings the training table
-- holds back because more than one of them has a reading in that
-- millisecond (curated.machine_learning_definition).
CREATE VIEW stedi.ambiguous_device AS
SELECT d.serial_number, d.customers,
       (SELECT count(*) FROM trusted.step_trainer AS s
         WHERE s.serial_number = d.serial_number
           AND stedi.claimants_reading_near(s.serial_number, s.sensor_reading_time,
                                            stedi.pairing_tolerance_ms()) > 1) AS readings_held_back
  FROM (SELECT c.serial_number, count(*) AS customers FROM trusted.customer AS c
         GROUP BY c.serial_number HAVING count(*) > 1) AS d;
COMMENT ON COLUMN stedi.ambiguous_device.customers IS 'Trusted customers whose latest record names the device';
COMMENT ON COLUMN stedi.ambiguous_device.readings_held_back IS 'The device''s trusted readings in whose millisecond (within the pairing tolerance, when one is set) more than one of them has a trusted accelerometer reading: paired with no one';
COMMENT ON VIEW stedi.ambiguous_device IS 'Devices (serial numbers) that several trusted customers name, with how many, and how many of the device''s trusted readings are held back from curated.machine_learning because more than one of those customers has a reading in that millisecond (within the pairing tolerance, when one is set)';

COMMENT ON VIEW stedi.expectation_status IS 'Each expectation with the rows its zone''s last refresh checked and found failing, and how many rows of the zone''s candidates fail it now (for warn and drop: what stedi.expectation_violation holds)';
COMMENT ON COLUMN stedi.expectation_status.zone IS 'The reading zone the rule governs';
COMMENT ON COLUMN stedi.expectation_status.check IS 'The check (stedi.expectation.check_sql)';
COMMENT ON COLUMN stedi.expectation_status.on_violation IS 'warn, drop or fail';
COMMENT ON COLUMN stedi.expectation_status.builtin IS 'Shipped with stedi';
COMMENT ON COLUMN stedi.expectation_status.last_run_at IS 'When a refresh last checked it';
COMMENT ON COLUMN stedi.expectation_status.last_checked IS 'Rows that refresh checked: every candidate in a full refresh, the rows it recomputed in an incremental one';
COMMENT ON COLUMN stedi.expectation_status.last_violated IS 'Of those, the rows that failed the check';
COMMENT ON COLUMN stedi.expectation_status.violating IS 'Rows of the zone''s candidates that fail it now, in total (stedi.expectation_violation; none for fail rules, which stop the refresh)';

-- The expectations of one reading zone checked on the rows in table
-- rows (the zone's columns), or on all its candidates when rows is NULL
-- (a full refresh): a fail rule that fails raises; the rows failing warn
-- and drop rules are recorded (those of the scope are recorded afresh:
-- the files and owners recomputed, or the whole zone); the rows failing
-- a drop rule are deleted from rows.  Returns the rows checked, and those
-- that fail no drop rule.  Checks run as in the definition view
-- (stedi.define_zone): between line breaks, standard_conforming_strings on.
CREATE FUNCTION stedi.check_zone(zone regclass, rows regclass, files integer[], owners text[],
                                 OUT checked bigint, OUT passed bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
SET timezone = 'UTC'
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 1
SET bytea_output = 'hex'
AS $$
DECLARE
    r record;
    input text;
    message text;
    state text;
    broken text;
    e record;
    any_fails text;
    drop_passes text;
    violated text;
    drop_rules text;
    failing bigint;
    example record;
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.zone = check_zone.zone;
    IF rows IS NULL THEN
        DELETE FROM stedi.expectation_violation AS v WHERE v.zone = check_zone.zone;
        input := format('(SELECT c.*, NULL::tid AS stedi_row FROM %s AS c) AS c', r.candidate);
    ELSE
        DELETE FROM stedi.expectation_violation AS v
         WHERE v.zone = check_zone.zone AND (v.file_id = ANY (files) OR v.owner = ANY (owners));
        input := format('(SELECT c.*, c.ctid AS stedi_row, f.loaded_at FROM %s AS c
                            JOIN landing.source_file AS f ON f.file_id = c.file_id) AS c', rows);
    END IF;
    SELECT string_agg(format(E'(\n%s\n) IS FALSE', x.check_sql), ' OR '),
           string_agg(format(E'(\n%s\n) IS NOT FALSE', x.check_sql), ' AND ')
               FILTER (WHERE x.on_violation = 'drop'),
           string_agg(format(E'CASE WHEN (\n%s\n) IS FALSE THEN %L END', x.check_sql, x.name), ', '),
           coalesce(array_agg(x.name) FILTER (WHERE x.on_violation = 'drop'), '{}')::text
      INTO any_fails, drop_passes, violated, drop_rules
      FROM stedi.expectation AS x WHERE x.zone = check_zone.zone;
    -- counts first, in one pass; the rows that fail, which are few, in a
    -- second pass only when there are any
    BEGIN
        EXECUTE format('SELECT count(*), count(*) FILTER (WHERE %s), count(*) FILTER (WHERE %s) FROM %s',
                       coalesce(drop_passes, 'true'), coalesce(any_fails, 'false'), input)
           INTO checked, passed, failing;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
        -- which rule: each alone
        FOR e IN SELECT * FROM stedi.expectation AS x WHERE x.zone = check_zone.zone ORDER BY x.name LOOP
            BEGIN
                EXECUTE format(E'SELECT count(*) FILTER (WHERE (\n%s\n) IS FALSE) FROM %s', e.check_sql, input);
            EXCEPTION WHEN OTHERS THEN
                broken := e.name;
                EXIT;
            END;
        END LOOP;
        IF rows IS NOT NULL AND stedi.in_erasure_refresh() THEN
            -- an erasure goes on: these rows wait, their files queued again,
            -- for the next refresh, which stops on the rule
            EXECUTE format('INSERT INTO stedi.pending_file (file_id, kind)
                            SELECT DISTINCT c.file_id, f.kind FROM %s AS c
                              JOIN landing.source_file AS f ON f.file_id = c.file_id
                            ON CONFLICT DO NOTHING', rows);
            EXECUTE format('DELETE FROM %s', rows);
            checked := 0;
            passed := 0;
            RETURN;
        END IF;
        RAISE EXCEPTION 'expectation "%" of % could not be checked: %', coalesce(broken, '?'), zone, message
              USING ERRCODE = state,
                    HINT = 'Change the rule (stedi.expect) or remove it (stedi.unexpect).';
    END;
    UPDATE stedi.expectation AS x
       SET last_run_at = now(), last_checked = check_zone.checked, last_violated = 0
     WHERE x.zone = check_zone.zone;
    IF failing = 0 THEN
        RETURN;
    END IF;
    CREATE TEMPORARY TABLE stedi_failing ON COMMIT DROP AS
    SELECT NULL::integer AS file_id, NULL::bigint AS line_number, NULL::text AS owner,
           NULL::tid AS stedi_row, NULL::text[] AS violated LIMIT 0;
    EXECUTE format('INSERT INTO pg_temp.stedi_failing
                    SELECT c.file_id, c.line_number, c.%1$I, c.stedi_row,
                           array_remove(ARRAY[%2$s]::text[], NULL)
                      FROM %3$s WHERE %4$s',
                   r.owner, violated, input, any_fails);
    SELECT count(*) INTO failing FROM pg_temp.stedi_failing AS k
     WHERE k.violated && ARRAY(SELECT x.name FROM stedi.expectation AS x
                                WHERE x.zone = check_zone.zone AND x.on_violation = 'fail');
    IF failing > 0 AND stedi.in_erasure_refresh() THEN
        -- an erasure goes on: the rows a fail rule stops are kept out, and
        -- their files queued again for the next refresh, which stops on it
        INSERT INTO stedi.pending_file (file_id, kind)
        SELECT DISTINCT k.file_id, f.kind
          FROM pg_temp.stedi_failing AS k JOIN landing.source_file AS f ON f.file_id = k.file_id
         WHERE k.violated && ARRAY(SELECT x.name FROM stedi.expectation AS x
                                    WHERE x.zone = check_zone.zone AND x.on_violation = 'fail')
        ON CONFLICT DO NOTHING;
        drop_rules := ARRAY(SELECT x.name FROM stedi.expectation AS x
                             WHERE x.zone = check_zone.zone AND x.on_violation IN ('drop', 'fail'))::text;
    ELSIF failing > 0 THEN
        SELECT x.name, k.file_id, k.line_number INTO example
          FROM pg_temp.stedi_failing AS k
          JOIN stedi.expectation AS x ON x.zone = check_zone.zone AND x.on_violation = 'fail'
                                     AND x.name = ANY (k.violated)
         ORDER BY k.file_id, k.line_number, x.name LIMIT 1;
        RAISE EXCEPTION 'expectation "%" of % failed: %', example.name, zone,
                        CASE WHEN failing = 1 THEN '1 row fails it' ELSE failing || ' rows fail it' END
              USING ERRCODE = 'check_violation',
                    DETAIL = format('Its action is fail; the first is line %s of file %s (landing.source_file).',
                                    example.line_number, example.file_id),
                    HINT = 'Unload the file (stedi.unload_file), or change the rule or its action (stedi.expect).';
    END IF;
    INSERT INTO stedi.expectation_violation (zone, expectation, file_id, line_number, owner, on_violation)
    SELECT check_zone.zone, x.name, k.file_id, k.line_number, k.owner, x.on_violation
      FROM pg_temp.stedi_failing AS k
      JOIN stedi.expectation AS x ON x.zone = check_zone.zone AND x.name = ANY (k.violated)
     WHERE x.on_violation <> 'fail'
    ON CONFLICT DO NOTHING;
    UPDATE stedi.expectation AS x
       SET last_violated = (SELECT count(*) FROM pg_temp.stedi_failing AS k WHERE x.name = ANY (k.violated))
     WHERE x.zone = check_zone.zone;
    IF rows IS NOT NULL THEN
        EXECUTE format('DELETE FROM %s AS c WHERE c.ctid = ANY (ARRAY(SELECT k.stedi_row FROM pg_temp.stedi_failing AS k
                                                                     WHERE k.violated && %L::text[]))',
                       rows, drop_rules);
    END IF;
    DROP TABLE pg_temp.stedi_failing;
END
$$;
COMMENT ON FUNCTION stedi.check_zone(regclass, regclass, integer[], text[]) IS
    'Check the expectations of a reading zone on the rows of a change table (those of files and owners it recomputes), or on all the zone''s candidates when rows is NULL; records the rows failing warn and drop rules, deletes those failing drop rules from the change table, raises check_violation for a fail rule; returns the rows checked and those that fail no drop rule';

-- The incremental way's last word on a reading zone's change, once its
-- rows are computed (pg_temp.stedi_minus_N: the zone's rows it recomputes,
-- pg_temp.stedi_plus_N: what the candidates have of them now):
-- 1. a reading whose first loaded copy goes with an unloaded file passes
--    to the next copy, read from the files that hold readings of its
--    owner (never the whole landing table);
-- 2. the expectations are checked on the new rows (stedi.check_zone);
-- 3. of identical readings among them the first loaded stays, and a row
--    of the zone that is identical to one of them stays if it was loaded
--    first, else it goes and the new one comes.  The zone's rows are found
--    through its lookup index (owner, millisecond) when the new rows are
--    few against those of their owners, else read by a hash join over the
--    owners' rows in the span of the new rows' times.
-- files and owners are what the change recomputes (for the expectations'
-- records); owner_rows the zone's rows per owner, on average.  Returns
-- the identical readings set aside.
CREATE FUNCTION stedi.settle_readings(step integer, files integer[], owners text[],
                                      unloaded_files integer[], owner_rows bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
SET work_mem = '64MB'
SET hash_mem_multiplier = 2
AS $$
DECLARE
    r record;
    minus text := format('pg_temp.stedi_minus_%s', step);
    plus text := format('pg_temp.stedi_plus_%s', step);
    columns text;
    same text;
    readers text[];
    first_time timestamptz;
    last_time timestamptz;
    n bigint;
    set_aside bigint := 0;
    k record;
    at_zone_time tid[];      -- new readings whose owner has a zone reading at their millisecond
    gone_owners text[];      -- owners of rows of unloaded files
    copy_files integer[];    -- the other files that hold their readings
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.step = settle_readings.step;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_attribute AS a
     WHERE a.attrelid = r.zone AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT string_agg(format('%%1$s.%1$I = %%2$s.%1$I', c), ' AND ') INTO same FROM unnest(r.reading) AS c;

    IF unloaded_files IS NOT NULL THEN
        -- the owners whose first copies went, and the other files that
        -- hold readings of theirs at the times of those (the owner map's
        -- spans), as constants: the scan of landing reads those files
        -- through the BRIN index on the file, and no other
        EXECUTE format('SELECT array_agg(DISTINCT m.%1$I) FROM %2$s AS m WHERE m.file_id = ANY ($1)',
                       r.owner, minus)
           INTO gone_owners USING unloaded_files;
        EXECUTE format('SELECT array_agg(DISTINCT o.file_id)
                          FROM (SELECT m.%2$I AS owner, min(m.%3$I) AS first_time, max(m.%3$I) AS last_time
                                  FROM %4$s AS m WHERE m.file_id = ANY ($1)
                                 GROUP BY m.%2$I) AS g
                          JOIN %1$s AS o
                            ON o.%2$I = g.owner
                           AND o.first_time <= g.last_time AND o.last_time >= g.first_time
                         WHERE o.file_id <> ALL ($1)',
                       r.owner_files, r.owner, r.reading_time, minus)
           INTO copy_files USING unloaded_files;
        IF copy_files IS NOT NULL THEN
            PERFORM stedi.join_by_size(1, 0);
            EXECUTE format('INSERT INTO %1$s
                            SELECT %2$s FROM %3$s AS c
                             WHERE c.file_id = ANY ($1) AND c.%4$I = ANY ($2)
                               AND NOT EXISTS (SELECT FROM stedi.pending_file AS p WHERE p.file_id = c.file_id)
                               AND EXISTS (SELECT FROM %5$s AS m WHERE m.file_id = ANY ($3) AND %6$s)
                               AND NOT EXISTS (SELECT FROM %1$s AS p
                                                WHERE p.file_id = c.file_id AND p.line_number = c.line_number)',
                           plus, (SELECT string_agg('c.' || x, ', ') FROM regexp_split_to_table(columns, ', ') AS x),
                           r.candidate, r.owner, minus, format(same, 'm', 'c'))
                USING copy_files, gone_owners, unloaded_files;
            PERFORM stedi.join_by_size(NULL, NULL);
        END IF;
    END IF;

    SELECT * INTO k FROM stedi.check_zone(r.zone, plus::regclass, files, owners);
    PERFORM stedi.analyze_change(step);

    -- identical readings within the change (a hash join: the change may be large)
    PERFORM stedi.join_by_size(1, 0);
    EXECUTE format('DELETE FROM %1$s AS p USING %1$s AS q
                     WHERE %2$s AND (q.file_id, q.line_number) < (p.file_id, p.line_number)',
                   plus, format(same, 'q', 'p'));
    GET DIAGNOSTICS n = ROW_COUNT;
    set_aside := set_aside + n;

    -- and against the zone's rows that stay: those of the owners the zone
    -- has rows of already (one probe of its lookup index each; new
    -- customers or devices have none, and a batch of them ends here)
    EXECUTE format('SELECT array_agg(o.owner) FROM (SELECT DISTINCT p.%1$I AS owner FROM %2$s AS p) AS o
                     WHERE (SELECT true FROM %3$s AS z WHERE z.%1$I = o.owner LIMIT 1)',
                   r.owner, plus, r.zone)
       INTO readers;
    EXECUTE format('SELECT min(p.%1$I), max(p.%1$I), count(*) FROM %2$s AS p WHERE p.%3$I = ANY ($1)',
                   r.reading_time, plus, r.owner)
       INTO first_time, last_time, n
       USING readers;
    IF n = 0 THEN
        PERFORM stedi.join_by_size(NULL, NULL);
        RETURN set_aside;
    END IF;
    -- First the new readings whose owner has a reading in the zone at
    -- that millisecond: owner and time are all the zone's lookup index
    -- holds, so it alone answers (an index-only scan of the span of the
    -- new readings, no row of the zone read), and the new readings of a
    -- later time than the zone's, most of any batch, end here.
    PERFORM stedi.join_by_size(n, cardinality(readers) * owner_rows);
    EXECUTE format('SELECT array_agg(p.ctid) FROM %1$s AS p
                     WHERE p.%3$I = ANY ($1)
                       AND EXISTS (SELECT FROM %2$s AS z
                                    WHERE z.%3$I = p.%3$I AND z.%4$I OPERATOR(stedi.=#) p.%4$I
                                      AND z.%3$I = ANY ($1)
                                      AND z.%4$I OPERATOR(stedi.>=#) $2 AND z.%4$I OPERATOR(stedi.<=#) $3)',
                   plus, r.zone, r.owner, r.reading_time)
       INTO at_zone_time
       USING readers, first_time, last_time;
    IF at_zone_time IS NULL THEN
        PERFORM stedi.join_by_size(NULL, NULL);
        RETURN set_aside;
    END IF;
    -- then those few compared whole with the zone's rows at their time
    PERFORM stedi.join_by_size(cardinality(at_zone_time), cardinality(readers) * owner_rows);
    CREATE TEMPORARY TABLE stedi_identical ON COMMIT DROP AS
    SELECT NULL::tid AS plus_row, NULL::tid AS zone_row, NULL::boolean AS zone_first LIMIT 0;
    EXECUTE format('INSERT INTO pg_temp.stedi_identical
                    SELECT p.ctid, z.ctid, (z.file_id, z.line_number) < (p.file_id, p.line_number)
                      FROM %1$s AS p
                      JOIN %2$s AS z
                        ON z.%3$I = p.%3$I AND z.%4$I OPERATOR(stedi.=#) p.%4$I AND %5$s
                     WHERE p.ctid = ANY ($4) AND z.%3$I = ANY ($1)
                       AND z.%4$I OPERATOR(stedi.>=#) $2 AND z.%4$I OPERATOR(stedi.<=#) $3
                       AND (z.file_id, z.line_number) <> (p.file_id, p.line_number)',
                   plus, r.zone, r.owner, r.reading_time, format(same, 'z', 'p'))
        USING readers, first_time, last_time, at_zone_time;
    PERFORM stedi.join_by_size(1, 0);
    -- (not those the change deletes anyway)
    EXECUTE format('DELETE FROM pg_temp.stedi_identical AS i USING %s AS m WHERE m.row_id = i.zone_row', minus);
    EXECUTE format('DELETE FROM %s AS p
                     WHERE p.ctid = ANY (ARRAY(SELECT i.plus_row FROM pg_temp.stedi_identical AS i
                                                WHERE i.zone_first))', plus);
    GET DIAGNOSTICS n = ROW_COUNT;
    set_aside := set_aside + n;
    EXECUTE format('INSERT INTO %s
                    SELECT z.*, z.ctid FROM %s AS z
                     WHERE z.ctid = ANY (ARRAY(SELECT i.zone_row FROM pg_temp.stedi_identical AS i
                                                WHERE NOT i.zone_first))', minus, r.zone);
    GET DIAGNOSTICS n = ROW_COUNT;
    set_aside := set_aside + n;
    DROP TABLE pg_temp.stedi_identical;
    PERFORM stedi.join_by_size(NULL, NULL);
    RETURN set_aside;
END
$$;
COMMENT ON FUNCTION stedi.settle_readings(integer, integer[], text[], integer[], bigint) IS
    'Incremental refresh of a reading zone (step 2 or 4), after its change is computed: readings whose first copy was unloaded pass to the next copy, the expectations are checked (stedi.check_zone), identical readings are counted once (the first loaded keeps its lineage); returns the identical readings set aside';

-- zones that 0.2.0 filled hold identical readings twice, readings the
-- shipped expectations keep out, and pairs of readings now held back: the
-- next refresh compares every zone whole with its new definition
INSERT INTO stedi.landing_change (relation) VALUES ('stedi.expectation'::regclass);


-- the candidate views, new in 0.3.0
COMMENT ON VIEW trusted.accelerometer_candidate IS 'The rows trusted.accelerometer is made of before its expectations and before identical readings are counted once, with loaded_at (when the row''s file was loaded) for the checks';
COMMENT ON VIEW trusted.step_trainer_candidate IS 'The rows trusted.step_trainer is made of before its expectations and before identical readings are counted once, with loaded_at (when the row''s file was loaded) for the checks';



-- The zones in dependency order, with the key that makes a row of each
-- one and the index by which an incremental refresh finds rows.  The
-- training table has two indexes, not three (each costs every row written
-- an entry): its key leads with the reading, so it finds the pairs of a
-- reading, and its lookup index leads with the device, so it finds every
-- pair of a device and the pairs of one step trainer reading.  A full
-- refresh compares a zone part by part first (stedi.compare_zone); the
-- split names the part of a row: the file of a reading (a batch of new
-- files, or a file changed by hand, differs only in its own parts), and
-- for customers a 1,024th of them by a hash of the key.
CREATE FUNCTION stedi.zones(OUT step integer, OUT zone regclass, OUT definition regclass,
                            OUT key text[], OUT key_name text,
                            OUT lookup text, OUT lookup_name text, OUT owner name,
                            OUT split text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES (1, 'trusted.customer'::regclass, 'trusted.customer_definition'::regclass,
            '{email}'::text[], 'customer_key', '(serial_number)', 'customer_serial_number_idx',
            NULL::name, 'pg_catalog.hashtext(email) & 1023'),
           (2, 'trusted.accelerometer', 'trusted.accelerometer_definition',
            '{file_id,line_number}', 'accelerometer_key',
            '(user_email, reading_time stedi.timestamptz_ms_ops)', 'accelerometer_user_time_idx',
            NULL, 'file_id'),
           (3, 'curated.customer', 'curated.customer_definition',
            '{customer_key}', 'customer_key', '(serial_number)', 'customer_serial_number_idx',
            NULL, 'pg_catalog.uuid_hash(customer_key) & 1023'),
           (4, 'trusted.step_trainer', 'trusted.step_trainer_definition',
            '{file_id,line_number}', 'step_trainer_key',
            '(serial_number, sensor_reading_time stedi.timestamptz_ms_ops)', 'step_trainer_serial_time_idx',
            'serial_number', 'file_id'),
           (5, 'curated.machine_learning', 'curated.machine_learning_definition',
            '{accelerometer_file_id,accelerometer_line_number,step_trainer_file_id,step_trainer_line_number}',
            'machine_learning_key',
            '(serial_number, step_trainer_file_id, step_trainer_line_number)', 'machine_learning_device_idx',
            'serial_number', 'accelerometer_file_id')
$$;
COMMENT ON FUNCTION stedi.zones() IS 'The five zones in the order a refresh fills them: table, definition view, key columns and the name of the key''s unique index, the lookup index an incremental refresh finds rows by, the column of the owner by which a fill groups rows (NULL: rows written as they come), and the split: the part of the zone a row is in, for the part-by-part comparison of a full refresh (an integer expression over the zone''s columns)';

-- A zone's key and lookup index, made once the zone is first filled:
-- building an index is much faster than filling an indexed table, and
-- CREATE INDEX keeps writers out, not readers.
CREATE FUNCTION stedi.index_zone(zone regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    z record;
    schema text := (SELECT c.relnamespace::regnamespace::text FROM pg_class AS c
                     WHERE c.oid = zone);
BEGIN
    SELECT * INTO z FROM stedi.zones() AS v WHERE v.zone = index_zone.zone;
    IF to_regclass(format('%I.%I', schema, z.key_name)) IS NULL THEN
        EXECUTE format('CREATE UNIQUE INDEX %I ON %s USING btree (%s)', z.key_name, zone,
                       (SELECT string_agg(quote_ident(k), ', ') FROM unnest(z.key) AS k));
        EXECUTE format('COMMENT ON INDEX %I.%I IS %L', schema, z.key_name,
                       'Key of ' || zone::text || ': one row per key, and how a refresh finds the rows it deletes');
    END IF;
    IF to_regclass(format('%I.%I', schema, z.lookup_name)) IS NULL THEN
        EXECUTE format('CREATE INDEX %I ON %s USING btree %s', z.lookup_name, zone, z.lookup);
        EXECUTE format('COMMENT ON INDEX %I.%I IS %L', schema, z.lookup_name,
                       'How an incremental refresh finds the rows of one customer, device or reading in ' || zone::text);
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.index_zone(regclass) IS 'Make a zone''s key and lookup index if it has not got them (stedi.zones() names them)';

-- The full way for one zone, in two passes.  First both sides are split
-- into parts (stedi.zones().split), and each part reduced to its row count
-- and a digest, the XOR of a 64-bit hash of each of its rows
-- (hash_record_extended): the definition is computed once and the zone read
-- once, with no join of rows, and memory for one entry per part.  Rebuilding
-- the same data ends there: nothing differs, nothing is written.  Then only
-- the parts whose counts or digests differ (all of them, when more than
-- half differ) are compared row by row: the definition computed again and
-- joined with the zone on the zone's key (FULL JOIN), each side reduced to
-- its key and a 64-bit hash of its other columns, so that the join's hash
-- stays small: a zone row with no definition row of its key, or another
-- hash, goes into minus (fetched by its row id); the definition's rows of
-- the keys that differ are computed once more, only when there are any,
-- into plus.  Every hash of one comparison takes the same seed, 64 bits
-- drawn from the server's strong random source for that comparison: an
-- XOR is linear and hash_record_extended is no cryptographic hash, so
-- with a seed anyone could know, whoever may change landing (stedi_admin)
-- could choose changes whose hashes cancel out in a part, or a change
-- that keeps a row's hash, and every full refresh would pass them over.
-- With a seed no one knows in advance, two parts, or two rows of one
-- key, that differ yet hash alike are a chance of one in 2^64, and pass
-- for equal only in that refresh.  The parts are
-- named to the statements as constants, which the executor looks up in a
-- hash table, and a part that is a file restricts the scans of landing
-- through the definition.  The planner is free here: the definition reads
-- landing, analyzed first, and zones, analyzed when they change.  Each
-- hash of the plan holds at most 256 MB (work_mem 128 MB times
-- hash_mem_multiplier 2, per plan node and parallel worker) before it
-- spills to disk.
CREATE FUNCTION stedi.compare_zone(zone regclass, minus regclass, plus regclass)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET work_mem = '128MB'
SET hash_mem_multiplier = 2
AS $$
DECLARE
    z record;
    keys text;
    zone_keys text;
    definition_keys text;
    on_key text;
    every_column text;
    zone_rest text;
    definition_rest text;
    parts bigint;
    differing integer[];
    in_parts text := 'true';
    seed bigint := ('x' || encode(substring(stedi.random_secret() FROM 1 FOR 8), 'hex'))::bit(64)::bigint;
    differ bigint;
    nestloop text;
    sort text;
BEGIN
    SELECT * INTO z FROM stedi.zones() AS v WHERE v.zone = compare_zone.zone;
    SELECT string_agg(quote_ident(k), ', '),
           string_agg('zr.' || quote_ident(k), ', '),
           string_agg('dr.' || quote_ident(k), ', '),
           string_agg(format('zs.%1$I = ds.%1$I', k), ' AND ')
      INTO keys, zone_keys, definition_keys, on_key
      FROM unnest(z.key) AS k;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg('zr.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
               FILTER (WHERE a.attname <> ALL (z.key)),
           string_agg('dr.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
               FILTER (WHERE a.attname <> ALL (z.key))
      INTO every_column, zone_rest, definition_rest
      FROM pg_attribute AS a
     WHERE a.attrelid = zone AND a.attnum > 0 AND NOT a.attisdropped;

    -- the parts that differ, by hash aggregates whatever the estimates (the
    -- training definition's is far too small, and a sort of its rows by
    -- part would spill them all to disk; the parts are few)
    sort := current_setting('enable_sort');
    PERFORM set_config('enable_sort', 'off', true);
    EXECUTE format('SELECT count(*),
                           array_agg(coalesce(zd.part, dd.part))
                               FILTER (WHERE zd.n IS DISTINCT FROM dd.n OR zd.digest IS DISTINCT FROM dd.digest)
                      FROM (SELECT %1$s AS part, count(*) AS n,
                                   bit_xor(hash_record_extended(ROW(%2$s), %5$s)) AS digest
                              FROM %3$s GROUP BY 1) AS zd
                      FULL JOIN (SELECT %1$s AS part, count(*) AS n,
                                        bit_xor(hash_record_extended(ROW(%2$s), %5$s)) AS digest
                                   FROM %4$s GROUP BY 1) AS dd ON zd.part = dd.part',
                   z.split, every_column, zone, z.definition, seed)
       INTO parts, differing;
    PERFORM set_config('enable_sort', sort, true);
    IF differing IS NULL THEN
        RETURN format('parts differing: 0 of %s', parts);
    END IF;
    IF cardinality(differing) <= parts / 2 THEN
        in_parts := format('(%s) = ANY (%L::integer[])', z.split, differing);
    END IF;

    CREATE TEMPORARY TABLE stedi_differing_rows (row_id tid) ON COMMIT DROP;
    EXECUTE format('CREATE TEMPORARY TABLE stedi_differing_keys ON COMMIT DROP AS
                    SELECT %s FROM %s LIMIT 0', keys, zone);
    EXECUTE format('WITH diff AS MATERIALIZED (
                        SELECT zs.row_id, %1$s
                          FROM (SELECT zr.ctid AS row_id, %2$s,
                                       hash_record_extended(ROW(%3$s), %12$s) AS h
                                  FROM %4$s AS zr WHERE %11$s) AS zs
                          FULL JOIN (SELECT %5$s, hash_record_extended(ROW(%6$s), %12$s) AS h
                                       FROM %7$s AS dr WHERE %11$s) AS ds ON %8$s
                         WHERE zs.row_id IS NULL OR ds.%9$I IS NULL OR zs.h <> ds.h),
                         gone AS (INSERT INTO pg_temp.stedi_differing_rows
                                  SELECT d.row_id FROM diff AS d WHERE d.row_id IS NOT NULL)
                    INSERT INTO pg_temp.stedi_differing_keys
                    SELECT %10$s FROM diff AS d WHERE d.%9$I IS NOT NULL',
                   (SELECT string_agg('ds.' || quote_ident(k), ', ') FROM unnest(z.key) AS k),
                   zone_keys, zone_rest, zone, definition_keys, definition_rest,
                   z.definition, on_key, z.key[1],
                   (SELECT string_agg('d.' || quote_ident(k), ', ') FROM unnest(z.key) AS k),
                   in_parts, seed);
    EXECUTE format('INSERT INTO %s SELECT zr.*, zr.ctid FROM %s AS zr
                     WHERE zr.ctid = ANY (ARRAY(SELECT r.row_id FROM pg_temp.stedi_differing_rows AS r))',
                   minus, zone);
    SELECT count(*) INTO differ FROM pg_temp.stedi_differing_keys;
    IF differ > 0 THEN
        -- (the keys table has no index, and the training definition's size
        -- is guessed from its millisecond join, far too small: a nested
        -- loop here would be quadratic)
        ANALYZE pg_temp.stedi_differing_keys;
        -- (and back as it was after: the next zone's statements choose
        -- their join methods themselves)
        nestloop := current_setting('enable_nestloop');
        PERFORM set_config('enable_nestloop', 'off', true);
        EXECUTE format('INSERT INTO %s SELECT dr.* FROM %s AS dr
                         WHERE %s AND (%s) IN (SELECT %s FROM pg_temp.stedi_differing_keys AS k)',
                       plus, z.definition, in_parts, definition_keys,
                       (SELECT string_agg('k.' || quote_ident(k), ', ') FROM unnest(z.key) AS k));
        PERFORM set_config('enable_nestloop', nestloop, true);
    END IF;
    DROP TABLE pg_temp.stedi_differing_rows, pg_temp.stedi_differing_keys;
    RETURN format('parts differing: %s of %s, %s', cardinality(differing), parts,
                  CASE WHEN in_parts = 'true' THEN 'the whole zone compared row by row'
                       ELSE 'those compared row by row' END);
END
$$;
COMMENT ON FUNCTION stedi.compare_zone(regclass, regclass, regclass) IS 'Full refresh of one zone: put the zone''s rows that its definition no longer holds into minus, and the definition''s rows the zone lacks (or holds otherwise) into plus; parts of the zone (stedi.zones().split) whose row count and digest equal the definition''s are not compared row by row.  Returns how the parts compared, for the refresh log (parts differing: K of N, and whether those or, more than half differing, the whole zone were compared row by row)';

-- A change table's statistics, for the statements that read it next:
-- its size, and roughly how many customers, devices or files it holds.
-- A sample of 3,000 rows (300 times the statistics target) tells those as
-- well as one of 30,000, at a tenth of the cost: at the default target,
-- analyzing 61,000 new training pairs took 150 ms, at 10 it takes 17 ms.
CREATE FUNCTION stedi.analyze_change(step integer) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET default_statistics_target = 10
AS $$
BEGIN
    EXECUTE format('ANALYZE pg_temp.stedi_minus_%s, pg_temp.stedi_plus_%s', step, step);
END
$$;
COMMENT ON FUNCTION stedi.analyze_change(integer) IS 'ANALYZE a zone''s change tables (pg_temp.stedi_minus_N and stedi_plus_N, N the zone''s step) on a sample of 3,000 rows each';

-- The incremental way deletes every row it recomputes and inserts what
-- it computed: a row in both, unchanged, is dropped from both, so that
-- it is never written.  Both sides are whole change tables, of any size:
-- a hash join, never a nested loop (which over a large change would be
-- quadratic).
CREATE FUNCTION stedi.cancel_unchanged(zone regclass, minus regclass, plus regclass)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
SET jit = off
SET work_mem = '64MB'
SET hash_mem_multiplier = 2
AS $$
DECLARE
    z record;
    same text;
    cancelled bigint;
BEGIN
    SELECT * INTO z FROM stedi.zones() AS v WHERE v.zone = cancel_unchanged.zone;
    SELECT string_agg(CASE WHEN a.attnotnull
                           THEN format('p.%1$I = m.%1$I', a.attname)
                           ELSE format('p.%1$I IS NOT DISTINCT FROM m.%1$I', a.attname) END,
                      ' AND ' ORDER BY a.attnum)
      INTO same
      FROM pg_attribute AS a
     WHERE a.attrelid = zone AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('WITH same AS MATERIALIZED (SELECT m.ctid AS m_row, p.ctid AS p_row
                                                 FROM %1$s AS m JOIN %2$s AS p ON %3$s),
                         kept AS (DELETE FROM %1$s AS m USING same AS s WHERE m.ctid = s.m_row)
                    DELETE FROM %2$s AS p USING same AS s WHERE p.ctid = s.p_row',
                   minus, plus, same);
    GET DIAGNOSTICS cancelled = ROW_COUNT;
    RETURN cancelled;
END
$$;
COMMENT ON FUNCTION stedi.cancel_unchanged(regclass, regclass, regclass) IS 'Drop from a zone''s change the rows that are both deleted and inserted unchanged; returns how many were inserted unchanged';

-- Incremental or full, for one zone, by cost: the rows each way reads.
-- A row of the incremental way costs about twice one of a rebuild (it is
-- found through an index or a bitmap, copied into the change tables and
-- compared), so a change that would read more than half of what a
-- rebuild reads is applied by a rebuild.
CREATE FUNCTION stedi.choose_method(incremental_rows bigint, full_rows bigint,
                                    OUT method text, OUT reason text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN 2 * incremental_rows > full_rows THEN 'full' ELSE 'incremental' END,
           format('%s rows to read incrementally against %s for a rebuild (%s%%)',
                  incremental_rows, full_rows,
                  round(100.0 * incremental_rows / greatest(full_rows, 1), 2))
$$;
COMMENT ON FUNCTION stedi.choose_method(bigint, bigint) IS 'Incremental or full for one zone, from the rows each way would read (a rebuild when the incremental way reads more than half as many); and why, for the refresh log';

-- Join method by measured size: a change of n rows joined into a zone of
-- zone_rows is read through the zone's indexes (nested loops only) when
-- it holds under a tenth of the zone's rows, else the zone is read whole,
-- in its own order, by a hash join (the planner, which prices an index
-- probe as all but free, would otherwise probe for every row of a large
-- change, or merge through a whole index, in the heap's random order).
-- NULLs give the planner its choice back.  Only for joins the zones'
-- indexes serve.  (No SET clause: it would undo these settings on return.)
CREATE FUNCTION stedi.join_by_size(n bigint, zone_rows bigint) RETURNS void
LANGUAGE sql
AS $$
    SELECT pg_catalog.set_config('enable_hashjoin',
                                 pg_catalog.textin(pg_catalog.boolout(coalesce(n OPERATOR(pg_catalog.*) 10 OPERATOR(pg_catalog.>) zone_rows, true))), true),
           pg_catalog.set_config('enable_mergejoin',
                                 pg_catalog.textin(pg_catalog.boolout(n IS NULL)), true),
           pg_catalog.set_config('enable_nestloop',
                                 pg_catalog.textin(pg_catalog.boolout(coalesce(n OPERATOR(pg_catalog.*) 10 OPERATOR(pg_catalog.<=) zone_rows, true))), true)
$$;
COMMENT ON FUNCTION stedi.join_by_size(bigint, bigint) IS 'For the next statements of a refresh: nested loops through the zone''s indexes when a change of n rows is under a tenth of a zone of zone_rows rows, else hash joins over the whole zone (NULL, NULL: the planner''s choice)';

-- The incremental way for one zone: into pg_temp.stedi_minus_N every row
-- of the zone that the change upstream can touch, into
-- pg_temp.stedi_plus_N those rows as the definition has them now (the
-- caller then drops what is in both, unchanged).  Each statement is the
-- zone's definition restricted to what changed:
--   1 trusted.customer       the emails of new customer records, and erased ones
--   2 trusted.accelerometer  rows of new and unloaded files; every row of
--                            customers who came, went or changed consent date
--   3 curated.customer       customers changed in 1, or whose readings did in 2
--                            (apart from those who only got readings and had
--                            a curated row: it stays as it is)
--   4 trusted.step_trainer   rows of new and unloaded files; every row of
--                            devices whose curated owners changed in 3
--   5 curated.machine_learning  pairs of rows that left 2 or 4, or came
--                            into them; every pair of customers whose
--                            device changed
-- Landing rows are read only from files that are not waiting for the next
-- refresh (stedi.pending_file): a file loaded while this refresh runs is
-- that refresh's, whole.  (A full refresh reads all of landing, a file
-- that commits meanwhile too; the zone's rows of each new file are
-- recomputed with it, and cancel out: no row is ever added twice.)  Where landing
-- rows are joined, the join method follows the rows measured before
-- (measured_rows: what the loader counted in the files read, and the
-- zone's rows of the customers or devices recomputed), not statistics
-- that predate the rows: no nested loop over more than 10,000 of them.
-- Where a change table drives a join into a zone, the zone is read through
-- an index when the change holds under a tenth of the zone's rows
-- (counted), else whole by a hash join, whose hash holds at most 128 MB
-- (work_mem 64 MB times hash_mem_multiplier 2) before it spills to disk.
-- No JIT: these statements are
-- priced by the zones' size, and compiling them took longer than running
-- them (0.2 to 1 s each, at scale 100).
CREATE FUNCTION stedi.compute_zone_change(step integer,
                                          customer_files integer[],
                                          accelerometer_files integer[],
                                          step_trainer_files integer[],
                                          unloaded_files integer[],
                                          changed text[],
                                          consent_changed text[],
                                          recompute text[],
                                          devices text[],
                                          serial_changed text[],
                                          owner_files integer[],
                                          measured_rows bigint,
                                          secret bytea,
                                          policy text,
                                          readmitted text[],
                                          devices_kept text[],
                                          devices_gone text[],
                                          zone_rows bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
SET jit = off
SET work_mem = '64MB'
SET hash_mem_multiplier = 2
AS $$
DECLARE
    files integer[];         -- the zone's rows of these files are recomputed
    n bigint;
    covered text[];          -- 5: owners whose pairs all go with their device
    owner_keys text[];       -- 5: the devices or emails of the new rows' owners
    readers text[];          -- 5: the customers of the new accelerometer rows
    newly_trusted text[];    -- 5: customers trusted only since this refresh
    owner_rows bigint;       -- 5: the other zone's rows of those owners, estimated
    first_time timestamptz;  -- 5: the span of the new rows' times
    last_time timestamptz;
    customers bigint;
    shared text[];           -- 5: devices that several trusted customers name
    pair_devices text[];     -- 5, within a tolerance: devices whose pairs are computed again
    claimants text[];        -- 5, within a tolerance: the customers who name them
    devices_named text[];    -- 5: devices of changed customer records
    hashagg text;
BEGIN
    unloaded_files := coalesce(unloaded_files, '{}');
    IF step = 1 THEN
        INSERT INTO pg_temp.stedi_minus_1
        SELECT c.*, c.ctid FROM trusted.customer AS c WHERE c.email = ANY (changed);
        INSERT INTO pg_temp.stedi_plus_1
        SELECT d.* FROM trusted.customer_definition AS d WHERE d.email = ANY (changed);

    ELSIF step = 2 THEN
        -- (rows of a new file are in the zone only if a full refresh read
        -- it while it committed: then they cancel out)
        files := unloaded_files || coalesce(accelerometer_files, '{}');
        INSERT INTO pg_temp.stedi_minus_2
        SELECT a.*, a.ctid FROM trusted.accelerometer AS a WHERE a.file_id = ANY (files);
        INSERT INTO pg_temp.stedi_minus_2
        SELECT a.*, a.ctid FROM trusted.accelerometer AS a
         WHERE a.user_email = ANY (consent_changed) AND NOT a.file_id = ANY (files);
        PERFORM set_config('enable_nestloop', (measured_rows <= 10000)::text, true);
        INSERT INTO pg_temp.stedi_plus_2
        SELECT c.email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number
          FROM landing.accelerometer AS a
          JOIN trusted.customer AS c ON c.email = stedi.normalize_email(a.user_email)
         WHERE a.file_id = ANY (accelerometer_files || owner_files)
           AND (a.file_id = ANY (accelerometer_files)
                OR stedi.normalize_email(a.user_email) = ANY (readmitted))
           AND NOT EXISTS (SELECT FROM stedi.pending_file AS p WHERE p.file_id = a.file_id)
           AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                                  a.reading_time, policy);
        PERFORM set_config('enable_nestloop', 'on', true);

    ELSIF step = 3 THEN
        INSERT INTO pg_temp.stedi_minus_3
        SELECT c.*, c.ctid FROM curated.customer AS c
         WHERE c.customer_key IN (SELECT stedi.customer_key(e, secret) FROM unnest(recompute) AS e);
        INSERT INTO pg_temp.stedi_plus_3
        SELECT c.customer_key, c.serial_number, c.registration_date,
               c.last_update_date, c.share_with_research_as_of_date,
               c.share_with_public_as_of_date, c.share_with_friends_as_of_date,
               stedi.customer_split(c.customer_key)
          FROM (SELECT c.*, stedi.customer_key(c.email, secret) AS customer_key
                  FROM trusted.customer AS c) AS c
         WHERE c.email = ANY (recompute)
           AND EXISTS (SELECT FROM trusted.accelerometer AS a WHERE a.user_email = c.email);

    ELSIF step = 4 THEN
        files := unloaded_files || coalesce(step_trainer_files, '{}');
        INSERT INTO pg_temp.stedi_minus_4
        SELECT s.*, s.ctid FROM trusted.step_trainer AS s WHERE s.file_id = ANY (files);
        INSERT INTO pg_temp.stedi_minus_4
        SELECT s.*, s.ctid FROM trusted.step_trainer AS s
         WHERE s.serial_number = ANY (devices) AND NOT s.file_id = ANY (files);
        PERFORM set_config('enable_nestloop', (measured_rows <= 10000)::text, true);
        INSERT INTO pg_temp.stedi_plus_4
        SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
               s.file_id, s.line_number
          FROM landing.step_trainer AS s
         WHERE s.file_id = ANY (step_trainer_files || owner_files)
           AND (s.file_id = ANY (step_trainer_files) OR s.serial_number = ANY (devices_kept))
           AND NOT EXISTS (SELECT FROM stedi.pending_file AS p WHERE p.file_id = s.file_id)
           AND EXISTS (SELECT FROM curated.customer AS c
                        WHERE c.serial_number = s.serial_number
                          AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                                                 s.sensor_reading_time, policy));
        PERFORM set_config('enable_nestloop', 'on', true);

    ELSIF stedi.pairing_tolerance_ms() > 0 THEN
        -- Within a tolerance a pair depends on the readings near it (the
        -- nearest) and on the device's other claimants' (held back): every
        -- pair of each device the change touches is computed again, by the
        -- definition's own query restricted to the device and the readings
        -- of the customers who name it (through their indexes).  Devices:
        -- of changed customer records, before and after; of customers whose
        -- readings changed; of step trainer readings that changed.
        pair_devices := ARRAY(SELECT m.serial_number FROM pg_temp.stedi_minus_1 AS m
                              UNION SELECT p.serial_number FROM pg_temp.stedi_plus_1 AS p
                              UNION SELECT c.serial_number FROM trusted.customer AS c
                                     WHERE c.email IN (SELECT DISTINCT a.user_email FROM pg_temp.stedi_minus_2 AS a
                                                       UNION SELECT DISTINCT a.user_email FROM pg_temp.stedi_plus_2 AS a)
                              UNION SELECT s.serial_number FROM pg_temp.stedi_minus_4 AS s
                              UNION SELECT s.serial_number FROM pg_temp.stedi_plus_4 AS s);
        claimants := ARRAY(SELECT c.email FROM trusted.customer AS c
                            WHERE c.serial_number = ANY (pair_devices));
        INSERT INTO pg_temp.stedi_minus_5
        SELECT m.*, m.ctid FROM curated.machine_learning AS m
         WHERE m.serial_number = ANY (pair_devices);
        INSERT INTO pg_temp.stedi_plus_5
        SELECT p.*, stedi.customer_split(p.customer_key) FROM stedi.pseudonym_secret AS k
         CROSS JOIN LATERAL stedi.pair_readings(stedi.pairing_tolerance_ms(),
                                                stedi.setting_value('pairing_mode') = 'nearest',
                                                k.secret, pair_devices, claimants) AS p;
    ELSE
        -- pairs of rows gone from the zones (a pair found twice is deleted
        -- once), found through the training table's indexes when they are
        -- few against it (as measured, not as estimated).  A pair holds
        -- the device its reading's owner had before this refresh; when no
        -- curated customer has that device any more, every row of the
        -- device left trusted.step_trainer, so the pairs of the owner's
        -- readings are all found through those rows: their readings need
        -- no second look (a customer who withdraws or is erased).
        devices_gone := coalesce(devices_gone, '{}');
        SELECT array_agg(e.user_email) INTO covered
          FROM (SELECT DISTINCT m.user_email FROM pg_temp.stedi_minus_2 AS m) AS e
          LEFT JOIN pg_temp.stedi_minus_1 AS was ON was.email = e.user_email
          LEFT JOIN trusted.customer AS c ON c.email = e.user_email
         WHERE coalesce(was.serial_number, c.serial_number) = ANY (devices_gone);
        covered := coalesce(covered, '{}');
        n := (SELECT count(*) FROM pg_temp.stedi_minus_2 AS a WHERE a.user_email <> ALL (covered))
             + (SELECT count(*) FROM pg_temp.stedi_minus_4 AS s
                 WHERE s.serial_number <> ALL (devices_gone));
        -- every pair of a device gone, through the device index: a bitmap
        -- scan reads their pages in order, once each (rows of a fill are
        -- grouped by device), where probing once per step trainer row
        -- reads them in no order, and reads as many index pages
        INSERT INTO pg_temp.stedi_minus_5
        SELECT m.*, m.ctid FROM curated.machine_learning AS m
         WHERE m.serial_number = ANY (devices_gone);
        PERFORM stedi.join_by_size(n, zone_rows);
        INSERT INTO pg_temp.stedi_minus_5
        SELECT m.*, m.ctid FROM curated.machine_learning AS m
          JOIN pg_temp.stedi_minus_4 AS s
            ON m.serial_number = s.serial_number
           AND m.step_trainer_file_id = s.file_id AND m.step_trainer_line_number = s.line_number
         WHERE s.serial_number <> ALL (devices_gone);
        INSERT INTO pg_temp.stedi_minus_5
        SELECT m.*, m.ctid FROM curated.machine_learning AS m
          JOIN pg_temp.stedi_minus_2 AS a
            ON m.accelerometer_file_id = a.file_id AND m.accelerometer_line_number = a.line_number
         WHERE a.user_email <> ALL (covered);
        PERFORM stedi.join_by_size(NULL, NULL);
        -- every pair of a customer with another device
        INSERT INTO pg_temp.stedi_minus_5
        SELECT m.*, m.ctid FROM curated.machine_learning AS m
          JOIN trusted.accelerometer AS a
            ON m.accelerometer_file_id = a.file_id AND m.accelerometer_line_number = a.line_number
         WHERE a.user_email = ANY (serial_changed);

        -- Pairs of new accelerometer rows with every step trainer row; of
        -- new step trainer rows with the accelerometer rows that are not
        -- new; and of customers with another device, of rows that are
        -- neither.  No pair is found twice.
        -- The owners of the new rows and of the customers with another
        -- device, each with its key, computed once per customer; indexed
        -- and analyzed, so that the joins below find an owner through its
        -- index or by a hash, whichever join method they are given.
        CREATE TEMPORARY TABLE stedi_owners ON COMMIT DROP AS
        SELECT c.email, c.serial_number, stedi.customer_key(c.email, secret) AS customer_key
          FROM trusted.customer AS c
         WHERE c.email IN (SELECT p.user_email FROM pg_temp.stedi_plus_2 AS p
                           UNION
                           SELECT o.email FROM trusted.customer AS o
                            WHERE o.serial_number IN (SELECT p.serial_number FROM pg_temp.stedi_plus_4 AS p)
                           UNION
                           SELECT unnest(serial_changed));
        CREATE INDEX stedi_owners_email ON pg_temp.stedi_owners (email);
        CREATE INDEX stedi_owners_serial_number ON pg_temp.stedi_owners (serial_number);
        ANALYZE pg_temp.stedi_owners;
        -- Each side's new rows are joined with the other zone's rows of
        -- the same owners: looked up one by one through that zone's index
        -- when they are under a tenth of those rows (the owners times the
        -- zone's rows per curated customer, on average), else those rows
        -- are read whole, found by the owners' devices or emails (a bitmap
        -- scan, never the whole zone), and joined by a hash.  Only those of
        -- their rows in the span of the new rows' milliseconds can pair
        -- (same millisecond: >=# and <=#, in the lookup index): a batch of
        -- new readings mostly holds times the zone has not seen yet.
        customers := greatest(1, (SELECT s.rows FROM stedi.zone_state AS s
                                   WHERE s.view = 'curated.customer'::regclass));
        readers := ARRAY(SELECT DISTINCT p.user_email FROM pg_temp.stedi_plus_2 AS p);
        owner_keys := ARRAY(SELECT DISTINCT o.serial_number FROM pg_temp.stedi_owners AS o
                             WHERE o.email = ANY (readers));
        SELECT count(*), min(p.reading_time), max(p.reading_time) INTO n, first_time, last_time
          FROM pg_temp.stedi_plus_2 AS p;
        owner_rows := cardinality(owner_keys)
                      * (SELECT s.rows FROM stedi.zone_state AS s
                          WHERE s.view = 'trusted.step_trainer'::regclass) / customers;
        PERFORM stedi.join_by_size(n, owner_rows);
        -- (each new row is joined with the other zone on device or email
        -- and millisecond together, never on the millisecond alone, which
        -- many customers share: the rows of one side first get their
        -- owner's device or email, and key)
        IF n * 10 > owner_rows THEN
            WITH owned AS MATERIALIZED (
                SELECT s.*, o.email, o.customer_key
                  FROM trusted.step_trainer AS s
                  JOIN pg_temp.stedi_owners AS o ON o.serial_number = s.serial_number
                 WHERE s.serial_number = ANY (owner_keys) AND o.email = ANY (readers)
                   AND s.sensor_reading_time OPERATOR(stedi.>=#) first_time
                   AND s.sensor_reading_time OPERATOR(stedi.<=#) last_time)
            INSERT INTO pg_temp.stedi_plus_5
            SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
                   s.customer_key, a.reading_time, a.x, a.y, a.z,
                   s.file_id, s.line_number, a.file_id, a.line_number,
                   stedi.customer_split(s.customer_key)
              FROM pg_temp.stedi_plus_2 AS a
              JOIN owned AS s
                ON s.email = a.user_email
               AND s.sensor_reading_time OPERATOR(stedi.=#) a.reading_time;
        ELSE
            WITH owned AS MATERIALIZED (
                SELECT a.*, o.serial_number, o.customer_key
                  FROM pg_temp.stedi_plus_2 AS a
                  JOIN pg_temp.stedi_owners AS o ON o.email = a.user_email)
            INSERT INTO pg_temp.stedi_plus_5
            SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
                   a.customer_key, a.reading_time, a.x, a.y, a.z,
                   s.file_id, s.line_number, a.file_id, a.line_number,
                   stedi.customer_split(a.customer_key)
              FROM owned AS a
              JOIN trusted.step_trainer AS s
                ON s.serial_number = a.serial_number
               AND s.sensor_reading_time OPERATOR(stedi.=#) a.reading_time;
        END IF;
        -- (the devices first, and the customers trusted only since this
        -- refresh, as constants: no join, whatever the settings the
        -- statement before left.)  Those customers (in stedi_plus_1, not
        -- in stedi_minus_1) have no readings but new ones, paired above:
        -- only the others' readings are read again (a batch of new
        -- customers reads none).
        owner_keys := ARRAY(SELECT DISTINCT p.serial_number FROM pg_temp.stedi_plus_4 AS p);
        newly_trusted := ARRAY(SELECT p.email FROM pg_temp.stedi_plus_1 AS p
                               EXCEPT
                               SELECT m.email FROM pg_temp.stedi_minus_1 AS m);
        owner_keys := ARRAY(SELECT o.email FROM pg_temp.stedi_owners AS o
                             WHERE o.serial_number = ANY (owner_keys)
                               AND o.email <> ALL (newly_trusted));
        SELECT count(*), min(p.sensor_reading_time), max(p.sensor_reading_time)
          INTO n, first_time, last_time
          FROM pg_temp.stedi_plus_4 AS p
         WHERE p.serial_number IN (SELECT o.serial_number FROM pg_temp.stedi_owners AS o
                                    WHERE o.email = ANY (owner_keys));
        owner_rows := cardinality(owner_keys)
                      * (SELECT s.rows FROM stedi.zone_state AS s
                          WHERE s.view = 'trusted.accelerometer'::regclass) / customers;
        PERFORM stedi.join_by_size(n, owner_rows);
        -- (a reading in the new rows is paired already; they are looked
        -- up through their key when the join probes.  Not every reading of
        -- a new file is among them: one that a full refresh read while the
        -- file committed is in the zone already, and cancelled out)
        IF n > 0 AND n * 10 <= owner_rows THEN
            CREATE UNIQUE INDEX stedi_plus_2_key ON pg_temp.stedi_plus_2 (file_id, line_number);
        END IF;
        IF n > 0 THEN
            EXECUTE format('WITH owned AS MATERIALIZED (
                                SELECT s.*, o.email, o.customer_key
                                  FROM pg_temp.stedi_plus_4 AS s
                                  JOIN pg_temp.stedi_owners AS o ON o.serial_number = s.serial_number
                                 WHERE o.email = ANY ($1))
                            INSERT INTO pg_temp.stedi_plus_5
                            SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
                                   s.customer_key, a.reading_time, a.x, a.y, a.z,
                                   s.file_id, s.line_number, a.file_id, a.line_number,
                                   stedi.customer_split(s.customer_key)
                              FROM owned AS s
                              JOIN trusted.accelerometer AS a
                                ON a.user_email = s.email
                               AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time
                             WHERE %s
                               AND NOT EXISTS (SELECT FROM pg_temp.stedi_plus_2 AS n
                                                WHERE n.file_id = a.file_id AND n.line_number = a.line_number)',
                           CASE WHEN n * 10 > owner_rows
                                THEN 'a.user_email = ANY ($1) AND a.reading_time OPERATOR(stedi.>=#) $2
                                      AND a.reading_time OPERATOR(stedi.<=#) $3'
                                ELSE 'true' END)
                USING owner_keys, first_time, last_time;
        END IF;
        -- (the pairs of a new row of either side are in already; the
        -- customers' rows and their devices' are read whole, and every
        -- join is a hash: linear, whatever the guess of the millisecond
        -- join's size, which is far too small)
        IF serial_changed IS NOT NULL THEN
            PERFORM stedi.join_by_size(1, 0);
            owner_keys := ARRAY(SELECT DISTINCT o.serial_number FROM pg_temp.stedi_owners AS o
                                 WHERE o.email = ANY (serial_changed));
            WITH owned AS MATERIALIZED (
                SELECT a.*, o.serial_number, o.customer_key
                  FROM trusted.accelerometer AS a
                  JOIN pg_temp.stedi_owners AS o ON o.email = a.user_email
                 WHERE a.user_email = ANY (serial_changed))
            INSERT INTO pg_temp.stedi_plus_5
            SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
                   a.customer_key, a.reading_time, a.x, a.y, a.z,
                   s.file_id, s.line_number, a.file_id, a.line_number,
                   stedi.customer_split(a.customer_key)
              FROM owned AS a
              JOIN trusted.step_trainer AS s
                ON s.serial_number = a.serial_number
               AND s.sensor_reading_time OPERATOR(stedi.=#) a.reading_time
             WHERE s.serial_number = ANY (owner_keys)
               AND NOT EXISTS (SELECT FROM pg_temp.stedi_plus_2 AS n
                                WHERE n.file_id = a.file_id AND n.line_number = a.line_number)
               AND NOT EXISTS (SELECT FROM pg_temp.stedi_plus_4 AS n
                                WHERE n.file_id = s.file_id AND n.line_number = s.line_number);
        END IF;
        PERFORM stedi.join_by_size(NULL, NULL);
        -- A device that several trusted customers name (now, or before
        -- this refresh): whether a reading of it is held back depends on
        -- every one's readings, so when this change touches any of them
        -- (a record, a reading, a reading of the device), every pair of
        -- the device is computed again, from the definition.  Such devices
        -- are few, and a device's pairs are found through its index.
        -- Named by several now: counted in the order of the serial number
        -- index, which alone holds them (no hash of every customer).
        hashagg := current_setting('enable_hashagg');
        PERFORM set_config('enable_hashagg', 'off', true);
        shared := ARRAY(SELECT c.serial_number FROM trusted.customer AS c
                         GROUP BY c.serial_number HAVING count(*) > 1);
        PERFORM set_config('enable_hashagg', hashagg, true);
        -- Or before: only the devices of changed customer records can
        -- have had other claimants then.
        devices_named := ARRAY(SELECT m.serial_number FROM pg_temp.stedi_minus_1 AS m
                               UNION SELECT p.serial_number FROM pg_temp.stedi_plus_1 AS p);
        IF cardinality(devices_named) > 0 THEN
            shared := shared || ARRAY(
                SELECT b.serial_number
                  FROM (SELECT c.serial_number FROM trusted.customer AS c
                         WHERE c.serial_number = ANY (devices_named)
                           AND c.email NOT IN (SELECT p.email FROM pg_temp.stedi_plus_1 AS p)
                        UNION ALL
                        SELECT m.serial_number FROM pg_temp.stedi_minus_1 AS m) AS b
                 GROUP BY b.serial_number HAVING count(*) > 1);
        END IF;
        IF cardinality(shared) > 0 THEN
            shared := ARRAY(SELECT d FROM unnest(shared) AS d
                            INTERSECT
                            (SELECT m.serial_number FROM pg_temp.stedi_minus_1 AS m
                             UNION SELECT p.serial_number FROM pg_temp.stedi_plus_1 AS p
                             UNION SELECT c.serial_number FROM trusted.customer AS c
                                    WHERE c.email IN (SELECT a.user_email FROM pg_temp.stedi_minus_2 AS a
                                                      UNION SELECT a.user_email FROM pg_temp.stedi_plus_2 AS a)
                             UNION SELECT s.serial_number FROM pg_temp.stedi_minus_4 AS s
                             UNION SELECT s.serial_number FROM pg_temp.stedi_plus_4 AS s));
        END IF;
        IF cardinality(shared) > 0 THEN
            DELETE FROM pg_temp.stedi_plus_5 AS p WHERE p.serial_number = ANY (shared);
            INSERT INTO pg_temp.stedi_minus_5
            SELECT m.*, m.ctid FROM curated.machine_learning AS m
             WHERE m.serial_number = ANY (shared)
               AND m.ctid <> ALL (ARRAY(SELECT x.row_id FROM pg_temp.stedi_minus_5 AS x));
            -- (the definition, for these devices: all of them are named
            -- by several, the owners' readings found through their index)
            INSERT INTO pg_temp.stedi_plus_5
            SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
                   o.customer_key, a.reading_time, a.x, a.y, a.z,
                   s.file_id, s.line_number, a.file_id, a.line_number,
                   stedi.customer_split(o.customer_key)
              FROM trusted.step_trainer AS s
              JOIN (SELECT c.email, c.serial_number, stedi.customer_key(c.email, secret) AS customer_key
                      FROM trusted.customer AS c WHERE c.serial_number = ANY (shared)) AS o
                ON o.serial_number = s.serial_number
              JOIN trusted.accelerometer AS a
                ON a.user_email = o.email
               AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time
             WHERE s.serial_number = ANY (shared)
               AND stedi.claimants_reading_at(s.serial_number, s.sensor_reading_time) < 2;
        END IF;
        DROP TABLE pg_temp.stedi_owners;
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.compute_zone_change(integer, integer[], integer[], integer[], integer[], text[], text[], text[], text[], text[], integer[], bigint, bytea, text, text[], text[], text[], bigint) IS
    'Incremental refresh of one zone (step 1 to 5): the rows the change upstream can touch, as the zone holds them (into pg_temp.stedi_minus_N) and as its definition has them now (pg_temp.stedi_plus_N)';

-- Everything a refresh does to the zones, given what changed: files
-- loaded, customers erased and files unloaded since the last refresh.
-- rebuild, when not NULL, says why every zone must be compared whole with
-- its definition.  Returns one row per zone, in order.
CREATE FUNCTION stedi.apply_zone_changes(customer_files integer[],
                                         accelerometer_files integer[],
                                         step_trainer_files integer[],
                                         erased text[],
                                         unloaded_files integer[],
                                         rebuild text)
RETURNS TABLE (step integer, view regclass, method text, rows bigint, duration interval,
               inserted bigint, deleted bigint, duplicates bigint, reason text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
SET enable_nestloop = on
SET enable_hashjoin = on
SET enable_mergejoin = on
SET enable_seqscan = on
SET enable_indexscan = on
SET enable_bitmapscan = on
SET enable_tidscan = on
SET default_statistics_target = 100
AS $$
#variable_conflict use_column
DECLARE
    policy text := stedi.setting_value('consent_policy');
    secret bytea := (SELECT p.secret FROM stedi.pseudonym_secret AS p);
    first_refresh boolean := (SELECT count(*) FROM stedi.zone_state) < 5;
    z record;
    choice record;
    t0 timestamptz;
    zone_rows bigint;
    landing_rows bigint;
    read_rows bigint;
    new_rows bigint;         -- rows the loader counted in the new files of the zone's kind
    changed text[];          -- 1: emails whose latest record may differ
    consent_changed text[];  -- 2: customers who came, went or changed consent date
    recompute text[];        -- 3: customers whose curated row may differ
    devices text[];          -- 4: devices whose curated owners changed
    readmitted text[];       -- 2: those of consent_changed in trusted now
    devices_kept text[];     -- 4: those of devices still curated
    devices_gone text[];     -- 4: devices no curated customer has any more
    serial_changed text[];   -- 5: customers with another device
    owner_files integer[];   -- files holding readings of those customers or devices
    analyzed boolean;        -- the change tables' statistics are current
    checked record;          -- 2, 4 in full: the candidates checked, and those kept
    work boolean;            -- something upstream changed what this zone holds (the
                             -- sets of what changed say so, never the estimate)
BEGIN
    IF first_refresh THEN
        -- (a restored database has the user's expectations and pairing
        -- settings, and the definitions its CREATE EXTENSION made, with the
        -- shipped ones and the same-millisecond join only)
        PERFORM stedi.define_zone(r.zone) FROM stedi.reading_zones() AS r;
        PERFORM stedi.define_pairing();
    END IF;
    IF first_refresh OR rebuild IS NOT NULL THEN
        -- every zone reads all of landing: plan it on what landing holds now
        ANALYZE landing.customer, landing.accelerometer, landing.step_trainer,
                stedi.pseudonym_secret;
    END IF;
    -- (nothing changed at all: stedi.maintain_zones does not call this)
    IF NOT first_refresh THEN
        FOR z IN SELECT * FROM stedi.zones() ORDER BY 1 LOOP
            -- (a zone row to delete keeps its row id: deleting by it
            -- touches only the rows' own pages, no index)
            EXECUTE format('CREATE TEMPORARY TABLE stedi_minus_%s (LIKE %s, row_id tid) ON COMMIT DROP',
                           z.step, z.zone);
            EXECUTE format('CREATE TEMPORARY TABLE stedi_plus_%s (LIKE %s) ON COMMIT DROP',
                           z.step, z.zone);
        END LOOP;
    END IF;

    FOR z IN SELECT * FROM stedi.zones() ORDER BY 1 LOOP
        t0 := clock_timestamp();
        zone_rows := coalesce((SELECT s.rows FROM stedi.zone_state AS s WHERE s.view = z.zone), 0);
        inserted := 0;
        deleted := 0;
        duplicates := NULL;
        checked := NULL;
        IF first_refresh THEN
            -- straight into the empty zone, then its indexes
            method := 'full';
            reason := 'first refresh';
            EXECUTE format('DELETE FROM %s', z.zone);
            GET DIAGNOSTICS deleted = ROW_COUNT;
            zone_rows := 0;
            PERFORM set_config('enable_nestloop', 'off', true);
            inserted := CASE WHEN z.owner IS NULL THEN stedi.fill_zone(z.zone, z.definition)
                             ELSE stedi.fill_zone(z.zone, z.definition, z.owner) END;
            IF z.step IN (2, 4) THEN
                SELECT * INTO checked FROM stedi.check_zone(z.zone, NULL, NULL, NULL);
            END IF;
            PERFORM set_config('enable_nestloop', 'on', true);
            PERFORM stedi.index_zone(z.zone);
        ELSE
            landing_rows := (SELECT coalesce(sum(f.rows_loaded), 0)::bigint FROM landing.source_file AS f
                              WHERE f.kind = CASE z.step WHEN 1 THEN 'customer'
                                                         WHEN 2 THEN 'accelerometer'
                                                         WHEN 4 THEN 'step_trainer' END);
            new_rows := 0;
            owner_files := NULL;
            readmitted := NULL;
            devices_kept := NULL;
            analyzed := false;
            -- what the change upstream touches here, and the rows the
            -- incremental way would read for it against those of a rebuild
            IF z.step = 1 THEN
                SELECT array_agg(DISTINCT e) INTO changed
                  FROM (SELECT stedi.normalize_email(c.email) FROM landing.customer AS c
                         WHERE c.file_id = ANY (customer_files)
                        UNION ALL SELECT unnest(erased)) AS x(e);
                read_rows := 2 * coalesce(cardinality(changed), 0);
                work := changed IS NOT NULL;
                choice := stedi.choose_method(read_rows, landing_rows + zone_rows);
            ELSIF z.step = 2 THEN
                SELECT array_agg(DISTINCT x.email) INTO consent_changed
                  FROM ((SELECT m.email, m.share_with_research_as_of_date FROM pg_temp.stedi_minus_1 AS m
                         EXCEPT
                         SELECT p.email, p.share_with_research_as_of_date FROM pg_temp.stedi_plus_1 AS p)
                        UNION ALL
                        (SELECT p.email, p.share_with_research_as_of_date FROM pg_temp.stedi_plus_1 AS p
                         EXCEPT
                         SELECT m.email, m.share_with_research_as_of_date FROM pg_temp.stedi_minus_1 AS m)) AS x;
                -- only those in trusted now have rows to read again
                SELECT array_agg(c.email) INTO readmitted
                  FROM trusted.customer AS c WHERE c.email = ANY (consent_changed);
                SELECT array_agg(DISTINCT o.file_id) INTO owner_files
                  FROM stedi.accelerometer_file_user AS o WHERE o.user_email = ANY (readmitted);
                new_rows := (SELECT coalesce(sum(f.rows_loaded), 0)::bigint FROM landing.source_file AS f
                              WHERE f.file_id = ANY (accelerometer_files));
                read_rows := new_rows + coalesce(cardinality(unloaded_files), 0)
                             + (SELECT coalesce(sum(f.rows_loaded), 0)::bigint FROM landing.source_file AS f
                                 WHERE f.file_id = ANY (owner_files)
                                   AND f.file_id <> ALL (coalesce(accelerometer_files, '{}')))
                             -- (the rows of those who were trusted: as many as
                             -- an average customer's, an estimate, which
                             -- costs no read)
                             + (SELECT count(*) FROM pg_temp.stedi_minus_1 AS m
                                 WHERE m.email = ANY (consent_changed)) * zone_rows
                               -- (trusted customers before this refresh)
                               / greatest(1, (SELECT s.rows FROM stedi.zone_state AS s
                                               WHERE s.view = 'trusted.customer'::regclass)
                                             + (SELECT count(*) FROM pg_temp.stedi_minus_1)
                                             - (SELECT count(*) FROM pg_temp.stedi_plus_1));
                work := accelerometer_files IS NOT NULL OR unloaded_files IS NOT NULL
                        OR consent_changed IS NOT NULL;
                choice := stedi.choose_method(read_rows, landing_rows + zone_rows);
            ELSIF z.step = 3 THEN
                -- (UNION: a hash of the few customers, not a sort of every row)
                -- A customer who only got new readings (no trusted record
                -- changed, no reading left) keeps a curated row it had:
                -- only those without one are looked at again.  A batch of
                -- readings of known customers then recomputes none of them.
                SELECT array_agg(e) INTO recompute
                  FROM (SELECT m.email FROM pg_temp.stedi_minus_1 AS m
                        UNION SELECT p.email FROM pg_temp.stedi_plus_1 AS p
                        UNION SELECT m.user_email FROM pg_temp.stedi_minus_2 AS m
                        UNION SELECT r.e FROM (SELECT DISTINCT p.user_email FROM pg_temp.stedi_plus_2 AS p) AS r(e)
                               WHERE NOT EXISTS (SELECT FROM curated.customer AS c
                                                  WHERE c.customer_key = stedi.customer_key(r.e, secret))) AS x(e);
                read_rows := 2 * coalesce(cardinality(recompute), 0);
                work := recompute IS NOT NULL;
                choice := stedi.choose_method(read_rows,
                                              zone_rows + (SELECT s.rows FROM stedi.zone_state AS s
                                                            WHERE s.view = 'trusted.customer'::regclass));
            ELSIF z.step = 4 THEN
                SELECT array_agg(DISTINCT x.serial_number) INTO devices
                  FROM ((SELECT m.customer_key, m.serial_number, m.share_with_research_as_of_date
                           FROM pg_temp.stedi_minus_3 AS m
                         EXCEPT
                         SELECT p.customer_key, p.serial_number, p.share_with_research_as_of_date
                           FROM pg_temp.stedi_plus_3 AS p)
                        UNION ALL
                        (SELECT p.customer_key, p.serial_number, p.share_with_research_as_of_date
                           FROM pg_temp.stedi_plus_3 AS p
                         EXCEPT
                         SELECT m.customer_key, m.serial_number, m.share_with_research_as_of_date
                           FROM pg_temp.stedi_minus_3 AS m)) AS x;
                -- only those still curated through someone have rows to read again
                SELECT array_agg(DISTINCT c.serial_number) INTO devices_kept
                  FROM curated.customer AS c WHERE c.serial_number = ANY (devices);
                SELECT array_agg(d) INTO devices_gone
                  FROM unnest(devices) AS d WHERE d <> ALL (coalesce(devices_kept, '{}'));
                SELECT array_agg(DISTINCT o.file_id) INTO owner_files
                  FROM stedi.step_trainer_file_serial AS o WHERE o.serial_number = ANY (devices_kept);
                new_rows := (SELECT coalesce(sum(f.rows_loaded), 0)::bigint FROM landing.source_file AS f
                              WHERE f.file_id = ANY (step_trainer_files));
                read_rows := new_rows + coalesce(cardinality(unloaded_files), 0)
                             + (SELECT coalesce(sum(f.rows_loaded), 0)::bigint FROM landing.source_file AS f
                                 WHERE f.file_id = ANY (owner_files)
                                   AND f.file_id <> ALL (coalesce(step_trainer_files, '{}')))
                             + (SELECT count(*) FROM pg_temp.stedi_minus_3 AS m
                                 WHERE m.serial_number = ANY (devices)) * zone_rows
                               / greatest(1, (SELECT s.rows FROM stedi.zone_state AS s
                                               WHERE s.view = 'curated.customer'::regclass)
                                             + (SELECT count(*) FROM pg_temp.stedi_minus_3)
                                             - (SELECT count(*) FROM pg_temp.stedi_plus_3));
                work := step_trainer_files IS NOT NULL OR unloaded_files IS NOT NULL
                        OR devices IS NOT NULL;
                choice := stedi.choose_method(read_rows, landing_rows + zone_rows);
            ELSE
                SELECT array_agg(DISTINCT p.email) INTO serial_changed
                  FROM pg_temp.stedi_plus_1 AS p JOIN pg_temp.stedi_minus_1 AS m USING (email)
                 WHERE p.serial_number <> m.serial_number;
                read_rows := (SELECT count(*) FROM pg_temp.stedi_minus_2)
                             + (SELECT count(*) FROM pg_temp.stedi_plus_2)
                             + (SELECT count(*) FROM pg_temp.stedi_minus_4)
                             + (SELECT count(*) FROM pg_temp.stedi_plus_4)
                             + CASE WHEN serial_changed IS NULL THEN 0
                                    ELSE (SELECT count(*) FROM trusted.accelerometer AS a
                                           WHERE a.user_email = ANY (serial_changed)) END;
                work := read_rows > 0 OR serial_changed IS NOT NULL;
                choice := stedi.choose_method(2 * read_rows,
                                              zone_rows + (SELECT sum(s.rows)::bigint FROM stedi.zone_state AS s
                                                            WHERE s.view IN ('trusted.accelerometer'::regclass,
                                                                             'trusted.step_trainer'::regclass)));
            END IF;
            method := choice.method;
            reason := choice.reason;
            IF rebuild IS NOT NULL THEN
                method := 'full';
                reason := rebuild;
            ELSIF NOT work THEN
                reason := 'nothing changed upstream';
            END IF;

            IF method = 'full' THEN
                -- the definition reads all of landing: plan it on what landing holds now
                IF rebuild IS NULL AND z.step IN (1, 2, 4) THEN
                    EXECUTE format('ANALYZE landing.%I', CASE z.step WHEN 1 THEN 'customer'
                                                                     WHEN 2 THEN 'accelerometer'
                                                                     ELSE 'step_trainer' END);
                END IF;
                reason := reason || '; ' || stedi.compare_zone(z.zone, format('pg_temp.stedi_minus_%s', z.step)::regclass,
                                                               format('pg_temp.stedi_plus_%s', z.step)::regclass);
                -- the expectations on every candidate, and the count of
                -- identical readings (candidates kept, less the zone's rows)
                IF z.step IN (2, 4) THEN
                    SELECT * INTO checked FROM stedi.check_zone(z.zone, NULL, NULL, NULL);
                END IF;
            ELSIF NOT work THEN
                -- nothing to compute, nothing to apply
                rows := zone_rows;
                duplicates := CASE WHEN z.step IN (2, 4) THEN 0 END;
                step := z.step;
                view := z.zone;
                duration := clock_timestamp() - t0;
                RETURN NEXT;
                CONTINUE;
            ELSE
                PERFORM stedi.compute_zone_change(z.step, customer_files, accelerometer_files,
                                                  step_trainer_files, unloaded_files,
                                                  changed, consent_changed, recompute, devices,
                                                  serial_changed, owner_files, read_rows, secret, policy,
                                                  readmitted, devices_kept, devices_gone, zone_rows);
                IF z.step = 2 THEN
                    duplicates := stedi.settle_readings(
                        2, coalesce(accelerometer_files, '{}') || coalesce(unloaded_files, '{}'),
                        consent_changed, unloaded_files,
                        zone_rows / greatest(1, (SELECT s.rows FROM stedi.zone_state AS s
                                                  WHERE s.view = 'trusted.customer'::regclass)));
                ELSIF z.step = 4 THEN
                    duplicates := stedi.settle_readings(
                        4, coalesce(step_trainer_files, '{}') || coalesce(unloaded_files, '{}'),
                        devices, unloaded_files,
                        zone_rows / greatest(1, (SELECT s.rows FROM stedi.zone_state AS s
                                                  WHERE s.view = 'curated.customer'::regclass)));
                END IF;
                PERFORM stedi.analyze_change(z.step);
                IF stedi.cancel_unchanged(z.zone, format('pg_temp.stedi_minus_%s', z.step)::regclass,
                                          format('pg_temp.stedi_plus_%s', z.step)::regclass) = 0 THEN
                    analyzed := true;
                END IF;
            END IF;
            -- the next statements, and the zones after this one, are
            -- planned on the true size of this change
            IF NOT analyzed THEN
                PERFORM stedi.analyze_change(z.step);
            END IF;
            -- by row id: a TID scan visits the rows' pages, in order, once
            -- each (a row found twice is deleted once), and no index
            EXECUTE format('DELETE FROM %s AS z
                             WHERE z.ctid = ANY (ARRAY(SELECT m.row_id FROM pg_temp.stedi_minus_%s AS m))',
                           z.zone, z.step);
            GET DIAGNOSTICS deleted = ROW_COUNT;
            inserted := CASE WHEN z.owner IS NULL
                        THEN stedi.fill_zone(z.zone, format('pg_temp.stedi_plus_%s', z.step)::regclass)
                        ELSE stedi.fill_zone(z.zone, format('pg_temp.stedi_plus_%s', z.step)::regclass,
                                             z.owner) END;
            PERFORM stedi.index_zone(z.zone);
        END IF;

        -- row counts; fresh statistics, for the zones planned after this
        -- one, when it grew or shrank by a tenth
        rows := zone_rows + inserted - deleted;
        IF checked IS NOT NULL THEN
            duplicates := checked.passed - rows;
        END IF;
        INSERT INTO stedi.zone_state AS s (view, rows, analyzed_rows, refreshed_at)
        VALUES (z.zone, rows, -1, now())
        ON CONFLICT (view) DO UPDATE SET rows = EXCLUDED.rows, refreshed_at = now();
        IF abs(rows - (SELECT s.analyzed_rows FROM stedi.zone_state AS s WHERE s.view = z.zone))
           > greatest(1000, rows / 10) OR (first_refresh AND z.step < 5) THEN
            EXECUTE format('ANALYZE %s', z.zone);
            UPDATE stedi.zone_state AS s SET analyzed_rows = apply_zone_changes.rows
             WHERE s.view = z.zone;
        END IF;
        step := z.step;
        view := z.zone;
        duration := clock_timestamp() - t0;
        RETURN NEXT;
    END LOOP;

    IF NOT first_refresh THEN
        FOR z IN SELECT * FROM stedi.zones() ORDER BY 1 LOOP
            EXECUTE format('DROP TABLE pg_temp.stedi_minus_%s, pg_temp.stedi_plus_%s', z.step, z.step);
        END LOOP;
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.apply_zone_changes(integer[], integer[], integer[], text[], integer[], text) IS
    'Bring every zone up to date with the files loaded, customers erased and files unloaded since the last refresh, each zone incrementally or in full as costs less (in full whenever rebuild, the reason, is not NULL); one row per zone: method, reason, rows inserted and deleted, rows after, duration';

-- What stedi.refresh() runs: consume the queues, then apply what changed.
-- Returns no rows when only_if_changed and nothing changed.
CREATE FUNCTION stedi.maintain_zones(rebuild boolean, only_if_changed boolean)
RETURNS TABLE (step integer, view regclass, method text, rows bigint, duration interval,
               inserted bigint, deleted bigint, duplicates bigint, reason text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET default_statistics_target = 100
AS $$
#variable_conflict use_column
DECLARE
    customer_files integer[];
    accelerometer_files integer[];
    step_trainer_files integer[];
    erased text[];
    unloaded_files integer[];
    by_hand text;
    why text;
    nestloop text;
    memory text;
BEGIN
    INSERT INTO stedi.pseudonym_secret (secret)
    SELECT stedi.random_secret()
     WHERE NOT EXISTS (SELECT FROM stedi.pseudonym_secret);

    WITH consumed AS (DELETE FROM stedi.pending_file RETURNING file_id, kind)
    SELECT array_agg(file_id) FILTER (WHERE kind = 'customer'),
           array_agg(file_id) FILTER (WHERE kind = 'accelerometer'),
           array_agg(file_id) FILTER (WHERE kind = 'step_trainer')
      INTO customer_files, accelerometer_files, step_trainer_files
      FROM consumed;
    WITH consumed AS (DELETE FROM stedi.pending_customer RETURNING email)
    SELECT array_agg(DISTINCT email) INTO erased FROM consumed;
    WITH consumed AS (DELETE FROM stedi.pending_unload RETURNING file_id)
    SELECT array_agg(file_id) INTO unloaded_files FROM consumed;
    WITH consumed AS (DELETE FROM stedi.landing_change RETURNING relation)
    SELECT string_agg(DISTINCT CASE WHEN relation = 'stedi.setting'::regclass
                                    THEN 'the consent policy changed'
                                    WHEN relation = 'stedi.expectation'::regclass
                                    THEN 'the expectations changed'
                                    WHEN relation = 'curated.machine_learning_definition'::regclass
                                    THEN 'the pairing settings changed'
                                    WHEN relation = 'curated.customer_definition'::regclass
                                    THEN 'the split proportions changed'
                                    ELSE relation::text || ' changed by hand' END, ', ')
      INTO by_hand FROM consumed;

    -- the block ranges new files filled, so that their rows are found
    -- through the BRIN indexes.  Here and not in finish_file: summarizing
    -- takes the ShareUpdateExclusiveLock that ANALYZE holds until a full
    -- refresh commits, and a loader would wait for that refresh.
    IF customer_files IS NOT NULL THEN
        PERFORM brin_summarize_new_values('landing.customer_file_idx'::regclass);
    END IF;
    IF accelerometer_files IS NOT NULL THEN
        PERFORM brin_summarize_new_values('landing.accelerometer_file_idx'::regclass);
    END IF;
    IF step_trainer_files IS NOT NULL THEN
        PERFORM brin_summarize_new_values('landing.step_trainer_file_idx'::regclass);
    END IF;

    IF only_if_changed AND NOT rebuild AND by_hand IS NULL
       AND customer_files IS NULL AND accelerometer_files IS NULL
       AND step_trainer_files IS NULL AND erased IS NULL AND unloaded_files IS NULL
       AND (SELECT count(*) FROM stedi.zone_state) = 5 THEN
        RETURN;
    END IF;
    why := CASE WHEN rebuild THEN 'asked (full => true)'
                WHEN by_hand IS NOT NULL THEN by_hand END;
    IF why IS NULL AND customer_files IS NULL AND accelerometer_files IS NULL
       AND step_trainer_files IS NULL AND erased IS NULL AND unloaded_files IS NULL
       AND (SELECT count(*) FROM stedi.zone_state) = 5 THEN
        -- nothing to do, and nothing to plan
        RETURN QUERY
        SELECT z.step, z.zone, 'incremental', s.rows, interval '0', 0::bigint, 0::bigint,
               CASE WHEN z.step IN (2, 4) THEN 0::bigint END, 'nothing changed'
          FROM stedi.zones() AS z JOIN stedi.zone_state AS s ON s.view = z.zone
         ORDER BY z.step;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM stedi.apply_zone_changes(
        customer_files, accelerometer_files, step_trainer_files, erased,
        unloaded_files, why);

    -- stedi.finish_file keeps these, and forget_customer and unload_file
    -- delete from them what they delete from landing; rows changed by hand
    -- are found only by reading all of landing, after a change by hand
    -- and whenever a rebuild is asked for (the repair for writes that no
    -- trigger saw, and for maps that stedi 0.2.0 left incomplete).  Only
    -- what differs is written, so that no dead rows pile up here either;
    -- each map in one statement, whose one snapshot keeps the entries of a
    -- load that commits meanwhile (it adds them itself: ON CONFLICT), by
    -- hash joins (the planner's guess at the distinct pairs of landing may
    -- be far too small for a nested loop) and in memory (120,000 pairs of
    -- 8 million readings at scale 100 spill to disk at the default
    -- work_mem)
    IF by_hand IS NOT NULL OR rebuild THEN
        nestloop := current_setting('enable_nestloop');
        memory := current_setting('work_mem');
        PERFORM set_config('enable_nestloop', 'off', true);
        PERFORM set_config('work_mem', '128MB', true);
        -- (a row by hand may move a span: the map's row is then updated;
        -- the delete and the update touch different rows)
        WITH landed AS MATERIALIZED (
            SELECT stedi.normalize_email(a.user_email) AS user_email, a.file_id,
                   min(a.reading_time) AS first_time, max(a.reading_time) AS last_time
              FROM landing.accelerometer AS a
             GROUP BY 1, 2),
        gone AS (
            DELETE FROM stedi.accelerometer_file_user AS m
             WHERE NOT EXISTS (SELECT FROM landed AS n
                                WHERE n.user_email = m.user_email AND n.file_id = m.file_id))
        INSERT INTO stedi.accelerometer_file_user
        SELECT n.user_email, n.file_id, n.first_time, n.last_time FROM landed AS n
         WHERE NOT EXISTS (SELECT FROM stedi.accelerometer_file_user AS m
                            WHERE m.user_email = n.user_email AND m.file_id = n.file_id
                              AND m.first_time = n.first_time AND m.last_time = n.last_time)
        ON CONFLICT (user_email, file_id) DO UPDATE
           SET first_time = excluded.first_time, last_time = excluded.last_time;
        WITH landed AS MATERIALIZED (
            SELECT s.serial_number, s.file_id,
                   min(s.sensor_reading_time) AS first_time, max(s.sensor_reading_time) AS last_time
              FROM landing.step_trainer AS s
             GROUP BY 1, 2),
        gone AS (
            DELETE FROM stedi.step_trainer_file_serial AS m
             WHERE NOT EXISTS (SELECT FROM landed AS n
                                WHERE n.serial_number = m.serial_number AND n.file_id = m.file_id))
        INSERT INTO stedi.step_trainer_file_serial
        SELECT n.serial_number, n.file_id, n.first_time, n.last_time FROM landed AS n
         WHERE NOT EXISTS (SELECT FROM stedi.step_trainer_file_serial AS m
                            WHERE m.serial_number = n.serial_number AND m.file_id = n.file_id
                              AND m.first_time = n.first_time AND m.last_time = n.last_time)
        ON CONFLICT (serial_number, file_id) DO UPDATE
           SET first_time = excluded.first_time, last_time = excluded.last_time;
        PERFORM set_config('enable_nestloop', nestloop, true);
        PERFORM set_config('work_mem', memory, true);
        ANALYZE stedi.accelerometer_file_user, stedi.step_trainer_file_serial;
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.maintain_zones(boolean, boolean) IS 'The work of stedi.refresh(): take what changed since the last refresh from the queues and apply it to the zones (stedi.apply_zone_changes); with rebuild, or after a change only a rebuild applies, every zone in full';

ALTER TABLE stedi.refresh_log ADD COLUMN reason text, ADD COLUMN inserted bigint,
    ADD COLUMN deleted bigint, ADD COLUMN duplicates bigint;
COMMENT ON TABLE stedi.refresh_log IS 'One row per zone refreshed in a run: how (full or incremental) and why, the rows it inserted and deleted, its row count afterwards and how long it took';
COMMENT ON COLUMN stedi.refresh_log.reason IS 'Why this method: asked, first refresh, a change by hand, or the rows each way would read';
COMMENT ON COLUMN stedi.refresh_log.inserted IS 'Rows the run inserted into the zone (NULL for runs of stedi before 0.3.0)';
COMMENT ON COLUMN stedi.refresh_log.deleted IS 'Rows the run deleted from the zone (NULL for runs of stedi before 0.3.0)';
COMMENT ON COLUMN stedi.refresh_log.duration IS 'Time spent on this zone alone';
COMMENT ON COLUMN stedi.refresh_log.duplicates IS 'Reading zones: identical readings (same customer or device, millisecond and values) the run set aside, keeping the first loaded; among every candidate in a full refresh, among the rows it recomputed in an incremental one';
COMMENT ON COLUMN stedi.refresh_log.reason IS 'Why this method: asked, first refresh, a change by hand, or the rows each way would read; for a full refresh, then how the parts of the zone compared with its definition (stedi.compare_zone)';
CREATE FUNCTION stedi.refresh(
    only_if_changed boolean DEFAULT false, "full" boolean DEFAULT false,
    OUT view regclass, OUT method text, OUT rows bigint, OUT duration interval,
    OUT inserted bigint, OUT deleted bigint, OUT duplicates bigint, OUT reason text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'stedi_refresh'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.refresh(boolean, boolean) IS
    'Bring the trusted and curated zones up to date with landing in one transaction, each zone incrementally or in full as costs less (full => true: every zone in full); returns and logs per zone the method and why, rows inserted and deleted, rows after and duration; with only_if_changed, does nothing when nothing changed since the last refresh';

-- the zones' indexes say what they are for now (a refresh makes them
-- once it has filled the zones)
DO $$
DECLARE
    z record;
    schema text;
BEGIN
    FOR z IN SELECT * FROM stedi.zones() LOOP
        schema := (SELECT c.relnamespace::regnamespace::text FROM pg_class AS c WHERE c.oid = z.zone);
        IF to_regclass(format('%I.%I', schema, z.key_name)) IS NOT NULL THEN
            EXECUTE format('COMMENT ON INDEX %I.%I IS %L', schema, z.key_name,
                           'Key of ' || z.zone::text || ': one row per key, and how a refresh finds the rows it deletes');
            -- the training table's key led with the step trainer reading:
            -- it leads with the accelerometer reading now, and the device
            -- index finds step trainer readings.  The old key is dropped
            -- once the new one is built: dropping locks readers out until
            -- this update commits, building does not.
            IF z.step = 5 THEN
                EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', schema, z.key_name,
                               z.key_name || '_0_2_0');
            END IF;
            -- a filled zone gets the lookup index 0.3.0 adds (the training
            -- table's, by device)
            PERFORM stedi.index_zone(z.zone);
            IF z.step = 5 THEN
                EXECUTE format('DROP INDEX %I.%I', schema, z.key_name || '_0_2_0');
            END IF;
        END IF;
        IF to_regclass(format('%I.%I', schema, z.lookup_name)) IS NOT NULL THEN
            EXECUTE format('COMMENT ON INDEX %I.%I IS %L', schema, z.lookup_name,
                           'How an incremental refresh finds the rows of one customer, device or reading in ' || z.zone::text);
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE VIEW stedi.zone_status AS
SELECT v.step, v.view,
       last_ok.rows,
       last_ok.finished_at AS last_refreshed_at,
       last_ok.duration AS last_refresh_duration,
       (EXISTS (SELECT FROM stedi.pending_file)
        OR EXISTS (SELECT FROM stedi.landing_change)
        OR EXISTS (SELECT FROM stedi.pending_customer)
        OR EXISTS (SELECT FROM stedi.pending_unload)) AS landing_changed_since,
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

-- Whose a quarantined line is, from its raw text (C, src/raw_line.c): how
-- erasure finds a line that was not JSON enough for stedi-load to keep its
-- email and serial number, escapes and all, and only by those fields.
CREATE FUNCTION stedi.raw_line_names(line text, person text, serials text[]) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_raw_line_names'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stedi.raw_line_names(text, text, text[]) IS
    'Whether a line holds a field "email" or "user" whose string value (JSON escapes decoded, ASCII letters folded) is person, a normalized email, or a field "serialNumber" whose value is one of serials; reads even a line that is not JSON, never raises an error';

CREATE OR REPLACE FUNCTION stedi.forget_customer(email text)
RETURNS stedi.erasure_log
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    person text;             -- the email, normalized: every spelling of it
    serials text[];
    result stedi.erasure_log;
    n_customer bigint;
    n_accelerometer bigint;
    n_step_trainer bigint;
    n_rejected bigint;
    rule record;
BEGIN
    IF email IS NULL OR btrim(email, E' \t\n\r\f\x0B') = '' THEN
        RAISE EXCEPTION 'forget_customer needs an email'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    person := stedi.normalize_email(email);

    -- the refresh lock before any table: a refresh in progress finishes
    -- first (and this says so if it takes long), never a deadlock
    PERFORM stedi.lock_refresh('erasure');

    -- say precisely what changes: this customer (see note_landing_change)
    PERFORM stedi.track_deletes(true);
    INSERT INTO stedi.pending_customer (email) VALUES (person);

    -- the devices of this customer, named by their records or by their
    -- quarantined customer lines, that no other customer's names
    SELECT coalesce(array_agg(DISTINCT d.serial), '{}') INTO serials
      FROM (SELECT c.serial_number FROM landing.customer AS c
             WHERE stedi.normalize_email(c.email) = person
            UNION
            SELECT r.serial_number FROM landing.rejected AS r
             WHERE r.kind = 'customer' AND stedi.normalize_email(r.email) = person
               AND r.serial_number IS NOT NULL) AS d(serial)
     WHERE NOT EXISTS (SELECT FROM landing.customer AS o
                        WHERE o.serial_number = d.serial
                          AND stedi.normalize_email(o.email) <> person)
       AND NOT EXISTS (SELECT FROM landing.rejected AS o
                        WHERE o.kind = 'customer' AND o.serial_number = d.serial
                          AND stedi.normalize_email(o.email) <> person);

    WITH gone AS (DELETE FROM landing.customer AS c
                   WHERE stedi.normalize_email(c.email) = person RETURNING 1)
    SELECT count(*) INTO n_customer FROM gone;
    WITH gone AS (DELETE FROM landing.accelerometer AS a
                   WHERE stedi.normalize_email(a.user_email) = person RETURNING 1)
    SELECT count(*) INTO n_accelerometer FROM gone;
    WITH gone AS (DELETE FROM landing.step_trainer AS s
                   WHERE s.serial_number = ANY (serials) RETURNING 1)
    SELECT count(*) INTO n_step_trainer FROM gone;
    -- quarantined lines: by the email or serial number stedi-load kept of
    -- them, or else (a line that did not parse) by the value of its
    -- "email", "user" or "serialNumber" field read from its raw text,
    -- escapes decoded: "ann@x.com" is no part of "joann@x.com" or of
    -- "ann@x.com.au", a serial number "N/A" no part of a phone "N/A"; a
    -- blank serial number (0.2.0 loaded some) names no one
    WITH gone AS (DELETE FROM landing.rejected AS r
                   WHERE stedi.normalize_email(r.email) = person
                      OR r.serial_number = ANY (serials)
                      OR stedi.raw_line_names(r.raw_line, person, serials)
                      -- (a stray quote earlier in a broken line puts the
                      -- field reader out of step: an email written as a
                      -- complete string anywhere in the line is hers too)
                      OR (strpos(person, '@') > 0
                          AND strpos(lower(r.raw_line COLLATE "C"), '"' || person || '"') > 0)
                  RETURNING 1)
    SELECT count(*) INTO n_rejected FROM gone;

    DELETE FROM stedi.accelerometer_file_user AS m WHERE m.user_email = person;
    DELETE FROM stedi.step_trainer_file_serial AS m WHERE m.serial_number = ANY (serials);

    -- trusted and curated, in the same transaction
    PERFORM stedi.track_deletes(false);
    PERFORM stedi.mark_erasure_refresh(true);
    PERFORM count(*) FROM stedi.refresh();
    PERFORM stedi.mark_erasure_refresh(false);
    -- a rule is no place for personal data, and an erasure does not
    -- rewrite rules: say so when one names her
    FOR rule IN SELECT x.zone, x.name FROM stedi.expectation AS x
                 WHERE strpos(lower(x.check_sql COLLATE "C"), person) > 0 LOOP
        RAISE WARNING 'expectation "%" of % names the erased email in its check', rule.name, rule.zone
              USING HINT = 'Remove it with stedi.unexpect, or declare it again without the email.';
    END LOOP;

    INSERT INTO stedi.erasure_log (customer_records, accelerometer_rows,
                                   step_trainer_rows, rejected_lines)
    VALUES (n_customer, n_accelerometer, n_step_trainer, n_rejected)
    RETURNING * INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION stedi.forget_customer(text) IS
    'Right to erasure: remove every row of a customer (the email in any spelling of its ASCII letters) from landing (quarantined lines included), trusted and curated, in one transaction, and log counts only; waits for a refresh in progress';

-- Each file unloaded: its lineage outlives its rows.
CREATE TABLE stedi.unload_log (
    unload_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unloaded_at   timestamptz NOT NULL DEFAULT now(),
    unloaded_by   name NOT NULL DEFAULT session_user,
    file_id       integer NOT NULL,
    kind          text NOT NULL,
    path          text NOT NULL,
    sha256        bytea,
    loaded_at     timestamptz NOT NULL,
    loaded_by     name NOT NULL,
    rows_removed  bigint NOT NULL,
    rejected_lines_removed bigint NOT NULL
);
CREATE INDEX ON stedi.unload_log (sha256);
COMMENT ON TABLE stedi.unload_log IS 'One row per stedi.unload_file(): the file that was retracted (as landing.source_file described it), how many of its rows and quarantined lines went, when and by whom; stedi-load skips its content unless --force';

-- landing.source_file rows go only with their file's rows: a file record
-- deleted alone would leave rows that point at nothing, and the same
-- content could then be loaded a second time beside them.
CREATE FUNCTION stedi.refuse_source_file_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT stedi.landing_change_is_tracked('DELETE') THEN
        RAISE EXCEPTION 'landing.source_file rows are removed only with their file''s rows'
              USING ERRCODE = 'dependent_objects_still_exist',
                    DETAIL = 'Deleting a file''s record alone would leave its landing rows pointing at nothing.',
                    HINT = 'Retract a file with SELECT stedi.unload_file(file_id);';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stedi.refuse_source_file_delete() IS
    'Trigger on landing.source_file: a DELETE or TRUNCATE is refused outside stedi.unload_file';
CREATE TRIGGER unloaded_only_by_unload_file BEFORE DELETE OR TRUNCATE
    ON landing.source_file FOR EACH STATEMENT EXECUTE FUNCTION stedi.refuse_source_file_delete();
COMMENT ON TRIGGER unloaded_only_by_unload_file ON landing.source_file IS 'A file''s record goes only with its rows, by stedi.unload_file (stedi.refuse_source_file_delete)';

-- A file's lineage is what it was loaded as: its rows point at it, its
-- hash keeps it from being loaded twice.  finish_file writes its counts;
-- nothing changes the rest.
CREATE FUNCTION stedi.refuse_lineage_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the lineage of landing file % does not change', OLD.file_id
          USING ERRCODE = 'integrity_constraint_violation',
                DETAIL = 'file_id, kind, path, size_bytes, sha256, forced, loaded_at and loaded_by stay as the file was loaded: its rows point at them, and its hash keeps it from being loaded twice.',
                HINT = 'Retract a wrong file with SELECT stedi.unload_file(file_id); then load the right one.';
END
$$;
COMMENT ON FUNCTION stedi.refuse_lineage_change() IS
    'Trigger on landing.source_file: an UPDATE of a file''s lineage (anything but its counts) is refused';
CREATE TRIGGER lineage_kept BEFORE UPDATE ON landing.source_file FOR EACH ROW
    WHEN ((OLD.file_id, OLD.kind, OLD.path, OLD.size_bytes, OLD.sha256, OLD.forced,
           OLD.loaded_at, OLD.loaded_by)
          IS DISTINCT FROM (NEW.file_id, NEW.kind, NEW.path, NEW.size_bytes, NEW.sha256,
                            NEW.forced, NEW.loaded_at, NEW.loaded_by))
    EXECUTE FUNCTION stedi.refuse_lineage_change();

CREATE FUNCTION stedi.unload_file(file_id integer)
RETURNS stedi.unload_log
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f landing.source_file;
    n_rows bigint;
    n_rejected bigint;
    result stedi.unload_log;
BEGIN
    -- the refresh lock before any table, as every writer of the queues
    PERFORM stedi.lock_refresh('unload');
    SELECT * INTO f FROM landing.source_file AS s
     WHERE s.file_id = unload_file.file_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no file % in landing.source_file', coalesce(unload_file.file_id::text, 'NULL')
              USING ERRCODE = 'no_data_found',
                    HINT = 'landing.source_file lists the files loaded; stedi.unload_log those unloaded.';
    END IF;

    PERFORM stedi.track_deletes(true);
    IF f.kind = 'customer' THEN
        -- its customers are recomputed by the next refresh: an older
        -- record may win now, or none be left
        INSERT INTO stedi.pending_customer (email)
        SELECT DISTINCT stedi.normalize_email(c.email) FROM landing.customer AS c
         WHERE c.file_id = f.file_id;
        WITH gone AS (DELETE FROM landing.customer AS c
                       WHERE c.file_id = f.file_id RETURNING 1)
        SELECT count(*) INTO n_rows FROM gone;
    ELSIF f.kind = 'accelerometer' THEN
        WITH gone AS (DELETE FROM landing.accelerometer AS a
                       WHERE a.file_id = f.file_id RETURNING 1)
        SELECT count(*) INTO n_rows FROM gone;
        DELETE FROM stedi.accelerometer_file_user AS m WHERE m.file_id = f.file_id;
    ELSE
        WITH gone AS (DELETE FROM landing.step_trainer AS t
                       WHERE t.file_id = f.file_id RETURNING 1)
        SELECT count(*) INTO n_rows FROM gone;
        DELETE FROM stedi.step_trainer_file_serial AS m WHERE m.file_id = f.file_id;
    END IF;
    WITH gone AS (DELETE FROM landing.rejected AS r
                   WHERE r.file_id = f.file_id RETURNING 1)
    SELECT count(*) INTO n_rejected FROM gone;
    -- the next refresh removes what the file gave the zones (or, if no
    -- refresh added it yet, does not add it)
    DELETE FROM stedi.pending_file AS p WHERE p.file_id = f.file_id;
    IF f.kind <> 'customer' THEN
        INSERT INTO stedi.pending_unload (file_id, kind) VALUES (f.file_id, f.kind);
    END IF;
    DELETE FROM landing.unknown_field AS u WHERE u.file_id = f.file_id;
    DELETE FROM landing.source_file AS s WHERE s.file_id = f.file_id;
    PERFORM stedi.track_deletes(false);

    INSERT INTO stedi.unload_log (file_id, kind, path, sha256, loaded_at, loaded_by,
                                  rows_removed, rejected_lines_removed)
    VALUES (f.file_id, f.kind, f.path, f.sha256, f.loaded_at, f.loaded_by,
            n_rows, n_rejected)
    RETURNING * INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION stedi.unload_file(integer) IS
    'Retract a loaded file: remove its landing rows, its quarantined lines, its owner-map entries and its landing.source_file row, and log it in stedi.unload_log; the zones follow at the next refresh, incrementally.  Its content stays known: stedi-load skips it unless --force.  Errors: no_data_found for an unknown file_id';

COMMENT ON TRIGGER lineage_kept ON landing.source_file IS 'A file''s lineage does not change once it is loaded (stedi.refuse_lineage_change)';

-- pg_dump keeps the record of unloaded files: their content stays known
SELECT pg_catalog.pg_extension_config_dump('stedi.unload_log', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.unload_log_unload_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('landing.unknown_field', '');
-- (the shipped rules are the script's own rows)
SELECT pg_catalog.pg_extension_config_dump('stedi.expectation', 'WHERE NOT builtin');

-- Indexes and constraints get the comments the install script gives them
-- (0.2.0's named their tables as its search_path showed them).
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN
        SELECT format('INDEX %s', i.indexrelid::regclass) AS target,
               CASE
                   WHEN k.contype = 'p' THEN 'Primary key of ' || i.indrelid::regclass::text
                   WHEN am.amname = 'brin' THEN 'Finds the rows of one landing file (file_id) in ' || i.indrelid::regclass::text || ', for incremental refresh and erasure'
                   ELSE 'Finds rows of ' || i.indrelid::regclass::text || ' by '
                        || pg_get_indexdef(i.indexrelid, 1, true)
               END AS what
          FROM pg_index AS i
          JOIN pg_class AS c ON c.oid = i.indexrelid
          JOIN pg_am AS am ON am.oid = c.relam
          LEFT JOIN pg_constraint AS k ON k.conindid = i.indexrelid
         WHERE c.relnamespace IN ('landing'::regnamespace, 'stedi'::regnamespace)
        UNION ALL
        SELECT format('CONSTRAINT %I ON %s', k.conname, k.conrelid::regclass),
               CASE k.contype
                   WHEN 'p' THEN 'Primary key of ' || k.conrelid::regclass::text
                   WHEN 'f' THEN 'Each row belongs to a row of ' || k.confrelid::regclass::text
                   ELSE 'Checks ' || pg_get_constraintdef(k.oid, true)
               END
          FROM pg_constraint AS k
          JOIN pg_class AS c ON c.oid = k.conrelid
         WHERE c.relnamespace IN ('landing'::regnamespace, 'stedi'::regnamespace)
    LOOP
        EXECUTE format('COMMENT ON %s IS %L', o.target, o.what);
    END LOOP;
END
$$;

-- New columns get the description the install script gives them.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT a.attrelid::regclass AS rel, a.attname, d.what
          FROM pg_attribute AS a
          JOIN pg_class AS r ON r.oid = a.attrelid
          JOIN (VALUES
            ('accelerometer_file_id', 'Landing file of the accelerometer reading'),
            ('accelerometer_line_number', 'Line of the accelerometer reading in its file'),
            ('accelerometer_rows', 'Accelerometer readings erased'),
            ('analyzed_rows', 'Rows the zone had when last analyzed'),
            ('attempt_id', 'Number of the load attempt'),
            ('birth_day', 'JSON field "birthDay"'),
            ('byte_offset', 'Where the line starts in its file, in bytes from 0'),
            ('changed_at', 'When the change was noted'),
            ('consecutive_failures', 'Scheduled runs that failed in a row; sets the backoff'),
            ('created_at', 'When the schedule was made'),
            ('customer_key', 'Pseudonymous customer key: stedi.customer_key(email, secret); the same customer always has the same key'),
            ('customer_name', 'JSON field "customerName"'),
            ('customer_records', 'Customer records erased'),
            ('default_value', 'Value when not set'),
            ('description', 'What the setting does'),
            ('distance_from_object', 'JSON field "distanceFromObject": what the step trainer''s distance sensor measured'),
            ('duration', 'How long the step took'),
            ('email', 'JSON field "email": who the customer is'),
            ('erased_at', 'When the customer was erased'),
            ('erased_by', 'Who erased the customer'),
            ('erasure_id', 'Number of the erasure'),
            ('every', 'Time between scheduled refreshes'),
            ('file_id', 'The landing file the row came from (landing.source_file)'),
            ('finished_at', 'When it ended'),
            ('is_default', 'Whether the setting has its default value'),
            ('kind', 'Which dataset: customer, accelerometer or step_trainer'),
            ('landing_changed_since', 'Whether landing changed since the last refresh'),
            ('last_checked_at', 'When the scheduler last looked at the schedule'),
            ('last_refresh_duration', 'How long the last refresh took'),
            ('last_refreshed_at', 'When the last refresh ended'),
            ('last_run_message', 'Error text of the last scheduled run, if it failed'),
            ('last_run_status', 'Outcome of the last scheduled run'),
            ('last_update_date', 'JSON field "lastUpdateDate": the latest record of a customer wins'),
            ('line_number', 'Line of the row in its file, from 1'),
            ('lines_read', 'Non-blank lines read'),
            ('load_duration', 'How long loading the file took'),
            ('loaded_at', 'When the file was loaded'),
            ('loaded_by', 'Who loaded it'),
            ('message', 'What happened, in words (the error, if it failed)'),
            ('method', 'full (recomputed from scratch) or incremental (only what changed)'),
            ('name', 'Name of the setting'),
            ('next_run_at', 'When the next scheduled refresh is due'),
            ('one', 'Always true: the table has at most one row'),
            ('outcome', 'loaded, skipped (content loaded before) or failed (rolled back)'),
            ('path', 'File path as given to stedi-load'),
            ('phone', 'JSON field "phone"'),
            ('raw_line', 'The line as read (at most 8192 bytes)'),
            ('reading_time', 'JSON field "timestamp": when the accelerometer reading was taken'),
            ('reason', 'Why the line was not loaded'),
            ('refresh_every', 'Time between scheduled refreshes (NULL: not scheduled)'),
            ('refreshed_at', 'When the zone was last refreshed'),
            ('registration_date', 'JSON field "registrationDate"'),
            ('rejected_lines', 'Quarantined lines erased'),
            ('rejected_lines_removed', 'Quarantined lines of the file removed'),
            ('relation', 'The landing table changed'),
            ('rows', 'Rows of the zone'),
            ('rows_loaded', 'Lines that became landing rows'),
            ('rows_rejected', 'Lines quarantined in landing.rejected'),
            ('rows_removed', 'Landing rows of the file removed'),
            ('run_as', 'Role the scheduled refresh runs as'),
            ('run_id', 'Number of the refresh run'),
            ('schedule_overdue', 'Whether a scheduled refresh is late'),
            ('secret', 'The HMAC key: 32 random bytes'),
            ('sensor_reading_time', 'JSON field "sensorReadingTime": when the step trainer reading was taken'),
            ('serial_number', 'JSON field "serialNumber": the step trainer device'),
            ('set_at', 'When the setting was last changed'),
            ('set_by', 'Who changed it'),
            ('sha256', 'SHA-256 of the file''s bytes'),
            ('share_with_friends_as_of_date', 'JSON field "shareWithFriendsAsOfDate": since when the customer shares with friends (NULL: never)'),
            ('share_with_public_as_of_date', 'JSON field "shareWithPublicAsOfDate": since when the customer shares with the public (NULL: never)'),
            ('share_with_research_as_of_date', 'JSON field "shareWithResearchAsOfDate": since when the customer shares data for research (NULL: never)'),
            ('size_bytes', 'File size in bytes'),
            ('split', 'The training split of the customer: train, validation or test (stedi.customer_split)'),
            ('started_at', 'When it began'),
            ('status', 'running, succeeded, failed, or skipped (another refresh was running)'),
            ('step', 'Order of the zone in a refresh'),
            ('step_trainer_file_id', 'Landing file of the step trainer reading'),
            ('step_trainer_line_number', 'Line of the step trainer reading in its file'),
            ('step_trainer_rows', 'Step trainer readings erased'),
            ('trigger', 'What started the run: manual or scheduled'),
            ('unload_id', 'Number of the unload'),
            ('unloaded_at', 'When the file was unloaded'),
            ('unloaded_by', 'Who unloaded it'),
            ('user_email', 'JSON field "user": the customer whose phone took the reading'),
            ('value', 'Current value'),
            ('view', 'The zone'),
            ('x', 'JSON field "x": acceleration along the phone''s x axis'),
            ('y', 'JSON field "y": acceleration along the phone''s y axis'),
            ('z', 'JSON field "z": acceleration along the phone''s z axis'))
            AS d(attname, what) ON d.attname = a.attname
         WHERE r.relnamespace IN ('landing'::regnamespace, 'trusted'::regnamespace,
                                  'curated'::regnamespace, 'stedi'::regnamespace)
           AND r.relkind IN ('r', 'v')
           AND a.attnum > 0 AND NOT a.attisdropped
           AND col_description(a.attrelid, a.attnum) IS NULL
    LOOP
        EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', c.rel, c.attname, c.what);
    END LOOP;
END
$$;

-- Rights, as a fresh install grants them (in the same order, so that a
-- dump of an updated database equals one of a fresh install).
-- Functions that act with the extension owner's rights, for roles that
-- may not touch the tables behind them.  Each pins its search_path.
ALTER FUNCTION stedi.refresh(boolean, boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION stedi.refresh(boolean, boolean) SET intervalstyle = postgres;
-- (the pseudonym secret is a constant in the plans of a refresh: none is
-- printed where the admin who runs it could read it)
ALTER FUNCTION stedi.refresh(boolean, boolean) SET debug_print_plan = off;
ALTER FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean) SECURITY DEFINER;
ALTER FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint, jsonb) SECURITY DEFINER;
ALTER FUNCTION stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text) SECURITY DEFINER;
ALTER FUNCTION stedi.note_landing_change() SECURITY DEFINER;
ALTER FUNCTION stedi.refuse_source_file_delete() SECURITY DEFINER;
ALTER FUNCTION stedi.set_setting(text, text) SECURITY DEFINER;
ALTER FUNCTION stedi.expect(regclass, text, text, text) SECURITY DEFINER;
ALTER FUNCTION stedi.unexpect(regclass, text) SECURITY DEFINER;
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
-- (normalize_email: the index of landing.customer by identity computes it
-- for every row a loader inserts)
GRANT EXECUTE ON FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean),
                          stedi.finish_file(integer, bigint, bigint, bigint, bigint, jsonb),
                          stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text),
                          stedi.landing_row_check(text, integer, bigint, text, timestamptz),
                          stedi.rejected_line_check(text, integer, bigint),
                          stedi.normalize_email(text)
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
                          stedi.unload_file(integer),
                          stedi.set_setting(text, text),
                          stedi.set_consent_policy(text),
                          stedi.setting_value(text),
                          stedi.expect(regclass, text, text, text),
                          stedi.unexpect(regclass, text),
                          stedi.schedule_refresh(interval, regrole),
                          stedi.unschedule_refresh(),
                          stedi.scheduler_check(),
                          stedi.scheduler_running(),
                          stedi.worker_statements(),
                          stedi.has_research_consent(timestamptz),
                          stedi.reading_has_research_consent(timestamptz, timestamptz, text),
                          stedi.customer_key(text, bytea),
                          stedi.fill_zone(regclass, regclass),
                          stedi.fill_zone(regclass, regclass, name),
                          stedi.claimants_reading_at(text, timestamptz),
                          stedi.claimants_reading_near(text, timestamptz, integer),
                          stedi.pairing_tolerance_ms()
      TO stedi_admin;
-- what the pairing reports are made of: data scientists read them too
GRANT SELECT ON stedi.pairing_quality TO stedi_analyst;
GRANT EXECUTE ON FUNCTION stedi.pairing_offset(timestamptz, timestamptz),
                          stedi.training_set_state()
      TO stedi_analyst, stedi_admin;
-- (admins read the curated definition views, which call them)
GRANT EXECUTE ON FUNCTION stedi.pair_readings(integer, boolean, bytea, text[], text[]),
                          stedi.customer_split(uuid)
      TO stedi_admin;

