import { DataTypes } from 'sequelize';
import type { MigrationContext } from '../lib/migrator.js';

/**
 * Sessions opened from another session (`POST /auth/as/:id`): `actorSessionId` names the session of the
 * actor, null for a login. Revoking a session revokes the sessions opened from it, so an impersonation
 * ends when its actor logs out, changes its password or is revoked. No foreign key, like `actorId`: the
 * rows are records, and a session is never deleted while its tokens live. Indexed for that revocation.
 */

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addColumn('Sessions', 'actorSessionId', { type: DataTypes.INTEGER, allowNull: true });
  await queryInterface.addIndex('Sessions', ['actorSessionId'], { name: 'sessions_actor_session' });
}

export async function down({
  context: { queryInterface, sequelize },
}: {
  context: MigrationContext;
}): Promise<void> {
  await queryInterface.removeIndex('Sessions', 'sessions_actor_session');
  // plain DROP COLUMN (SQLite ≥ 3.35): Sequelize's SQLite removeColumn rebuilds the table and loses its
  // AUTOINCREMENT, indexes and ON DELETE rules
  await sequelize.query('ALTER TABLE "Sessions" DROP COLUMN "actorSessionId"');
}
