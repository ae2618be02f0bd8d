// The peer for bench/export: DuckDB (@duckdb/node-api), 2 threads, reading
// the CSV that psql's \copy wrote and writing it as Parquet (DuckDB's
// default, snappy).  Prints "SECONDS BYTES".
//
//   node bench/export-peer.mjs IN.csv OUT.parquet
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';

const [csv, parquet] = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await instance.connect();
const t0 = performance.now();
await con.run(`COPY (SELECT * FROM read_csv('${csv}', header = true)) TO '${parquet}' (FORMAT parquet)`);
const seconds = (performance.now() - t0) / 1000;
console.log(`${seconds.toFixed(2)} ${statSync(parquet).size}`);
