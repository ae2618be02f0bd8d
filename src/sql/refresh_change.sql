-- The incremental way of refreshing a zone: what the change upstream can
-- touch, computed again (stedi.compute_zone_change, one statement per
-- zone).

-- Each step of an incremental refresh is a function of its own, named for
-- the zone it computes; stedi.compute_zone_change calls the one of a
-- step.  They run inside it, with the settings it pins (plan cache,
-- JIT, work_mem), and only the extension's owner may call them.

-- 1 trusted.customer: the emails of new customer records, and erased ones.
CREATE OR REPLACE FUNCTION stedi.change_trusted_customer(changed text[]) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO pg_temp.stedi_minus_1
    SELECT c.*, c.ctid FROM trusted.customer AS c WHERE c.email = ANY (changed);
    INSERT INTO pg_temp.stedi_plus_1
    SELECT d.* FROM trusted.customer_definition AS d WHERE d.email = ANY (changed);
END
$$;
COMMENT ON FUNCTION stedi.change_trusted_customer(text[]) IS
    'Incremental refresh, step 1: the trusted customers of these (normalized) emails, as the zone holds them (pg_temp.stedi_minus_1) and as the definition has them now (pg_temp.stedi_plus_1)';

-- A reading zone's rows that its change recomputes, into
-- pg_temp.stedi_minus_N (N its step): those of these files, and every row
-- of these owners (customers or devices, stedi.reading_zones().owner).
-- (Rows of a new file are in the zone only if a full refresh read it while
-- it committed: then they cancel out.)
CREATE OR REPLACE FUNCTION stedi.reading_rows_recomputed(step integer, files integer[], owners text[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.step = reading_rows_recomputed.step;
    EXECUTE format('INSERT INTO pg_temp.stedi_minus_%s
                    SELECT z.*, z.ctid FROM %s AS z WHERE z.file_id = ANY ($1)', step, r.zone)
        USING files;
    EXECUTE format('INSERT INTO pg_temp.stedi_minus_%s
                    SELECT z.*, z.ctid FROM %s AS z WHERE z.%I = ANY ($2) AND NOT z.file_id = ANY ($1)',
                   step, r.zone, r.owner)
        USING files, owners;
END
$$;
COMMENT ON FUNCTION stedi.reading_rows_recomputed(integer, integer[], text[]) IS
    'Incremental refresh of a reading zone (step 2 or 4): into pg_temp.stedi_minus_N the zone''s rows of these files and every row of these owners (customers or devices)';

-- 2 trusted.accelerometer: rows of new and unloaded files; every row of
-- customers who came, went, or changed consent date or device.
CREATE OR REPLACE FUNCTION stedi.change_trusted_accelerometer(unloaded_files integer[],
                                                               accelerometer_files integer[],
                                                               consent_changed text[],
                                                               owner_files integer[],
                                                               readmitted text[],
                                                               measured_rows bigint,
                                                               policy text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM stedi.reading_rows_recomputed(2, unloaded_files || coalesce(accelerometer_files, '{}'),
                                          consent_changed);
    PERFORM set_config('enable_nestloop', (measured_rows <= 10000)::text, true);
    INSERT INTO pg_temp.stedi_plus_2
    SELECT c.email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number, c.serial_number
      FROM landing.accelerometer AS a
      JOIN trusted.customer AS c ON c.email = stedi.normalize_email(a.user_email)
     WHERE a.file_id = ANY (accelerometer_files || owner_files)
       AND (a.file_id = ANY (accelerometer_files)
            OR stedi.normalize_email(a.user_email) = ANY (readmitted))
       AND NOT EXISTS (SELECT FROM stedi.pending_file AS p WHERE p.file_id = a.file_id)
       AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                              a.reading_time, policy);
    PERFORM set_config('enable_nestloop', 'on', true);
END
$$;
COMMENT ON FUNCTION stedi.change_trusted_accelerometer(integer[], integer[], text[], integer[], text[], bigint, text) IS
    'Incremental refresh, step 2: the phone readings of new and unloaded files, and every reading of the customers who came, went or changed consent date or device (owner_files: the files holding readings of those trusted now), as the zone holds them and as the definition has them now; joins by nested loop only when measured_rows is at most 10,000';

-- 3 curated.customer: customers changed in 1, or whose readings did in 2
-- (apart from those who only got readings and had a curated row: it
-- stays as it is).
CREATE OR REPLACE FUNCTION stedi.change_curated_customer(recompute text[], secret bytea) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
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
END
$$;
COMMENT ON FUNCTION stedi.change_curated_customer(text[], bytea) IS
    'Incremental refresh, step 3: the curated customers of these emails, keyed with the secret, as the zone holds them and as the definition has them now';

-- 4 trusted.step_trainer: rows of new and unloaded files; every row of
-- devices whose curated owners changed in 3 (devices_kept: those that
-- still have one).
CREATE OR REPLACE FUNCTION stedi.change_trusted_step_trainer(unloaded_files integer[],
                                                              step_trainer_files integer[],
                                                              devices text[],
                                                              devices_kept text[],
                                                              owner_files integer[],
                                                              measured_rows bigint,
                                                              policy text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM stedi.reading_rows_recomputed(4, unloaded_files || coalesce(step_trainer_files, '{}'),
                                          devices);
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
END
$$;
COMMENT ON FUNCTION stedi.change_trusted_step_trainer(integer[], integer[], text[], text[], integer[], bigint, text) IS
    'Incremental refresh, step 4: the step trainer readings of new and unloaded files, and every reading of the devices whose curated owners changed (owner_files: the files holding readings of devices_kept), as the zone holds them and as the definition has them now';

-- 5 curated.machine_learning, with a pairing tolerance.
CREATE OR REPLACE FUNCTION stedi.change_pairs_within_tolerance() RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    pair_devices text[];     -- devices whose pairs are computed again
    claimants text[];        -- the customers who name them
BEGIN
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
END
$$;
COMMENT ON FUNCTION stedi.change_pairs_within_tolerance() IS
    'Incremental refresh, step 5 within a tolerance: every pair of each device the change touches, as the zone holds them and again from stedi.pair_readings';

-- 5 curated.machine_learning, same millisecond: the pairs of rows that
-- left 2 or 4, and every pair of customers whose device changed.
CREATE OR REPLACE FUNCTION stedi.change_pairs_gone(serial_changed text[], devices_gone text[],
                                                    zone_rows bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    covered text[];          -- owners whose pairs all go with their device
    n bigint;
BEGIN
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
END
$$;
COMMENT ON FUNCTION stedi.change_pairs_gone(text[], text[], bigint) IS
    'Incremental refresh, step 5 (same millisecond): into pg_temp.stedi_minus_5 the pairs of rows that left trusted.accelerometer or trusted.step_trainer (devices_gone: devices no curated customer has now), and every pair of the customers in serial_changed; found through the training table''s indexes when they are few against its zone_rows';

-- 5 curated.machine_learning, same millisecond: the pairs of rows that
-- came into 2 or 4, and every pair of customers whose device changed.
CREATE OR REPLACE FUNCTION stedi.change_pairs_new(serial_changed text[], secret bytea) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    n bigint;
    owner_keys text[];       -- the devices or emails of the new rows' owners
    readers text[];          -- the customers of the new accelerometer rows
    newly_trusted text[];    -- customers trusted only since this refresh
    owner_rows bigint;       -- the other zone's rows of those owners, estimated
    first_time timestamptz;  -- the span of the new rows' times
    last_time timestamptz;
    customers bigint;
BEGIN
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
            SELECT a.user_email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number,
                   o.serial_number, o.customer_key
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
            SELECT a.user_email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number,
                   o.serial_number, o.customer_key
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
    DROP TABLE pg_temp.stedi_owners;
END
$$;
COMMENT ON FUNCTION stedi.change_pairs_new(text[], bytea) IS
    'Incremental refresh, step 5 (same millisecond): into pg_temp.stedi_plus_5 the pairs of new readings of either side, and every pair of the customers in serial_changed, keyed with the secret';

-- 5 curated.machine_learning, same millisecond: the devices several
-- customers name, recomputed whole when the change touches them.
CREATE OR REPLACE FUNCTION stedi.change_pairs_of_shared_devices(secret bytea) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    shared text[];           -- devices that several trusted customers name
    devices_named text[];    -- devices of changed customer records
    hashagg text;
BEGIN
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
           AND stedi.claimants_reading_near(s.serial_number, s.sensor_reading_time, 0) < 2;
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.change_pairs_of_shared_devices(bytea) IS
    'Incremental refresh, step 5 (same millisecond): every pair of each device that several trusted customers name (now or before this refresh) and that the change touches, computed again from the definition; keyed with the secret';

-- The incremental way for one zone: into pg_temp.stedi_minus_N every row
-- of the zone that the change upstream can touch, into
-- pg_temp.stedi_plus_N those rows as the definition has them now (the
-- caller then drops what is in both, unchanged).  Each step is the
-- function above named for its zone (stedi.change_trusted_customer, ...,
-- the stedi.change_pairs_* of step 5), whose statements are the zone's
-- definition restricted to what changed.
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
-- (Its settings are pinned below.)
CREATE OR REPLACE FUNCTION stedi.compute_zone_change(step integer,
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
AS $$
BEGIN
    unloaded_files := coalesce(unloaded_files, '{}');
    CASE step
    WHEN 1 THEN
        PERFORM stedi.change_trusted_customer(changed);
    WHEN 2 THEN
        PERFORM stedi.change_trusted_accelerometer(unloaded_files, accelerometer_files, consent_changed,
                                                   owner_files, readmitted, measured_rows, policy);
    WHEN 3 THEN
        PERFORM stedi.change_curated_customer(recompute, secret);
    WHEN 4 THEN
        PERFORM stedi.change_trusted_step_trainer(unloaded_files, step_trainer_files, devices,
                                                  devices_kept, owner_files, measured_rows, policy);
    ELSE
        IF stedi.pairing_tolerance_ms() > 0 THEN
            PERFORM stedi.change_pairs_within_tolerance();
        ELSE
            PERFORM stedi.change_pairs_gone(serial_changed, devices_gone, zone_rows);
            PERFORM stedi.change_pairs_new(serial_changed, secret);
            PERFORM stedi.change_pairs_of_shared_devices(secret);
        END IF;
    END CASE;
END
$$;
COMMENT ON FUNCTION stedi.compute_zone_change(integer, integer[], integer[], integer[], integer[], text[], text[], text[], text[], text[], integer[], bigint, bytea, text, text[], text[], text[], bigint) IS
    'Incremental refresh of one zone (step 1 to 5): the rows the change upstream can touch, as the zone holds them (into pg_temp.stedi_minus_N) and as its definition has them now (pg_temp.stedi_plus_N)';

-- Everything a refresh does to the zones, given what changed: files

-- The two functions that run the incremental way's statements, this one
-- and stedi.settle_readings, pin in one place:
-- custom plans, for this run's values; no JIT (priced by the zones' size,
-- compiling took longer than running them, 0.2 to 1 s each at scale 100);
-- hashes of at most 128 MB before they spill.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['stedi.compute_zone_change', 'stedi.settle_readings'] LOOP
        EXECUTE format($a$ALTER FUNCTION %s
                            SET plan_cache_mode = force_custom_plan SET jit = off
                            SET work_mem = '64MB' SET hash_mem_multiplier = 2$a$, f);
    END LOOP;
END
$$;
