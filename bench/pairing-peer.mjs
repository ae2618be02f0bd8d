// The peer for bench/pairing: DuckDB (@duckdb/node-api), 2 threads,
// pairing the same zones as stedi (exported to CSV): the same-millisecond
// join, and the window and nearest joins within a tolerance.  Prints one
// JSON object: milliseconds and row counts of each.
//
//   node bench/pairing-peer.mjs STEPS.csv READINGS.csv TOLERANCE_MS
import { DuckDBInstance } from '@duckdb/node-api';

const [steps, readings, tolerance] = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await instance.connect();

async function timed(sql) {
    const t0 = performance.now();
    await con.run(sql);
    const ms = performance.now() - t0;
    const rows = await con.runAndReadAll('SELECT count(*)::BIGINT AS n FROM pairs');
    const n = Number(rows.getRowObjects()[0].n);
    await con.run('DROP TABLE pairs');
    return { ms: Math.round(ms), rows: n };
}

await con.run(`CREATE TABLE steps AS SELECT * FROM read_csv('${steps}')`);
await con.run(`CREATE TABLE readings AS SELECT * FROM read_csv('${readings}')`);
const exact = await timed(`CREATE TABLE pairs AS
    SELECT s.*, a.t AS reading_t, a.x, a.y, a.z, a.file_id AS a_file, a.line_number AS a_line
      FROM steps AS s JOIN readings AS a ON a.email = s.email AND a.t = s.t`);
const window = await timed(`CREATE TABLE pairs AS
    SELECT s.*, a.t AS reading_t, a.x, a.y, a.z, a.file_id AS a_file, a.line_number AS a_line
      FROM steps AS s JOIN readings AS a
        ON a.email = s.email AND a.t BETWEEN s.t - ${tolerance} AND s.t + ${tolerance}`);
const nearest = await timed(`CREATE TABLE pairs AS
    SELECT * FROM (
        SELECT s.*, a.t AS reading_t, a.x, a.y, a.z, a.file_id AS a_file, a.line_number AS a_line,
               rank() OVER (PARTITION BY s.file_id, s.line_number, s.email
                            ORDER BY abs(a.t - s.t), a.t - s.t) AS nearness
          FROM steps AS s JOIN readings AS a
            ON a.email = s.email AND a.t BETWEEN s.t - ${tolerance} AND s.t + ${tolerance})
     WHERE nearness = 1`);
console.log(JSON.stringify({ same_millisecond: exact, window, nearest }));
