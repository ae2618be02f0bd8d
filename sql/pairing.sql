-- Pairing within a tolerance: the settings, the two modes, ties, readings
-- exactly at the tolerance, before the first and after the last phone
-- reading, and stedi.pairing_quality.  (Uses public.load_file and
-- public.load_customer from sql/helpers.sql.)
SELECT public.load_customer('customer/landing/pair-c.json', 'pia@pair.test', 'dev-pia') IS NOT NULL AS loaded;
-- phone readings at .000, .100 (two), .350, .600, .800, .900 of one second
SELECT public.load_file('accelerometer', 'accelerometer/landing/pair-a.json', $$
    ('pia@pair.test', '2022-07-01 10:00:00.000+00'::timestamptz, 0.0::float8, 0.0::float8, 0.0::float8),
    ('pia@pair.test', '2022-07-01 10:00:00.100+00', 1.0, 0.0, 0.0),
    ('pia@pair.test', '2022-07-01 10:00:00.100+00', 2.0, 0.0, 0.0),
    ('pia@pair.test', '2022-07-01 10:00:00.350+00', 3.0, 0.0, 0.0),
    ('pia@pair.test', '2022-07-01 10:00:00.600+00', 4.0, 0.0, 0.0),
    ('pia@pair.test', '2022-07-01 10:00:00.800+00', 5.0, 0.0, 0.0),
    ('pia@pair.test', '2022-07-01 10:00:00.900+00', 6.0, 0.0, 0.0)$$) IS NOT NULL AS loaded;
