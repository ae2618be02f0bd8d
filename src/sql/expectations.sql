-- Expectations: data-quality rules over the reading zones, and the
-- definitions of those zones made from them.

------------------------------------------------------------------------------
-- Expectations: data-quality rules over the reading zones
--
-- An expectation is a check, a boolean SQL expression over a reading
-- zone's columns and loaded_at (when the reading's file was loaded), and
-- what to do with a row for which it is false (as in Databricks' Delta
-- Live Tables, but incremental and inside the database):
--   warn  keep the row in the zone, and record it;
--   drop  keep the row out of the zone, and record it, so that nothing is
--         lost: landing keeps the row, stedi.expectation_violation says
--         which rule keeps it out;
--   fail  the refresh fails, naming the rule.
-- A check that is null passes, as in a CHECK constraint.  Checks run on
-- the rows a refresh computes (all of them in a full refresh), before
-- identical readings are counted once.  They govern the zones readings
-- come into, trusted.accelerometer and trusted.step_trainer; the curated
-- zones are made of those.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION stedi.check_expectation(input regclass, "check" text) RETURNS void
AS 'MODULE_PATHNAME', 'stedi_check_expectation' LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION stedi.check_expectation(regclass, text) IS
    'Validate an expectation''s check against the columns of input (a zone''s candidate view): one boolean expression, no subquery, aggregate or set, only PostgreSQL''s own immutable functions and operators; raises invalid_parameter_value otherwise, program_limit_exceeded over 4,096 bytes (src/expectation.c)';

