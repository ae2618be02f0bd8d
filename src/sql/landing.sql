-- The landing zone and its lineage: the schemas, the landing tables as
-- records arrived, quarantine, and the record of each loaded file.
--
-- landing  raw records, exactly as they arrived, with their lineage
-- trusted  records of customers who agreed to share their data for research
-- curated  what data scientists read: customers with readings, and the
--          training table pairing step trainer and accelerometer readings
-- stedi    the extension's own functions, operators and logs

CREATE SCHEMA IF NOT EXISTS landing;
CREATE SCHEMA IF NOT EXISTS trusted;
CREATE SCHEMA IF NOT EXISTS curated;

COMMENT ON SCHEMA landing IS 'STEDI landing zone: raw customer, accelerometer and step trainer records as loaded by stedi-load';
COMMENT ON SCHEMA trusted IS 'STEDI trusted zone: records of customers who agreed to share their data for research';
COMMENT ON SCHEMA curated IS 'STEDI curated zone: tables for data scientists';

------------------------------------------------------------------------------
-- Landing zone
------------------------------------------------------------------------------

-- The loading protocol's record of the files this transaction loads (C,
-- src/loading.c): the server, not the loader, counts a file's rows and
-- gathers whose readings it holds.  Every landing row passes a CHECK
-- constraint that calls one of the first two; the other four are the
-- loading functions' own (only the extension's owner may execute them).
CREATE OR REPLACE FUNCTION stedi.landing_row_check(kind text, file_id integer,
                                        line_number bigint, owner text,
                                        reading_time timestamptz)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_landing_row_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.landing_row_check(text, integer, bigint, text, timestamptz) IS
    'CHECK of the landing tables: the row belongs to a file begun in this transaction (stedi.begin_file), of the table''s kind, in line order, and its owner and reading time are noted for the file''s owner map; or the writer may change landing by hand (stedi_admin, the owner), and the row is noted as untracked';
