-- Identical readings count once in trusted: the same customer, millisecond
-- and x, y, z (accelerometer), the same device, millisecond and distance
-- (step trainer).  Phones and devices resend, and exports overlap.  The
-- first loaded (lowest file, then line) keeps the lineage; landing keeps
-- every row as it arrived; each refresh says how many it set aside.
SET timezone = 'UTC';
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();

-- (load_file, load_customer and zones_differ: sql/helpers.sql)
SELECT public.load_customer('customer/landing/dup-c.json', 'dora@dup.test', 'dev-dora') IS NOT NULL AS loaded;
-- a file with a reading twice, and a step trainer file with one twice
SELECT public.load_file('accelerometer', 'accelerometer/landing/dup-a1.json', $$
    ('dora@dup.test', '2022-06-18 10:00:00.001+00'::timestamptz, 1.0::float8, 2.0::float8, 3.0::float8),
    ('dora@dup.test', '2022-06-18 10:00:00.002+00', 1.0, 2.0, 3.0),
    ('dora@dup.test', '2022-06-18 10:00:00.002+00', 1.0, 2.0, 3.0),
    ('dora@dup.test', '2022-06-18 10:00:00.002+00', 1.0, 2.0, 3.5)$$) AS a1 \gset
SELECT public.load_file('step_trainer', 'step_trainer/landing/dup-s1.json', $$
    ('2022-06-18 10:00:00.001+00'::timestamptz, 'dev-dora', 10),
    ('2022-06-18 10:00:00.002+00', 'dev-dora', 20),
    ('2022-06-18 10:00:00.002+00', 'dev-dora', 20)$$) AS s1 \gset
SELECT view, method, duplicates FROM stedi.refresh()
 WHERE view IN ('trusted.accelerometer'::regclass, 'trusted.step_trainer'::regclass);
-- the second copy (line 3) is set aside; a reading that differs in z is not a copy
SELECT reading_time, z, file_id = :a1 AS first_file, line_number
  FROM trusted.accelerometer WHERE user_email = 'dora@dup.test' ORDER BY reading_time, z;
SELECT sensor_reading_time, distance_from_object, line_number
  FROM trusted.step_trainer WHERE serial_number = 'dev-dora' ORDER BY 1;
-- landing keeps every row as it arrived
SELECT (SELECT count(*) FROM landing.accelerometer WHERE file_id = :a1) AS landing_readings,
       (SELECT count(*) FROM landing.step_trainer WHERE file_id = :s1) AS landing_steps;
-- each step reading pairs once with each reading of its millisecond
SELECT distance_from_object, z FROM curated.machine_learning
 WHERE serial_number = 'dev-dora' ORDER BY 1, 2;

-- An export that overlaps: the same readings again in a later file, and
-- one new.  The first loaded keeps them.
SELECT public.load_file('accelerometer', 'accelerometer/landing/dup-a2.json', $$
    ('DORA@dup.test', '2022-06-18 10:00:00.001+00'::timestamptz, 1.0::float8, 2.0::float8, 3.0::float8),
    ('dora@dup.test', '2022-06-18 10:00:00.002+00', 1.0, 2.0, 3.5),
    ('dora@dup.test', '2022-06-18 10:00:00.003+00', 1.0, 2.0, 3.0)$$) AS a2 \gset
SELECT public.load_file('step_trainer', 'step_trainer/landing/dup-s2.json', $$
    ('2022-06-18 10:00:00.002+00'::timestamptz, 'dev-dora', 20),
    ('2022-06-18 10:00:00.003+00', 'dev-dora', 30)$$) AS s2 \gset
SELECT view, method, inserted, deleted, duplicates FROM stedi.refresh()
 WHERE view IN ('trusted.accelerometer'::regclass, 'trusted.step_trainer'::regclass,
                'curated.machine_learning'::regclass);
SELECT reading_time, z, file_id = :a1 AS first_file, line_number
  FROM trusted.accelerometer WHERE user_email = 'dora@dup.test' ORDER BY reading_time, z;
-- three step readings, three moments: three pairs for the .002 moment's two readings, not six
SELECT distance_from_object, z FROM curated.machine_learning
 WHERE serial_number = 'dev-dora' ORDER BY 1, 2;
SELECT public.zones_differ() AS zones_differ;

-- The first copy's file goes: the next copy takes its place, with its own lineage.
SELECT count(*) AS unloaded FROM stedi.unload_file(:a1);
SELECT view, method, inserted, deleted, duplicates FROM stedi.refresh()
 WHERE view = 'trusted.accelerometer'::regclass;
SELECT reading_time, z, file_id = :a2 AS second_file, line_number
  FROM trusted.accelerometer WHERE user_email = 'dora@dup.test' ORDER BY reading_time, z;
SELECT public.zones_differ() AS zones_differ;

-- The owner map keeps each owner's first and last reading time per file
-- (both spellings of an email are one owner); an unload looks for next
-- copies only in files whose span for the owner meets the lost readings'
-- times, ends included.
SELECT file_id = :a2 AS second_file, first_time, last_time
  FROM stedi.accelerometer_file_user WHERE user_email = 'dora@dup.test' ORDER BY file_id;
SELECT public.load_customer('customer/landing/span-c.json', 'erin@dup.test', 'dev-erin') IS NOT NULL AS loaded;
SELECT public.load_file('accelerometer', 'accelerometer/landing/span-e1.json', $$
    ('erin@dup.test', '2022-06-18 10:00:00.005+00'::timestamptz, 5.0::float8, 5.0::float8, 5.0::float8),
    ('erin@dup.test', '2022-06-18 10:00:00.006+00', 6.0, 6.0, 6.0)$$) AS e1 \gset
