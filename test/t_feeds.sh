#!/usr/bin/env bash
# stedi-load on feeds as S3, Glue and Athena write them: every file shape
# found (.json, .jsonl, .ndjson in any case, gzip-compressed too, in
# sub-folders), everything else named with the reason it was passed over,
# keys in camelCase, lower case and snake_case, and the unknown field names
# of each file kept with their counts.
source "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=stedi_feeds_test
fresh_db $db
cd "$tmp" || exit 1

# ---- the feed folder: every file shape ----
mkdir -p feed/customer/landing/year=2022/month=06 feed/customer/landing/year=2022/month=07 \
         feed/customer/landing/.staging feed/customer/trusted feed/customer/curated \
         feed/accelerometer/landing feed/step_trainer/landing \
         feed/customers/landing feed/Step-Trainer feed/StepTrainer feed/accelerometers \
         feed/step_trainer_landing feed/landing_customer \
         feed/stuff feed/.git
c=feed/customer/landing
# the same consent in each spelling of its key
printf '%s\n' '{"customerName":"Ann Lee","email":"ann@test.com","birthDay":"1990-01-02","serialNumber":"s-1","shareWithResearchAsOfDate":1655564376361,"favouriteColour":"green"}' >$c/a.JSON
printf '%s\n' '{"customername":"Bo Wu","email":"bo@test.com","birthday":"1990-01-02","serialnumber":"s-2","sharewithresearchasofdate":1655564376361}' >$c/b.Jsonl
{
    printf '%s\n' '{"customer_name":"Cy Ng","email":"cy@test.com","birth_day":"1990-01-02","serial_number":"s-3","share_with_research_as_of_date":1655564376361,"favouriteColour":"blue","device":"x"}'
    # two spellings of one field: a duplicate key
    printf '%s\n' '{"email":"dd@test.com","serialNumber":"s-4","serial_number":"s-4"}'
    # no spelling of serialNumber: missing (and its unknown key not counted)
    printf '%s\n' '{"email":"ee@test.com","serial-number":"s-5"}'
    # one-word keys have one spelling: "EMAIL" is not "email"
    printf '%s\n' '{"EMAIL":"ff@test.com","serialNumber":"s-6"}'
} >$c/c.NDJSON
# gzip, in a sub-folder of the year=/month= layout
printf '%s\n' '{"email":"di@test.com","serialNumber":"s-7","shareWithResearchAsOfDate":1655564376361}' \
    '{"email":"ed@test.com","serialNumber":"s-8"}' | gzip -9 >$c/year=2022/month=06/d.json.gz
# two gzip members one after the other, as cat a.gz b.gz makes
{
    printf '%s\n' '{"email":"fa@test.com","serialNumber":"s-9"}' | gzip
    printf '%s\n' '{"email":"ga@test.com","serialNumber":"s-10"}' 'not json' | gzip
} >$c/year=2022/month=06/e.jsonl.GZ
# cut off in the middle, and not gzip at all
seq 1 20000 | sed 's/.*/{"email":"h&@test.com","serialNumber":"s-h&"}/' | gzip >"$tmp/whole.gz"
head -c 30000 "$tmp/whole.gz" >$c/year=2022/month=07/cut.json.gz
printf '%s\n' '{"email":"ia@test.com","serialNumber":"s-11"}' >$c/year=2022/month=07/plain.ndjson.gz
# a link loop, a hidden file and folder, markers, notes, a pipe, a socket,
# a dead link
ln -s .. $c/year=2022/loop
printf 'x' >$c/.DS_Store
printf '%s\n' '{"email":"ja@test.com","serialNumber":"s-12"}' >$c/.staging/part-0.json
: >$c/_SUCCESS
printf 'notes\n' >$c/notes.txt
mkfifo $c/pipe.json
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' $c/sock.json
ln -s nowhere.json $c/dead.json
# beside landing/: not ours, left out without a word
printf '%s\n' '{"email":"ka@test.com","serialNumber":"s-13"}' >feed/customer/trusted/t.json
printf '%s\n' '{"email":"ka@test.com","serialNumber":"s-13"}' >feed/customer/curated/t.json
# at the root: near misses, another folder, a data file; a README and hidden
# things are not data by any name
printf '%s\n' '{"email":"la@test.com","serialNumber":"s-14"}' >feed/customers/landing/l.json
printf '%s\n' '{"email":"ma@test.com","serialNumber":"s-15"}' >feed/orphan.json
printf '# about this feed\n' >feed/README.md
printf 'x' >feed/.DS_Store
{
    printf '%s\n' '{"user":"ann@test.com","timestamp":1655564444103,"x":1,"y":0,"z":0,"device":"p"}'
    printf '%s\n' '{"user":"ann@test.com","timestamp":1655564444104,"x":1,"y":0,"z":0,"device":"p","appVersion":"2.3"}'
} >feed/accelerometer/landing/a.json
{
    printf '%s\n' '{"sensorReadingTime":1655564444103,"serialNumber":"s-1","distanceFromObject":218}'
    printf '%s\n' '{"sensorreadingtime":1655564444103,"serialnumber":"s-2","distancefromobject":218}'
    printf '%s\n' '{"sensor_reading_time":1655564444103,"serial_number":"s-3","distance_from_object":218}'
    printf '%s\n' '{"sensor_reading_time":1655564444104,"sensorReadingTime":1655564444104,"serialNumber":"s-3","distanceFromObject":1}'
    printf '%s\n' '{"sensor_reading_time":"soon","serialNumber":"s-3","distanceFromObject":1}'
} | gzip >feed/step_trainer/landing/s.JSON.GZ

