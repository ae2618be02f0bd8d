-- stedi.refresh(): the queues consumed, the zones brought up to date, and
-- the run logged.

-- Returns no rows when only_if_changed and nothing changed.
CREATE OR REPLACE FUNCTION stedi.maintain_zones(rebuild boolean, only_if_changed boolean)
RETURNS TABLE (step integer, view regclass, method text, rows bigint, duration interval,
               inserted bigint, deleted bigint, duplicates bigint, reason text)
LANGUAGE plpgsql
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
    r record;
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
        FOR r IN SELECT * FROM stedi.reading_zones() LOOP
            EXECUTE format($m$
                WITH landed AS MATERIALIZED (
                    SELECT %1$s AS owner, l.file_id,
                           min(l.%2$I) AS first_time, max(l.%2$I) AS last_time
                      FROM %3$s AS l
                     GROUP BY 1, 2),
                gone AS (
                    DELETE FROM %4$s AS m
                     WHERE NOT EXISTS (SELECT FROM landed AS n
                                        WHERE n.owner = m.%5$I AND n.file_id = m.file_id))
                INSERT INTO %4$s
                SELECT n.owner, n.file_id, n.first_time, n.last_time FROM landed AS n
                 WHERE NOT EXISTS (SELECT FROM %4$s AS m
                                    WHERE m.%5$I = n.owner AND m.file_id = n.file_id
                                      AND m.first_time = n.first_time AND m.last_time = n.last_time)
                ON CONFLICT (%5$I, file_id) DO UPDATE
                   SET first_time = excluded.first_time, last_time = excluded.last_time$m$,
                r.landing_owner, r.reading_time, r.landing, r.owner_files, r.owner);
        END LOOP;
        PERFORM set_config('enable_nestloop', nestloop, true);
        PERFORM set_config('work_mem', memory, true);
        ANALYZE stedi.accelerometer_file_user, stedi.step_trainer_file_serial;
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.maintain_zones(boolean, boolean) IS 'The work of stedi.refresh(): take what changed since the last refresh from the queues and apply it to the zones (stedi.apply_zone_changes); with rebuild, or after a change only a rebuild applies, every zone in full';

------------------------------------------------------------------------------
-- Refresh and its log
------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS stedi.refresh_run (
    run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger     text NOT NULL DEFAULT 'manual'
                CHECK (trigger IN ('manual', 'scheduled')),
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    message     text,
    settings    jsonb
);
CREATE INDEX IF NOT EXISTS refresh_run_started_at_idx ON stedi.refresh_run (started_at);
COMMENT ON TABLE stedi.refresh_run IS 'One row per refresh of the zones, manual or scheduled; pruned after the run_history_retention setting';
COMMENT ON COLUMN stedi.refresh_run.message IS 'Why a run failed (the error) or was skipped';
COMMENT ON COLUMN stedi.refresh_run.settings IS 'The settings a run that succeeded applied (stedi.settings_in_force()): what the zones it left reflect';

-- No foreign key to stedi.refresh_run: pg_restore -j loads an extension's
-- tables in parallel, in any order, and the log would fail to load before
-- its runs.  Pruning deletes both (stedi_prune_run_history).
CREATE TABLE IF NOT EXISTS stedi.refresh_log (
    run_id   bigint NOT NULL,
    step     integer NOT NULL,
    view     regclass NOT NULL,
    method   text NOT NULL CHECK (method IN ('full', 'incremental')),
    rows     bigint NOT NULL,
    duration interval NOT NULL,
    reason   text,
    inserted bigint,
    deleted  bigint,
    duplicates bigint,
    PRIMARY KEY (run_id, step)
);
COMMENT ON TABLE stedi.refresh_log IS 'One row per zone refreshed in a run: how (full or incremental) and why, the rows it inserted and deleted, its row count afterwards and how long it took';
COMMENT ON COLUMN stedi.refresh_log.reason IS 'Why this method: asked, first refresh, a change by hand, or the rows each way would read; for a full refresh, then how the parts of the zone compared with its definition (stedi.compare_zone)';
COMMENT ON COLUMN stedi.refresh_log.duplicates IS 'Reading zones: identical readings (same customer or device, millisecond and values) the run set aside, keeping the first loaded; among every candidate in a full refresh, among the rows it recomputed in an incremental one';
COMMENT ON COLUMN stedi.refresh_log.inserted IS 'Rows the run inserted into the zone (NULL for runs of stedi before 0.3.0)';
COMMENT ON COLUMN stedi.refresh_log.deleted IS 'Rows the run deleted from the zone (NULL for runs of stedi before 0.3.0)';
COMMENT ON COLUMN stedi.refresh_log.duration IS 'Time spent on this zone alone';

CREATE OR REPLACE FUNCTION stedi.refresh(
    only_if_changed boolean DEFAULT false, "full" boolean DEFAULT false,
    OUT view regclass, OUT method text, OUT rows bigint, OUT duration interval,
    OUT inserted bigint, OUT deleted bigint, OUT duplicates bigint, OUT reason text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'stedi_refresh'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.refresh(boolean, boolean) IS
    'Bring the trusted and curated zones up to date with landing in one transaction, each zone incrementally or in full as costs less (full => true: every zone in full); returns and logs per zone the method and why, rows inserted and deleted, rows after and duration; with only_if_changed, does nothing when nothing changed since the last refresh';

