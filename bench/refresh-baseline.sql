-- Baselines for bench/refresh: every zone computed from its definition
-- view (trusted.*_definition, curated.*_definition: what stedi.refresh()
-- keeps the zone equal to), as materialized views refreshed CONCURRENTLY,
-- and as tables written by hand with CREATE TABLE AS and the zones' keys
-- and lookup indexes.  A definition reads the zones before it, which equal
-- their definitions whenever a baseline runs (the refresh just timed made
-- them so, and a full refresh checks it), so each baseline computes what a
-- rebuild of every zone from landing computes, and reads and writes as
-- many rows: stedi's rules as they stand (identical readings once, the
-- expectations in force: the shipped ones, as no rule of a user's own is
-- declared in the benchmark; readings of a device that several customers
-- name held back when more than one has a reading at that moment), with
-- no copy of their SQL to fall out of step.
CREATE SCHEMA bench;
-- public.rows_differ and public.zones_differ, the tests' checks
\ir ../sql/helpers.sql

CREATE FUNCTION bench.time_ms(sql text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;

-- Minor page faults of this server process so far (field 10 of
-- /proc/self/stat): one for the first touch of each page of memory, of
-- its own or shared, which a virtual machine makes dear.
CREATE FUNCTION bench.minor_faults() RETURNS bigint
LANGUAGE sql AS $$
    SELECT split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ', 8)::bigint
$$;

-- A baseline's copy of a zone: bench.<prefix><schema>_<table>
CREATE FUNCTION bench.copy_of(zone regclass, prefix text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT format('bench.%I', prefix || n.nspname || '_' || c.relname)
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = zone
$$;

-- The materialized views, each with its zone's key (REFRESH CONCURRENTLY
-- needs a unique index)
DO $$
DECLARE
    z record;
BEGIN
    FOR z IN SELECT * FROM stedi.zones() ORDER BY step LOOP
        EXECUTE format('CREATE MATERIALIZED VIEW %s AS SELECT * FROM %s WITH NO DATA',
                       bench.copy_of(z.zone, ''), z.definition);
        EXECUTE format('CREATE UNIQUE INDEX ON %s (%s)',
                       bench.copy_of(z.zone, ''), array_to_string(z.key, ', '));
    END LOOP;
END
$$;

-- REFRESH each view (CONCURRENTLY when asked), in the zones' order,
-- analyzed after each, as stedi does
CREATE FUNCTION bench.refresh_views(concurrent boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    z record;
BEGIN
    FOR z IN SELECT * FROM stedi.zones() ORDER BY step LOOP
        EXECUTE format('REFRESH MATERIALIZED VIEW %s %s',
                       CASE WHEN concurrent THEN 'CONCURRENTLY' ELSE '' END, bench.copy_of(z.zone, ''));
        EXECUTE format('ANALYZE %s', bench.copy_of(z.zone, ''));
    END LOOP;
END
$$;

-- The same tables, written by hand: CREATE TABLE AS, the same keys and
-- lookup indexes as stedi's zone tables, each analyzed as it is made.
CREATE FUNCTION bench.create_tables_as() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    z record;
    t text;
BEGIN
    ANALYZE landing.customer, landing.accelerometer, landing.step_trainer;
    FOR z IN SELECT * FROM stedi.zones() ORDER BY step LOOP
        t := bench.copy_of(z.zone, 't_');
        EXECUTE format('CREATE TABLE %s AS SELECT * FROM %s', t, z.definition);
        EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (%s)', t, array_to_string(z.key, ', '));
        EXECUTE format('CREATE INDEX ON %s %s', t, z.lookup);
        EXECUTE format('ANALYZE %s', t);
    END LOOP;
END
$$;

CREATE FUNCTION bench.drop_tables_as() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE (SELECT 'DROP TABLE ' || string_agg(bench.copy_of(zone, 't_'), ', ') FROM stedi.zones());
END
$$;

-- stedi's zones hold exactly what the materialized views hold
CREATE FUNCTION bench.same_as_views() RETURNS boolean LANGUAGE sql AS $$
    SELECT sum(public.rows_differ(zone, bench.copy_of(zone, '')::regclass)) = 0 FROM stedi.zones()
$$;
