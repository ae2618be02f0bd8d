-- stedi 0.2.0 -> 0.3.0, after every file of src/sql has run: what needs
-- the functions 0.3.0 brings.

-- Existing rows are checked as the extension's owner, who may write
-- landing by hand.
ALTER TABLE landing.customer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('customer', file_id, line_number, NULL, NULL));
ALTER TABLE landing.accelerometer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('accelerometer', file_id, line_number, user_email, reading_time));
ALTER TABLE landing.step_trainer ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.landing_row_check('step_trainer', file_id, line_number, serial_number, sensor_reading_time));
ALTER TABLE landing.rejected ADD CONSTRAINT written_by_loading_protocol
    CHECK (stedi.rejected_line_check(kind, file_id, line_number));

-- owner maps hold normalized emails, and the span of each owner's
-- reading times in each file; queues hold normalized emails; the zones
-- are rebuilt by the next refresh
INSERT INTO stedi.accelerometer_file_user (user_email, file_id, first_time, last_time)
SELECT stedi.normalize_email(a.user_email), a.file_id, min(a.reading_time), max(a.reading_time)
  FROM landing.accelerometer AS a
 GROUP BY 1, 2;
INSERT INTO stedi.step_trainer_file_serial (serial_number, file_id, first_time, last_time)
SELECT s.serial_number, s.file_id, min(s.sensor_reading_time), max(s.sensor_reading_time)
  FROM landing.step_trainer AS s
 GROUP BY 1, 2;
UPDATE stedi.pending_customer AS p SET email = stedi.normalize_email(p.email);
INSERT INTO stedi.landing_change (relation)
SELECT 'landing.customer'::regclass
 WHERE EXISTS (SELECT FROM landing.customer AS c WHERE c.email <> stedi.normalize_email(c.email))
    OR EXISTS (SELECT FROM landing.accelerometer AS a
                WHERE a.user_email <> stedi.normalize_email(a.user_email));

-- Splits (issue 16): each curated customer, and each pair, carries the
-- split of its customer, computed here for the rows there are.
UPDATE curated.customer SET split = stedi.customer_split(customer_key);
ALTER TABLE curated.customer ALTER COLUMN split SET NOT NULL;
UPDATE curated.machine_learning SET split = stedi.customer_split(customer_key);
ALTER TABLE curated.machine_learning ALTER COLUMN split SET NOT NULL;

-- the phone readings carry their customer's device (a reading with no
-- trusted customer, which 0.2.0 did not keep, goes; the full refresh
-- below would remove it)
UPDATE trusted.accelerometer AS a SET serial_number = c.serial_number
  FROM trusted.customer AS c WHERE c.email = a.user_email;
DELETE FROM trusted.accelerometer AS a WHERE a.serial_number IS NULL;
ALTER TABLE trusted.accelerometer ALTER COLUMN serial_number SET NOT NULL;
UPDATE stedi.zone_state AS s SET rows = (SELECT count(*) FROM trusted.accelerometer)
 WHERE s.view = 'trusted.accelerometer'::regclass;

-- zones that 0.2.0 filled hold emails in other spellings, identical
-- readings twice, readings the shipped expectations keep out, and pairs of
-- readings now held back: the next refresh compares every zone whole with
-- its new definition
INSERT INTO stedi.landing_change (relation) VALUES ('stedi.expectation'::regclass);

-- the zones' indexes say what they are for now (a refresh makes them
-- once it has filled the zones)
DO $$
DECLARE
    z record;
    schema text;
BEGIN
    FOR z IN SELECT * FROM stedi.zones() LOOP
        schema := (SELECT c.relnamespace::regnamespace::text FROM pg_class AS c WHERE c.oid = z.zone);
        IF to_regclass(format('%I.%I', schema, z.key_name)) IS NOT NULL THEN
            EXECUTE format('COMMENT ON INDEX %I.%I IS %L', schema, z.key_name,
                           'Key of ' || z.zone::text || ': one row per key, and how a refresh finds the rows it deletes');
            -- every key ends with the device now, and the training
            -- table's leads with the accelerometer reading (its device
            -- index finds step trainer readings).  The old key is dropped
            -- once the new one is built: dropping locks readers out until
            -- this update commits, building does not.  A filled zone gets
            -- the lookup index 0.3.0 adds (the training table's, by device).
            EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', schema, z.key_name,
                           z.key_name || '_0_2_0');
            PERFORM stedi.index_zone(z.zone);
            EXECUTE format('DROP INDEX %I.%I', schema, z.key_name || '_0_2_0');
        END IF;
        IF to_regclass(format('%I.%I', schema, z.lookup_name)) IS NOT NULL THEN
            EXECUTE format('COMMENT ON INDEX %I.%I IS %L', schema, z.lookup_name,
                           'How an incremental refresh finds the rows of one customer, device or reading in ' || z.zone::text);
        END IF;
    END LOOP;
END
$$;
