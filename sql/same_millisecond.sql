-- =# compares times by the millisecond they fall in.
SET timezone = 'UTC';
SET search_path = stedi, public;

SELECT a, b, a =# b AS eq, a <># b AS ne, a <# b AS lt, a <=# b AS le,
       a ># b AS gt, a >=# b AS ge, ms_cmp(a, b) AS cmp
  FROM (VALUES
    ('2022-06-18 14:20:44.103+00'::timestamptz, '2022-06-18 14:20:44.103+00'::timestamptz),
    ('2022-06-18 14:20:44.1030', '2022-06-18 14:20:44.103999'),
    ('2022-06-18 14:20:44.103999', '2022-06-18 14:20:44.104'),
    ('2022-06-18 14:20:44.104', '2022-06-18 14:20:44.103'),
    -- before 1970 and before 2000 the floor, not truncation, decides
    ('1999-12-31 23:59:59.9995', '1999-12-31 23:59:59.999'),
    ('2000-01-01 00:00:00', '1999-12-31 23:59:59.9999'),
    ('1969-12-31 23:59:59.9991', '1969-12-31 23:59:59.9999'),
    ('infinity', 'infinity'),
    ('-infinity', '2022-06-18 14:20:44.103'),
    ('infinity', '2022-06-18 14:20:44.103')) AS v(a, b);

-- Null in, null out (strict), like = on timestamptz.
SELECT NULL::timestamptz =# now() AS null_eq;

-- Equal milliseconds hash equal, in both hash functions.
SELECT ms_hash('2022-06-18 14:20:44.103') = ms_hash('2022-06-18 14:20:44.103999') AS hash_same_ms,
       ms_hash('2022-06-18 14:20:44.103') = ms_hash('2022-06-18 14:20:44.104') AS hash_next_ms,
       ms_hash_extended('2022-06-18 14:20:44.103', 42)
         = ms_hash_extended('2022-06-18 14:20:44.1035', 42) AS ext_same_ms,
       ms_hash_extended('2022-06-18 14:20:44.103', 0)
         = ms_hash_extended('2022-06-18 14:20:44.103', 1) AS ext_seed_matters;

-- The operator is declared for the planner: hashes, merges, commutes,
-- negates, and sits in a valid btree and hash operator family.
SELECT oprname, oprcanhash, oprcanmerge,
       oprcom::regoperator, oprnegate::regoperator, oprrest, oprjoin
  FROM pg_operator
 WHERE oprnamespace = 'stedi'::regnamespace ORDER BY oprname;

SELECT am.amname, opc.opcname, amvalidate(opc.oid)
  FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
 WHERE opc.opcnamespace = 'stedi'::regnamespace ORDER BY 1;

-- Two reading tables with a few rows in common milliseconds.
CREATE TABLE st (serial text, t timestamptz);
CREATE TABLE acc (serial text, t timestamptz, x float8);
INSERT INTO st SELECT 's' || (i % 50), '2022-06-18 00:00:00+00'::timestamptz + i * interval '1 ms'
  FROM generate_series(1, 20000) i;
INSERT INTO acc SELECT 's' || (i % 50), '2022-06-18 00:00:00+00'::timestamptz + i * interval '1 ms' + interval '250 us', i
  FROM generate_series(1, 40000, 2) i;
ANALYZE st, acc;

-- Each row of acc is 250 us off its partner, in the same millisecond.
SELECT count(*) FROM st JOIN acc ON st.serial = acc.serial AND st.t =# acc.t;
SELECT count(*) FROM st JOIN acc ON st.serial = acc.serial AND st.t = acc.t;

-- The planner can hash-join on =# ...
SET enable_nestloop = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM st JOIN acc ON st.serial = acc.serial AND st.t =# acc.t;
SELECT count(*) FROM st JOIN acc ON st.serial = acc.serial AND st.t =# acc.t;

-- ... and merge-join on it, sorting by the millisecond order.
RESET enable_mergejoin;
SET enable_hashjoin = off;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM st JOIN acc ON st.t =# acc.t;
SELECT count(*) FROM st JOIN acc ON st.t =# acc.t;
RESET enable_hashjoin;
RESET enable_nestloop;

-- Left alone, it picks a hash or merge join, never a nested loop.
EXPLAIN (COSTS OFF)
SELECT count(*) FROM st JOIN acc ON st.serial = acc.serial AND st.t =# acc.t;

-- A btree index with the millisecond order answers =# lookups.
CREATE INDEX ON acc USING btree (t stedi.timestamptz_ms_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT x FROM acc WHERE t =# '2022-06-18 00:00:00.001999+00';
SELECT x FROM acc WHERE t =# '2022-06-18 00:00:00.001999+00';
RESET enable_seqscan;

DROP TABLE st, acc;
RESET search_path;
