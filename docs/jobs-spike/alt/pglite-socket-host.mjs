// Several processes on one PGlite: this process owns the folder and serves the
// Postgres wire protocol with @electric-sql/pglite-socket (query-level multiplexer);
// other processes connect with plain node-postgres (BACKEND=postgres, SPIKE_PG_URL=…:54329).
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import * as bullmq from 'bullmq';
import { PGlitePool } from '../lib/pglite-pool.mjs';
const dir = new URL('../data/socket-pglite', import.meta.url).pathname;
const db = await PGlite.create(dir);
const pool = new PGlitePool(db);
const c = await pool.connect();
await bullmq.runMigrations(c, 'bullmq');
c.release();
await db.exec('SET search_path TO "bullmq"');
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 54329, maxConnections: 64 });
await server.start();
console.log('pglite-socket host listening on 127.0.0.1:54329');
process.on('SIGTERM', async () => { await server.stop(); await db.close(); process.exit(0); });
