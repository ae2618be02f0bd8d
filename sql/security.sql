-- What runs with more rights than its caller is immune to objects other
-- roles create: every SECURITY DEFINER function, trigger and event trigger
-- function pins its search_path, and every statement of the scheduler's
-- worker (which connects as the bootstrap superuser) names its functions
-- and operators with their schema.
SET timezone = 'UTC';

-- Functions that run as their owner, or inside another role's statement
-- (triggers, event triggers): each pins pg_catalog first and pg_temp last.
SELECT p.oid::regprocedure AS function,
       CASE WHEN p.prosecdef THEN 'security definer'
            ELSE format_type(p.prorettype, NULL) END AS runs_as,
       p.proconfig
  FROM pg_proc AS p
  JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                     AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stedi')
   AND (p.prosecdef OR p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype))
 ORDER BY 1;
-- Those, and every PL/pgSQL function (src/sql/search_path.sql pins them
-- all, whatever their headers say).
SELECT count(*) FILTER (WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql'))
         AS plpgsql,
       count(*) FILTER (WHERE NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false))
         AS unpinned
  FROM pg_proc AS p
  JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                     AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stedi')
   AND (p.prosecdef OR p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype)
        OR p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql'));

-- Decoys a database owner could plant: every function and operator the
-- worker's statements use, raising an error when called.
CREATE SCHEMA decoy;
CREATE FUNCTION decoy.trap() RETURNS timestamptz LANGUAGE plpgsql
AS $$ BEGIN RAISE EXCEPTION 'decoy called'; END $$;
CREATE FUNCTION decoy.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS 'SELECT decoy.trap()';
CREATE FUNCTION decoy.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT decoy.trap()';
CREATE FUNCTION decoy.set_config(text, text, boolean) RETURNS text LANGUAGE sql AS 'SELECT decoy.trap()::text';
CREATE FUNCTION decoy.trap_step(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT decoy.trap()::text::bigint';
CREATE AGGREGATE decoy.count(*) (sfunc = decoy.trap_step, stype = bigint, initcond = '0');
CREATE FUNCTION decoy.tid_eq(tid, tid) RETURNS boolean LANGUAGE sql AS 'SELECT decoy.trap() IS NULL';
CREATE OPERATOR decoy.= (leftarg = tid, rightarg = tid, function = decoy.tid_eq);
CREATE FUNCTION decoy.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT decoy.trap() IS NULL';
CREATE OPERATOR decoy.= (leftarg = bigint, rightarg = bigint, function = decoy.int8_eq);
CREATE FUNCTION decoy.ts_lt(timestamptz, timestamptz) RETURNS boolean LANGUAGE sql AS 'SELECT decoy.trap() IS NULL';
CREATE OPERATOR decoy.< (leftarg = timestamptz, rightarg = timestamptz, function = decoy.ts_lt);
CREATE FUNCTION decoy.ts_minus(timestamptz, interval) RETURNS timestamptz LANGUAGE sql AS 'SELECT decoy.trap()';
CREATE OPERATOR decoy.- (leftarg = timestamptz, rightarg = interval, function = decoy.ts_minus);

-- Run a statement as the worker would, with the decoys first in the
-- search_path; return the error it raised, if any.
CREATE FUNCTION pg_temp.run_beside_decoys(statement text, parameter_types text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    args text;
BEGIN
    -- parameters: the job row's version, a time, a count, a status
    SELECT string_agg(CASE trim(t)
                      WHEN 'tid' THEN quote_literal((SELECT ctid FROM stedi.refresh_job)::text)
                      WHEN 'timestamptz' THEN quote_literal(now()::text)
                      WHEN 'integer' THEN '0'
                      ELSE quote_literal('skipped') END, ', ')
      INTO args
      FROM unnest(string_to_array(nullif(parameter_types, ''), ',')) AS t;
    PERFORM pg_catalog.set_config('search_path', 'decoy, pg_catalog', true);
    BEGIN
        IF args IS NULL THEN
            EXECUTE statement;
        ELSE
            EXECUTE format('PREPARE worker_statement(%s) AS %s', parameter_types, statement);
            EXECUTE format('EXECUTE worker_statement(%s)', args);
            DEALLOCATE worker_statement;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
        DEALLOCATE ALL;
        RETURN SQLERRM;
    END;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    RETURN 'ok';
END
$$;

-- A job to read and update, and data for the refresh and the pruning.
INSERT INTO stedi.refresh_job (every, next_run_at) VALUES ('1 minute', now());
BEGIN;
SELECT statement, pg_temp.run_beside_decoys(statement, parameter_types) AS result
  FROM stedi.worker_statements();
ROLLBACK;

-- The harness catches a statement that is not qualified.
BEGIN;
SELECT pg_temp.run_beside_decoys('SELECT count(*) FROM stedi.refresh_job', '') AS unqualified_count,
       pg_temp.run_beside_decoys('SELECT 1 FROM stedi.refresh_job WHERE ctid = $1', 'tid') AS unqualified_operator;
ROLLBACK;
DELETE FROM stedi.refresh_job;
SET client_min_messages = warning;
DROP SCHEMA decoy CASCADE;
RESET client_min_messages;
