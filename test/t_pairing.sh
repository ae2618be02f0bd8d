#!/usr/bin/env bash
# Pairing within a tolerance, on generated data whose step trainer clocks
# are off by known amounts (stedi-gen --jitter): nearest mode finds every
# true partner and nothing else; window mode finds exactly the phone
# readings within the tolerance; the C join never runs a nested loop over
# the readings, and pairs the same in little memory, its input split into
# partitions on disk; and, after batches loaded one
# by one, the incremental refresh and the full rebuild agree.
source "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jitter=200
stedi-gen --scale 0.3 --seed 7 --jitter $jitter "$tmp/jittered" >/dev/null
stedi-gen --scale 0.3 --seed 7 "$tmp/agreeing" >/dev/null

# The true pairs: the same data with the clocks agreeing, paired in the same
# millisecond.  Files load in the same order, so lineage (file and line)
# names the same readings in both databases.
truth=stedi_pairing_truth
fresh_db $truth
stedi-load -q -d $truth "$tmp/agreeing"
q $truth "SELECT count(*) FROM stedi.refresh()" >/dev/null
q $truth "COPY (SELECT step_trainer_file_id, step_trainer_line_number, accelerometer_file_id, accelerometer_line_number
                 FROM curated.machine_learning ORDER BY 1, 2, 3, 4) TO STDOUT" >"$tmp/true-pairs"
true_pairs=$(wc -l <"$tmp/true-pairs")
ok $([ "$true_pairs" -gt 1000 ] && echo 0 || echo 1) "the clocks agreeing, the same-millisecond join finds $true_pairs true pairs"

db=stedi_pairing_test
fresh_db $db
stedi-load -q -d $db "$tmp/jittered"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
pairs() { q $db "COPY (SELECT step_trainer_file_id, step_trainer_line_number, accelerometer_file_id, accelerometer_line_number
                        FROM curated.machine_learning ORDER BY 1, 2, 3, 4) TO STDOUT"; }
ok $([ "$(pairs | wc -l)" -lt $((true_pairs / 20)) ] && echo 0 || echo 1) \
   "clocks off by up to $jitter ms: the same-millisecond join finds few of them ($(pairs | wc -l))"

# nearest, with a tolerance of the largest clock error: the true partners,
# all of them and only them (a customer's readings lie 2 s apart or more)
q $db "SELECT stedi.set_setting('pairing_tolerance', '$jitter milliseconds')" >/dev/null
methods=$(q $db "SELECT method || ' (' || reason || ')' FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass")
pairs >"$tmp/nearest-pairs"
is "$(diff "$tmp/true-pairs" "$tmp/nearest-pairs" | grep -c '^[<>]')" 0 \
   "nearest within $jitter ms: every pair found is a true one, and every true one is found ($(wc -l <"$tmp/nearest-pairs") pairs; $methods)"
is "$(q $db "SELECT max(abs(stedi.pairing_offset(reading_time, sensor_reading_time))) <= $jitter FROM curated.machine_learning")" t \
   "no pair is further apart than the tolerance"
is "$(q $db "SELECT count(*) FROM stedi.pairing_quality WHERE max_offset_ms > $jitter")" 0 \
   "stedi.pairing_quality: no device's pairs further apart than $jitter ms"
is "$(q $db "SELECT sum(paired) = (SELECT count(DISTINCT (step_trainer_file_id, step_trainer_line_number)) FROM curated.machine_learning)
               FROM stedi.pairing_quality")" t \
   "stedi.pairing_quality: its paired readings add up to the training table's"