CREATE OR REPLACE FUNCTION stedi.rejected_line_check(kind text, file_id integer, line_number bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_rejected_line_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stedi.rejected_line_check(text, integer, bigint) IS
    'CHECK of landing.rejected: the line belongs to a file begun in this transaction, of its kind, in line order; or the writer may change landing by hand';
CREATE OR REPLACE FUNCTION stedi.open_file(file_id integer, kind text) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_open_file' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.open_file(integer, text) IS
    'stedi.begin_file: the file is being loaded in this transaction (its rows may now be written)';
CREATE OR REPLACE FUNCTION stedi.close_file(file_id integer, OUT kind text, OUT rows_loaded bigint,
                                 OUT rows_rejected bigint, OUT owners text[],
                                 OUT first_times timestamptz[], OUT last_times timestamptz[])
AS 'MODULE_PATHNAME', 'stedi_close_file' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.close_file(integer) IS
    'stedi.finish_file: what this transaction wrote for the file, counted by the server, and the distinct owners of its readings with the first and last time of each one''s (NULL past 100,000 owners); no row may be added after';
CREATE OR REPLACE FUNCTION stedi.track_deletes(tracked boolean) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_track_deletes' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.track_deletes(boolean) IS
    'stedi.forget_customer and stedi.unload_file: their deletes from landing are tracked (they queue what they removed themselves)';
CREATE OR REPLACE FUNCTION stedi.mark_erasure_refresh(erasing boolean) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_mark_erasure_refresh' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.mark_erasure_refresh(boolean) IS
    'stedi.forget_customer: the refresh it runs is an erasure''s, which no expectation whose action is fail may stop (until the end of the transaction)';
CREATE OR REPLACE FUNCTION stedi.in_erasure_refresh() RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_in_erasure_refresh' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.in_erasure_refresh() IS
    'Whether the refresh running is an erasure''s (stedi.mark_erasure_refresh)';
CREATE OR REPLACE FUNCTION stedi.landing_change_is_tracked(operation text) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_landing_change_is_tracked' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.landing_change_is_tracked(text) IS
    'Whether the refresh already knows what a landing statement changed: an INSERT through the loading protocol, a DELETE of forget_customer or unload_file';

CREATE OR REPLACE FUNCTION stedi.files_written_by_hand(kind text) RETURNS integer[]
AS 'MODULE_PATHNAME', 'stedi_files_written_by_hand' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.files_written_by_hand(text) IS
    'The files that rows of landing.<kind> written by hand in this transaction belong to (NULL: more than 1,000), for the check that no line is there twice';

-- The refresh lock (C, src/refresh.c), taken before any table by every
-- function that writes the zones, the owner maps or the queues: one lock
-- order, so that none of them deadlocks with another.  Refresh, erasure
-- and unload_file run one at a time; loads share it with all of them.
CREATE OR REPLACE FUNCTION stedi.lock_refresh(purpose text) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_lock_refresh_sql' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stedi.lock_refresh(text) IS
    'Take the refresh lock to the end of the transaction, for a load (never waits), an erasure or an unload (one at a time with refreshes; says so after waiting 1000 ms); only stedi''s own functions may';

-- One row per loaded file: the lineage every landing row points to, and
-- what makes loading idempotent (the content hash).
CREATE TABLE IF NOT EXISTS landing.source_file (
    file_id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL
                  CHECK (kind IN ('customer', 'accelerometer', 'step_trainer')),
    path          text NOT NULL,
    size_bytes    bigint NOT NULL,
    sha256        bytea CHECK (octet_length(sha256) = 32),
    forced        boolean NOT NULL DEFAULT false,
    lines_read    bigint,
    rows_loaded   bigint,
    rows_rejected bigint,
    extra_fields  bigint,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    load_duration interval,
    loaded_by     name NOT NULL DEFAULT session_user,
    CONSTRAINT counts_add_up CHECK (lines_read = rows_loaded + rows_rejected)
);
CREATE INDEX IF NOT EXISTS source_file_sha256_idx ON landing.source_file (sha256);
-- The database itself refuses a second load of the same content that is
-- not forced, whatever the loader's isolation level.
CREATE UNIQUE INDEX IF NOT EXISTS source_file_sha256_once ON landing.source_file (sha256) WHERE NOT forced;
COMMENT ON TABLE landing.source_file IS 'One row per JSON-lines file loaded into the landing zone; file_id is the lineage of every landing row';
COMMENT ON COLUMN landing.source_file.sha256 IS 'SHA-256 of the file''s bytes: a file whose content is here already is skipped by stedi-load (unless --force)';
COMMENT ON COLUMN landing.source_file.forced IS 'Loaded with --force although the same content had been loaded before';
COMMENT ON COLUMN landing.source_file.lines_read IS 'Non-blank lines read; always rows_loaded + rows_rejected';
COMMENT ON COLUMN landing.source_file.extra_fields IS 'Unknown JSON fields seen in loaded rows (ignored); landing.unknown_field names them';

-- Schema drift: the field names a file's loaded records carried that stedi
-- does not know, each with how many records carried it.  A name is kept to
-- 256 bytes (stedi-load cuts a longer one at a character boundary and marks
-- the cut with "..."), and a file names at most 1,000 of them.
CREATE TABLE IF NOT EXISTS landing.unknown_field (
    file_id    integer NOT NULL,
    field_name text NOT NULL CHECK (octet_length(field_name) <= 256),
    records    bigint NOT NULL CHECK (records > 0),
    PRIMARY KEY (file_id, field_name)
);
COMMENT ON TABLE landing.unknown_field IS 'Schema drift: each unknown field name the loaded records of a file carried, with how many records carried it (written by stedi.finish_file)';
COMMENT ON COLUMN landing.unknown_field.field_name IS 'The unknown field name as the records spelled it (cut at 256 bytes, the cut marked "...")';
COMMENT ON COLUMN landing.unknown_field.records IS 'How many of the file''s loaded records carried it';

-- Times arrive as epoch milliseconds; timestamptz keeps them exactly
-- (microsecond resolution) and shows them as times.
CREATE TABLE IF NOT EXISTS landing.customer (
    customer_name                  text,
    email                          text NOT NULL,
    phone                          text,
    birth_day                      date,
    serial_number                  text NOT NULL,
    registration_date              timestamptz,
    last_update_date               timestamptz,
    share_with_research_as_of_date timestamptz,
    share_with_public_as_of_date   timestamptz,
    share_with_friends_as_of_date  timestamptz,
    file_id                        integer NOT NULL,
    line_number                    bigint NOT NULL,
    CONSTRAINT written_by_loading_protocol
        CHECK (stedi.landing_row_check('customer', file_id, line_number, NULL, NULL)),
    CONSTRAINT values_within_bounds
        CHECK (octet_length(email) <= 254 AND btrim(email, E' \t\n\r\f\x0B') <> ''
               AND octet_length(serial_number) <= 128
               AND btrim(serial_number, E' \t\n\r\f\x0B') <> ''
               AND octet_length(customer_name) <= 512 AND octet_length(phone) <= 64)
);
COMMENT ON TABLE landing.customer IS 'Customer records as they arrived (one per JSON line; a customer may appear more than once)';

-- Every text value that reaches an index has a bound, so that no single
-- row can block a load or a refresh (a btree entry holds at most 2,704
-- bytes).  stedi-load quarantines a line over a bound with a reason that
-- names the field; these constraints hold writes by hand to the same
-- bounds, in bytes: an email 254 (RFC 5321, 4.5.3.1.3: a path is at most
-- 256 octets with its angle brackets), a serial number 128, a name 512, a
-- phone number 64.  An email or serial number that is blank names no one.

-- No primary key on the landing tables: (file_id, line_number) is unique
-- by construction (stedi-load numbers the lines of a file it loads once,
-- in one transaction), and keeping a btree on it would cost about 40% of
-- the load time of a large file.

CREATE TABLE IF NOT EXISTS landing.accelerometer (
    user_email   text NOT NULL,
    reading_time timestamptz NOT NULL,
    x            double precision NOT NULL,
    y            double precision NOT NULL,
    z            double precision NOT NULL,
    file_id      integer NOT NULL,
    line_number  bigint NOT NULL,
    CONSTRAINT written_by_loading_protocol
        CHECK (stedi.landing_row_check('accelerometer', file_id, line_number, user_email, reading_time)),
    CONSTRAINT values_within_bounds
        CHECK (octet_length(user_email) <= 254
               AND btrim(user_email, E' \t\n\r\f\x0B') <> '')
);
COMMENT ON TABLE landing.accelerometer IS 'Accelerometer readings from the mobile app, as they arrived';
COMMENT ON COLUMN landing.accelerometer.user_email IS 'JSON field "user": the email of the customer whose phone took the reading';
COMMENT ON COLUMN landing.accelerometer.reading_time IS 'JSON field "timestamp"';

CREATE TABLE IF NOT EXISTS landing.step_trainer (
    sensor_reading_time  timestamptz NOT NULL,
    serial_number        text NOT NULL,
    distance_from_object integer NOT NULL,
    file_id              integer NOT NULL,
    line_number          bigint NOT NULL,
    CONSTRAINT written_by_loading_protocol
        CHECK (stedi.landing_row_check('step_trainer', file_id, line_number, serial_number, sensor_reading_time)),
    CONSTRAINT values_within_bounds
        CHECK (octet_length(serial_number) <= 128
               AND btrim(serial_number, E' \t\n\r\f\x0B') <> '')
);
COMMENT ON TABLE landing.step_trainer IS 'Step trainer (distance sensor) readings, as they arrived';

-- Lines that could not become landing rows, with the reason: nothing is lost.
CREATE TABLE IF NOT EXISTS landing.rejected (
    kind        text NOT NULL
                CHECK (kind IN ('customer', 'accelerometer', 'step_trainer')),
    file_id     integer NOT NULL,
    line_number bigint NOT NULL,
    byte_offset bigint NOT NULL,
    reason      text NOT NULL,
    raw_line    text NOT NULL,
    email       text,
    serial_number text,
    PRIMARY KEY (file_id, line_number),
    CONSTRAINT written_by_loading_protocol
        CHECK (stedi.rejected_line_check(kind, file_id, line_number)),
    CONSTRAINT values_within_bounds
        CHECK (octet_length(email) <= 254 AND octet_length(serial_number) <= 128)
);
COMMENT ON TABLE landing.rejected IS 'Quarantine: input lines that were not loaded, with the reason and the raw text (truncated to 8192 bytes)';
COMMENT ON COLUMN landing.rejected.email IS 'The email the line carries (customer "email", accelerometer "user"), when it parsed far enough to have one: how stedi.forget_customer finds it';
COMMENT ON COLUMN landing.rejected.serial_number IS 'The serial number the line carries (customer and step trainer "serialNumber"), when it parsed far enough to have one';


DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['customer', 'accelerometer', 'step_trainer', 'rejected'] LOOP
        EXECUTE format('COMMENT ON COLUMN landing.%I.file_id IS %L', t,
                       'Source file: landing.source_file.file_id');
        EXECUTE format('COMMENT ON COLUMN landing.%I.line_number IS %L', t,
                       'Line in the source file, counting from 1');
    END LOOP;
END
$$;

