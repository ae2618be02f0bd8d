#!/usr/bin/env bash
# The Parquet writer (src/export/parquet.c), read back by a real reader:
# test/parquet_selftest.c writes files with every column type, NULLs,
# times before 1970 and after 2038, text with quotes, commas, newlines
# and non-ASCII characters, a 100 kB value, many row groups, GZIP and no
# compression, and no rows at all; DuckDB reads each and compares it with
# the rows written.
source "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -Wall -Werror -O2 -I"$top/src/export" -I"$top/src/common" -o "$tmp/parquet_selftest" "$top/test/parquet_selftest.c" \
    "$top/src/export/parquet.c" "$top/src/export/thrift_compact.c" "$top/src/common/json_out.c" -lz
ok $? "the writer and its self-test build without a warning"
"$tmp/parquet_selftest" "$tmp"
ok $? "the self-test writes its files"

types="i INTEGER, big BIGINT, d DOUBLE, s VARCHAR, u UUID, t TIMESTAMP WITH TIME ZONE"
check() { node "$top/test/parquet_check.mjs" "$tmp/$1.parquet" "$tmp/$1.jsonl" 2>&1; }

out=$(check groups)
is "$(echo "$out" | sed -n 's/^types: //p')" "$types" "GZIP, 4 kB row groups: DuckDB reads INT32, INT64, DOUBLE, STRING, UUID and TIMESTAMP(UTC, MICROS) as such"
is "$(echo "$out" | sed -n 's/^rows: //p')" 3000 "GZIP, 4 kB row groups: 3000 rows"
groups=$(echo "$out" | sed -n 's/^row groups: //p')
ok $([ "${groups:-0}" -gt 10 ] && echo 0 || echo 1) "GZIP, 4 kB row groups: more than 10 of them ($groups)"
is "$(echo "$out" | sed -n 's/^differing: //p')" 0 "GZIP, 4 kB row groups: every value as written"

out=$(check plain)
is "$(echo "$out" | sed -n 's/^types: //p')" "$types" "uncompressed, one row group: the same types"
is "$(echo "$out" | sed -n 's/^rows: //p') $(echo "$out" | sed -n 's/^row groups: //p')" "3000 1" "uncompressed: 3000 rows in one row group"
is "$(echo "$out" | sed -n 's/^differing: //p')" 0 "uncompressed: every value as written"

out=$(check empty)
is "$(echo "$out" | sed -n 's/^types: //p')" "$types" "no rows: the schema is read all the same"
is "$(echo "$out" | sed -n 's/^rows: //p')" 0 "no rows: 0 rows"

# the comparison can fail: one value changed in what is expected
sed -i '7s/"i": [-0-9]*/"i": 123456789/' "$tmp/plain.jsonl"
is "$(check plain | sed -n 's/^differing: //p')" 2 "a single changed value is seen (the check can fail)"

echo "1..$tap_n"
