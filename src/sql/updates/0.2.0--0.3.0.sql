-- stedi 0.2.0 -> 0.3.0: what only this update does.  The update script
-- (made by make) runs src/sql/guard.sql, then this file, then every file of
-- src/sql, which make each object as 0.3.0 has it (CREATE OR REPLACE, IF
-- NOT EXISTS), then 0.2.0--0.3.0.after.sql, and comments.sql last.  Here: what those files cannot
-- do to a 0.2.0 database, and only what needs no function new in 0.3.0
-- (those come after).
--
-- Trust boundaries:
-- * the loading protocol is kept by the server (src/loading.c): landing rows
--   only for a file begun in the same transaction, counts and owners
--   gathered by the server, finish_file(file_id, ...) without owners;
--   change tracking no longer trusts a session setting;
-- * settings are written only through set_setting (SECURITY DEFINER);
-- * a schedule runs only as a role its writer acts as, at most once a year;
-- * analysts read the curated tables, not their definitions, and may use
--   the =# operators;
-- * admins get EXECUTE on the functions they use, by name;
-- * the drop guard sees every command (DROP OWNED, cascades).

-- a file that vanished after it was listed is logged too, without a hash
ALTER TABLE stedi.ingest_log ALTER COLUMN sha256 DROP NOT NULL,
    ALTER COLUMN size_bytes DROP NOT NULL,
    ADD CONSTRAINT content_known_unless_failed
        CHECK (outcome = 'failed' OR (sha256 IS NOT NULL AND size_bytes IS NOT NULL));

-- The same content is loaded once unless forced: the database refuses a
-- second unforced load.  Loads that 0.2.0 let through twice (loaders under
-- repeatable read) are marked forced, which they were in effect.
UPDATE landing.source_file AS f SET forced = true
 WHERE NOT f.forced
   AND EXISTS (SELECT FROM landing.source_file AS e
                WHERE e.sha256 = f.sha256 AND NOT e.forced AND e.file_id < f.file_id);

-- audit columns name who connected, not the owner of the function that wrote them
ALTER TABLE landing.source_file ALTER COLUMN loaded_by SET DEFAULT session_user;
ALTER TABLE stedi.ingest_log ALTER COLUMN loaded_by SET DEFAULT session_user;
ALTER TABLE stedi.setting ALTER COLUMN set_by SET DEFAULT session_user;

-- settings: written only through set_setting, a retention of 1 minute to
-- 100 years (wider values, once accepted, would fail every refresh)
UPDATE stedi.setting
   SET value = CASE WHEN value::interval < interval '1 minute' THEN '00:01:00' ELSE '36500 days' END
 WHERE name = 'run_history_retention'
   AND NOT value::interval BETWEEN interval '1 minute' AND interval '100 years';

-- schedules: at most a year apart, run only as a role their writer acts as
UPDATE stedi.refresh_job SET every = interval '1 year' WHERE every > interval '1 year';
ALTER TABLE stedi.refresh_job DROP CONSTRAINT refresh_job_every_check,
    ADD CONSTRAINT refresh_job_every_check
        CHECK (every BETWEEN interval '1 second' AND interval '1 year');

-- (0.3.0 functions of these names take other arguments or return other rows)
DROP FUNCTION stedi.schedule_refresh(interval);
-- the drop guard sees every command: src/sql/drop_guard.sql makes it again
DROP EVENT TRIGGER stedi_guard_drop;

-- Data integrity:
-- * one identity per person: emails compare with their ASCII letters in
--   lower case (stedi.normalize_email) in trusted, curated, the owner maps
--   and erasure; the first refresh after this update is a full one, which
--   gives customers spelled with capitals their new keys;
-- * every text value that reaches an index has a bound, and an email or a
--   serial number is never blank, for writes by hand too;
-- * quarantined lines keep the email and serial number they carry;
-- * one lock order: refresh, erasure and unload take the refresh lock
--   before any table; loads take it in a mode that never waits;
-- * a full refresh no longer stalls loaders (finish_file does not
--   summarize the BRIN indexes; refresh does);
-- * stedi.unload_file retracts a loaded file; its record is never deleted
--   alone.

