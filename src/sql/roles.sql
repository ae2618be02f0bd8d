-- Roles and privileges.

------------------------------------------------------------------------------
-- Roles and privileges
--
-- stedi_loader   loads landing (stedi-load), reads nothing
-- stedi_analyst  reads curated, nothing else
-- stedi_admin    everything: landing, trusted, curated, refresh, settings,
--                schedules, erasure (but not the pseudonym secret)
-- Roles belong to the cluster, not the database: they are created if
-- missing and stay after DROP EXTENSION.  Grant them to login roles.
------------------------------------------------------------------------------

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['stedi_loader', 'stedi_analyst', 'stedi_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- Functions that act with the extension owner's rights, for roles that
-- may not touch the tables behind them.  Each pins its search_path: the
-- refresh (C) here, the others (PL/pgSQL) in src/sql/search_path.sql.
ALTER FUNCTION stedi.refresh(boolean, boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION stedi.refresh(boolean, boolean) SET intervalstyle = postgres;
-- (the pseudonym secret is a constant in the plans of a refresh: none is
-- printed where the admin who runs it could read it)
ALTER FUNCTION stedi.refresh(boolean, boolean) SET debug_print_plan = off;
ALTER FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean) SECURITY DEFINER;
ALTER FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint, jsonb) SECURITY DEFINER;
ALTER FUNCTION stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text) SECURITY DEFINER;
ALTER FUNCTION stedi.note_landing_change() SECURITY DEFINER;
ALTER FUNCTION stedi.refuse_source_file_delete() SECURITY DEFINER;
ALTER FUNCTION stedi.set_setting(text, text) SECURITY DEFINER;
ALTER FUNCTION stedi.expect(regclass, text, text, text) SECURITY DEFINER;
ALTER FUNCTION stedi.unexpect(regclass, text) SECURITY DEFINER;
ALTER FUNCTION stedi.set_setting(text, text) SET intervalstyle = postgres;

-- Nothing for PUBLIC; each role gets what it needs by name, so that a
-- function added later is nobody's until granted.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stedi FROM PUBLIC;

GRANT USAGE ON SCHEMA landing, stedi TO stedi_loader;
GRANT INSERT ON landing.customer, landing.accelerometer, landing.step_trainer,
                landing.rejected TO stedi_loader;
-- (normalize_email: the index of landing.customer by identity computes it
-- for every row a loader inserts)
GRANT EXECUTE ON FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean),
                          stedi.finish_file(integer, bigint, bigint, bigint, bigint, jsonb),
                          stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text),
                          stedi.landing_row_check(text, integer, bigint, text, timestamptz),
                          stedi.rejected_line_check(text, integer, bigint),
                          stedi.normalize_email(text)
      TO stedi_loader, stedi_admin;

-- Analysts read the curated tables, and nothing behind them: not the
-- definition views, which read trusted with their owner's rights.  The
-- millisecond operators work on what they read.
GRANT USAGE ON SCHEMA curated, stedi TO stedi_analyst;
GRANT SELECT ON curated.customer, curated.machine_learning TO stedi_analyst;
GRANT EXECUTE ON FUNCTION stedi.ms_eq(timestamptz, timestamptz), stedi.ms_ne(timestamptz, timestamptz),
                          stedi.ms_lt(timestamptz, timestamptz), stedi.ms_le(timestamptz, timestamptz),
                          stedi.ms_gt(timestamptz, timestamptz), stedi.ms_ge(timestamptz, timestamptz),
                          stedi.ms_cmp(timestamptz, timestamptz), stedi.ms_hash(timestamptz),
                          stedi.ms_hash_extended(timestamptz, bigint)
      TO stedi_analyst, stedi_admin;

-- Admins change landing by hand, read every zone and the logs, and change
-- schedules; settings only through set_setting, which validates them.
GRANT USAGE ON SCHEMA landing, trusted, curated, stedi TO stedi_admin;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA landing TO stedi_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA trusted, curated TO stedi_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA stedi TO stedi_admin;
REVOKE ALL ON stedi.pseudonym_secret FROM stedi_admin;
GRANT EXECUTE ON FUNCTION stedi.refresh(boolean, boolean),
                          stedi.forget_customer(text),
                          stedi.unload_file(integer),
                          stedi.set_setting(text, text),
                          stedi.set_consent_policy(text),
                          stedi.setting_value(text),
                          stedi.expect(regclass, text, text, text),
                          stedi.unexpect(regclass, text),
                          stedi.schedule_refresh(interval, regrole),
                          stedi.unschedule_refresh(),
                          stedi.scheduler_check(),
                          stedi.scheduler_running(),
                          stedi.worker_statements(),
                          stedi.has_research_consent(timestamptz),
                          stedi.reading_has_research_consent(timestamptz, timestamptz, text),
                          stedi.customer_key(text, bytea),
                          stedi.fill_zone(regclass, regclass),
                          stedi.fill_zone(regclass, regclass, name),
                          stedi.claimants_reading_near(text, timestamptz, integer),
                          stedi.pairing_tolerance_ms()
      TO stedi_admin;
-- what the pairing reports are made of: data scientists read them too
GRANT SELECT ON stedi.pairing_quality TO stedi_analyst;
GRANT EXECUTE ON FUNCTION stedi.pairing_offset(timestamptz, timestamptz),
                          stedi.training_set_state()
      TO stedi_analyst, stedi_admin;
-- (admins read the curated definition views, which call them)
GRANT EXECUTE ON FUNCTION stedi.pair_readings(integer, boolean, bytea, text[], text[]),
                          stedi.customer_split(uuid)
      TO stedi_admin;