# window, 3 s: exactly the phone readings within 3 s of each step trainer
# reading (of its owner; the devices several customers name left aside,
# whose readings may be held back), against a plain nested loop
q $db "SELECT stedi.set_setting('pairing_tolerance', '3 seconds'), stedi.set_setting('pairing_mode', 'window')" >/dev/null
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
is "$(q $db "SELECT count(*) FROM (
               (SELECT step_trainer_file_id, step_trainer_line_number, accelerometer_file_id, accelerometer_line_number
                  FROM curated.machine_learning
                 WHERE serial_number NOT IN (SELECT serial_number FROM trusted.customer GROUP BY 1 HAVING count(*) > 1)
                EXCEPT ALL
                SELECT s.file_id, s.line_number, a.file_id, a.line_number
                  FROM trusted.step_trainer AS s
                  JOIN trusted.customer AS c USING (serial_number)
                  JOIN trusted.accelerometer AS a ON a.user_email = c.email
                 WHERE abs(stedi.pairing_offset(a.reading_time, s.sensor_reading_time)) <= 3000
                   AND s.serial_number NOT IN (SELECT serial_number FROM trusted.customer GROUP BY 1 HAVING count(*) > 1))
               UNION ALL
               (SELECT s.file_id, s.line_number, a.file_id, a.line_number
                  FROM trusted.step_trainer AS s
                  JOIN trusted.customer AS c USING (serial_number)
                  JOIN trusted.accelerometer AS a ON a.user_email = c.email
                 WHERE abs(stedi.pairing_offset(a.reading_time, s.sensor_reading_time)) <= 3000
                   AND s.serial_number NOT IN (SELECT serial_number FROM trusted.customer GROUP BY 1 HAVING count(*) > 1)
                EXCEPT ALL
                SELECT step_trainer_file_id, step_trainer_line_number, accelerometer_file_id, accelerometer_line_number
                  FROM curated.machine_learning
                 WHERE serial_number NOT IN (SELECT serial_number FROM trusted.customer GROUP BY 1 HAVING count(*) > 1))) AS d")" 0 \
   "window within 3 s: exactly the phone readings within 3 s ($(q $db "SELECT count(*) FROM curated.machine_learning") pairs)"
is "$(q $db "SELECT (SELECT count(*) FROM (SELECT step_trainer_file_id, step_trainer_line_number FROM curated.machine_learning
                                    GROUP BY 1, 2 HAVING count(DISTINCT reading_time) > 1) AS d) > 0")" t \
   "a 3 s window pairs some step trainer readings with phone readings of several moments"

# the plans: the definition runs the C join, and the queries it runs
# inside (shown by auto_explain) read the phone readings in one scan, with
# no nested loop over them
plan=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $db 2>&1 <<'SQL'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET client_min_messages = log;
SELECT count(*) FROM curated.machine_learning_definition;
SQL
)
ok $(echo "$plan" | grep -q 'Function Scan on pair_readings' && echo 0 || echo 1) \
   "the definition pairs through the C join (stedi.pair_readings)"
ok $(echo "$plan" | grep -q 'Seq Scan on accelerometer a' && echo 0 || echo 1) \
   "the join reads the phone readings in one scan"
nested=$(echo "$plan" | awk '/Nested Loop/ { depth = index($0, "N"); inside = 1; next }
                            inside && index($0, "->") > 0 && index($0, "->") <= depth { inside = 0 }
                            inside && /on accelerometer/ { n++ } END { print n + 0 }')
is "$nested" 0 "no nested loop over the phone readings"
small=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $db 2>&1 <<'SQL'
SET work_mem = '64kB';
SET hash_mem_multiplier = 1;
SET client_min_messages = debug1;
SELECT 'differing: ' || count(*)
  FROM ((TABLE curated.machine_learning EXCEPT ALL TABLE curated.machine_learning_definition)
        UNION ALL (TABLE curated.machine_learning_definition EXCEPT ALL TABLE curated.machine_learning)) AS d;
SQL
)
parts=$(echo "$small" | sed -n 's/.*stedi pairing: partition 1 of \([0-9]*\) .*/\1/p' | head -1)
is "$(echo "$small" | grep '^differing: ') in ${parts:-?} partitions" "differing: 0 in ${parts:-?} partitions" \
   "in 64 kB of memory, the readings split into partitions written to disk (${parts:-?}), the same pairs"
ok $([ "${parts:-1}" -gt 1 ] && echo 0 || echo 1) "in 64 kB of memory, more than one partition"
# the pairs of one device (an incremental refresh's call) take memory for
# its claimants' readings, not for the whole table
device=$(q $db "SELECT serial_number FROM curated.customer ORDER BY 1 LIMIT 1")
one=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $db 2>&1 <<SQL
SET work_mem = '64kB';
SET hash_mem_multiplier = 1;
SET client_min_messages = debug1;
SELECT 'pairs: ' || count(*)
  FROM stedi.pseudonym_secret AS k
 CROSS JOIN LATERAL stedi.pair_readings(3000, false, k.secret, ARRAY['$device'],
                                        ARRAY(SELECT email FROM trusted.customer WHERE serial_number = '$device')) AS p;
SQL
)
is "$(echo "$one" | sed -n 's/.*stedi pairing: \(partition [0-9]* of [0-9]*\) .*/\1/p' | tr '\n' ' ')$(echo "$one" | grep '^pairs: ')" \
   "partition 1 of 1 pairs: $(q $db "SELECT count(*) FROM curated.machine_learning WHERE serial_number = '$device'")" \
   "one device's pairs, in 64 kB: one partition, sized from its claimants' readings, the same pairs"

