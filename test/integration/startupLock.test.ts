import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type NodeProcess, startNode, waitForOutput } from '../helpers/processes.js';
import { ADMIN_PASSWORD, createTestDatabase, shippedMigrations } from '../helpers/server.js';

/**
 * Instances started together on an empty PostgreSQL database (a rolling deploy, several replicas): one
 * migrates and creates the first-start data, the others wait for it, and all of them start. Needs
 * PostgreSQL (`DATABASE_URL`, set by CI for its second run); SQLite is one process by nature.
 */

const postgres = !!process.env.DATABASE_URL;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
const instances: NodeProcess[] = [];

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop()));
  await database?.drop();
});

describe('instances starting together', () => {
  it.skipIf(!postgres)(
    'When three instances start at once on an empty database, then all start, migrations run once and there is one admin',
    async () => {
      database = await createTestDatabase();
      const config = {
        server: { port: 0, host: '127.0.0.1' },
        database: database.config,
        bootstrap: { adminPassword: ADMIN_PASSWORD },
        log: { level: 'info', dir: false },
      };
      for (let i = 0; i < 3; i++)
        instances.push(
          startNode('test/helpers/instance.ts', [], {
            NODE_ENV: 'test',
            FLUX_TEST_CONFIG: JSON.stringify(config),
          }),
        );
      const ports = await Promise.all(
        instances.map((instance) => waitForOutput(instance, /listening (\d+)/)),
      );
      expect(new Set(ports.map(([, port]) => port)).size).toBe(3);
      const client = new pg.Client({ connectionString: database.config.url as string });
      await client.connect();
      try {
        const migrations = await client.query('SELECT name FROM "SequelizeMeta" ORDER BY name');
        expect(migrations.rows.map((row) => row.name)).toEqual(shippedMigrations());
        const admins = await client.query(`SELECT count(*)::int AS n FROM "Users" WHERE login = 'admin'`);
        expect(admins.rows[0].n).toBe(1);
        const tenants = await client.query('SELECT count(*)::int AS n FROM "Tenants"');
        expect(tenants.rows[0].n).toBe(1);
      } finally {
        await client.end();
      }
      const created = instances.filter((instance) => /Created the bootstrap user/.test(instance.output()));
      expect(created).toHaveLength(1);
    },
  );
});
