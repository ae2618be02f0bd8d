-- The way past one machine (docs/scale-out.md): every zone and landing
-- table carries the column it is distributed by, and the zones' unique
-- keys contain it, as Citus requires of a distributed table.  Native hash
-- partitioning asks the same of a partitioned table, so it tests this on
-- one machine: each table is cloned, indexes and constraints included,
-- hash-partitioned by its column; and the training join, run over the
-- clones, is done partition by partition (each device's readings meet
-- only their own partition's) and gives the same rows.
CREATE TEMP TABLE distribution (rel regclass, col name) ;
INSERT INTO distribution VALUES
    ('landing.customer', 'serial_number'),
    ('landing.step_trainer', 'serial_number'),
    ('landing.accelerometer', 'user_email'),
    ('landing.rejected', 'file_id'),
    ('landing.unknown_field', 'file_id'),
    ('trusted.customer', 'serial_number'),
    ('trusted.accelerometer', 'serial_number'),
    ('trusted.step_trainer', 'serial_number'),
    ('curated.customer', 'serial_number'),
    ('curated.machine_learning', 'serial_number'),
    ('stedi.step_trainer_file_serial', 'serial_number'),
    ('stedi.accelerometer_file_user', 'user_email');

-- every table of the zones is listed (landing.source_file, one row per
-- file, is a reference table: copied whole to every node)
SELECT c.oid::regclass AS not_listed
  FROM pg_class AS c
 WHERE c.relnamespace IN ('landing'::regnamespace, 'trusted'::regnamespace, 'curated'::regnamespace)
   AND c.relkind = 'r' AND c.oid <> 'landing.source_file'::regclass
   AND c.oid NOT IN (SELECT rel FROM distribution);

-- each carries its column, never NULL
SELECT d.rel, d.col, a.attnotnull AS not_null
  FROM distribution AS d
  LEFT JOIN pg_attribute AS a ON a.attrelid = d.rel AND a.attname = d.col AND NOT a.attisdropped
 ORDER BY d.rel::text;

-- the zones have their keys by now (made at their first refresh), and
-- every unique index of every table contains its column
SELECT d.rel, count(*) FILTER (WHERE i.indisunique) AS unique_indexes,
       count(*) FILTER (WHERE i.indisunique
                          AND NOT (SELECT a.attnum FROM pg_attribute AS a
                                    WHERE a.attrelid = d.rel AND a.attname = d.col) = ANY (i.indkey::int2[]))
           AS without_its_column
  FROM distribution AS d
  LEFT JOIN pg_index AS i ON i.indrelid = d.rel
 GROUP BY d.rel ORDER BY d.rel::text;

-- each cloned with its indexes and constraints, hash-partitioned by its
-- column into 4 parts (a unique index without the column fails here), and
-- filled with the table's rows
DO $$
DECLARE
    d record;
    clone text;
BEGIN
    FOR d IN SELECT * FROM distribution ORDER BY rel::text LOOP
        clone := 'pg_temp.' || replace(d.rel::text, '.', '_');
        EXECUTE format('CREATE TABLE %s (LIKE %s INCLUDING ALL) PARTITION BY HASH (%I)',
                       clone, d.rel, d.col);
        FOR part IN 0..3 LOOP
            EXECUTE format('CREATE TABLE %s_%s PARTITION OF %s FOR VALUES WITH (MODULUS 4, REMAINDER %s)',
                           clone, part, clone, part);
        END LOOP;
        EXECUTE format('INSERT INTO %s SELECT * FROM %s', clone, d.rel);
    END LOOP;
END
$$;
SELECT d.rel,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', d.rel), false, true, '')))[1]::text
     = (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM pg_temp.%s', replace(d.rel::text, '.', '_')),
                                            false, true, '')))[1]::text AS same_rows
  FROM distribution AS d ORDER BY d.rel::text;

-- The training join (same millisecond) over the clones, and over the
-- tables themselves.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['clone', 'table'] LOOP
        EXECUTE format('CREATE VIEW pg_temp.pairs_of_%s AS
                        SELECT s.sensor_reading_time, s.serial_number, a.reading_time, a.x, a.file_id, a.line_number
                          FROM %s AS s
                          JOIN %s AS c ON c.serial_number = s.serial_number
                          JOIN %s AS a
                            ON a.serial_number = c.serial_number AND a.user_email = c.email
                           AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time',
                       t, CASE t WHEN 'clone' THEN 'pg_temp.trusted_step_trainer' ELSE 'trusted.step_trainer' END,
                       CASE t WHEN 'clone' THEN 'pg_temp.trusted_customer' ELSE 'trusted.customer' END,
                       CASE t WHEN 'clone' THEN 'pg_temp.trusted_accelerometer' ELSE 'trusted.accelerometer' END);
    END LOOP;
END
$$;
ANALYZE pg_temp.trusted_customer, pg_temp.trusted_accelerometer, pg_temp.trusted_step_trainer;
SET enable_partitionwise_join = on;
-- over the clones, partition by partition: an Append of one join per
-- part, never a join across parts
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || query INTO plan;
    RETURN plan -> 0 -> 'Plan';
END
$$;
SELECT p ->> 'Node Type' AS top,
       jsonb_array_length(p -> 'Plans') AS parts,
       (SELECT bool_and(c ->> 'Node Type' IN ('Hash Join', 'Merge Join', 'Nested Loop'))
          FROM jsonb_array_elements(p -> 'Plans') AS c) AS each_part_joined_alone
  FROM pg_temp.plan_of('SELECT * FROM pg_temp.pairs_of_clone') AS p;
-- the same rows
SELECT (SELECT count(*) FROM pg_temp.pairs_of_table) AS pairs,
       (SELECT count(*) FROM pg_temp.pairs_of_table) > 0 AS some,
       (SELECT count(*) FROM ((TABLE pg_temp.pairs_of_clone EXCEPT ALL TABLE pg_temp.pairs_of_table)
                              UNION ALL
                              (TABLE pg_temp.pairs_of_table EXCEPT ALL TABLE pg_temp.pairs_of_clone)) AS d) AS differing;
RESET enable_partitionwise_join;
