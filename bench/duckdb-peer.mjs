// The peer a single-machine user would pick instead of stedi: DuckDB
// (@duckdb/node-api), 2 threads, running the same pipeline on the same
// files: ingest the three JSON-lines feeds, then the trusted zones, the
// curated customers and the same-customer training table, with stedi's
// rules (latest record per email however it is spelled, research consent
// present and not the epoch, readings of the device's owner taken in the
// same millisecond).  Prints one JSON object: milliseconds and row counts.
//
//   node bench/duckdb-peer.mjs FOLDER...   (folders as stedi-gen writes them)
import { DuckDBInstance } from '@duckdb/node-api';

const folders = process.argv.slice(2);
const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await instance.connect();

function files(kind) {
    return '[' + folders.map((f) => `'${f}/${kind}/**/*.json'`).join(', ') + ']';
}

async function timed(statements) {
    const t0 = performance.now();
    for (const sql of statements)
        await con.run(sql);
    return performance.now() - t0;
}

const ingest_ms = await timed([
    `CREATE TABLE customer_landing AS
     SELECT * FROM read_json(${files('customer')}, format = 'newline_delimited',
                             filename = true, ignore_errors = true,
                             columns = {customerName: 'VARCHAR', email: 'VARCHAR', phone: 'VARCHAR',
                                        birthDay: 'VARCHAR', serialNumber: 'VARCHAR',
                                        registrationDate: 'BIGINT', lastUpdateDate: 'BIGINT',
                                        shareWithResearchAsOfDate: 'BIGINT',
                                        shareWithPublicAsOfDate: 'BIGINT',
                                        shareWithFriendsAsOfDate: 'BIGINT'})`,
    `CREATE TABLE accelerometer_landing AS
     SELECT * FROM read_json(${files('accelerometer')}, format = 'newline_delimited',
                             ignore_errors = true,
                             columns = {user: 'VARCHAR', timestamp: 'BIGINT',
                                        x: 'DOUBLE', y: 'DOUBLE', z: 'DOUBLE'})`,
    `CREATE TABLE step_trainer_landing AS
     SELECT * FROM read_json(${files('step_trainer')}, format = 'newline_delimited',
                             ignore_errors = true,
                             columns = {sensorReadingTime: 'BIGINT', serialNumber: 'VARCHAR',
                                        distanceFromObject: 'INTEGER'})`,
]);

const zones_ms = await timed([
    `CREATE TABLE customer_trusted AS
     SELECT * EXCLUDE (latest) FROM (
         SELECT *, lower(email) AS identity,
                row_number() OVER (PARTITION BY lower(email)
                                   ORDER BY lastUpdateDate DESC NULLS LAST, filename DESC) AS latest
           FROM customer_landing)
      WHERE latest = 1 AND coalesce(shareWithResearchAsOfDate, 0) <> 0`,
    // identical readings once; the shipped expectations (times from 2000
    // on and at most a day ahead of the load, distances not negative)
    `CREATE TABLE accelerometer_trusted AS
     SELECT DISTINCT c.identity AS user_email, a.timestamp, a.x, a.y, a.z
       FROM accelerometer_landing AS a JOIN customer_trusted AS c ON c.identity = lower(a.user)
      WHERE a.timestamp >= 946684800000
        AND a.timestamp <= epoch_ms(current_timestamp::TIMESTAMP) + 86400000`,
    `CREATE TABLE customer_curated AS
     SELECT sha256('secret' || c.identity) AS customer_key, c.* EXCLUDE (customerName, email, phone, birthDay)
       FROM customer_trusted AS c
      WHERE c.identity IN (SELECT user_email FROM accelerometer_trusted)`,
    `CREATE TABLE step_trainer_trusted AS
     SELECT DISTINCT s.* FROM step_trainer_landing AS s
      WHERE s.serialNumber IN (SELECT serialNumber FROM customer_curated)
        AND s.sensorReadingTime >= 946684800000
        AND s.sensorReadingTime <= epoch_ms(current_timestamp::TIMESTAMP) + 86400000
        AND s.distanceFromObject >= 0`,
    `CREATE TABLE machine_learning_curated AS
     SELECT s.sensorReadingTime, s.serialNumber, s.distanceFromObject,
            sha256('secret' || c.identity) AS customer_key, a.timestamp, a.x, a.y, a.z
       FROM step_trainer_trusted AS s
       JOIN customer_trusted AS c ON c.serialNumber = s.serialNumber
       JOIN accelerometer_trusted AS a
         ON a.user_email = c.identity AND a.timestamp = s.sensorReadingTime
      -- a reading of a device that several name, at a moment more than one
      -- of them has a reading at, is held back
      QUALIFY count(DISTINCT c.identity) OVER (PARTITION BY s.serialNumber, s.sensorReadingTime,
                                                            s.distanceFromObject) = 1`,
]);

const rows = {};
for (const t of ['customer_landing', 'accelerometer_landing', 'step_trainer_landing',
                 'customer_trusted', 'accelerometer_trusted', 'customer_curated',
                 'step_trainer_trusted', 'machine_learning_curated']) {
    const r = await con.runAndReadAll(`SELECT count(*) FROM ${t}`);
    rows[t] = Number(r.getRows()[0][0]);
}
console.log(JSON.stringify({ ingest_ms, zones_ms, rows }));
