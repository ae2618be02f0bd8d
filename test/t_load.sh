#!/usr/bin/env bash
# stedi-load: what it loads, what it rejects and why, its exit statuses, and
# that a file is loaded whole or not at all.
source "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=stedi_load_test
fresh_db $db

# A landing folder with good lines and one bad line of each kind.
mkdir -p "$tmp/in/customer/landing" "$tmp/in/accelerometer/landing" "$tmp/in/step_trainer/landing"
{
    printf '\xef\xbb\xbf'       # a UTF-8 byte order mark
    printf '%s\r\n' '{"customerName":"Ann Lee","email":"Ann.Lee@test.com","phone":"8015551212","birthDay":"1985-02-28","serialNumber":"s-1","registrationDate":1655564376361,"lastUpdateDate":1655564376361,"shareWithResearchAsOfDate":1655564376361}'
    printf '\n \t \n'          # blank lines (JSON whitespace only): skipped, not counted
    printf '%s\n' '{"customerName":"Bo Wu","email":"Bo.Wu@test.com","birthDay":"993-01-01","serialNumber":"s-2","shareWithResearchAsOfDate":null,"favouriteColour":"green"}'
    printf '%s\n' '{"customerName":"No Serial","email":"x@test.com"}'
    printf '%s\n' '{"email":"y@test.com","serialNumber":"s-3","birthDay":"1985-02-30"}'
} >"$tmp/in/customer/landing/customer-1.json"
{
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444103,"x":-1.5,"y":0,"z":1e-3}'
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444103,"x":"1.0","y":0,"z":0}'
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444103.5,"x":1,"y":0,"z":0}'
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444103,"x":1,"y":0,"z":1e999}'
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":99999999999999999,"x":1,"y":0,"z":0}'
    printf '%s\n' '[1,2,3]'
    printf '%s\n' '{"user":"Ann.Lee@test.com",'
    printf '{"user":"Ann\x00Lee@test.com","timestamp":1,"x":1,"y":0,"z":0}\n'
    printf '{"user":"Ann\xffLee@test.com","timestamp":1,"x":1,"y":0,"z":0}\n'
    # an extra field may hold anything, nested objects and arrays included
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444110,"x":1,"y":0,"z":0,"device":{"model":"x1","axes":["x","y","z"]}}'
    printf '%s\n' '{"user":"Ann.Lee@test.com","user":"Bo.Wu@test.com","timestamp":1655564444111,"x":1,"y":0,"z":0}'
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444112,"x":1,"y":0,"z":0,"tags":{"a":1,"a":2}}'
    printf '{"user":"Ann.Lee@test.com","timestamp":1655564444113,"x":1,"y":0,"z":0,"deep":%s%s}\n' \
        "$(printf '[%.0s' {1..33})" "$(printf ']%.0s' {1..33})"
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444114,"x":1,"y":0,"z":0} // a comment'
    printf '%s\n' "{'user':'Ann.Lee@test.com','timestamp':1655564444115,'x':1,'y':0,'z':0}"
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444116,"x":1,"y":0,"z":0}{"user":"Bo.Wu@test.com"}'
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":1655564444117,"x":NaN,"y":0,"z":0}'
    printf '%s\n' '{"user":"Ann.Lee@test.com","timestamp":16'
    # 31 arrays in the record's object: 32 levels, the most there may be
    printf '{"user":"Ann.Lee@test.com","timestamp":1655564444119,"x":1,"y":0,"z":0,"deep":%s%s}\n' \
        "$(printf '[%.0s' {1..31})" "$(printf ']%.0s' {1..31})"
    printf '%s' '{"user":"Ann.Lee@test.com","timestamp":1655564444104,"x":1'
} >"$tmp/in/accelerometer/landing/accelerometer-1.json"
{
    printf '%s\n' '{"sensorReadingTime":1655564444103,"serialNumber":"s-1","distanceFromObject":218}'
    printf '%s\n' '{"sensorReadingTime":1655564444103,"serialNumber":"s-1","distanceFromObject":3000000000}'
    printf '{"sensorReadingTime":1655564444105,"serialNumber":"s-1","distanceFromObject":219,"pad":"%s"}\n' \
        "$(head -c 1100000 /dev/zero | tr '\0' a)"
    printf '%s' '{"sensorReadingTime":1655564444106,"serialNumber":"s-1","distanceFromObject":220}'
} >"$tmp/in/step_trainer/landing/step_trainer-1.json"

