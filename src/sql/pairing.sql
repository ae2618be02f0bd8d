-- The training table's definition: pairing step trainer readings with
-- their owner's phone readings (src/pairing.c).

------------------------------------------------------------------------------
-- Pairing within a tolerance (src/pairing.c)
--
-- The two devices' clocks may disagree.  With pairing_tolerance above 0, a
-- step trainer reading at s pairs with its owner's phone readings taken
-- within the tolerance T: in 'window' mode with every one of them
-- (|ms(a) - ms(s)| <= T), in 'nearest' mode with those of the nearest
-- millisecond (all readings of that millisecond; of two equally near, the
-- earlier).  The readings of a device that several trusted customers name
-- are held back when more than one of them has a reading within T.  The
-- join is a C operator hashing the phone readings on (customer, time
-- bucket), buckets of 2T + 1 ms, each step trainer reading probing the
-- buckets its window meets (stedi.pair_readings).  With T = 0 the
-- definition is the same-millisecond join above.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION stedi.pairing_offset(reading timestamptz, step timestamptz) RETURNS bigint
AS 'MODULE_PATHNAME', 'stedi_pairing_offset' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stedi.pairing_offset(timestamptz, timestamptz) IS
    'Milliseconds from a step trainer reading to a phone reading (negative: the phone reading is earlier), each at its millisecond; datetime_value_out_of_range for an infinite time (src/pairing.c)';

-- The pairing tolerance in force, in whole milliseconds.
CREATE OR REPLACE FUNCTION stedi.pairing_tolerance_ms() RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (extract(epoch FROM stedi.setting_value('pairing_tolerance')::interval) * 1000)::integer
$$;
COMMENT ON FUNCTION stedi.pairing_tolerance_ms() IS 'The setting pairing_tolerance in milliseconds (0: the same millisecond)';

-- How many trusted customers who name a device have a trusted phone
-- reading within tolerance_ms of t (0: in the millisecond of t): more
-- than one, and the device's reading at t is held back.  (A function, so
-- that the planner prices it as one call, made only for devices that
-- several name, and not as a subquery run for every reading.)
CREATE OR REPLACE FUNCTION stedi.claimants_reading_near(serial_number text, t timestamptz,
                                             tolerance_ms integer) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = on
