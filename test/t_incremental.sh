#!/usr/bin/env bash
# Incremental refresh is correct: after every step of a random (seeded,
# reproducible) sequence of loads in any order, consent changes, erasures,
# policy changes, resent readings, devices claimed by a second customer,
# expectation changes, pairing tolerance changes and refreshes, every zone
# table equals its definition computed from scratch.
source "$(dirname "$0")/lib.sh"

seed=${STEDI_TEST_SEED:-42}
steps=${STEDI_TEST_STEPS:-40}
RANDOM=$seed
echo "# seed $seed, $steps steps"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=stedi_incremental_test
fresh_db $db
q $db "SELECT setseed(0.$seed)" >/dev/null

# Every zone equals its definition (zones_differ, test/lib.sh).  The
# definitions read the zone tables before them, so checking them in order
# checks each against a from-scratch computation.
counts() { q $db "SELECT string_agg(rows::text, ',' ORDER BY view::text) FROM stedi.zone_state"; }

batch=0
extra=0
for step in $(seq 1 "$steps"); do
    action=$((RANDOM % 14))
    # (a pairing change every 12 steps at least, whatever the seed draws)
    [ $((step % 12)) -eq 6 ] && action=13
    case $action in
    0|1|2|3)
        # a new batch, one kind of it (so kinds arrive in any order)
        batch=$((batch + 1))
        stedi-gen --scale 0.01 --seed $((seed * 100 + batch)) "$tmp/b$batch" >/dev/null
        kinds=(customer accelerometer step_trainer)
        for k in $(printf '%s\n' "${kinds[@]}" | shuf --random-source=<(yes $((seed + step)))); do
            stedi-load -q -d $db "$tmp/b$batch/$k"
            [ $((RANDOM % 2)) -eq 0 ] && break
        done
        what="load parts of batch $batch";;
    4)
        # the rest of every batch so far (already loaded files are skipped)
        for b in $(seq 1 $batch); do stedi-load -q -d $db "$tmp/b$b"; done
        what="load the rest";;
    5)
        # newer records for a few customers: consent given, withdrawn, or moved
        extra=$((extra + 1))
        # (each record spells the email its own way: one customer still)
        q $db "SELECT json_build_object('customerName', customer_name,
                      'email', CASE (random() * 2)::int WHEN 0 THEN upper(email)
                                    WHEN 1 THEN lower(email) ELSE email END,
                      'serialNumber', serial_number,
                      'lastUpdateDate', (extract(epoch FROM coalesce(last_update_date, now())) * 1000)::bigint + 1000,
                      'shareWithResearchAsOfDate', CASE (random() * 3)::int
                          WHEN 0 THEN NULL
                          WHEN 1 THEN (extract(epoch FROM coalesce(last_update_date, now())) * 1000)::bigint
                          ELSE (extract(epoch FROM coalesce(last_update_date, now())) * 1000)::bigint + 20000 END)
                 FROM (SELECT DISTINCT ON (email) * FROM landing.customer
                        ORDER BY email, last_update_date DESC NULLS LAST) c
                ORDER BY random() LIMIT 5" >"$tmp/changes-$extra.json"
        stedi-load -q -d $db --kind customer "$tmp/changes-$extra.json"
        what="consent changes for $(wc -l <"$tmp/changes-$extra.json") customers";;
    6)
        email=$(q $db "SELECT CASE WHEN random() < 0.5 THEN upper(email) ELSE email END
                         FROM landing.customer ORDER BY random() LIMIT 1")
        [ -n "$email" ] && q $db "SELECT count(*) FROM stedi.forget_customer('$email')" >/dev/null
        what="forget a customer";;
    7)
        policy=$([ $((RANDOM % 2)) -eq 0 ] && echo as_of || echo original)
        q $db "SELECT stedi.set_consent_policy('$policy')" >/dev/null
        what="consent policy $policy";;
    8)
        # retract a file (any kind); the next batch may bring it back
        file=$(q $db "SELECT file_id FROM landing.source_file ORDER BY random() LIMIT 1")
        [ -n "$file" ] && q $db "SELECT count(*) FROM stedi.unload_file($file)" >/dev/null
        what="unload file $file";;
    10)
        # readings sent again: a file of copies of readings already loaded
        # (some of them twice), some of another customer's moment
        extra=$((extra + 1))
        q $db "SELECT json_build_object('user', user_email, 'timestamp', (extract(epoch FROM reading_time) * 1000)::bigint,
                                        'x', x, 'y', y, 'z', z)
                 FROM (SELECT * FROM landing.accelerometer ORDER BY random() LIMIT 30) AS a,
                      generate_series(1, 1 + (random() < 0.3)::int)" >"$tmp/resend-$extra.json"
        q $db "SELECT json_build_object('sensorReadingTime', (extract(epoch FROM sensor_reading_time) * 1000)::bigint,
                                        'serialNumber', serial_number, 'distanceFromObject', distance_from_object)
                 FROM (SELECT * FROM landing.step_trainer ORDER BY random() LIMIT 20) AS s" >"$tmp/resend-steps-$extra.json"
        stedi-load -q -d $db --kind accelerometer "$tmp/resend-$extra.json"
        stedi-load -q -d $db --kind step_trainer "$tmp/resend-steps-$extra.json"
        what="readings sent again";;
    11)
        # a customer names another's device (the fulfilment defect)
        extra=$((extra + 1))
        q $db "SELECT json_build_object('customerName', a.customer_name, 'email', a.email,
                      'serialNumber', b.serial_number,
                      'lastUpdateDate', (extract(epoch FROM coalesce(a.last_update_date, now())) * 1000)::bigint + 3000,
                      'shareWithResearchAsOfDate', (extract(epoch FROM coalesce(a.last_update_date, now())) * 1000)::bigint)
                 FROM (SELECT * FROM trusted.customer ORDER BY random() LIMIT 2) AS a,
                      LATERAL (SELECT serial_number FROM trusted.customer AS o
                                WHERE o.email <> a.email ORDER BY random() LIMIT 1) AS b" >"$tmp/claim-$extra.json"
        stedi-load -q -d $db --kind customer "$tmp/claim-$extra.json"
        what="$(wc -l <"$tmp/claim-$extra.json") customers claim another's device";;
    12)
        # an expectation declared, changed or removed
        case $((RANDOM % 3)) in
        0) q $db "SELECT stedi.expect('trusted.accelerometer', 'x rule', 'x < $((RANDOM % 3 - 1)).5',
                                      '$([ $((RANDOM % 2)) -eq 0 ] && echo warn || echo drop)')" >/dev/null
           what="expectation on x";;
        1) q $db "SELECT stedi.expect('trusted.step_trainer', 'distance rule',
                                      'distance_from_object % $((RANDOM % 5 + 2)) <> 0', 'drop')" >/dev/null
           what="expectation on distance";;
        *) q $db "SELECT count(stedi.unexpect(e.zone, e.name)) FROM stedi.expectation AS e WHERE NOT e.builtin" >/dev/null
           what="expectations removed";;
        esac;;
    13)
        # a pairing tolerance (0, 1 ms, 50 ms, or 2.5 s: past the next step
        # trainer reading, so that the nearest must choose) and mode
        tolerance=$(printf '%s\n' 0 '1 millisecond' '50 milliseconds' '2500 milliseconds' | sed -n "$((RANDOM % 4 + 1))p")
        mode=$([ $((RANDOM % 2)) -eq 0 ] && echo nearest || echo window)
        q $db "SELECT stedi.set_setting('pairing_tolerance', '$tolerance'), stedi.set_setting('pairing_mode', '$mode')" >/dev/null
        what="pairing within $tolerance, $mode";;
    *)
        what="nothing new";;
    esac
    methods=$(q $db "SELECT string_agg(DISTINCT method, ',') FROM stedi.refresh()")
    is "$(zones_differ $db)" none "step $step ($what; refresh: ${methods:-none}): every zone equals its definition [$(counts)]"
