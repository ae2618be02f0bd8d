-- What pg_dump keeps of the extension's tables.

------------------------------------------------------------------------------
-- Backups: what pg_dump keeps
--
-- pg_dump leaves out the tables an extension makes unless they are marked
-- here.  Marked, whole: everything that cannot be computed again, namely
-- landing and its lineage, quarantine, settings, the schedule, the logs
-- with their sequences, the pseudonym secret (so that every customer
-- keeps the same key; the first refresh makes it, so no row of it is
-- the script's own) and which files hold whose readings.
--
-- Not marked: the trusted and curated zones and stedi.zone_state, which
-- are computed from landing: a restored database has empty zones and no
-- zone state, so its first refresh rebuilds every zone from scratch.  The
-- queues of changes are not marked either: that rebuild applies them all.
------------------------------------------------------------------------------

-- (one call per statement: each updates the extension's catalog row)
SELECT pg_catalog.pg_extension_config_dump('landing.source_file', '');
SELECT pg_catalog.pg_extension_config_dump('landing.source_file_file_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('landing.customer', '');
SELECT pg_catalog.pg_extension_config_dump('landing.accelerometer', '');
SELECT pg_catalog.pg_extension_config_dump('landing.step_trainer', '');
SELECT pg_catalog.pg_extension_config_dump('landing.rejected', '');
SELECT pg_catalog.pg_extension_config_dump('landing.unknown_field', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.ingest_log', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.ingest_log_attempt_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.setting', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.refresh_job', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.refresh_run', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.refresh_run_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.refresh_log', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.erasure_log', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.erasure_log_erasure_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.pseudonym_secret', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.accelerometer_file_user', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.step_trainer_file_serial', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.unload_log', '');
SELECT pg_catalog.pg_extension_config_dump('stedi.unload_log_unload_id_seq', '');
-- (the shipped rules are the script's own rows)
SELECT pg_catalog.pg_extension_config_dump('stedi.expectation', 'WHERE NOT builtin');