-- Rows 0.2.0 accepted that the new bounds refuse: the update stops and
-- says which, rather than dropping anyone's data.
DO $$
DECLARE
    n_customer bigint;
    n_accelerometer bigint;
    n_step_trainer bigint;
BEGIN
    SELECT count(*) INTO n_customer FROM landing.customer AS c
     WHERE NOT (octet_length(c.email) <= 254 AND btrim(c.email, E' \t\n\r\f\x0B') <> ''
                AND octet_length(c.serial_number) <= 128
                AND btrim(c.serial_number, E' \t\n\r\f\x0B') <> ''
                AND coalesce(octet_length(c.customer_name) <= 512, true)
                AND coalesce(octet_length(c.phone) <= 64, true));
    SELECT count(*) INTO n_accelerometer FROM landing.accelerometer AS a
     WHERE NOT (octet_length(a.user_email) <= 254 AND btrim(a.user_email, E' \t\n\r\f\x0B') <> '');
    SELECT count(*) INTO n_step_trainer FROM landing.step_trainer AS s
     WHERE NOT (octet_length(s.serial_number) <= 128 AND btrim(s.serial_number, E' \t\n\r\f\x0B') <> '');
    IF n_customer + n_accelerometer + n_step_trainer > 0 THEN
        RAISE EXCEPTION 'landing holds values that stedi 0.3.0 refuses'
              USING ERRCODE = 'check_violation',
                    DETAIL = format('%s customer records, %s accelerometer readings and %s step trainer readings have a blank email or serial number, or a value over its bound (bytes: email 254, serial number 128, name 512, phone 64).',
                                    n_customer, n_accelerometer, n_step_trainer),
                    HINT = 'Correct or delete those rows (as the extension''s owner), or erase their customers with stedi.forget_customer, then ALTER EXTENSION stedi UPDATE again.';
    END IF;
END
$$;

ALTER TABLE landing.customer ADD CONSTRAINT values_within_bounds
        CHECK (octet_length(email) <= 254 AND btrim(email, E' \t\n\r\f\x0B') <> ''
               AND octet_length(serial_number) <= 128
               AND btrim(serial_number, E' \t\n\r\f\x0B') <> ''
               AND octet_length(customer_name) <= 512 AND octet_length(phone) <= 64);
ALTER TABLE landing.accelerometer ADD CONSTRAINT values_within_bounds
        CHECK (octet_length(user_email) <= 254
               AND btrim(user_email, E' \t\n\r\f\x0B') <> '');
ALTER TABLE landing.step_trainer ADD CONSTRAINT values_within_bounds
        CHECK (octet_length(serial_number) <= 128
               AND btrim(serial_number, E' \t\n\r\f\x0B') <> '');
ALTER TABLE landing.rejected ADD COLUMN email text, ADD COLUMN serial_number text,
    ADD CONSTRAINT values_within_bounds
        CHECK (octet_length(email) <= 254 AND octet_length(serial_number) <= 128);
-- Lines 0.2.0 quarantined get the email and serial number they carry, as
-- stedi-load keeps them now, where their raw text is a JSON object: so
-- that erasure finds them by their decoded values too.
DO $$
DECLARE
    r record;
    doc jsonb;
    email_key text;