stedi-load -d $db feed >out 2>err
is "$?" 2 "a feed with a corrupt .gz: exit status 2"
sed 's/^/# /' out err

# What is loaded: every data file but the two bad .gz files.
is "$(q $db "SELECT string_agg(path_tail || ':' || rows_loaded || '+' || rows_rejected || ',' || extra_fields, ' ' ORDER BY path_tail)
               FROM (SELECT substr(path, length('$tmp/feed/') + 1) AS path_tail, * FROM landing.source_file) s")" \
   "accelerometer/landing/a.json:2+0,3 customer/landing/a.JSON:1+0,1 customer/landing/b.Jsonl:1+0,0 customer/landing/c.NDJSON:1+3,2 customer/landing/year=2022/month=06/d.json.gz:2+0,0 customer/landing/year=2022/month=06/e.jsonl.GZ:2+1,0 step_trainer/landing/s.JSON.GZ:3+2,0" \
   "loaded: .JSON, .Jsonl, .NDJSON, .json.gz, .jsonl.GZ (two members), .JSON.GZ, in sub-folders; each with its counts"
is "$(q $db "SELECT string_agg(email, ',' ORDER BY email) FROM landing.customer")" \
   "ann@test.com,bo@test.com,cy@test.com,di@test.com,ed@test.com,fa@test.com,ga@test.com" \
   "the customers of the loaded files, and no other"
is "$(q $db "SELECT count(*) FROM landing.customer WHERE email LIKE 'h%'")" 0 "nothing of the cut-off .gz stays"

# Each spelling of a key lands the same value.
is "$(q $db "SELECT string_agg(email || ' ' || customer_name || ' ' || birth_day || ' ' || serial_number || ' ' || (extract(epoch FROM share_with_research_as_of_date) * 1000)::bigint, ', ' ORDER BY email)
               FROM landing.customer WHERE email IN ('ann@test.com', 'bo@test.com', 'cy@test.com')")" \
   "ann@test.com Ann Lee 1990-01-02 s-1 1655564376361, bo@test.com Bo Wu 1990-01-02 s-2 1655564376361, cy@test.com Cy Ng 1990-01-02 s-3 1655564376361" \
   "camelCase, lower-case and snake_case keys: the same values, the consent date included"
is "$(q $db "SELECT string_agg(serial_number || ' ' || (extract(epoch FROM sensor_reading_time) * 1000)::bigint || ' ' || distance_from_object, ', ' ORDER BY serial_number) FROM landing.step_trainer")" \
   "s-1 1655564444103 218, s-2 1655564444103 218, s-3 1655564444103 218" \
   "step trainer readings in the three spellings land alike"

# Rejected lines: a duplicate in two spellings names both; line numbers
# and byte offsets of a .gz file are those of its decompressed text.
off() { zcat -f "$1" | head -n $(($2 - 1)) | wc -c; }
is "$(q $db "SELECT string_agg(substr(f.path, length('$tmp/feed/') + 1) || ':' || r.line_number || '@' || r.byte_offset || ' ' || r.reason, E'\n' ORDER BY r.file_id, r.line_number)
               FROM landing.rejected r JOIN landing.source_file f USING (file_id)")" \
   "customer/landing/c.NDJSON:2@$(off $c/c.NDJSON 2) duplicate key \"serial_number\" (the same field as \"serialNumber\")
customer/landing/c.NDJSON:3@$(off $c/c.NDJSON 3) missing required field \"serialNumber\"
customer/landing/c.NDJSON:4@$(off $c/c.NDJSON 4) missing required field \"email\"
customer/landing/year=2022/month=06/e.jsonl.GZ:3@$(off $c/year=2022/month=06/e.jsonl.GZ 3) malformed JSON at offset 1: invalid string in json text
step_trainer/landing/s.JSON.GZ:4@$(off feed/step_trainer/landing/s.JSON.GZ 4) duplicate key \"sensorReadingTime\" (the same field as \"sensor_reading_time\")
step_trainer/landing/s.JSON.GZ:5@$(off feed/step_trainer/landing/s.JSON.GZ 5) \"sensor_reading_time\" must be an integer, got string" \
   "rejected lines with their reasons; a wrong type names the key as spelled"

