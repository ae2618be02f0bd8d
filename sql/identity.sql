-- One identity per person: emails compare with their ASCII letters in lower
-- case, in trusted membership, the training join, latest-record-wins,
-- pseudonymous keys, the owner maps and erasure.  And every text value that
-- reaches an index has a bound, for writes by hand too.
-- Runs on the data the earlier tests left behind.
SET timezone = 'UTC';

SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT public.zones_differ() AS differ_before;

-- How erasure reads a quarantined line's raw text: the value of its
-- "email", "user" or "serialNumber" field, escapes decoded, whatever else
-- the line holds; never another field, a substring, a string cut off at
-- the end, a bad escape or \u0000, a blank serial number.
SELECT stedi.raw_line_names(l, 'ann@x.com', ARRAY['N/A', 'S-1', ' ']) AS names, l AS line
  FROM (VALUES ('{"user":"Ann\u0040X.com"'), ('{"email" : "ann@x.com", bad'),
               ('{"serialNumber":"N\/A"}'), ('x "serialNumber":"S-1"'),
               ('{"phone":"N/A","email":"bob@x.com"}'), ('{"note":"ann@x.com"}'),
               ('{"email":"joann@x.com"}'), ('{"email":"ann@x.com.au"}'),
               ('{"serialNumber":" "}'), ('{"email":"ann@x.c'),
               ('{"email":"ann\u0000@x.com"}'), ('{"email":"ann@x.com\q"}'),
               ('{"a":"email":"ann@x.com"}'), ('\')) AS v(l);
-- a NULL among the serial numbers names no one
SELECT stedi.raw_line_names('{"serialNumber":"S"}', 'ann@x.com', ARRAY[NULL, 'S']) AS with_null,
       stedi.raw_line_names('{"serialNumber":"S"}', 'ann@x.com', ARRAY[NULL]::text[]) AS only_null;

-- The function: A-Z only, whatever the locale.
SELECT stedi.normalize_email('Ada.Quill@Example.TEST') AS folded,
       stedi.normalize_email('ÉLodie@Example.test') AS only_ascii;

-- Ada's customer record spells her email one way, her phone another, her
-- step trainer reads at the moment her phone does.  Loaded through the
-- loading protocol, so the refresh is incremental.
BEGIN;
SELECT public.load_customer('customer/landing/ada-1.json', 'Ada.Quill@Example.test', 'SQ',
                            updated => '2022-07-01', consent => '2022-07-01', phone => '111') IS NOT NULL AS customer;
SELECT public.load_file('accelerometer', 'accelerometer/landing/ada-1.json', $$
    ('ada.quill@example.test', '2022-07-02 10:00:00.001+00'::timestamptz, 1::float8, 1::float8, 1::float8),
    ('ADA.QUILL@EXAMPLE.TEST', '2022-07-02 10:00:00.002+00', 2, 2, 2)$$) IS NOT NULL AS readings;
SELECT public.load_file('step_trainer', 'step_trainer/landing/ada-1.json', $$
    ('2022-07-02 10:00:00.001+00'::timestamptz, 'SQ', 10),
    ('2022-07-02 10:00:00.002+00', 'SQ', 20)$$) IS NOT NULL AS steps;
COMMIT;
SELECT view, method FROM stedi.refresh() WHERE view = 'trusted.customer'::regclass;
-- one customer, every reading hers, paired, under one key
SELECT email, phone FROM trusted.customer WHERE email ILIKE 'ada.quill@%';
SELECT user_email, x FROM trusted.accelerometer WHERE user_email ILIKE 'ada.quill@%' ORDER BY x;
SELECT m.distance_from_object, m.x,
       m.customer_key = stedi.customer_key('ada.quill@example.test', k.secret) AS key_of_every_spelling
  FROM curated.machine_learning m, stedi.pseudonym_secret k
 WHERE m.serial_number = 'SQ' ORDER BY 1;
SELECT count(*) AS ada_curated FROM curated.customer WHERE serial_number = 'SQ';
SELECT user_email FROM stedi.accelerometer_file_user WHERE user_email ILIKE 'ada.quill@%';
SELECT public.zones_differ() AS differ_incremental;

-- A later record in a third spelling: the latest record wins, still one
-- customer (not a second one), with the same key.
SELECT public.load_customer('customer/landing/ada-2.json', 'ADA.quill@example.TEST', 'SQ',
                            updated => '2022-07-03', consent => '2022-07-01', phone => '222') IS NOT NULL AS customer;
SELECT view, method FROM stedi.refresh() WHERE view = 'trusted.customer'::regclass;
SELECT email, phone FROM trusted.customer WHERE email ILIKE 'ada.quill@%';
SELECT count(*) AS pairs FROM curated.machine_learning WHERE serial_number = 'SQ';
SELECT public.zones_differ() AS differ_incremental;
SELECT count(*) > 0 AS rebuilt FROM stedi.refresh(full => true);
SELECT public.zones_differ() AS differ_full;
SELECT email, phone FROM trusted.customer WHERE email ILIKE 'ada.quill@%';

-- Quarantined lines of Ada: one stedi-load kept her email of (its raw
-- text spells it with a JSON escape), one that did not parse and carries
-- it as a complete string in capitals, one that carries her serial number.
-- And neighbours whose emails contain hers or that hers contains: they stay.
BEGIN;
SELECT stedi.begin_file('accelerometer', 'accelerometer/landing/ada-bad.json', 1,
                        decode(repeat('a5', 32), 'hex')) AS f \gset
INSERT INTO landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line, email, serial_number)
VALUES ('accelerometer', :f, 1, 0, '"x" must be a number, got string',
        '{"user":"Ada.Quill\u0040Example.test","timestamp":1,"x":"1","y":1,"z":1}', 'Ada.Quill@Example.test', NULL),
       ('accelerometer', :f, 2, 80, 'malformed JSON', '{"user": "ADA.QUILL@EXAMPLE.TEST", "timestamp":', NULL, NULL),
       ('accelerometer', :f, 3, 160, 'malformed JSON', '{"user":"nada.quill@example.test","timestamp":', NULL, NULL),
       ('accelerometer', :f, 4, 240, 'malformed JSON', '{"user":"ada.quill@example.test.au","timestamp":', NULL, NULL),
       ('accelerometer', :f, 5, 320, '"timestamp" must be an integer, got string',
        '{"user":"a.quill@example.test","timestamp":"x","x":1,"y":1,"z":1}', 'a.quill@example.test', NULL),
       -- not JSON before the email: only its raw text carries it, escaped
       ('accelerometer', :f, 6, 400, 'malformed JSON at offset 13: invalid char in json text',
        '{"timestamp":12x,"user":"ada.quill\u0040example.test"}', NULL, NULL),
       ('accelerometer', :f, 7, 480, 'malformed JSON at offset 13: invalid char in json text',
        '{"timestamp":12x,"user":"Ada.Quill@Example\u002eTEST"}', NULL, NULL),
       ('accelerometer', :f, 8, 560, 'malformed JSON at offset 13: invalid char in json text',
        '{"timestamp":12x,"user":"nada.quill\u0040example.test"}', NULL, NULL),
       -- a stray quote before her email
       ('accelerometer', :f, 9, 640, 'malformed JSON at offset 14: invalid char in json text',
        '{"note":"Ada "Q","user":"Ada.Quill@example.test"}', NULL, NULL);
SELECT stedi.finish_file(:f, 9, 0, 9, 0);
SELECT stedi.begin_file('step_trainer', 'step_trainer/landing/ada-bad.json', 1,
                        decode(repeat('a6', 32), 'hex')) AS f \gset
INSERT INTO landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line, email, serial_number)
VALUES ('step_trainer', :f, 1, 0, 'missing required field "distanceFromObject"',
        '{"sensorReadingTime":1,"serialNumber":"SQ"}', NULL, 'SQ'),
       ('step_trainer', :f, 2, 50, 'missing required field "distanceFromObject"',
        '{"sensorReadingTime":1,"serialNumber":"SQQ"}', NULL, 'SQQ');
