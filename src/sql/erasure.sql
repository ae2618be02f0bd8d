-- The right to erasure: stedi.forget_customer.

------------------------------------------------------------------------------
-- Right to erasure
------------------------------------------------------------------------------

-- Whose a quarantined line is, from its raw text (C, src/raw_line.c): how
-- erasure finds a line that was not JSON enough for stedi-load to keep its
-- email and serial number, escapes and all, and only by those fields.
CREATE OR REPLACE FUNCTION stedi.raw_line_names(line text, person text, serials text[]) RETURNS boolean
AS 'MODULE_PATHNAME', 'stedi_raw_line_names'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stedi.raw_line_names(text, text, text[]) IS
    'Whether a line holds a field "email" or "user" whose string value (JSON escapes decoded, ASCII letters folded) is person, a normalized email, or a field "serialNumber" whose value is one of serials; reads even a line that is not JSON, never raises an error';

-- What was erased, and when, and by whom: never whose data it was.
CREATE TABLE IF NOT EXISTS stedi.erasure_log (
    erasure_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at         timestamptz NOT NULL DEFAULT now(),
    erased_by         name NOT NULL DEFAULT session_user,
    customer_records  bigint NOT NULL,
    accelerometer_rows bigint NOT NULL,
    step_trainer_rows bigint NOT NULL,
    rejected_lines    bigint NOT NULL
);
COMMENT ON TABLE stedi.erasure_log IS 'One row per stedi.forget_customer(): counts of what was removed, with no email or other personal field';

CREATE OR REPLACE FUNCTION stedi.forget_customer(email text)
RETURNS stedi.erasure_log
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    person text;             -- the email, normalized: every spelling of it
    serials text[];
    result stedi.erasure_log;
    n_customer bigint;
    n_accelerometer bigint;
    n_step_trainer bigint;
    n_rejected bigint;
    rule record;
BEGIN
    IF email IS NULL OR btrim(email, E' \t\n\r\f\x0B') = '' THEN
        RAISE EXCEPTION 'forget_customer needs an email'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    person := stedi.normalize_email(email);

    -- the refresh lock before any table: a refresh in progress finishes
    -- first (and this says so if it takes long), never a deadlock
    PERFORM stedi.lock_refresh('erasure');

    -- say precisely what changes: this customer (see note_landing_change)
    PERFORM stedi.track_deletes(true);
    INSERT INTO stedi.pending_customer (email) VALUES (person);

    -- the devices of this customer, named by their records or by their
    -- quarantined customer lines, that no other customer's names
    SELECT coalesce(array_agg(DISTINCT d.serial), '{}') INTO serials
      FROM (SELECT c.serial_number FROM landing.customer AS c
             WHERE stedi.normalize_email(c.email) = person
            UNION
            SELECT r.serial_number FROM landing.rejected AS r
             WHERE r.kind = 'customer' AND stedi.normalize_email(r.email) = person
               AND r.serial_number IS NOT NULL) AS d(serial)
     WHERE NOT EXISTS (SELECT FROM landing.customer AS o
                        WHERE o.serial_number = d.serial
                          AND stedi.normalize_email(o.email) <> person)
       AND NOT EXISTS (SELECT FROM landing.rejected AS o
                        WHERE o.kind = 'customer' AND o.serial_number = d.serial
                          AND stedi.normalize_email(o.email) <> person);

    WITH gone AS (DELETE FROM landing.customer AS c
                   WHERE stedi.normalize_email(c.email) = person RETURNING 1)
    SELECT count(*) INTO n_customer FROM gone;
    WITH gone AS (DELETE FROM landing.accelerometer AS a
                   WHERE stedi.normalize_email(a.user_email) = person RETURNING 1)
    SELECT count(*) INTO n_accelerometer FROM gone;
    WITH gone AS (DELETE FROM landing.step_trainer AS s
                   WHERE s.serial_number = ANY (serials) RETURNING 1)
    SELECT count(*) INTO n_step_trainer FROM gone;
    -- quarantined lines: by the email or serial number stedi-load kept of
    -- them, or else (a line that did not parse) by the value of its
    -- "email", "user" or "serialNumber" field read from its raw text,
    -- escapes decoded: "ann@x.com" is no part of "joann@x.com" or of
    -- "ann@x.com.au", a serial number "N/A" no part of a phone "N/A"; a
    -- blank serial number (0.2.0 loaded some) names no one
    WITH gone AS (DELETE FROM landing.rejected AS r
                   WHERE stedi.normalize_email(r.email) = person
                      OR r.serial_number = ANY (serials)
                      OR stedi.raw_line_names(r.raw_line, person, serials)
                      -- (a stray quote earlier in a broken line puts the
                      -- field reader out of step: an email written as a
                      -- complete string anywhere in the line is hers too)
                      OR (strpos(person, '@') > 0
                          AND strpos(lower(r.raw_line COLLATE "C"), '"' || person || '"') > 0)
                  RETURNING 1)
    SELECT count(*) INTO n_rejected FROM gone;

    DELETE FROM stedi.accelerometer_file_user AS m WHERE m.user_email = person;
    DELETE FROM stedi.step_trainer_file_serial AS m WHERE m.serial_number = ANY (serials);

    -- trusted and curated, in the same transaction
    PERFORM stedi.track_deletes(false);
    PERFORM stedi.mark_erasure_refresh(true);
    PERFORM count(*) FROM stedi.refresh();
    PERFORM stedi.mark_erasure_refresh(false);
    -- a rule is no place for personal data, and an erasure does not
    -- rewrite rules: say so when one names her
    FOR rule IN SELECT x.zone, x.name FROM stedi.expectation AS x
                 WHERE strpos(lower(x.check_sql COLLATE "C"), person) > 0 LOOP
        RAISE WARNING 'expectation "%" of % names the erased email in its check', rule.name, rule.zone
              USING HINT = 'Remove it with stedi.unexpect, or declare it again without the email.';
    END LOOP;

    INSERT INTO stedi.erasure_log (customer_records, accelerometer_rows,
                                   step_trainer_rows, rejected_lines)
    VALUES (n_customer, n_accelerometer, n_step_trainer, n_rejected)
    RETURNING * INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION stedi.forget_customer(text) IS
    'Right to erasure: remove every row of a customer (the email in any spelling of its ASCII letters) from landing (quarantined lines included), trusted and curated, in one transaction, and log counts only; waits for a refresh in progress';

