// One job engine (BullMQ 6) on three stores, chosen like Flux chooses its own:
//   redis    – REDIS_URL set: BullMQ's default Redis backend
//   postgres – DATABASE_URL=postgres://…: BullMQ's PostgreSQL backend
//   pglite   – the embedded default: BullMQ's PostgreSQL backend over an
//              in-process PGlite (WASM Postgres persisted to a folder)
import * as bullmq from 'bullmq';
import { PGlitePool } from './pglite-pool.mjs';

export const PG_URL = process.env.SPIKE_PG_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/jobs_spike';
export const REDIS = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
export const REDIS_PREFIX = 'jobspike';
export const PGLITE_DIR = process.env.SPIKE_PGLITE_DIR ?? new URL('../data/jobs-pglite', import.meta.url).pathname;

export async function openBackend(kind = process.env.BACKEND ?? 'pglite') {
  if (kind === 'redis') {
    const opts = { connection: REDIS, prefix: REDIS_PREFIX };
    return { kind, Queue: bullmq.Queue, Worker: bullmq.Worker, QueueEvents: bullmq.QueueEvents, opts, close: async () => {} };
  }
  if (kind === 'postgres') {
    const { Queue, Worker, QueueEvents } = bullmq.withBackend(bullmq.createPostgresBackend);
    const opts = { connection: { connectionString: PG_URL, schema: 'bullmq', migrate: true, max: 4 } };
    return { kind, Queue, Worker, QueueEvents, opts, close: async () => {} };
  }
  if (kind === 'pglite') {
    const { PGlite } = await import('@electric-sql/pglite');
    const t0 = Date.now();
    const db = await PGlite.create(PGLITE_DIR);
    const pool = new PGlitePool(db);
    const client = await pool.connect();
    await bullmq.runMigrations(client, 'bullmq'); // a user-supplied pool is never migrated implicitly
    client.release();
    await db.exec('SET search_path TO "bullmq"'); // BullMQ's SQL uses unqualified names
    const openMs = Date.now() - t0;
    const { Queue, Worker, QueueEvents } = bullmq.withBackend(bullmq.createPostgresBackend);
    const opts = { connection: pool };
    return { kind, Queue, Worker, QueueEvents, opts, db, pool, openMs, close: async () => { await pool.end(); await db.close(); } };
  }
  throw new Error(`unknown backend ${kind}`);
}
