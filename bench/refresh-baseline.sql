-- Baselines for bench/refresh: the zones' definitions as materialized views
-- refreshed CONCURRENTLY, and as tables written by hand with CREATE TABLE
-- AS.  Same queries as the *_definition views, each reading the baseline's
-- own zones: identical readings once, the shipped expectations (no rule of
-- a user's own is declared in the benchmark), and readings of a device
-- that several customers name held back when more than one has a reading
-- at that moment.
CREATE SCHEMA bench;

CREATE FUNCTION bench.time_ms(sql text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;

-- Minor page faults of this server process so far (field 10 of
-- /proc/self/stat): one for the first touch of each page of memory, of
-- its own or shared, which a virtual machine makes dear.
CREATE FUNCTION bench.minor_faults() RETURNS bigint
LANGUAGE sql AS $$
    SELECT split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ', 8)::bigint
$$;

CREATE MATERIALIZED VIEW bench.trusted_customer AS
SELECT * FROM trusted.customer_definition WITH NO DATA;
CREATE UNIQUE INDEX ON bench.trusted_customer (email);

CREATE MATERIALIZED VIEW bench.trusted_accelerometer AS
SELECT DISTINCT ON (a.reading_time, c.email, a.x, a.y, a.z)
       c.email AS user_email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number
  FROM landing.accelerometer AS a
  JOIN bench.trusted_customer AS c ON c.email = stedi.normalize_email(a.user_email)
  JOIN landing.source_file AS f ON f.file_id = a.file_id
 WHERE stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                          a.reading_time, (SELECT stedi.setting_value('consent_policy')))
   AND a.reading_time >= '2000-01-01 00:00:00+00' AND a.reading_time <= f.loaded_at + interval '1 day'
 ORDER BY a.reading_time, c.email, a.x, a.y, a.z, a.file_id, a.line_number
WITH NO DATA;
CREATE UNIQUE INDEX ON bench.trusted_accelerometer (file_id, line_number);

CREATE MATERIALIZED VIEW bench.curated_customer AS
SELECT stedi.customer_key(c.email, k.secret) AS customer_key,
       c.serial_number, c.registration_date, c.last_update_date,
       c.share_with_research_as_of_date, c.share_with_public_as_of_date,
       c.share_with_friends_as_of_date,
       stedi.customer_split(stedi.customer_key(c.email, k.secret)) AS split
  FROM bench.trusted_customer AS c
 CROSS JOIN stedi.pseudonym_secret AS k
 WHERE EXISTS (SELECT FROM bench.trusted_accelerometer AS a WHERE a.user_email = c.email)
WITH NO DATA;
CREATE UNIQUE INDEX ON bench.curated_customer (customer_key);

CREATE MATERIALIZED VIEW bench.trusted_step_trainer AS
SELECT DISTINCT ON (s.sensor_reading_time, s.serial_number, s.distance_from_object)
       s.sensor_reading_time, s.serial_number, s.distance_from_object,
       s.file_id, s.line_number
  FROM landing.step_trainer AS s
  JOIN landing.source_file AS f ON f.file_id = s.file_id
 WHERE EXISTS (SELECT FROM bench.curated_customer AS c
                WHERE c.serial_number = s.serial_number
                  AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                                         s.sensor_reading_time,
                                                         (SELECT stedi.setting_value('consent_policy'))))
   AND s.sensor_reading_time >= '2000-01-01 00:00:00+00'
   AND s.sensor_reading_time <= f.loaded_at + interval '1 day' AND s.distance_from_object >= 0
 ORDER BY s.sensor_reading_time, s.serial_number, s.distance_from_object, s.file_id, s.line_number
WITH NO DATA;
CREATE UNIQUE INDEX ON bench.trusted_step_trainer (file_id, line_number);