# the pseudonym secret shows in no plan an admin may have printed, of the
# C join or of a refresh
pw=stedi-test-password
q postgres "DROP ROLE IF EXISTS test_pairing_admin" >/dev/null 2>&1
q postgres "CREATE ROLE test_pairing_admin LOGIN PASSWORD '$pw' IN ROLE stedi_admin"
secret=$(q $db "SELECT string_agg((CASE WHEN b > 127 THEN b - 256 ELSE b END)::text, ' ' ORDER BY i)
                  FROM stedi.pseudonym_secret, LATERAL (SELECT i, get_byte(secret, i) AS b FROM generate_series(0, 7) AS i) AS x")
printed=$(PGUSER=test_pairing_admin PGPASSWORD=$pw psql -X -q -At -d $db 2>&1 <<'SQL'
SET debug_print_plan = on;
SET client_min_messages = log;
SELECT count(*) FROM curated.machine_learning_definition;
SELECT count(*) FROM stedi.refresh(full => true);
SQL
)
ok $(echo "$printed" | grep -q ':constvalue' && echo 0 || echo 1) "an admin with debug_print_plan on sees plans printed"
# (the plans wrap their lines: joined, they are searched as one)
is "$(echo "$printed" | tr -s ' \n\t' '   ' | grep -o -- "$secret" | wc -l)" 0 \
   "none of them holds the pseudonym secret (its first bytes: $secret)"

# batches one by one, each refresh incremental, in both modes: the zones
# equal their definitions after each (the rebuild finds nothing to write)
agree()
{
    q $db "SELECT count(*) FROM ((TABLE curated.machine_learning EXCEPT ALL TABLE curated.machine_learning_definition)
                                 UNION ALL (TABLE curated.machine_learning_definition EXCEPT ALL TABLE curated.machine_learning)) d"
}
for b in 1 2 3 4; do
    mode=$([ $((b % 2)) -eq 0 ] && echo nearest || echo window)
    tolerance=$([ $b -le 2 ] && echo '250 milliseconds' || echo '2500 milliseconds')
    q $db "SELECT stedi.set_setting('pairing_tolerance', '$tolerance'), stedi.set_setting('pairing_mode', '$mode')" >/dev/null
    q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
    stedi-gen --scale 0.02 --seed $((70 + b)) --first-customer $((b * 4096)) --jitter $jitter "$tmp/batch$b" >/dev/null
    stedi-load -q -d $db "$tmp/batch$b"
    # and a customer's resent phone readings, a moment later, in a file of their own
    q $db "COPY (SELECT json_build_object('user', a.user_email,
                        'timestamp', (extract(epoch FROM a.reading_time) * 1000)::bigint + 40,
                        'x', a.x, 'y', a.y, 'z', a.z)
                   FROM trusted.accelerometer AS a
                  WHERE a.user_email = (SELECT user_email FROM trusted.accelerometer ORDER BY user_email OFFSET $((b * 7)) LIMIT 1))
           TO STDOUT" >"$tmp/more$b.json"
    stedi-load -q -d $db --kind accelerometer "$tmp/more$b.json"
    method=$(q $db "SELECT method FROM stedi.refresh() WHERE view = 'curated.machine_learning'::regclass")
    is "$(agree)" 0 "batch $b ($mode within $tolerance; training table $method): the training table equals its definition"
    q $db "SELECT count(*) FROM stedi.refresh(full => true)" >/dev/null
    is "$(q $db "SELECT inserted + deleted FROM stedi.refresh_log
                  WHERE run_id = (SELECT max(run_id) FROM stedi.refresh_run) AND view = 'curated.machine_learning'::regclass")" 0 \
       "batch $b: the full rebuild that follows writes nothing"
done

# back to the same millisecond: the same-millisecond table again
q $db "SELECT stedi.set_setting('pairing_tolerance', NULL), stedi.set_setting('pairing_mode', NULL)" >/dev/null
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
is "$(agree)" 0 "tolerance set back to 0: the training table equals the same-millisecond definition"
is "$(q $db "SELECT count(*) FROM curated.machine_learning
              WHERE NOT reading_time OPERATOR(stedi.=#) sensor_reading_time")" 0 \
   "and holds only pairs of the same millisecond"
dropdb $db
dropdb $truth
echo "1..$tap_n"
