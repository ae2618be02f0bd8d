-- stedi: what every script checks first (src/sql/guard.sql).  Every
-- file of src/sql runs at install and again at every update, so each
-- statement can run twice: CREATE OR REPLACE, IF NOT EXISTS, or made when
-- missing.
--
-- Every name is schema-qualified: no script depends on the search_path of
-- whoever runs CREATE EXTENSION or ALTER EXTENSION.

-- This script runs as a superuser.  Refuse a schema stedi that someone
-- else made (or put objects in): its objects would be reached by this
-- script and, later, by the scheduler.  And resolve every name in
-- pg_catalog first, whatever the script's search_path.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
DO $$
DECLARE
    foreign_owner name;
BEGIN
    SELECT r.rolname INTO foreign_owner
      FROM (SELECT n.nspowner AS owner FROM pg_catalog.pg_namespace AS n
             WHERE n.nspname OPERATOR(pg_catalog.=) 'stedi'
            UNION ALL
            SELECT p.proowner FROM pg_catalog.pg_proc AS p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) 'stedi'::pg_catalog.regnamespace
            UNION ALL
            SELECT c.relowner FROM pg_catalog.pg_class AS c
             WHERE c.relnamespace OPERATOR(pg_catalog.=) 'stedi'::pg_catalog.regnamespace
            UNION ALL
            SELECT o.oprowner FROM pg_catalog.pg_operator AS o
             WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'stedi'::pg_catalog.regnamespace
            UNION ALL
            SELECT t.typowner FROM pg_catalog.pg_type AS t
             WHERE t.typnamespace OPERATOR(pg_catalog.=) 'stedi'::pg_catalog.regnamespace) AS o
      JOIN pg_catalog.pg_roles AS r ON r.oid OPERATOR(pg_catalog.=) o.owner
     WHERE NOT r.rolsuper
     LIMIT 1;
    -- stedi stores text as it arrived, UTF-8; another encoding would make
    -- a single unconvertible character roll back a whole file
    IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
        RAISE EXCEPTION 'stedi needs a UTF8 database, not %', pg_catalog.getdatabaseencoding()
              USING ERRCODE = 'feature_not_supported',
                    DETAIL = 'The feeds are UTF-8 JSON; in another encoding a character with no equivalent would fail its whole file.',
                    HINT = 'Create the database with ENCODING ''UTF8'' (createdb -E UTF8 -T template0), then CREATE EXTENSION stedi there.';
    END IF;
    IF foreign_owner IS NOT NULL THEN
        RAISE EXCEPTION 'schema "stedi" holds objects of role "%", who is not a superuser', foreign_owner
              USING ERRCODE = 'insufficient_privilege',
                    DETAIL = 'The extension''s functions would run with a superuser''s rights next to objects that role controls.',
                    HINT = 'Drop or rename that schema, then CREATE EXTENSION stedi makes its own.';
    END IF;
END
$$;