-- stedi.claimants_reading_at over each baseline's own zones (a function,
-- as in stedi: a subquery there is priced as if run for every reading)
CREATE FUNCTION bench.claimants_reading_at(serial_number text, t timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(DISTINCT o.email) FROM bench.trusted_customer AS o
      JOIN bench.trusted_accelerometer AS b ON b.user_email = o.email
     WHERE o.serial_number = claimants_reading_at.serial_number AND b.reading_time OPERATOR(stedi.=#) t
$$;
-- (its tables are made and dropped at each rebuild)
SET check_function_bodies = off;
CREATE FUNCTION bench.t_claimants_reading_at(serial_number text, t timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(DISTINCT o.email) FROM bench.t_trusted_customer AS o
      JOIN bench.t_trusted_accelerometer AS b ON b.user_email = o.email
     WHERE o.serial_number = t_claimants_reading_at.serial_number AND b.reading_time OPERATOR(stedi.=#) t
$$;
RESET check_function_bodies;

CREATE MATERIALIZED VIEW bench.curated_machine_learning AS
SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object, s.customer_key,
       a.reading_time, a.x, a.y, a.z,
       s.file_id AS step_trainer_file_id, s.line_number AS step_trainer_line_number,
       a.file_id AS accelerometer_file_id, a.line_number AS accelerometer_line_number,
       stedi.customer_split(s.customer_key) AS split
  FROM (SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object, s.file_id, s.line_number,
               c.email, c.customer_key
          FROM bench.trusted_step_trainer AS s
          JOIN (SELECT o.email, o.serial_number, stedi.customer_key(o.email, k.secret) AS customer_key
                  FROM bench.trusted_customer AS o CROSS JOIN stedi.pseudonym_secret AS k OFFSET 0) AS c
            ON c.serial_number = s.serial_number
         WHERE s.serial_number NOT IN (SELECT d.serial_number FROM bench.trusted_customer AS d
                                        GROUP BY d.serial_number HAVING count(*) > 1)
            OR bench.claimants_reading_at(s.serial_number, s.sensor_reading_time) < 2
        OFFSET 0) AS s
  JOIN bench.trusted_accelerometer AS a
    ON a.user_email = s.email
   AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time
WITH NO DATA;
CREATE UNIQUE INDEX ON bench.curated_machine_learning
    (accelerometer_file_id, accelerometer_line_number, step_trainer_file_id, step_trainer_line_number);

CREATE FUNCTION bench.views() RETURNS SETOF text LANGUAGE sql AS $$
    VALUES ('bench.trusted_customer'), ('bench.trusted_accelerometer'), ('bench.curated_customer'),
           ('bench.trusted_step_trainer'), ('bench.curated_machine_learning')
$$;

-- REFRESH each view (CONCURRENTLY when asked), analyzed after each, as
-- stedi does: without it the later views get nested-loop plans
CREATE FUNCTION bench.refresh_views(concurrent boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
    FOR v IN SELECT * FROM bench.views() LOOP
        EXECUTE format('REFRESH MATERIALIZED VIEW %s %s',
                       CASE WHEN concurrent THEN 'CONCURRENTLY' ELSE '' END, v);
        EXECUTE format('ANALYZE %s', v);
    END LOOP;
END
$$;

-- The same tables, written by hand: CREATE TABLE AS, the same keys and
-- lookup indexes as stedi's zone tables, analyzed before the next one.
CREATE FUNCTION bench.create_tables_as() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    ANALYZE landing.customer, landing.accelerometer, landing.step_trainer;
    CREATE TABLE bench.t_trusted_customer AS SELECT * FROM trusted.customer_definition;
    ALTER TABLE bench.t_trusted_customer ADD PRIMARY KEY (email);
    CREATE INDEX ON bench.t_trusted_customer (serial_number);
    ANALYZE bench.t_trusted_customer;

    CREATE TABLE bench.t_trusted_accelerometer AS
    SELECT DISTINCT ON (a.reading_time, c.email, a.x, a.y, a.z)
           c.email AS user_email, a.reading_time, a.x, a.y, a.z, a.file_id, a.line_number
      FROM landing.accelerometer AS a
      JOIN bench.t_trusted_customer AS c ON c.email = stedi.normalize_email(a.user_email)
      JOIN landing.source_file AS f ON f.file_id = a.file_id
     WHERE stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                              a.reading_time, (SELECT stedi.setting_value('consent_policy')))
       AND a.reading_time >= '2000-01-01 00:00:00+00' AND a.reading_time <= f.loaded_at + interval '1 day'
     ORDER BY a.reading_time, c.email, a.x, a.y, a.z, a.file_id, a.line_number;
    ALTER TABLE bench.t_trusted_accelerometer ADD PRIMARY KEY (file_id, line_number);
    CREATE INDEX ON bench.t_trusted_accelerometer (user_email, reading_time stedi.timestamptz_ms_ops);
    ANALYZE bench.t_trusted_accelerometer;

    CREATE TABLE bench.t_curated_customer AS
    SELECT stedi.customer_key(c.email, k.secret) AS customer_key,
           c.serial_number, c.registration_date, c.last_update_date,
           c.share_with_research_as_of_date, c.share_with_public_as_of_date,
           c.share_with_friends_as_of_date,
           stedi.customer_split(stedi.customer_key(c.email, k.secret)) AS split
      FROM bench.t_trusted_customer AS c
     CROSS JOIN stedi.pseudonym_secret AS k
     WHERE EXISTS (SELECT FROM bench.t_trusted_accelerometer AS a WHERE a.user_email = c.email);
    ALTER TABLE bench.t_curated_customer ADD PRIMARY KEY (customer_key);
    CREATE INDEX ON bench.t_curated_customer (serial_number);
    ANALYZE bench.t_curated_customer;

    CREATE TABLE bench.t_trusted_step_trainer AS
    SELECT DISTINCT ON (s.sensor_reading_time, s.serial_number, s.distance_from_object)
           s.sensor_reading_time, s.serial_number, s.distance_from_object, s.file_id, s.line_number
      FROM landing.step_trainer AS s
      JOIN landing.source_file AS f ON f.file_id = s.file_id
     WHERE EXISTS (SELECT FROM bench.t_curated_customer AS c
                    WHERE c.serial_number = s.serial_number
                      AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                                             s.sensor_reading_time, (SELECT stedi.setting_value('consent_policy'))))
       AND s.sensor_reading_time >= '2000-01-01 00:00:00+00'
       AND s.sensor_reading_time <= f.loaded_at + interval '1 day' AND s.distance_from_object >= 0
     ORDER BY s.sensor_reading_time, s.serial_number, s.distance_from_object, s.file_id, s.line_number;
    ALTER TABLE bench.t_trusted_step_trainer ADD PRIMARY KEY (file_id, line_number);
    CREATE INDEX ON bench.t_trusted_step_trainer (serial_number, sensor_reading_time stedi.timestamptz_ms_ops);
    ANALYZE bench.t_trusted_step_trainer;

    CREATE TABLE bench.t_curated_machine_learning AS
    SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object, s.customer_key,
           a.reading_time, a.x, a.y, a.z,
           s.file_id AS step_trainer_file_id, s.line_number AS step_trainer_line_number,
           a.file_id AS accelerometer_file_id, a.line_number AS accelerometer_line_number,
           stedi.customer_split(s.customer_key) AS split
      FROM (SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object, s.file_id, s.line_number,
                   c.email, c.customer_key
              FROM bench.t_trusted_step_trainer AS s
              JOIN (SELECT o.email, o.serial_number, stedi.customer_key(o.email, k.secret) AS customer_key
                      FROM bench.t_trusted_customer AS o CROSS JOIN stedi.pseudonym_secret AS k OFFSET 0) AS c
                ON c.serial_number = s.serial_number
             WHERE s.serial_number NOT IN (SELECT d.serial_number FROM bench.t_trusted_customer AS d
                                            GROUP BY d.serial_number HAVING count(*) > 1)
                OR bench.t_claimants_reading_at(s.serial_number, s.sensor_reading_time) < 2
            OFFSET 0) AS s
      JOIN bench.t_trusted_accelerometer AS a
        ON a.user_email = s.email
       AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time;
    ALTER TABLE bench.t_curated_machine_learning
        ADD PRIMARY KEY (accelerometer_file_id, accelerometer_line_number,
                         step_trainer_file_id, step_trainer_line_number);
    CREATE INDEX ON bench.t_curated_machine_learning
        (serial_number, step_trainer_file_id, step_trainer_line_number);
    ANALYZE bench.t_curated_machine_learning;
END
$$;

-- stedi's zones hold exactly what the materialized views hold
CREATE FUNCTION bench.same_as_views() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS (TABLE trusted.customer EXCEPT ALL TABLE bench.trusted_customer)
       AND NOT EXISTS (TABLE bench.trusted_customer EXCEPT ALL TABLE trusted.customer)
       AND (SELECT count(*) FROM trusted.accelerometer) = (SELECT count(*) FROM bench.trusted_accelerometer)
       AND NOT EXISTS (TABLE curated.customer EXCEPT ALL TABLE bench.curated_customer)
       AND (SELECT count(*) FROM trusted.step_trainer) = (SELECT count(*) FROM bench.trusted_step_trainer)
       AND (SELECT count(*) FROM curated.machine_learning) = (SELECT count(*) FROM bench.curated_machine_learning)
       AND NOT EXISTS (SELECT step_trainer_file_id, step_trainer_line_number, accelerometer_file_id, accelerometer_line_number
                         FROM curated.machine_learning
                       EXCEPT ALL
                       SELECT step_trainer_file_id, step_trainer_line_number, accelerometer_file_id, accelerometer_line_number
                         FROM bench.curated_machine_learning)
$$;

CREATE FUNCTION bench.drop_tables_as() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE bench.t_trusted_customer, bench.t_trusted_accelerometer, bench.t_curated_customer,
               bench.t_trusted_step_trainer, bench.t_curated_machine_learning;
END
$$;

-- Rows in a zone and not in its definition, or the other way round: 0 when
-- every zone equals its definition (checked apart from stedi's own
-- comparison, which a full refresh reports)
CREATE FUNCTION bench.zones_differ() RETURNS bigint LANGUAGE sql AS $$
SELECT (SELECT count(*) FROM ((TABLE trusted.customer EXCEPT ALL TABLE trusted.customer_definition)
                              UNION ALL (TABLE trusted.customer_definition EXCEPT ALL TABLE trusted.customer)) d)
     + (SELECT count(*) FROM ((TABLE trusted.accelerometer EXCEPT ALL TABLE trusted.accelerometer_definition)
                              UNION ALL (TABLE trusted.accelerometer_definition EXCEPT ALL TABLE trusted.accelerometer)) d)
     + (SELECT count(*) FROM ((TABLE curated.customer EXCEPT ALL TABLE curated.customer_definition)
                              UNION ALL (TABLE curated.customer_definition EXCEPT ALL TABLE curated.customer)) d)
     + (SELECT count(*) FROM ((TABLE trusted.step_trainer EXCEPT ALL TABLE trusted.step_trainer_definition)
                              UNION ALL (TABLE trusted.step_trainer_definition EXCEPT ALL TABLE trusted.step_trainer)) d)
     + (SELECT count(*) FROM ((TABLE curated.machine_learning EXCEPT ALL TABLE curated.machine_learning_definition)
                              UNION ALL (TABLE curated.machine_learning_definition EXCEPT ALL TABLE curated.machine_learning)) d)
$$;
