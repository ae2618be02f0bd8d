#!/usr/bin/env bash
# Trust boundaries, played by login roles as a hostile loader, admin and
# analyst would play them: the loading protocol, change tracking, settings,
# what analysts can see, and who may drop the extension.  (The scheduler's
# boundaries need a server with stedi preloaded: test/t/003_scheduler_attacks.pl.)
source "$(dirname "$0")/lib.sh"

db=stedi_trust_test
fresh_db $db
pw=stedi-test-password
login_roles hostile $pw
# as WHO SQL: run as that login role; prints the result or the error
as() { PGUSER=hostile_$1 PGPASSWORD=$pw psql -X -q -At -v ON_ERROR_STOP=1 -d $db -c "$2" 2>&1; }
# as_script WHO SQL: the same, as a script (for psql's \gset)
as_script()
{
    echo "$2" | PGUSER=hostile_$1 PGPASSWORD=$pw psql -X -q -At -v ON_ERROR_STOP=1 -d $db 2>&1 |
        sed -E 's/^psql:<stdin>:[0-9]+: //'
}

gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
stedi-gen --scale 0.02 --seed 31 "$gen/a" >/dev/null
stedi-gen --scale 0.02 --seed 32 "$gen/b" >/dev/null

PGUSER=hostile_loader PGPASSWORD=$pw stedi-load -q -d $db "$gen/a"
is "$?" 0 "the loader loads with stedi-load"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
victim=$(q $db "SELECT file_id FROM landing.source_file WHERE kind = 'accelerometer' ORDER BY file_id LIMIT 1")
victim_row() { q $db "SELECT format('%s %s %s %s', lines_read, rows_loaded, rows_rejected, loaded_by) FROM landing.source_file WHERE file_id = $victim"; }
before=$(victim_row)
log_before=$(q $db "SELECT count(*) FROM stedi.ingest_log")
owners_before=$(q $db "SELECT count(*) FROM stedi.accelerometer_file_user WHERE file_id = $victim")

# 6. finish_file accepts only the file this transaction began.
out=$(as loader "SELECT stedi.finish_file($victim, 1, 1, 0, 0)" | head -3)
is "$out" "ERROR:  file $victim is not being loaded in this transaction
DETAIL:  A file is finished in the transaction that began it.
HINT:  Load files with stedi-load." \
   "6. a loader cannot finish another file"
