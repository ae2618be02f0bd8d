-- What changed in landing since the last refresh: the queues a refresh
-- consumes, and the owner maps that say whose readings a file holds.

------------------------------------------------------------------------------
-- What changed in landing since the last refresh
------------------------------------------------------------------------------

-- stedi.refresh() works from what changed, in three queues.  Each refresh
-- deletes the entries it can see before it reads anything, so an entry
-- committed meanwhile stays for the next refresh: a change can be applied
-- twice (harmlessly: every insert is idempotent), never zero times.
-- Insert-only, so concurrent loaders never wait for each other here.

-- Files loaded since the last refresh (by stedi.finish_file).
CREATE TABLE IF NOT EXISTS stedi.pending_file (
    file_id integer PRIMARY KEY,
    kind    text NOT NULL
);
COMMENT ON TABLE stedi.pending_file IS 'Files loaded since the last refresh: their rows are what the next refresh adds';

-- Customers whose records went from landing otherwise than by a new file:
-- erased (stedi.forget_customer, which refreshes in the same transaction)
-- or unloaded with a customer file (stedi.unload_file).  Normalized emails.
CREATE TABLE IF NOT EXISTS stedi.pending_customer (
    email text NOT NULL
);
COMMENT ON TABLE stedi.pending_customer IS 'Customers whose records were erased or unloaded, to be recomputed by the next refresh (normalized emails)';

-- Accelerometer and step trainer files unloaded since the last refresh
-- (by stedi.unload_file): the next refresh removes what they gave the zones.
CREATE TABLE IF NOT EXISTS stedi.pending_unload (
    file_id integer PRIMARY KEY,
    kind    text NOT NULL
);
COMMENT ON TABLE stedi.pending_unload IS 'Accelerometer and step trainer files unloaded since the last refresh: their rows are what the next refresh removes from the zones';

-- Any other change to landing (an UPDATE or DELETE by hand, say), or of the
-- consent policy: the next refresh rebuilds the zones from scratch.
CREATE TABLE IF NOT EXISTS stedi.landing_change (
    relation   regclass NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stedi.landing_change IS 'Changes not made through the loading protocol or by forget_customer; any of them makes the next refresh a full one';

CREATE OR REPLACE FUNCTION stedi.note_landing_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    files integer[];
    twice_file integer;
    twice_line bigint;
BEGIN
    -- the loading protocol and forget_customer say what they change more
    -- precisely; what they did is known to the server alone (src/loading.c),
    -- never to a setting a session could change
    IF NOT stedi.landing_change_is_tracked(TG_OP) THEN
        INSERT INTO stedi.landing_change (relation) VALUES (TG_RELID);
        -- a line of a file is one row: written twice by hand, it would
        -- stop every refresh at the zone's key (the landing tables keep
        -- no unique index, for the speed of loading)
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            files := stedi.files_written_by_hand(TG_TABLE_NAME);
            IF files IS NULL THEN
                EXECUTE format('SELECT t.file_id, t.line_number FROM %s AS t
                                 GROUP BY t.file_id, t.line_number HAVING count(*) > 1 LIMIT 1',
                               TG_RELID::regclass) INTO twice_file, twice_line;
            ELSIF cardinality(files) > 0 THEN
                EXECUTE format('SELECT t.file_id, t.line_number FROM %s AS t
                                 WHERE t.file_id = ANY ($1)
                                 GROUP BY t.file_id, t.line_number HAVING count(*) > 1 LIMIT 1',
                               TG_RELID::regclass) INTO twice_file, twice_line USING files;
            END IF;
            IF twice_file IS NOT NULL THEN
                RAISE EXCEPTION 'line % of file % would be in % twice',
                                twice_line, twice_file, TG_RELID::regclass
                      USING ERRCODE = 'unique_violation',
                            DETAIL = 'Each line of a landing file is one row; the zones are keyed by file and line.',
                            HINT = 'Change the row that is there, or write the new one under a line number of its own.';
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stedi.note_landing_change() IS 'Statement trigger on landing tables: notes a change that only a full refresh can apply';

CREATE OR REPLACE TRIGGER landing_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON landing.customer FOR EACH STATEMENT EXECUTE FUNCTION stedi.note_landing_change();
CREATE OR REPLACE TRIGGER landing_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON landing.accelerometer FOR EACH STATEMENT EXECUTE FUNCTION stedi.note_landing_change();
CREATE OR REPLACE TRIGGER landing_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON landing.step_trainer FOR EACH STATEMENT EXECUTE FUNCTION stedi.note_landing_change();

-- Finding a file's rows: BRIN indexes are all but free to keep while
-- loading (the rows of a file lie together), and refresh summarizes the
-- new ranges before it uses them (stedi.maintain_zones).
CREATE INDEX IF NOT EXISTS accelerometer_file_idx ON landing.accelerometer USING brin (file_id);
CREATE INDEX IF NOT EXISTS step_trainer_file_idx ON landing.step_trainer USING brin (file_id);
CREATE INDEX IF NOT EXISTS customer_file_idx ON landing.customer USING brin (file_id);
-- A customer's records, however the email is spelled: what a refresh
-- recomputes for each changed customer, and what an erasure deletes.
CREATE INDEX IF NOT EXISTS customer_identity_idx ON landing.customer (stedi.normalize_email(email));

-- Which files hold readings of which customer and device, and from when
-- to when: when a customer becomes trusted (or a device curated) later
-- than its readings arrived, refresh reads those files only, not the
-- whole landing table; when a file is unloaded, the next copies of its
-- readings are looked for only in the files that hold readings of the
-- same owner at those times.
CREATE TABLE IF NOT EXISTS stedi.accelerometer_file_user (
    user_email text NOT NULL,
    file_id    integer NOT NULL,
    first_time timestamptz NOT NULL,
    last_time  timestamptz NOT NULL,
    PRIMARY KEY (user_email, file_id)
);
COMMENT ON TABLE stedi.accelerometer_file_user IS 'Which landing files hold accelerometer readings of which email (normalized: stedi.normalize_email), and the first and last time of those readings (filled by stedi.finish_file)';
CREATE TABLE IF NOT EXISTS stedi.step_trainer_file_serial (
    serial_number text NOT NULL,
    file_id       integer NOT NULL,
    first_time    timestamptz NOT NULL,
    last_time     timestamptz NOT NULL,
    PRIMARY KEY (serial_number, file_id)
);
COMMENT ON TABLE stedi.step_trainer_file_serial IS 'Which landing files hold step trainer readings of which device, and the first and last time of those readings (filled by stedi.finish_file)';
COMMENT ON COLUMN stedi.accelerometer_file_user.first_time IS 'The earliest reading time of the email''s readings in the file';
COMMENT ON COLUMN stedi.accelerometer_file_user.last_time IS 'The latest reading time of the email''s readings in the file';
COMMENT ON COLUMN stedi.step_trainer_file_serial.first_time IS 'The earliest reading time of the device''s readings in the file';
COMMENT ON COLUMN stedi.step_trainer_file_serial.last_time IS 'The latest reading time of the device''s readings in the file';

