-- stedi.fill_zone(): a definition's rows written into its zone in batches
-- (as COPY writes), with every check INSERT would make.
CREATE SCHEMA fill;
CREATE TABLE fill.source (id integer, name text);
-- more rows than one batch (1000), so batches are flushed mid-stream
INSERT INTO fill.source SELECT i, 'row ' || i FROM generate_series(1, 2500) AS i;
CREATE VIEW fill.definition AS SELECT id, name FROM fill.source;

-- Every row arrives once, and the indexes know each of them.
CREATE TABLE fill.zone (id integer NOT NULL, name text);
CREATE UNIQUE INDEX ON fill.zone (id);
SELECT stedi.fill_zone('fill.zone', 'fill.definition');
SELECT count(*), count(DISTINCT id), min(id), max(id) FROM fill.zone;
SET enable_seqscan = off;
SELECT name FROM fill.zone WHERE id = 2345;
RESET enable_seqscan;
SELECT n_tup_ins FROM pg_stat_xact_user_tables WHERE relid = 'fill.zone'::regclass;

-- A unique index refuses a second copy, and the whole fill is undone.
SELECT stedi.fill_zone('fill.zone', 'fill.definition');
SELECT count(*) FROM fill.zone;

-- NOT NULL and CHECK constraints hold.
INSERT INTO fill.source VALUES (NULL, 'no id');
TRUNCATE fill.zone;
SELECT stedi.fill_zone('fill.zone', 'fill.definition');
DELETE FROM fill.source WHERE id IS NULL;
ALTER TABLE fill.zone ADD CHECK (id < 2000);
SELECT stedi.fill_zone('fill.zone', 'fill.definition');
SELECT count(*) FROM fill.zone;

-- A dropped column of the zone is skipped: columns match by position
-- among the live ones.
CREATE TABLE fill.zone2 (gone integer, id integer, name text);
ALTER TABLE fill.zone2 DROP COLUMN gone;
SELECT stedi.fill_zone('fill.zone2', 'fill.definition');
SELECT id, name FROM fill.zone2 ORDER BY id LIMIT 2;

-- The definition may run as a parallel query (the leader writes, the
-- workers read), in a transaction that has written nothing yet.
CREATE TABLE fill.zone3 (id integer, name text);
SET force_parallel_mode = on;
SELECT stedi.fill_zone('fill.zone3', 'fill.definition');
RESET force_parallel_mode;

-- Definitions that do not match their zone are refused, saying how.
CREATE TABLE fill.narrow (id integer);
SELECT stedi.fill_zone('fill.narrow', 'fill.definition');
CREATE TABLE fill.swapped (name text, id integer);
SELECT stedi.fill_zone('fill.swapped', 'fill.definition');
-- values are never coerced: a length or precision must be declared the same
CREATE VIEW fill.definition12 AS SELECT id, name::varchar(12) AS name FROM fill.source;
CREATE TABLE fill.short (id integer, name varchar(3));
SELECT stedi.fill_zone('fill.short', 'fill.definition12');
CREATE TABLE fill.unlimited (id integer, name varchar);
SELECT stedi.fill_zone('fill.unlimited', 'fill.definition12');

-- A partition's bounds hold; an identity column GENERATED ALWAYS takes no
-- value from outside, as with INSERT.
CREATE TABLE fill.parted (id integer, name text) PARTITION BY RANGE (id);
CREATE TABLE fill.low PARTITION OF fill.parted FOR VALUES FROM (1) TO (1001);
SELECT stedi.fill_zone('fill.low', 'fill.definition');
SELECT stedi.fill_zone('fill.parted', 'fill.definition');
CREATE TABLE fill.numbered (id integer GENERATED ALWAYS AS IDENTITY, name text);
SELECT stedi.fill_zone('fill.numbered', 'fill.definition');

-- Row triggers, row security and generated columns would be skipped, so
-- such tables are refused.
CREATE FUNCTION fill.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TABLE fill.triggered (id integer, name text);
CREATE TRIGGER t BEFORE INSERT ON fill.triggered FOR EACH ROW EXECUTE FUNCTION fill.noop();
SELECT stedi.fill_zone('fill.triggered', 'fill.definition');
CREATE TABLE fill.generated (id integer, name text, twice integer GENERATED ALWAYS AS (id * 2) STORED);
CREATE VIEW fill.definition3 AS SELECT id, name, 0 AS twice FROM fill.source;
SELECT stedi.fill_zone('fill.generated', 'fill.definition3');
SELECT stedi.fill_zone('fill.definition', 'fill.source');

-- The caller needs INSERT on the zone: stedi_admin may run refresh, but
-- not write the zones by hand.  Row security binds a role that is granted
-- INSERT (not the superuser running this file), and is refused too.
CREATE TABLE fill.secured (id integer, name text);
ALTER TABLE fill.secured ENABLE ROW LEVEL SECURITY;
GRANT USAGE ON SCHEMA fill TO stedi_admin;
GRANT SELECT ON fill.source, fill.definition TO stedi_admin;
GRANT INSERT ON fill.secured TO stedi_admin;
SET ROLE stedi_admin;
SELECT stedi.fill_zone('fill.zone2', 'fill.definition');
SELECT stedi.fill_zone('trusted.customer', 'trusted.customer_definition');
SELECT stedi.fill_zone('fill.secured', 'fill.definition');
RESET ROLE;

-- A CHECK that is not parallel safe is filled as INSERT would fill it: by
-- a serial plan, even where every query is made parallel.
CREATE SEQUENCE fill.checked;
CREATE FUNCTION fill.count_check(x integer) RETURNS boolean
LANGUAGE plpgsql PARALLEL UNSAFE
AS $$ BEGIN PERFORM nextval('fill.checked'); RETURN x > 0; END $$;
CREATE TABLE fill.unsafe_check (x integer CHECK (fill.count_check(x)));
CREATE VIEW fill.numbers AS SELECT g AS x FROM generate_series(1, 1000) AS g;
SET force_parallel_mode = on;
SELECT stedi.fill_zone('fill.unsafe_check', 'fill.numbers') AS filled;
RESET force_parallel_mode;
SELECT count(*) AS rows, (SELECT last_value FROM fill.checked) AS checks FROM fill.unsafe_check;

SET client_min_messages = warning;
DROP SCHEMA fill CASCADE;
RESET client_min_messages;