SELECT stedi.finish_file(:f, 2, 0, 2, 0);
-- a customer line of Ada's that was quarantined names a device of hers that
-- no record of hers names: its readings are hers too
SELECT stedi.begin_file('customer', 'customer/landing/ada-bad.json', 1,
                        decode(repeat('a7', 32), 'hex')) AS f \gset
INSERT INTO landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line, email, serial_number)
VALUES ('customer', :f, 1, 0, 'birthDay is not a date YYYY-MM-DD',
        '{"email":"ADA.QUILL@example.test","serialNumber":"SQX","birthDay":"1985-02-30"}', 'ADA.QUILL@example.test', 'SQX');
SELECT stedi.finish_file(:f, 1, 0, 1, 0);
SELECT public.load_file('step_trainer', 'step_trainer/landing/ada-2.json', $$
    ('2022-07-02 10:00:00.005+00'::timestamptz, 'SQX', 50)$$) IS NOT NULL AS steps;
COMMIT;

-- Erasure by a fourth spelling removes every record of every spelling, and
-- the log counts exactly that: 2 customer records, 2 readings, 3 step
-- trainer readings (of both her devices), 7 quarantined lines.
SELECT customer_records, accelerometer_rows, step_trainer_rows, rejected_lines
  FROM stedi.forget_customer('ada.QUILL@example.test');
