-- Data-quality expectations of the reading zones: declared in SQL,
-- validated when declared, checked incrementally, with warn, drop and
-- fail; the shipped rules keep impossible readings out.  (Helpers from
-- sql/helpers.sql.)
SET timezone = 'UTC';
SELECT zone, name, "check", on_violation, builtin FROM stedi.expectation_status ORDER BY zone, name;

SELECT public.load_customer('customer/landing/exp-eve.json', 'eve@exp.test', 'dev-eve') IS NOT NULL AS eve;
-- a phone that sent epoch seconds, a reading stamped two days after it
-- was loaded, a device that measured a negative distance
SELECT public.load_file('accelerometer', 'accelerometer/landing/exp-a1.json', format($$
    ('eve@exp.test', '2022-06-18 12:00:00.001+00'::timestamptz, 1.0::float8, 0.0::float8, 0.0::float8),
    ('eve@exp.test', to_timestamp(1655564444 / 1000.0), 2.0, 0.0, 0.0),
    ('eve@exp.test', %L::timestamptz + interval '2 days', 3.0, 0.0, 0.0),
    ('eve@exp.test', '2022-06-18 12:00:00.002+00', -4.0, 0.0, 0.0)$$, now())) AS a1 \gset
SELECT public.load_file('step_trainer', 'step_trainer/landing/exp-s1.json', $$
    ('2022-06-18 12:00:00.001+00'::timestamptz, 'dev-eve', 10),
    ('2022-06-18 12:00:00.002+00', 'dev-eve', -1)$$) AS s1 \gset
SELECT view, method FROM stedi.refresh()
 WHERE view IN ('trusted.accelerometer'::regclass, 'trusted.step_trainer'::regclass);
SELECT x FROM trusted.accelerometer WHERE user_email = 'eve@exp.test' ORDER BY x;
SELECT distance_from_object FROM trusted.step_trainer WHERE serial_number = 'dev-eve';
-- nothing lost: each reading kept out is recorded with its rule and lineage
SELECT zone, expectation, file_id IN (:a1, :s1) AS its_file, line_number, owner, on_violation
  FROM stedi.expectation_violation WHERE owner IN ('eve@exp.test', 'dev-eve') ORDER BY 1, 2, 4;
SELECT zone, name, last_checked, last_violated, violating FROM stedi.expectation_status
 WHERE last_violated > 0 ORDER BY zone, name;

-- A rule of one's own: warn keeps the row, and counts and records it.
SELECT stedi.expect('trusted.accelerometer', 'x not negative', 'x >= 0', 'warn');
SELECT DISTINCT method, reason FROM stedi.refresh() WHERE view = 'trusted.accelerometer'::regclass;
SELECT x FROM trusted.accelerometer WHERE user_email = 'eve@exp.test' ORDER BY x;
SELECT expectation, line_number, on_violation FROM stedi.expectation_violation
 WHERE expectation = 'x not negative';
-- changed to drop: the row goes, still recorded
SELECT stedi.expect('trusted.accelerometer', 'x not negative', 'x >= 0', 'drop');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT x FROM trusted.accelerometer WHERE user_email = 'eve@exp.test' ORDER BY x;
SELECT public.zones_differ() AS zones_differ;
-- declared again unchanged: no rebuild
SELECT stedi.expect('trusted.accelerometer', 'x not negative', 'x >= 0', 'drop');
SELECT count(*) AS changes_queued FROM stedi.landing_change;

-- Checked incrementally: a new file's rows only.
SELECT public.load_file('accelerometer', 'accelerometer/landing/exp-a2.json', $$
    ('eve@exp.test', '2022-06-18 12:00:00.003+00'::timestamptz, -5.0::float8, 0.0::float8, 0.0::float8),
    ('eve@exp.test', '2022-06-18 12:00:00.004+00', 6.0, 0.0, 0.0)$$) AS a2 \gset
SELECT view, method FROM stedi.refresh() WHERE view = 'trusted.accelerometer'::regclass;
SELECT x FROM trusted.accelerometer WHERE user_email = 'eve@exp.test' ORDER BY x;
SELECT name, last_checked, last_violated, violating FROM stedi.expectation_status
 WHERE zone = 'trusted.accelerometer'::regclass AND name = 'x not negative';
SELECT public.zones_differ() AS zones_differ;

-- fail: the refresh fails, naming the rule, and changes nothing
SELECT stedi.expect('trusted.step_trainer', 'close enough', 'distance_from_object < 1000', 'fail');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT public.load_file('step_trainer', 'step_trainer/landing/exp-s2.json', $$
    ('2022-06-18 12:00:00.003+00'::timestamptz, 'dev-eve', 5000)$$) AS s2 \gset
SELECT max(run_id) AS last_run FROM stedi.refresh_run \gset
\set SHOW_CONTEXT never
SELECT count(*) FROM stedi.refresh();
\set SHOW_CONTEXT errors
SELECT max(run_id) = :last_run AS nothing_logged FROM stedi.refresh_run;
SELECT count(*) AS queued FROM stedi.pending_file WHERE file_id = :s2;
SELECT stedi.unexpect('trusted.step_trainer', 'close enough');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT distance_from_object FROM trusted.step_trainer WHERE serial_number = 'dev-eve' ORDER BY 1;
SELECT public.zones_differ() AS zones_differ;