# The unknown field names of each file, with how many records carried them.
is "$(q $db "SELECT string_agg(substr(f.path, length('$tmp/feed/') + 1) || ' ' || u.field_name || '=' || u.records, ', ' ORDER BY f.file_id, u.field_name)
               FROM landing.unknown_field u JOIN landing.source_file f USING (file_id)")" \
   "customer/landing/a.JSON favouriteColour=1, customer/landing/c.NDJSON device=1, customer/landing/c.NDJSON favouriteColour=1, accelerometer/landing/a.json appVersion=1, accelerometer/landing/a.json device=2" \
   "landing.unknown_field: each unknown name of the loaded records, with its record count"

# What was passed over, named with the reason, after the files' lines.
is "$(grep 'passed over' out)" \
"-              feed/Step-Trainer/  passed over: not a kind folder; did you mean step_trainer/?
-              feed/StepTrainer/  passed over: not a kind folder; did you mean step_trainer/?
-              feed/accelerometers/  passed over: not a kind folder; did you mean accelerometer/?
customer       feed/customer/landing/.DS_Store  passed over: a hidden file
customer       feed/customer/landing/.staging/  passed over: a hidden folder
customer       feed/customer/landing/_SUCCESS  passed over: its name does not end in .json, .jsonl or .ndjson (or one of those and .gz)
customer       feed/customer/landing/dead.json  passed over: a symbolic link to nothing
customer       feed/customer/landing/notes.txt  passed over: its name does not end in .json, .jsonl or .ndjson (or one of those and .gz)
customer       feed/customer/landing/pipe.json  passed over: not a regular file (a named pipe)
customer       feed/customer/landing/sock.json  passed over: not a regular file (a socket)
customer       feed/customer/landing/year=2022/loop/  passed over: a folder read already (a link loop, or a second link to it)
-              feed/customers/  passed over: not a kind folder; did you mean customer/?
-              feed/landing_customer/  passed over: not a kind folder; did you mean customer/?
-              feed/orphan.json  passed over: a data file outside KIND/landing/
-              feed/step_trainer_landing/  passed over: not a kind folder; did you mean step_trainer/?
-              feed/stuff/  passed over: not a kind folder (customer/, accelerometer/ or step_trainer/)" \
   "human output: every file and folder passed over, by path, with the reason and a hint for a near miss"
ok $(! grep -Eq 'trusted|curated|README|\.git|feed/\.DS_Store' out err; echo $?) \
   "trusted/ and curated/ beside landing/, a README and hidden things at the root: not named"
is "$(grep -c 'failed, rolled back' out)" 2 "two files failed"
is "$(grep 'could not load' err)" \
"stedi-load: could not load \"feed/customer/landing/year=2022/month=07/cut.json.gz\" (rolled back): the gzip data ends before it is complete (the file is cut off or corrupt)
stedi-load: could not load \"feed/customer/landing/year=2022/month=07/plain.ndjson.gz\" (rolled back): not gzip data, although the name ends in .gz" \
   "a cut-off .gz and a .gz that is not gzip: each fails alone, named, with the reason"
is "$(grep 'passed over;' err)" "stedi-load: 16 files or folders passed over; they are named above" "stderr says how many were passed over"
is "$(grep -A1 'a.JSON ' out | tail -1)" "                 unknown fields: favouriteColour (1 record)" \
   "human output: a file's unknown field names with their record counts"
is "$(grep -A1 'accelerometer/landing/a.json ' out | tail -1)" "                 unknown fields: device (2 records), appVersion (1 record)" \
   "the most frequent first"
is "$(q $db "SELECT string_agg(substr(path, length('$tmp/feed/') + 1) || ' ' || message, E'\n' ORDER BY path) FROM stedi.ingest_log WHERE outcome = 'failed'")" \
"customer/landing/year=2022/month=07/cut.json.gz the gzip data ends before it is complete (the file is cut off or corrupt)
customer/landing/year=2022/month=07/plain.ndjson.gz not gzip data, although the name ends in .gz" \
   "the failed attempts are logged with their reasons"

# --json says the same to a program.
stedi-load -d $db --json feed >out.json 2>err
is "$?" 2 "--json: exit status 2"
is "$(python3 - out.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["passed_over"]:
    print(p["kind"], p["path"], p["reason"], p["did_you_mean"], sep="|")
for f in d["files"]:
    print(f["path"], f["outcome"], json.dumps(f["unknown_fields"]), f["message"], sep="|")
