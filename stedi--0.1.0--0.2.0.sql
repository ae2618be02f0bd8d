-- stedi 0.1.0 -> 0.2.0
--
-- * A full refresh writes each zone a batch at a time (stedi.fill_zone), as
--   COPY does, instead of with INSERT ... SELECT.
-- * pg_dump keeps landing, quarantine, settings, schedule, logs and the
--   pseudonym secret; the secret is made by the first refresh.
-- * DROP EXTENSION stedi refuses to delete landing data without CASCADE.
-- * stedi.refresh_log has no foreign key to stedi.refresh_run (pg_restore -j).
-- * Every object has a comment.

\echo Use "ALTER EXTENSION stedi UPDATE TO '0.2.0'" to load this file. \quit

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

-- pg_restore -j loads an extension's tables in parallel, in any order: a
-- foreign key between two of them fails the restore.  Pruning deletes the
-- log rows of the runs it deletes.
ALTER TABLE stedi.refresh_log DROP CONSTRAINT refresh_log_run_id_fkey;

-- Writes a definition's rows into its zone a batch at a time, as COPY
-- does, instead of one at a time as INSERT ... SELECT does.
CREATE FUNCTION stedi.fill_zone(zone regclass, definition regclass) RETURNS bigint
AS 'MODULE_PATHNAME', 'stedi_fill_zone' LANGUAGE C STRICT;
COMMENT ON FUNCTION stedi.fill_zone(regclass, regclass) IS 'Append every row of a definition view to its zone table in batches (multi-row inserts, as COPY writes); returns how many';
REVOKE ALL ON FUNCTION stedi.fill_zone(regclass, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stedi.fill_zone(regclass, regclass) TO stedi_admin;

CREATE OR REPLACE FUNCTION stedi.rebuild_zones(rebuild_file_owners boolean)
RETURNS TABLE (step integer, view regclass, method text, rows bigint, duration interval)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    z record;
    t0 timestamptz;
    n bigint;
    schema text;
BEGIN
    ANALYZE landing.customer, landing.accelerometer, landing.step_trainer,
            stedi.pseudonym_secret;
    FOR z IN SELECT * FROM (VALUES
        (1, 'trusted.customer'::regclass, 'trusted.customer_definition'::regclass,
         'customer_key', '(email)',
         'customer_serial_number_idx', '(serial_number)'),
        (2, 'trusted.accelerometer', 'trusted.accelerometer_definition',
         'accelerometer_key', '(file_id, line_number)',
         'accelerometer_user_time_idx', '(user_email, reading_time stedi.timestamptz_ms_ops)'),
        (3, 'curated.customer', 'curated.customer_definition',
         'customer_key', '(customer_key)',
         'customer_serial_number_idx', '(serial_number)'),
        (4, 'trusted.step_trainer', 'trusted.step_trainer_definition',
         'step_trainer_key', '(file_id, line_number)',
         'step_trainer_serial_time_idx', '(serial_number, sensor_reading_time stedi.timestamptz_ms_ops)'),
        (5, 'curated.machine_learning', 'curated.machine_learning_definition',
         'machine_learning_key',
         '(step_trainer_file_id, step_trainer_line_number, accelerometer_file_id, accelerometer_line_number)',
         NULL, NULL))
        AS v(step, zone, definition, key_name, key, lookup_name, lookup) ORDER BY 1
    LOOP
        t0 := clock_timestamp();
        EXECUTE format('DELETE FROM %s', z.zone);
        n := stedi.fill_zone(z.zone, z.definition);
        -- The zone's key (which makes every incremental insert idempotent)
        -- and the index incremental refresh finds rows by.  Made the first
        -- time only once the table is filled: building an index is much
        -- faster than filling an indexed table, and CREATE INDEX keeps
        -- writers out, not readers.
        schema := (SELECT c.relnamespace::regnamespace::text FROM pg_class AS c
                    WHERE c.oid = z.zone);
        IF to_regclass(format('%I.%I', schema, z.key_name)) IS NULL THEN
            EXECUTE format('CREATE UNIQUE INDEX %I ON %s USING btree %s',
                           z.key_name, z.zone, z.key);
            EXECUTE format('COMMENT ON INDEX %I.%I IS %L', schema, z.key_name,
                           'Key of ' || z.zone::text || ': makes each insert of an incremental refresh idempotent');
        END IF;
        IF z.lookup IS NOT NULL
           AND to_regclass(format('%I.%I', schema, z.lookup_name)) IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON %s USING btree %s',
                           z.lookup_name, z.zone, z.lookup);
            EXECUTE format('COMMENT ON INDEX %I.%I IS %L', schema, z.lookup_name,
                           'How an incremental refresh finds the rows of one customer or device in ' || z.zone::text);
        END IF;
        -- the next zone is planned on these statistics; nothing reads the
        -- last one next, and autovacuum analyzes it soon after
        IF z.step < 5 THEN
            EXECUTE format('ANALYZE %s', z.zone);
        END IF;
        INSERT INTO stedi.zone_state AS s (view, rows, analyzed_rows, refreshed_at)
        VALUES (z.zone, n, n, now())
        ON CONFLICT (view) DO UPDATE
           SET rows = EXCLUDED.rows, analyzed_rows = EXCLUDED.rows, refreshed_at = now();
        step := z.step; view := z.zone; method := 'full'; rows := n;
        duration := clock_timestamp() - t0;
        RETURN NEXT;
    END LOOP;

    -- stedi.finish_file keeps these; rows that did not come through it
    -- (changes by hand) are found only by reading all of landing
    IF NOT rebuild_file_owners THEN
        RETURN;
    END IF;
    DELETE FROM stedi.accelerometer_file_user;
    INSERT INTO stedi.accelerometer_file_user
    SELECT DISTINCT user_email, file_id FROM landing.accelerometer;
    DELETE FROM stedi.step_trainer_file_serial;
    INSERT INTO stedi.step_trainer_file_serial
    SELECT DISTINCT serial_number, file_id FROM landing.step_trainer;
    ANALYZE stedi.accelerometer_file_user, stedi.step_trainer_file_serial;
