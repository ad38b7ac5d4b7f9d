import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { QueryInterface, Sequelize } from 'sequelize';
import type * as UmzugModule from 'umzug';

// umzug and what it loads (its CLI's libraries) cost about 0.1 s of a start: loaded by the first migrator
const require = createRequire(import.meta.url);

/** What a migration file exports (umzug, https://github.com/sequelize/umzug#migrations). */
export interface Migration {
  up(params: { context: MigrationContext }): Promise<void>;
  down(params: { context: MigrationContext }): Promise<void>;
}

export interface MigrationContext {
  queryInterface: QueryInterface;
  sequelize: Sequelize;
}

/**
 * The umzug migrator over `dir` (files `NNNN-name.ts`, applied in name order), recorded in the
 * `SequelizeMeta` table. Migrations are the only way the schema changes.
 */
export function createMigrator(sequelize: Sequelize, dir: string, logger?: { info: (msg: string) => void }) {
  const { SequelizeStorage, Umzug } = require('umzug') as typeof UmzugModule;
  return new Umzug<MigrationContext>({
    migrations: {
      glob: ['*.{ts,js}', { cwd: dir, ignore: ['*.d.ts'] }],
      resolve: ({ name, path: file }) => {
        const load = async (): Promise<Migration> =>
          (await import(pathToFileURL(file as string).href)) as Migration;
        return {
          name: path.basename(name, path.extname(name)),
          up: async (params) => (await load()).up(params),
          down: async (params) => (await load()).down(params),
        };
      },
    },
    context: { queryInterface: sequelize.getQueryInterface(), sequelize },
    storage: new SequelizeStorage({ sequelize }),
    logger: logger
      ? {
          info: (m) => logger.info(`migration ${JSON.stringify(m)}`),
          warn: () => {},
          error: () => {},
          debug: () => {},
        }
      : undefined,
  });
}

/**
 * Whether `dir` holds a migration that the `SequelizeMeta` table does not record (or there is no such table
 * yet), by the names {@link createMigrator} gives them: a folder read and one query, so that a start with
 * nothing to migrate does not load umzug.
 */
export async function hasPendingMigrations(sequelize: Sequelize, dir: string): Promise<boolean> {
  const names = readdirSync(dir)
    .filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.d.ts') && !file.startsWith('.'))
    .map((file) => path.basename(file, path.extname(file)));
  let recorded: Set<string>;
  try {
    const [rows] = await sequelize.query('SELECT name FROM "SequelizeMeta"');
    recorded = new Set((rows as Array<{ name: string }>).map((row) => row.name));
  } catch {
    return true; // no table yet: umzug makes it
  }
  return names.some((name) => !recorded.has(name));
}