-- The reading zones, and what their expectations and duplicates work on.
CREATE OR REPLACE FUNCTION stedi.reading_zones(OUT step integer, OUT zone regclass,
                                    OUT candidate regclass, OUT owner name,
                                    OUT reading_time name, OUT reading text[],
                                    OUT owner_files regclass, OUT landing regclass,
                                    OUT landing_owner text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES (2, 'trusted.accelerometer'::regclass, 'trusted.accelerometer_candidate'::regclass,
            'user_email'::name, 'reading_time'::name, '{reading_time,user_email,x,y,z}'::text[],
            'stedi.accelerometer_file_user'::regclass, 'landing.accelerometer'::regclass,
            'stedi.normalize_email(l.user_email)'),
           (4, 'trusted.step_trainer', 'trusted.step_trainer_candidate',
            'serial_number', 'sensor_reading_time',
            '{sensor_reading_time,serial_number,distance_from_object}',
            'stedi.step_trainer_file_serial', 'landing.step_trainer',
            'l.serial_number')
$$;
COMMENT ON FUNCTION stedi.reading_zones() IS 'The zones readings come into: the zone''s step, its candidate view (rows before expectations and duplicates), the column of the reading''s owner (customer or device) and its time, the columns that make two readings identical (the time first: sorting on it all but never compares the others), the table of which files hold whose readings, the landing table of its readings (whose time column has the zone''s name) and the owner of a landing row l as the zone and that table have it (an SQL expression over l)';

CREATE TABLE IF NOT EXISTS stedi.expectation (
    zone         regclass NOT NULL
                 CHECK (zone IN ('trusted.accelerometer'::regclass, 'trusted.step_trainer'::regclass)),
    name         text NOT NULL CHECK (name ~ '^[[:alnum:]_][[:alnum:]_ .-]{0,62}$'),
    check_sql    text NOT NULL,
    on_violation text NOT NULL CHECK (on_violation IN ('warn', 'drop', 'fail')),
    builtin      boolean NOT NULL DEFAULT false,
    declared_at  timestamptz NOT NULL DEFAULT now(),
    declared_by  name NOT NULL DEFAULT session_user,
    last_run_at  timestamptz,
    last_checked bigint,
    last_violated bigint,
    PRIMARY KEY (zone, name)
);
COMMENT ON TABLE stedi.expectation IS 'Data-quality rules of the reading zones (stedi.expect): a check over the zone''s columns and loaded_at, and what a row that fails it does (warn, drop, fail); written only by stedi.expect and stedi.unexpect';
COMMENT ON COLUMN stedi.expectation.zone IS 'The reading zone the rule governs: trusted.accelerometer or trusted.step_trainer';
COMMENT ON COLUMN stedi.expectation.check_sql IS 'The check: a boolean SQL expression over the zone''s columns and loaded_at; a row passes unless it is false';
COMMENT ON COLUMN stedi.expectation.on_violation IS 'What a row that fails the check does: warn (stays in the zone, recorded), drop (kept out of the zone, recorded) or fail (the refresh fails)';
COMMENT ON COLUMN stedi.expectation.declared_at IS 'When the rule was declared or last changed';
COMMENT ON COLUMN stedi.expectation.declared_by IS 'Who declared it (session user); stedi for the shipped rules';
COMMENT ON COLUMN stedi.expectation.last_run_at IS 'When a refresh last checked it';
COMMENT ON COLUMN stedi.expectation.builtin IS 'Shipped with stedi: cannot be removed or changed';
COMMENT ON COLUMN stedi.expectation.last_checked IS 'Rows the last refresh that computed the zone checked (all of them in a full refresh, the rows it recomputed otherwise)';
COMMENT ON COLUMN stedi.expectation.last_violated IS 'Of those, the rows for which the check was false';

-- The shipped rules.  Each keeps the published counts of the starter set.
INSERT INTO stedi.expectation (zone, name, check_sql, on_violation, builtin, declared_by) VALUES
    ('trusted.accelerometer', 'reading_time_after_2000', $c$reading_time >= '2000-01-01 00:00:00+00'$c$, 'drop', true, 'stedi'),
    ('trusted.accelerometer', 'reading_time_not_ahead_of_load', $c$reading_time <= loaded_at + interval '1 day'$c$, 'drop', true, 'stedi'),
    ('trusted.step_trainer', 'reading_time_after_2000', $c$sensor_reading_time >= '2000-01-01 00:00:00+00'$c$, 'drop', true, 'stedi'),
    ('trusted.step_trainer', 'reading_time_not_ahead_of_load', $c$sensor_reading_time <= loaded_at + interval '1 day'$c$, 'drop', true, 'stedi'),
    ('trusted.step_trainer', 'distance_not_negative', $c$distance_from_object >= 0$c$, 'drop', true, 'stedi')
ON CONFLICT (zone, name) DO NOTHING;

-- Rows that fail an expectation whose action is warn or drop, by the
-- row's lineage.  Computed, like a zone, by every refresh: a full one
-- records again every row of the zone's candidates that fails, an
-- incremental one those of the files and owners it recomputed.
CREATE TABLE IF NOT EXISTS stedi.expectation_violation (
    zone         regclass NOT NULL,
    expectation  text NOT NULL,
    file_id      integer NOT NULL,
    line_number  bigint NOT NULL,
    owner        text NOT NULL,
    on_violation text NOT NULL CHECK (on_violation IN ('warn', 'drop')),
    found_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (zone, expectation, file_id, line_number)
);
CREATE INDEX IF NOT EXISTS expectation_violation_file_id_idx ON stedi.expectation_violation (file_id);
CREATE INDEX IF NOT EXISTS expectation_violation_owner_idx ON stedi.expectation_violation (owner);
COMMENT ON TABLE stedi.expectation_violation IS 'Each row of a reading zone''s candidates that fails an expectation, by lineage (the landing file and line): dropped rows are out of the zone, warned ones in it';
COMMENT ON COLUMN stedi.expectation_violation.zone IS 'The zone whose expectation the row fails';
COMMENT ON COLUMN stedi.expectation_violation.expectation IS 'The expectation''s name (stedi.expectation)';
COMMENT ON COLUMN stedi.expectation_violation.file_id IS 'Lineage: the landing file of the row (landing.source_file)';
COMMENT ON COLUMN stedi.expectation_violation.line_number IS 'Lineage: the row''s line in that file';
COMMENT ON COLUMN stedi.expectation_violation.on_violation IS 'warn: the row is in the zone; drop: it is kept out';
COMMENT ON COLUMN stedi.expectation_violation.found_at IS 'When the refresh that recorded it ran';
COMMENT ON COLUMN stedi.expectation_violation.owner IS 'The reading''s customer (normalized email) or device (serial number): how a refresh finds the violations of a customer or device it recomputes, and an erasure removes them';

-- The definition of a reading zone, made again from its expectations:
-- the candidates for which no drop rule's check is false, and of
-- identical readings the first loaded (lowest file, then line), which
-- keeps its lineage.  Each check was validated by stedi.check_expectation
-- as one expression; it is put between line breaks, so that nothing of
-- its text (a comment) reaches past it, and parsed with
-- standard_conforming_strings on, as it was validated.
CREATE OR REPLACE FUNCTION stedi.define_zone(zone regclass) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
    columns text;
    reading text;
    checks text;
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.zone = define_zone.zone;
    SELECT string_agg('c.' || quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_attribute AS a
     WHERE a.attrelid = define_zone.zone AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT string_agg('c.' || quote_ident(k), ', ') INTO reading FROM unnest(r.reading) AS k;
    SELECT string_agg(format(E'(\n%s\n) IS NOT FALSE', e.check_sql), E'\n   AND ' ORDER BY e.name)
      INTO checks
      FROM stedi.expectation AS e
     WHERE e.zone = define_zone.zone AND e.on_violation = 'drop';
    EXECUTE format(E'CREATE OR REPLACE VIEW %s_definition AS\nSELECT DISTINCT ON (%s) %s\n  FROM %s AS c\n WHERE %s\n ORDER BY %s, c.file_id, c.line_number',
                   zone, reading, columns, r.candidate, coalesce(checks, 'true'), reading);
END
$$;
COMMENT ON FUNCTION stedi.define_zone(regclass) IS 'Make a reading zone''s definition view again from its drop expectations: its candidates that meet them, identical readings once (the first loaded)';

-- Declare an expectation, or change one (same zone and name); the next
-- refresh computes every zone again, in full.
CREATE OR REPLACE FUNCTION stedi.expect(zone regclass, name text, "check" text,
                             on_violation text DEFAULT 'drop')
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
    old stedi.expectation;
    message text;
    state text;
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.zone = expect.zone;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expectations govern trusted.accelerometer and trusted.step_trainer, not %', zone
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'The curated zones are made of those two: an expectation there governs them too.';
    END IF;
    IF on_violation IS NULL OR on_violation NOT IN ('warn', 'drop', 'fail') THEN
        RAISE EXCEPTION 'on_violation must be warn, drop or fail, not %', coalesce(quote_literal(on_violation), 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF name IS NULL OR name !~ '^[[:alnum:]_][[:alnum:]_ .-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid expectation name %', coalesce(quote_literal(name), 'NULL')
              USING ERRCODE = 'invalid_parameter_value',
                    DETAIL = 'A name is 1 to 63 letters, digits, spaces, "_", "." or "-", not starting with a space, "." or "-".';
    END IF;
    IF "check" IS NULL THEN
        RAISE EXCEPTION 'an expectation needs a check' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stedi.check_expectation(r.candidate, "check");
    PERFORM stedi.lock_refresh('expectation');
    -- a check that raises an error on a row landing holds now would stop
    -- every full refresh, erasures' included: refused now
    BEGIN
        EXECUTE format(E'SELECT count(*) FILTER (WHERE (\n%s\n) IS FALSE) FROM %s AS c',
                       "check", r.candidate);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
        RAISE EXCEPTION 'check "%" cannot be evaluated on a row of % as it is: %', "check", zone, message
              USING ERRCODE = state,
                    HINT = 'A check must evaluate on every row: guard it (CASE, NULLIF) against the values the data holds.';
    END;
    SELECT * INTO old FROM stedi.expectation AS e WHERE e.zone = expect.zone AND e.name = expect.name
       FOR UPDATE;
    IF old.builtin THEN
        RAISE EXCEPTION 'expectation "%" of % is shipped with stedi and cannot be changed', name, zone
              USING ERRCODE = 'insufficient_privilege',
                    HINT = 'Declare a rule of your own under another name beside it.';
    END IF;
    IF old.check_sql IS NOT DISTINCT FROM "check" AND old.on_violation IS NOT DISTINCT FROM expect.on_violation THEN
        RETURN;
    END IF;
    INSERT INTO stedi.expectation AS e (zone, name, check_sql, on_violation)
    VALUES (zone, name, "check", on_violation)
    ON CONFLICT ON CONSTRAINT expectation_pkey DO UPDATE
       SET check_sql = EXCLUDED.check_sql, on_violation = EXCLUDED.on_violation,
           declared_at = now(), declared_by = session_user,
           last_run_at = NULL, last_checked = NULL, last_violated = NULL;
    DELETE FROM stedi.expectation_violation AS v WHERE v.zone = expect.zone AND v.expectation = expect.name;
    PERFORM stedi.define_zone(zone);
    INSERT INTO stedi.landing_change (relation) VALUES ('stedi.expectation'::regclass);
END
$$;
COMMENT ON FUNCTION stedi.expect(regclass, text, text, text) IS
    'Declare (or change) an expectation of trusted.accelerometer or trusted.step_trainer: a check over the zone''s columns and loaded_at, and on_violation warn, drop (default) or fail; the next refresh computes every zone again.  Raises invalid_parameter_value for another zone, a bad name, action or check (stedi.check_expectation), insufficient_privilege for a shipped rule';

CREATE OR REPLACE FUNCTION stedi.unexpect(zone regclass, name text) RETURNS void
LANGUAGE plpgsql
SET standard_conforming_strings = on
AS $$
DECLARE
    old stedi.expectation;
BEGIN
    PERFORM stedi.lock_refresh('expectation');
    SELECT * INTO old FROM stedi.expectation AS e WHERE e.zone = unexpect.zone AND e.name = unexpect.name
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% has no expectation "%"', zone, name
              USING ERRCODE = 'undefined_object',
                    HINT = 'stedi.expectation_status lists them.';
    END IF;
    IF old.builtin THEN
        RAISE EXCEPTION 'expectation "%" of % is shipped with stedi and cannot be removed', name, zone
              USING ERRCODE = 'insufficient_privilege',
                    DETAIL = 'It keeps impossible readings out of the zone.';
    END IF;
    DELETE FROM stedi.expectation AS e WHERE e.zone = unexpect.zone AND e.name = unexpect.name;
    DELETE FROM stedi.expectation_violation AS v WHERE v.zone = unexpect.zone AND v.expectation = unexpect.name;
    PERFORM stedi.define_zone(zone);
    INSERT INTO stedi.landing_change (relation) VALUES ('stedi.expectation'::regclass);
END
$$;
COMMENT ON FUNCTION stedi.unexpect(regclass, text) IS
    'Remove an expectation declared with stedi.expect, and the violations recorded under it; the next refresh computes every zone again.  Raises undefined_object when there is none, insufficient_privilege for a shipped rule';

CREATE OR REPLACE VIEW stedi.expectation_status AS
SELECT e.zone, e.name, e.check_sql AS "check", e.on_violation, e.builtin,
       e.last_run_at, e.last_checked, e.last_violated,
       (SELECT count(*) FROM stedi.expectation_violation AS v
         WHERE v.zone = e.zone AND v.expectation = e.name) AS violating
  FROM stedi.expectation AS e;
-- Devices that several trusted customers name (the fulfilment defect of
-- the original data), and how many of their readings the training table
-- holds back because more than one of them has a reading in that
-- millisecond (curated.machine_learning_definition).
CREATE OR REPLACE VIEW stedi.ambiguous_device AS
SELECT d.serial_number, d.customers,
       (SELECT count(*) FROM trusted.step_trainer AS s
         WHERE s.serial_number = d.serial_number
           AND stedi.claimants_reading_near(s.serial_number, s.sensor_reading_time,
                                            stedi.pairing_tolerance_ms()) > 1) AS readings_held_back
  FROM (SELECT c.serial_number, count(*) AS customers FROM trusted.customer AS c
         GROUP BY c.serial_number HAVING count(*) > 1) AS d;
COMMENT ON COLUMN stedi.ambiguous_device.customers IS 'Trusted customers whose latest record names the device';
COMMENT ON COLUMN stedi.ambiguous_device.readings_held_back IS 'The device''s trusted readings in whose millisecond (within the pairing tolerance, when one is set) more than one of them has a trusted accelerometer reading: paired with no one';
COMMENT ON VIEW stedi.ambiguous_device IS 'Devices (serial numbers) that several trusted customers name, with how many, and how many of the device''s trusted readings are held back from curated.machine_learning because more than one of those customers has a reading in that millisecond (within the pairing tolerance, when one is set)';

COMMENT ON VIEW stedi.expectation_status IS 'Each expectation with the rows its zone''s last refresh checked and found failing, and how many rows of the zone''s candidates fail it now (for warn and drop: what stedi.expectation_violation holds)';
COMMENT ON COLUMN stedi.expectation_status.zone IS 'The reading zone the rule governs';
COMMENT ON COLUMN stedi.expectation_status.check IS 'The check (stedi.expectation.check_sql)';
COMMENT ON COLUMN stedi.expectation_status.on_violation IS 'warn, drop or fail';
COMMENT ON COLUMN stedi.expectation_status.builtin IS 'Shipped with stedi';
COMMENT ON COLUMN stedi.expectation_status.last_run_at IS 'When a refresh last checked it';
COMMENT ON COLUMN stedi.expectation_status.last_checked IS 'Rows that refresh checked: every candidate in a full refresh, the rows it recomputed in an incremental one';
COMMENT ON COLUMN stedi.expectation_status.last_violated IS 'Of those, the rows that failed the check';
COMMENT ON COLUMN stedi.expectation_status.violating IS 'Rows of the zone''s candidates that fail it now, in total (stedi.expectation_violation; none for fail rules, which stop the refresh)';

-- The expectations of one reading zone checked on the rows in table
-- rows (the zone's columns), or on all its candidates when rows is NULL
-- (a full refresh): a fail rule that fails raises; the rows failing warn
-- and drop rules are recorded (those of the scope are recorded afresh:
-- the files and owners recomputed, or the whole zone); the rows failing
-- a drop rule are deleted from rows.  Returns the rows checked, and those
-- that fail no drop rule.  Checks run as in the definition view
-- (stedi.define_zone): between line breaks, standard_conforming_strings on.
CREATE OR REPLACE FUNCTION stedi.check_zone(zone regclass, rows regclass, files integer[], owners text[],
                                 OUT checked bigint, OUT passed bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
    input text;
    message text;
    state text;
    broken text;
    e record;
    any_fails text;
    drop_passes text;
    violated text;
    drop_rules text;
    failing bigint;
    example record;
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.zone = check_zone.zone;
    IF rows IS NULL THEN
        DELETE FROM stedi.expectation_violation AS v WHERE v.zone = check_zone.zone;
        input := format('(SELECT c.*, NULL::tid AS stedi_row FROM %s AS c) AS c', r.candidate);
    ELSE
        DELETE FROM stedi.expectation_violation AS v
         WHERE v.zone = check_zone.zone AND (v.file_id = ANY (files) OR v.owner = ANY (owners));
        input := format('(SELECT c.*, c.ctid AS stedi_row, f.loaded_at FROM %s AS c
                            JOIN landing.source_file AS f ON f.file_id = c.file_id) AS c', rows);
    END IF;
    SELECT string_agg(format(E'(\n%s\n) IS FALSE', x.check_sql), ' OR '),
           string_agg(format(E'(\n%s\n) IS NOT FALSE', x.check_sql), ' AND ')
               FILTER (WHERE x.on_violation = 'drop'),
           string_agg(format(E'CASE WHEN (\n%s\n) IS FALSE THEN %L END', x.check_sql, x.name), ', '),
           coalesce(array_agg(x.name) FILTER (WHERE x.on_violation = 'drop'), '{}')::text
      INTO any_fails, drop_passes, violated, drop_rules
      FROM stedi.expectation AS x WHERE x.zone = check_zone.zone;
    -- counts first, in one pass; the rows that fail, which are few, in a
    -- second pass only when there are any
    BEGIN
        EXECUTE format('SELECT count(*), count(*) FILTER (WHERE %s), count(*) FILTER (WHERE %s) FROM %s',
                       coalesce(drop_passes, 'true'), coalesce(any_fails, 'false'), input)
           INTO checked, passed, failing;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
        -- which rule: each alone
        FOR e IN SELECT * FROM stedi.expectation AS x WHERE x.zone = check_zone.zone ORDER BY x.name LOOP
            BEGIN
                EXECUTE format(E'SELECT count(*) FILTER (WHERE (\n%s\n) IS FALSE) FROM %s', e.check_sql, input);
            EXCEPTION WHEN OTHERS THEN
                broken := e.name;
                EXIT;
            END;
        END LOOP;
        IF rows IS NOT NULL AND stedi.in_erasure_refresh() THEN
            -- an erasure goes on: these rows wait, their files queued again,
            -- for the next refresh, which stops on the rule
            EXECUTE format('INSERT INTO stedi.pending_file (file_id, kind)
                            SELECT DISTINCT c.file_id, f.kind FROM %s AS c
                              JOIN landing.source_file AS f ON f.file_id = c.file_id
                            ON CONFLICT DO NOTHING', rows);
            EXECUTE format('DELETE FROM %s', rows);
            checked := 0;
            passed := 0;
            RETURN;
        END IF;
        RAISE EXCEPTION 'expectation "%" of % could not be checked: %', coalesce(broken, '?'), zone, message
              USING ERRCODE = state,
                    HINT = 'Change the rule (stedi.expect) or remove it (stedi.unexpect).';
    END;
    UPDATE stedi.expectation AS x
       SET last_run_at = now(), last_checked = check_zone.checked, last_violated = 0
     WHERE x.zone = check_zone.zone;
    IF failing = 0 THEN
        RETURN;
    END IF;
    CREATE TEMPORARY TABLE stedi_failing ON COMMIT DROP AS
    SELECT NULL::integer AS file_id, NULL::bigint AS line_number, NULL::text AS owner,
           NULL::tid AS stedi_row, NULL::text[] AS violated LIMIT 0;
    EXECUTE format('INSERT INTO pg_temp.stedi_failing
                    SELECT c.file_id, c.line_number, c.%1$I, c.stedi_row,
                           array_remove(ARRAY[%2$s]::text[], NULL)
                      FROM %3$s WHERE %4$s',
                   r.owner, violated, input, any_fails);
    SELECT count(*) INTO failing FROM pg_temp.stedi_failing AS k
     WHERE k.violated && ARRAY(SELECT x.name FROM stedi.expectation AS x
                                WHERE x.zone = check_zone.zone AND x.on_violation = 'fail');
    IF failing > 0 AND stedi.in_erasure_refresh() THEN
        -- an erasure goes on: the rows a fail rule stops are kept out, and
        -- their files queued again for the next refresh, which stops on it
        INSERT INTO stedi.pending_file (file_id, kind)
        SELECT DISTINCT k.file_id, f.kind
          FROM pg_temp.stedi_failing AS k JOIN landing.source_file AS f ON f.file_id = k.file_id
         WHERE k.violated && ARRAY(SELECT x.name FROM stedi.expectation AS x
                                    WHERE x.zone = check_zone.zone AND x.on_violation = 'fail')
        ON CONFLICT DO NOTHING;
        drop_rules := ARRAY(SELECT x.name FROM stedi.expectation AS x
                             WHERE x.zone = check_zone.zone AND x.on_violation IN ('drop', 'fail'))::text;
    ELSIF failing > 0 THEN
        SELECT x.name, k.file_id, k.line_number INTO example
          FROM pg_temp.stedi_failing AS k
          JOIN stedi.expectation AS x ON x.zone = check_zone.zone AND x.on_violation = 'fail'
                                     AND x.name = ANY (k.violated)
         ORDER BY k.file_id, k.line_number, x.name LIMIT 1;
        RAISE EXCEPTION 'expectation "%" of % failed: %', example.name, zone,
                        CASE WHEN failing = 1 THEN '1 row fails it' ELSE failing || ' rows fail it' END
              USING ERRCODE = 'check_violation',
                    DETAIL = format('Its action is fail; the first is line %s of file %s (landing.source_file).',
                                    example.line_number, example.file_id),
                    HINT = 'Unload the file (stedi.unload_file), or change the rule or its action (stedi.expect).';
    END IF;
    INSERT INTO stedi.expectation_violation (zone, expectation, file_id, line_number, owner, on_violation)
    SELECT check_zone.zone, x.name, k.file_id, k.line_number, k.owner, x.on_violation
      FROM pg_temp.stedi_failing AS k
      JOIN stedi.expectation AS x ON x.zone = check_zone.zone AND x.name = ANY (k.violated)
     WHERE x.on_violation <> 'fail'
    ON CONFLICT DO NOTHING;
    UPDATE stedi.expectation AS x
       SET last_violated = (SELECT count(*) FROM pg_temp.stedi_failing AS k WHERE x.name = ANY (k.violated))
     WHERE x.zone = check_zone.zone;
    IF rows IS NOT NULL THEN
        EXECUTE format('DELETE FROM %s AS c WHERE c.ctid = ANY (ARRAY(SELECT k.stedi_row FROM pg_temp.stedi_failing AS k
                                                                     WHERE k.violated && %L::text[]))',
                       rows, drop_rules);
    END IF;
    DROP TABLE pg_temp.stedi_failing;
END
$$;
COMMENT ON FUNCTION stedi.check_zone(regclass, regclass, integer[], text[]) IS
    'Check the expectations of a reading zone on the rows of a change table (those of files and owners it recomputes), or on all the zone''s candidates when rows is NULL; records the rows failing warn and drop rules, deletes those failing drop rules from the change table, raises check_violation for a fail rule; returns the rows checked and those that fail no drop rule';

-- The settings that decide what a check's text means are pinned (time
-- zone, date and interval styles, float and bytea output), in
-- stedi.define_zone, where the definition binds the check's constants, in
-- stedi.check_zone, which reads the same text again, and in stedi.expect,
-- which validates it: the same check means the same in every session.
-- (After each CREATE OR REPLACE, which sets none, so that an update pins
-- them in the same order as an install.)
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY['stedi.define_zone(regclass)',
                             'stedi.expect(regclass, text, text, text)',
                             'stedi.check_zone(regclass, regclass, integer[], text[])']::regprocedure[] LOOP
        EXECUTE format($a$ALTER FUNCTION %s
                            SET standard_conforming_strings = on SET timezone = 'UTC'
                            SET datestyle = 'ISO, YMD' SET intervalstyle = 'postgres'
                            SET extra_float_digits = 1 SET bytea_output = 'hex'$a$, f);
    END LOOP;
END
$$;

-- (made with the settings pinned)
SELECT stedi.define_zone(z.zone) FROM stedi.reading_zones() AS z;

-- The incremental way's last word on a reading zone's change, once its
-- rows are computed (pg_temp.stedi_minus_N: the zone's rows it recomputes,
-- pg_temp.stedi_plus_N: what the candidates have of them now):
-- 1. a reading whose first loaded copy goes with an unloaded file passes
--    to the next copy, read from the files that hold readings of its
--    owner (never the whole landing table);
-- 2. the expectations are checked on the new rows (stedi.check_zone);
-- 3. of identical readings among them the first loaded stays, and a row
--    of the zone that is identical to one of them stays if it was loaded
--    first, else it goes and the new one comes.  The zone's rows are found
--    through its lookup index (owner, millisecond) when the new rows are
--    few against those of their owners, else read by a hash join over the
--    owners' rows in the span of the new rows' times.
-- files and owners are what the change recomputes (for the expectations'
-- records); owner_rows the zone's rows per owner, on average.  Returns
-- the identical readings set aside.
CREATE OR REPLACE FUNCTION stedi.settle_readings(step integer, files integer[], owners text[],
                                      unloaded_files integer[], owner_rows bigint)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
    minus text := format('pg_temp.stedi_minus_%s', step);
    plus text := format('pg_temp.stedi_plus_%s', step);
    columns text;
    same text;
    readers text[];
    first_time timestamptz;
    last_time timestamptz;
    n bigint;
    set_aside bigint := 0;
    k record;
    at_zone_time tid[];      -- new readings whose owner has a zone reading at their millisecond
    gone_owners text[];      -- owners of rows of unloaded files
    copy_files integer[];    -- the other files that hold their readings
BEGIN
    SELECT * INTO r FROM stedi.reading_zones() AS v WHERE v.step = settle_readings.step;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_attribute AS a
     WHERE a.attrelid = r.zone AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT string_agg(format('%%1$s.%1$I = %%2$s.%1$I', c), ' AND ') INTO same FROM unnest(r.reading) AS c;

    IF unloaded_files IS NOT NULL THEN
        -- the owners whose first copies went, and the other files that
        -- hold readings of theirs at the times of those (the owner map's
        -- spans), as constants: the scan of landing reads those files
        -- through the BRIN index on the file, and no other
        EXECUTE format('SELECT array_agg(DISTINCT m.%1$I) FROM %2$s AS m WHERE m.file_id = ANY ($1)',
                       r.owner, minus)
           INTO gone_owners USING unloaded_files;
        EXECUTE format('SELECT array_agg(DISTINCT o.file_id)
                          FROM (SELECT m.%2$I AS owner, min(m.%3$I) AS first_time, max(m.%3$I) AS last_time
                                  FROM %4$s AS m WHERE m.file_id = ANY ($1)
                                 GROUP BY m.%2$I) AS g
                          JOIN %1$s AS o
                            ON o.%2$I = g.owner
                           AND o.first_time <= g.last_time AND o.last_time >= g.first_time
                         WHERE o.file_id <> ALL ($1)',
                       r.owner_files, r.owner, r.reading_time, minus)
           INTO copy_files USING unloaded_files;
        IF copy_files IS NOT NULL THEN
            PERFORM stedi.join_by_size(1, 0);
            EXECUTE format('INSERT INTO %1$s
                            SELECT %2$s FROM %3$s AS c
                             WHERE c.file_id = ANY ($1) AND c.%4$I = ANY ($2)
                               AND NOT EXISTS (SELECT FROM stedi.pending_file AS p WHERE p.file_id = c.file_id)
                               AND EXISTS (SELECT FROM %5$s AS m WHERE m.file_id = ANY ($3) AND %6$s)
                               AND NOT EXISTS (SELECT FROM %1$s AS p
                                                WHERE p.file_id = c.file_id AND p.line_number = c.line_number)',
                           plus, (SELECT string_agg('c.' || x, ', ') FROM regexp_split_to_table(columns, ', ') AS x),
                           r.candidate, r.owner, minus, format(same, 'm', 'c'))
                USING copy_files, gone_owners, unloaded_files;
            PERFORM stedi.join_by_size(NULL, NULL);
        END IF;
    END IF;

    SELECT * INTO k FROM stedi.check_zone(r.zone, plus::regclass, files, owners);
    PERFORM stedi.analyze_change(step);

    -- identical readings within the change (a hash join: the change may be large)
    PERFORM stedi.join_by_size(1, 0);
    EXECUTE format('DELETE FROM %1$s AS p USING %1$s AS q
                     WHERE %2$s AND (q.file_id, q.line_number) < (p.file_id, p.line_number)',
                   plus, format(same, 'q', 'p'));
    GET DIAGNOSTICS n = ROW_COUNT;
    set_aside := set_aside + n;

    -- and against the zone's rows that stay: those of the owners the zone
    -- has rows of already (one probe of its lookup index each; new
    -- customers or devices have none, and a batch of them ends here)
    EXECUTE format('SELECT array_agg(o.owner) FROM (SELECT DISTINCT p.%1$I AS owner FROM %2$s AS p) AS o
                     WHERE (SELECT true FROM %3$s AS z WHERE z.%1$I = o.owner LIMIT 1)',
                   r.owner, plus, r.zone)
       INTO readers;
    EXECUTE format('SELECT min(p.%1$I), max(p.%1$I), count(*) FROM %2$s AS p WHERE p.%3$I = ANY ($1)',
                   r.reading_time, plus, r.owner)
       INTO first_time, last_time, n
       USING readers;
    IF n = 0 THEN
        PERFORM stedi.join_by_size(NULL, NULL);
        RETURN set_aside;
    END IF;
    -- First the new readings whose owner has a reading in the zone at
    -- that millisecond: owner and time are all the zone's lookup index
    -- holds, so it alone answers (an index-only scan of the span of the
    -- new readings, no row of the zone read), and the new readings of a
    -- later time than the zone's, most of any batch, end here.
    PERFORM stedi.join_by_size(n, cardinality(readers) * owner_rows);
    EXECUTE format('SELECT array_agg(p.ctid) FROM %1$s AS p
                     WHERE p.%3$I = ANY ($1)
                       AND EXISTS (SELECT FROM %2$s AS z
                                    WHERE z.%3$I = p.%3$I AND z.%4$I OPERATOR(stedi.=#) p.%4$I
                                      AND z.%3$I = ANY ($1)
                                      AND z.%4$I OPERATOR(stedi.>=#) $2 AND z.%4$I OPERATOR(stedi.<=#) $3)',
                   plus, r.zone, r.owner, r.reading_time)
       INTO at_zone_time
       USING readers, first_time, last_time;
    IF at_zone_time IS NULL THEN
        PERFORM stedi.join_by_size(NULL, NULL);
        RETURN set_aside;
    END IF;
    -- then those few compared whole with the zone's rows at their time
    PERFORM stedi.join_by_size(cardinality(at_zone_time), cardinality(readers) * owner_rows);
    CREATE TEMPORARY TABLE stedi_identical ON COMMIT DROP AS
    SELECT NULL::tid AS plus_row, NULL::tid AS zone_row, NULL::boolean AS zone_first LIMIT 0;
    EXECUTE format('INSERT INTO pg_temp.stedi_identical
                    SELECT p.ctid, z.ctid, (z.file_id, z.line_number) < (p.file_id, p.line_number)
                      FROM %1$s AS p
                      JOIN %2$s AS z
                        ON z.%3$I = p.%3$I AND z.%4$I OPERATOR(stedi.=#) p.%4$I AND %5$s
                     WHERE p.ctid = ANY ($4) AND z.%3$I = ANY ($1)
                       AND z.%4$I OPERATOR(stedi.>=#) $2 AND z.%4$I OPERATOR(stedi.<=#) $3
                       AND (z.file_id, z.line_number) <> (p.file_id, p.line_number)',
                   plus, r.zone, r.owner, r.reading_time, format(same, 'z', 'p'))
        USING readers, first_time, last_time, at_zone_time;
    PERFORM stedi.join_by_size(1, 0);
    -- (not those the change deletes anyway)
    EXECUTE format('DELETE FROM pg_temp.stedi_identical AS i USING %s AS m WHERE m.row_id = i.zone_row', minus);
    EXECUTE format('DELETE FROM %s AS p
                     WHERE p.ctid = ANY (ARRAY(SELECT i.plus_row FROM pg_temp.stedi_identical AS i
                                                WHERE i.zone_first))', plus);
    GET DIAGNOSTICS n = ROW_COUNT;
    set_aside := set_aside + n;
    EXECUTE format('INSERT INTO %s
                    SELECT z.*, z.ctid FROM %s AS z
                     WHERE z.ctid = ANY (ARRAY(SELECT i.zone_row FROM pg_temp.stedi_identical AS i
                                                WHERE NOT i.zone_first))', minus, r.zone);
    GET DIAGNOSTICS n = ROW_COUNT;
    set_aside := set_aside + n;
    DROP TABLE pg_temp.stedi_identical;
    PERFORM stedi.join_by_size(NULL, NULL);
    RETURN set_aside;
END
$$;
COMMENT ON FUNCTION stedi.settle_readings(integer, integer[], text[], integer[], bigint) IS
    'Incremental refresh of a reading zone (step 2 or 4), after its change is computed: readings whose first copy was unloaded pass to the next copy, the expectations are checked (stedi.check_zone), identical readings are counted once (the first loaded keeps its lineage); returns the identical readings set aside';

