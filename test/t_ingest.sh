#!/usr/bin/env bash
# stedi-load runs that can be repeated, interrupted and run side by side:
# content already loaded is skipped, --force reloads it, a run killed at any
# moment leaves whole files or nothing and the next run completes it, two
# loaders on the same folders never load a file twice, and --json says it
# all to a program.
source "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=stedi_ingest_test

stedi-gen --scale 2 --seed 21 "$tmp/data" >"$tmp/gen.out"
files=$(find "$tmp/data" -name '*.json' | wc -l)
lines=$(awk '{ n += $(NF - 1) } END { print n }' "$tmp/gen.out")
echo "# $files files, $lines lines"

counts() { q $db "SELECT (SELECT count(*) FROM landing.customer) + (SELECT count(*) FROM landing.accelerometer) + (SELECT count(*) FROM landing.step_trainer)"; }

# Idempotent: the second run skips everything and says so.
fresh_db $db
stedi-load -q -d $db "$tmp/data"
is "$?" 0 "first run loads"
is "$(counts)" "$lines" "every line is a row"
stedi-load -d $db "$tmp/data" >"$tmp/out" 2>&1
is "$?" 0 "second run: exit 0"
is "$(grep -c 'skipped: already loaded' "$tmp/out")" "$files" "second run: every file reported as skipped"
is "$(counts)" "$lines" "second run: no row twice"
is "$(q $db "SELECT count(*) FROM stedi.ingest_log WHERE outcome = 'skipped'")" "$files" "ingest_log records each skip"

# The same content under another name is the same file; changed content is not.
cp "$tmp/data/customer/landing/customer-000001.json" "$tmp/copy.json"
stedi-load -q -d $db --kind customer "$tmp/copy.json"
is "$(q $db "SELECT count(*) FROM landing.source_file")" "$files" "a renamed copy is skipped"
echo '{"email":"new@test.com","serialNumber":"s-new"}' >>"$tmp/copy.json"
stedi-load -q -d $db --kind customer "$tmp/copy.json"
is "$(q $db "SELECT count(*) FROM landing.source_file")" "$((files + 1))" "changed content is loaded"

# --force loads again, and says it was forced.
stedi-load -q -d $db --force "$tmp/data/step_trainer"
is "$(q $db "SELECT count(*) FROM landing.source_file WHERE forced")" \
   "$(find "$tmp/data/step_trainer" -name '*.json' | wc -l)" "--force reloads, marked forced"

# --json: one document with every file and the totals.
fresh_db $db
stedi-load -d $db --json "$tmp/data/customer" "$tmp/copy.json" --kind customer >"$tmp/out.json"
is "$?" 0 "--json: exit 0"
json_check="SELECT d->'totals'->>'loaded_files', d->>'exit_status',
       (SELECT bool_and(length(f->>'sha256') = 64) FROM jsonb_array_elements(d->'files') f),
       (SELECT sum((f->>'lines')::bigint) FROM jsonb_array_elements(d->'files') f)
         = (d->'totals'->>'lines')::bigint
       AND (d->'totals'->>'lines')::bigint
         = (d->'totals'->>'loaded')::bigint + (d->'totals'->>'rejected')::bigint
  FROM (SELECT :'doc'::jsonb AS d) j"
is "$(psql -X -At -F ' ' -d $db -v doc="$(cat "$tmp/out.json")" <<<"$json_check")" \
   "2 0 t t" "--json: valid JSON, per-file hashes, totals add up"

# A progress bar on a terminal, none in a pipe or with --quiet.
if command -v script >/dev/null; then
    script -qec "stedi-load -d $db --force $tmp/data/step_trainer" /dev/null >"$tmp/tty.out" 2>&1
    ok $(grep -q 'rows/s  ETA' "$tmp/tty.out"; echo $?) "progress bar on a terminal"
    script -qec "stedi-load -q -d $db --force $tmp/data/step_trainer" /dev/null >"$tmp/tty.out" 2>&1
    ok $(! grep -q 'ETA' "$tmp/tty.out"; echo $?) "no progress bar with --quiet"
else
    skip "script(1) not installed"
    skip "script(1) not installed"
