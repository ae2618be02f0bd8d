#!/usr/bin/env bash
# Conformance run on the real STEDI starter set (../shared/stedi-starter):
# load it with stedi-load as a user would, refresh, and compare every zone
# with the counts published for the original pipeline.  The training table
# has no published target (the original joined on time alone); here it
# must pair only readings of the same customer.
source "$(dirname "$0")/lib.sh"

if [ ! -d "$starter/customer/landing" ]; then
    skip "starter set not found at $starter"
    exit 0
fi

db=stedi_conformance
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fresh_db $db

start=$EPOCHREALTIME
stedi-load -d $db "$starter" >"$tmp/load.log" 2>&1
rc=$?
loaded=$EPOCHREALTIME
sed 's/^/# /' "$tmp/load.log"
is "$rc" 0 "stedi-load exits 0 on the starter set"
q $db "SELECT view, method, rows, duration FROM stedi.refresh()" | sed 's/^/# /'
done_at=$EPOCHREALTIME
awk -v a="$start" -v b="$loaded" -v c="$done_at" \
    'BEGIN { printf "# wall time: load %.2f s, refresh %.2f s, total %.2f s\n", b - a, c - b, c - a }'

while read -r rel expected; do
    is "$(q $db "SELECT count(*) FROM $rel")" "$expected" "$rel has $expected rows"
done <<'COUNTS'
landing.customer 956
landing.accelerometer 81273
landing.step_trainer 28680
landing.rejected 0
trusted.customer 482
trusted.accelerometer 40981
curated.customer 482
trusted.step_trainer 14460
COUNTS

is "$(q $db "SELECT count(*) FROM landing.source_file")" 13 "13 source files recorded"
is "$(q $db "SELECT count(*) FROM landing.source_file WHERE lines_read <> rows_loaded + rows_rejected")" 0 \
    "every file: lines read = loaded + rejected"

# Every pair in the training table belongs to one customer: the owner of
# the step trainer is the one whose phone took the accelerometer reading.
is "$(q $db "SELECT count(*) FROM curated.machine_learning m
               JOIN trusted.accelerometer a ON a.file_id = m.accelerometer_file_id
                                           AND a.line_number = m.accelerometer_line_number
               JOIN trusted.customer c ON c.email = a.user_email
               CROSS JOIN stedi.pseudonym_secret k
              WHERE c.serial_number <> m.serial_number
                 OR stedi.customer_key(c.email, k.secret) <> m.customer_key")" 0 \
    "machine_learning pairs only readings of the same customer, under that customer's key"
is "$(q $db "SELECT count(*) FROM curated.machine_learning WHERE NOT (sensor_reading_time OPERATOR(stedi.=#) reading_time)")" 0 \
    "machine_learning pairs only readings of the same millisecond"
ml=$(q $db "SELECT count(*) FROM curated.machine_learning")
time_only=$(q $db "SELECT count(*) FROM trusted.step_trainer s JOIN trusted.accelerometer a ON a.reading_time = s.sensor_reading_time")
is "$(q $db "SELECT count(DISTINCT customer_key) FROM curated.machine_learning")" 482 "482 customers in the training table, by key"
echo "# machine_learning: $ml rows; a join on time alone would give $time_only"
is "$ml" 40981 "machine_learning has 40981 same-customer pairs"
ok $([ "$time_only" -gt "$ml" ]; echo $?) "a join on time alone pairs more ($time_only): strangers"

# The planner runs the training join as a hash or merge join, never a
# nested loop, with the statistics stedi.refresh() left behind.
plan=$(q $db "EXPLAIN (COSTS OFF) SELECT s.sensor_reading_time, a.x
                 FROM trusted.step_trainer s
                 JOIN trusted.customer c ON c.serial_number = s.serial_number
                 JOIN trusted.accelerometer a ON a.user_email = c.email
                  AND a.reading_time OPERATOR(stedi.=#) s.sensor_reading_time")
echo "$plan" | sed 's/^/# /'
ok $(echo "$plan" | grep -qE '(Hash|Merge) Cond: .*=#'; echo $?) "=# is a hash or merge join condition"
ok $(echo "$plan" | grep -q 'Nested Loop'; [ $? -ne 0 ]; echo $?) "no nested loop"

dropdb $db