BEGIN
    -- (not a line whose invalid bytes stedi-load showed as U+FFFD: it
    -- carries no value as it was sent)
    FOR r IN SELECT q.file_id, q.line_number, q.kind, q.raw_line FROM landing.rejected AS q
              WHERE strpos(q.raw_line, U&'\FFFD') = 0 LOOP
        BEGIN
            doc := r.raw_line::jsonb;
        EXCEPTION WHEN OTHERS THEN
            CONTINUE;           -- not JSON (the reason it was quarantined)
        END;
        CONTINUE WHEN jsonb_typeof(doc) <> 'object';
        email_key := CASE r.kind WHEN 'customer' THEN 'email' WHEN 'accelerometer' THEN 'user' END;
        UPDATE landing.rejected AS q
           SET email = CASE WHEN jsonb_typeof(doc -> email_key) = 'string'
                             AND octet_length(doc ->> email_key) <= 254
                             AND btrim(doc ->> email_key, E' \t\n\r\f\x0B') <> ''
                            THEN doc ->> email_key END,
               serial_number = CASE WHEN r.kind <> 'accelerometer'
                                     AND jsonb_typeof(doc -> 'serialNumber') = 'string'
                                     AND octet_length(doc ->> 'serialNumber') <= 128
                                     AND btrim(doc ->> 'serialNumber', E' \t\n\r\f\x0B') <> ''
                                    THEN doc ->> 'serialNumber' END
         WHERE q.file_id = r.file_id AND q.line_number = r.line_number;
    END LOOP;
END
$$;

-- owner maps hold normalized emails, and the span of each owner's
-- reading times in each file: made again from landing (after)
TRUNCATE stedi.accelerometer_file_user, stedi.step_trainer_file_serial;
ALTER TABLE stedi.accelerometer_file_user
    ADD COLUMN first_time timestamptz NOT NULL, ADD COLUMN last_time timestamptz NOT NULL;
ALTER TABLE stedi.step_trainer_file_serial
    ADD COLUMN first_time timestamptz NOT NULL, ADD COLUMN last_time timestamptz NOT NULL;

DROP FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint, text[]);

-- Refresh at every batch size (issue 13):
-- * zone by zone through change tables (pg_temp.stedi_minus_N and
--   stedi_plus_N), analyzed before anything joins them; each zone
--   incremental or full by cost; only rows that differ are written, so a
--   full rebuild of unchanged data writes nothing and leaves no dead rows;
-- * a run log with each zone's own duration, method and reason, rows
--   inserted and deleted, and the run's real start;
-- * landing.customer found by identity; the training table by reading
--   (its key) and by device (its device index).
DROP FUNCTION stedi.rebuild_zones(boolean);
DROP FUNCTION stedi.apply_zone_changes(integer[], integer[], integer[], text[]);
DROP FUNCTION stedi.maintain_zones(boolean, boolean);
DROP FUNCTION stedi.refresh(boolean, boolean);

-- each refresh records the settings it applied
ALTER TABLE stedi.refresh_run ADD COLUMN settings jsonb;

-- splits (issue 16): filled after, by stedi.customer_split
ALTER TABLE curated.customer ADD COLUMN split text;
ALTER TABLE curated.machine_learning ADD COLUMN split text;

ALTER TABLE stedi.refresh_log ADD COLUMN reason text, ADD COLUMN inserted bigint,
    ADD COLUMN deleted bigint, ADD COLUMN duplicates bigint;

-- Rights, as a fresh install grants them (src/sql/roles.sql, in the same
-- order, so that a dump of an updated database equals one of a fresh
-- install): first none of those 0.2.0 gave.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stedi FROM stedi_loader, stedi_admin;
REVOKE ALL ON ALL TABLES IN SCHEMA curated, stedi FROM stedi_analyst, stedi_admin;
REVOKE ALL ON SCHEMA stedi FROM stedi_loader, stedi_admin;
REVOKE ALL ON SCHEMA landing FROM stedi_loader, stedi_admin;
REVOKE ALL ON SCHEMA curated FROM stedi_analyst, stedi_admin;

-- Every zone carries the device it is distributed by (docs/scale-out.md):
-- the phone readings that of their customer (filled after)
ALTER TABLE trusted.accelerometer ADD COLUMN serial_number text;
