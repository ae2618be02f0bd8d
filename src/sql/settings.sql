-- Settings: stored only where they differ from their default, written
-- only through stedi.set_setting.

------------------------------------------------------------------------------
-- Settings
------------------------------------------------------------------------------

-- Only values that differ from their default are stored: the defaults live
-- in stedi.settings, so an upgrade can change a default that no one set.
CREATE TABLE IF NOT EXISTS stedi.setting (
    name   text PRIMARY KEY,
    value  text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    set_by name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE stedi.setting IS 'Settings of the lakehouse that differ from their defaults (see stedi.settings); written only by stedi.set_setting(), which validates each value';

CREATE OR REPLACE VIEW stedi.settings AS
SELECT d.name, coalesce(s.value, d.default_value) AS value, d.default_value,
       s.value IS NULL AS is_default, s.set_at, s.set_by, d.description
  FROM (VALUES
        ('consent_policy', 'original',
         'Which readings of a consenting customer the trusted zone keeps: original (all of them, as the original pipeline) or as_of (only those taken at or after the customer''s research consent date); set with stedi.set_consent_policy()'),
        ('run_history_retention', '30 days',
         'How long stedi.refresh_run and stedi.refresh_log keep a run (an interval)'),
        ('pairing_tolerance', '00:00:00',
         'How far apart in time a step trainer reading and a phone reading may be to pair (an interval of whole milliseconds, 0 to 1 hour; 0: the same millisecond)'),
        ('pairing_mode', 'nearest',
         'With a pairing tolerance above 0: nearest (the phone readings of the nearest millisecond; of two equally near, the earlier) or window (every phone reading within the tolerance)'),
        ('split_proportions', '80/10/10',
         'The shares of customers in the train, validation and test splits of the training table, in percent with at most two decimals, adding up to 100 (a customer''s split comes from their key: stedi.customer_split)')
       ) AS d(name, default_value, description)
  LEFT JOIN stedi.setting AS s USING (name);
COMMENT ON VIEW stedi.settings IS 'Every setting of the lakehouse: its value, its default and what it does';

CREATE OR REPLACE FUNCTION stedi.setting_value(name text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT value FROM stedi.settings WHERE settings.name = setting_value.name $$;
COMMENT ON FUNCTION stedi.setting_value(text) IS 'The current value of a setting';

CREATE OR REPLACE FUNCTION stedi.set_setting(name text, value text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    -- (the policy in force before: setting it to the same again changes
    -- no zone, so it costs the next refresh no rebuild; read once no other
    -- setter can change it before this one commits, or two setters that
    -- cross could each see their own value as the one in force, and the
    -- change of the first would go without its rebuild)
    policy_before text;
    pairing_before text;
    split_before text;
    bounds record;           -- of an interval setting
BEGIN
    -- (after a refresh that runs, before the next: a refresh reads one
    -- consent policy and one pairing tolerance throughout)
    PERFORM stedi.lock_refresh('setting');
    LOCK TABLE stedi.setting IN SHARE ROW EXCLUSIVE MODE;
    policy_before := stedi.setting_value('consent_policy');
    pairing_before := stedi.pairing_tolerance_ms() || ' ' || stedi.setting_value('pairing_mode');
    split_before := stedi.split_bounds(stedi.setting_value('split_proportions'))::text;
    IF NOT EXISTS (SELECT FROM stedi.settings s WHERE s.name = set_setting.name) THEN
        RAISE EXCEPTION 'unknown stedi setting "%"', set_setting.name
              USING ERRCODE = 'undefined_object',
                    HINT = 'SELECT name FROM stedi.settings lists them.';
    END IF;
    IF value IS NULL THEN
        DELETE FROM stedi.setting s WHERE s.name = set_setting.name;
    ELSE
        CASE name
        WHEN 'consent_policy' THEN
            IF value NOT IN ('original', 'as_of') THEN
                RAISE EXCEPTION 'invalid consent policy "%"', value
                      USING ERRCODE = 'invalid_parameter_value',
                            DETAIL = 'The policies are original (every reading of a consenting customer) and as_of (only readings taken at or after the consent date).',
                            HINT = 'SELECT stedi.set_consent_policy(''as_of'');';
            END IF;
        WHEN 'pairing_mode' THEN
            IF value NOT IN ('nearest', 'window') THEN
                RAISE EXCEPTION 'invalid pairing mode "%"', value
                      USING ERRCODE = 'invalid_parameter_value',
                            DETAIL = 'The modes are nearest (the phone readings of the nearest millisecond within the tolerance) and window (every phone reading within it).',
                            HINT = 'SELECT stedi.set_setting(''pairing_mode'', ''window'');';
            END IF;
        WHEN 'split_proportions' THEN
            -- (stored in one spelling: 80/10/10, 33.33/33.33/33.34)
            value := array_to_string(ARRAY(SELECT trim_scale(share / 100.0)
                                             FROM unnest(stedi.split_bounds(value)) AS share), '/');
        WHEN 'pairing_tolerance', 'run_history_retention' THEN
            -- read and stored in one IntervalStyle (this function's), so that
            -- the value means the same in every session that reads it
            SELECT * INTO bounds
              FROM (VALUES ('pairing_tolerance', interval '0', interval '1 hour', true,
                            'It must be an interval of whole milliseconds from 0 to 1 hour.',
                            '500 milliseconds'),
                           ('run_history_retention', interval '1 minute', interval '100 years', false,
                            'It must be an interval from 1 minute to 100 years.', '14 days'))
                   AS b(name, low, high, whole_ms, detail, example)
             WHERE b.name = set_setting.name;
            BEGIN
                IF NOT value::interval BETWEEN bounds.low AND bounds.high
                   OR bounds.whole_ms
                      AND (date_part('microseconds', value::interval)::bigint % 1000 <> 0
                           OR date_part('month', value::interval) <> 0
                           OR date_part('day', value::interval) <> 0) THEN
                    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value';
                END IF;
                value := value::interval::text;
            EXCEPTION WHEN invalid_parameter_value OR invalid_datetime_format
                           OR datetime_field_overflow OR interval_field_overflow
                           OR syntax_error THEN
                RAISE EXCEPTION 'invalid value for %: "%"', name, value
                      USING ERRCODE = 'invalid_parameter_value',
                            DETAIL = bounds.detail,
                            HINT = format('For example: SELECT stedi.set_setting(%L, %L);', name, bounds.example);
            END;
        END CASE;
        INSERT INTO stedi.setting AS s (name, value, set_by)
        VALUES (set_setting.name, set_setting.value, session_user)
        ON CONFLICT ON CONSTRAINT setting_pkey DO UPDATE
           SET value = EXCLUDED.value, set_at = now(), set_by = EXCLUDED.set_by;
    END IF;
    IF stedi.setting_value('consent_policy') IS DISTINCT FROM policy_before THEN
        -- every reading may change zone: the next refresh is a full one
        INSERT INTO stedi.landing_change (relation) VALUES ('stedi.setting'::regclass);
    END IF;
    IF stedi.pairing_tolerance_ms() || ' ' || stedi.setting_value('pairing_mode') <> pairing_before THEN
        -- every pair may change: the training table is rebuilt next
        PERFORM stedi.define_pairing();
        INSERT INTO stedi.landing_change (relation)
        VALUES ('curated.machine_learning_definition'::regclass);
    END IF;
    IF stedi.split_bounds(stedi.setting_value('split_proportions'))::text <> split_before THEN
        -- every customer's split may change: both curated tables are
        -- compared whole next
        INSERT INTO stedi.landing_change (relation)
        VALUES ('curated.customer_definition'::regclass);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION stedi.set_consent_policy(policy text) RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM stedi.set_setting('consent_policy', policy);
    RETURN stedi.setting_value('consent_policy');
END
$$;
COMMENT ON FUNCTION stedi.set_consent_policy(text) IS
    'as_of: the trusted zone keeps only readings taken at or after the customer''s research consent date; original (the default): every reading of a consenting customer.  Takes effect at the next refresh';
COMMENT ON FUNCTION stedi.set_setting(text, text) IS 'Change a setting (NULL restores its default); the only way to change one, so every value is validated';

