#!/usr/bin/env bash
# pg_dump and a restore keep every row: landing, quarantine, settings, the
# schedule, the logs and their sequences, and the pseudonym secret (so
# every customer keeps their key).  The zones are not dumped: the first
# refresh after the restore rebuilds them, identical.  Both a custom-format
# dump restored with pg_restore -j 2 (in parallel) and a plain dump replayed with psql.
source "$(dirname "$0")/lib.sh"

db=stedi_backup_test
fresh_db $db
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stedi-gen --scale 0.05 --seed 11 --faults "$tmp/data" >/dev/null

stedi-load -q -d $db "$tmp/data"
is "$?" 1 "the data loads, with quarantined lines"
q $db "SELECT stedi.set_consent_policy('as_of')" >/dev/null
q $db "SELECT stedi.set_setting('run_history_retention', '7 days')" >/dev/null
# what stedi.schedule_refresh() stores on a server running the scheduler
q $db "INSERT INTO stedi.refresh_job (every) VALUES ('10 minutes')"
# a rule of one's own, which keeps rows out of the zones
q $db "SELECT stedi.expect('trusted.accelerometer', 'x below 0.5', 'x < 0.5', 'drop')" >/dev/null
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
q $db "SELECT stedi.forget_customer(email) FROM (SELECT email FROM trusted.customer ORDER BY email LIMIT 1) AS c" >/dev/null
# a retracted file: its content stays known after a restore too
mkdir -p "$tmp/data/step_trainer/landing"
echo '{"sensorReadingTime":1655564444103,"serialNumber":"retracted","distanceFromObject":1}' \
    >"$tmp/data/step_trainer/landing/retracted.json"
stedi-load -q -d $db "$tmp/data/step_trainer/landing/retracted.json" --kind step_trainer
q $db "SELECT count(*) FROM stedi.unload_file((SELECT file_id FROM landing.source_file WHERE path LIKE '%/retracted.json'))" >/dev/null
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null


state_before=$(state $db)
rules() { counts "$1" "string_agg(format('%s %s %s %s', zone, name, check_sql, on_violation), ' | ' ORDER BY zone, name)
                       FROM stedi.expectation WHERE NOT builtin"; }
rules_before=$(rules $db)
zones_before=$(zones $db)
is "$(counts $db "(SELECT count(*) FROM landing.rejected) > 0 AND (SELECT count(*) FROM stedi.erasure_log) = 1
                   AND (SELECT count(*) FROM curated.machine_learning) > 0
                   AND (SELECT count(*) FROM landing.unknown_field) > 0
                   AND (SELECT count(*) FROM stedi.expectation_violation WHERE expectation = 'x below 0.5') > 0")" t \
   "the database to back up has quarantined lines, an erasure, a training table, unknown fields and rows an expectation of its own keeps out"

check_restored()
{
    local r=$1 how=$2
    is "$(state $r)" "$state_before" "$how: every landing row, quarantined line, setting, schedule, log row, sequence and the secret are back"
    is "$(rules $r)" "$rules_before" "$how: the expectations declared are back"
    is "$(counts $r "(SELECT count(*) FROM trusted.accelerometer) + (SELECT count(*) FROM curated.machine_learning)")" 0 \
       "$how: the zones are not in the dump"
    is "$(counts $r "string_agg(DISTINCT method, ',') FROM stedi.refresh()")" full \
       "$how: the first refresh after the restore rebuilds from scratch"
    is "$(zones $r)" "$zones_before" "$how: after it every zone is identical, customer keys included"
    is "$(counts $r "stedi.setting_value('consent_policy') || ' ' || stedi.setting_value('run_history_retention')")" \
       "as_of 7 days" "$how: settings as they were"
    # what was loaded, and what was loaded and unloaded, stays known
    local files
    files=$(counts $r "count(*) FROM landing.source_file")
    stedi-load -q -d $r "$tmp/data" >/dev/null 2>&1
    is "$(counts $r "count(*) FROM landing.source_file")" "$files" \
       "$how: the same folder loads nothing again, the unloaded file included"
    # the sequences go on where they were: a new file gets a new number
    local max_file
    max_file=$(counts $r "max(file_id) FROM landing.source_file")
    mkdir -p "$tmp/$r"
    echo '{"user":"new@example.com","timestamp":1655564000000,"x":1,"y":2,"z":3}' >"$tmp/$r/new.json"
    stedi-load -q -d $r --kind accelerometer "$tmp/$r/new.json"
    is "$(counts $r "max(file_id) > $max_file FROM landing.source_file")" t "$how: file numbers go on after the last one"
    is "$(counts $r "count(*) FROM stedi.refresh()")" 5 "$how: incremental refreshes work on"
}

pg_dump -Fc -f "$tmp/stedi.dump" $db
is "$?" 0 "pg_dump -Fc"
dropdb --if-exists stedi_restore_custom >/dev/null 2>&1
createdb stedi_restore_custom
pg_restore --exit-on-error -j 2 -d stedi_restore_custom "$tmp/stedi.dump" 2>"$tmp/restore.err"
is "$?" 0 "pg_restore -j 2 into a new database, without an error"
sed 's/^/# /' "$tmp/restore.err"
check_restored stedi_restore_custom custom

pg_dump -Fp -f "$tmp/stedi.sql" $db
dropdb --if-exists stedi_restore_plain >/dev/null 2>&1
createdb stedi_restore_plain
psql -X -q -v ON_ERROR_STOP=1 -d stedi_restore_plain -f "$tmp/stedi.sql" >/dev/null 2>"$tmp/plain.err"
is "$?" 0 "a plain dump replays with psql, without an error"
sed 's/^/# /' "$tmp/plain.err"
check_restored stedi_restore_plain plain

for d in $db stedi_restore_custom stedi_restore_plain; do
    q postgres "DROP DATABASE $d" >/dev/null
done
echo "1..$tap_n"