stedi-load -d $db "$tmp/in" >"$tmp/out" 2>"$tmp/err"
is "$?" 1 "exit status 1 when some lines were rejected"
sed 's/^/# /' "$tmp/out" "$tmp/err"
ok $(grep -q '^total: 3 files loaded, 0 skipped, 28 lines, 7 loaded, 21 rejected, 3 unknown fields' "$tmp/out"; echo $?) "summary counts lines, loaded, rejected and unknown fields"

is "$(q $db "SELECT count(*) FROM landing.customer")" 2 "BOM, CRLF, 3-digit year, null share date, extra field: 2 customers loaded"
is "$(q $db "SELECT count(*) FROM landing.accelerometer")" 3 "3 accelerometer readings loaded, 2 with nested extra fields"
is "$(q $db "SELECT count(*) FROM landing.step_trainer")" 2 "2 step trainer readings loaded, the last one without a newline"
is "$(q $db "SELECT string_agg(kind || ':' || lines_read || '=' || rows_loaded || '+' || rows_rejected || ',' || extra_fields, ' ' ORDER BY file_id) FROM landing.source_file")" \
    "customer:4=2+2,1 accelerometer:20=3+17,2 step_trainer:4=2+2,0" "source_file: lines read = loaded + rejected per file, extra fields counted"

# Values arrive exactly: epoch milliseconds, doubles, dates.
is "$(q $db "SELECT (extract(epoch FROM reading_time) * 1000)::bigint || ' ' || x || ' ' || z FROM landing.accelerometer WHERE line_number = 1")" \
    "1655564444103 -1.5 0.001" "epoch ms and numbers stored exactly"
is "$(q $db "SELECT string_agg(email || ' ' || birth_day || ' ' || coalesce(share_with_research_as_of_date::text, '-'), ', ' ORDER BY line_number) FROM landing.customer" | sed 's/+00//')" \
    "Ann.Lee@test.com 1985-02-28 2022-06-18 14:59:36.361, Bo.Wu@test.com 0993-01-01 -" "customer fields typed, absent and null share dates are null"
is "$(q $db "SELECT string_agg(line_number::text, ',' ORDER BY line_number) FROM landing.customer")" "1,4" \
    "line numbers count physical lines, blank ones included"

# Each rejected line, with its reason.
q $db "SELECT kind, line_number, byte_offset, reason FROM landing.rejected ORDER BY file_id, line_number" >"$tmp/rejected"
sed 's/^/# /' "$tmp/rejected"
expect_reject()
{
    local kind=$1 line=$2 pattern=$3
    ok $(grep -qE "^$kind\|$line\|[0-9]+\|$pattern" "$tmp/rejected"; echo $?) "$kind line $line rejected: $pattern"
}
expect_reject customer 5 'missing required field "serialNumber"'
expect_reject customer 6 'birthDay is not a date'
expect_reject accelerometer 2 '"x" must be a number, got string'
expect_reject accelerometer 3 '"timestamp" must be an integer'
expect_reject accelerometer 4 '"z" is not a finite number'
expect_reject accelerometer 5 '"timestamp" is out of range for timestamptz'
expect_reject accelerometer 6 'not a JSON object'
expect_reject accelerometer 7 'line cut off: the JSON ends'
expect_reject accelerometer 8 'line contains a NUL byte'
expect_reject accelerometer 9 'line is not valid UTF-8'
expect_reject accelerometer 11 'duplicate key "user"'
expect_reject accelerometer 12 'duplicate key "a"'
expect_reject accelerometer 13 'nesting deeper than 32 levels'
expect_reject accelerometer 14 'malformed JSON at offset 72: .*comment'
expect_reject accelerometer 15 'malformed JSON at offset 1:'
expect_reject accelerometer 16 'malformed JSON at offset 71: text after the JSON value'
expect_reject accelerometer 17 'malformed JSON at offset 57:'
expect_reject accelerometer 18 'line cut off: the JSON ends'
expect_reject accelerometer 20 'line cut off \(no newline at end of file\)'
expect_reject step_trainer 2 '"distanceFromObject" is out of range for integer'
expect_reject step_trainer 3 'line longer than 1048576 bytes'
is "$(wc -l <"$tmp/rejected")" 21 "21 lines rejected, no more"
is "$(q $db "SELECT max(octet_length(raw_line)) <= 8192 FROM landing.rejected")" t "raw text kept, capped at 8192 bytes"
is "$(q $db "SELECT raw_line FROM landing.rejected WHERE kind = 'accelerometer' AND line_number = 2")" \
    '{"user":"Ann.Lee@test.com","timestamp":1655564444103,"x":"1.0","y":0,"z":0}' "raw text of a rejected line kept as it was"
