import type { Sequelize } from 'sequelize';

/** The toy has no migrations: its schema is its models'. */
export async function bootstrap(app: { sequelize: Sequelize }): Promise<void> {
  await app.sequelize.sync();
}
