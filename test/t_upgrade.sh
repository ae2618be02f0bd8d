#!/usr/bin/env bash
# ALTER EXTENSION stedi UPDATE, one version at a time from the oldest
# supported one, keeps every row, and leaves the same objects as a fresh
# install of the newest version: compared object for object in pg_dump
# --binary-upgrade schema dumps, which list each of the extension's objects
# on its own.
source "$(dirname "$0")/lib.sh"

oldest=0.1.0
newest=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$top/stedi.control")
old=stedi_upgrade_old
new=stedi_upgrade_new
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

is "$(q postgres "SELECT string_agg(source || ' -> ' || target || ': ' || path, '; ' ORDER BY source, target)
                    FROM pg_extension_update_paths('stedi') WHERE path IS NOT NULL")" \
   "0.1.0 -> 0.2.0: 0.1.0--0.2.0; 0.1.0 -> 0.3.0: 0.1.0--0.2.0--0.3.0; 0.2.0 -> 0.3.0: 0.2.0--0.3.0" \
   "upgrade paths: from $oldest to $newest, one version at a time"

stedi-gen --scale 0.05 --seed 21 --faults "$tmp/data" >/dev/null
stedi-gen --scale 0.01 --seed 22 "$tmp/more" >/dev/null

# stedi-load speaks the newest loading protocol only: an older version is
# given the same landing data loaded by it into a scratch database, copied
# table by table (as superuser, so by hand: the first refresh rebuilds)
scratch=stedi_upgrade_scratch
dropdb --if-exists $scratch >/dev/null 2>&1
createdb $scratch
q $scratch "CREATE EXTENSION stedi"
stedi-load -q -d $scratch "$tmp/data"
transplant()
{
    local t
    for t in landing.source_file landing.customer landing.accelerometer landing.step_trainer \
             "landing.rejected (kind, file_id, line_number, byte_offset, reason, raw_line)" \
             "stedi.accelerometer_file_user (user_email, file_id)" \
             "stedi.step_trainer_file_serial (serial_number, file_id)" stedi.ingest_log; do
        psql -X -q -v ON_ERROR_STOP=1 -d $scratch -c "COPY $t TO STDOUT" |
            psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "COPY $t FROM STDIN"
    done
    q "$1" "SELECT setval('landing.source_file_file_id_seq', (SELECT max(file_id) FROM landing.source_file)),
                   setval('stedi.ingest_log_attempt_id_seq', (SELECT max(attempt_id) FROM stedi.ingest_log))" >/dev/null
}

# what an update keeps: every table of state(), quarantined lines by the
# columns every version has (0.3.0 adds the email and serial number they
# carry), owner maps by normalized email (0.3.0 folds them) and file (0.3.0
# adds the span of reading times), refresh runs by the columns every
# version has (0.3.0 adds the settings each applied), every sequence that
# was used
kept()
{
    digest_of "$1" landing.source_file landing.customer landing.accelerometer \
        landing.step_trainer stedi.ingest_log stedi.setting stedi.refresh_job \
        "(SELECT run_id, trigger, started_at, finished_at, status, message FROM stedi.refresh_run)" \
        "(SELECT run_id, step, view, method, rows, duration FROM stedi.refresh_log)" \
        stedi.erasure_log stedi.pseudonym_secret \
        "(SELECT serial_number, file_id FROM stedi.step_trainer_file_serial)" \
        "(SELECT kind, file_id, line_number, byte_offset, reason, raw_line FROM landing.rejected)" \
        "(SELECT DISTINCT lower(user_email COLLATE \"C\"), file_id FROM stedi.accelerometer_file_user)"
    q "$1" "SELECT string_agg(seqrelid::regclass || ' ' || pg_sequence_last_value(seqrelid), ' | '
                                ORDER BY seqrelid::regclass::text)
              FROM pg_sequence JOIN pg_class ON pg_class.oid = seqrelid
             WHERE relnamespace IN ('landing'::regnamespace, 'stedi'::regnamespace)
               AND pg_sequence_last_value(seqrelid) > 0"
}