# Each quarantined line keeps the email and serial number it carries, as
# far as it parsed, for erasure to find it by: none for a line that was not
# parsed (a NUL byte, not UTF-8, too long) or is not an object, the first
# one of a duplicate key, what was met before a syntax error.
is "$(q $db "SELECT string_agg(kind || ':' || line_number || '=' || coalesce(email, '-') || '/' || coalesce(serial_number, '-'), ' ' ORDER BY file_id, line_number) FROM landing.rejected")" \
   "customer:5=x@test.com/- customer:6=y@test.com/s-3 accelerometer:2=Ann.Lee@test.com/- accelerometer:3=Ann.Lee@test.com/- accelerometer:4=Ann.Lee@test.com/- accelerometer:5=Ann.Lee@test.com/- accelerometer:6=-/- accelerometer:7=Ann.Lee@test.com/- accelerometer:8=-/- accelerometer:9=-/- accelerometer:11=Ann.Lee@test.com/- accelerometer:12=Ann.Lee@test.com/- accelerometer:13=Ann.Lee@test.com/- accelerometer:14=Ann.Lee@test.com/- accelerometer:15=-/- accelerometer:16=Ann.Lee@test.com/- accelerometer:17=Ann.Lee@test.com/- accelerometer:18=Ann.Lee@test.com/- accelerometer:20=Ann.Lee@test.com/- step_trainer:2=-/s-1 step_trainer:3=-/-" \
   "each quarantined line keeps the email and serial number it carries"

# A file is loaded whole or not at all: a server error in the middle of a
# file rolls back that file, and nothing of it stays.
q $db "CREATE FUNCTION pg_temp_fail() RETURNS trigger LANGUAGE plpgsql AS \$\$
       BEGIN IF NEW.x = 42 THEN RAISE EXCEPTION 'refused on purpose'; END IF; RETURN NEW; END \$\$;
       CREATE TRIGGER fail BEFORE INSERT ON landing.accelerometer FOR EACH ROW EXECUTE FUNCTION pg_temp_fail()"
mkdir -p "$tmp/half"
for i in $(seq 1 500); do
    printf '{"user":"Ann.Lee@test.com","timestamp":%d,"x":%d,"y":0,"z":0}\n' $((1655564444000 + i)) $((i == 400 ? 42 : 1))
done >"$tmp/half/a.json"
before=$(q $db "SELECT count(*) FROM landing.accelerometer")
stedi-load -d $db --kind accelerometer "$tmp/half/a.json" >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "exit status 2 on a server error"
sed 's/^/# /' "$tmp/err"
ok $(grep -q 'refused on purpose' "$tmp/err"; echo $?) "the server's message is shown"
is "$(q $db "SELECT count(*) FROM landing.accelerometer")" "$before" "no row of the failed file stays"
is "$(q $db "SELECT count(*) FROM landing.source_file WHERE path LIKE '%/half/a.json'")" 0 "no source_file row for the failed file"
q $db "DROP TRIGGER fail ON landing.accelerometer; DROP FUNCTION pg_temp_fail()"
stedi-load -d $db --kind accelerometer "$tmp/half/a.json" >"$tmp/out" 2>&1
is "$?" 0 "the same file loads once the cause is gone"
is "$(($(q $db "SELECT count(*) FROM landing.accelerometer") - before))" 500 "all 500 lines of it"

