-- stedi 0.1.0 -> 0.2.0
--
-- A full refresh writes each zone a batch at a time (stedi.fill_zone), as
-- COPY does, instead of with INSERT ... SELECT.

\echo Use "ALTER EXTENSION stedi UPDATE TO '0.2.0'" to load this file. \quit

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
        END IF;
        IF z.lookup IS NOT NULL
           AND to_regclass(format('%I.%I', schema, z.lookup_name)) IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON %s USING btree %s',
                           z.lookup_name, z.zone, z.lookup);
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