fi
stedi-load -d $db --force "$tmp/data/step_trainer" >"$tmp/out" 2>"$tmp/err"
ok $(! grep -q 'ETA' "$tmp/err" "$tmp/out"; echo $?) "no progress bar when stderr is not a terminal"

# Killed at any moment: whole files or nothing, and the next run completes.
# A file is whole when its source_file row says how many rows it loaded and
# exactly those rows are there; no row may point to a file not recorded.
whole_files_only()
{
    q $db "SELECT
      (SELECT count(*) FROM landing.source_file f WHERE f.rows_loaded IS DISTINCT FROM
          (SELECT count(*) FROM landing.customer r WHERE r.file_id = f.file_id)
        + (SELECT count(*) FROM landing.accelerometer r WHERE r.file_id = f.file_id)
        + (SELECT count(*) FROM landing.step_trainer r WHERE r.file_id = f.file_id))
    + (SELECT count(*) FROM (SELECT file_id FROM landing.customer UNION SELECT file_id FROM landing.accelerometer
                              UNION SELECT file_id FROM landing.step_trainer) r
        WHERE NOT EXISTS (SELECT FROM landing.source_file f WHERE f.file_id = r.file_id))"
}
fresh_db $db
for delay in 0.05 0.15 0.3 0.45 0.6; do
    stedi-load -q -d $db "$tmp/data" >/dev/null 2>&1 &
    pid=$!
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    is "$(whole_files_only)" 0 "killed after ${delay}s: whole files only ($(q $db "SELECT count(*) FROM landing.source_file") of $files)"
done
stedi-load -q -d $db "$tmp/data"
is "$?" 0 "the run after the kills completes"
is "$(counts)" "$lines" "and every line is there once"
is "$(q $db "SELECT count(*) FROM landing.source_file")" "$files" "each file once"

# two_loaders PAUSE FOLDER...: a stedi-load of the data and, PAUSE seconds
# after it starts, another of FOLDER... beside it; both exit codes
two_loaders()
{
    local pause=$1 a b rc_a rc_b
    shift
    stedi-load -q -d $db "$tmp/data" >"$tmp/a.out" 2>&1 &
    a=$!
    [ "$pause" = 0 ] || sleep "$pause"
    stedi-load -q -d $db "$@" >"$tmp/b.out" 2>&1 &
    b=$!
    wait $a; rc_a=$?
    wait $b; rc_b=$?
    echo "$rc_a $rc_b"
}

# Two loaders at once on overlapping folders: each file loaded once.
fresh_db $db
is "$(two_loaders 0 "$tmp/data/accelerometer" "$tmp/data")" "0 0" "both loaders succeed"
is "$(q $db "SELECT count(*) FROM landing.source_file")" "$files" "each file loaded once"
is "$(counts)" "$lines" "each line once"
is "$(q $db "SELECT count(*) FROM stedi.ingest_log WHERE outcome = 'skipped'")" "$files" \
   "the other loader skipped each file"

# The same under repeatable read by default: the loader sets its own
# transaction mode, and the database refuses a second unforced load anyway.
fresh_db $db
q $db "ALTER DATABASE $db SET default_transaction_isolation = 'repeatable read'"
is "$(two_loaders 0.3 "$tmp/data")" "0 0" "repeatable read by default: both loaders succeed"
is "$(q $db "SELECT count(*) FROM landing.source_file")" "$files" "repeatable read by default: each file loaded once"
is "$(counts)" "$lines" "repeatable read by default: each line once"

# Only UTF-8 databases: elsewhere CREATE EXTENSION says why, and what to do.
dropdb --if-exists stedi_latin1 >/dev/null 2>&1
createdb -E LATIN1 -T template0 --locale=C stedi_latin1
is "$(psql -X -q -d stedi_latin1 -c "CREATE EXTENSION stedi" 2>&1 | head -3)" \
   "ERROR:  stedi needs a UTF8 database, not LATIN1
DETAIL:  The feeds are UTF-8 JSON; in another encoding a character with no equivalent would fail its whole file.
HINT:  Create the database with ENCODING 'UTF8' (createdb -E UTF8 -T template0), then CREATE EXTENSION stedi there." \
   "a LATIN1 database: CREATE EXTENSION refuses, saying why"
dropdb stedi_latin1

dropdb $db
