// pg-boss 10.4.2 (the last major whose engines allow Node 20) on PostgreSQL or on
// an in-process PGlite through pg-boss's `db: { executeSql }` option.
import PgBoss from 'pg-boss';
import { PGlitePool } from '../lib/pglite-pool.mjs';

export const PG_URL = process.env.SPIKE_PG_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/jobs_spike';
export const PGLITE_DIR = process.env.SPIKE_PGLITE_DIR ?? new URL('../data/pgboss-pglite', import.meta.url).pathname;

const FAST = {
  schema: 'pgboss_spike',
  maintenanceIntervalSeconds: 1, // expire / retry sweeps (default 120 s)
  cronMonitorIntervalSeconds: 1, // default 30 s
  cronWorkerIntervalSeconds: 1,
  monitorStateIntervalSeconds: 60,
};

let shared; // one PGlite per process
export async function openBoss(kind = process.env.BACKEND ?? 'pglite', extra = {}) {
  let boss;
  if (kind === 'postgres') {
    boss = new PgBoss({ connectionString: PG_URL, max: 3, ...FAST, ...extra });
  } else if (kind === 'pglite') {
    if (!shared) {
      const { PGlite } = await import('@electric-sql/pglite');
      const db = await PGlite.create(PGLITE_DIR);
      shared = { db, pool: new PGlitePool(db) };
    }
    const { pool } = shared;
    boss = new PgBoss({ db: { executeSql: (text, values) => pool.query(text, values) }, ...FAST, ...extra });
  } else throw new Error(`unknown backend ${kind}`);
  boss.on('error', (e) => console.log('boss error', e.message));
  await boss.start();
  return boss;
}
export async function closeShared() {
  if (shared) {
    await shared.db.close();
    shared = undefined;
  }
}
