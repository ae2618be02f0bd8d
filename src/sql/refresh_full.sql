-- The zones a refresh keeps, how it fills them, and the full way of
-- refreshing one: compared whole, part by part, with its definition.

DO $$
DECLARE
    z record;
BEGIN
    FOR z IN SELECT * FROM (VALUES
        ('trusted.customer', 'Customers who agreed to share their data for research: the latest record of each email (customer_trusted)'),
        ('trusted.accelerometer', 'Accelerometer readings of customers in trusted.customer, taken when the consent policy allows (accelerometer_trusted)'),
        ('curated.customer', 'Trusted customers who have accelerometer readings, by pseudonymous key (customer_curated)'),
        ('trusted.step_trainer', 'Step trainer readings of devices owned by customers in curated.customer, taken when the consent policy allows (step_trainer_trusted)'),
        ('curated.machine_learning', 'Each step trainer reading paired with the accelerometer readings its owner took in the same millisecond, by pseudonymous customer key (machine_learning_curated)'))
        AS v(zone, what)
    LOOP
        EXECUTE format('COMMENT ON TABLE %s IS %L', z.zone,
                       z.what || '.  Kept equal to the view ' || z.zone
                       || '_definition by stedi.refresh().');
        EXECUTE format('COMMENT ON VIEW %s IS %L', z.zone || '_definition',
                       'What ' || z.zone || ' holds, computed from scratch: '
                       || z.what || '.');
        IF to_regclass(z.zone || '_candidate') IS NOT NULL THEN
            EXECUTE format('COMMENT ON VIEW %s IS %L', z.zone || '_candidate',
                           'The rows ' || z.zone || ' is made of before its expectations and before identical readings are counted once, with loaded_at (when the row''s file was loaded) for the checks');
        END IF;
    END LOOP;
END
$$;

-- Row counts of the zones, kept by refresh so that logging them costs no
-- scan of the tables.
CREATE TABLE IF NOT EXISTS stedi.zone_state (
    view          regclass PRIMARY KEY,
    rows          bigint NOT NULL,
    analyzed_rows bigint NOT NULL,
    refreshed_at  timestamptz NOT NULL
);
COMMENT ON TABLE stedi.zone_state IS 'Row count of each zone table as of its last refresh; no row before the first';

------------------------------------------------------------------------------
-- Keeping the zones equal to their definitions
--
-- A refresh works zone by zone, in dependency order.  For each zone it
-- first computes the zone's change: the rows to delete and the rows to
-- insert, in two temporary tables of the refresh's own (pg_temp.stedi_minus_N,
-- pg_temp.stedi_plus_N, N the zone's step), and only then applies it.  A
-- zone's change is computed one of two ways:
--
--   incremental  only what the change upstream can touch is computed
--                again (rows of new and unloaded files; every row of the
--                customers and devices whose consent or ownership changed)
--                and compared with what the zone holds of it;
--   full         the whole definition is computed again and compared with
--                the whole zone.
--
-- Either way only rows that differ are written: rebuilding the same data
-- writes nothing, leaves no dead rows behind, and costs the same the
-- tenth time as the first.  Readers are never blocked (DML only).
--
-- Plans never rest on statistics that describe the tables before the rows
-- being refreshed arrived.  The change tables are analyzed before anything
-- joins them, so the planner sees each change at its true size; the
-- statements that read new landing rows, whose statistics are those of the
-- last ANALYZE, choose their join method from the rows the loader counted
-- (landing.source_file.rows_loaded); every statement is planned for the
-- values of this run (plan_cache_mode).
------------------------------------------------------------------------------

-- Writes a definition's rows into its zone a batch at a time, as COPY
-- does, instead of one at a time as INSERT ... SELECT does.
CREATE OR REPLACE FUNCTION stedi.fill_zone(zone regclass, definition regclass) RETURNS bigint
AS 'MODULE_PATHNAME', 'stedi_fill_zone' LANGUAGE C STRICT;
COMMENT ON FUNCTION stedi.fill_zone(regclass, regclass) IS 'Append every row of a definition view (or a table with the same columns) to its zone table in batches (multi-row inserts, as COPY writes); returns how many';
-- The same, the rows written grouped by their owner: a customer's rows
-- on few pages, so that withdrawing or erasing them touches few.
CREATE OR REPLACE FUNCTION stedi.fill_zone(zone regclass, definition regclass, owner name) RETURNS bigint
AS 'MODULE_PATHNAME', 'stedi_fill_zone' LANGUAGE C STRICT;
COMMENT ON FUNCTION stedi.fill_zone(regclass, regclass, name) IS 'Append every row of a definition view (or a table with the same columns) to its zone table, grouped by the zone''s column owner (rows sorted by a hash of it, maintenance_work_mem of rows at a time), in batches as COPY writes; returns how many';

