-- The drop guard: landing data go only on purpose.

------------------------------------------------------------------------------
-- DROP EXTENSION keeps landing data unless told CASCADE
------------------------------------------------------------------------------

-- At the start of every command: a DROP EXTENSION naming stedi is checked
-- here; for any other command this loads the library, whose object access
-- hook refuses to drop the extension by any other path (DROP OWNED, DROP
-- SCHEMA ... CASCADE, a cascade from plpgsql).  See src/drop_guard.c.
CREATE OR REPLACE FUNCTION stedi.guard_drop() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stedi_guard_drop' LANGUAGE C
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION stedi.guard_drop() IS 'Event trigger: refuses DROP EXTENSION stedi without CASCADE while landing holds rows, saying how many, and any other statement that would drop the extension';
REVOKE ALL ON FUNCTION stedi.guard_drop() FROM PUBLIC;

-- (an event trigger has no CREATE OR REPLACE: made when missing; an
-- update that changes it drops it first)
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger AS t
                    WHERE t.evtname OPERATOR(pg_catalog.=) 'stedi_guard_drop') THEN
        CREATE EVENT TRIGGER stedi_guard_drop ON ddl_command_start
            EXECUTE FUNCTION stedi.guard_drop();
    END IF;
END
$$;
COMMENT ON EVENT TRIGGER stedi_guard_drop IS 'stedi and its landing data go only by DROP EXTENSION stedi, and only with CASCADE while landing holds rows (stedi.guard_drop)';

