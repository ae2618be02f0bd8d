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
 WHERE c.relkind = 'm' AND a.attnum > 0
 ORDER BY a.attrelid::regclass::text, a.attnum;

-- Each zone view has a unique index, which REFRESH ... CONCURRENTLY needs.
SELECT indrelid::regclass::text AS view, pg_get_indexdef(indexrelid) AS index
  FROM pg_index
 WHERE indisunique
   AND indrelid IN (SELECT oid FROM pg_class WHERE relkind = 'm')
 ORDER BY 1;

-- The views start empty and unpopulated: reading one before the first
-- stedi.refresh() says what to do.
SELECT c.oid::regclass::text AS view, c.relispopulated
  FROM pg_class c WHERE c.relkind = 'm' ORDER BY 1;
SELECT count(*) FROM curated.machine_learning;

-- Everything belongs to the extension.
SELECT pg_describe_object(classid, objid, 0) AS member
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stedi')
   AND deptype = 'e'
 ORDER BY 1;
