-- Retracting a delivery: stedi.unload_file(file_id) removes a file's rows,
-- its quarantined lines and its owner-map entries; the zones follow at the
-- next refresh, incrementally.  A file's record is never deleted alone.
-- Runs on the data the earlier tests left behind.
SET timezone = 'UTC';

-- Zone row counts of one customer (by normalized email) and device.
CREATE FUNCTION pg_temp.zone_rows(person text, serial text,
    OUT customer bigint, OUT readings bigint, OUT curated bigint,
    OUT steps bigint, OUT pairs bigint) LANGUAGE sql AS $$
SELECT (SELECT count(*) FROM trusted.customer WHERE email = person),
       (SELECT count(*) FROM trusted.accelerometer WHERE user_email = person),
       (SELECT count(*) FROM curated.customer WHERE serial_number = serial),
       (SELECT count(*) FROM trusted.step_trainer WHERE serial_number = serial),
       (SELECT count(*) FROM curated.machine_learning WHERE serial_number = serial)
$$;
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();

-- Uma: an old customer record, a newer one; two accelerometer files (one
-- with a quarantined line), a step trainer file.
BEGIN;
SELECT public.load_customer('customer/landing/uma-1.json', 'uma@example.test', 'SU',
                            updated => '2022-08-01', consent => '2022-08-01', phone => 'old') AS c1,
       public.load_customer('customer/landing/uma-2.json', 'Uma@Example.test', 'SU',
                            updated => '2022-08-02', consent => '2022-08-01', phone => 'new') AS c2 \gset
SELECT stedi.begin_file('accelerometer', 'accelerometer/landing/uma-1.json', 1,
                        decode(repeat('b3', 32), 'hex')) AS a1 \gset
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
VALUES ('uma@example.test', '2022-08-03 10:00:00.001+00', 1, 1, 1, :a1, 1),
       ('uma@example.test', '2022-08-03 10:00:00.002+00', 2, 2, 2, :a1, 2);
INSERT INTO landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line, email)
VALUES ('accelerometer', :a1, 3, 100, '"x" must be a number, got string', '{"user":"uma@example.test","x":"?"}', 'uma@example.test');
SELECT stedi.finish_file(:a1, 3, 2, 1, 0);
SELECT public.load_file('accelerometer', 'accelerometer/landing/uma-2.json', $$
    ('UMA@example.test', '2022-08-03 10:00:00.003+00'::timestamptz, 3::float8, 3::float8, 3::float8)$$) AS a2,
       public.load_file('step_trainer', 'step_trainer/landing/uma-1.json', $$
    ('2022-08-03 10:00:00.001+00'::timestamptz, 'SU', 10),
    ('2022-08-03 10:00:00.003+00', 'SU', 30)$$) AS s1 \gset
COMMIT;
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT * FROM pg_temp.zone_rows('uma@example.test', 'SU');
SELECT phone FROM trusted.customer WHERE email = 'uma@example.test';

-- Nobody deletes a file's record alone: not an admin, not a superuser,
-- not by TRUNCATE.  Nor changes what it was loaded as; its counts are
-- finish_file's.
\set VERBOSITY terse
UPDATE landing.source_file SET kind = 'step_trainer' WHERE file_id = :a1;
UPDATE landing.source_file SET file_id = DEFAULT WHERE file_id = :a1;
UPDATE landing.source_file SET sha256 = NULL WHERE file_id = :a1;
SET ROLE stedi_admin;
UPDATE landing.source_file SET path = 'elsewhere.json' WHERE file_id = :a1;
RESET ROLE;
UPDATE landing.source_file SET extra_fields = extra_fields WHERE file_id = :a1;
DELETE FROM landing.source_file WHERE file_id = :a1;
TRUNCATE landing.source_file;
SET ROLE stedi_admin;
DELETE FROM landing.source_file WHERE file_id = :a1;
-- and only admins unload
RESET ROLE;
SET ROLE stedi_loader;
SELECT stedi.unload_file(:a1);
RESET ROLE;
SET ROLE stedi_analyst;
SELECT stedi.unload_file(:a1);
RESET ROLE;
SELECT stedi.unload_file(-1);
SELECT stedi.unload_file(NULL);
\set VERBOSITY default

-- Unload the first accelerometer file, as an admin: its rows, its
-- quarantined line and its owner-map entry go; the zones follow at the
-- next refresh, incrementally.
SET ROLE stedi_admin;
SELECT kind, path, rows_removed, rejected_lines_removed, unloaded_by = session_user AS by_me,
       loaded_at IS NOT NULL AS lineage_kept
  FROM stedi.unload_file(:a1);
RESET ROLE;
SELECT (SELECT count(*) FROM landing.accelerometer WHERE file_id = :a1) AS rows_left,
       (SELECT count(*) FROM landing.rejected WHERE file_id = :a1) AS rejected_left,
       (SELECT count(*) FROM stedi.accelerometer_file_user WHERE file_id = :a1) AS owner_map_left,
       (SELECT count(*) FROM landing.source_file WHERE file_id = :a1) AS record_left;
