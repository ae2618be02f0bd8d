-- The extension's roles: what each may do, and what not.
SET timezone = 'UTC';
\set VERBOSITY terse

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'stedi\_%' ORDER BY 1;

-- stedi_loader: loads landing through the loading protocol, reads nothing.
SET ROLE stedi_loader;
BEGIN;
SELECT stedi.begin_file('accelerometer', '/in/roles.json', 10,
                        decode(repeat('12', 32), 'hex')) AS fid \gset
SELECT :fid > 0 AS registered;
INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
VALUES ('frank@test.com', '2022-06-18 10:00:00.008+00', 1, 1, 1, :fid, 1);
SELECT stedi.finish_file(:fid, 1, 1, 0, 0);
ROLLBACK;
SELECT count(*) FROM landing.accelerometer;
SELECT count(*) FROM landing.source_file;
SELECT count(*) FROM trusted.customer;
SELECT count(*) FROM curated.machine_learning;
SELECT * FROM stedi.refresh();
SELECT stedi.forget_customer('frank@test.com');
RESET ROLE;

-- stedi_analyst: reads curated, nothing else.
SET ROLE stedi_analyst;
SELECT count(*) > 0 AS reads_training_table FROM curated.machine_learning;
SELECT count(*) > 0 AS reads_customers FROM curated.customer;
SELECT count(*) FROM trusted.customer;
SELECT count(*) FROM landing.customer;
SELECT count(*) FROM stedi.pseudonym_secret;
SELECT * FROM stedi.refresh();
SELECT stedi.set_consent_policy('as_of');
INSERT INTO landing.customer (email, serial_number, file_id, line_number) VALUES ('x', 'y', 1, 1);
RESET ROLE;

-- stedi_admin: everything, refresh, policies and erasure included; not the
-- pseudonym secret.
SET ROLE stedi_admin;
SELECT count(*) >= 0 AS reads_landing FROM landing.customer;
SELECT count(*) >= 0 AS reads_trusted FROM trusted.customer;
SELECT count(*) AS refreshed_views FROM stedi.refresh();
SELECT stedi.set_consent_policy('original');
SELECT customer_records FROM stedi.forget_customer('nobody@test.com');
SELECT count(*) >= 0 AS reads_history FROM stedi.refresh_run;
SELECT count(*) FROM stedi.pseudonym_secret;
RESET ROLE;

-- Nobody else: PUBLIC has no way in.
CREATE ROLE stedi_regress_nobody;
SET ROLE stedi_regress_nobody;
SELECT count(*) FROM curated.machine_learning;
SELECT * FROM stedi.refresh();
RESET ROLE;
DROP ROLE stedi_regress_nobody;

-- Functions that run with the owner's rights pin their search_path.
SELECT p.oid::regprocedure AS function, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'stedi'::regnamespace AND p.prosecdef
 ORDER BY p.oid::regprocedure::text;