done

# (the rules of the sequence would keep rows of the tests below out; the
# tests below are of the same-millisecond join)
q $db "SELECT count(stedi.unexpect(e.zone, e.name)) FROM stedi.expectation AS e WHERE NOT e.builtin" >/dev/null
q $db "SELECT stedi.set_setting('pairing_tolerance', NULL), stedi.set_setting('pairing_mode', NULL)" >/dev/null
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null

# Batches larger than the zones they go into.  A plan chosen for a trickle
# (a nested loop over rows the statistics have not seen) would make these
# quadratic; each refresh runs under auto_explain, and no plan node may
# handle more rows (actual rows times loops) than five times all of landing.
landing_rows() { q $db "SELECT (SELECT count(*) FROM landing.customer) + (SELECT count(*) FROM landing.accelerometer) + (SELECT count(*) FROM landing.step_trainer)"; }
zone_rows() { q $db "SELECT rows FROM stedi.zone_state WHERE view = '$1'::regclass"; }
big_refresh()
{
    local what=$1 limit notices worst methods
    limit=$((5 * $(landing_rows)))
    notices=$(psql -X -q -v ON_ERROR_STOP=1 -d $db 2>&1 >/dev/null <<'SQL'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_timing = off;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SELECT count(*) FROM stedi.refresh();
SQL
)
    worst=$(echo "$notices" | grep -oE 'actual rows=[0-9]+ loops=[0-9]+' |
            awk '{ split($2, r, "="); split($3, l, "="); n = r[2] * l[2]; if (n > max) max = n } END { print max + 0 }')
    methods=$(q $db "SELECT string_agg(left(method, 1), '' ORDER BY step) FROM stedi.refresh_log
                      WHERE run_id = (SELECT max(run_id) FROM stedi.refresh_run)")
    ok $([ "$worst" -le "$limit" ] && echo 0 || echo 1) \
       "$what: no plan node handles more than 5 times all of landing ($worst rows at most, limit $limit; methods $methods)"
    is "$(zones_differ $db)" none "$what: every zone equals its definition [$(counts)]"
}

# Twice: the method each zone's cost picks (here, mostly full), then the
# incremental way forced on every zone (stedi.choose_method replaced in
# this test's database), so that its plans meet these batches too.
round=0
for mode in chosen incremental; do
    round=$((round + 1))
    if [ $mode = incremental ]; then
        q $db "CREATE OR REPLACE FUNCTION stedi.choose_method(incremental_rows bigint, full_rows bigint,
                                                             OUT method text, OUT reason text)
               LANGUAGE sql IMMUTABLE AS \$\$ SELECT 'incremental', 'forced by the test' \$\$" >/dev/null
    fi
    # new customers with their readings: three times what the zones hold
    before=$(zone_rows trusted.accelerometer)
    stedi-gen --scale "$(awk -v n="$before" 'BEGIN { s = 5 * n / 45000; if (s < 0.05) s = 0.05; printf "%.2f", s }')" \
        --seed $((7777 + round)) "$tmp/big$round" >/dev/null
    stedi-load -q -d $db "$tmp/big$round"
    big_refresh "$mode: new customers, more than twice the zones"
    ok $([ "$(zone_rows trusted.accelerometer)" -ge $((3 * before)) ] && echo 0 || echo 1) \
       "$mode: the batch was at least twice the zone it went into ($before readings before, $(zone_rows trusted.accelerometer) after)"

    # new readings of every known customer, twice over: a month later, two months later
    mkdir -p "$tmp/again$round/accelerometer/landing" "$tmp/again$round/step_trainer/landing"
    for m in 1 2; do
        q $db "SELECT json_build_object('user', user_email,
                      'timestamp', (extract(epoch FROM reading_time) * 1000)::bigint + ($round * 2 + $m) * 2592000000,
                      'x', x, 'y', y, 'z', z) FROM landing.accelerometer" >"$tmp/again$round/accelerometer/landing/a$m.json"
        q $db "SELECT json_build_object('sensorReadingTime', (extract(epoch FROM sensor_reading_time) * 1000)::bigint + ($round * 2 + $m) * 2592000000,
                      'serialNumber', serial_number, 'distanceFromObject', distance_from_object)
                 FROM landing.step_trainer" >"$tmp/again$round/step_trainer/landing/s$m.json"
    done
    stedi-load -q -d $db "$tmp/again$round"
    big_refresh "$mode: new readings of every known customer, twice the zones"

    # most customers withdraw consent at once, then give it back
    q $db "SELECT json_build_object('customerName', customer_name, 'email', email, 'serialNumber', serial_number,
                  'lastUpdateDate', (extract(epoch FROM last_update_date) * 1000)::bigint + 5000 * $round)
             FROM trusted.customer WHERE md5(email) < 'b'" >"$tmp/withdraw$round.json"
    stedi-load -q -d $db --kind customer "$tmp/withdraw$round.json"
    big_refresh "$mode: $(wc -l <"$tmp/withdraw$round.json") customers withdraw consent at once"
    q $db "SELECT json_build_object('customerName', customer_name, 'email', email, 'serialNumber', serial_number,
                  'lastUpdateDate', (extract(epoch FROM last_update_date) * 1000)::bigint + 10000 * $round,
                  'shareWithResearchAsOfDate', (extract(epoch FROM last_update_date) * 1000)::bigint + 10000 * $round)
             FROM (SELECT DISTINCT ON (stedi.normalize_email(email)) * FROM landing.customer
                    ORDER BY stedi.normalize_email(email), last_update_date DESC) AS c
            WHERE md5(stedi.normalize_email(email)) < 'b'" >"$tmp/consent$round.json"
    stedi-load -q -d $db --kind customer "$tmp/consent$round.json"
    big_refresh "$mode: $(wc -l <"$tmp/consent$round.json") customers give consent again at once"

    # the biggest file goes
    file=$(q $db "SELECT file_id FROM landing.source_file WHERE kind = 'accelerometer' ORDER BY rows_loaded DESC LIMIT 1")
    q $db "SELECT count(*) FROM stedi.unload_file($file)" >/dev/null
    big_refresh "$mode: unloading the biggest accelerometer file"

