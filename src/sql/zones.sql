-- The trusted and curated zones: each a table beside its definition.

------------------------------------------------------------------------------
-- Trusted and curated zones
--
-- Each zone is a table that stedi.refresh() keeps equal to its definition,
-- a plain view beside it named <zone>_definition: read the view to see
-- what the table holds, or to compute it from scratch.  They are tables
-- and not materialized views because PostgreSQL can only refresh a
-- materialized view whole (REFRESH ... CONCURRENTLY recomputes all of it
-- and diffs it with the old contents), while stedi.refresh() changes only
-- the rows that new files and changed customers touch.  Every rule about
-- consent is applied in the trusted zone; curated is made of trusted
-- alone.
------------------------------------------------------------------------------

-- One truth per customer: the record with the latest lastUpdateDate wins;
-- ties go to the record loaded last (highest file, then line).  Consent is
-- decided on that record, so a later record that withdraws consent wins.
-- A customer is an email however it is spelled (stedi.normalize_email):
-- trusted and curated hold the normalized email, landing what arrived.
CREATE OR REPLACE VIEW trusted.customer_definition AS
SELECT customer_name, email, phone, birth_day, serial_number,
       registration_date, last_update_date,
       share_with_research_as_of_date, share_with_public_as_of_date,
       share_with_friends_as_of_date, file_id, line_number
  FROM (SELECT DISTINCT ON (email) *
          FROM (SELECT l.customer_name, stedi.normalize_email(l.email) AS email,
                       l.phone, l.birth_day, l.serial_number,
                       l.registration_date, l.last_update_date,
                       l.share_with_research_as_of_date,
                       l.share_with_public_as_of_date,
                       l.share_with_friends_as_of_date, l.file_id, l.line_number
                  FROM landing.customer AS l) AS spelled
         ORDER BY email, last_update_date DESC NULLS LAST,
                  file_id DESC, line_number DESC) AS latest
 WHERE stedi.has_research_consent(share_with_research_as_of_date);

-- Each trusted zone holds landing rows that pass its rules: its table has
-- the columns of its landing table (without landing's constraints, which
-- the loading protocol keeps).  Here, with a consent date.
CREATE TABLE IF NOT EXISTS trusted.customer (LIKE landing.customer);
ALTER TABLE trusted.customer ALTER COLUMN share_with_research_as_of_date SET NOT NULL;

-- Under the as_of consent policy, only readings taken at or after the
-- customer's consent date.  The policy is read from stedi.settings at
-- refresh, so the session's own settings never change the result.  These
-- are the zone's candidates: its definition (trusted.accelerometer_definition,
-- made by stedi.define_zone) keeps those that meet its expectations, and
-- of identical readings the first loaded.  loaded_at, when the reading's
-- file was loaded, is there for the expectations' checks.
CREATE OR REPLACE VIEW trusted.accelerometer_candidate AS
SELECT stedi.normalize_email(a.user_email) AS user_email, a.reading_time, a.x, a.y, a.z,
       a.file_id, a.line_number, f.loaded_at, c.serial_number
  FROM landing.accelerometer AS a
  JOIN trusted.customer AS c ON c.email = stedi.normalize_email(a.user_email)
  JOIN landing.source_file AS f ON f.file_id = a.file_id
 WHERE stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                          a.reading_time, (SELECT stedi.setting_value('consent_policy')));

-- (landing's columns, the email normalized, and the customer's device)
CREATE TABLE IF NOT EXISTS trusted.accelerometer (LIKE landing.accelerometer, serial_number text NOT NULL);
COMMENT ON COLUMN trusted.accelerometer.serial_number IS 'The device the reading''s customer names in their trusted record: the column the zones are distributed by (docs/scale-out.md)';


-- No name, email, phone or birthday: curated is what data scientists read.
CREATE OR REPLACE VIEW curated.customer_definition AS
SELECT c.customer_key, c.serial_number, c.registration_date, c.last_update_date,
       c.share_with_research_as_of_date, c.share_with_public_as_of_date,
       c.share_with_friends_as_of_date, stedi.customer_split(c.customer_key) AS split
  FROM (SELECT c.*, stedi.customer_key(c.email, k.secret) AS customer_key
          FROM trusted.customer AS c
         CROSS JOIN stedi.pseudonym_secret AS k
         WHERE EXISTS (SELECT FROM trusted.accelerometer AS a WHERE a.user_email = c.email)) AS c;

CREATE TABLE IF NOT EXISTS curated.customer (
    customer_key                   uuid NOT NULL,
    serial_number                  text NOT NULL,
    registration_date              timestamptz,
    last_update_date               timestamptz,
    share_with_research_as_of_date timestamptz NOT NULL,
    share_with_public_as_of_date   timestamptz,
    share_with_friends_as_of_date  timestamptz,
    split                          text NOT NULL
);

-- The step trainer zone's candidates, as trusted.accelerometer_candidate.
CREATE OR REPLACE VIEW trusted.step_trainer_candidate AS
SELECT s.sensor_reading_time, s.serial_number, s.distance_from_object,
       s.file_id, s.line_number, f.loaded_at
  FROM landing.step_trainer AS s
  JOIN landing.source_file AS f ON f.file_id = s.file_id
 WHERE EXISTS (SELECT FROM curated.customer AS c
                WHERE c.serial_number = s.serial_number
                  AND stedi.reading_has_research_consent(c.share_with_research_as_of_date,
                                                         s.sensor_reading_time,
                                                         (SELECT stedi.setting_value('consent_policy'))));

CREATE TABLE IF NOT EXISTS trusted.step_trainer (LIKE landing.step_trainer);

-- The training table pairs a step trainer reading with the accelerometer
-- readings taken in the same millisecond BY THE CUSTOMER WHO OWNS THAT STEP
-- TRAINER.  A join on time alone (as the original pipeline did) would also
-- pair readings of strangers whose clocks happen to coincide.  The
-- customer appears only as a pseudonymous key.
-- The original STEDI data had a fulfilment defect: the website gave the
-- same serial number to many customers.  When several trusted customers
-- name one device and more than one of them has a reading in the
-- millisecond of one of its readings, whose step that reading measured
-- cannot be told: it is held back, paired with no one
-- (stedi.ambiguous_device counts them).  The devices that several name
-- are few: the others pass the first test, a hash lookup.
-- (Each OFFSET 0 keeps a subquery whole: each customer's key is computed
-- once, not once per pair; and the step trainer readings meet their
-- owners before the accelerometer readings, never on the millisecond
-- alone, which would pair strangers first, whatever the planner guesses.
-- stedi.compute_zone_change computes the pairs of the devices that
-- several name again as this does.)
CREATE TABLE IF NOT EXISTS curated.machine_learning (
    sensor_reading_time       timestamptz NOT NULL,
    serial_number             text NOT NULL,
    distance_from_object      integer NOT NULL,
    customer_key              uuid NOT NULL,
    reading_time              timestamptz NOT NULL,
    x                         double precision NOT NULL,
    y                         double precision NOT NULL,
    z                         double precision NOT NULL,
    step_trainer_file_id      integer NOT NULL,
    step_trainer_line_number  bigint NOT NULL,
    accelerometer_file_id     integer NOT NULL,
    accelerometer_line_number bigint NOT NULL,
    split                     text NOT NULL
);

