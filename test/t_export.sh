#!/usr/bin/env bash
# stedi-export, run as a member of stedi_analyst: every split written as
# Parquet (plain and GZIP, one and many row groups) and as CSV (plain and
# gzip), each file read back by DuckDB and its rows, types and per-column
# sums or hashes compared with PostgreSQL's, in the snapshot the export
# read; text with quotes, commas, a newline and non-ASCII characters; an
# empty split; the manifest; refusals; and exports that run while
# refreshes commit, each of one snapshot.
source "$(dirname "$0")/lib.sh"

db=stedi_export_test
fresh_db $db
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pw=stedi-test-password
q postgres "DROP ROLE IF EXISTS test_exporter" >/dev/null 2>&1
q postgres "CREATE ROLE test_exporter LOGIN PASSWORD '$pw' IN ROLE stedi_analyst"
q postgres "DROP ROLE IF EXISTS test_outsider" >/dev/null 2>&1
q postgres "CREATE ROLE test_outsider LOGIN PASSWORD '$pw'"
export_as() { PGUSER=test_exporter PGPASSWORD=$pw stedi-export -d $db "$@"; }

stedi-gen --scale 0.3 --seed 9 "$tmp/data" >/dev/null
# a consenting customer whose device's serial number holds quotes, a comma,
# a newline and non-ASCII characters, with readings paired in the same
# millisecond
mkdir -p "$tmp/odd/customer/landing" "$tmp/odd/accelerometer/landing" "$tmp/odd/step_trainer/landing"
odd='dev \"7\", caf\u00e9\n\u65e5\u672c \ud83d\udc5f'
echo '{"customerName":"Odd One","email":"odd@export.test","phone":"1","birthDay":"1990-01-01","serialNumber":"'"$odd"'","registrationDate":1655564376361,"lastUpdateDate":1655564376361,"shareWithResearchAsOfDate":1655564376361,"shareWithPublicAsOfDate":null,"shareWithFriendsAsOfDate":null}' \
    >"$tmp/odd/customer/landing/odd.json"
for i in 1 2 3; do
    echo '{"user":"odd@export.test","timestamp":165556437'$i'000,"x":0.1,"y":-0.2,"z":1e-7}'
done >"$tmp/odd/accelerometer/landing/odd.json"
for i in 1 2 3; do
    echo '{"sensorReadingTime":165556437'$i'000,"serialNumber":"'"$odd"'","distanceFromObject":'$i'}'
done >"$tmp/odd/step_trainer/landing/odd.json"
stedi-load -q -d $db "$tmp/data" "$tmp/odd"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
is "$(q $db "SELECT count(*) FROM curated.machine_learning WHERE serial_number LIKE '%\"7\",%' AND serial_number LIKE E'%\n%'")" 3 \
   "the odd device's 3 pairs are in the training table"

# check DIR LABEL: DuckDB against PostgreSQL, for every file of DIR
check()
{
    local dir=$1 label=$2 sql figures out
    sql=$(node "$top/test/export_check.mjs" sql "$dir")
    figures=$(q $db "$sql")
    out=$(node "$top/test/export_check.mjs" check "$dir" "$figures" 2>&1)
    is "$(echo "$out" | grep -v ' same$' | grep -v ' row-groups ' | head -5)" "" \
       "$label: DuckDB reads every file as PostgreSQL holds it ($(echo "$out" | grep -c ' same$') figures the same)"
    echo "$out" >"$dir/.check"
}

export_as -q "$tmp/parquet"
is "$?" 0 "Parquet: exit status 0"
is "$(ls "$tmp/parquet" | tr '\n' ' ')" "manifest.json test.parquet train.parquet validation.parquet " \
   "Parquet: one file per split, and the manifest"
check "$tmp/parquet" "Parquet"
is "$(grep '^train types' "$tmp/parquet/.check" | cut -d' ' -f3)" same \
   "Parquet: times as TIMESTAMP WITH TIME ZONE, customer keys as UUID, text as VARCHAR, INTEGER, BIGINT, DOUBLE"