END
$$;
COMMENT ON FUNCTION stedi.rebuild_zones(boolean) IS 'Refill every zone from its definition (stedi.refresh(full => true) calls it); with rebuild_file_owners, also which files hold whose readings';

CREATE OR REPLACE FUNCTION stedi.maintain_zones(rebuild boolean, only_if_changed boolean)
RETURNS TABLE (step integer, view regclass, method text, rows bigint, duration interval)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    customer_files integer[];
    accelerometer_files integer[];
    step_trainer_files integer[];
    erased text[];
    other_change boolean;
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
    WITH consumed AS (DELETE FROM stedi.landing_change RETURNING 1)
    SELECT count(*) > 0 INTO other_change FROM consumed;

    IF rebuild OR other_change OR (SELECT count(*) FROM stedi.zone_state) < 5 THEN
        RETURN QUERY SELECT * FROM stedi.rebuild_zones(rebuild OR other_change);
    ELSIF NOT only_if_changed OR customer_files IS NOT NULL
          OR accelerometer_files IS NOT NULL OR step_trainer_files IS NOT NULL
          OR erased IS NOT NULL THEN
        RETURN QUERY SELECT * FROM stedi.apply_zone_changes(
            customer_files, accelerometer_files, step_trainer_files, erased);
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.maintain_zones(boolean, boolean) IS 'The work of stedi.refresh(): a full rebuild when asked, on the first refresh, or after a change only a rebuild can apply; otherwise only what changed';

