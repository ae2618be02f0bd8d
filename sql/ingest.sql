-- The loading protocol stedi-load speaks: begin_file, finish_file,
-- log_ingest.  A content hash loaded before is skipped unless forced.
SET timezone = 'UTC';
SELECT decode(repeat('ab', 32), 'hex') AS h \gset

BEGIN;
SELECT stedi.begin_file('step_trainer', '/in/st-1.json', 100, :'h', false) AS file_id \gset
INSERT INTO landing.step_trainer VALUES ('2022-06-18 10:00:00.007+00', 'SA', 107, :file_id, 1);
INSERT INTO landing.rejected VALUES ('step_trainer', :file_id, 2, 57, 'not a JSON object (got array)', '[]');
SELECT stedi.finish_file(:file_id, 2, 1, 1, 0);
COMMIT;
SELECT kind, path, size_bytes, forced, lines_read, rows_loaded, rows_rejected,
       load_duration IS NOT NULL AS timed
  FROM landing.source_file WHERE file_id = :file_id;
SELECT outcome, file_id = :file_id AS same_file, lines_read FROM stedi.ingest_log;

-- The same content again: NULL, nothing registered.
BEGIN;
SELECT stedi.begin_file('step_trainer', '/elsewhere/copy.json', 100, :'h', false) IS NULL AS skip;
ROLLBACK;
SELECT stedi.log_ingest(:'h', 'step_trainer', '/elsewhere/copy.json', 100, 'skipped', now()) = :file_id
       AS points_to_first_load;

-- Forced: registered again, and marked.
BEGIN;
SELECT stedi.begin_file('step_trainer', '/elsewhere/copy.json', 100, :'h', true) IS NOT NULL AS loaded;
SELECT forced FROM landing.source_file ORDER BY file_id DESC LIMIT 1;
ROLLBACK;

-- Counts that do not add up are refused; so are counts that add up but
-- are not what was written.
BEGIN;
SELECT stedi.begin_file('step_trainer', '/in/st-2.json', 100, decode(repeat('cd', 32), 'hex')) AS file_id2 \gset
INSERT INTO landing.step_trainer VALUES ('2022-06-18 10:00:00.008+00', 'SA', 108, :file_id2, 1);
INSERT INTO landing.rejected VALUES ('step_trainer', :file_id2, 2, 57, 'not a JSON object (got array)', '[]');
SAVEPOINT s;
\set VERBOSITY terse
SELECT stedi.finish_file(:file_id2, 3, 1, 1, 0);
ROLLBACK TO SAVEPOINT s;
SELECT stedi.finish_file(:file_id2, 3, 2, 1, 0);
ROLLBACK TO SAVEPOINT s;
-- a finished file takes no more rows, and is finished once
SELECT stedi.finish_file(:file_id2, 2, 1, 1, 0);
INSERT INTO landing.step_trainer VALUES ('2022-06-18 10:00:00.009+00', 'SA', 109, :file_id2, 3);
ROLLBACK TO SAVEPOINT s;
\set VERBOSITY default
ROLLBACK;

-- Rows of a file go to its kind's table, in line order, each line once.
BEGIN;
SELECT stedi.begin_file('step_trainer', '/in/st-4.json', 100, decode(repeat('c4', 32), 'hex')) AS file_id4 \gset
\set VERBOSITY terse
SAVEPOINT s;
INSERT INTO landing.accelerometer VALUES ('a@test.com', now(), 1, 1, 1, :file_id4, 1);
ROLLBACK TO SAVEPOINT s;
INSERT INTO landing.step_trainer VALUES ('2022-06-18 10:00:00.007+00', 'SA', 107, :file_id4, 5);
SAVEPOINT s;
INSERT INTO landing.step_trainer VALUES ('2022-06-18 10:00:00.007+00', 'SA', 107, :file_id4, 5);
ROLLBACK TO SAVEPOINT s;
INSERT INTO landing.step_trainer VALUES ('2022-06-18 10:00:00.007+00', 'SA', 107, :file_id4, 4);
ROLLBACK TO SAVEPOINT s;
-- and a file begun must be finished before COMMIT
COMMIT;
\set VERBOSITY default
SELECT count(*) AS unfinished_file_rolled_back FROM landing.source_file WHERE path = '/in/st-4.json';

-- A loaded file is logged by finish_file alone: log_ingest logs only
-- attempts that loaded nothing.
\set VERBOSITY terse
SELECT stedi.log_ingest(:'h', 'step_trainer', '/in/fake.json', 100, 'loaded', now());
\set VERBOSITY default

-- The database itself refuses a second unforced load of the same content,
-- whoever writes it.
\set VERBOSITY terse
INSERT INTO landing.source_file (kind, path, size_bytes, sha256) VALUES ('step_trainer', '/again.json', 100, :'h');
\set VERBOSITY default
INSERT INTO landing.source_file (kind, path, size_bytes, sha256, forced, lines_read, rows_loaded, rows_rejected)
VALUES ('step_trainer', '/forced.json', 100, :'h', true, 0, 0, 0);
SELECT rows_removed FROM stedi.unload_file((SELECT file_id FROM landing.source_file WHERE path = '/forced.json'));

-- A hash is 32 bytes.
SELECT stedi.begin_file('step_trainer', '/in/st-3.json', 1, '\x00');

-- A failed attempt is logged on its own.
SELECT stedi.log_ingest(decode(repeat('ef', 32), 'hex'), 'customer', '/in/c.json', 5, 'failed', now(), 'refused on purpose') IS NULL AS no_file;
SELECT outcome, message FROM stedi.ingest_log ORDER BY attempt_id;
