#!/usr/bin/env bash
# Logging in as each of the extension's roles: a loader runs stedi-load, an
# analyst reads curated, an admin refreshes and erases; each is refused
# what is not theirs.
source "$(dirname "$0")/lib.sh"

db=stedi_roles_test
fresh_db $db
pw=stedi-test-password
login_roles test $pw
as() { local who=$1; shift; PGUSER=test_$who PGPASSWORD=$pw "$@"; }
as_q() { local who=$1; shift; PGUSER=test_$who PGPASSWORD=$pw psql -X -q -At -d $db -c "$1" 2>&1; }

gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
stedi-gen --scale 0.02 --seed 5 "$gen/data" >/dev/null

as loader stedi-load -q -d $db "$gen/data"
is "$?" 0 "stedi_loader: stedi-load loads"
ok $(as_q loader "SELECT count(*) FROM landing.accelerometer" | grep -q 'permission denied'; echo $?) \
   "stedi_loader: cannot read landing"
ok $(as_q loader "SELECT count(*) FROM stedi.ingest_log" | grep -q 'permission denied'; echo $?) \
   "stedi_loader: cannot read the ingest log"
ok $(as_q loader "SELECT * FROM stedi.refresh()" | grep -q 'permission denied'; echo $?) \
   "stedi_loader: cannot refresh"

ok $(as_q analyst "SELECT * FROM stedi.refresh()" | grep -q 'permission denied'; echo $?) \
   "stedi_analyst: cannot refresh"
is "$(as_q admin "SELECT count(*) FROM stedi.refresh()")" 5 "stedi_admin: refreshes the five views"
is "$(as admin zones_differ $db curated.customer curated.machine_learning 2>&1)" none \
   "stedi_admin: reads the curated definition views whole (splits included) and finds them equal to the zones"
ok $([ "$(as_q analyst "SELECT count(*) FROM curated.machine_learning")" -gt 0 ]; echo $?) \
   "stedi_analyst: reads the training table"
ok $(as_q analyst "SELECT count(*) FROM trusted.accelerometer" | grep -q 'permission denied'; echo $?) \
   "stedi_analyst: cannot read trusted"
ok $(as_q analyst "SELECT count(*) FROM landing.customer" | grep -q 'permission denied'; echo $?) \
   "stedi_analyst: cannot read landing"

email=$(as_q admin "SELECT email FROM trusted.customer ORDER BY email LIMIT 1")
is "$(as_q admin "SELECT customer_records > 0 AND accelerometer_rows > 0 FROM stedi.forget_customer('$email')")" t \
   "stedi_admin: erases a customer"
is "$(as_q admin "SELECT count(*) FROM landing.customer WHERE email = '$email'")" 0 "the customer is gone from landing"
is "$(as_q admin "SELECT erased_by FROM stedi.erasure_log")" test_admin "the audit row names who erased, not whom"
ok $(as_q loader "SELECT stedi.forget_customer('x@test.com')" | grep -q 'permission denied'; echo $?) \
   "stedi_loader: cannot erase"

dropdb $db
drop_login_roles test
