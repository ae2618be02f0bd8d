#!/usr/bin/env bash
# The README's first command, scripts/demo, as a newcomer runs it: as root,
# from a clone that the postgres user cannot enter (a clone in root's
# private home).  It sets up, starts a throwaway cluster, loads the folder
# given (the starter set when it is there) or a generated sample, refreshes
# and prints each zone; the cluster it leaves can be reached and stopped as
# it says; every run starts from an empty database; a folder that is not
# there is refused before the setup.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    skip "scripts/demo is run here as root (it installs packages)"
    exit 0
fi

home=$(mktemp -d)               # mode 700: postgres cannot enter it
clone=$home/stedi
port=$((54400 + RANDOM % 500))
trap 'cleanup' EXIT
cleanup()
{
    local c
    c=$(readlink "$clone/.demo/cluster" 2>/dev/null || echo "$clone/.demo")
    runuser -u postgres -- pg_ctl -D "$c/data" stop -m immediate >/dev/null 2>&1
    [ "$c" != "$clone/.demo" ] && rm -rf "$c"
    rm -rf "$home"
}

if ! copy_tree "$clone"; then
    skip "scripts/demo: run from a copy of the files git knows of, and this is no git checkout"
    exit 0
fi
[ -d "$top/node_modules" ] && cp -a "$top/node_modules" "$clone/"
is "$(stat -c %a "$home")" 700 "the clone is in a folder postgres cannot enter"

# demo LOG [FOLDER]: scripts/demo from the clone, not as CI (no apt-get update)
demo()
{
    local log=$1
    shift
    (cd "$clone" && env -u CI STEDI_DEMO_PORT=${demo_port:-$port} scripts/demo "$@") >"$log" 2>&1
}

# zone_rows LOG RELATION: the row count scripts/demo printed for a relation
zone_rows()
{
    awk -F'|' -v r="$2" '{ gsub(/ /, "", $2); gsub(/ /, "", $3) } $2 == r { print $3 }' "$1"
}

relations="landing.customer landing.accelerometer landing.step_trainer trusted.customer
           trusted.accelerometer trusted.step_trainer curated.customer curated.machine_learning"

check_run()
{
    local log=$1 what=$2 r n empty=
    for r in $relations; do
        n=$(zone_rows "$log" "$r")
        [ -n "$n" ] && [ "$n" -gt 0 ] || empty="$empty $r=${n:-none}"
    done
    is "$empty" "" "$what: every zone has rows"
    ok $(grep -qE '^load [0-9.]+ s, refresh [0-9.]+ s, total [0-9.]+ s$' "$log"; echo $?) \
       "$what: it says how long loading and refreshing took"
}

# -- a folder that is not there: refused at once, before the setup
tmp_log=$home/missing.log
demo "$tmp_log" "$home/no-such-folder"
rc=$?
is "$rc" 2 "a landing folder that is not there: exit status 2"
ok $(grep -q "no landing folder" "$tmp_log" && ! grep -q "^setup:" "$tmp_log"; echo $?) \
   "and it says so before setting anything up"

# -- the README's command: the starter set beside the clone, or the sample
start=$SECONDS
if [ -d "$starter" ]; then
    folder=$starter
    demo "$home/first.log" "$folder"
else
    folder="the generated sample"
    demo "$home/first.log"
fi
rc=$?
is "$rc" 0 "scripts/demo on $folder ($((SECONDS - start)) s)"
[ "$rc" -eq 0 ] || tail -20 "$home/first.log" | sed 's/^/# /'
check_run "$home/first.log" "on $folder"
cluster=$(readlink "$clone/.demo/cluster")
ok $([ -n "$cluster" ] && [ -f "$cluster/data/PG_VERSION" ]; echo $?) \
   "the cluster lives where postgres can run it, and .demo/cluster leads there"
if [ -d "$starter" ]; then
    is "$(zone_rows "$home/first.log" landing.customer)/$(zone_rows "$home/first.log" landing.accelerometer)/$(zone_rows "$home/first.log" landing.step_trainer)" \
       "$(cat "$starter"/customer/landing/*.json | grep -c .)/$(cat "$starter"/accelerometer/landing/*.json | grep -c .)/$(cat "$starter"/step_trainer/landing/*.json | grep -c .)" \
       "landing holds every line of the starter set (customer/accelerometer/step trainer)"
fi

# the connection and stop commands it prints work
connect=$(sed -n 's/^The cluster keeps running\.  Connect:  //p' "$home/first.log")
stop=$(sed -n 's/^Stop it:  //p' "$home/first.log")
is "$($connect -XAtc 'SELECT count(*) FROM curated.machine_learning' 2>&1)" \
   "$(zone_rows "$home/first.log" curated.machine_learning)" \
   "the printed psql command reaches the database and its training table"

# -- again, with no folder: the sample, in an empty database
demo "$home/sample.log"
is "$?" 0 "scripts/demo with no folder: a generated sample"
check_run "$home/sample.log" "on the sample"
ok $([ -d "$clone/.demo/sample/customer/landing" ]; echo $?) "stedi-gen wrote the sample into .demo/sample"
# (asked for another port, it finds the cluster running on the first)
demo_port=$((port + 1)) demo "$home/again.log"
is "$(sed -n 's/^The cluster keeps running\.  Connect: .* -p \([0-9]*\) .*/\1/p' "$home/again.log")" "$port" \
   "run again while its cluster runs, it uses that cluster, on the port it has"
rows_then=$(for r in $relations; do zone_rows "$home/sample.log" "$r"; done | tr '\n' ' ')
rows_now=$(for r in $relations; do zone_rows "$home/again.log" "$r"; done | tr '\n' ' ')
is "$rows_now" "$rows_then" "run again, it starts from an empty database: the same counts, not twice"

ok $(grep -qF "once stopped, remove it with  rm -rf $cluster" "$home/first.log"; echo $?) \
   "it says where the cluster is, as it is not in .demo/, and how to remove it"
$stop >/dev/null 2>&1
ok $(! runuser -u postgres -- pg_ctl -D "$cluster/data" status >/dev/null 2>&1; echo $?) \
   "the printed stop command stops the cluster"
echo "1..$tap_n"
