import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { QueryInterface, Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';

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