# Usage and environment errors: exit 2 with a one-line message.
stedi-load -d $db "$tmp/nowhere" >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "missing folder: exit 2"
ok $(grep -q "could not open \".*nowhere\": No such file or directory" "$tmp/err"; echo $?) "missing folder: says which and why"
stedi-load -d $db "$tmp/half/a.json" >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "a file outside the layout without --kind: exit 2"
stedi-load -d $db --kind nonsense "$tmp/half/a.json" >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "an unknown --kind: exit 2"
createdb stedi_load_plain
stedi-load -d stedi_load_plain "$tmp/in" >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "extension not installed: exit 2"
ok $(grep -q 'extension "stedi" is not installed' "$tmp/err"; echo $?) "extension not installed: says so"
dropdb stedi_load_plain
stedi-load -h "$tmp" -p 1 -d $db "$tmp/in" >"$tmp/out" 2>"$tmp/err"
is "$?" 2 "server down: exit 2"
is "$(wc -l <"$tmp/err")" 1 "server down: one line"
sed 's/^/# /' "$tmp/err"

# Generated data round-trips: every generated line lands.
stedi-gen --scale 0.05 --seed 7 "$tmp/gen" >"$tmp/gen.out"
fresh_db $db
stedi-load -q -d $db "$tmp/gen" >"$tmp/out" 2>&1
is "$?" 0 "generated data loads without rejects"
for kind in customer accelerometer step_trainer; do
    lines=$(grep "^$kind:" "$tmp/gen.out" | sed -E 's/.* ([0-9]+) lines/\1/')
    is "$(q $db "SELECT count(*) FROM landing.$kind")" "$lines" "$kind: every generated line is a landing row ($lines)"
done

# Every text value that reaches an index has a bound, and emails and serial
# numbers are not blank: one poison value is quarantined with a reason, and
# blocks neither its file nor any refresh.
rand() { head -c "$1" /dev/urandom | base64 -w0 | head -c "$1"; }
mkdir -p "$tmp/poison/customer/landing" "$tmp/poison/accelerometer/landing" "$tmp/poison/step_trainer/landing"
long_email="$(rand 3000)@test.com"
{
    printf '{"customerName":"Ok","email":"ok@test.com","serialNumber":"s-ok","shareWithResearchAsOfDate":1655564376361,"lastUpdateDate":1}\n'
    printf '{"customerName":"Long","email":"%s","serialNumber":"s-9","shareWithResearchAsOfDate":1655564376361}\n' "$long_email"
    printf '{"customerName":"Edge","email":"%s@t.co","serialNumber":"s-8","shareWithResearchAsOfDate":1655564376361}\n' "$(rand 249)"
    printf '{"customerName":"Blank","email":"b@test.com","serialNumber":"","shareWithResearchAsOfDate":1655564376361}\n'
    printf '{"customerName":"Blank","email":"  ","serialNumber":"s-7","shareWithResearchAsOfDate":1655564376361}\n'
    printf '{"customerName":"%s","email":"n@test.com","serialNumber":"s-6"}\n' "$(rand 513)"
    printf '{"customerName":"P","email":"p@test.com","phone":"%s","serialNumber":"s-5"}\n' "$(rand 65)"
    printf '{"customerName":"S","email":"s@test.com","serialNumber":"%s"}\n' "$(rand 129)"
} >"$tmp/poison/customer/landing/customer-1.json"
{
    printf '{"user":"ok@test.com","timestamp":1655564444103,"x":1,"y":0,"z":0}\n'
    printf '{"user":"%s","timestamp":1655564444103,"x":1,"y":0,"z":0}\n' "$long_email"
    printf '{"user":"","timestamp":1655564444103,"x":1,"y":0,"z":0}\n'
} >"$tmp/poison/accelerometer/landing/accelerometer-1.json"
{
    printf '{"sensorReadingTime":1655564444103,"serialNumber":"s-ok","distanceFromObject":1}\n'
    printf '{"sensorReadingTime":1655564444103,"serialNumber":"%s","distanceFromObject":1}\n' "$(rand 3000)"
    # a line of exactly 1 MiB, ending in CRLF: within the limit
    head='{"sensorReadingTime":1655564444104,"serialNumber":"s-ok","distanceFromObject":2,"pad":"'
    printf '%s%s"}\r\n' "$head" "$(head -c $((1048576 - ${#head} - 2)) /dev/zero | tr '\0' a)"
} >"$tmp/poison/step_trainer/landing/step_trainer-1.json"
fresh_db $db
stedi-load -q -d $db "$tmp/poison" >"$tmp/out" 2>&1
is "$?" 1 "poison values: the files load, with lines rejected"
q $db "SELECT kind, line_number, reason FROM landing.rejected ORDER BY file_id, line_number" >"$tmp/rejected"
sed 's/^/# /' "$tmp/rejected"
is "$(cat "$tmp/rejected")" "customer|2|\"email\" is 3009 bytes, longer than the 254 allowed
customer|4|\"serialNumber\" is empty
customer|5|\"email\" is empty
customer|6|\"customerName\" is 513 bytes, longer than the 512 allowed
customer|7|\"phone\" is 65 bytes, longer than the 64 allowed
customer|8|\"serialNumber\" is 129 bytes, longer than the 128 allowed
accelerometer|2|\"user\" is 3009 bytes, longer than the 254 allowed
accelerometer|3|\"user\" is empty
step_trainer|2|\"serialNumber\" is 3000 bytes, longer than the 128 allowed" \
   "each poison value quarantined, the reason naming the field and the limit"
