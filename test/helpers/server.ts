import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Sequelize } from 'sequelize';
import type { PlainObject } from '../../lib/config.js';
import { openDatabase, tuneDatabase } from '../../lib/database.js';
import { Flux } from '../../lib/Flux.js';
import { Logger } from '../../lib/log.js';

export const ADMIN_PASSWORD = 'admin-test-password';

/** A running Flux server for one test file, on a free port and its own fresh database. */
export interface TestServer {
  url: string;
  dialect: string;
  stop(): Promise<void>;
}

/**
 * A fresh database for one test file: a temporary SQLite file, or — when `DATABASE_URL` is set — a new
 * PostgreSQL database on that server, dropped afterwards.
 */
export async function createTestDatabase(): Promise<{ config: PlainObject; drop(): Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const dir = mkdtempSync(path.join(tmpdir(), 'flux-test-'));
    // the job store Flux opens beside the file (lib/jobs.ts resolveJobStore), ready-made
    copyJobsTemplate(path.join(dir, 'flux.sqlite.jobs'));
    return {
      config: { url: undefined, storage: path.join(dir, 'flux.sqlite') },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `flux_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    config: { url: target.toString() },
    drop: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}

/**
 * A fresh database (see {@link createTestDatabase}) opened with Flux's own settings (`openDatabase`,
 * `tuneDatabase`: statement timeout, SQLite's connection PRAGMAs), without Flux: for tests of lib/ pieces
 * on their own models. `close()` closes it and drops it.
 */
export async function openTestDatabase(): Promise<{ sequelize: Sequelize; close(): Promise<void> }> {
  const database = await createTestDatabase();
  const sequelize = openDatabase(
    {
      url: database.config.url as string | undefined,
      storage: (database.config.storage as string | undefined) ?? '',
      logging: false,
    },
    process.cwd(),
    new Logger({ level: 'error', dir: false }),
  );
  await tuneDatabase(sequelize);
  return {
    sequelize,
    async close() {
      await sequelize.close();
      await database.drop();
    },
  };
}

/**
 * A new PGlite job store folder: a copy of the one test/globalSetup.ts made for the run (BullMQ's schema
 * included), so that no test pays for creating one (about 6 s of CPU each), under the run's folder
 * (removed at its end). Without the template (a test run outside vitest's config), an empty folder that the
 * store creates.
 */
export function freshJobsDir(): string {
  const root = mkdtempSync(path.join(process.env.FLUX_TEST_JOBS_ROOT ?? tmpdir(), 'jobs-'));
  const dir = path.join(root, 'jobs');
  copyJobsTemplate(dir);
  return dir;
}

/** Copies the run's PGlite job store template (test/globalSetup.ts) to `dir`, when there is one. */
function copyJobsTemplate(dir: string): void {
  const template = process.env.FLUX_TEST_JOBS_TEMPLATE;
  if (template) cpSync(template, dir, { recursive: true });
}

/** Starts Flux on 127.0.0.1:0 with a fresh database and the bootstrap admin. */
export async function startTestServer(config: PlainObject = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const address = await Flux.start({
    config: {
      server: { port: 0, host: '127.0.0.1' },
      database: database.config,
      bootstrap: { adminPassword: ADMIN_PASSWORD },
      // test files run in parallel against one Redis: each server keeps its keys and channels apart
      redis: { prefix: `flux-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}:` },
      ...config,
    },
  });
  return {
    url: `http://127.0.0.1:${address.port}`,
    dialect: Flux.sequelize.getDialect(),
    async stop() {
      await Flux.stop();
      await database.drop();
    },
  };
}

/** A fingerprint of every row of every model: equal before and after means nothing changed. */
export async function databaseChecksum(): Promise<string> {
  const parts: unknown[] = [];
  for (const [name, model] of Object.entries(Flux.models).sort(([a], [b]) => a.localeCompare(b))) {
    parts.push(name, await model.findAll({ order: [['id', 'ASC']], raw: true }));
  }
  return JSON.stringify(parts);
}

/** The names of the migrations the code ships (`migrations/NNNN-name.ts`), in order of application. */
export function shippedMigrations(): string[] {
  return readdirSync(path.join(Flux.rootdir, 'migrations'))
    .filter((file) => /^\d{4}-.*\.ts$/.test(file))
    .map((file) => file.replace(/\.ts$/, ''))
    .sort();
}