-- device readings (distance: the step's number)
SELECT public.load_file('step_trainer', 'step_trainer/landing/pair-s.json', $$
    ('2022-07-01 09:59:59.950+00'::timestamptz, 'dev-pia', 1),
    ('2022-07-01 10:00:00.200+00', 'dev-pia', 2),
    ('2022-07-01 10:00:00.250+00', 'dev-pia', 3),
    ('2022-07-01 10:00:00.475+00', 'dev-pia', 4),
    ('2022-07-01 10:00:00.500+00', 'dev-pia', 5),
    ('2022-07-01 10:00:00.700+00', 'dev-pia', 6),
    ('2022-07-01 10:00:01.000+00', 'dev-pia', 7),
    ('2022-07-01 10:00:01.101+00', 'dev-pia', 8)$$) IS NOT NULL AS loaded;
-- a customer whose phone sent nothing: not curated, so no reading of the
-- device reaches trusted, whatever the tolerance
SELECT public.load_customer('customer/landing/pair-c2.json', 'quinn@pair.test', 'dev-quinn') IS NOT NULL AS loaded;
SELECT public.load_file('step_trainer', 'step_trainer/landing/pair-s2.json', $$
    ('2022-07-01 10:00:00.100+00'::timestamptz, 'dev-quinn', 1)$$) IS NOT NULL AS loaded;
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
-- tolerance 0: the same millisecond only; no step reading here has one
SELECT count(*) AS pairs FROM curated.machine_learning WHERE serial_number = 'dev-pia';

-- the settings refuse what they cannot mean
SELECT stedi.set_setting('pairing_tolerance', '0.5 milliseconds');
SELECT stedi.set_setting('pairing_tolerance', '2 hours');
SELECT stedi.set_setting('pairing_tolerance', '-1 second');
SELECT stedi.set_setting('pairing_mode', 'closest');

-- nearest, 100 ms: each step reading with the phone readings of the
-- nearest millisecond within 100 ms (both readings at .100; of .600 and
-- .800, equally near .700, the earlier); 4 (.475) and 8 (1.101) have none
SELECT stedi.set_setting('pairing_tolerance', '100 milliseconds');
SELECT value FROM stedi.settings WHERE name = 'pairing_tolerance';
SELECT view, method, reason FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT distance_from_object AS step, x,
       stedi.pairing_offset(reading_time, sensor_reading_time) AS offset_ms
  FROM curated.machine_learning WHERE serial_number = 'dev-pia' ORDER BY 1, 2;
SELECT step_readings, paired, unpaired, median_offset_ms, max_offset_ms
  FROM stedi.pairing_quality WHERE serial_number = 'dev-pia';
SELECT (SELECT count(*) FROM trusted.step_trainer WHERE serial_number = 'dev-quinn') AS quinn_readings,
       (SELECT count(*) FROM stedi.pairing_quality WHERE serial_number = 'dev-quinn') AS quinn_devices;

-- window: every phone reading within 100 ms (6 pairs with .600 and .800)
SELECT stedi.set_setting('pairing_mode', 'window');
SELECT view, method, reason FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT distance_from_object AS step, x,
       stedi.pairing_offset(reading_time, sensor_reading_time) AS offset_ms
  FROM curated.machine_learning WHERE serial_number = 'dev-pia' ORDER BY 1, 2;
SELECT public.zones_differ() AS zones_differ;

-- new readings: the pairs of their device are computed again, incrementally
SELECT public.load_file('accelerometer', 'accelerometer/landing/pair-a2.json', $$
    ('pia@pair.test', '2022-07-01 10:00:00.480+00'::timestamptz, 7.0::float8, 0.0::float8, 0.0::float8)$$) IS NOT NULL AS loaded;
SELECT view, method, reason FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT distance_from_object AS step, x FROM curated.machine_learning
 WHERE serial_number = 'dev-pia' AND distance_from_object IN (4, 5) ORDER BY 1, 2;
SELECT public.zones_differ() AS zones_differ;

-- a device two customers name: a step reading with both customers' phone
-- readings within the tolerance is held back, and stedi.ambiguous_device
-- counts it; one with only one customer's reading pairs with it
SELECT public.load_customer('customer/landing/pair-c3.json', 'rui@pair.test', 'dev-two') IS NOT NULL AS loaded;
SELECT public.load_customer('customer/landing/pair-c4.json', 'sol@pair.test', 'dev-two') IS NOT NULL AS loaded;
-- (each phone sends its own file)
SELECT public.load_file('accelerometer', 'accelerometer/landing/pair-a3-rui.json', $$
    ('rui@pair.test', '2022-07-02 10:00:00.000+00'::timestamptz, 1.0::float8, 0.0::float8, 0.0::float8),
    ('rui@pair.test', '2022-07-02 10:00:00.480+00', 3.0, 0.0, 0.0)$$) IS NOT NULL AS loaded;
SELECT public.load_file('accelerometer', 'accelerometer/landing/pair-a3-sol.json', $$
    ('sol@pair.test', '2022-07-02 10:00:00.050+00'::timestamptz, 2.0::float8, 0.0::float8, 0.0::float8)$$) IS NOT NULL AS loaded;
SELECT public.load_file('step_trainer', 'step_trainer/landing/pair-s3.json', $$
    ('2022-07-02 10:00:00.020+00'::timestamptz, 'dev-two', 1),
    ('2022-07-02 10:00:00.500+00', 'dev-two', 2)$$) IS NOT NULL AS loaded;
SELECT view, method FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT distance_from_object AS step, x FROM curated.machine_learning WHERE serial_number = 'dev-two' ORDER BY 1, 2;
SELECT customers, readings_held_back FROM stedi.ambiguous_device WHERE serial_number = 'dev-two';
SELECT public.zones_differ() AS zones_differ;
-- (the claimants are looked up through the readings' index whatever join
-- methods the refresh left on: a full scan of the phone readings per
-- reading of a shared device otherwise)
SELECT p.proname, p.proconfig FROM pg_proc AS p
 WHERE p.oid = 'stedi.claimants_reading_near(text, timestamptz, integer)'::regprocedure;

-- back to the same millisecond: the training table as before
SELECT stedi.set_setting('pairing_tolerance', NULL);
SELECT stedi.set_setting('pairing_mode', NULL);
SELECT view, method, reason FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT count(*) AS pairs FROM curated.machine_learning WHERE serial_number = 'dev-pia';
SELECT customers, readings_held_back FROM stedi.ambiguous_device WHERE serial_number = 'dev-two';
SELECT public.zones_differ() AS zones_differ;
-- the C join refuses a tolerance out of range and a null secret
SELECT count(*) FROM stedi.pair_readings(-1, true, '\x00');
SELECT count(*) FROM stedi.pair_readings(3600001, false, '\x00');
SELECT count(*) FROM stedi.pair_readings(100, true, NULL);
-- an email long enough to be stored apart from its row (TOAST, external):
-- the C join reads the value, not the pointer to it (written into trusted
-- by hand, and taken back)
BEGIN;
CREATE TEMP TABLE long_email AS
SELECT string_agg(md5(i::text), '') || '@long.test' AS email FROM generate_series(1, 75) AS i;
INSERT INTO trusted.customer (email, serial_number, share_with_research_as_of_date, file_id, line_number)
SELECT email, 'dev-long', '2022-01-01', 0, 1 FROM long_email;
INSERT INTO trusted.accelerometer (user_email, reading_time, x, y, z, file_id, line_number, serial_number)
SELECT email, '2022-07-01 10:00:00.000+00', 1, 2, 3, 0, 1, 'dev-long' FROM long_email;
INSERT INTO trusted.step_trainer VALUES ('2022-07-01 10:00:00.100+00', 'dev-long', 7, 0, 1);
SELECT (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', reltoastrelid::regclass),
                                            false, true, '')))[1]::text::int > 0 AS stored_apart,
       (SELECT octet_length(email) FROM trusted.customer WHERE serial_number = 'dev-long')
  FROM pg_class WHERE oid = 'trusted.customer'::regclass;
SELECT serial_number, distance_from_object, reading_time
  FROM stedi.pseudonym_secret AS k CROSS JOIN LATERAL stedi.pair_readings(500, true, k.secret) AS p
 WHERE serial_number = 'dev-long';
ROLLBACK;