t = d["totals"]
print(t["passed_over"], t["loaded_files"], t["skipped_files"], t["failed_files"], d["exit_status"])
EOF
)" "None|feed/Step-Trainer/|not a kind folder|step_trainer/
None|feed/StepTrainer/|not a kind folder|step_trainer/
None|feed/accelerometers/|not a kind folder|accelerometer/
customer|feed/customer/landing/.DS_Store|a hidden file|None
customer|feed/customer/landing/.staging/|a hidden folder|None
customer|feed/customer/landing/_SUCCESS|its name does not end in .json, .jsonl or .ndjson (or one of those and .gz)|None
customer|feed/customer/landing/dead.json|a symbolic link to nothing|None
customer|feed/customer/landing/notes.txt|its name does not end in .json, .jsonl or .ndjson (or one of those and .gz)|None
customer|feed/customer/landing/pipe.json|not a regular file (a named pipe)|None
customer|feed/customer/landing/sock.json|not a regular file (a socket)|None
customer|feed/customer/landing/year=2022/loop/|a folder read already (a link loop, or a second link to it)|None
None|feed/customers/|not a kind folder|customer/
None|feed/landing_customer/|not a kind folder|customer/
None|feed/orphan.json|a data file outside KIND/landing/|None
None|feed/step_trainer_landing/|not a kind folder|step_trainer/
None|feed/stuff/|not a kind folder|None
feed/customer/landing/a.JSON|skipped|null|None
feed/customer/landing/b.Jsonl|skipped|null|None
feed/customer/landing/c.NDJSON|skipped|null|None
feed/customer/landing/year=2022/month=06/d.json.gz|skipped|null|None
feed/customer/landing/year=2022/month=06/e.jsonl.GZ|skipped|null|None
feed/customer/landing/year=2022/month=07/cut.json.gz|failed|null|the gzip data ends before it is complete (the file is cut off or corrupt)
feed/customer/landing/year=2022/month=07/plain.ndjson.gz|failed|null|not gzip data, although the name ends in .gz
feed/accelerometer/landing/a.json|skipped|null|None
feed/step_trainer/landing/s.JSON.GZ|skipped|null|None
16 0 7 2 2" "--json: every passed-over path with its reason and hint, each file's outcome and message, the totals"

# Idempotent: a .gz loaded before is skipped; its hash and size are those
# of the file as stored.
is "$(q $db "SELECT encode(sha256, 'hex') || ' ' || size_bytes FROM landing.source_file WHERE path LIKE '%/d.json.gz'")" \
   "$(sha256sum $c/year=2022/month=06/d.json.gz | cut -d' ' -f1) $(stat -c %s $c/year=2022/month=06/d.json.gz)" \
   "sha256 and size_bytes of a .gz file: those of the compressed bytes"
ok $(grep -q 'year=2022/month=06/d.json.gz  skipped: already loaded' <(stedi-load -d $db feed 2>/dev/null); echo $?) \
   "the same .gz again: skipped as already loaded"

# Passing over alone makes exit status 1; nothing passed over, 0.
rm $c/year=2022/month=07/cut.json.gz $c/year=2022/month=07/plain.ndjson.gz
stedi-load -q -d $db feed >out 2>err
is "$?" 1 "files and folders passed over, nothing failed: exit status 1"
is "$(cat out err)" "" "--quiet: passed over without a word (the exit status says it)"
stedi-load -d $db feed/customer/landing/year=2022/month=06 >out 2>err
is "$?" 0 "a sub-folder of a landing folder, all loaded before: exit status 0"
is "$(grep -c 'skipped: already loaded' out)" 2 "its two files are found, from their folders' names"

# A file named on its own: any name, .gz in any case means gzip.
printf '%s\n' '{"email":"na@test.com","serialNumber":"s-16"}' | gzip >one.GZ
printf '%s\n' '{"email":"oa@test.com","serialNumber":"s-17"}' >one.txt
stedi-load -q -d $db --kind customer one.GZ one.txt
is "$?" 0 "single files of any name load"
is "$(q $db "SELECT string_agg(email, ',' ORDER BY email) FROM landing.customer WHERE email IN ('na@test.com', 'oa@test.com')")" \
   "na@test.com,oa@test.com" "one.GZ read through gzip, one.txt as it is"
stedi-load -q -d $db $c/year=2022/month=06/d.json.gz
is "$?" 0 "a file in a sub-folder of KIND/landing: its kind is known without --kind"

# Folder names that are no kind's: refused when the PATH is one, with a hint.
stedi-load -d $db feed/customers/landing >out 2>err
is "$?" 2 "a near-miss folder named as PATH: exit 2"
is "$(cat err)" "stedi-load: \"feed/customers/landing\" is not a landing folder: did you mean customer/? (expected customer/, accelerometer/ or step_trainer/ with landing/ inside, or use --kind)" \
   "and a hint"

# More gzip that must fail its file: a wrong checksum, bytes after the end.
mkdir -p bad/step_trainer/landing
good='{"sensorReadingTime":1655564444200,"serialNumber":"s-9","distanceFromObject":9}'
for i in $(seq 1 2000); do printf '%s\n' "$good"; done | gzip >whole.gz
# the CRC-32 of the text, in the last 8 bytes of a member
python3 -c "b = bytearray(open('whole.gz', 'rb').read()); b[-8] ^= 0xff; open('bad/step_trainer/landing/flipped.json.gz', 'wb').write(b)"
{ cat whole.gz; printf 'trailing text\n'; } >bad/step_trainer/landing/trailing.json.gz
before=$(q $db "SELECT count(*) FROM landing.step_trainer")
stedi-load -d $db bad >out 2>err
is "$?" 2 "corrupt .gz files: exit 2"
is "$(cat err)" \
"stedi-load: could not load \"bad/step_trainer/landing/flipped.json.gz\" (rolled back): corrupt gzip data: incorrect data check
stedi-load: could not load \"bad/step_trainer/landing/trailing.json.gz\" (rolled back): data after the end of the gzip data is not gzip" \
   "a wrong checksum and trailing bytes: each file fails, named, with the reason"
