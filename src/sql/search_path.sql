-- The search_path every PL/pgSQL function of stedi runs with.

------------------------------------------------------------------------------
-- One search_path for all PL/pgSQL
--
-- Triggers run inside other roles' statements, SECURITY DEFINER functions
-- with their owner's rights, the refresh inside the scheduler's worker: a
-- name any of them resolved through the caller's search_path could reach
-- an object a less trusted role planted.  So every PL/pgSQL function of
-- the extension runs with search_path = pg_catalog, pg_temp, set here,
-- after every file has made its functions, and not in each function's
-- header: a function added later cannot be forgotten (sql/security.sql
-- checks them all).  Only comments.sql comes after this file, and in the
-- update script src/sql/updates/*.after.sql: neither may make a function
-- (test/t_upgrade.sh compares an updated database with a fresh install).
-- Each file's own SETs are the settings a function needs beyond this.
-- SQL functions that run queries, and C functions that are triggers, run
-- as their owner or run queries, pin it in their header (or roles.sql);
-- those meant to be inlined into the caller's query, and the other C
-- functions, take none: a SET clause stops inlining, and costs a call of
-- the consent filter or the millisecond operators a context switch.  (ALTER ROUTINE: a procedure
-- would be pinned too.)
------------------------------------------------------------------------------

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid
          FROM pg_catalog.pg_proc AS p
          JOIN pg_catalog.pg_depend AS d
            ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.objid OPERATOR(pg_catalog.=) p.oid
           AND d.deptype OPERATOR(pg_catalog.=) 'e'
          JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
          JOIN pg_catalog.pg_language AS l ON l.oid OPERATOR(pg_catalog.=) p.prolang
         WHERE e.extname OPERATOR(pg_catalog.=) 'stedi'
           AND l.lanname OPERATOR(pg_catalog.=) 'plpgsql'
         ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;
