// What DuckDB (@duckdb/node-api) reads from a Parquet file written by
// test/parquet_selftest.c, against the JSON lines of what was written:
// prints the column types, the rows, the row groups, and how many rows
// differ (in either direction) from the expected ones.
//
//   node test/parquet_check.mjs FILE.parquet EXPECTED.jsonl
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';

const [file, expected] = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
const all = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
const one = async (sql) => String(Object.values((await all(sql))[0])[0]);
const q = (s) => `'${s.replaceAll("'", "''")}'`;

const types = (await all(`DESCRIBE SELECT * FROM read_parquet(${q(file)})`))
    .map((r) => `${r.column_name} ${r.column_type}`).join(', ');
const rows = await one(`SELECT count(*) FROM read_parquet(${q(file)})`);
const groups = await one(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${q(file)})`);
let differing = rows;
if (statSync(expected).size === 0) {
    differing = rows;           // no row expected: every row read differs
} else {
    const read = `SELECT i, big, d, s, u::VARCHAR AS u, epoch_us(t) AS t FROM read_parquet(${q(file)})`;
    const want = `SELECT i, big, d, s, u, t FROM read_json(${q(expected)}, format = 'newline_delimited',
                  columns = {i: 'INTEGER', big: 'BIGINT', d: 'DOUBLE', s: 'VARCHAR', u: 'VARCHAR', t: 'BIGINT'})`;
    differing = await one(`SELECT (SELECT count(*) FROM (${read} EXCEPT ALL ${want}))
                                + (SELECT count(*) FROM (${want} EXCEPT ALL ${read}))`);
}
console.log(`types: ${types}`);
console.log(`rows: ${rows}`);
console.log(`row groups: ${groups}`);
console.log(`differing: ${differing}`);
