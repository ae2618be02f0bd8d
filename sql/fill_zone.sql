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

-- Written grouped by an owner column: each owner's rows on consecutive
-- pages, in the order they came; everything else as without one.
CREATE TABLE fill.readings (id integer NOT NULL, owner text, pad text);
CREATE UNIQUE INDEX ON fill.readings (id);
CREATE VIEW fill.interleaved AS
SELECT i AS id, CASE WHEN i % 8 = 0 THEN NULL ELSE 'owner ' || i % 8 END AS owner,
       repeat('x', 40) AS pad
  FROM generate_series(1, 2500) AS i;
SELECT stedi.fill_zone('fill.readings', 'fill.interleaved', 'owner');
-- one run per owner (NULL is one owner), and within it the rows' order
CREATE VIEW fill.runs AS
SELECT count(*) FILTER (WHERE id_before IS NULL OR owner IS DISTINCT FROM before) AS runs,
       count(*) FILTER (WHERE owner IS NOT DISTINCT FROM before AND id < id_before) AS out_of_order,
       count(*) AS rows, count(DISTINCT id) AS ids
  FROM (SELECT id, owner, lag(owner) OVER w AS before, lag(id) OVER w AS id_before
          FROM fill.readings WINDOW w AS (ORDER BY ctid)) AS r;
SELECT * FROM fill.runs;
-- the unique index and NOT NULL still hold; index entries are made in the
-- order the rows came (the first duplicate is the first row, id 1)
SELECT stedi.fill_zone('fill.readings', 'fill.interleaved', 'owner');
-- but in an index that leads with the owner, in the owners' order, each
-- owner's together: its first duplicate is the first row of the first
-- owner written (owner 1, id 2497), not the first row that came (owner 4,
-- id 2500)
TRUNCATE fill.readings;
CREATE UNIQUE INDEX readings_owner_id_idx ON fill.readings (owner, id);
CREATE VIEW fill.owned AS
SELECT * FROM fill.interleaved WHERE owner IS NOT NULL ORDER BY id DESC;
SELECT stedi.fill_zone('fill.readings', 'fill.owned', 'owner');
SELECT owner AS first_owner_written, id FROM fill.readings ORDER BY ctid LIMIT 1;
SELECT stedi.fill_zone('fill.readings', 'fill.owned', 'owner');
DROP INDEX fill.readings_owner_id_idx;
TRUNCATE fill.readings;
CREATE VIEW fill.no_id AS SELECT NULL::integer AS id, 'someone' AS owner, '' AS pad;
SELECT stedi.fill_zone('fill.readings', 'fill.no_id', 'owner');
-- Memory: rows are held up to maintenance_work_mem, then written, and the
-- next rows held; each time every owner gets one run more (40,000 rows
-- of about 100 bytes fill 1 MB four times).
CREATE OR REPLACE VIEW fill.interleaved AS
SELECT i AS id, CASE WHEN i % 8 = 0 THEN NULL ELSE 'owner ' || i % 8 END AS owner,
       repeat('x', 40) AS pad
  FROM generate_series(1, 40000) AS i;
SET maintenance_work_mem = '1MB';
SELECT stedi.fill_zone('fill.readings', 'fill.interleaved', 'owner');
SELECT runs > 8 AS written_more_than_once, runs <= 8 * 5 AS grouped, out_of_order, rows, ids
  FROM fill.runs;
-- rows larger than maintenance_work_mem are held too (at least 1,000 rows
-- are held before any is written), grouped as the others
TRUNCATE fill.readings;
CREATE VIEW fill.large AS
SELECT i AS id, 'owner ' || i % 2 AS owner, repeat(md5(i::text), 40000) AS pad
  FROM generate_series(1, 3) AS i;
SELECT stedi.fill_zone('fill.readings', 'fill.large', 'owner');
SELECT id, owner, length(pad) FROM fill.readings ORDER BY ctid;
RESET maintenance_work_mem;
-- a CHECK reads tableoid as INSERT sets it
CREATE TABLE fill.own_oid (id integer, owner text, pad text,
                           CHECK (tableoid = 'fill.own_oid'::regclass));
SELECT stedi.fill_zone('fill.own_oid', 'fill.interleaved', 'owner') AS grouped,
       stedi.fill_zone('fill.own_oid', 'fill.interleaved') AS as_they_come;
-- the owner is a live column of the zone
SELECT stedi.fill_zone('fill.readings', 'fill.interleaved', 'nobody');
SELECT stedi.fill_zone('fill.readings', 'fill.interleaved', 'ctid');
ALTER TABLE fill.zone2 ADD COLUMN gone2 integer;
ALTER TABLE fill.zone2 DROP COLUMN gone2;
SELECT stedi.fill_zone('fill.zone2', 'fill.definition', '........pg.dropped.4........');

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
