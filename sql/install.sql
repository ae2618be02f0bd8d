-- CREATE EXTENSION builds the four schemas and every zone object.
CREATE EXTENSION stedi;

SELECT nspname FROM pg_namespace
 WHERE nspname IN ('landing', 'trusted', 'curated', 'stedi') ORDER BY 1;

-- Every relation of the zones, with its kind (r table, m materialized view).
SELECT n.nspname, c.relname, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('landing', 'trusted', 'curated', 'stedi')
   AND c.relkind IN ('r', 'm', 'v')
 ORDER BY 1, 2;

-- Typed snake_case columns, lineage columns, NOT NULL where required.
SELECT table_schema, table_name, column_name, data_type, is_nullable
  FROM information_schema.columns
 WHERE table_schema = 'landing'
 ORDER BY table_name, ordinal_position;

SELECT a.attrelid::regclass AS view, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace IN ('trusted'::regnamespace, 'curated'::regnamespace)
   AND c.relkind = 'r' AND a.attnum > 0
 ORDER BY a.attrelid::regclass::text, a.attnum;

-- The zones' keys and lookup indexes are made by the first refresh, once
-- the tables are filled (see refresh.sql).
SELECT indrelid::regclass::text AS zone, pg_get_indexdef(indexrelid) AS index
  FROM pg_index
 WHERE indrelid IN (SELECT oid FROM pg_class
                     WHERE relnamespace IN ('trusted'::regnamespace, 'curated'::regnamespace))
 ORDER BY 1, 2;

-- Beside each zone, its definition, which \d+ shows.
SELECT c.oid::regclass::text AS definition, obj_description(c.oid, 'pg_class') AS comment
  FROM pg_class c
 WHERE c.relkind = 'v' AND c.relnamespace IN ('trusted'::regnamespace, 'curated'::regnamespace)
 ORDER BY 1;
SELECT pg_get_viewdef('curated.machine_learning_definition');

-- The zones start empty; the first stedi.refresh() fills them.
SELECT count(*) FROM curated.machine_learning;
SELECT count(*) AS zones_refreshed FROM stedi.zone_state;

-- Everything belongs to the extension.
SELECT pg_describe_object(classid, objid, 0) AS member
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stedi')
   AND deptype = 'e'
 ORDER BY 1;