done

# What changed decides what a refresh reads, never the estimate of how
# much: readings written by hand (their file has no row counts) of a
# customer whose record arrives later are read when it does.
q $db "WITH f AS (INSERT INTO landing.source_file (kind, path, size_bytes)
                  VALUES ('accelerometer', 'by-hand.json', 0) RETURNING file_id)
       INSERT INTO landing.accelerometer (user_email, reading_time, x, y, z, file_id, line_number)
       SELECT 'Newbie@Test.com', '2022-06-19 10:00:00.004+00', 1, 2, 3, file_id, 1 FROM f" >/dev/null
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
echo '{"customerName":"Newbie","email":"newbie@test.com","serialNumber":"dev-newbie","lastUpdateDate":1655561294911,"shareWithResearchAsOfDate":1655561294911}' >"$tmp/newbie.json"
stedi-load -q -d $db --kind customer "$tmp/newbie.json"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
is "$(q $db "SELECT count(*) FROM trusted.accelerometer WHERE user_email = 'newbie@test.com'")" 1 \
   "readings written by hand before their customer's record reach trusted with it"
is "$(zones_differ $db)" none "and every zone equals its definition"

# A customer who withdraws takes every pair of theirs out of the training
# table.  hana and ivan share a device, jill has hers alone: when hana and
# jill withdraw, jill's device leaves trusted.step_trainer and takes her
# pairs with it, but the shared one stays (ivan's), so hana's pairs must
# be found through her readings.
{
    echo '{"customerName":"Hana","email":"hana@test.com","serialNumber":"dev-shared","lastUpdateDate":1655561294911,"shareWithResearchAsOfDate":1655561294911}'
    echo '{"customerName":"Ivan","email":"ivan@test.com","serialNumber":"dev-shared","lastUpdateDate":1655561294911,"shareWithResearchAsOfDate":1655561294911}'
    echo '{"customerName":"Jill","email":"jill@test.com","serialNumber":"dev-jill","lastUpdateDate":1655561294911,"shareWithResearchAsOfDate":1655561294911}'
    echo '{"customerName":"Kim","email":"kim@test.com","serialNumber":"dev-kim","lastUpdateDate":1655561294911,"shareWithResearchAsOfDate":1655561294911}'
} >"$tmp/sharing.json"
{
    echo '{"user":"hana@test.com","timestamp":1655600000001,"x":1,"y":0,"z":0}'
    echo '{"user":"hana@test.com","timestamp":1655600000002,"x":2,"y":0,"z":0}'
    echo '{"user":"ivan@test.com","timestamp":1655600000001,"x":3,"y":0,"z":0}'
    echo '{"user":"ivan@test.com","timestamp":1655600000002,"x":4,"y":0,"z":0}'
    echo '{"user":"jill@test.com","timestamp":1655600000001,"x":5,"y":0,"z":0}'
    echo '{"user":"kim@test.com","timestamp":1655600000001,"x":6,"y":0,"z":0}'
} >"$tmp/sharing-readings.json"
{
    echo '{"sensorReadingTime":1655600000001,"serialNumber":"dev-shared","distanceFromObject":11}'
    echo '{"sensorReadingTime":1655600000002,"serialNumber":"dev-shared","distanceFromObject":12}'
    echo '{"sensorReadingTime":1655600000001,"serialNumber":"dev-jill","distanceFromObject":21}'
    echo '{"sensorReadingTime":1655600000001,"serialNumber":"dev-kim","distanceFromObject":31}'
    echo '{"sensorReadingTime":1655600000002,"serialNumber":"dev-kim","distanceFromObject":32}'
    echo '{"sensorReadingTime":1655600000003,"serialNumber":"dev-kim","distanceFromObject":33}'
} >"$tmp/sharing-steps.json"
stedi-load -q -d $db --kind customer "$tmp/sharing.json"
stedi-load -q -d $db --kind accelerometer "$tmp/sharing-readings.json"
stedi-load -q -d $db --kind step_trainer "$tmp/sharing-steps.json"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
pairs() { q $db "SELECT coalesce(string_agg(serial_number || ':' || x, ' ' ORDER BY serial_number, x), '-')
                   FROM curated.machine_learning WHERE serial_number IN ('dev-shared', 'dev-jill', 'dev-kim')"; }
# (hana and ivan both have readings at both moments of their shared
# device: whose steps those were cannot be told, they pair with no one)
is "$(pairs)" "dev-jill:5 dev-kim:6" \
   "four customers, two of them sharing a device: the moments both have readings at are held back"
{
    echo '{"customerName":"Hana","email":"hana@test.com","serialNumber":"dev-shared","lastUpdateDate":1655561295911}'
    echo '{"customerName":"Jill","email":"jill@test.com","serialNumber":"dev-jill","lastUpdateDate":1655561295911}'
} >"$tmp/sharing-withdraw.json"
stedi-load -q -d $db --kind customer "$tmp/sharing-withdraw.json"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
is "$(pairs)" "dev-kim:6 dev-shared:3 dev-shared:4" \
   "two withdraw: their pairs go, the device is the other one's alone and his readings pair"
is "$(zones_differ $db)" none "and every zone equals its definition"
# ivan moves to kim's device: his readings, none new, pair with its rows,
# none new either (they leave the change as they came into it)
echo '{"customerName":"Ivan","email":"ivan@test.com","serialNumber":"dev-kim","lastUpdateDate":1655561296911,"shareWithResearchAsOfDate":1655561294911}' \
    >"$tmp/sharing-move.json"
stedi-load -q -d $db --kind customer "$tmp/sharing-move.json"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
# (kim and ivan both have a reading at .001: held back; .002 is his alone)
is "$(pairs)" "dev-kim:4" "one moves to another's device: his pairs move with him, but not a moment they share"
is "$(zones_differ $db)" none "and every zone equals its definition"

# Readings of one moment that arrive in different batches pair: step
# trainer readings after the accelerometer readings they pair with, and
# the other way round.  A refresh reads of the zone already there only
# the rows in the span of the new rows' milliseconds, so the new rows
# here sit at both ends of that span, and are many against the zone (so
# that the zone is read by that span, not looked up row by row).
# lena owns dev-lena, alone in a database of her own, where every zone is
# refreshed the incremental way (a zone this small would be rebuilt).
db=stedi_incremental_span_test
fresh_db $db
q $db "CREATE OR REPLACE FUNCTION stedi.choose_method(incremental_rows bigint, full_rows bigint,
                                                     OUT method text, OUT reason text)
       LANGUAGE sql IMMUTABLE AS \$\$ SELECT 'incremental', 'forced by the test' \$\$" >/dev/null