export_as -q --gzip --row-group-size 1 "$tmp/parquet-gzip"
check "$tmp/parquet-gzip" "Parquet, GZIP, 1 MB row groups"
groups=$(sed -n 's/^train row-groups //p' "$tmp/parquet-gzip/.check")
ok $([ "${groups:-0}" -gt 1 ] && echo 0 || echo 1) "Parquet, 1 MB row groups: train.parquet holds $groups of them"

export_as -q --format csv "$tmp/csv"
check "$tmp/csv" "CSV"
export_as -q --format csv --gzip "$tmp/csv-gzip"
is "$(ls "$tmp/csv-gzip" | tr '\n' ' ')" "manifest.json test.csv.gz train.csv.gz validation.csv.gz " "CSV, gzip: .csv.gz files"
check "$tmp/csv-gzip" "CSV, gzip"

# no customer in two splits, in the files
is "$(node -e "
import('@duckdb/node-api').then(async ({ DuckDBInstance }) => {
    const c = await (await DuckDBInstance.create(':memory:')).connect();
    const r = await c.runAndReadAll(\"SELECT count(*)::VARCHAR AS n FROM (SELECT customer_key FROM read_parquet('$tmp/parquet/*.parquet') GROUP BY 1 HAVING count(DISTINCT split) > 1)\");
    console.log(r.getRowObjects()[0].n);
});")" 0 "no customer key is in two of the files"

# the manifest
manifest=$tmp/parquet/manifest.json
is "$(node -e "const m = require('$manifest'); console.log([m.reflects.extension_version, m.reflects.last_refresh.run_id,
      m.reflects.consent_policy, m.reflects.pairing_tolerance_ms, m.reflects.pairing_mode, m.reflects.split_proportions,
      m.reflects.settings_changed_since, m.format, m.columns.length, m.files.map((f) => f.split + ':' + f.rows).join(',')].join(' '))")" \
   "0.3.0 $(q $db "SELECT max(run_id) FROM stedi.refresh_run WHERE status = 'succeeded'") original 0 nearest 80/10/10 false parquet 13 $(q $db "SELECT string_agg(s || ':' || (SELECT count(*) FROM curated.machine_learning WHERE split = s), ',' ORDER BY o) FROM unnest(ARRAY['train', 'validation', 'test']) WITH ORDINALITY AS u(s, o)")" \
   "the manifest: version, last refresh, consent policy, pairing and split settings, format, columns, rows per split"

# settings changed since the last refresh: the manifest gives those the
# files were made with, and says that others are pending
q $db "SELECT stedi.set_setting('split_proportions', '50/25/25')" >/dev/null
export_as -q --split test "$tmp/pending"
is "$(node -e "const m = require('$tmp/pending/manifest.json'); console.log(m.reflects.split_proportions, m.reflects.settings_changed_since)")" \
   "80/10/10 true" "a setting changed, not yet refreshed: the manifest names the proportions the files were made with, and the change"
is "$(node -e "const m = require('$tmp/pending/manifest.json'); console.log(m.files[0].rows)")" \
   "$(q $db "SELECT count(*) FROM curated.machine_learning WHERE split = 'test'")" "those files hold the splits of the last refresh"
q $db "SELECT stedi.set_setting('split_proportions', NULL)" >/dev/null

# one split asked for, into a folder of an earlier export of every split:
# the files the new export does not write are removed
export_as -q "$tmp/again"
export_as -q --split test "$tmp/again"
is "$(ls "$tmp/again" | tr '\n' ' ')" "manifest.json test.parquet " "--split test over an earlier export: only test.parquet and the manifest are left"
export_as -q --format csv "$tmp/again"
is "$(ls "$tmp/again" | tr '\n' ' ')" "manifest.json test.csv train.csv validation.csv " "CSV over an earlier Parquet export: only the CSV files are left"

# two exports into one folder at once: the second refuses
( flock -x "$tmp/again/.stedi-export.lock" sleep 3 ) &
sleep 0.5
out=$(export_as -q "$tmp/again" 2>&1)
is "$? $out" "2 stedi-export: another stedi-export is writing $tmp/again" "a folder another export is writing: exit status 2, and why"
wait

# an empty split: every customer in train
q $db "SELECT stedi.set_setting('split_proportions', '100/0/0')" >/dev/null
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
export_as -q "$tmp/empty" 2>/dev/null
is "$?" 1 "an empty split: exit status 1"
check "$tmp/empty" "an empty split"
is "$(grep -E '^(validation|test) rows' "$tmp/empty/.check" | tr '\n' ' ')" "validation rows same test rows same " \
   "the empty splits' files hold 0 rows, read back with their columns"
q $db "SELECT stedi.set_setting('split_proportions', NULL)" >/dev/null
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null

# refusals
out=$(PGUSER=test_outsider PGPASSWORD=$pw stedi-export -d $db "$tmp/outsider" 2>&1)
is "$? $(echo "$out" | grep -c 'permission denied')" "2 1" "a role outside stedi_analyst: exit status 2, permission denied"
is "$(ls -A "$tmp/outsider" | grep -v '^.stedi-export.lock$' | tr '\n' ' ')" "" "and nothing is left in its folder but the lock (no temporary file)"
is "$(stedi-export -? | head -1)" "stedi-export writes the STEDI training table, split by split, as Parquet or CSV" "-? shows the help"
out=$(export_as --split holdout "$tmp/bad" 2>&1)
is "$? $out" '2 stedi-export: invalid split "holdout": must be train, validation or test' "an unknown split: exit status 2"
out=$(export_as --json --format xml "$tmp/bad" 2>/dev/null)
is "$out" '{"status": 2, "error": "invalid format \"xml\": must be parquet or csv"}' "--json: the error as JSON"
is "$(export_as --json -q "$tmp/json" | node -e "let s = ''; process.stdin.on('data', (d) => s += d).on('end', () => {
      const d = JSON.parse(s); console.log(d.status, d.manifest.files.length, d.manifest.rows); })")" \
   "0 3 $(q $db "SELECT count(*) FROM curated.machine_learning")" "--json: the status and the manifest"

# a progress bar on a terminal (script(1) gives it one), none elsewhere
out=$(PGUSER=test_exporter PGPASSWORD=$pw script -qec "stedi-export -d $db $tmp/tty" /dev/null | tr '\r' '\n')
is "$(echo "$out" | grep -cE '^(train|validation|test) +[0-9]+ of [0-9]+ rows \(100%\)')" 3 \
   "on a terminal: a progress bar per split, to 100%"
is "$(export_as "$tmp/notty" 2>&1 | grep -c '%)')" 0 "not on a terminal: no progress bar"

# exports while refreshes commit: each export is of one snapshot, so its
# total is the training table's at the refresh its manifest names
q $db "CREATE TABLE public.rows_at_run AS SELECT max(run_id) AS run_id, (SELECT count(*) FROM curated.machine_learning) AS n
         FROM stedi.refresh_run WHERE status = 'succeeded'"
(
    for b in 1 2 3 4 5 6; do
        stedi-gen --scale 0.02 --seed $((20 + b)) --first-customer $((b * 1048576)) "$tmp/batch$b" >/dev/null
        stedi-load -q -d $db "$tmp/batch$b"
        q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
        q $db "INSERT INTO public.rows_at_run SELECT max(run_id), (SELECT count(*) FROM curated.machine_learning)
                 FROM stedi.refresh_run WHERE status = 'succeeded'"
    done
) &
loader=$!
bad=0
runs=0
while kill -0 $loader 2>/dev/null; do
    rm -rf "$tmp/during"
    export_as -q --format csv "$tmp/during" || bad=$((bad + 1))
    got=$(node -e "const m = require('$tmp/during/manifest.json'); console.log(m.reflects.last_refresh.run_id + ' ' + m.rows)")
    runs=$((runs + 1))
    sleep 0.2
    echo "$got" >>"$tmp/during.log"
done
wait $loader
while read -r run rows; do
    [ "$(q $db "SELECT n FROM public.rows_at_run WHERE run_id = $run")" = "$rows" ] || bad=$((bad + 1))
done <"$tmp/during.log"
is "$bad" 0 "$runs exports while 6 batches were loaded and refreshed: each holds the training table of the refresh its manifest names"
ok $([ "$(cut -d' ' -f1 "$tmp/during.log" | sort -u | wc -l)" -gt 1 ] && echo 0 || echo 1) \
   "those exports saw $(cut -d' ' -f1 "$tmp/during.log" | sort -u | wc -l) different refreshes"

echo "1..$tap_n"
