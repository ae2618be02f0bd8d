// Checks an export of stedi-export with DuckDB (@duckdb/node-api) against
// PostgreSQL's own figures for the same rows.
//
//   node test/export_check.mjs sql OUTDIR
//       prints the PostgreSQL query of the figures, for the columns and
//       splits in OUTDIR/manifest.json (run it with psql, in the snapshot
//       the export read, and pass its one value to check)
//   node test/export_check.mjs check OUTDIR PG_FIGURES_JSON
//       reads every file of the manifest with DuckDB and prints, per split,
//       "SPLIT WHAT same" or "SPLIT WHAT differs: DUCKDB vs POSTGRESQL" for
//       the rows, the column types DuckDB sees, each column's sum or hash,
//       and the file's size and SHA-256 against the manifest; and for
//       Parquet "SPLIT row-groups N".
//
// Figures per column: integers and times (in microseconds since 1970)
// summed; doubles summed (to 1e-9, relative) with their least and
// greatest; text and UUIDs as the MD5 of all values in byte order.
import { DuckDBInstance } from '@duckdb/node-api';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

const [mode, dir, pgJson] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8'));
const ident = (s) => `"${s.replaceAll('"', '""')}"`;
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const duckType = {
    'timestamp with time zone': 'TIMESTAMP WITH TIME ZONE', 'text': 'VARCHAR', 'integer': 'INTEGER',
    'bigint': 'BIGINT', 'double precision': 'DOUBLE', 'uuid': 'UUID',
};

function figure(c, engine) {
    const n = ident(c.name);
    const pg = engine === 'pg';
    switch (c.type) {
    case 'timestamp with time zone':
        return pg ? `sum((extract(epoch FROM ${n}) * 1000000)::bigint)::text` : `sum(epoch_us(${n}))::VARCHAR`;
    case 'integer': case 'bigint':
        return pg ? `sum(${n})::text` : `sum(${n})::VARCHAR`;
    case 'double precision':
        return pg ? `jsonb_build_array(sum(${n}), min(${n}), max(${n}))`
                  : `[sum(${n}), min(${n}), max(${n})]::VARCHAR`;
    case 'text':
        return pg ? `md5(string_agg(${n}, ',' ORDER BY ${n} COLLATE "C"))`
                  : `md5(string_agg(${n}, ',' ORDER BY ${n}))`;
    case 'uuid':
        return pg ? `md5(string_agg(${n}::text, ',' ORDER BY ${n}::text COLLATE "C"))`
                  : `md5(string_agg(${n}::VARCHAR, ',' ORDER BY ${n}::VARCHAR))`;
    default:
        throw new Error(`no figure for type ${c.type}`);
    }
}

if (mode === 'sql') {
    const cols = manifest.columns.map((c) => `${lit(c.name)}, ${figure(c, 'pg')}`).join(',\n       ');
    const splits = manifest.files.map((f) => `(${lit(f.split)})`).join(', ');
    console.log(`SELECT jsonb_object_agg(s.split, f.figures) FROM (VALUES ${splits}) AS s(split)
  CROSS JOIN LATERAL (SELECT jsonb_build_object('rows', count(*), 'columns', jsonb_build_object(
       ${cols})) AS figures
       FROM curated.machine_learning WHERE split = s.split) AS f`);
    process.exit(0);
}

const pg = JSON.parse(pgJson);
const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
const all = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
const say = (split, what, duck, want) => {
    const same = typeof want === 'number' && typeof duck === 'number'
        ? Math.abs(duck - want) <= 1e-9 * Math.max(1, Math.abs(want))
        : String(duck) === String(want);
    console.log(`${split} ${what} ${same ? 'same' : `differs: ${duck} vs ${want}`}`);
};
for (const f of manifest.files) {
    const path = `${dir}/${f.file}`;
    const bytes = readFileSync(path);
    say(f.split, 'bytes', bytes.length, f.bytes);
    say(f.split, 'sha256', createHash('sha256').update(bytes).digest('hex'), f.sha256);
    const source = manifest.format === 'parquet' ? `read_parquet(${lit(path)})`
        : `read_csv(${lit(path)}, header = true, auto_detect = false, columns = {${manifest.columns
            .map((c) => `${lit(c.name)}: ${lit(duckType[c.type])}`).join(', ')}})`;
    if (manifest.format === 'parquet') {
        const types = (await all(`DESCRIBE SELECT * FROM ${source}`))
            .map((r) => `${r.column_name} ${r.column_type}`).join(', ');
        say(f.split, 'types', types, manifest.columns.map((c) => `${c.name} ${duckType[c.type]}`).join(', '));
        const groups = (await all(`SELECT count(DISTINCT row_group_id)::VARCHAR AS n FROM parquet_metadata(${lit(path)})`))[0].n;
        console.log(`${f.split} row-groups ${groups}`);
    }
    const row = (await all(`SELECT count(*)::VARCHAR AS rows, ${manifest.columns
        .map((c, i) => `${figure(c, 'duck')} AS c${i}`).join(', ')} FROM ${source}`))[0];
    const want = pg[f.split];
    say(f.split, 'rows', row.rows, want.rows);
    say(f.split, 'manifest-rows', f.rows, want.rows);
    manifest.columns.forEach((c, i) => {
        const duck = row[`c${i}`];
        const theirs = want.columns[c.name];
        if (c.type === 'double precision') {
            const d = duck === null ? [null, null, null] : JSON.parse(String(duck).replaceAll('NULL', 'null'));
            const p = theirs ?? [null, null, null];
            say(f.split, `${c.name}.sum`, d[0], p[0]);
            say(f.split, `${c.name}.min`, d[1], p[1]);
            say(f.split, `${c.name}.max`, d[2], p[2]);
        } else {
            say(f.split, c.name, duck ?? 'null', theirs ?? 'null');
        }
    });
}
