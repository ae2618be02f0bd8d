-- The trusted and curated zones on a fixture built for each rule.
SET timezone = 'UTC';

-- Two customer files (the second arrives later), one accelerometer file and
-- one step trainer file.
INSERT INTO landing.source_file (kind, path, size_bytes)
VALUES ('customer', 'customer/landing/customer-1.json', 0),
       ('accelerometer', 'accelerometer/landing/accelerometer-1.json', 0),
       ('step_trainer', 'step_trainer/landing/step_trainer-1.json', 0),
       ('customer', 'customer/landing/customer-2.json', 0);

INSERT INTO landing.customer
    (customer_name, email, serial_number, last_update_date,
     share_with_research_as_of_date, file_id, line_number)
VALUES
    -- alice first without consent; her later record (file 4) gives it
    ('Alice', 'alice@test.com', 'SA', '2022-06-01', NULL, 1, 1),
    -- bob consents, then withdraws in file 4
    ('Bob', 'bob@test.com', 'SB', '2022-06-01', '2022-06-01', 1, 2),
    -- carol's consent date is 0, the apps' "never asked"
    ('Carol', 'carol@test.com', 'SC', '2022-06-01', '1970-01-01 00:00:00+00', 1, 3),
    -- dave consents but has no accelerometer readings
    ('Dave', 'dave@test.com', 'SD', '2022-06-01', '2022-06-01', 1, 4),
    -- erin never consents, and her clock coincides with alice's
    ('Erin', 'erin@test.com', 'SE', '2022-06-01', NULL, 1, 5),
    -- frank consents; an older record of his arrives later and must not win
    ('Frank', 'frank@test.com', 'SF', '2022-06-01', '2022-06-01', 1, 6),
    -- gina: two records with the same lastUpdateDate; the later line wins
    ('Gina', 'gina@test.com', 'SG', '2022-06-02', NULL, 1, 7),
    ('Gina', 'gina@test.com', 'SG', '2022-06-02', '2022-06-02', 1, 8),
    ('Alice', 'alice@test.com', 'SA', '2022-06-05', '2022-06-05', 4, 1),
    ('Bob', 'bob@test.com', 'SB', '2022-06-05', NULL, 4, 2),
    ('Frank', 'frank@test.com', 'SF', '2022-05-01', NULL, 4, 3);

INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
VALUES
    ('alice@test.com', '2022-06-18 10:00:00.001+00', 1, 0, 0, 2, 1),
    ('alice@test.com', '2022-06-18 10:00:00.001+00', 2, 0, 0, 2, 2),
    ('alice@test.com', '2022-06-18 10:00:00.002+00', 3, 0, 0, 2, 3),
    ('bob@test.com',   '2022-06-18 10:00:00.001+00', 9, 9, 9, 2, 4),
    ('carol@test.com', '2022-06-18 10:00:00.001+00', 9, 9, 9, 2, 5),
    ('erin@test.com',  '2022-06-18 10:00:00.001+00', 9, 9, 9, 2, 6),
    ('erin@test.com',  '2022-06-18 10:00:00.002+00', 9, 9, 9, 2, 7),
    ('frank@test.com', '2022-06-18 10:00:00.001+00', 5, 0, 0, 2, 8),
    ('frank@test.com', '2022-06-18 10:00:00.003+00', 6, 0, 0, 2, 9),
    ('gina@test.com',  '2022-06-18 10:00:00.003+00', 7, 0, 0, 2, 10);

INSERT INTO landing.step_trainer (sensor_reading_time, serial_number, distance_from_object, file_id, line_number)
VALUES
    ('2022-06-18 10:00:00.001+00', 'SA', 101, 3, 1),
    ('2022-06-18 10:00:00.004+00', 'SA', 104, 3, 3),
    ('2022-06-18 10:00:00.001+00', 'SB', 900, 3, 4),
    ('2022-06-18 10:00:00.001+00', 'SE', 900, 3, 5),
    ('2022-06-18 10:00:00.003+00', 'SF', 603, 3, 6),
    ('2022-06-18 10:00:00.003+00', 'SG', 703, 3, 7),
    ('2022-06-18 10:00:00.001+00', 'SX', 900, 3, 8),
    -- (a line of device SA's stored after the other devices' lines)
    ('2022-06-18 10:00:00.002+00', 'SA', 102, 3, 2);

SELECT view, method, rows FROM stedi.refresh();

-- alice (consent given later), dave, frank (older record ignored) and gina
-- (tie broken by the later line); bob withdrew, carol's date is 0, erin never.
SELECT email, serial_number, last_update_date, share_with_research_as_of_date,
       file_id, line_number
  FROM trusted.customer ORDER BY email;

SELECT user_email, reading_time, x FROM trusted.accelerometer ORDER BY file_id, line_number;

-- dave has no readings, so he is not curated.
SELECT c.email FROM trusted.customer c, stedi.pseudonym_secret k
 WHERE stedi.customer_key(c.email, k.secret) IN (SELECT customer_key FROM curated.customer)
 ORDER BY c.email;

SELECT serial_number, sensor_reading_time, distance_from_object
  FROM trusted.step_trainer ORDER BY file_id, line_number;

-- Each step trainer reading pairs only with its owner's accelerometer
-- readings of the same millisecond: alice's two readings at .001, her one
-- at .002, frank's and gina's at .003 each with their own device.
-- (The training table knows customers by key only; the test, as the
-- extension's owner, turns keys back into emails to show who is who.)
SELECT m.serial_number, m.sensor_reading_time, m.distance_from_object,
       (SELECT c.email FROM trusted.customer c, stedi.pseudonym_secret k
         WHERE stedi.customer_key(c.email, k.secret) = m.customer_key) AS customer,
       m.reading_time, m.x
  FROM curated.machine_learning m
 ORDER BY step_trainer_line_number, accelerometer_line_number;

-- The original pipeline's join on time alone pairs strangers: frank's .001
-- reading with alice's device, and frank's and gina's .003 readings across.
SELECT count(*) AS time_only_pairs,
       count(*) FILTER (WHERE c.email <> a.user_email) AS strangers_paired
  FROM trusted.step_trainer s
  JOIN trusted.customer c ON c.serial_number = s.serial_number
  JOIN trusted.accelerometer a ON a.reading_time = s.sensor_reading_time;

-- Nothing of a customer without consent reaches trusted or curated.
SELECT count(*) AS leaked
  FROM (SELECT stedi.customer_key(user_email, k.secret) AS customer_key
          FROM trusted.accelerometer, stedi.pseudonym_secret k
        UNION ALL SELECT customer_key FROM curated.customer
        UNION ALL SELECT customer_key FROM curated.machine_learning) z,
       stedi.pseudonym_secret k
 WHERE z.customer_key IN (stedi.customer_key('bob@test.com', k.secret),
                          stedi.customer_key('carol@test.com', k.secret),
                          stedi.customer_key('erin@test.com', k.secret));

-- From now on, refreshes are incremental: nothing new, nothing done.
SELECT view, method, rows FROM stedi.refresh();

-- A refresh writes step trainer readings and training pairs grouped by
-- device (the column stedi.zones() names), so that one device's rows lie
-- together: each device here is one run of rows.  Readings are written
-- as they come.
SELECT step, zone, owner FROM stedi.zones() ORDER BY step;
SELECT count(*) FILTER (WHERE before IS NULL OR serial_number <> before) AS runs,
       count(DISTINCT serial_number) AS devices
  FROM (SELECT serial_number, lag(serial_number) OVER (ORDER BY ctid) AS before
          FROM trusted.step_trainer) AS s;
