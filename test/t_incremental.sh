#!/usr/bin/env bash
# Incremental refresh is correct: after every step of a random (seeded,
# reproducible) sequence of loads in any order, consent changes, erasures,
# policy changes and refreshes, every zone table equals its definition
# computed from scratch.
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

# Every zone equals its definition (as sets of rows, duplicates counted).
# The definitions read the zone tables before them, so checking them in
# order checks each against a from-scratch computation.
differences()
{
    q $db "SELECT string_agg(z || ':' || n, ' ') FROM (
        SELECT 'trusted.customer' AS z, (SELECT count(*) FROM ((TABLE trusted.customer EXCEPT ALL TABLE trusted.customer_definition)
               UNION ALL (TABLE trusted.customer_definition EXCEPT ALL TABLE trusted.customer)) d) AS n
        UNION ALL SELECT 'trusted.accelerometer', (SELECT count(*) FROM ((TABLE trusted.accelerometer EXCEPT ALL TABLE trusted.accelerometer_definition)
               UNION ALL (TABLE trusted.accelerometer_definition EXCEPT ALL TABLE trusted.accelerometer)) d)
        UNION ALL SELECT 'curated.customer', (SELECT count(*) FROM ((TABLE curated.customer EXCEPT ALL TABLE curated.customer_definition)
               UNION ALL (TABLE curated.customer_definition EXCEPT ALL TABLE curated.customer)) d)
        UNION ALL SELECT 'trusted.step_trainer', (SELECT count(*) FROM ((TABLE trusted.step_trainer EXCEPT ALL TABLE trusted.step_trainer_definition)
               UNION ALL (TABLE trusted.step_trainer_definition EXCEPT ALL TABLE trusted.step_trainer)) d)
        UNION ALL SELECT 'curated.machine_learning', (SELECT count(*) FROM ((TABLE curated.machine_learning EXCEPT ALL TABLE curated.machine_learning_definition)
               UNION ALL (TABLE curated.machine_learning_definition EXCEPT ALL TABLE curated.machine_learning)) d)
        ) x WHERE n > 0"
}
counts() { q $db "SELECT string_agg(rows::text, ',' ORDER BY view::text) FROM stedi.zone_state"; }

batch=0
extra=0
for step in $(seq 1 "$steps"); do
    action=$((RANDOM % 10))
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
    *)
        what="nothing new";;
    esac
    methods=$(q $db "SELECT string_agg(DISTINCT method, ',') FROM stedi.refresh()")
    is "$(differences)" "" "step $step ($what; refresh: ${methods:-none}): every zone equals its definition [$(counts)]"
done

# A full rebuild gives what incremental refreshes kept.
before=$(counts)
q $db "SELECT count(*) FROM stedi.refresh(full => true)" >/dev/null
is "$(counts)" "$before" "a full rebuild finds the same rows"
is "$(differences)" "" "and every zone equals its definition"
dropdb $db
