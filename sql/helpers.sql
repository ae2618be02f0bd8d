-- Helpers for the tests after this one, which pg_regress runs in order in
-- one database (first in the Makefile's REGRESS): a file loaded through
-- the loading protocol, so that refreshes are incremental; a customer
-- record loaded so; and the rows in which two relations, or the zones and
-- their definitions, differ.  bench/refresh reads this file too, for the
-- last two.
-- (In schema public, the tests' own; made before the extension is
-- installed: they look its objects up when called.)

-- load_file(kind, name, rows_sql): the file's id.  rows_sql is SQL VALUES
-- rows in the landing table's column order, up to the lineage (the file
-- and line numbers are added); the file's digest is that of its name.
CREATE FUNCTION public.load_file(kind text, name text, rows_sql text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    f integer;
    n bigint;
BEGIN
    f := stedi.begin_file(kind, name, 1, sha256(convert_to(name, 'UTF8')));
    EXECUTE format('INSERT INTO landing.%I SELECT v.*, %s, row_number() OVER () FROM (VALUES %s) AS v',
                   kind, f, rows_sql);
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM stedi.finish_file(f, n, n, 0, 0);
    RETURN f;
END
$$;

-- load_customer(name, email, serial, ...): a file of one customer record,
-- named by its email, updated and consenting on the given dates; its id.
CREATE FUNCTION public.load_customer(name text, email text, serial text,
                                     updated text DEFAULT '2022-06-01',
                                     consent text DEFAULT '2022-06-01',
                                     phone text DEFAULT NULL) RETURNS integer
LANGUAGE sql AS $$
    SELECT public.load_file('customer', name,
                            format('(%L, %L, %L, NULL::date, %L, NULL::timestamptz, %L::timestamptz, %L::timestamptz, NULL::timestamptz, NULL::timestamptz)',
                                   email, email, phone, serial, updated, consent))
$$;

-- rows_differ(a, b): how many rows are in one relation and not the other,
-- as multisets (EXCEPT ALL both ways); 0 when they hold the same rows.
CREATE FUNCTION public.rows_differ(a regclass, b regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((TABLE %1$s EXCEPT ALL TABLE %2$s) UNION ALL (TABLE %2$s EXCEPT ALL TABLE %1$s)) AS d',
                   a, b) INTO n;
    RETURN n;
END
$$;

-- zones_differ(): 'none' when every zone equals its definition (checked
-- apart from stedi's own comparison, which a full refresh makes); else,
-- zone by zone, how many rows are in one and not the other.
CREATE FUNCTION public.zones_differ() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT coalesce(string_agg(format('%s: %s rows', z.zone, z.n), '; ' ORDER BY z.step), 'none')
              FROM (SELECT step, zone, public.rows_differ(zone, definition) AS n FROM stedi.zones()) AS z
             WHERE z.n > 0);
END
$$;
