-- Every object the extension makes says what it is, so that \d+, \df+,
-- \di+ and \dx+ document the lakehouse.  Each query lists what has no
-- comment: all must be empty.  (Runs after the first refresh, which makes
-- the zones' keys and lookup indexes.)

-- the extension's own objects: schemas, tables, views, sequences,
-- functions, operators, operator classes and families, event trigger
SELECT pg_describe_object(d.classid, d.objid, 0) AS undocumented
  FROM pg_depend AS d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stedi')
   AND d.deptype = 'e'
   AND obj_description(d.objid, d.classid::regclass::name) IS NULL
 ORDER BY 1;
SELECT count(*) AS objects_checked
  FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stedi') AND deptype = 'e';

-- indexes, constraints and triggers of its tables, columns of its tables
-- and views, its schemas and roles
WITH relation AS (
    SELECT oid FROM pg_class
     WHERE relnamespace IN ('landing'::regnamespace, 'trusted'::regnamespace,
                            'curated'::regnamespace, 'stedi'::regnamespace))
SELECT 'index ' || i.indexrelid::regclass AS undocumented
  FROM pg_index AS i WHERE i.indrelid IN (TABLE relation)
   AND obj_description(i.indexrelid, 'pg_class') IS NULL
UNION ALL
SELECT 'constraint ' || k.conname || ' on ' || k.conrelid::regclass
  FROM pg_constraint AS k WHERE k.conrelid IN (TABLE relation)
   AND obj_description(k.oid, 'pg_constraint') IS NULL
UNION ALL
SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass
  FROM pg_trigger AS t WHERE t.tgrelid IN (TABLE relation) AND NOT t.tgisinternal
   AND obj_description(t.oid, 'pg_trigger') IS NULL
UNION ALL
SELECT 'column ' || a.attrelid::regclass || '.' || a.attname
  FROM pg_attribute AS a WHERE a.attrelid IN (TABLE relation)
   AND a.attnum > 0 AND NOT a.attisdropped
   AND (SELECT relkind FROM pg_class WHERE oid = a.attrelid) IN ('r', 'v')
   AND col_description(a.attrelid, a.attnum) IS NULL
UNION ALL
SELECT 'schema ' || nspname FROM pg_namespace
 WHERE nspname IN ('landing', 'trusted', 'curated', 'stedi')
   AND obj_description(oid, 'pg_namespace') IS NULL
UNION ALL
SELECT 'role ' || rolname FROM pg_roles
 WHERE rolname IN ('stedi_loader', 'stedi_analyst', 'stedi_admin')
   AND shobj_description(oid, 'pg_authid') IS NULL
ORDER BY 1;

-- what a data scientist sees
SELECT col_description('curated.machine_learning'::regclass, 4) AS customer_key;
SELECT obj_description('curated.machine_learning_key'::regclass, 'pg_class') AS key;