is "$(q $db "SELECT count(*) FROM landing.step_trainer") $(q $db "SELECT count(*) FROM landing.source_file WHERE path LIKE '%/bad/%'")" \
   "$before 0" "whole file or nothing: no row of them stays"

# A gzip bomb: a 50 MB line and 200 MB of blank lines, compressed to little,
# load in bounded memory: the long line rejected, the good line loaded.
mkdir -p bomb/step_trainer/landing
python3 - <<'EOF'
import gzip
with gzip.open("bomb/step_trainer/landing/bomb.json.gz", "wb", 9) as f:
    f.write(b'{"sensorReadingTime":1655564444300,"serialNumber":"s-b","distanceFromObject":1,"pad":"')
    for i in range(50):
        f.write(b"0" * (1024 * 1024))
    f.write(b'"}\n')
    for i in range(200):
        f.write(b"\n" * (1024 * 1024))
    f.write(b'{"sensorReadingTime":1655564444301,"serialNumber":"s-b","distanceFromObject":2}\n')
EOF
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o rss stedi-load -q -d $db bomb
    is "$?" 1 "gzip bomb: loads, with a line rejected"
    rss=$(tail -n 1 rss)
    echo "# peak RSS $rss KiB"
    ok $([ "$rss" -lt 40000 ]; echo $?) "gzip bomb: peak memory stays under 40 MB ($rss KiB)"
else
    stedi-load -q -d $db bomb
    is "$?" 1 "gzip bomb: loads, with a line rejected"
    skip "/usr/bin/time not installed"
fi
is "$(q $db "SELECT r.line_number || ' ' || r.byte_offset || ' ' || r.reason || ' ' || s.rows_loaded || ' ' || s.lines_read
               FROM landing.rejected r JOIN landing.source_file s USING (file_id) WHERE s.path LIKE '%/bomb.json.gz'")" \
   "1 0 line longer than 1048576 bytes 1 2" "gzip bomb: the 50 MB line rejected as too long, the blank lines skipped, the last line loaded"
is "$(q $db "SELECT line_number FROM landing.step_trainer WHERE serial_number = 's-b'")" 209715202 \
   "line numbers count the decompressed lines"

# Unknown names of any shape are kept: escaped as JSON on the way, a NUL
# shown as \u0000, a long name cut at a character boundary with "...", at
# most 1000 names a file (the others still counted in extra_fields).
mkdir -p odd/accelerometer/landing
long=$(python3 -c 'print("é" * 200)')
printf '{"user":"ann@test.com","timestamp":1655564444400,"x":1,"y":0,"z":0,"q\\"uote":1,"tab\\there":1,"nul\\u0000x":1,"back\\\\slash":1,"%s":1}\n' "$long" \
    >odd/accelerometer/landing/odd.json
python3 -c '
import json
r = {"user": "ann@test.com", "timestamp": 1655564444401, "x": 1, "y": 0, "z": 0}
for i in range(1005):
    r["f%04d" % i] = i
print(json.dumps(r))
# a field of every later record, met after the first 1000 names
for t in range(3):
    print(json.dumps({"user": "ann@test.com", "timestamp": 1655564444402 + t, "x": 1, "y": 0, "z": 0, "device": "p"}))' >odd/accelerometer/landing/wide.json
stedi-load -d $db odd >out 2>err
is "$?" 0 "odd and many unknown names: exit 0"
is "$(q $db "SELECT string_agg(format('%s %s', octet_length(field_name), to_json(field_name)), ', ' ORDER BY field_name)
               FROM landing.unknown_field u JOIN landing.source_file f USING (file_id) WHERE f.path LIKE '%/odd.json'" | sed 's/\(é\)\1*/é.../')" \
   "10 \"back\\\\slash\", 10 \"nul\\\\u0000x\", 6 \"q\\\"uote\", 8 \"tab\\there\", 255 \"é......\"" \
   "names with quotes, backslashes, control characters and NUL kept; a 400-byte name cut to 252 bytes and \"...\""
is "$(q $db "SELECT count(*) || ' ' || min(field_name) || ' ' || max(field_name) || ' ' || (SELECT extra_fields FROM landing.source_file WHERE path LIKE '%/wide.json')
               FROM landing.unknown_field u JOIN landing.source_file f USING (file_id) WHERE f.path LIKE '%/wide.json'")" \
   "1000 f0000 f0999 1008" "at most 1000 names a file, the first met (device, of 3 later records, is not kept); extra_fields counts them all"
is "$(grep -A1 'wide.json ' out | tail -1 | sed 's/f0000.*f0009 (1 record)/.../')" \
   "                 unknown fields: ..., and 990 more (see landing.unknown_field); not named: 8 keys of names first met after the first 1000" \
   "the summary shows ten names, says how many more, and how many keys of names met too late are not named"

