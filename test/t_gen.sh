#!/usr/bin/env bash
# stedi-gen: deterministic, linear in scale, never mixes into existing data.
source "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

digest() { (cd "$1" && find . -type f | sort | xargs cat | sha256sum | cut -d' ' -f1); }

stedi-gen --scale 0.2 --seed 5 "$tmp/a" >"$tmp/a.out"
is "$?" 0 "scale 0.2 written"
sed 's/^/# /' "$tmp/a.out"
stedi-gen --scale 0.2 --seed 5 "$tmp/b" >/dev/null
stedi-gen --scale 0.2 --seed 6 "$tmp/c" >/dev/null
is "$(digest "$tmp/a")" "$(digest "$tmp/b")" "same seed, same bytes"
ok $([ "$(digest "$tmp/a")" != "$(digest "$tmp/c")" ]; echo $?) "another seed, other data"

# --first-customer: a range in other rounds of 1,024 numbers brings only
# new emails and devices, whatever the seed; without it, other seeds
# pick from the same first names
emails() { cat "$1"/customer/landing/*.json | sed -E 's/.*"email": "([^"]*)".*/\1/' | sort -u; }
serials() { cat "$1"/customer/landing/*.json | sed -E 's/.*"serialNumber": "([^"]*)".*/\1/' | sort -u; }
stedi-gen --scale 2 --seed 6 "$tmp/h" >/dev/null
stedi-gen --scale 0.2 --seed 5 --first-customer 2048 "$tmp/f" >/dev/null
is "$(emails "$tmp/f" | wc -l)" 194 "customers from 2048: 194 emails (scale 0.2)"
is "$(comm -12 <(emails "$tmp/h") <(emails "$tmp/f") | wc -l)" 0 "none among 2,000 customers from 0 of another seed"
is "$(comm -12 <(serials "$tmp/h") <(serials "$tmp/f") | wc -l)" 0 "nor a device"
ok $([ "$(comm -12 <(emails "$tmp/h") <(emails "$tmp/a") | wc -l)" -gt 100 ]; echo $?) \
    "from 0, another seed brings many of the same emails ($(comm -12 <(emails "$tmp/h") <(emails "$tmp/a") | wc -l) of 194)"
stedi-gen --scale 0.2 --first-customer -1 "$tmp/e" >/dev/null 2>&1
is "$?" 2 "refuses a negative first customer"
stedi-gen --scale 0.2 --first-customer 1099511627776 "$tmp/e" >/dev/null 2>&1
is "$?" 2 "refuses a first customer of 2^40 (serial numbers would repeat)"

lines() { grep "^$2:" "$1" | sed -E 's/.* ([0-9]+) lines/\1/'; }
stedi-gen --scale 0.4 --seed 5 "$tmp/d" >"$tmp/d.out"
for kind in customer accelerometer step_trainer; do
    small=$(lines "$tmp/a.out" $kind)
    big=$(lines "$tmp/d.out" $kind)
    ok $(awk -v s="$small" -v b="$big" 'BEGIN { r = b / s; exit !(r > 1.8 && r < 2.2) }'; echo $?) \
        "$kind: twice the scale, twice the lines ($small, $big)"
done

stedi-gen --scale 0.2 --seed 5 "$tmp/a" >/dev/null 2>"$tmp/err"
is "$?" 2 "refuses a folder that already holds data"
stedi-gen --scale 0 "$tmp/e" >/dev/null 2>&1
is "$?" 2 "refuses scale 0"
