-- A step trainer reading is never paired with more than one customer.
-- The original STEDI website gave one serial number to many customers:
-- when several trusted customers name a device and more than one of them
-- has a reading in the millisecond of one of its readings, that reading is
-- held back.  (Helpers from sql/helpers.sql.)
SET timezone = 'UTC';
SELECT public.load_customer('customer/landing/amb-ann.json', 'ann@amb.test', 'dev-amb') IS NOT NULL AS ann,
       public.load_customer('customer/landing/amb-ben.json', 'ben@amb.test', 'dev-amb') IS NOT NULL AS ben;
SELECT public.load_file('accelerometer', 'accelerometer/landing/amb-a.json', $$
    ('ann@amb.test', '2022-06-18 11:00:00.001+00'::timestamptz, 1.0::float8, 0.0::float8, 0.0::float8),
    ('ben@amb.test', '2022-06-18 11:00:00.001+00', 2.0, 0.0, 0.0),
    ('ann@amb.test', '2022-06-18 11:00:00.002+00', 3.0, 0.0, 0.0)$$) IS NOT NULL AS readings;
SELECT public.load_file('step_trainer', 'step_trainer/landing/amb-s.json', $$
    ('2022-06-18 11:00:00.001+00'::timestamptz, 'dev-amb', 10),
    ('2022-06-18 11:00:00.002+00', 'dev-amb', 20)$$) IS NOT NULL AS steps;
CREATE FUNCTION pg_temp.pairs() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(m.distance_from_object || ':' || m.x, ' ' ORDER BY m.distance_from_object, m.x), '-')
      FROM curated.machine_learning AS m WHERE m.serial_number = 'dev-amb'
$$;
SELECT view, method FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
-- .001: both have a reading, held back; .002: only Ann's, paired with her
SELECT pg_temp.pairs() AS pairs;
SELECT * FROM stedi.ambiguous_device WHERE serial_number = 'dev-amb';

-- Ben withdraws: the device is Ann's alone, .001 pairs with her
SELECT public.load_file('customer', 'customer/landing/amb-ben-2.json', $$
    ('ben@amb.test', 'ben@amb.test', NULL, NULL::date, 'dev-amb', NULL::timestamptz,
     '2022-06-02'::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz)$$) IS NOT NULL AS withdrawn;
SELECT view, method FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT pg_temp.pairs() AS pairs;
SELECT count(*) AS ambiguous FROM stedi.ambiguous_device WHERE serial_number = 'dev-amb';
SELECT public.zones_differ() AS zones_differ;

-- He consents again: held back again
SELECT public.load_file('customer', 'customer/landing/amb-ben-3.json', $$
    ('ben@amb.test', 'ben@amb.test', NULL, NULL::date, 'dev-amb', NULL::timestamptz,
     '2022-06-03'::timestamptz, '2022-06-03'::timestamptz, NULL::timestamptz, NULL::timestamptz)$$) IS NOT NULL AS consented;
SELECT view, method FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT pg_temp.pairs() AS pairs;
SELECT public.zones_differ() AS zones_differ;

-- A third claimant with a reading only at .002 holds that one back too;
-- his record names the device, his readings come in a later file
SELECT public.load_customer('customer/landing/amb-cy.json', 'cy@amb.test', 'dev-amb') IS NOT NULL AS cy;
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT pg_temp.pairs() AS pairs_before_his_readings;
SELECT public.load_file('accelerometer', 'accelerometer/landing/amb-cy.json', $$
    ('cy@amb.test', '2022-06-18 11:00:00.002+00'::timestamptz, 4.0::float8, 0.0::float8, 0.0::float8)$$) IS NOT NULL AS readings;
SELECT view, method FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT pg_temp.pairs() AS pairs;
SELECT * FROM stedi.ambiguous_device WHERE serial_number = 'dev-amb';
SELECT public.zones_differ() AS zones_differ;

-- Ben and Cy move to devices of their own: Ann's readings pair again,
-- and theirs with their own devices
SELECT public.load_file('customer', 'customer/landing/amb-move.json', $$
    ('ben@amb.test', 'ben@amb.test', NULL, NULL::date, 'dev-ben', NULL::timestamptz,
     '2022-06-04'::timestamptz, '2022-06-03'::timestamptz, NULL::timestamptz, NULL::timestamptz),
    ('cy@amb.test', 'cy@amb.test', NULL, NULL::date, 'dev-cy', NULL::timestamptz,
     '2022-06-04'::timestamptz, '2022-06-03'::timestamptz, NULL::timestamptz, NULL::timestamptz)$$) IS NOT NULL AS moved;
SELECT view, method FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass;
SELECT pg_temp.pairs() AS pairs;
SELECT count(*) AS ambiguous FROM stedi.ambiguous_device WHERE serial_number = 'dev-amb';
SELECT public.zones_differ() AS zones_differ;