SELECT public.load_file('accelerometer', 'accelerometer/landing/span-e2.json', $$
    ('erin@dup.test', '2022-06-18 10:00:00.001+00'::timestamptz, 1.0::float8, 1.0::float8, 1.0::float8),
    ('erin@dup.test', '2022-06-18 10:00:00.005+00', 5.0, 5.0, 5.0)$$) AS e2 \gset
SELECT public.load_file('accelerometer', 'accelerometer/landing/span-e3.json', $$
    ('erin@dup.test', '2022-06-18 10:00:00.009+00'::timestamptz, 9.0::float8, 9.0::float8, 9.0::float8),
    ('erin@dup.test', '2022-06-18 10:00:00.006+00', 6.0, 6.0, 6.0)$$) AS e3 \gset
SELECT view, duplicates FROM stedi.refresh() WHERE view = 'trusted.accelerometer'::regclass;
SELECT CASE file_id WHEN :e1 THEN 'e1' WHEN :e2 THEN 'e2' WHEN :e3 THEN 'e3' END AS file,
       first_time, last_time
  FROM stedi.accelerometer_file_user WHERE user_email = 'erin@dup.test' ORDER BY file_id;
SELECT count(*) AS unloaded FROM stedi.unload_file(:e1);
SELECT view, method, inserted, deleted, duplicates FROM stedi.refresh()
 WHERE view = 'trusted.accelerometer'::regclass;
SELECT reading_time, CASE file_id WHEN :e2 THEN 'e2' WHEN :e3 THEN 'e3' END AS file
  FROM trusted.accelerometer WHERE user_email = 'erin@dup.test' ORDER BY reading_time;
SELECT public.zones_differ() AS zones_differ;
-- a row written by hand widens its file's span: the refresh it calls for
-- mends the map
INSERT INTO landing.accelerometer
VALUES ('Erin@dup.test', '2022-06-18 10:00:00.020+00', 2.0, 2.0, 2.0, :e3, 3);
SELECT view, method FROM stedi.refresh() WHERE view = 'trusted.accelerometer'::regclass;
SELECT CASE file_id WHEN :e2 THEN 'e2' WHEN :e3 THEN 'e3' END AS file, first_time, last_time
  FROM stedi.accelerometer_file_user WHERE user_email = 'erin@dup.test' ORDER BY file_id;

-- a full refresh in the middle of a load (the same transaction) maps the
-- rows written so far; the file's end widens the span to its last row
BEGIN;
SELECT stedi.begin_file('accelerometer', 'accelerometer/landing/span-e4.json', 1,
                        sha256('span-e4')) AS e4 \gset
INSERT INTO landing.accelerometer
VALUES ('erin@dup.test', '2022-06-18 10:00:00.030+00', 3.0, 3.0, 3.0, :e4, 1);
SELECT count(*) > 0 AS refreshed FROM stedi.refresh(full => true);
INSERT INTO landing.accelerometer
VALUES ('erin@dup.test', '2022-06-18 10:00:00.040+00', 4.0, 4.0, 4.0, :e4, 2);
SELECT stedi.finish_file(:e4, 2, 2, 0, 0);
COMMIT;
SELECT first_time, last_time FROM stedi.accelerometer_file_user
 WHERE user_email = 'erin@dup.test' AND file_id = :e4;

-- A file with a lower id that commits after a later one (two loaders at
-- once) was loaded first: its copy takes the place of the later one's.
SELECT last_value AS seq_now FROM landing.source_file_file_id_seq \gset
SELECT setval('landing.source_file_file_id_seq', :seq_now + 50) > 0 AS moved;
SELECT public.load_file('accelerometer', 'accelerometer/landing/dup-late.json', $$
    ('dora@dup.test', '2022-06-18 10:00:00.004+00'::timestamptz, 4.0::float8, 4.0::float8, 4.0::float8)$$) AS late \gset
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT setval('landing.source_file_file_id_seq', :seq_now) > 0 AS moved_back;
SELECT public.load_file('accelerometer', 'accelerometer/landing/dup-early.json', $$
    ('dora@dup.test', '2022-06-18 10:00:00.004+00'::timestamptz, 4.0::float8, 4.0::float8, 4.0::float8)$$) AS early \gset
SELECT :early < :late AS early_has_the_lower_id;
SELECT setval('landing.source_file_file_id_seq', :late) > 0 AS moved_on;
SELECT view, method, inserted, deleted, duplicates FROM stedi.refresh()
 WHERE view = 'trusted.accelerometer'::regclass;
SELECT file_id = :early AS earlier_file FROM trusted.accelerometer
 WHERE user_email = 'dora@dup.test' AND reading_time = '2022-06-18 10:00:00.004+00';
SELECT public.zones_differ() AS zones_differ;

-- A full refresh counts every copy it set aside, and finds what the
-- incremental ones kept.
SELECT view, method, inserted, deleted, duplicates FROM stedi.refresh(full => true)
 WHERE view IN ('trusted.accelerometer'::regclass, 'trusted.step_trainer'::regclass);
SELECT sum(duplicates) > 0 AS logged FROM stedi.refresh_log
 WHERE run_id = (SELECT max(run_id) FROM stedi.refresh_run);
