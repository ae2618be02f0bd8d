-- stedi.refresh(): a full rebuild first, incremental afterwards,
-- statistics kept, and a log of every run.
SET timezone = 'UTC';

-- zones.sql ran two refreshes: the first (full), then one with nothing new.
SELECT run_id, trigger, status, message, finished_at >= started_at AS finished
  FROM stedi.refresh_run ORDER BY run_id;
SELECT run_id, step, view, method, rows, duration >= '0'::interval AS timed
  FROM stedi.refresh_log ORDER BY run_id, step;

-- New landing data reaches every zone at the next refresh.
INSERT INTO landing.source_file (kind, path, size_bytes)
VALUES ('accelerometer', 'accelerometer/landing/accelerometer-2.json', 0);
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
VALUES ('alice@test.com', '2022-06-18 10:00:00.004+00', 4, 0, 0, 5, 1),
       ('dave@test.com', '2022-06-18 10:00:00.009+00', 8, 0, 0, 5, 2);
SELECT view, method, rows FROM stedi.refresh();

-- The log tells the truth: each zone's method and why, rows inserted and
-- deleted, and its own time; the run's span covers its zones' times (it
-- starts when the run starts and ends when it ends, not at the
-- transaction's start).
SELECT l.step, l.view, l.method, l.reason, l.inserted, l.deleted, l.rows
  FROM stedi.refresh_log AS l
 WHERE l.run_id = (SELECT max(run_id) FROM stedi.refresh_run) ORDER BY l.step;
SELECT r.finished_at - r.started_at >= sum(l.duration) AS span_covers_zones,
       bool_and(l.duration > '0'::interval) AS each_zone_timed
  FROM stedi.refresh_run AS r JOIN stedi.refresh_log AS l USING (run_id)
 WHERE r.run_id = (SELECT max(run_id) FROM stedi.refresh_run)
 GROUP BY r.run_id, r.started_at, r.finished_at;

-- A full refresh of unchanged data writes no row of any zone, nor of the
-- maps of which files hold whose readings: nothing deleted and inserted
-- again, so no dead rows, however often it runs.
-- (Counted within the transaction, before and after: the counters may
-- still hold writes of earlier transactions not yet reported.)
BEGIN;
CREATE TEMP TABLE writes_before AS
SELECT relid, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables
 WHERE schemaname IN ('trusted', 'curated')
    OR relid IN ('stedi.accelerometer_file_user'::regclass, 'stedi.step_trainer_file_serial'::regclass);
SELECT view, method, reason, inserted, deleted FROM stedi.refresh(full => true);
SELECT a.schemaname || '.' || a.relname AS zone, a.n_tup_ins - b.n_tup_ins AS inserted,
       a.n_tup_upd - b.n_tup_upd AS updated, a.n_tup_del - b.n_tup_del AS deleted
  FROM pg_stat_xact_user_tables AS a JOIN writes_before AS b USING (relid)
 ORDER BY 1;
COMMIT;

-- A full refresh compares each zone with its definition part by part
-- (the file of a reading, a 1,024th of the customers), and then row by row
-- only in the parts that differ: it finds and mends every row changed,
-- taken or added behind its back, in one part or in most of them.
-- (The log's reason says how the parts compared.)
-- One part of two:
BEGIN;
SELECT count(DISTINCT file_id) AS accelerometer_parts FROM trusted.accelerometer;
UPDATE trusted.accelerometer SET z = z - 1
 WHERE (file_id, line_number) = (SELECT file_id, line_number FROM trusted.accelerometer
                                  ORDER BY file_id DESC, line_number LIMIT 1);
SELECT view, method, inserted, deleted, reason FROM stedi.refresh(full => true);
SELECT public.rows_differ('trusted.accelerometer', 'trusted.accelerometer_definition') AS accelerometer_differs;
ROLLBACK;
-- A part only the zone has, one of three:
BEGIN;
INSERT INTO trusted.accelerometer
SELECT user_email, reading_time, x, y, z, 999999, line_number, serial_number
  FROM trusted.accelerometer ORDER BY file_id, line_number LIMIT 2;
SELECT view, method, inserted, deleted, reason FROM stedi.refresh(full => true);
SELECT count(*) AS readings_of_file_999999 FROM trusted.accelerometer WHERE file_id = 999999;
ROLLBACK;
-- Every zone, most of its parts, and a part only the zone has:
BEGIN;
UPDATE trusted.customer SET share_with_public_as_of_date = '2001-01-01'
 WHERE email = (SELECT min(email) FROM trusted.customer);
UPDATE trusted.accelerometer SET x = x + 1
 WHERE (file_id, line_number) = (SELECT file_id, line_number FROM trusted.accelerometer
                                  ORDER BY file_id, line_number LIMIT 1);
DELETE FROM trusted.accelerometer
 WHERE (file_id, line_number) = (SELECT file_id, line_number FROM trusted.accelerometer
                                  ORDER BY file_id DESC, line_number DESC LIMIT 1);
INSERT INTO trusted.accelerometer
SELECT user_email, reading_time, x, y, z, 999999, line_number, serial_number
  FROM trusted.accelerometer ORDER BY file_id, line_number LIMIT 1;
DELETE FROM curated.customer WHERE customer_key = (SELECT min(customer_key::text)::uuid FROM curated.customer);
UPDATE trusted.step_trainer SET distance_from_object = distance_from_object + 1
 WHERE (file_id, line_number) = (SELECT file_id, line_number FROM trusted.step_trainer
                                  ORDER BY file_id, line_number LIMIT 1);
DELETE FROM curated.machine_learning
 WHERE step_trainer_line_number = (SELECT max(step_trainer_line_number) FROM curated.machine_learning);
SELECT view, method, inserted, deleted, reason FROM stedi.refresh(full => true);
SELECT public.zones_differ() AS zones_differ;
ROLLBACK;

-- A landing table changed by hand: the next refresh rebuilds every zone,
-- and makes the map of which files hold whose readings again from landing.
BEGIN;
UPDATE landing.accelerometer SET user_email = 'dave@test.com'
 WHERE user_email = 'alice@test.com' AND file_id = 5;
SELECT DISTINCT method, reason FROM stedi.refresh();
SELECT user_email, file_id FROM stedi.accelerometer_file_user WHERE file_id = 5 ORDER BY 1;
ROLLBACK;

-- Each zone but the last was analyzed right after it was filled, so the
-- next zone's plan sees real row counts (autovacuum sees to the last).
SELECT c.oid::regclass::text AS view, c.reltuples, s.last_analyze IS NOT NULL AS analyzed
  FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE c.relnamespace IN ('trusted'::regnamespace, 'curated'::regnamespace)
   AND c.relkind = 'r' AND c.oid <> 'curated.machine_learning'::regclass
 ORDER BY 1;

-- The keys and lookup indexes the first refresh made.
SELECT indrelid::regclass::text AS zone, pg_get_indexdef(indexrelid) AS index
  FROM pg_index
 WHERE indrelid IN (SELECT oid FROM pg_class
                     WHERE relnamespace IN ('trusted'::regnamespace, 'curated'::regnamespace))
 ORDER BY 1, 2;

-- The landing tables too.
SELECT relname, last_analyze IS NOT NULL AS analyzed
  FROM pg_stat_user_tables WHERE schemaname = 'landing' AND relname <> 'source_file'
   AND relname NOT IN ('rejected', 'unknown_field') ORDER BY 1;

-- A failed refresh leaves the zones and the log as they were.
BEGIN;
ALTER TABLE curated.machine_learning RENAME TO ml_elsewhere;
INSERT INTO stedi.pending_file VALUES (5, 'accelerometer');
\set VERBOSITY sqlstate
SELECT * FROM stedi.refresh();
\set VERBOSITY default
ROLLBACK;
SELECT count(*) AS runs FROM stedi.refresh_run;

-- The training table's plan: hash or merge on the owner and =#, never a
-- nested loop.
CREATE TEMPORARY VIEW training_join AS
SELECT s.sensor_reading_time, a.x
  FROM trusted.step_trainer s
  JOIN trusted.customer c ON c.serial_number = s.serial_number
  JOIN trusted.accelerometer a
    ON a.user_email = c.email AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT * FROM training_join;
SET enable_hashjoin = off;
EXPLAIN (COSTS OFF) SELECT * FROM training_join;
RESET enable_hashjoin;
RESET enable_nestloop;
DROP VIEW training_join;

-- Incremental or full, by cost: a zone whose incremental way would read
-- more than half as many rows as a rebuild is rebuilt, and says why.
SELECT * FROM stedi.choose_method(50, 100);
SELECT * FROM stedi.choose_method(51, 100);

-- A zone rebuilt by cost turns nested loops and sorts off for its own
-- comparison only: every zone after it chooses its plans as if alone.
-- (The file this test adds is rolled back; its file id is given back
-- too, so that later tests see the ids they always saw.)
SELECT last_value AS file_id_last, is_called AS file_id_called
  FROM landing.source_file_file_id_seq \gset
BEGIN;
CREATE TEMPORARY TABLE nestloop_seen (call serial, setting text, sort text);
CREATE OR REPLACE FUNCTION stedi.choose_method(incremental_rows bigint, full_rows bigint,
                                               OUT method text, OUT reason text)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.nestloop_seen (setting, sort)
    VALUES (current_setting('enable_nestloop'), current_setting('enable_sort'));
    method := 'full';
    reason := 'forced by the test';
END
$$;
INSERT INTO landing.source_file (kind, path, size_bytes)
VALUES ('accelerometer', 'accelerometer/landing/accelerometer-nestloop.json', 0);
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
SELECT 'alice@test.com', '2022-06-18 10:00:07.004+00', 4, 0, 0, max(file_id), 1
  FROM landing.source_file;
SELECT view, method, inserted, deleted FROM stedi.refresh();
SELECT call, setting, sort FROM pg_temp.nestloop_seen ORDER BY call;
ROLLBACK;
SELECT setval('landing.source_file_file_id_seq', :file_id_last, :'file_id_called') > 0 AS file_id_given_back;

-- Join method by measured size: under a tenth of the zone, nested loops
-- through its indexes; else hash joins over the whole zone;
-- NULLs, the planner's choice.
BEGIN;
SELECT stedi.join_by_size(10, 100);
SELECT current_setting('enable_nestloop') AS nestloop, current_setting('enable_hashjoin') AS hashjoin,
       current_setting('enable_mergejoin') AS mergejoin;
SELECT stedi.join_by_size(11, 100);
SELECT current_setting('enable_nestloop') AS nestloop, current_setting('enable_hashjoin') AS hashjoin,
       current_setting('enable_mergejoin') AS mergejoin;
SELECT stedi.join_by_size(NULL, NULL);
SELECT current_setting('enable_nestloop') AS nestloop, current_setting('enable_hashjoin') AS hashjoin,
       current_setting('enable_mergejoin') AS mergejoin;
ROLLBACK;

-- A zone's change tables are analyzed on a sample of 3,000 rows
-- (statistics target 10: histograms of 11 bounds), whatever the session's.
BEGIN;
CREATE TEMPORARY TABLE stedi_minus_9 AS SELECT g AS v FROM generate_series(1, 5000) AS g;
CREATE TEMPORARY TABLE stedi_plus_9 AS SELECT g AS v FROM generate_series(1, 5000) AS g;
SET LOCAL default_statistics_target = 1000;
SELECT stedi.analyze_change(9);
SELECT tablename, array_length(histogram_bounds::text::int[], 1) AS bounds
  FROM pg_stats WHERE tablename IN ('stedi_minus_9', 'stedi_plus_9') ORDER BY 1;
ROLLBACK;

-- A change of the consent policy makes every zone full, and the log says
-- why; the session's planner settings change nothing (they are pinned).
SELECT stedi.set_consent_policy('as_of');
SET enable_hashjoin = off;
SET enable_seqscan = off;
SET default_statistics_target = 1;
SELECT DISTINCT method, reason FROM stedi.refresh();
RESET enable_hashjoin;
RESET enable_seqscan;
RESET default_statistics_target;
SELECT max(array_length(histogram_bounds::text::text[], 1)) > 2 AS statistics_kept
  FROM pg_stats WHERE schemaname = 'landing' AND tablename = 'accelerometer';
SELECT stedi.set_setting('consent_policy', NULL);  -- back to the default
SELECT DISTINCT method, reason FROM stedi.refresh();
SELECT public.zones_differ() AS zones_differ;
-- Setting the policy in force again, by name or back to the default,
-- changes no zone: the next refresh rebuilds nothing.
SELECT stedi.set_consent_policy('original');
SELECT stedi.set_setting('consent_policy', NULL);
SELECT DISTINCT method, reason FROM stedi.refresh();

-- Nothing changed: one row per zone, nothing written, and why (one
-- statement checks it, src/refresh.c); with only_if_changed, no rows and
-- no run logged.  A queued change is never mistaken for nothing.
SELECT view, method, reason, inserted, deleted FROM stedi.refresh();
SELECT count(*) AS runs_before FROM stedi.refresh_run \gset
SELECT count(*) AS zones FROM stedi.refresh(only_if_changed => true);
SELECT count(*) - :runs_before AS runs_logged FROM stedi.refresh_run;
INSERT INTO stedi.pending_customer VALUES ('alice@test.com');
SELECT view, method, reason FROM stedi.refresh(only_if_changed => true);

-- A zone changed by hand is put right by a full refresh, and its row
-- count in stedi.zone_state is what it holds (counted during the
-- comparison, not the count before less the rows deleted).
INSERT INTO trusted.step_trainer
SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object + 1, -1, s.line_number
  FROM trusted.step_trainer AS s;
SELECT view, method, inserted, deleted FROM stedi.refresh(full => true)
 WHERE view = 'trusted.step_trainer'::regclass;
SELECT z.zone, s.rows AS zone_state_rows,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', z.zone),
                                            false, true, '')))[1]::text::bigint AS rows_held
  FROM stedi.zones() AS z JOIN stedi.zone_state AS s ON s.view = z.zone
 ORDER BY z.step;
SELECT public.zones_differ() AS zones_differ;
