-- Retracting a delivery: stedi.unload_file, and the guards that keep a
-- file's record with its rows.

------------------------------------------------------------------------------
-- Retracting a delivery
------------------------------------------------------------------------------

-- Each file unloaded: its lineage outlives its rows.
CREATE TABLE IF NOT EXISTS stedi.unload_log (
    unload_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unloaded_at   timestamptz NOT NULL DEFAULT now(),
    unloaded_by   name NOT NULL DEFAULT session_user,
    file_id       integer NOT NULL,
    kind          text NOT NULL,
    path          text NOT NULL,
    sha256        bytea,
    loaded_at     timestamptz NOT NULL,
    loaded_by     name NOT NULL,
    rows_removed  bigint NOT NULL,
    rejected_lines_removed bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS unload_log_sha256_idx ON stedi.unload_log (sha256);
COMMENT ON TABLE stedi.unload_log IS 'One row per stedi.unload_file(): the file that was retracted (as landing.source_file described it), how many of its rows and quarantined lines went, when and by whom; stedi-load skips its content unless --force';

-- landing.source_file rows go only with their file's rows: a file record
-- deleted alone would leave rows that point at nothing, and the same
-- content could then be loaded a second time beside them.
CREATE OR REPLACE FUNCTION stedi.refuse_source_file_delete() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT stedi.landing_change_is_tracked('DELETE') THEN
        RAISE EXCEPTION 'landing.source_file rows are removed only with their file''s rows'
              USING ERRCODE = 'dependent_objects_still_exist',
                    DETAIL = 'Deleting a file''s record alone would leave its landing rows pointing at nothing.',
                    HINT = 'Retract a file with SELECT stedi.unload_file(file_id);';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stedi.refuse_source_file_delete() IS
    'Trigger on landing.source_file: a DELETE or TRUNCATE is refused outside stedi.unload_file';
CREATE OR REPLACE TRIGGER unloaded_only_by_unload_file BEFORE DELETE OR TRUNCATE
    ON landing.source_file FOR EACH STATEMENT EXECUTE FUNCTION stedi.refuse_source_file_delete();

-- A file's lineage is what it was loaded as: its rows point at it, its
-- hash keeps it from being loaded twice.  finish_file writes its counts;
-- nothing changes the rest.
CREATE OR REPLACE FUNCTION stedi.refuse_lineage_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'the lineage of landing file % does not change', OLD.file_id
          USING ERRCODE = 'integrity_constraint_violation',
                DETAIL = 'file_id, kind, path, size_bytes, sha256, forced, loaded_at and loaded_by stay as the file was loaded: its rows point at them, and its hash keeps it from being loaded twice.',
                HINT = 'Retract a wrong file with SELECT stedi.unload_file(file_id); then load the right one.';
END
$$;
COMMENT ON FUNCTION stedi.refuse_lineage_change() IS
    'Trigger on landing.source_file: an UPDATE of a file''s lineage (anything but its counts) is refused';
CREATE OR REPLACE TRIGGER lineage_kept BEFORE UPDATE ON landing.source_file FOR EACH ROW
    WHEN ((OLD.file_id, OLD.kind, OLD.path, OLD.size_bytes, OLD.sha256, OLD.forced,
           OLD.loaded_at, OLD.loaded_by)
          IS DISTINCT FROM (NEW.file_id, NEW.kind, NEW.path, NEW.size_bytes, NEW.sha256,
                            NEW.forced, NEW.loaded_at, NEW.loaded_by))
    EXECUTE FUNCTION stedi.refuse_lineage_change();

CREATE OR REPLACE FUNCTION stedi.unload_file(file_id integer)
RETURNS stedi.unload_log
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    f landing.source_file;
    n_rows bigint;
    n_rejected bigint;
    result stedi.unload_log;
BEGIN
    -- the refresh lock before any table, as every writer of the queues
    PERFORM stedi.lock_refresh('unload');
    SELECT * INTO f FROM landing.source_file AS s
     WHERE s.file_id = unload_file.file_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no file % in landing.source_file', coalesce(unload_file.file_id::text, 'NULL')
              USING ERRCODE = 'no_data_found',
                    HINT = 'landing.source_file lists the files loaded; stedi.unload_log those unloaded.';
    END IF;

    PERFORM stedi.track_deletes(true);
    IF f.kind = 'customer' THEN
        -- its customers are recomputed by the next refresh: an older
        -- record may win now, or none be left
        INSERT INTO stedi.pending_customer (email)
        SELECT DISTINCT stedi.normalize_email(c.email) FROM landing.customer AS c
         WHERE c.file_id = f.file_id;
        WITH gone AS (DELETE FROM landing.customer AS c
                       WHERE c.file_id = f.file_id RETURNING 1)
        SELECT count(*) INTO n_rows FROM gone;
    ELSIF f.kind = 'accelerometer' THEN
        WITH gone AS (DELETE FROM landing.accelerometer AS a
                       WHERE a.file_id = f.file_id RETURNING 1)
        SELECT count(*) INTO n_rows FROM gone;
        DELETE FROM stedi.accelerometer_file_user AS m WHERE m.file_id = f.file_id;
    ELSE
        WITH gone AS (DELETE FROM landing.step_trainer AS t
                       WHERE t.file_id = f.file_id RETURNING 1)
        SELECT count(*) INTO n_rows FROM gone;
        DELETE FROM stedi.step_trainer_file_serial AS m WHERE m.file_id = f.file_id;
    END IF;
    WITH gone AS (DELETE FROM landing.rejected AS r
                   WHERE r.file_id = f.file_id RETURNING 1)
    SELECT count(*) INTO n_rejected FROM gone;
    -- the next refresh removes what the file gave the zones (or, if no
    -- refresh added it yet, does not add it)
    DELETE FROM stedi.pending_file AS p WHERE p.file_id = f.file_id;
    IF f.kind <> 'customer' THEN
        INSERT INTO stedi.pending_unload (file_id, kind) VALUES (f.file_id, f.kind);
    END IF;
    DELETE FROM landing.unknown_field AS u WHERE u.file_id = f.file_id;
    DELETE FROM landing.source_file AS s WHERE s.file_id = f.file_id;
    PERFORM stedi.track_deletes(false);

    INSERT INTO stedi.unload_log (file_id, kind, path, sha256, loaded_at, loaded_by,
                                  rows_removed, rejected_lines_removed)
    VALUES (f.file_id, f.kind, f.path, f.sha256, f.loaded_at, f.loaded_by,
            n_rows, n_rejected)
    RETURNING * INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION stedi.unload_file(integer) IS
    'Retract a loaded file: remove its landing rows, its quarantined lines, its owner-map entries and its landing.source_file row, and log it in stedi.unload_log; the zones follow at the next refresh, incrementally.  Its content stays known: stedi-load skips it unless --force.  Errors: no_data_found for an unknown file_id';

