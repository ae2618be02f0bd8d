-- Training splits and what a training set reflects (src/split.c).

------------------------------------------------------------------------------
-- The splits of the training table (src/split.c): each customer is in
-- train, validation or test, from the first 32 bits of their key against
-- the shares of the setting split_proportions, so that no customer's
-- readings are in two splits.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION stedi.split_bounds(proportions text) RETURNS integer[]
AS 'MODULE_PATHNAME', 'stedi_split_bounds' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stedi.split_bounds(text) IS
    'The shares of train, validation and test in hundredths of a percent, of proportions written ''80/10/10'' (percentages with at most two decimals adding up to 100); invalid_parameter_value otherwise (src/split.c)';
-- (no SET clause: it runs once per row of the curated tables, and its one
-- query names everything by schema)
CREATE OR REPLACE FUNCTION stedi.customer_split(customer_key uuid) RETURNS text
AS 'MODULE_PATHNAME', 'stedi_customer_split' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION stedi.customer_split(uuid) IS
    'The split of the customer with this key, train, validation or test: the first 32 bits of the key as a fraction of 2^32, in hundredths of a percent, against the cumulated shares of the setting split_proportions (read once per statement) (src/split.c)';

-- The settings that shape the zones, as a refresh applies them: recorded
-- with each refresh (stedi.refresh_run.settings), so that what a training
-- set reflects is known even when a setting changed since.
CREATE OR REPLACE FUNCTION stedi.settings_in_force() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'consent_policy', stedi.setting_value('consent_policy'),
        'pairing_tolerance_ms', stedi.pairing_tolerance_ms(),
        'pairing_mode', stedi.setting_value('pairing_mode'),
        'split_proportions', stedi.setting_value('split_proportions'))
$$;
COMMENT ON FUNCTION stedi.settings_in_force() IS
    'The settings that shape the zones, as JSON: consent_policy, pairing_tolerance_ms, pairing_mode, split_proportions; each refresh records them in stedi.refresh_run.settings';

-- What a training set read now reflects, for the manifest stedi-export
-- writes: the extension's version, the last refresh that succeeded, and
-- the settings it applied (those changed since apply at the next refresh).
-- (Analysts read neither the run history nor the settings themselves.)
CREATE OR REPLACE FUNCTION stedi.training_set_state() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH last_run AS (
        SELECT r.run_id, r.trigger, r.started_at, r.finished_at, r.settings
          FROM stedi.refresh_run AS r
         WHERE r.status = 'succeeded'
         ORDER BY r.run_id DESC LIMIT 1)
    SELECT jsonb_build_object(
               'extension_version', (SELECT e.extversion FROM pg_extension AS e WHERE e.extname = 'stedi'),
               'last_refresh', (SELECT jsonb_build_object('run_id', l.run_id, 'trigger', l.trigger,
                                                          'started_at', l.started_at, 'finished_at', l.finished_at)
                                  FROM last_run AS l))
           || coalesce((SELECT l.settings FROM last_run AS l), stedi.settings_in_force())
           || jsonb_build_object('settings_changed_since',
                                 (SELECT l.settings IS DISTINCT FROM stedi.settings_in_force()
                                    FROM last_run AS l WHERE l.settings IS NOT NULL))
$$;
COMMENT ON FUNCTION stedi.training_set_state() IS
    'What the training table reflects, as JSON: extension_version; last_refresh (run_id, trigger, started_at, finished_at of the last refresh that succeeded; null if none); the settings that refresh applied (consent_policy, pairing_tolerance_ms, pairing_mode, split_proportions; the current ones if it recorded none); settings_changed_since (true when a setting changed after it, applied by the next refresh; null when unknown)';