-- A check is one expression over the row, and nothing else.
SELECT stedi.expect('trusted.accelerometer', 'r1', 'x + 1');
SELECT stedi.expect('trusted.accelerometer', 'r2', 'x > (SELECT min(x) FROM trusted.accelerometer)');
SELECT stedi.expect('trusted.accelerometer', 'r3', 'EXISTS (SELECT FROM stedi.pseudonym_secret)');
SELECT stedi.expect('trusted.accelerometer', 'r4', 'random() < 0.5');
SELECT stedi.expect('trusted.accelerometer', 'r5', 'reading_time < now()');
SELECT stedi.expect('trusted.accelerometer', 'r6', 'stedi.normalize_email(user_email) = user_email');
SELECT stedi.expect('trusted.accelerometer', 'r7', 'count(*) > 0');
SELECT stedi.expect('trusted.accelerometer', 'r8', 'generate_series(1, 2) > 0');
SELECT stedi.expect('trusted.accelerometer', 'r9', 'true) OR (true');
SELECT stedi.expect('trusted.accelerometer', 'r10', 'true; DROP TABLE stedi.setting');
SELECT stedi.expect('trusted.accelerometer', 'r11', 'x > 0 AS ok');
SELECT stedi.expect('trusted.accelerometer', 'r12', 'x > 0 FROM stedi.pseudonym_secret');
SELECT stedi.expect('trusted.accelerometer', 'r13', 'no_such_column > 0');
SELECT stedi.expect('trusted.accelerometer', 'r14', 'distance_from_object = 1');
SELECT stedi.expect('trusted.accelerometer', 'r15', 'x::text::regclass IS NULL');
SELECT stedi.expect('trusted.accelerometer', 'r16', repeat('x > 0 AND ', 500) || 'true');
SELECT stedi.expect('trusted.customer', 'r17', 'true');
SELECT stedi.expect('trusted.accelerometer', 'r18', 'true', 'ignore');
SELECT stedi.expect('trusted.accelerometer', '', 'true');
SELECT stedi.expect('trusted.accelerometer', 'reading_time_after_2000', 'true');
SELECT stedi.unexpect('trusted.accelerometer', 'reading_time_after_2000');
SELECT stedi.unexpect('trusted.accelerometer', 'no such rule');
SELECT count(*) AS rules_of_own FROM stedi.expectation WHERE NOT builtin;
-- a comment ends at the line's end: it cannot reach past the check
SELECT stedi.expect('trusted.accelerometer', 'commented', 'x < 100 -- and nothing after');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT public.zones_differ() AS zones_differ;
SELECT count(*) AS readings_without_consent FROM trusted.accelerometer AS a
 WHERE NOT EXISTS (SELECT FROM trusted.customer AS c WHERE c.email = a.user_email);

-- Nor cast to a type of another schema, whose domain CHECK could run
-- anything with the extension's rights, nor read a value through its text
-- form, which the session's settings decide.
CREATE FUNCTION pg_temp.anything(float8) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE DOMAIN pg_temp.checked AS float8 CHECK (pg_temp.anything(VALUE));
SELECT stedi.expect('trusted.accelerometer', 'r19', 'x::pg_temp.checked <> 12345');
SELECT stedi.expect('trusted.accelerometer', 'r20', 'length((x / 7)::text) < 10');
SELECT stedi.expect('trusted.accelerometer', 'r21', 'length(textin(float8out(x))) < 10');
SELECT stedi.expect('trusted.accelerometer', 'r22', 'c IS NOT NULL');
SELECT stedi.expect('trusted.accelerometer', 'r23', 'accelerometer_candidate.x > 0');
-- a check means the same whatever the session's time zone: the one it is
-- declared in, or the one the refresh runs in
SET timezone = 'America/New_York';
SELECT stedi.expect('trusted.accelerometer', 'before noon', $$c.reading_time < '2022-06-18 12:00:00.0015'$$);
SET timezone = 'Asia/Tokyo';
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SET timezone = 'UTC';
SELECT x FROM trusted.accelerometer WHERE user_email = 'eve@exp.test' ORDER BY x;
SELECT public.zones_differ() AS zones_differ;
SELECT stedi.unexpect('trusted.accelerometer', 'before noon');

-- A check that fails to evaluate on new rows names itself.
SELECT stedi.expect('trusted.accelerometer', 'breaks', 'CASE WHEN x = 7.5 THEN x / 0 = 1 ELSE true END', 'warn');
SELECT public.load_file('accelerometer', 'accelerometer/landing/exp-7.json', $$
    ('eve@exp.test', '2022-06-18 12:00:00.010+00'::timestamptz, 7.5::float8, 0.0::float8, 0.0::float8)$$) IS NOT NULL AS loaded;
\set SHOW_CONTEXT never
SELECT count(*) FROM stedi.refresh();
\set SHOW_CONTEXT errors
SELECT stedi.unexpect('trusted.accelerometer', 'breaks');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();