SELECT landing_changed_since FROM stedi.zone_status WHERE step = 1;
SELECT view, method, rows FROM stedi.refresh() WHERE view = 'trusted.accelerometer'::regclass;
SELECT * FROM pg_temp.zone_rows('uma@example.test', 'SU');
SELECT public.zones_differ() AS differ;

-- The second one: Uma has no reading left, so she leaves curated, and her
-- device's rows with her.
SELECT rows_removed FROM stedi.unload_file(:a2);
SELECT view, method FROM stedi.refresh() WHERE view = 'curated.customer'::regclass;
SELECT * FROM pg_temp.zone_rows('uma@example.test', 'SU');
SELECT public.zones_differ() AS differ;

-- Its content stays known: loading it again is skipped, unless forced (an
-- erasure made since could otherwise be undone by a routine run).
BEGIN;
SELECT stedi.begin_file('accelerometer', 'accelerometer/landing/uma-2.json', 1,
                        sha256('accelerometer/landing/uma-2.json')) IS NULL AS skipped;
SELECT stedi.log_ingest(sha256('accelerometer/landing/uma-2.json'), 'accelerometer',
                        'accelerometer/landing/uma-2.json', 1, 'skipped', now()) = :a2 AS names_the_unloaded_file;
SELECT message FROM stedi.ingest_log ORDER BY attempt_id DESC LIMIT 1;
ROLLBACK;

-- Reload the second file for real, forced; she is back.
BEGIN;
SELECT stedi.begin_file('accelerometer', 'accelerometer/landing/uma-2.json', 1,
                        sha256('accelerometer/landing/uma-2.json'), true) AS a2 \gset
SELECT forced FROM landing.source_file WHERE file_id = :a2;
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
VALUES ('UMA@example.test', '2022-08-03 10:00:00.003+00', 3, 3, 3, :a2, 1);
SELECT stedi.finish_file(:a2, 1, 1, 0, 0);
COMMIT;
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT * FROM pg_temp.zone_rows('uma@example.test', 'SU');

-- The step trainer file: its readings and their pairs go.
SELECT rows_removed FROM stedi.unload_file(:s1);
SELECT view, method FROM stedi.refresh() WHERE view = 'trusted.step_trainer'::regclass;
SELECT * FROM pg_temp.zone_rows('uma@example.test', 'SU');
SELECT public.zones_differ() AS differ;

-- The newer customer file: the older record wins again.
SELECT rows_removed FROM stedi.unload_file(:c2);
SELECT view, method FROM stedi.refresh() WHERE view = 'trusted.customer'::regclass;
SELECT phone FROM trusted.customer WHERE email = 'uma@example.test';
SELECT public.zones_differ() AS differ;

-- The older one too: no record is left, Uma leaves trusted.
SELECT rows_removed FROM stedi.unload_file(:c1);
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT * FROM pg_temp.zone_rows('uma@example.test', 'SU');
SELECT public.zones_differ() AS differ;

-- A file no refresh has seen yet: the refresh does not add it.
BEGIN;
SELECT stedi.begin_file('accelerometer', 'accelerometer/landing/uma-3.json', 1,
                        decode(repeat('b6', 32), 'hex')) AS a3 \gset
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
VALUES ('frank@test.com', '2022-08-03 10:00:00.009+00', 9, 9, 9, :a3, 1);
SELECT stedi.finish_file(:a3, 1, 1, 0, 0);
COMMIT;
SELECT rows_removed FROM stedi.unload_file(:a3);
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT count(*) AS never_added FROM trusted.accelerometer WHERE file_id = :a3;
SELECT public.zones_differ() AS differ;

-- The log: one row per unload, the files as they were described.
SELECT kind, path, rows_removed, rejected_lines_removed FROM stedi.unload_log ORDER BY unload_id;

-- A line of a file is one landing row: written twice by hand (the landing
-- tables have no unique index), it would stop every refresh at the zone's
-- key.  The statement that would do it is refused, by anyone.
\set VERBOSITY terse
SELECT file_id AS fa, line_number AS la FROM landing.accelerometer ORDER BY file_id, line_number LIMIT 1 \gset
SET ROLE stedi_admin;
INSERT INTO landing.accelerometer SELECT * FROM landing.accelerometer WHERE file_id = :fa AND line_number = :la;
RESET ROLE;
INSERT INTO landing.step_trainer SELECT * FROM landing.step_trainer ORDER BY file_id, line_number LIMIT 1;
INSERT INTO landing.customer SELECT * FROM landing.customer ORDER BY file_id, line_number LIMIT 1;
UPDATE landing.accelerometer SET line_number = :la
 WHERE (file_id, line_number) = (SELECT file_id, line_number FROM landing.accelerometer
                                  WHERE file_id = :fa AND line_number > :la ORDER BY 2 LIMIT 1);
\set VERBOSITY default
-- a line of its own is fine (and makes the next refresh a full one)
BEGIN;
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
SELECT user_email, reading_time, 0, 0, 0, file_id, 1000000 FROM landing.accelerometer
 WHERE file_id = :fa AND line_number = :la;
SELECT count(*) > 0 AS zones_refreshed FROM stedi.refresh();
ROLLBACK;
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT public.zones_differ() AS differ;
