-- DROP EXTENSION stedi deletes landing data only when told CASCADE, and
-- says how much would go.  Last in the suite: it drops the extension.
SELECT (SELECT count(*) FROM landing.customer) AS customers,
       (SELECT count(*) FROM landing.accelerometer) AS accelerometer,
       (SELECT count(*) FROM landing.step_trainer) AS step_trainer,
       (SELECT count(*) FROM landing.rejected) AS rejected,
       (SELECT count(*) FROM landing.source_file) AS files;
DROP EXTENSION stedi;
DROP EXTENSION IF EXISTS stedi RESTRICT;
SELECT count(*) AS still_there FROM landing.customer;

-- Every other statement that would drop the extension is refused, whatever
-- landing holds: cascades from plpgsql, its own schemas.
\set VERBOSITY terse
DROP EXTENSION plpgsql CASCADE;
DROP LANGUAGE plpgsql CASCADE;
DROP SCHEMA landing CASCADE;
DROP SCHEMA stedi CASCADE;
\set VERBOSITY default
SELECT count(*) AS still_there FROM landing.customer;

-- The guard counts with pg_catalog's count(), whatever the search_path.
CREATE SCHEMA decoy;
CREATE AGGREGATE decoy.count(*) (sfunc = int8inc, stype = int8, initcond = '-1000000');
SET search_path = decoy, pg_catalog;
DROP EXTENSION stedi;
RESET search_path;
DROP SCHEMA decoy CASCADE;

-- The guard reads the statement, not a setting: only CASCADE gets past it.
SET client_min_messages = warning;
DROP EXTENSION stedi CASCADE;
RESET client_min_messages;
SELECT count(*) AS stedi_left FROM pg_extension WHERE extname = 'stedi';
SELECT count(*) AS guard_left FROM pg_event_trigger WHERE evtname = 'stedi_guard_drop';

-- An empty lakehouse drops like any extension; so does one whose files
-- were all unloaded.
CREATE EXTENSION stedi;
DROP EXTENSION stedi;
CREATE EXTENSION stedi;
INSERT INTO landing.source_file (kind, path, size_bytes) VALUES ('customer', 'c.json', 0);
DROP EXTENSION stedi;
SELECT rows_removed FROM stedi.unload_file((SELECT file_id FROM landing.source_file));
DROP EXTENSION stedi;

-- DROP OWNED BY the extension's owner would drop it: refused, even empty.
CREATE ROLE stedi_regress_owner SUPERUSER;
SET ROLE stedi_regress_owner;
CREATE EXTENSION stedi;
RESET ROLE;
\set VERBOSITY terse
DROP OWNED BY stedi_regress_owner;
DROP EXTENSION plpgsql CASCADE;
\set VERBOSITY default
SELECT extname, extowner::regrole FROM pg_extension WHERE extname = 'stedi';
DROP EXTENSION stedi;
DROP OWNED BY stedi_regress_owner;
DROP ROLE stedi_regress_owner;

-- Other extensions are not its business.
CREATE EXTENSION stedi;
INSERT INTO landing.source_file (kind, path, size_bytes) VALUES ('customer', 'c.json', 0);
CREATE EXTENSION pg_trgm;
DROP EXTENSION pg_trgm;
-- but naming it beside others is enough
CREATE EXTENSION pg_trgm;
DROP EXTENSION pg_trgm, stedi;
SELECT extname FROM pg_extension WHERE extname IN ('pg_trgm', 'stedi') ORDER BY 1;
DROP EXTENSION pg_trgm;
-- and the guard is only an event trigger: calling it by hand is refused
SELECT stedi.guard_drop();
SET client_min_messages = warning;
DROP EXTENSION stedi CASCADE;
RESET client_min_messages;
