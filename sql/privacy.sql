-- Consent as of a time, the right to erasure, and pseudonymous keys.
-- Runs on the data zones.sql, refresh.sql and schedule.sql left behind.
SET timezone = 'UTC';

-- Under as_of, frank's reading at .001 and gina's at .003 count only if
-- taken at or after their consent dates.  Move frank's consent to between
-- his two readings with a newer record.
INSERT INTO landing.source_file (kind, path, size_bytes)
VALUES ('customer', 'customer/landing/customer-3.json', 0);
INSERT INTO landing.customer (customer_name, email, serial_number, last_update_date,
                              share_with_research_as_of_date, file_id, line_number)
SELECT 'Frank', 'frank@test.com', 'SF', '2022-06-10', '2022-06-18 10:00:00.002+00', max(file_id), 1
  FROM landing.source_file;
-- and his step trainer read at .001 too, pairing with his phone's reading
INSERT INTO landing.source_file (kind, path, size_bytes)
VALUES ('step_trainer', 'step_trainer/landing/step_trainer-3.json', 0);
INSERT INTO landing.step_trainer (sensor_reading_time, serial_number, distance_from_object, file_id, line_number)
SELECT '2022-06-18 10:00:00.001+00', 'SF', 601, max(file_id), 1 FROM landing.source_file;

-- The policy function itself.
SELECT p, stedi.reading_has_research_consent('2022-06-18 10:00:00.002+00', t, p) AS counts
  FROM (VALUES ('original'), ('as_of')) AS v(p),
       (VALUES ('2022-06-18 10:00:00.001+00'::timestamptz),
               ('2022-06-18 10:00:00.002+00'), ('2022-06-18 10:00:00.003+00')) AS r(t)
 ORDER BY p DESC, t;
SELECT stedi.reading_has_research_consent(NULL, now(), 'as_of') AS no_consent,
       stedi.reading_has_research_consent('1970-01-01 00:00:00+00', now(), 'original') AS epoch_is_no_consent;
SELECT stedi.reading_has_research_consent(now(), now(), 'sometimes');
SELECT stedi.set_consent_policy('sometimes');

-- Frank's rows in the zones: his phone's readings, his device's (SF) and
-- their pairs, each with the columns of its zone.
CREATE TEMPORARY VIEW frank_rows AS
SELECT 'trusted.accelerometer' AS zone, NULL::timestamptz AS sensor_reading_time,
       reading_time, NULL::integer AS distance_from_object, x
  FROM trusted.accelerometer WHERE user_email = 'frank@test.com'
UNION ALL
SELECT 'trusted.step_trainer', sensor_reading_time, NULL, distance_from_object, NULL
  FROM trusted.step_trainer WHERE serial_number = 'SF'
UNION ALL
SELECT 'curated.machine_learning', sensor_reading_time, reading_time, distance_from_object, x
  FROM curated.machine_learning WHERE serial_number = 'SF';

-- The default keeps the original pipeline's rule.
SELECT value, is_default FROM stedi.settings WHERE name = 'consent_policy';
SELECT view, rows FROM stedi.refresh();
SELECT * FROM frank_rows ORDER BY 1, 2, 3, 4, 5;

-- as_of: frank's reading before his consent goes, from every zone; so does
-- the step trainer reading and the training pair of that moment.
SELECT stedi.set_consent_policy('as_of');
SELECT landing_changed_since FROM stedi.zone_status WHERE step = 1;
SELECT view, rows FROM stedi.refresh();
SELECT * FROM frank_rows ORDER BY 1, 2, 3, 4, 5;
DROP VIEW frank_rows;
SELECT count(*) AS readings_before_consent
  FROM trusted.accelerometer a JOIN trusted.customer c ON c.email = a.user_email
 WHERE a.reading_time < c.share_with_research_as_of_date;
SELECT count(*) AS step_readings_before_consent
  FROM trusted.step_trainer s JOIN trusted.customer c ON c.serial_number = s.serial_number
 WHERE s.sensor_reading_time < c.share_with_research_as_of_date;

-- The same result whatever the session's settings.
SET search_path = pg_temp;
SET timezone = 'America/Los_Angeles';
SELECT count(*) AS same_rows FROM stedi.refresh() WHERE rows IS NOT NULL;
RESET search_path;
SET timezone = 'UTC';
SELECT view, rows FROM stedi.zone_status;