-- No rule about the data of others stops an erasure: a fail rule that
-- another customer's new readings break lets Fay be erased, keeps those
-- readings out and queues their file again; the next refresh stops on it.
SELECT public.load_customer('customer/landing/exp-fay.json', 'fay@exp.test', 'dev-fay') IS NOT NULL AS fay;
SELECT public.load_file('accelerometer', 'accelerometer/landing/exp-fay.json', $$
    ('fay@exp.test', '2022-06-18 12:00:00.001+00'::timestamptz, 1.0::float8, 0.0::float8, 0.0::float8)$$) IS NOT NULL AS fay_readings;
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT stedi.expect('trusted.accelerometer', 'x small', 'x < 50', 'fail');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT stedi.expect('trusted.accelerometer', 'not fay', $$user_email <> 'fay@exp.test' OR x < 50$$, 'warn');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT public.load_file('accelerometer', 'accelerometer/landing/exp-big.json', $$
    ('eve@exp.test', '2022-06-18 12:00:00.009+00'::timestamptz, 99.0::float8, 0.0::float8, 0.0::float8)$$) AS big \gset
SELECT customer_records FROM stedi.forget_customer('Fay@exp.test');
SELECT count(*) AS fay_left FROM trusted.accelerometer WHERE user_email = 'fay@exp.test';
SELECT count(*) AS big_in_trusted FROM trusted.accelerometer WHERE x = 99;
SELECT count(*) AS big_queued_again FROM stedi.pending_file WHERE file_id = :big;
\set SHOW_CONTEXT never
SELECT count(*) FROM stedi.refresh();
\set SHOW_CONTEXT errors
SELECT stedi.unexpect('trusted.accelerometer', 'x small');
SELECT stedi.unexpect('trusted.accelerometer', 'not fay');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT count(*) AS big_in_trusted FROM trusted.accelerometer WHERE x = 99;
SELECT public.zones_differ() AS zones_differ;

-- Nor does a check that raises an error on other customers' new readings.
SELECT public.load_customer('customer/landing/exp-hal.json', 'hal@exp.test', 'dev-hal') IS NOT NULL AS hal;
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
-- (refused while a row it breaks on is in landing)
SELECT stedi.expect('trusted.accelerometer', 'breaks on 1', 'CASE WHEN x = 1 THEN x / 0 = 1 ELSE true END', 'warn');
SELECT stedi.expect('trusted.accelerometer', 'breaks on 95', 'CASE WHEN x = 95.5 THEN x / 0 = 1 ELSE true END', 'warn');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT public.load_file('accelerometer', 'accelerometer/landing/exp-95.json', $$
    ('eve@exp.test', '2022-06-18 12:00:00.011+00'::timestamptz, 95.5::float8, 0.0::float8, 0.0::float8)$$) AS f95 \gset
SELECT customer_records FROM stedi.forget_customer('hal@exp.test');
SELECT count(*) AS hal_left FROM trusted.customer WHERE email = 'hal@exp.test';
SELECT count(*) AS queued_again FROM stedi.pending_file WHERE file_id = :f95;
\set SHOW_CONTEXT never
SELECT count(*) FROM stedi.refresh();
\set SHOW_CONTEXT errors
SELECT stedi.unexpect('trusted.accelerometer', 'breaks on 95');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT count(*) AS in_trusted FROM trusted.accelerometer WHERE x = 95.5;
SELECT public.zones_differ() AS zones_differ;

-- Who may: admins, not analysts or loaders.
SET ROLE stedi_analyst;
SELECT stedi.expect('trusted.accelerometer', 'mine', 'true');
SELECT count(*) FROM stedi.expectation_violation;
RESET ROLE;
SET ROLE stedi_admin;
SELECT stedi.expect('trusted.accelerometer', 'admins may', 'y > -100');
SELECT count(*) > 0 AS reads_status FROM stedi.expectation_status;
SELECT stedi.unexpect('trusted.accelerometer', 'admins may');
RESET ROLE;

-- The records of a file go with it, and those of a customer erased with her.
SELECT count(*) AS unloaded FROM stedi.unload_file(:a2);
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
SELECT count(*) AS violations_of_the_file FROM stedi.expectation_violation WHERE file_id = :a2;
SELECT count(*) > 0 AS erased FROM stedi.forget_customer('EVE@exp.test');
SELECT count(*) AS violations_of_eve FROM stedi.expectation_violation WHERE owner = 'eve@exp.test';
SELECT public.zones_differ() AS zones_differ;

-- A full refresh finds the same.
SELECT count(*) > 0 AS refreshed FROM stedi.refresh(full => true);
SELECT public.zones_differ() AS zones_differ;
SELECT stedi.unexpect('trusted.accelerometer', 'x not negative');
SELECT stedi.unexpect('trusted.accelerometer', 'commented');
SELECT count(*) > 0 AS refreshed FROM stedi.refresh();
DROP FUNCTION public.load_file(text, text, text), public.load_customer(text, text, text, text, text, text),
              public.rows_differ(regclass, regclass),
              public.zones_differ();