out=$(as_script loader "BEGIN;
    SELECT stedi.begin_file('accelerometer', 'mine.json', 1, decode(repeat('42', 32), 'hex'));
    SELECT stedi.finish_file($victim, 1, 1, 0, 0);" | tail -4 | head -1)
is "$out" "ERROR:  file $victim is not being loaded in this transaction" \
   "6. not even while loading a file of its own"
is "$(victim_row)" "$before" "6. the other file's counts and owner are unchanged"
is "$(counts $db "string_agg(DISTINCT loaded_by, ',') FROM landing.source_file")$(counts $db "string_agg(DISTINCT loaded_by, ',') FROM stedi.ingest_log")" \
   "hostile_loaderhostile_loader" "the audit names the loader, not the owner of the loading functions"
is "$(q $db "SELECT count(*) FROM stedi.ingest_log")" "$log_before" "6. no ingest_log row was forged"
out=$(as loader "SELECT stedi.log_ingest(decode(repeat('42', 32), 'hex'), 'accelerometer', 'x.json', 1, 'loaded', now())" | head -2)
is "$out" 'ERROR:  stedi.log_ingest logs only attempts that loaded nothing, not "loaded"
HINT:  A file that loads is logged by stedi.finish_file.' \
   "6. log_ingest cannot forge a load"

# 7. Change tracking cannot be switched off: rows written outside a file
#    begun in the same transaction are refused.
out=$(as loader "SET stedi_zone.tracked = 'on';
    INSERT INTO landing.accelerometer VALUES ('x@test.com', now(), 1, 1, 1, $victim, 999999)")
is "$(echo "$out" | head -1)" "ERROR:  file $victim is not being loaded in this transaction" \
   "7. a loader's rows by hand are refused, whatever it sets"
out=$(as_script loader "BEGIN;
    SELECT stedi.begin_file('accelerometer', 'mine.json', 1, decode(repeat('43', 32), 'hex')) AS f \\gset
    INSERT INTO landing.accelerometer VALUES ('x@test.com', now(), 1, 1, 1, $victim, 999999)" | grep ERROR)
is "$out" "ERROR:  file $victim is not being loaded in this transaction" \
   "7. and so are rows for another file while loading one"
out=$(as_script loader "BEGIN;
    SELECT stedi.begin_file('accelerometer', 'mine.json', 1, decode(repeat('44', 32), 'hex')) AS f \\gset
    INSERT INTO landing.accelerometer VALUES ('x@test.com', now(), 1, 1, 1, :f, 1), ('x@test.com', now(), 1, 1, 1, :f, 1)" | grep ERROR)
is "$out" "ERROR:  line 1 of file $(($(q $db "SELECT max(file_id) FROM landing.source_file") + 3)) is out of order" \
   "7. and a line loaded twice"
out=$(as_script loader "BEGIN;
    SELECT stedi.begin_file('accelerometer', 'mine.json', 1, decode(repeat('45', 32), 'hex')) AS f \\gset
    INSERT INTO landing.accelerometer VALUES ('x@test.com', now(), 1, 1, 1, :f, 1);
    COMMIT;" | grep ERROR)
is "$out" "ERROR:  file $(($(q $db "SELECT max(file_id) FROM landing.source_file") + 4)) was begun but not finished in this transaction" \
   "7. and a file begun and not finished cannot commit"
# a loader that lies about what it wrote
out=$(as_script loader "BEGIN;
    SELECT stedi.begin_file('accelerometer', 'mine.json', 1, decode(repeat('46', 32), 'hex')) AS f \\gset
    INSERT INTO landing.accelerometer VALUES ('x@test.com', now(), 1, 1, 1, :f, 1), ('y@test.com', now(), 1, 1, 1, :f, 2);
    SELECT stedi.finish_file(:f, 1, 1, 0, 0);" | grep -E 'ERROR|DETAIL')
is "$out" "ERROR:  file $(($(q $db "SELECT max(file_id) FROM landing.source_file") + 5)) does not hold the rows it says
DETAIL:  It says 1 loaded and 0 rejected; 2 and 0 were written." "7. finish_file's counts must be what was written"
# rows a savepoint rolled back are not counted
out=$(as_script loader "\\set ON_ERROR_STOP 0
    BEGIN;
    SELECT stedi.begin_file('accelerometer', 'savepoint.json', 1, decode(repeat('48', 32), 'hex')) AS f \\gset
    SAVEPOINT s;
    INSERT INTO landing.accelerometer VALUES ('x@test.com', now(), 1, 1, 1, :f, 1), ('x@test.com', now(), 1, 1, 1, :f, 2);
    ROLLBACK TO SAVEPOINT s;
    SAVEPOINT t;
    SELECT stedi.finish_file(:f, 2, 2, 0, 0);
    ROLLBACK TO SAVEPOINT t;
    INSERT INTO landing.accelerometer VALUES ('x@test.com', now(), 1, 1, 1, :f, 1);
    SELECT stedi.finish_file(:f, 1, 1, 0, 0);
    COMMIT;" | grep -E 'ERROR|DETAIL')
is "$out" "ERROR:  file $(($(q $db "SELECT max(file_id) FROM landing.source_file"))) does not hold the rows it says
DETAIL:  It says 2 loaded and 0 rejected; 0 and 0 were written." \
   "7. rows a savepoint rolled back are not counted; the line may be written again"
is "$(counts $db "format('%s %s', rows_loaded, (SELECT count(*) FROM landing.accelerometer a WHERE a.file_id = f.file_id)) FROM landing.source_file f WHERE path = 'savepoint.json'")" \
   "1 1" "7. the file's count is the rows it holds"
# a loader that writes by hand what stedi-load would: tracked, with every owner
out=$(as_script loader "BEGIN;
    SELECT stedi.begin_file('accelerometer', 'byhand.json', 1, decode(repeat('47', 32), 'hex')) AS f \\gset
    INSERT INTO landing.accelerometer
    SELECT 'user' || g % 7 || '@test.com', now() + g * interval '1 ms', 1, 1, 1, :f, g
      FROM generate_series(1, 500) AS g;
    SELECT stedi.finish_file(:f, 500, 500, 0, 0);
    COMMIT;" | grep ERROR)
is "$out" "" "7. rows written through the protocol are accepted"
is "$(counts $db "count(*) FROM stedi.landing_change")" 0 "7. and tracked: no full rebuild asked for"
is "$(counts $db "(SELECT count(*) FROM stedi.accelerometer_file_user m JOIN landing.source_file f USING (file_id) WHERE f.path = 'byhand.json')
                 = (SELECT count(DISTINCT user_email) FROM landing.accelerometer a JOIN landing.source_file f USING (file_id) WHERE f.path = 'byhand.json')")" t \
   "7. the server recorded every owner of the file's readings"
# more owners in one file than the server keeps in memory: read from its rows
out=$(as_script loader "BEGIN;
    SELECT stedi.begin_file('step_trainer', 'many.json', 1, decode(repeat('49', 32), 'hex')) AS f \\gset
    INSERT INTO landing.step_trainer SELECT now(), 'device-' || g, 1, :f, g FROM generate_series(1, 100005) AS g;
    SELECT stedi.finish_file(:f, 100005, 100005, 0, 0);
    COMMIT;" | grep ERROR)
is "$out" "" "7. a file of 100005 devices loads"
is "$(counts $db "count(*) FROM stedi.step_trainer_file_serial m JOIN landing.source_file f USING (file_id) WHERE f.path = 'many.json'")" \
   100005 "7. and every device is in the owner map"
PGUSER=hostile_loader PGPASSWORD=$pw stedi-load -q -d $db "$gen/b"
is "$(counts $db "string_agg(DISTINCT CASE WHEN method = 'incremental' OR reason LIKE '% rows to read incrementally against %'
                                           THEN 'by cost' ELSE reason END, ',') FROM stedi.refresh()")" "by cost" \
   "7. the next refresh is no rebuild: each zone incremental, or full only where that costs less"
is "$(zones_differ $db)" none "7. and every zone equals its definition"
# an admin may write landing by hand: noted, and rebuilt from scratch
as admin "INSERT INTO landing.source_file (kind, path, size_bytes) VALUES ('customer', 'admin.json', 0)" >/dev/null
out=$(as admin "INSERT INTO landing.customer (email, serial_number, share_with_research_as_of_date, file_id, line_number)
    SELECT 'hand@test.com', 'HAND', now(), max(file_id), 1 FROM landing.source_file")
is "$out" "" "7. an admin writes landing by hand"
is "$(counts $db "count(*) > 0 FROM stedi.landing_change")" t "7. which is noted as untracked"
is "$(counts $db "string_agg(DISTINCT method, ',') FROM stedi.refresh()")" full "7. and the next refresh rebuilds"
is "$(zones_differ $db)" none "7. every zone equals its definition"

# 8. Settings change only through set_setting, which validates them.
out=$(as admin "INSERT INTO stedi.setting (name, value) VALUES ('run_history_retention', 'forever')")
is "$out" "ERROR:  permission denied for table setting" "8. an admin cannot write stedi.setting directly"
out=$(as admin "UPDATE stedi.setting SET value = 'forever'")
is "$out" "ERROR:  permission denied for table setting" "8. nor update it"
out=$(as admin "SELECT stedi.set_setting('run_history_retention', 'forever')" | head -1)
is "$out" 'ERROR:  invalid value for run_history_retention: "forever"' "8. set_setting refuses an invalid value"
is "$(as admin "SELECT stedi.set_setting('run_history_retention', '14 days'); SELECT set_by FROM stedi.setting")" \
   "
hostile_admin" "8. a valid one is set, and set_by names who set it"
is "$(as admin "SELECT count(*) FROM stedi.refresh()")" 5 "8. refreshes go on"
for t in stedi.ingest_log stedi.refresh_run stedi.erasure_log stedi.pending_file stedi.zone_state; do
    out=$(as admin "DELETE FROM $t")
    is "$out" "ERROR:  permission denied for table ${t#stedi.}" "8. an admin cannot rewrite $t"
done

# 9. Analysts read curated and nothing behind it; they can use =#.
for v in curated.customer_definition curated.machine_learning_definition; do
    out=$(as analyst "SELECT count(*) FROM $v")
    is "$out" "ERROR:  permission denied for view ${v#curated.}" "9. an analyst cannot read $v"
done
# the leak that worked on 0.2.0: a cheap function that sees every row the
# definition's plan reads, before the filter
q $db "CREATE SCHEMA analyst_space AUTHORIZATION hostile_analyst" >/dev/null
out=$(as analyst "CREATE FUNCTION analyst_space.peek(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
                  AS \$\$ BEGIN RAISE NOTICE 'saw %', \$1; RETURN true; END \$\$;
                  SELECT count(*) FROM curated.customer_definition WHERE analyst_space.peek(serial_number)")
is "$(echo "$out" | grep -c 'saw')$(echo "$out" | grep -o 'permission denied for view customer_definition')" \
   "0permission denied for view customer_definition" "9. a leaky function sees nothing behind curated"
is "$(as analyst "SELECT count(*) > 0 FROM curated.machine_learning WHERE reading_time OPERATOR(stedi.=#) sensor_reading_time")" t \
   "9. an analyst uses the =# operator on what it reads"
is "$(as analyst "SET search_path = stedi, public; SELECT count(*) > 0 FROM curated.machine_learning WHERE reading_time =# sensor_reading_time")" t \
   "9. also unqualified, with stedi in the search_path"
out=$(as analyst "SELECT count(*) FROM stedi.refresh_run")
is "$out" "ERROR:  permission denied for table refresh_run" "9. schema stedi's tables stay closed to analysts"

# 10. Only the owner drops the extension; others get PostgreSQL's own error.
for who in admin analyst loader; do
    out=$(as $who "DROP EXTENSION stedi")
    is "$out" "ERROR:  must be owner of extension stedi" "10. $who: DROP EXTENSION gets PostgreSQL's own error"
    out=$(as $who "DROP EXTENSION stedi CASCADE")
    is "$out" "ERROR:  must be owner of extension stedi" "10. $who: so does DROP EXTENSION ... CASCADE"
done
is "$(counts $db "count(*) FROM pg_extension WHERE extname = 'stedi'")" 1 "10. the extension is still there"

# 1. A database owner who is not superuser cannot prepare schema stedi for
#    a superuser's CREATE EXTENSION.
q postgres "DROP DATABASE IF EXISTS stedi_trust_trap" >/dev/null 2>&1
q postgres "CREATE DATABASE stedi_trust_trap OWNER hostile_admin"
out=$(PGUSER=hostile_admin PGPASSWORD=$pw psql -X -q -At -v ON_ERROR_STOP=1 -d stedi_trust_trap 2>&1 <<'SQL'
CREATE SCHEMA stedi;
CREATE FUNCTION stedi.format(text, text, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE hostile_admin SUPERUSER';
    END IF;
    RETURN pg_catalog.format($1, $2, $3);
END $$;
SQL
)
is "$out" "" "1. a database owner plants schema stedi with a format() of its own"
out=$(psql -X -q -At -d stedi_trust_trap -c "CREATE EXTENSION stedi" 2>&1 | head -3)
is "$out" 'ERROR:  schema "stedi" holds objects of role "hostile_admin", who is not a superuser
DETAIL:  The extension'"'"'s functions would run with a superuser'"'"'s rights next to objects that role controls.
HINT:  Drop or rename that schema, then CREATE EXTENSION stedi makes its own.' \
   "1. CREATE EXTENSION refuses that schema before it runs anything"
is "$(counts postgres "rolsuper FROM pg_roles WHERE rolname = 'hostile_admin'")" f "1. and the owner did not become superuser"
q postgres "DROP DATABASE stedi_trust_trap" >/dev/null

q postgres "DROP DATABASE $db" >/dev/null
drop_login_roles hostile
echo "1..$tap_n"
