#!/usr/bin/env bash
# stedi-gen --faults: every faulty line it writes is rejected by stedi-load
# for the reason of its kind, everything else loads, and the good rows are
# exactly those of the same run without --faults.
source "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
db=stedi_gen_faults_test
db_clean=stedi_gen_faults_clean
trap 'rm -rf "$tmp"; dropdb --if-exists $db >/dev/null 2>&1; dropdb --if-exists $db_clean >/dev/null 2>&1' EXIT

kinds="customer accelerometer step_trainer"
categories="malformed_json cut_off not_object missing_field wrong_type out_of_range invalid_utf8 nul_byte duplicate_key too_deep too_long"
digest() { (cd "$1" && find . -type f | sort | xargs sha256sum | sha256sum | cut -d' ' -f1); }

stedi-gen --scale 0.05 --seed 11 --faults "$tmp/faulty" >"$tmp/faulty.out"
is "$?" 0 "stedi-gen --faults: written"
sed 's/^/# /' "$tmp/faulty.out"
stedi-gen --scale 0.05 --seed 11 --faults "$tmp/again" >"$tmp/again.out"
is "$(digest "$tmp/again")" "$(digest "$tmp/faulty")" "--faults: same seed, same bytes"
is "$(cat "$tmp/again.out")" "$(cat "$tmp/faulty.out")" "--faults: same seed, same summary"
rm -rf "$tmp/again"

# What the generator says it wrote.
gen_lines() { grep "^$1:" "$tmp/faulty.out" | sed -E 's/^[a-z_]+: [0-9]+ files?, ([0-9]+) lines?.*/\1/'; }
gen_count() { grep "^$1:" "$tmp/faulty.out" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
for c in $categories; do
    ok $([ "$(gen_count faults $c)" -gt 0 ]; echo $?) "generator wrote at least one $c line ($(gen_count faults $c))"
done

fresh_db $db
stedi-load -q -d $db "$tmp/faulty" >"$tmp/load.out" 2>&1
is "$?" 1 "stedi-load: exit status 1, some lines rejected"
sed 's/^/# /' "$tmp/load.out"

for kind in $kinds; do
    is "$(q $db "SELECT (SELECT count(*) FROM landing.$kind) + (SELECT count(*) FROM landing.rejected WHERE kind = '$kind')")" \
        "$(gen_lines $kind)" "$kind: landing rows + rejected rows = lines generated"
done

# Each rejection reason, as the category of fault it stands for.
q $db "SELECT category, count(*) FROM (
         SELECT CASE
           WHEN reason LIKE 'malformed JSON%' THEN 'malformed_json'
           WHEN reason LIKE 'line cut off%' THEN 'cut_off'
           WHEN reason LIKE 'not a JSON object%' THEN 'not_object'
           WHEN reason LIKE 'missing required field%' THEN 'missing_field'
           WHEN reason LIKE '% must be %' OR reason LIKE 'birthDay is not a date%' THEN 'wrong_type'
           WHEN reason LIKE '% is out of range%' OR reason LIKE '% is not a finite number' THEN 'out_of_range'
           WHEN reason LIKE 'line is not valid UTF-8%' THEN 'invalid_utf8'
           WHEN reason LIKE 'line contains a NUL byte' THEN 'nul_byte'
           WHEN reason LIKE 'duplicate key%' THEN 'duplicate_key'
           WHEN reason LIKE 'nesting deeper than%' THEN 'too_deep'
           WHEN reason LIKE 'line longer than%' THEN 'too_long'
           ELSE 'other'
         END AS category
         FROM landing.rejected) r
       GROUP BY category ORDER BY category" | tr '|' ' ' >"$tmp/rejected"
for c in $categories other; do
    got=$(awk -v c=$c '$1 == c { print $2 }' "$tmp/rejected")
    want=$(gen_count faults $c)
    is "${got:-0}" "${want:-0}" "rejected as $c: as many as generated"
done
# what the loader said, offsets left out
q $db "SELECT count(*) || ' x ' || kind || ': ' || r
       FROM (SELECT kind, regexp_replace(reason, 'offset [0-9]+', 'offset N') AS r FROM landing.rejected) x
       GROUP BY kind, r ORDER BY r, kind" | sed 's/^/# /'

is "$(q $db "SELECT sum(extra_fields) FROM landing.source_file")" "$(gen_count quirks extra_fields)" \
    "unknown fields of loaded rows = records given an unknown field"
is "$(q $db "SELECT count(*) FROM landing.source_file WHERE lines_read IS DISTINCT FROM rows_loaded + rows_rejected")" 0 \
    "source_file: lines read = rows loaded + rows rejected, every file"
for kind in $kinds; do
    is "$(q $db "SELECT sum(lines_read) FROM landing.source_file WHERE kind = '$kind'")" "$(gen_lines $kind)" \
        "$kind: lines read = non-blank lines generated"
done

# The good rows are those of the same run without faults.
stedi-gen --scale 0.05 --seed 11 "$tmp/clean" >/dev/null
fresh_db $db_clean
stedi-load -q -d $db_clean "$tmp/clean" >"$tmp/load.out" 2>&1
is "$?" 0 "the same run without --faults loads without rejects"
for kind in $kinds; do
    cols=$(q $db "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
                  FROM information_schema.columns
                  WHERE table_schema = 'landing' AND table_name = '$kind'
                    AND column_name NOT IN ('file_id', 'line_number')")
    sum="SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT $cols FROM landing.$kind) t"
    is "$(q $db "$sum")" "$(q $db_clean "$sum")" "$kind: loaded rows (count, checksum) equal those of the clean run"
done