# --json: each loaded file's unknown names as an object.
mkdir -p drift/accelerometer/landing
{
    printf '%s\n' '{"user":"bo@test.com","timestamp":1655564444500,"x":1,"y":0,"z":0,"device":"p"}'
    printf '%s\n' '{"user":"bo@test.com","timestamp":1655564444501,"x":1,"y":0,"z":0,"device":"p","appVersion":"2.3"}'
} >drift/accelerometer/landing/drift.jsonl
stedi-load -d $db --json drift >out.json 2>err
is "$?" 0 "--json, unknown fields in a loaded file: exit 0"
is "$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); f = d["files"][0]; print(f["outcome"], json.dumps(f["unknown_fields"]), f["extra_fields"], d["totals"]["passed_over"])' out.json)" \
   'loaded {"device": 2, "appVersion": 1} 3 0' "--json: the unknown names of a loaded file, as an object"

# The README's query.
is "$(q $db "SELECT f.path, u.field_name, u.records
               FROM landing.unknown_field u JOIN landing.source_file f USING (file_id)
              WHERE f.path LIKE '%/drift.jsonl'
              ORDER BY u.records DESC, u.field_name" | sed "s|$tmp/||")" \
   "drift/accelerometer/landing/drift.jsonl|device|2
drift/accelerometer/landing/drift.jsonl|appVersion|1" "the unknown names of a file, by the README's query"

# --help says the exit statuses.
is "$(stedi-load --help | sed -n '/^Exit status/,/^$/p')" \
"Exit status: 0 if every file was loaded (or skipped as loaded before),
1 if some lines were rejected (see landing.rejected) or some files or
folders were passed over, 2 on a usage, connection, file or server error." "--help: the exit statuses"

# ---- from a hostile review: every file of a feed accounted for ----

# File names that are not UTF-8, or hold a newline: the path recorded and
# shown is UTF-8 text, each invalid byte and control character escaped.
mkdir -p names/customer/landing
printf '%s\n' '{"email":"pa@test.com","serialNumber":"s-20"}' >"names/customer/landing/$(printf 'bad\xff\xfe').json"
printf '%s\n' '{"email":"pb@test.com","serialNumber":"s-21"}' >"names/customer/landing/$(printf 'two\nli\tn\res').json"
printf 'x\n' >"names/customer/landing/$(printf 'caf\xc3\xa9\x01').txt"
stedi-load -d $db names >out 2>err
is "$?" 1 "names not UTF-8 or with a newline: they load (exit 1: one passed over)"
is "$(q $db "SELECT string_agg(substr(path, length('$tmp/names/') + 1), ' | ' ORDER BY file_id) FROM landing.source_file WHERE path LIKE '%/names/%'")" \
   'customer/landing/bad\xff\xfe.json | customer/landing/two\nli\tn\res.json' \
   "landing.source_file.path: valid UTF-8 kept, an invalid byte as \\xHH, a newline, tab and CR as \\n, \\t, \\r"
is "$(q $db "SELECT string_agg(outcome || ' ' || substr(path, length('$tmp/names/') + 1), ' | ' ORDER BY path) FROM stedi.ingest_log WHERE path LIKE '%/names/%'")" \
   'loaded customer/landing/bad\xff\xfe.json | loaded customer/landing/two\nli\tn\res.json' "each logged in stedi.ingest_log"
is "$(grep -c 'names/' out) $(grep -cF 'customer       names/customer/landing/bad\xff\xfe.json  1 lines  1 loaded' out) $(grep -cF 'customer       names/customer/landing/two\nli\tn\res.json  1 lines  1 loaded' out) $(grep -cF 'customer       names/customer/landing/café\x01.txt  passed over' out)" \
   "3 1 1 1" "human output: one line a file, the names escaped alike"
ok $(iconv -f UTF-8 -t UTF-8 out >/dev/null 2>&1; echo $?) "human output: valid UTF-8"
stedi-load -d $db --json names >out.json 2>err
is "$(python3 -c '
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
print(" | ".join([f["path"] + " " + f["outcome"] for f in d["files"]] + [p["path"] for p in d["passed_over"]]))' out.json)" \
   'names/customer/landing/bad\xff\xfe.json skipped | names/customer/landing/two\nli\tn\res.json skipped | names/customer/landing/café\x01.txt' \
   "--json: valid JSON (and UTF-8), the paths escaped alike"
printf '%s\n' '{"email":"pc@test.com","serialNumber":"s-22"}' | gzip >"$(printf 'x\xff').json.gz"
stedi-load -q -d $db --kind customer "$(printf 'x\xff').json.gz"
is "$?:$(q $db "SELECT substr(path, length('$tmp/') + 1) FROM landing.source_file WHERE path LIKE '%/x%.json.gz'")" '0:x\xff.json.gz' \
   "a file named on its own: its path escaped too"

# Two kinds' folders that are one folder: refused before anything loads.
mkdir -p same/accelerometer/landing same/customer
printf '%s\n' '{"user":"ann@test.com","timestamp":1655564444600,"x":1,"y":0,"z":0}' >same/accelerometer/landing/a.json
ln -s ../accelerometer/landing same/customer/landing
before=$(q $db "SELECT count(*) FROM stedi.ingest_log")
stedi-load -d $db same >out 2>err
is "$?" 2 "customer/landing a link to accelerometer/landing: exit 2"
is "$(cat err)" 'stedi-load: "same/customer/landing/a.json" (customer data) and "same/accelerometer/landing/a.json" (accelerometer data) are one file: two kinds'"'"' folders lead to one folder, and which kind it holds is ambiguous; nothing was loaded' \
   "the message names both paths and both kinds"
