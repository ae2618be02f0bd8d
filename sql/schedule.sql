-- Scheduling, settings and what an operator looks at, on a server without
-- stedi in shared_preload_libraries (the TAP test t/001_scheduler.pl runs
-- the scheduler itself).
SET timezone = 'UTC';

-- No background worker here: scheduling says what to do instead, and
-- stores nothing.
\set VERBOSITY default
SELECT stedi.schedule_refresh('1 minute');
SELECT count(*) AS jobs FROM stedi.refresh_job;
SELECT stedi.scheduler_running();
SELECT stedi.unschedule_refresh();

-- Landing changes are noted per statement, and a refresh consumes them.
SELECT count(*) AS pending_changes FROM stedi.landing_change;
INSERT INTO landing.source_file (kind, path, size_bytes)
VALUES ('step_trainer', 'step_trainer/landing/step_trainer-2.json', 0);
INSERT INTO landing.step_trainer (sensor_reading_time, serial_number, distance_from_object, file_id, line_number)
VALUES ('2022-06-18 10:00:00.005+00', 'SA', 105, 6, 1);
SELECT relation FROM stedi.landing_change;
SELECT landing_changed_since FROM stedi.zone_status WHERE step = 1;

-- only_if_changed refreshes when something changed ...
SELECT view, method, rows FROM stedi.refresh(only_if_changed => true);
SELECT count(*) AS pending_changes FROM stedi.landing_change;

-- ... and does nothing, logs nothing, when nothing did.
SELECT count(*) AS runs_before FROM stedi.refresh_run \gset
SELECT view, method, rows FROM stedi.refresh(only_if_changed => true);
SELECT count(*) = :runs_before AS no_new_run FROM stedi.refresh_run;

-- A plain refresh always runs.
SELECT count(*) AS views_refreshed FROM stedi.refresh();

-- What an operator looks at.
SELECT step, view, rows, last_refreshed_at IS NOT NULL AS refreshed,
       last_refresh_duration >= '0' AS timed, landing_changed_since,
       last_run_status, refresh_every, next_run_at, schedule_overdue
  FROM stedi.zone_status;

-- A schedule stored without a scheduler to run it shows as overdue.
INSERT INTO stedi.refresh_job (every) VALUES ('1 minute');
SELECT DISTINCT refresh_every, schedule_overdue FROM stedi.zone_status;
DELETE FROM stedi.refresh_job;

-- Settings: defaults, changes, validation, reset.
SELECT name, value, default_value, is_default FROM stedi.settings;
SELECT stedi.set_setting('run_history_retention', '14 days');
SELECT name, value, is_default FROM stedi.settings;
SELECT stedi.set_setting('run_history_retention', 'soon');
SELECT stedi.set_setting('run_history_retention', '-1 day');
-- so is one so long that now() minus it leaves the range of timestamps
-- (it would fail every refresh at its pruning)
\set VERBOSITY terse
SELECT stedi.set_setting('run_history_retention', '100000000 years');
\set VERBOSITY default
-- a value means the same whatever the session's IntervalStyle: read and
-- stored in one
SET intervalstyle = sql_standard;
SELECT stedi.set_setting('run_history_retention', '-0 30:00:00');
RESET intervalstyle;
SELECT value FROM stedi.settings WHERE name = 'run_history_retention';
SELECT stedi.set_setting('colour', 'blue');
SELECT stedi.set_setting('run_history_retention', NULL);
SELECT name, value, is_default FROM stedi.settings;

-- Runs older than the retention are pruned at the next run.
UPDATE stedi.refresh_run SET started_at = started_at - interval '31 days'
 WHERE run_id = (SELECT min(run_id) FROM stedi.refresh_run);
SELECT count(*) AS runs_before FROM stedi.refresh_run \gset
SELECT count(*) AS views_refreshed FROM stedi.refresh();
SELECT count(*) - :runs_before AS net_new_runs FROM stedi.refresh_run;
SELECT min(run_id) > 1 AS oldest_pruned FROM stedi.refresh_run;
SELECT count(*) AS orphan_log_rows FROM stedi.refresh_log l
 WHERE NOT EXISTS (SELECT FROM stedi.refresh_run r WHERE r.run_id = l.run_id);
