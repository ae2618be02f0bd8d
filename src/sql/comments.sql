-- What each object is, for \d+, \df+ and \dx+.

------------------------------------------------------------------------------
-- What each object is, for \d+, \df+ and \dx+
------------------------------------------------------------------------------

COMMENT ON SCHEMA stedi IS 'The stedi extension''s functions, operators, settings and logs';
COMMENT ON OPERATOR FAMILY stedi.timestamptz_ms_ops USING btree IS 'Orders times by the millisecond they fall in (merge joins on =#)';
COMMENT ON OPERATOR FAMILY stedi.timestamptz_ms_ops USING hash IS 'Hashes times by the millisecond they fall in (hash joins on =#)';
COMMENT ON SEQUENCE landing.source_file_file_id_seq IS 'Numbers landing files (landing.source_file.file_id)';
COMMENT ON SEQUENCE stedi.ingest_log_attempt_id_seq IS 'Numbers load attempts (stedi.ingest_log.attempt_id)';
COMMENT ON SEQUENCE stedi.refresh_run_run_id_seq IS 'Numbers refresh runs (stedi.refresh_run.run_id)';
COMMENT ON SEQUENCE stedi.erasure_log_erasure_id_seq IS 'Numbers erasures (stedi.erasure_log.erasure_id)';
COMMENT ON TRIGGER landing_changed ON landing.customer IS 'Notes a change made other than by stedi-load: the next refresh compares every zone whole with its definition';
COMMENT ON TRIGGER landing_changed ON landing.accelerometer IS 'Notes a change made other than by stedi-load: the next refresh compares every zone whole with its definition';
COMMENT ON TRIGGER landing_changed ON landing.step_trainer IS 'Notes a change made other than by stedi-load: the next refresh compares every zone whole with its definition';
COMMENT ON TRIGGER refresh_job_changed ON stedi.refresh_job IS 'Tells the scheduler at commit that the schedule changed';
COMMENT ON TRIGGER check_run_as ON stedi.refresh_job IS 'A schedule runs only as a role whose privileges its writer has (stedi.check_refresh_job_run_as)';
COMMENT ON TRIGGER lineage_kept ON landing.source_file IS 'A file''s lineage does not change once it is loaded (stedi.refuse_lineage_change)';
COMMENT ON TRIGGER unloaded_only_by_unload_file ON landing.source_file IS 'A file''s record goes only with its rows, by stedi.unload_file (stedi.refuse_source_file_delete)';
COMMENT ON ROLE stedi_loader IS 'stedi: may load landing files with stedi-load, and read nothing';
COMMENT ON ROLE stedi_analyst IS 'stedi: may read the curated zone, and nothing else';
COMMENT ON ROLE stedi_admin IS 'stedi: may read every zone, refresh, change settings and schedules, and erase customers; not read the pseudonym secret';

-- Indexes and constraints: their purpose, from their table and kind.
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN
        SELECT format('INDEX %s', i.indexrelid::regclass) AS target,
               CASE
                   WHEN k.contype = 'p' THEN 'Primary key of ' || i.indrelid::regclass::text
                   WHEN am.amname = 'brin' THEN 'Finds the rows of one landing file (file_id) in ' || i.indrelid::regclass::text || ', for incremental refresh and erasure'
                   ELSE 'Finds rows of ' || i.indrelid::regclass::text || ' by '
                        || pg_get_indexdef(i.indexrelid, 1, true)
               END AS what
          FROM pg_index AS i
          JOIN pg_class AS c ON c.oid = i.indexrelid
          JOIN pg_am AS am ON am.oid = c.relam
          LEFT JOIN pg_constraint AS k ON k.conindid = i.indexrelid
         WHERE c.relnamespace IN ('landing'::regnamespace, 'stedi'::regnamespace)
        UNION ALL
        SELECT format('CONSTRAINT %I ON %s', k.conname, k.conrelid::regclass),
               CASE k.contype
                   WHEN 'p' THEN 'Primary key of ' || k.conrelid::regclass::text
                   WHEN 'f' THEN 'Each row belongs to a row of ' || k.confrelid::regclass::text
                   ELSE 'Checks ' || pg_get_constraintdef(k.oid, true)
               END
          FROM pg_constraint AS k
          JOIN pg_class AS c ON c.oid = k.conrelid
         WHERE c.relnamespace IN ('landing'::regnamespace, 'stedi'::regnamespace)
    LOOP
        EXECUTE format('COMMENT ON %s IS %L', o.target, o.what);
    END LOOP;
END
$$;

