-- Refreshing on a schedule (the background worker: src/scheduler*.c), and
-- what an operator looks at.

------------------------------------------------------------------------------
-- Refresh on a schedule
------------------------------------------------------------------------------

-- This database's schedule: at most one row.
CREATE TABLE IF NOT EXISTS stedi.refresh_job (
    one                  boolean PRIMARY KEY DEFAULT true CHECK (one),
    every                interval NOT NULL
                         CHECK (every BETWEEN interval '1 second' AND interval '1 year'),
    run_as               regrole NOT NULL DEFAULT current_user::regrole,
    created_at           timestamptz NOT NULL DEFAULT now(),
    next_run_at          timestamptz NOT NULL DEFAULT now(),
    last_checked_at      timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE stedi.refresh_job IS 'The refresh schedule of this database (stedi.schedule_refresh); run by the stedi scheduler background worker';
COMMENT ON COLUMN stedi.refresh_job.run_as IS 'The role the scheduled refresh runs as: whoever scheduled it (a role whose privileges the writer has)';
COMMENT ON COLUMN stedi.refresh_job.consecutive_failures IS 'Failed runs in a row; each doubles the wait before the next try, up to an hour';

CREATE OR REPLACE FUNCTION stedi.scheduler_check() RETURNS void
AS 'MODULE_PATHNAME', 'stedi_scheduler_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.scheduler_check() IS 'Fails, saying why, when this server cannot run scheduled refreshes';

CREATE OR REPLACE FUNCTION stedi.scheduler_running() RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_scheduler_running' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.scheduler_running() IS 'Whether the stedi scheduler background worker is running';

CREATE OR REPLACE FUNCTION stedi.worker_statements(OUT statement text, OUT parameter_types text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'stedi_worker_statements' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.worker_statements() IS
    'Every SQL statement the scheduler''s refresh worker runs (with its parameter types), and the settings it pins, for review and for the regression test';

CREATE OR REPLACE FUNCTION stedi.refresh_job_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'stedi_refresh_job_changed' LANGUAGE C
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION stedi.refresh_job_changed() IS 'Statement trigger on stedi.refresh_job: tells the scheduler at commit';
CREATE OR REPLACE TRIGGER refresh_job_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON stedi.refresh_job FOR EACH STATEMENT EXECUTE FUNCTION stedi.refresh_job_changed();

-- A schedule runs as a role its writer acts as: no one can make the
-- scheduler run as a role they could not SET ROLE to themselves.
CREATE OR REPLACE FUNCTION stedi.check_refresh_job_run_as() RETURNS trigger
LANGUAGE plpgsql
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
CREATE OR REPLACE TRIGGER check_run_as BEFORE INSERT OR UPDATE OF run_as
    ON stedi.refresh_job FOR EACH ROW EXECUTE FUNCTION stedi.check_refresh_job_run_as();

-- run_as defaults to the caller's current_user: a default is computed in
-- the caller's query, before this function takes its owner's rights.  The
-- caller's login role must have the privileges of run_as (it could SET
-- ROLE to it), so no one schedules a refresh as a role they cannot act as.
CREATE OR REPLACE FUNCTION stedi.schedule_refresh(every interval,
                                       run_as regrole DEFAULT current_user::regrole)
RETURNS stedi.refresh_job
LANGUAGE plpgsql
SECURITY DEFINER
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
COMMENT ON FUNCTION stedi.unschedule_refresh() IS 'Stop refreshing this database on a schedule; true if there was a schedule';

------------------------------------------------------------------------------
-- What an operator looks at
------------------------------------------------------------------------------

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
COMMENT ON VIEW stedi.zone_status IS
    'Each trusted and curated view: rows and time of its last successful refresh, whether landing changed since, the last run and the schedule (schedule_overdue: it should have run but did not)';