AS $$
    SELECT count(DISTINCT o.email)
      FROM trusted.customer AS o
      JOIN trusted.accelerometer AS b ON b.user_email = o.email
     WHERE o.serial_number = claimants_reading_near.serial_number
       AND b.reading_time OPERATOR(stedi.>=#) t - tolerance_ms * interval '1 millisecond'
       AND b.reading_time OPERATOR(stedi.<=#) t + tolerance_ms * interval '1 millisecond'
$$;
COMMENT ON FUNCTION stedi.claimants_reading_near(text, timestamptz, integer) IS
    'How many trusted customers who name the device (serial number) have a trusted accelerometer reading within tolerance_ms of t (each at its millisecond); more than one holds the device''s reading at t back from the training table';

-- The pairs within a tolerance, found by a C operator (src/pairing.c):
-- the phone readings hashed by (customer, time bucket of 2T + 1 ms), each
-- step trainer reading looked up in the one or two buckets its window
-- meets, the nearest chosen as they are found.  All pairs, or those of
-- the given devices, whose claimants' emails come with them.  The secret
-- is an argument so that the definition view reads it with its owner's
-- rights; the tables are read with the caller's.
CREATE OR REPLACE FUNCTION stedi.pair_readings(tolerance_ms integer, nearest boolean, secret bytea,
                                    devices text[] DEFAULT NULL, claimants text[] DEFAULT NULL)
RETURNS TABLE (sensor_reading_time timestamptz, serial_number text, distance_from_object integer,
               customer_key uuid, reading_time timestamptz, x double precision,
               y double precision, z double precision,
               step_trainer_file_id integer, step_trainer_line_number bigint,
               accelerometer_file_id integer, accelerometer_line_number bigint)
AS 'MODULE_PATHNAME', 'stedi_pair_readings' LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
-- (no plan of it printed where its caller could read the secret)
SET debug_print_plan = off;
COMMENT ON FUNCTION stedi.pair_readings(integer, boolean, bytea, text[], text[]) IS
    'The training table''s pairs within tolerance_ms (0 to 3,600,000 ms; invalid_parameter_value otherwise) in nearest mode (true) or window mode, customer keys made with the secret: all of them, or those of the devices given with their claimants'' emails; memory about work_mem * hash_mem_multiplier, larger inputs split into partitions written to temporary files (src/pairing.c)';

-- Make the training table's definition view again from the pairing
-- settings: the same-millisecond join for a tolerance of 0, else the
-- bucket join of the chosen mode.  Called by stedi.set_setting when they
-- change (the next refresh then rebuilds the table).
CREATE OR REPLACE FUNCTION stedi.define_pairing() RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    tolerance integer := stedi.pairing_tolerance_ms();
BEGIN
    IF tolerance = 0 THEN
        CREATE OR REPLACE VIEW curated.machine_learning_definition AS
        SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
               s.customer_key,
               a.reading_time, a.x, a.y, a.z,
               s.file_id AS step_trainer_file_id,
               s.line_number AS step_trainer_line_number,
               a.file_id AS accelerometer_file_id,
               a.line_number AS accelerometer_line_number,
               stedi.customer_split(s.customer_key) AS split
          FROM (SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
                       s.file_id, s.line_number, c.email, c.customer_key
                  FROM trusted.step_trainer AS s
                  JOIN (SELECT o.email, o.serial_number, stedi.customer_key(o.email, k.secret) AS customer_key
                          FROM trusted.customer AS o CROSS JOIN stedi.pseudonym_secret AS k
                        OFFSET 0) AS c ON c.serial_number = s.serial_number
                 WHERE s.serial_number NOT IN (SELECT d.serial_number FROM trusted.customer AS d
                                                GROUP BY d.serial_number HAVING count(*) > 1)
                    OR stedi.claimants_reading_near(s.serial_number, s.sensor_reading_time, 0) < 2
                OFFSET 0) AS s
          JOIN trusted.accelerometer AS a
            ON a.user_email = s.email
           AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time;
        RETURN;
    END IF;
    EXECUTE format('CREATE OR REPLACE VIEW curated.machine_learning_definition AS
                    SELECT p.*, stedi.customer_split(p.customer_key) AS split
                      FROM stedi.pseudonym_secret AS k
                     CROSS JOIN LATERAL stedi.pair_readings(%s, %L, k.secret) AS p',
                   tolerance, stedi.setting_value('pairing_mode') = 'nearest');
END
$$;
COMMENT ON FUNCTION stedi.define_pairing() IS 'Make curated.machine_learning_definition again from the settings pairing_tolerance and pairing_mode';
-- (the training table's definition: the same-millisecond join, the default)
SELECT stedi.define_pairing();

-- How well pairing worked, device by device: per curated customer and the
-- device it names, its step trainer readings, those paired, those with no
-- phone reading within the tolerance (or held back), and the median and
-- largest time difference of the pairs, in ms.
CREATE OR REPLACE VIEW stedi.pairing_quality AS
SELECT c.customer_key, c.serial_number,
       coalesce(s.readings, 0) AS step_readings,
       coalesce(m.paired, 0) AS paired,
       coalesce(s.readings, 0) - coalesce(m.paired, 0) AS unpaired,
       m.median_offset_ms, m.max_offset_ms
  FROM curated.customer AS c
  LEFT JOIN (SELECT s.serial_number, count(*) AS readings
               FROM trusted.step_trainer AS s GROUP BY s.serial_number) AS s
    ON s.serial_number = c.serial_number
  LEFT JOIN (SELECT m.customer_key, m.serial_number,
                    count(DISTINCT (m.step_trainer_file_id, m.step_trainer_line_number)) AS paired,
                    percentile_cont(0.5) WITHIN GROUP
                        (ORDER BY abs(stedi.pairing_offset(m.reading_time, m.sensor_reading_time))) AS median_offset_ms,
                    max(abs(stedi.pairing_offset(m.reading_time, m.sensor_reading_time))) AS max_offset_ms
               FROM curated.machine_learning AS m
              GROUP BY m.customer_key, m.serial_number) AS m
    ON m.customer_key = c.customer_key AND m.serial_number = c.serial_number;
COMMENT ON VIEW stedi.pairing_quality IS 'Per curated customer (by key) and device: step trainer readings, those paired with phone readings, those unpaired (no phone reading within the tolerance, or held back), and the median and largest absolute time difference of the pairs in ms';
COMMENT ON COLUMN stedi.pairing_quality.step_readings IS 'Trusted step trainer readings of the device';
COMMENT ON COLUMN stedi.pairing_quality.paired IS 'Of those, the readings paired with a phone reading of this customer';
COMMENT ON COLUMN stedi.pairing_quality.unpaired IS 'Readings with no phone reading of this customer within the pairing tolerance, or held back (the device is named by several)';
COMMENT ON COLUMN stedi.pairing_quality.median_offset_ms IS 'Median absolute time difference of the pairs, in ms';
COMMENT ON COLUMN stedi.pairing_quality.max_offset_ms IS 'Largest absolute time difference of the pairs, in ms';



