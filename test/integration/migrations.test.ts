import path from 'node:path';
import { QueryTypes, Sequelize } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tuneDatabase } from '../../lib/database.js';
import { createMigrator } from '../../lib/migrator.js';
import { createTestDatabase, shippedMigrations } from '../helpers/server.js';

/**
 * Every migration's `down` undoes its `up` exactly (`flux migrate down`, docs/reference.md#cli): same tables,
 * columns, indexes and constraints as before the `up`, on the database under test (SQLite or PostgreSQL).
 */

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let sequelize: Sequelize;

beforeAll(async () => {
  database = await createTestDatabase();
  const url = database.config.url as string | undefined;
  sequelize = url
    ? new Sequelize(url, { logging: false })
    : new Sequelize({ dialect: 'sqlite', storage: database.config.storage as string, logging: false });
  await tuneDatabase(sequelize);
});

afterAll(async () => {
  await sequelize?.close();
  await database?.drop();
});

/** The schema, as text the database itself gives: DDL on SQLite, catalog rows on PostgreSQL. */
async function schema(): Promise<unknown> {
  const rows = (sql: string) => sequelize.query(sql, { type: QueryTypes.SELECT });
  if (sequelize.getDialect() === 'sqlite') {
    return rows(
      `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name != 'SequelizeMeta' ORDER BY type, name`,
    );
  }
  return {
    columns: await rows(
      `SELECT table_name, column_name, data_type, is_nullable, column_default, collation_name FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name != 'SequelizeMeta' ORDER BY table_name, column_name`,
    ),
    indexes: await rows(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`,
    ),
    constraints: await rows(
      `SELECT conrelid::regclass::text AS "table", conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
    ),
  };
}

/** Migrations that only change PostgreSQL's schema. */
const postgresOnly = ['0008-code-point-collation'];

describe('migrations', () => {
  it('When each migration is applied and reverted, then the schema is exactly what it was before it', async () => {
    const migrator = createMigrator(sequelize, path.resolve('migrations'));
    const names = (await migrator.pending()).map((migration) => migration.name);
    // every migration the code ships, in order: the test follows migrations/ rather than a count
    expect(names).toEqual(shippedMigrations());
    for (const name of names) {
      const before = await schema();
      await migrator.up({ to: name });
      const applied = await schema();
      // a PostgreSQL-only migration (collations) leaves an SQLite schema as it was
      if (sequelize.getDialect() === 'sqlite' && postgresOnly.includes(name)) expect(applied).toEqual(before);
      else expect(applied, `${name} changes the schema`).not.toEqual(before);
      await migrator.down();
      expect(await schema(), `${name} down`).toEqual(before);
      await migrator.up({ to: name });
      expect(await schema(), `${name} up again`).toEqual(applied);
    }
  });
});