is "$(q $db "SELECT count(*) FROM stedi.ingest_log")" "$before" "nothing loaded, nothing logged"

# What a KIND folder holds besides landing/ is named, but trusted/ and
# curated/; Landing/ gets a hint.
mkdir -p kinds/customer/Landing kinds/customer/trusted kinds/customer/curated kinds/accelerometer/landing
printf '%s\n' '{"email":"qa@test.com","serialNumber":"s-23"}' >kinds/customer/Landing/a.json
printf '%s\n' '{"email":"qb@test.com","serialNumber":"s-24"}' >kinds/customer/b.json
printf 'x\n' >kinds/customer/notes.txt
printf '%s\n' '{"email":"qc@test.com","serialNumber":"s-25"}' >kinds/customer/trusted/t.json
printf '%s\n' '{"user":"ann@test.com","timestamp":1655564444601,"x":1,"y":0,"z":0}' >kinds/accelerometer/landing/a.json
stedi-load -d $db kinds >out 2>err
is "$?" 1 "a KIND folder without landing/ but Landing/: exit 1"
is "$(grep 'passed over' out)" \
"customer       kinds/customer/Landing/  passed over: not a landing folder (only KIND/landing/ is read); did you mean landing/?
customer       kinds/customer/b.json  passed over: a data file outside KIND/landing/
customer       kinds/customer/notes.txt  passed over: a file outside KIND/landing/" \
   "Landing/ named with a hint, a file in the KIND folder named; trusted/ and curated/ not"
stedi-load -d $db kinds/customer >out 2>err
is "$?:$(grep -c 'passed over' out):$(cat out err | grep -c 'did you mean customer/')" "1:3:0" \
   "the KIND folder itself as PATH: the same three named, no circular hint"
mkdir -p only/customer/Landing
cp kinds/customer/Landing/a.json only/customer/Landing/
stedi-load -d $db only >out 2>err
is "$?:$(grep 'passed over' out)" "1:customer       only/customer/Landing/  passed over: not a landing folder (only KIND/landing/ is read); did you mean landing/?" \
   "a root whose only kind folder has Landing/: named, exit 1"
stedi-load -d $db kinds/customer/Landing >out 2>err
is "$?:$(cat err)" '2:stedi-load: "kinds/customer/Landing" is not a landing folder: did you mean landing/? (landing folders are named in lower case)' \
   "Landing/ named as PATH: exit 2, with a hint"

# --kind K ROOT: the other kinds' landing folders named.
mkdir -p kind4/customer/landing kind4/accelerometer/landing kind4/step_trainer/landing
printf '%s\n' '{"email":"ra@test.com","serialNumber":"s-26"}' >kind4/customer/landing/c.json
printf '%s\n' '{"user":"ra@test.com","timestamp":1655564444602,"x":1,"y":0,"z":0}' >kind4/accelerometer/landing/a.json
printf '%s\n' '{"sensorReadingTime":1655564444602,"serialNumber":"s-26","distanceFromObject":1}' >kind4/step_trainer/landing/s.json
stedi-load -d $db --kind customer kind4 >out 2>err
is "$?" 1 "--kind customer ROOT: exit 1, the other kinds passed over"
is "$(grep 'passed over' out)" \
"accelerometer  kind4/accelerometer/landing/  passed over: not customer data (--kind customer)
step_trainer   kind4/step_trainer/landing/  passed over: not customer data (--kind customer)" \
   "each other kind's landing folder named, with the reason"
is "$(grep -c 'kind4/customer/landing/c.json  1 lines  1 loaded' out)" 1 "the customer file loads"

# Unreadable files and folders found inside: passed over, the rest loads.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && command -v runuser >/dev/null; then
    chmod 711 "$tmp"
    mkdir -p pg/feed/customer/landing/sub pg/feed/accelerometer/landing
    printf '%s\n' '{"email":"sa@test.com","serialNumber":"s-27"}' >pg/feed/customer/landing/ok.json
    printf '%s\n' '{"email":"sb@test.com","serialNumber":"s-28"}' >pg/feed/customer/landing/locked.json
    printf '%s\n' '{"email":"sc@test.com","serialNumber":"s-29"}' >pg/feed/customer/landing/sub/x.json
    chown -R postgres pg
    chmod 000 pg/feed/customer/landing/locked.json pg/feed/customer/landing/sub pg/feed/accelerometer/landing
    as_postgres() { (cd pg && runuser -u postgres -- env "PATH=$PATH" ${PGHOST:+"PGHOST=$PGHOST"} ${PGPORT:+"PGPORT=$PGPORT"} "PGUSER=$(q $db 'SELECT current_user')" stedi-load -d $db "$@"); }
    as_postgres feed >out 2>err
    is "$?" 1 "unreadable file and folders found inside: exit 1"
    is "$(grep 'passed over' out)" \
