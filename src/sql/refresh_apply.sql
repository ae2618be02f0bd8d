-- Applying a refresh's changes zone by zone, each incrementally or in
-- full as costs less (stedi.apply_zone_changes).

-- The owners (values of column owner) whose rows in the zone of step came,
-- went or changed in columns, as this refresh's change tables of that
-- zone say (pg_temp.stedi_minus_N, stedi_plus_N): the customers, or the
-- devices, whose readings may change zone downstream.
CREATE OR REPLACE FUNCTION stedi.owners_changed(step integer, owner name, columns name[])
RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    list text := (SELECT string_agg(quote_ident(c), ', ') FROM unnest(columns) AS c);
    changed text[];
BEGIN
    EXECUTE format('SELECT array_agg(DISTINCT x.%1$I)
                      FROM ((SELECT %2$s FROM pg_temp.stedi_minus_%3$s
                             EXCEPT SELECT %2$s FROM pg_temp.stedi_plus_%3$s)
                            UNION ALL
                            (SELECT %2$s FROM pg_temp.stedi_plus_%3$s
                             EXCEPT SELECT %2$s FROM pg_temp.stedi_minus_%3$s)) AS x',
                   owner, list, step)
       INTO changed;
    RETURN changed;
END
$$;
COMMENT ON FUNCTION stedi.owners_changed(integer, name, name[]) IS
    'The owners (values of column owner) whose rows in the zone of step came, went or changed in columns, by this refresh''s change tables of that zone; NULL when none';

-- The files loaded, customers erased and files unloaded since the last refresh.
-- rebuild, when not NULL, says why every zone must be compared whole with
-- its definition.  Returns one row per zone, in order.
CREATE OR REPLACE FUNCTION stedi.apply_zone_changes(customer_files integer[],
                                         accelerometer_files integer[],
                                         step_trainer_files integer[],
                                         erased text[],
                                         unloaded_files integer[],
                                         rebuild text)
RETURNS TABLE (step integer, view regclass, method text, rows bigint, duration interval,
               inserted bigint, deleted bigint, duplicates bigint, reason text)
LANGUAGE plpgsql
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
    consent_changed text[];  -- 2: customers who came, went or changed consent date or device
    recompute text[];        -- 3: customers whose curated row may differ
    devices text[];          -- 4: devices whose curated owners changed
    readmitted text[];       -- 2: those of consent_changed in trusted now
    devices_kept text[];     -- 4: those of devices still curated
    devices_gone text[];     -- 4: devices no curated customer has any more
    serial_changed text[];   -- 5: customers with another device
    owner_files integer[];   -- files holding readings of those customers or devices
    reading record;          -- 2, 4: the reading zone (stedi.reading_zones)
    owners text[];           -- 2, 4: consent_changed or devices
    owners_kept text[];      -- 2, 4: readmitted or devices_kept
    new_files integer[];     -- 2, 4: the new files of the zone's kind
    upstream_owner name;     -- 2, 4: the owner's column upstream (trusted.customer, curated.customer)
    owners_rows bigint;      -- 2, 4: upstream rows of owners before this refresh
    upstream_rows bigint;    -- 2, 4: upstream rows before this refresh
    analyzed boolean;        -- the change tables' statistics are current
    compared record;         -- in full: how the zone compared with its definition
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
            zone_rows := deleted;
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
            ELSIF z.step IN (2, 4) THEN
                -- the owners (customers, devices) who came, went or changed
                -- upstream; only those still there have readings to read
                -- again; and how many rows upstream had them, and in all,
                -- before this refresh
                IF z.step = 2 THEN
                    consent_changed := stedi.owners_changed(1, 'email',
                                                            '{email,share_with_research_as_of_date,serial_number}');
                    SELECT array_agg(c.email) INTO readmitted
                      FROM trusted.customer AS c WHERE c.email = ANY (consent_changed);
                    owners := consent_changed;
                    owners_kept := readmitted;
                    new_files := accelerometer_files;
                    upstream_owner := 'email';
                ELSE
                    devices := stedi.owners_changed(3, 'serial_number',
                                                    '{customer_key,serial_number,share_with_research_as_of_date}');
                    SELECT array_agg(DISTINCT c.serial_number) INTO devices_kept
                      FROM curated.customer AS c WHERE c.serial_number = ANY (devices);
                    SELECT array_agg(d) INTO devices_gone
                      FROM unnest(devices) AS d WHERE d <> ALL (coalesce(devices_kept, '{}'));
                    owners := devices;
                    owners_kept := devices_kept;
                    new_files := step_trainer_files;
                    upstream_owner := 'serial_number';
                END IF;
                SELECT * INTO reading FROM stedi.reading_zones() AS r WHERE r.step = z.step;
                EXECUTE format('SELECT array_agg(DISTINCT o.file_id) FROM %s AS o WHERE o.%I = ANY ($1)',
                               reading.owner_files, reading.owner)
                   INTO owner_files USING owners_kept;
                -- the upstream rows of those owners, and all upstream rows,
                -- before this refresh
                EXECUTE format('SELECT (SELECT count(*) FROM pg_temp.stedi_minus_%1$s AS m WHERE m.%2$I = ANY ($1)),
                                       (SELECT s.rows FROM stedi.zone_state AS s WHERE s.view = $2)
                                       + (SELECT count(*) FROM pg_temp.stedi_minus_%1$s)
                                       - (SELECT count(*) FROM pg_temp.stedi_plus_%1$s)',
                               z.step - 1, upstream_owner)
                   INTO owners_rows, upstream_rows
                  USING owners, (SELECT u.zone FROM stedi.zones() AS u WHERE u.step = z.step - 1);
                new_rows := (SELECT coalesce(sum(f.rows_loaded), 0)::bigint FROM landing.source_file AS f
                              WHERE f.file_id = ANY (new_files));
                read_rows := new_rows + coalesce(cardinality(unloaded_files), 0)
                             + (SELECT coalesce(sum(f.rows_loaded), 0)::bigint FROM landing.source_file AS f
                                 WHERE f.file_id = ANY (owner_files)
                                   AND f.file_id <> ALL (coalesce(new_files, '{}')))
                             -- (the rows of those who were upstream: as many
                             -- as an average owner's, an estimate, which
                             -- costs no read)
                             + owners_rows * zone_rows / greatest(1, upstream_rows);
                work := new_files IS NOT NULL OR unloaded_files IS NOT NULL OR owners IS NOT NULL;
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
                SELECT * INTO compared
                  FROM stedi.compare_zone(z.zone, format('pg_temp.stedi_minus_%s', z.step)::regclass,
                                          format('pg_temp.stedi_plus_%s', z.step)::regclass);
                reason := reason || '; ' || compared.comparison;
                -- (what the zone holds, which differs from stedi.zone_state
                -- after a change by hand: the rows after are counted on it)
                zone_rows := compared.zone_rows;
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
                IF z.step IN (2, 4) THEN
                    -- (the zone's rows per owner: over the owners upstream now)
                    duplicates := stedi.settle_readings(
                        z.step, coalesce(new_files, '{}') || coalesce(unloaded_files, '{}'),
                        owners, unloaded_files,
                        zone_rows / greatest(1, (SELECT s.rows FROM stedi.zone_state AS s
                                                   JOIN stedi.zones() AS u ON u.zone = s.view
                                                  WHERE u.step = z.step - 1)));
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