-- Back to the default.
SELECT stedi.set_consent_policy('original');
SELECT view, rows FROM stedi.refresh();

-- No personal data in curated: no name, email, phone or birthday column.
SELECT a.attrelid::regclass::text AS view, a.attname
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'curated'::regnamespace AND a.attnum > 0
   AND a.attname ~ '(name|email|phone|birth)'
 ORDER BY 1, 2;

-- Keys: stable, one per customer, and not the plain hash of the email.
SELECT count(DISTINCT customer_key) AS keys, count(*) AS customers FROM curated.customer;
SELECT stedi.customer_key('alice@test.com', k.secret) = stedi.customer_key('alice@test.com', k.secret) AS stable,
       stedi.customer_key('alice@test.com', k.secret) <> stedi.customer_key('Alice@test.com', k.secret) AS exact,
       stedi.customer_key('alice@test.com', k.secret)::text <> left(encode(sha256('alice@test.com'), 'hex'), 32) AS not_plain_hash
  FROM stedi.pseudonym_secret k;
SELECT stedi.customer_key('alice@test.com', '\x00');
SELECT octet_length(secret) AS secret_bytes FROM stedi.pseudonym_secret;

-- Right to erasure: alice goes from every zone, her quarantined line too.
INSERT INTO landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line)
VALUES ('accelerometer', 2, 99, 0, 'malformed JSON', '{"user":"ALICE@test.com","timestamp":');
-- and neighbours whose emails contain hers, which must stay
INSERT INTO landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line)
VALUES ('accelerometer', 2, 100, 0, 'malformed JSON', '{"user":"malice@test.com","timestamp":'),
       ('accelerometer', 2, 101, 0, 'malformed JSON', '{"user":"alice@test.com.au","timestamp":');
SELECT count(*) AS alice_rows_before
  FROM (SELECT email FROM landing.customer WHERE email = 'alice@test.com'
        UNION ALL SELECT user_email FROM landing.accelerometer WHERE user_email = 'alice@test.com'
        UNION ALL SELECT serial_number FROM landing.step_trainer WHERE serial_number = 'SA') z;
SELECT customer_records, accelerometer_rows, step_trainer_rows, rejected_lines,
       erased_by = session_user AS by_me
  FROM stedi.forget_customer('alice@test.com');
SELECT (SELECT count(*) FROM landing.customer WHERE email = 'alice@test.com')
     + (SELECT count(*) FROM landing.accelerometer WHERE user_email = 'alice@test.com')
     + (SELECT count(*) FROM landing.step_trainer WHERE serial_number = 'SA')
     + (SELECT count(*) FROM landing.rejected WHERE raw_line ILIKE '%"alice@test.com"%')
     + (SELECT count(*) FROM trusted.customer WHERE email = 'alice@test.com')
     + (SELECT count(*) FROM trusted.accelerometer WHERE user_email = 'alice@test.com')
     + (SELECT count(*) FROM trusted.step_trainer WHERE serial_number = 'SA')
     + (SELECT count(*) FROM curated.customer c, stedi.pseudonym_secret k
         WHERE c.customer_key = stedi.customer_key('alice@test.com', k.secret))
     + (SELECT count(*) FROM curated.machine_learning m, stedi.pseudonym_secret k
         WHERE m.customer_key = stedi.customer_key('alice@test.com', k.secret)) AS alice_rows_after;
-- The audit row holds counts, time and who: no personal field.
SELECT a.attname FROM pg_attribute a
 WHERE a.attrelid = 'stedi.erasure_log'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT stedi.forget_customer('');
-- Other customers are untouched, the neighbours' quarantined lines too.
SELECT count(*) AS neighbours_kept FROM landing.rejected WHERE line_number IN (100, 101);
DELETE FROM landing.rejected WHERE line_number IN (100, 101);
SELECT count(*) AS frank_readings FROM trusted.accelerometer WHERE user_email = 'frank@test.com';

-- Two erasures and a refresh in one transaction: each refresh makes its own
-- working tables (rolled back here, to leave the data as it was).
BEGIN;
SELECT customer_records > 0 AS frank_erased FROM stedi.forget_customer('frank@test.com');
SELECT customer_records AS second_erasure_runs FROM stedi.forget_customer('nobody-here@test.com');
SELECT count(*) AS zones_refreshed FROM stedi.refresh();
SELECT count(*) AS frank_left FROM trusted.accelerometer WHERE user_email = 'frank@test.com';
ROLLBACK;