SELECT (SELECT count(*) FROM landing.customer WHERE email ILIKE 'ada.quill@example.test')
     + (SELECT count(*) FROM landing.accelerometer WHERE user_email ILIKE 'ada.quill@example.test')
     + (SELECT count(*) FROM landing.step_trainer WHERE serial_number IN ('SQ', 'SQX'))
     + (SELECT count(*) FROM trusted.customer WHERE email = 'ada.quill@example.test')
     + (SELECT count(*) FROM trusted.accelerometer WHERE user_email = 'ada.quill@example.test')
     + (SELECT count(*) FROM trusted.step_trainer WHERE serial_number = 'SQ')
     + (SELECT count(*) FROM curated.customer WHERE serial_number = 'SQ')
     + (SELECT count(*) FROM curated.machine_learning WHERE serial_number = 'SQ')
     + (SELECT count(*) FROM stedi.accelerometer_file_user WHERE user_email = 'ada.quill@example.test')
     + (SELECT count(*) FROM stedi.step_trainer_file_serial WHERE serial_number = 'SQ') AS ada_rows_after;
SELECT line_number, raw_line FROM landing.rejected
 WHERE file_id IN (SELECT file_id FROM landing.source_file WHERE path LIKE '%/ada-bad.json')
 ORDER BY kind, line_number;
SELECT public.zones_differ() AS differ_after_erasure;

-- Bounds, for writes by hand as well: an email of 255 bytes, a blank
-- serial number, an accelerometer user of 3,000 bytes, a step trainer
-- serial number of 129 bytes, a name of 513 bytes, a phone of 65 bytes.
INSERT INTO landing.source_file (kind, path, size_bytes) VALUES ('customer', 'by-hand.json', 0)
RETURNING file_id AS f \gset
\set VERBOSITY terse
INSERT INTO landing.customer (email, serial_number, file_id, line_number)
VALUES (repeat('e', 243) || '@example.test', 'S', :f, 1);
INSERT INTO landing.customer (email, serial_number, file_id, line_number)
VALUES ('blank@example.test', E' \t', :f, 1);
INSERT INTO landing.customer (email, serial_number, file_id, line_number)
VALUES ('   ', 'S', :f, 1);
-- a vertical tab is blank too; a serial number "v" (or an email of v's) is not
INSERT INTO landing.customer (email, serial_number, file_id, line_number)
VALUES ('vt@example.test', E'\x0B ', :f, 1);
INSERT INTO landing.customer (customer_name, email, serial_number, file_id, line_number)
VALUES (repeat('n', 513), 'name@example.test', 'S', :f, 1);
INSERT INTO landing.customer (phone, email, serial_number, file_id, line_number)
VALUES (repeat('1', 65), 'phone@example.test', 'S', :f, 1);
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
VALUES (repeat('u', 3000), '2022-07-02', 0, 0, 0, :f, 1);
INSERT INTO landing.step_trainer (sensor_reading_time, serial_number, distance_from_object, file_id, line_number)
VALUES ('2022-07-02', repeat('s', 129), 0, :f, 1);
INSERT INTO landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line, email)
VALUES ('customer', :f, 1, 0, 'x', 'x', repeat('e', 255));
\set VERBOSITY default
-- exactly at the bounds: accepted
BEGIN;
INSERT INTO landing.customer (customer_name, phone, email, serial_number, file_id, line_number)
VALUES (repeat('n', 512), repeat('1', 64), repeat('e', 241) || '@example.test', repeat('s', 128), :f, 1);
SELECT octet_length(email) AS email_bytes FROM landing.customer WHERE file_id = :f;
ROLLBACK;
BEGIN;
INSERT INTO landing.customer (email, serial_number, file_id, line_number)
VALUES ('vvv', 'v', :f, 1);
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
VALUES ('v', '2022-07-02', 0, 0, 0, :f, 1);
INSERT INTO landing.step_trainer (sensor_reading_time, serial_number, distance_from_object, file_id, line_number)
VALUES ('2022-07-02', 'v', 0, :f, 1);
SELECT (SELECT count(*) FROM landing.customer WHERE file_id = :f) AS customers_of_v,
       (SELECT count(*) FROM landing.step_trainer WHERE file_id = :f) AS devices_of_v;
ROLLBACK;
SELECT rows_removed FROM stedi.unload_file(:f);
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT public.zones_differ() AS differ_at_end;