-- Columns: one description per column name, unless the column has its own.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT a.attrelid::regclass AS rel, a.attname, d.what
          FROM pg_attribute AS a
          JOIN pg_class AS r ON r.oid = a.attrelid
          JOIN (VALUES
            ('accelerometer_file_id', 'Landing file of the accelerometer reading'),
            ('accelerometer_line_number', 'Line of the accelerometer reading in its file'),
            ('accelerometer_rows', 'Accelerometer readings erased'),
            ('analyzed_rows', 'Rows the zone had when last analyzed'),
            ('attempt_id', 'Number of the load attempt'),
            ('birth_day', 'JSON field "birthDay"'),
            ('byte_offset', 'Where the line starts in its file, in bytes from 0'),
            ('changed_at', 'When the change was noted'),
            ('consecutive_failures', 'Scheduled runs that failed in a row; sets the backoff'),
            ('created_at', 'When the schedule was made'),
            ('customer_key', 'Pseudonymous customer key: stedi.customer_key(email, secret); the same customer always has the same key'),
            ('customer_name', 'JSON field "customerName"'),
            ('customer_records', 'Customer records erased'),
            ('default_value', 'Value when not set'),
            ('description', 'What the setting does'),
            ('distance_from_object', 'JSON field "distanceFromObject": what the step trainer''s distance sensor measured'),
            ('duration', 'How long the step took'),
            ('email', 'JSON field "email": who the customer is'),
            ('erased_at', 'When the customer was erased'),
            ('erased_by', 'Who erased the customer'),
            ('erasure_id', 'Number of the erasure'),
            ('every', 'Time between scheduled refreshes'),
            ('file_id', 'The landing file the row came from (landing.source_file)'),
            ('finished_at', 'When it ended'),
            ('is_default', 'Whether the setting has its default value'),
            ('kind', 'Which dataset: customer, accelerometer or step_trainer'),
            ('landing_changed_since', 'Whether landing changed since the last refresh'),
            ('last_checked_at', 'When the scheduler last looked at the schedule'),
            ('last_refresh_duration', 'How long the last refresh took'),
            ('last_refreshed_at', 'When the last refresh ended'),
            ('last_run_message', 'Error text of the last scheduled run, if it failed'),
            ('last_run_status', 'Outcome of the last scheduled run'),
            ('last_update_date', 'JSON field "lastUpdateDate": the latest record of a customer wins'),
            ('line_number', 'Line of the row in its file, from 1'),
            ('lines_read', 'Non-blank lines read'),
            ('load_duration', 'How long loading the file took'),
            ('loaded_at', 'When the file was loaded'),
            ('loaded_by', 'Who loaded it'),
            ('message', 'What happened, in words (the error, if it failed)'),
            ('method', 'full (recomputed from scratch) or incremental (only what changed)'),
            ('name', 'Name of the setting'),
            ('next_run_at', 'When the next scheduled refresh is due'),
            ('one', 'Always true: the table has at most one row'),
            ('outcome', 'loaded, skipped (content loaded before) or failed (rolled back)'),
            ('path', 'File path as given to stedi-load'),
            ('phone', 'JSON field "phone"'),
            ('raw_line', 'The line as read (at most 8192 bytes)'),
            ('reading_time', 'JSON field "timestamp": when the accelerometer reading was taken'),
            ('reason', 'Why the line was not loaded'),
            ('refresh_every', 'Time between scheduled refreshes (NULL: not scheduled)'),
            ('refreshed_at', 'When the zone was last refreshed'),
            ('registration_date', 'JSON field "registrationDate"'),
            ('rejected_lines', 'Quarantined lines erased'),
            ('rejected_lines_removed', 'Quarantined lines of the file removed'),
            ('relation', 'The landing table changed'),
            ('rows', 'Rows of the zone'),
            ('rows_loaded', 'Lines that became landing rows'),
            ('rows_rejected', 'Lines quarantined in landing.rejected'),
            ('rows_removed', 'Landing rows of the file removed'),
            ('run_as', 'Role the scheduled refresh runs as'),
            ('run_id', 'Number of the refresh run'),
            ('schedule_overdue', 'Whether a scheduled refresh is late'),
            ('secret', 'The HMAC key: 32 random bytes'),
            ('sensor_reading_time', 'JSON field "sensorReadingTime": when the step trainer reading was taken'),
            ('serial_number', 'JSON field "serialNumber": the step trainer device'),
            ('set_at', 'When the setting was last changed'),
            ('set_by', 'Who changed it'),
            ('sha256', 'SHA-256 of the file''s bytes'),
            ('share_with_friends_as_of_date', 'JSON field "shareWithFriendsAsOfDate": since when the customer shares with friends (NULL: never)'),
            ('share_with_public_as_of_date', 'JSON field "shareWithPublicAsOfDate": since when the customer shares with the public (NULL: never)'),
            ('share_with_research_as_of_date', 'JSON field "shareWithResearchAsOfDate": since when the customer shares data for research (NULL: never)'),
            ('size_bytes', 'File size in bytes'),
            ('split', 'The training split of the customer: train, validation or test (stedi.customer_split)'),
            ('started_at', 'When it began'),
            ('status', 'running, succeeded, failed, or skipped (another refresh was running)'),
            ('step', 'Order of the zone in a refresh'),
            ('step_trainer_file_id', 'Landing file of the step trainer reading'),
            ('step_trainer_line_number', 'Line of the step trainer reading in its file'),
            ('step_trainer_rows', 'Step trainer readings erased'),
            ('trigger', 'What started the run: manual or scheduled'),
            ('unload_id', 'Number of the unload'),
            ('unloaded_at', 'When the file was unloaded'),
            ('unloaded_by', 'Who unloaded it'),
            ('user_email', 'JSON field "user": the customer whose phone took the reading'),
            ('value', 'Current value'),
            ('view', 'The zone'),
            ('x', 'JSON field "x": acceleration along the phone''s x axis'),
            ('y', 'JSON field "y": acceleration along the phone''s y axis'),
            ('z', 'JSON field "z": acceleration along the phone''s z axis'))
            AS d(attname, what) ON d.attname = a.attname
         WHERE r.relnamespace IN ('landing'::regnamespace, 'trusted'::regnamespace,
                                  'curated'::regnamespace, 'stedi'::regnamespace)
           AND r.relkind IN ('r', 'v')
           AND a.attnum > 0 AND NOT a.attisdropped
           AND col_description(a.attrelid, a.attnum) IS NULL
    LOOP
        EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', c.rel, c.attname, c.what);
    END LOOP;
END
$$;