# the same history in a database: load, as-of policy, refresh, erase, refresh
populate()
{
    if [ "$(counts "$1" "extversion FROM pg_extension WHERE extname = 'stedi'")" = "$newest" ]; then
        stedi-load -q -d "$1" "$tmp/data"
    else
        transplant "$1"
    fi
    q "$1" "SELECT stedi.set_consent_policy('as_of')" >/dev/null
    q "$1" "INSERT INTO stedi.refresh_job (every) VALUES ('10 minutes')"
    q "$1" "SELECT count(*) FROM stedi.refresh()" >/dev/null
    q "$1" "SELECT stedi.forget_customer(email) FROM (SELECT email FROM trusted.customer ORDER BY email LIMIT 1) AS c" >/dev/null
    q "$1" "SELECT count(*) FROM stedi.refresh()" >/dev/null
}

dropdb --if-exists $old >/dev/null 2>&1
createdb $old
q $old "CREATE EXTENSION stedi VERSION '$oldest'"
populate $old
is "$(stedi-load -q -d $old "$tmp/data" 2>&1; echo "exit $?")" \
   "stedi-load: extension \"stedi\" in database \"$old\" is version $oldest, older than this stedi-load
stedi-load: hint: Run ALTER EXTENSION stedi UPDATE; in that database first.
exit 2" "stedi-load refuses an extension older than its loading protocol, saying what to do"
# every zone's rows, without the columns that 0.3.0 adds (the split, and
# the device of the phone readings)
zones_kept()
{
    local t added sql=""
    for t in trusted.customer trusted.accelerometer curated.customer trusted.step_trainer curated.machine_learning; do
        added="'{split}'"
        [ $t = trusted.accelerometer ] && added="'{split,serial_number}'"
        sql+="${sql:+ UNION ALL }SELECT '$t', count(*),
                  md5(string_agg((to_jsonb(zone_row) - $added::text[])::text, ','
                                 ORDER BY (to_jsonb(zone_row) - $added::text[])::text))
                  FROM $t AS zone_row"
    done
    q "$1" "SELECT string_agg(format('%s %s %s', t, n, d), ' | ' ORDER BY t) FROM ($sql) AS f(t, n, d)"
}
for version in $(q postgres "SELECT string_agg(target, ' ' ORDER BY string_to_array(target, '.')::int[])
                               FROM pg_extension_update_paths('stedi')
                              WHERE source = '$oldest' AND path IS NOT NULL"); do
    state_before=$(kept $old)
    zones_before=$(zones_kept $old)
    q $old "ALTER EXTENSION stedi UPDATE TO '$version'"
    is "$?" 0 "ALTER EXTENSION stedi UPDATE TO '$version'"
    is "$(counts $old "extversion FROM pg_extension WHERE extname = 'stedi'")" "$version" "now at $version"
    is "$(kept $old)" "$state_before" "$version: no landing row, quarantined line, setting, schedule, log row or secret lost"
    is "$(zones_kept $old)" "$zones_before" "$version: the zones are as they were, customer keys included"
done
is "$(counts $old "(SELECT count(*) FROM curated.customer WHERE split IS DISTINCT FROM stedi.customer_split(customer_key))
                  + (SELECT count(*) FROM curated.machine_learning WHERE split IS DISTINCT FROM stedi.customer_split(customer_key))")" 0 \
   "0.3.0: every curated customer and pair has the split of its customer's key"

# quarantined lines of 0.2.0 get the email and serial number they carry,
# where their raw text is a JSON object, as stedi-load 0.3.0 keeps them (it
# keeps more: what a line held before the fault that stopped its parse)
kept_ids=$(q $old "SELECT string_agg(file_id || ':' || line_number, ',') FROM landing.rejected
                    WHERE email IS NOT NULL OR serial_number IS NOT NULL")
identities() { q "$1" "SELECT count(*) || ' ' || md5(string_agg(file_id || ':' || line_number || '=' || coalesce(email, '-') || '/' || coalesce(serial_number, '-'), ' ' ORDER BY file_id, line_number)) FROM landing.rejected WHERE file_id || ':' || line_number = ANY (string_to_array('$kept_ids', ','))"; }
is "$(identities $old)" "$(identities $scratch)" \
   "quarantined lines of 0.2.0 carry the email and serial number stedi-load keeps, after the update: $(identities $scratch | cut -d' ' -f1) lines"
ok $([ "$(identities $old | cut -d' ' -f1)" -ge 5 ]; echo $?) "at least 5 of them"

dropdb --if-exists $new >/dev/null 2>&1
createdb $new
q $new "CREATE EXTENSION stedi"
populate $new

# object for object: the binary-upgrade schema dump lists every member of
# the extension; object numbers (OIDs) and transaction horizons differ
# between any two databases, and are left out
schema()
{
    pg_dump --schema-only --binary-upgrade -d "$1" |
        grep -v -e '^--' -e '^$' -e 'binary_upgrade_set_next_' -e '^\\restrict' -e '^\\unrestrict' \
            -e '^UPDATE pg_catalog.pg_class$' -e '^SET relfrozenxid' -e "^WHERE oid = '" |
        sed -e "/binary_upgrade_create_empty_extension/s/[0-9][0-9]*/N/g"
}
schema $old >"$tmp/upgraded.sql"
schema $new >"$tmp/fresh.sql"
members=$(counts $new "count(*) FROM pg_depend WHERE deptype = 'e'
                         AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stedi')")
is "$(grep -c 'ALTER EXTENSION stedi ADD' "$tmp/fresh.sql")" "$members" \
   "the schema dump lists each of the extension's $members objects"
diff -u "$tmp/fresh.sql" "$tmp/upgraded.sql" >"$tmp/schema.diff"
is "$?" 0 "an upgraded database has the same objects as a fresh install of $newest"
sed 's/^/# /' "$tmp/schema.diff" | head -60

# the same from a fresh install of each version between, one step
for version in $(q postgres "SELECT string_agg(source, ' ') FROM pg_extension_update_paths('stedi')
                             WHERE target = '$newest' AND path IS NOT NULL AND source <> '$oldest'
                               AND path NOT LIKE '%--%--%'"); do
    mid=stedi_upgrade_from_$(echo "$version" | tr . _)
    dropdb --if-exists $mid >/dev/null 2>&1
    createdb $mid
    q $mid "CREATE EXTENSION stedi VERSION '$version'"
    q $mid "ALTER EXTENSION stedi UPDATE"
    q $mid "SELECT count(*) FROM stedi.refresh()" >/dev/null   # (makes the zone keys the fresh one has)
    schema $mid >"$tmp/from-$version.sql"
    # (the fresh install was used: its sequences moved)
    diff -u <(grep -v 'pg_catalog.setval' "$tmp/fresh.sql") <(grep -v 'pg_catalog.setval' "$tmp/from-$version.sql") \
        >"$tmp/from-$version.diff"
    is "$?" 0 "a fresh $version updated to $newest has the same objects as a fresh install"
    sed 's/^/# /' "$tmp/from-$version.diff" | head -60
    q postgres "DROP DATABASE $mid" >/dev/null
done

# customers are keyed by their normalized email now: the first refresh
# after the upgrade rebuilds the zones (the generator spells emails with
# capitals, as the real feeds do); then both go on the same way: new
# data, incremental refresh, same zones
is "$(counts $old "string_agg(DISTINCT method, ',') FROM stedi.refresh()")" full \
   "the first refresh after the upgrade rebuilds, for the normalized emails"
is "$(counts $old "count(*) FROM stedi.accelerometer_file_user WHERE user_email <> stedi.normalize_email(user_email)")" 0 \
   "the upgrade normalized the owner map's emails"
for d in $old $new; do
    stedi-load -q -d $d "$tmp/more"
done
is "$(counts $old "string_agg(DISTINCT method, ',') FROM stedi.refresh()")" incremental \
   "after the upgrade, refresh stays incremental"
counts $new "count(*) FROM stedi.refresh()" >/dev/null
zone_counts() { q "$1" "SELECT string_agg(view::text || ' ' || rows, ', ' ORDER BY view::text) FROM stedi.zone_state"; }
is "$(zone_counts $old)" "$(zone_counts $new)" "upgraded and fresh databases hold the same zones: $(zone_counts $new)"
for z in trusted.customer trusted.accelerometer curated.customer trusted.step_trainer curated.machine_learning; do
    is "$(counts $old "count(*) FROM (TABLE $z EXCEPT ALL TABLE ${z}_definition) AS d")$(counts $old "count(*) FROM (TABLE ${z}_definition EXCEPT ALL TABLE $z) AS d")" \
       00 "upgraded: $z equals its definition"
done

# every statement of the current install script runs again over an
# installed extension, as an update runs them (src/sql/guard.sql): in one
# transaction, rolled back (pg_extension_config_dump runs only inside
# CREATE EXTENSION)
{ echo 'BEGIN;'
  sed -e '/^\\echo/d' -e "s|MODULE_PATHNAME|\$libdir/stedi|g" \
      -e '/pg_extension_config_dump/d' "$top/stedi--0.3.0.sql"
  echo 'ROLLBACK;'; } >"$tmp/again.sql"
psql -X -q -v ON_ERROR_STOP=1 -d $new -f "$tmp/again.sql" >"$tmp/again.out" 2>&1
rc=$?
sed 's/^/# /' "$tmp/again.out" | grep -i error | head -5
is "$rc" 0 "the install script runs again, statement by statement, over an installed extension"

# an update to 0.3.0 stops, changing nothing, while landing holds a value
# 0.3.0 refuses (0.2.0 accepted a blank serial number), and says so
bad=stedi_upgrade_bad
dropdb --if-exists $bad >/dev/null 2>&1
createdb $bad
q $bad "CREATE EXTENSION stedi VERSION '0.2.0'"
q $bad "INSERT INTO landing.source_file (kind, path, size_bytes) VALUES ('customer', 'c.json', 0);
        INSERT INTO landing.customer (email, serial_number, file_id, line_number)
        VALUES ('ok@test.com', 's-1', 1, 1), ('blank@test.com', '', 1, 2)"
psql -X -q -d $bad -c "ALTER EXTENSION stedi UPDATE TO '0.3.0'" >"$tmp/out" 2>&1
sed 's/^/# /' "$tmp/out"
is "$(head -2 "$tmp/out")" "ERROR:  landing holds values that stedi 0.3.0 refuses
DETAIL:  1 customer records, 0 accelerometer readings and 0 step trainer readings have a blank email or serial number, or a value over its bound (bytes: email 254, serial number 128, name 512, phone 64)." \
   "the update to 0.3.0 refuses landing values out of bounds, saying how many"
is "$(counts $bad "extversion FROM pg_extension WHERE extname = 'stedi'")" 0.2.0 "and changes nothing"
q $bad "DELETE FROM landing.customer WHERE serial_number = ''"
q $bad "ALTER EXTENSION stedi UPDATE TO '0.3.0'"
is "$(counts $bad "extversion FROM pg_extension WHERE extname = 'stedi'")" 0.3.0 "once they are corrected, it updates"

# A database owner who is not superuser plants, in public and first in the
# database's search_path, functions and operators that match the calls of
# stedi's PL/pgSQL functions better than pg_catalog's own (regclass =
# regclass, quote_ident(name), name = text, lower(varchar)); each records
# that it ran.  Neither CREATE EXTENSION nor the updates from 0.1.0 (in
# which the PL/pgSQL functions are pinned only at the end of each script,
# src/sql/search_path.sql) nor the functions called afterwards from a
# session under that search_path run any of them.
hostile=stedi_upgrade_hostile
dropdb --if-exists $hostile >/dev/null 2>&1
q postgres "DROP ROLE IF EXISTS stedi_upgrade_owner" >/dev/null 2>&1
q postgres "CREATE ROLE stedi_upgrade_owner NOLOGIN"
createdb -O stedi_upgrade_owner $hostile
q $hostile "GRANT CREATE ON SCHEMA public TO stedi_upgrade_owner"
psql -X -q -v ON_ERROR_STOP=1 -d $hostile <<'SQL'
SET ROLE stedi_upgrade_owner;
CREATE TABLE public.sprung (trap text);
GRANT INSERT ON public.sprung TO PUBLIC;
CREATE FUNCTION public.spring(trap text) RETURNS boolean LANGUAGE sql
AS $$ INSERT INTO public.sprung VALUES (trap) RETURNING true $$;
CREATE FUNCTION public.regclass_eq(regclass, regclass) RETURNS boolean LANGUAGE sql
AS $$ SELECT public.spring('= (regclass, regclass)') AND $1::oid OPERATOR(pg_catalog.=) $2::oid $$;
CREATE OPERATOR public.= (leftarg = regclass, rightarg = regclass, function = public.regclass_eq);
CREATE FUNCTION public.name_eq_text(name, text) RETURNS boolean LANGUAGE sql
AS $$ SELECT public.spring('= (name, text)') AND $1::text OPERATOR(pg_catalog.=) $2 $$;
CREATE OPERATOR public.= (leftarg = name, rightarg = text, function = public.name_eq_text);
CREATE FUNCTION public.quote_ident(name) RETURNS text LANGUAGE sql
AS $$ SELECT CASE WHEN public.spring('quote_ident(name)') THEN pg_catalog.quote_ident($1::text) END $$;
CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE sql
AS $$ SELECT CASE WHEN public.spring('lower(varchar)') THEN pg_catalog.lower($1::text) END $$;
ALTER DATABASE stedi_upgrade_hostile SET search_path = public, pg_catalog;
SQL
sprung() { q $hostile "SELECT coalesce(string_agg(DISTINCT trap, ', ' ORDER BY trap), 'none') FROM public.sprung"; }
q $hostile "SELECT quote_ident(attname), attname = 'x'::text, 'pg_class'::regclass = 'pg_class'::regclass, lower('A'::varchar)
              FROM pg_attribute LIMIT 1" >/dev/null
is "$(sprung)" "= (name, text), = (regclass, regclass), lower(varchar), quote_ident(name)" \
   "the planted functions and operators win under the database's search_path"
q $hostile "TRUNCATE public.sprung"
q $hostile "CREATE EXTENSION stedi VERSION '$oldest'"
for version in $(q postgres "SELECT string_agg(target, ' ' ORDER BY string_to_array(target, '.')::int[])
                               FROM pg_extension_update_paths('stedi')
                              WHERE source = '$oldest' AND path IS NOT NULL"); do
    q $hostile "ALTER EXTENSION stedi UPDATE TO '$version'"
done
is "$(sprung)" none "CREATE EXTENSION and each update run nothing planted in the database's search_path"
q $hostile "SELECT stedi.define_zone(z.zone) FROM stedi.reading_zones() AS z" >/dev/null
q $hostile "SELECT stedi.define_pairing(), stedi.set_setting('pairing_tolerance', '5 milliseconds'),
                   stedi.expect('trusted.accelerometer', 'x finite', 'x < 1e300', 'warn'),
                   stedi.unexpect('trusted.accelerometer', 'x finite')" >/dev/null
q $hostile "SELECT count(*) FROM stedi.refresh()" >/dev/null
is "$(sprung)" none "nor do its PL/pgSQL functions, called from a session under that search_path"
q postgres "DROP DATABASE $hostile" >/dev/null
q postgres "DROP ROLE stedi_upgrade_owner" >/dev/null

for d in $old $new $scratch $bad; do
    q postgres "DROP DATABASE $d" >/dev/null
done
echo "1..$tap_n"