echo '{"customerName":"Lena","email":"lena@test.com","serialNumber":"dev-lena","lastUpdateDate":1655561294911,"shareWithResearchAsOfDate":1655561294911}' \
    >"$tmp/lena.json"
stedi-load -q -d $db --kind customer "$tmp/lena.json"
for t in 1655600000101 1655600000102 1655600000103; do
    echo "{\"user\":\"lena@test.com\",\"timestamp\":$t,\"x\":${t: -3},\"y\":0,\"z\":0}"
done >"$tmp/lena-readings.json"
stedi-load -q -d $db --kind accelerometer "$tmp/lena-readings.json"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
lena_steps()
{
    for t in "$@"; do
        echo "{\"sensorReadingTime\":$t,\"serialNumber\":\"dev-lena\",\"distanceFromObject\":${t: -3}}"
    done >"$tmp/lena-steps-$1.json"
    stedi-load -q -d $db --kind step_trainer "$tmp/lena-steps-$1.json"
    q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
}
lena_steps 1655600000101 1655600000103
lena_pairs() { q $db "SELECT coalesce(string_agg(distance_from_object || ':' || x, ' ' ORDER BY x), '-')
                        FROM curated.machine_learning"; }
is "$(lena_pairs)" "101:101 103:103" \
   "step trainer readings that arrive after their moment's readings pair with them, first and last moment too"
lena_steps 1655600000201 1655600000202 1655600000203
for t in 1655600000201 1655600000203; do
    echo "{\"user\":\"lena@test.com\",\"timestamp\":$t,\"x\":${t: -3},\"y\":0,\"z\":0}"
done >"$tmp/lena-later.json"
stedi-load -q -d $db --kind accelerometer "$tmp/lena-later.json"
q $db "SELECT count(*) FROM stedi.refresh()" >/dev/null
is "$(lena_pairs)" "101:101 103:103 201:201 203:203" \
   "and readings that arrive after their moment's step trainer readings, first and last moment too"
is "$(zones_differ $db)" none "and every zone equals its definition"
dropdb $db
db=stedi_incremental_test

# A full rebuild gives what incremental refreshes kept.
before=$(counts)
q $db "SELECT count(*) FROM stedi.refresh(full => true)" >/dev/null
is "$(counts)" "$before" "a full rebuild finds the same rows"
is "$(zones_differ $db)" none "and every zone equals its definition"
dropdb $db