-- The zones' keys and lookup indexes, made by the first refresh of 0.1.0,
-- get the comments 0.2.0 gives them (indexes of users' own are left be).
DO $$
DECLARE
    i record;
BEGIN
    FOR i IN
        SELECT x.indexrelid::regclass AS index, x.indrelid::regclass AS zone, x.indisunique
          FROM pg_index AS x
          JOIN pg_class AS c ON c.oid = x.indexrelid
         WHERE (c.relnamespace, c.relname) IN (
                   ('trusted'::regnamespace, 'customer_key'),
                   ('trusted'::regnamespace, 'customer_serial_number_idx'),
                   ('trusted'::regnamespace, 'accelerometer_key'),
                   ('trusted'::regnamespace, 'accelerometer_user_time_idx'),
                   ('curated'::regnamespace, 'customer_key'),
                   ('curated'::regnamespace, 'customer_serial_number_idx'),
                   ('trusted'::regnamespace, 'step_trainer_key'),
                   ('trusted'::regnamespace, 'step_trainer_serial_time_idx'),
                   ('curated'::regnamespace, 'machine_learning_key'))
           AND obj_description(x.indexrelid, 'pg_class') IS NULL
    LOOP
        EXECUTE format('COMMENT ON INDEX %s IS %L', i.index,
                       CASE WHEN i.indisunique
                            THEN 'Key of ' || i.zone::text || ': makes each insert of an incremental refresh idempotent'
                            ELSE 'How an incremental refresh finds the rows of one customer or device in ' || i.zone::text
                       END);
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- DROP EXTENSION keeps landing data unless told CASCADE
------------------------------------------------------------------------------

CREATE FUNCTION stedi.guard_drop() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stedi_guard_drop' LANGUAGE C
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION stedi.guard_drop() IS 'Event trigger: refuses DROP EXTENSION stedi without CASCADE while landing holds rows, saying how many';
REVOKE ALL ON FUNCTION stedi.guard_drop() FROM PUBLIC;

CREATE EVENT TRIGGER stedi_guard_drop ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION stedi.guard_drop();
COMMENT ON EVENT TRIGGER stedi_guard_drop IS 'DROP EXTENSION stedi deletes landing data only with CASCADE (stedi.guard_drop)';

------------------------------------------------------------------------------
-- Backups: what pg_dump keeps
--
-- pg_dump leaves out the tables an extension makes unless they are marked
-- here.  Marked, whole: everything that cannot be computed again, namely
-- landing and its lineage, quarantine, settings, the schedule, the logs
-- with their sequences, the pseudonym secret (so that every customer
-- keeps the same key; the first refresh makes it, so no row of it is
-- the script's own) and which files hold whose readings.
--
-- Not marked: the trusted and curated zones and stedi.zone_state, which
-- are computed from landing: a restored database has empty zones and no
-- zone state, so its first refresh rebuilds every zone from scratch.  The
-- queues of changes are not marked either: that rebuild applies them all.
------------------------------------------------------------------------------

-- (one call per statement: each updates the extension's catalog row)
SELECT pg_catalog.pg_extension_config_dump('landing.source_file', '');
SELECT pg_catalog.pg_extension_config_dump('landing.source_file_file_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('landing.customer', '');
SELECT pg_catalog.pg_extension_config_dump('landing.accelerometer', '');
SELECT pg_catalog.pg_extension_config_dump('landing.step_trainer', '');
SELECT pg_catalog.pg_extension_config_dump('landing.rejected', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.ingest_log', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.ingest_log_attempt_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.setting', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.refresh_job', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.refresh_run', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.refresh_run_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.refresh_log', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.erasure_log', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.erasure_log_erasure_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.pseudonym_secret', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.accelerometer_file_user', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.step_trainer_file_serial', '');

------------------------------------------------------------------------------
-- What each object is, for \d+, \df+ and \dx+
------------------------------------------------------------------------------

COMMENT ON SCHEMA stedi IS 'The stedi extension''s functions, operators, settings and logs';
COMMENT ON OPERATOR FAMILY stedi.timestamptz_ms_ops USING btree IS 'Orders times by the millisecond they fall in (merge joins on =#)';
COMMENT ON OPERATOR FAMILY stedi.timestamptz_ms_ops USING hash IS 'Hashes times by the millisecond they fall in (hash joins on =#)';
COMMENT ON SEQUENCE landing.source_file_file_id_seq IS 'Numbers landing files (landing.source_file.file_id)';
COMMENT ON SEQUENCE stedi.ingest_log_attempt_id_seq IS 'Numbers load attempts (stedi.ingest_log.attempt_id)';
COMMENT ON SEQUENCE stedi.refresh_run_run_id_seq IS 'Numbers refresh runs (stedi.refresh_run.run_id)';
COMMENT ON SEQUENCE stedi.erasure_log_erasure_id_seq IS 'Numbers erasures (stedi.erasure_log.erasure_id)';
COMMENT ON TRIGGER landing_changed ON landing.customer IS 'Notes a change made other than by stedi-load: the next refresh rebuilds from scratch';
COMMENT ON TRIGGER landing_changed ON landing.accelerometer IS 'Notes a change made other than by stedi-load: the next refresh rebuilds from scratch';
COMMENT ON TRIGGER landing_changed ON landing.step_trainer IS 'Notes a change made other than by stedi-load: the next refresh rebuilds from scratch';
COMMENT ON TRIGGER refresh_job_changed ON stedi.refresh_job IS 'Tells the scheduler at commit that the schedule changed';
COMMENT ON ROLE stedi_loader IS 'stedi: may load landing files with stedi-load, and read nothing';
COMMENT ON ROLE stedi_analyst IS 'stedi: may read the curated zone, and nothing else';
COMMENT ON ROLE stedi_admin IS 'stedi: may read every zone, refresh, change settings and schedules, and erase customers; not read the pseudonym secret';

-- Indexes and constraints: their purpose, from their table and kind.
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

-- Columns: one description per column name, unless the column has its own.
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
            ('relation', 'The landing table changed'),
            ('rows', 'Rows of the zone'),
            ('rows_loaded', 'Lines that became landing rows'),
            ('rows_rejected', 'Lines quarantined in landing.rejected'),
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
            ('started_at', 'When it began'),
            ('status', 'running, succeeded, failed, or skipped (another refresh was running)'),
            ('step', 'Order of the zone in a refresh'),
            ('step_trainer_file_id', 'Landing file of the step trainer reading'),
            ('step_trainer_line_number', 'Line of the step trainer reading in its file'),
            ('step_trainer_rows', 'Step trainer readings erased'),
            ('trigger', 'What started the run: manual or scheduled'),
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