is "$(q $db "SELECT count(*) FROM landing.customer")" 2 "an email of exactly 254 bytes is accepted"
is "$(q $db "SELECT count(*) FROM landing.step_trainer WHERE distance_from_object = 2")" 1 \
   "a line of exactly 1048576 bytes ending in CRLF is loaded"
is "$(q $db "SELECT count(*) FROM stedi.refresh()")" 5 "and every refresh still runs"
is "$(q $db "SELECT string_agg(line_number || '=' || coalesce(email, '-') || '/' || coalesce(serial_number, '-'), ' ' ORDER BY line_number) FROM landing.rejected WHERE kind = 'customer'")" \
   "2=-/s-9 4=b@test.com/- 5=-/s-7 6=n@test.com/s-6 7=p@test.com/s-5 8=s@test.com/-" \
   "a quarantined line keeps no email or serial number that is blank or over its bound"

# A file that vanishes after it was listed: the run stops (exit 2), and the
# attempt is logged, without a hash, saying why.
mkdir -p "$tmp/vanish/accelerometer/landing" "$tmp/vanish/step_trainer/landing"
awk 'BEGIN { for (i = 0; i < 400000; i++)
               printf "{\"user\":\"ok@test.com\",\"timestamp\":%d,\"x\":1,\"y\":0,\"z\":0}\n", 1655564444000 + i }' \
    >"$tmp/vanish/accelerometer/landing/a.json"
printf '%s\n' '{"sensorReadingTime":1655564444103,"serialNumber":"s-ok","distanceFromObject":1}' \
    >"$tmp/vanish/step_trainer/landing/s.json"
stedi-load -q -d $db "$tmp/vanish" >"$tmp/out" 2>"$tmp/err" &
loader=$!
for i in $(seq 1 200); do
    [ "$(q $db "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY landing.accelerometer%'")" = 1 ] && break
    sleep 0.05
done
rm "$tmp/vanish/step_trainer/landing/s.json"
wait $loader
is "$?" 2 "a file that vanished after it was listed: exit 2"
sed 's/^/# /' "$tmp/err"
is "$(q $db "SELECT outcome || ' ' || (sha256 IS NULL) || ' ' || (size_bytes IS NULL) || ' ' || message FROM stedi.ingest_log WHERE path LIKE '%/vanish/step_trainer/landing/s.json'")" \
   "failed true true could not open the file: No such file or directory" \
   "the vanished file's attempt is logged, without a hash or a size, with the reason"
is "$(q $db "SELECT rows_loaded FROM landing.source_file WHERE path LIKE '%/vanish/accelerometer/landing/a.json'")" 400000 \
   "the file listed before it was loaded whole"
dropdb $db
