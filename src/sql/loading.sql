-- The loading protocol of stedi-load: a file begun, its rows written,
-- finished with the counts the server kept, and every attempt logged.

-- Every attempt to load a file, whatever came of it.
CREATE TABLE IF NOT EXISTS stedi.ingest_log (
    attempt_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256        bytea,
    kind          text NOT NULL,
    path          text NOT NULL,
    size_bytes    bigint,
    outcome       text NOT NULL CHECK (outcome IN ('loaded', 'skipped', 'failed')),
    file_id       integer,
    lines_read    bigint,
    rows_loaded   bigint,
    rows_rejected bigint,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    message       text,
    loaded_by     name NOT NULL DEFAULT session_user,
    -- a file that could not be opened or read (it vanished after it was
    -- listed, say) has no content hash and maybe no size
    CONSTRAINT content_known_unless_failed
        CHECK (outcome = 'failed' OR (sha256 IS NOT NULL AND size_bytes IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS ingest_log_sha256_idx ON stedi.ingest_log (sha256);
COMMENT ON TABLE stedi.ingest_log IS 'Every attempt of stedi-load to load a file: loaded, skipped (its content was loaded before) or failed (and rolled back), keyed by content hash';

-- The loading protocol of stedi-load, one transaction per file:
--   BEGIN;
--   SELECT stedi.begin_file(kind, path, size, sha256, force);  -- NULL: skip
--   COPY landing.<kind> ... FROM STDIN;  COPY landing.rejected ... FROM STDIN;
--   SELECT stedi.finish_file(file_id, lines_read, rows_loaded, rows_rejected,
--                            extra_fields, unknown_fields);
--   COMMIT;
-- begin_file holds a lock on the content hash until the transaction ends,
-- so two loaders given the same file never both load it: the second waits,
-- then sees the first one's row and skips.  Rows are accepted only for a
-- file begun in the same transaction and not yet finished (the tables'
-- CHECK constraints), finish_file takes the counts and owners the server
-- gathered, and a transaction cannot commit a file begun and not finished.
CREATE OR REPLACE FUNCTION stedi.begin_file(kind text, path text, size_bytes bigint,
                                 sha256 bytea, force boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    new_file_id integer;
    seen boolean;
BEGIN
    IF octet_length(sha256) IS DISTINCT FROM 32 THEN
        RAISE EXCEPTION 'sha256 must be 32 bytes'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM stedi.lock_refresh('load');
    PERFORM pg_advisory_xact_lock(
        ('x' || substr(encode(sha256, 'hex'), 1, 16))::bit(64)::bigint);
    -- content loaded before, or loaded and since unloaded: an unloaded
    -- file may have held customers erased since, whom it would bring back
    seen := EXISTS (SELECT FROM landing.source_file AS f
                     WHERE f.sha256 = begin_file.sha256)
            OR EXISTS (SELECT FROM stedi.unload_log AS u
                        WHERE u.sha256 = begin_file.sha256);
    IF seen AND NOT force THEN
        RETURN NULL;
    END IF;
    INSERT INTO landing.source_file (kind, path, size_bytes, sha256, forced)
    VALUES (begin_file.kind, begin_file.path, begin_file.size_bytes,
            begin_file.sha256, seen)
    RETURNING file_id INTO new_file_id;
    PERFORM stedi.open_file(new_file_id, begin_file.kind);
    RETURN new_file_id;
END
$$;
COMMENT ON FUNCTION stedi.begin_file(text, text, bigint, bytea, boolean) IS
    'stedi-load: register a file about to be loaded in this transaction; NULL when its content was loaded before (and not force)';

CREATE OR REPLACE FUNCTION stedi.finish_file(file_id integer, lines_read bigint,
                                  rows_loaded bigint, rows_rejected bigint,
                                  extra_fields bigint,
                                  unknown_fields jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    f landing.source_file;
    written record;
    r record;
BEGIN
    -- only a file begun in this transaction; its rows as the server counted them
    written := stedi.close_file(finish_file.file_id);
    IF (written.rows_loaded, written.rows_rejected)
       IS DISTINCT FROM (finish_file.rows_loaded, finish_file.rows_rejected) THEN
        RAISE EXCEPTION 'file % does not hold the rows it says', finish_file.file_id
              USING ERRCODE = 'check_violation',
                    DETAIL = format('It says %s loaded and %s rejected; %s and %s were written.',
                                    finish_file.rows_loaded, finish_file.rows_rejected,
                                    written.rows_loaded, written.rows_rejected);
    END IF;
    UPDATE landing.source_file AS s
       SET lines_read = finish_file.lines_read,
           rows_loaded = finish_file.rows_loaded,
           rows_rejected = finish_file.rows_rejected,
           extra_fields = finish_file.extra_fields,
           load_duration = clock_timestamp() - s.loaded_at
     WHERE s.file_id = finish_file.file_id
    RETURNING * INTO f;
    -- the unknown field names, {"name": records, ...}
    IF unknown_fields IS NOT NULL THEN
        IF jsonb_typeof(unknown_fields) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'unknown_fields must be a JSON object of field names and record counts'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF (SELECT count(*) FROM jsonb_object_keys(unknown_fields)) > 1000 THEN
            RAISE EXCEPTION 'unknown_fields names more than 1000 fields'
                  USING ERRCODE = 'program_limit_exceeded',
                        HINT = 'stedi-load keeps the first 1000 names of a file.';
        END IF;
        INSERT INTO landing.unknown_field (file_id, field_name, records)
        SELECT f.file_id, u.key,
               CASE WHEN jsonb_typeof(u.value) = 'number' THEN u.value::text::numeric END::bigint
          FROM jsonb_each(unknown_fields) AS u;
    END IF;
    INSERT INTO stedi.ingest_log (sha256, kind, path, size_bytes, outcome, file_id,
                                  lines_read, rows_loaded, rows_rejected, started_at)
    VALUES (f.sha256, f.kind, f.path, f.size_bytes, 'loaded', f.file_id,
            f.lines_read, f.rows_loaded, f.rows_rejected, f.loaded_at);
    -- the next refresh adds this file's rows
    INSERT INTO stedi.pending_file (file_id, kind) VALUES (f.file_id, f.kind)
    ON CONFLICT DO NOTHING;
    -- whose readings it holds: the emails, or the devices' serial numbers,
    -- each with the span of its readings' times, as the loader saw them
    -- (read as the landing rows they come from), or when it kept none (more
    -- than the server keeps in memory) read from the file's rows.  (A
    -- refresh that repaired the maps in this transaction, before the file's
    -- last rows, may have added its entries with narrower spans: they are
    -- widened.)
    SELECT * INTO r FROM stedi.reading_zones() AS z
     WHERE z.landing = format('landing.%I', f.kind)::regclass;
    IF FOUND THEN
        EXECUTE format($m$
            INSERT INTO %1$s AS m (%2$I, file_id, first_time, last_time)
            SELECT %3$s, $1, min(l.first_time), max(l.last_time)
              FROM unnest($2, $3, $4) AS l(%2$I, first_time, last_time)
             GROUP BY 1
            UNION ALL
            SELECT %3$s, $1, min(l.%4$I), max(l.%4$I)
              FROM %5$s AS l
             WHERE $2 IS NULL AND l.file_id = $1
             GROUP BY 1
            ON CONFLICT (%2$I, file_id) DO UPDATE
               SET first_time = least(m.first_time, excluded.first_time),
                   last_time = greatest(m.last_time, excluded.last_time)$m$,
                r.owner_files, r.owner, r.landing_owner, r.reading_time, r.landing)
        USING f.file_id, written.owners, written.first_times, written.last_times;
    END IF;
END
$$;
COMMENT ON FUNCTION stedi.finish_file(integer, bigint, bigint, bigint, bigint, jsonb) IS
    'stedi-load: record the counts of the file begun in this transaction (they must match the rows written) and its unknown field names with their record counts ({"name": records}; at most 1,000 names of at most 256 bytes), queue it for the next refresh, and log the attempt';

CREATE OR REPLACE FUNCTION stedi.log_ingest(sha256 bytea, kind text, path text,
                                 size_bytes bigint, outcome text,
                                 started_at timestamptz, message text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    first_file_id integer;
BEGIN
    -- a load is logged by finish_file, in the load's own transaction
    IF outcome IS DISTINCT FROM 'skipped' AND outcome IS DISTINCT FROM 'failed' THEN
        RAISE EXCEPTION 'stedi.log_ingest logs only attempts that loaded nothing, not "%"', outcome
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'A file that loads is logged by stedi.finish_file.';
    END IF;
    -- a failed attempt may not have read the file (it vanished after it
    -- was listed): no hash, maybe no size
    IF kind IS NULL OR kind NOT IN ('customer', 'accelerometer', 'step_trainer')
       OR (octet_length(sha256) IS DISTINCT FROM 32
           AND NOT (outcome = 'failed' AND sha256 IS NULL))
       OR NOT coalesce(size_bytes >= 0, outcome = 'failed') THEN
        RAISE EXCEPTION 'stedi.log_ingest needs a kind, a 32-byte sha256 and a size'
              USING ERRCODE = 'invalid_parameter_value',
                    DETAIL = 'Kinds are customer, accelerometer and step_trainer; only a failed attempt may lack the hash and the size.';
    END IF;
    IF outcome = 'skipped' THEN
        SELECT min(f.file_id) INTO first_file_id FROM landing.source_file AS f
         WHERE f.sha256 = log_ingest.sha256;
        IF first_file_id IS NULL THEN
            SELECT min(u.file_id) INTO first_file_id FROM stedi.unload_log AS u
             WHERE u.sha256 = log_ingest.sha256;
            message := coalesce(message, format('loaded before as file %s, since unloaded (stedi.unload_log)', first_file_id));
        END IF;
    END IF;
    INSERT INTO stedi.ingest_log (sha256, kind, path, size_bytes, outcome,
                                  started_at, message, file_id)
    VALUES (log_ingest.sha256, log_ingest.kind, log_ingest.path, log_ingest.size_bytes,
            log_ingest.outcome, coalesce(log_ingest.started_at, now()), log_ingest.message,
            first_file_id);
    RETURN first_file_id;
END
$$;
COMMENT ON FUNCTION stedi.log_ingest(bytea, text, text, bigint, text, timestamptz, text) IS
    'stedi-load: log an attempt that loaded nothing (skipped, or failed and rolled back); for a skipped file, returns the file_id its content was first loaded as';