-- The zones in dependency order, with the key that makes a row of each
-- one and the index by which an incremental refresh finds rows.  The
-- training table has two indexes, not three (each costs every row written
-- an entry): its key leads with the reading, so it finds the pairs of a
-- reading, and its lookup index leads with the device, so it finds every
-- pair of a device and the pairs of one step trainer reading.  A full
-- refresh compares a zone part by part first (stedi.compare_zone); the
-- split names the part of a row: the file of a reading (a batch of new
-- files, or a file changed by hand, differs only in its own parts), and
-- for customers a 1,024th of them by a hash of the key.  Each key ends
-- with the zone's distribution column, the device (serial_number): a
-- unique index that lacks it could not be kept on a zone hash-partitioned
-- or distributed by device (docs/scale-out.md; sql/distribution.sql).
CREATE OR REPLACE FUNCTION stedi.zones(OUT step integer, OUT zone regclass, OUT definition regclass,
                            OUT key text[], OUT key_name text,
                            OUT lookup text, OUT lookup_name text, OUT owner name,
                            OUT split text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES (1, 'trusted.customer'::regclass, 'trusted.customer_definition'::regclass,
            '{email,serial_number}'::text[], 'customer_key', '(serial_number)', 'customer_serial_number_idx',
            NULL::name, 'pg_catalog.hashtext(email) & 1023'),
           (2, 'trusted.accelerometer', 'trusted.accelerometer_definition',
            '{file_id,line_number,serial_number}', 'accelerometer_key',
            '(user_email, reading_time stedi.timestamptz_ms_ops)', 'accelerometer_user_time_idx',
            NULL, 'file_id'),
           (3, 'curated.customer', 'curated.customer_definition',
            '{customer_key,serial_number}', 'customer_key', '(serial_number)', 'customer_serial_number_idx',
            NULL, 'pg_catalog.uuid_hash(customer_key) & 1023'),
           (4, 'trusted.step_trainer', 'trusted.step_trainer_definition',
            '{file_id,line_number,serial_number}', 'step_trainer_key',
            '(serial_number, sensor_reading_time stedi.timestamptz_ms_ops)', 'step_trainer_serial_time_idx',
            'serial_number', 'file_id'),
           (5, 'curated.machine_learning', 'curated.machine_learning_definition',
            '{accelerometer_file_id,accelerometer_line_number,step_trainer_file_id,step_trainer_line_number,serial_number}',
            'machine_learning_key',
            '(serial_number, step_trainer_file_id, step_trainer_line_number)', 'machine_learning_device_idx',
            'serial_number', 'accelerometer_file_id')
$$;
COMMENT ON FUNCTION stedi.zones() IS 'The five zones in the order a refresh fills them: table, definition view, key columns and the name of the key''s unique index, the lookup index an incremental refresh finds rows by, the column of the owner by which a fill groups rows (NULL: rows written as they come), and the split: the part of the zone a row is in, for the part-by-part comparison of a full refresh (an integer expression over the zone''s columns)';

-- A zone's key and lookup index, made once the zone is first filled:
-- building an index is much faster than filling an indexed table, and
-- CREATE INDEX keeps writers out, not readers.
CREATE OR REPLACE FUNCTION stedi.index_zone(zone regclass) RETURNS void
LANGUAGE plpgsql
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
CREATE OR REPLACE FUNCTION stedi.compare_zone(zone regclass, minus regclass, plus regclass,
                                               OUT comparison text, OUT zone_rows bigint)
LANGUAGE plpgsql
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
    EXECUTE format('SELECT count(*), coalesce(sum(zd.n), 0),
                           array_agg(coalesce(zd.part, dd.part))
                               FILTER (WHERE zd.n IS DISTINCT FROM dd.n OR zd.digest IS DISTINCT FROM dd.digest)
                      FROM (SELECT %1$s AS part, count(*) AS n,
                                   bit_xor(hash_record_extended(ROW(%2$s), %5$s)) AS digest
                              FROM %3$s GROUP BY 1) AS zd
                      FULL JOIN (SELECT %1$s AS part, count(*) AS n,
                                        bit_xor(hash_record_extended(ROW(%2$s), %5$s)) AS digest
                                   FROM %4$s GROUP BY 1) AS dd ON zd.part = dd.part',
                   z.split, every_column, zone, z.definition, seed)
       INTO parts, zone_rows, differing;
    PERFORM set_config('enable_sort', sort, true);
    IF differing IS NULL THEN
        comparison := format('parts differing: 0 of %s', parts);
        RETURN;
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
    comparison := format('parts differing: %s of %s, %s', cardinality(differing), parts,
                         CASE WHEN in_parts = 'true' THEN 'the whole zone compared row by row'
                              ELSE 'those compared row by row' END);
END
$$;
COMMENT ON FUNCTION stedi.compare_zone(regclass, regclass, regclass) IS 'Full refresh of one zone: put the zone''s rows that its definition no longer holds into minus, and the definition''s rows the zone lacks (or holds otherwise) into plus; parts of the zone (stedi.zones().split) whose row count and digest equal the definition''s are not compared row by row.  Returns how the parts compared, for the refresh log (comparison: parts differing: K of N, and whether those or, more than half differing, the whole zone were compared row by row), and the rows the zone holds before the change (zone_rows: counted, not taken from stedi.zone_state, which a change by hand leaves behind)';

-- A change table's statistics, for the statements that read it next:
-- its size, and roughly how many customers, devices or files it holds.
-- A sample of 3,000 rows (300 times the statistics target) tells those as
-- well as one of 30,000, at a tenth of the cost: at the default target,
-- analyzing 61,000 new training pairs took 150 ms, at 10 it takes 17 ms.
CREATE OR REPLACE FUNCTION stedi.analyze_change(step integer) RETURNS void
LANGUAGE plpgsql
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
CREATE OR REPLACE FUNCTION stedi.cancel_unchanged(zone regclass, minus regclass, plus regclass)
RETURNS bigint
LANGUAGE plpgsql
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
CREATE OR REPLACE FUNCTION stedi.choose_method(incremental_rows bigint, full_rows bigint,
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
CREATE OR REPLACE FUNCTION stedi.join_by_size(n bigint, zone_rows bigint) RETURNS void
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