"accelerometer  feed/accelerometer/landing/  passed over: could not read it: Permission denied
customer       feed/customer/landing/locked.json  passed over: could not read it: Permission denied
customer       feed/customer/landing/sub/  passed over: could not read it: Permission denied" \
       "each named, with the reason"
    is "$(grep -c 'feed/customer/landing/ok.json  1 lines  1 loaded' out)" 1 "the rest loads"
    as_postgres --json feed >out.json 2>err
    is "$?:$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["exit_status"], len(d["passed_over"]), d["files"][0]["outcome"])' out.json)" \
       "1:1 3 skipped" "--json: one document, the three named"
    as_postgres feed/accelerometer/landing >out 2>err
    is "$?:$(cat err)" '2:stedi-load: could not open "feed/accelerometer/landing": Permission denied' \
       "a PATH that cannot be read itself: exit 2"
else
    skip "not root, or no postgres user: unreadable files not tested"
    skip "not root, or no postgres user"
    skip "not root, or no postgres user"
    skip "not root, or no postgres user"
    skip "not root, or no postgres user"
fi

# --json prints one JSON document at every exit, exit 2 included.
json_exit() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["exit_status"], d["error"])' "$1"; }
stedi-load --json --bogus feed >out.json 2>err
is "$?:$(json_exit out.json)" '2:2 invalid option "--bogus"' "--json, a usage error: a JSON document with the error"
stedi-load --json >out.json 2>err
is "$?:$(json_exit out.json)" '2:2 no PATH given: name the files or folders to load' "--json, no PATH: a JSON document"
stedi-load -d $db --json nowhere >out.json 2>err
is "$?:$(json_exit out.json)" '2:2 could not open "nowhere": No such file or directory' "--json, a missing PATH: a JSON document"
stedi-load -h "$tmp" -p 1 -d $db --json feed >out.json 2>err
is "$?:$(json_exit out.json | cut -d' ' -f1-4)" "2:2 connection to server" "--json, connection failure: a JSON document"
stedi-load -d $db --json same >out.json 2>err
is "$?:$(json_exit out.json | cut -c1-60)" '2:2 "same/customer/landing/a.json" (customer data) and "same/a' "--json, an ambiguous layout: a JSON document"

# A .gz file that is empty is not gzip: it fails, not skipped as loaded.
mkdir -p empty/customer/landing
: >empty/customer/landing/a.json
: >empty/customer/landing/b.json.gz
stedi-load -d $db empty >out 2>err
is "$?" 2 "an empty .gz: exit 2"
is "$(grep -c 'b.json.gz  failed, rolled back' out):$(cat err)" \
   '1:stedi-load: could not load "empty/customer/landing/b.json.gz" (rolled back): not gzip data, although the name ends in .gz' \
   "the empty .gz fails as not gzip, though an empty file was loaded just before it"
is "$(q $db "SELECT outcome || ' ' || message FROM stedi.ingest_log WHERE path LIKE '%/empty/customer/landing/b.json.gz'")" \
   "failed not gzip data, although the name ends in .gz" "logged as failed, with the reason"

# Only space, tab and CR are JSON whitespace: a line of form feeds or
# vertical tabs is rejected, not skipped.
mkdir -p ws/step_trainer/landing
printf '\f\n\v\n \t\r\n%s\n' '{"sensorReadingTime":1655564444700,"serialNumber":"s-30","distanceFromObject":1}' >ws/step_trainer/landing/ws.json
stedi-load -d $db ws >out 2>err
is "$?" 1 "lines of \\f and \\v: exit 1"
is "$(q $db "SELECT s.lines_read || ' ' || s.rows_loaded || ' ' || string_agg(r.line_number || ':' || r.reason, ', ' ORDER BY r.line_number)
               FROM landing.source_file s JOIN landing.rejected r USING (file_id) WHERE s.path LIKE '%/ws.json' GROUP BY s.lines_read, s.rows_loaded")" \
   "3 1 1:malformed JSON at offset 0: invalid char in json text, 2:malformed JSON at offset 0: invalid char in json text" \
   "each quarantined with a reason; the line of space, tab and CR skipped"

# Content identity is the bytes stored: the same records as .json, as
# .json.gz and gzipped again with another header are three files.
mkdir -p bytes/step_trainer/landing
printf '%s\n' '{"sensorReadingTime":1655564444800,"serialNumber":"s-31","distanceFromObject":1}' >bytes/step_trainer/landing/r.json
gzip -c bytes/step_trainer/landing/r.json >bytes/step_trainer/landing/r.json.gz
gzip -nc bytes/step_trainer/landing/r.json >bytes/step_trainer/landing/r2.json.gz
stedi-load -d $db bytes >out 2>err
is "$?:$(q $db "SELECT count(*) FROM landing.step_trainer WHERE serial_number = 's-31'")" "0:3" \
   "the same records as .json and twice as .json.gz: three files, loaded three times"

dropdb $db
