import { DataTypes } from 'sequelize';
import type { MigrationContext } from '../lib/migrator.js';

/**
 * Sessions opened as someone else (`POST /auth/as/:id`):
 * - `actorId`: the user who did it, null for a login — the acting party of RFC 8693 §4.1 (`act`). No
 *   foreign key on purpose: the id stays as a record after that user is deleted (an `ON DELETE SET NULL`
 *   would erase the audit trail). Indexed: deleting a user revokes the sessions it opened as others.
 * - `notAfter`: a fixed end of life, when the session may not outlive another one (an impersonation ends
 *   with the actor's own session); null: `auth.sessionMaxAgeMs` after `createdAt` alone.
 */

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addColumn('Sessions', 'actorId', { type: DataTypes.INTEGER, allowNull: true });
  await queryInterface.addColumn('Sessions', 'notAfter', { type: DataTypes.DATE, allowNull: true });
  await queryInterface.addIndex('Sessions', ['actorId'], { name: 'sessions_actor' });
}

export async function down({
  context: { queryInterface, sequelize },
}: {
  context: MigrationContext;
}): Promise<void> {
  await queryInterface.removeIndex('Sessions', 'sessions_actor');
  // plain DROP COLUMN (SQLite ≥ 3.35): Sequelize's SQLite removeColumn rebuilds the table and loses its
  // AUTOINCREMENT, indexes and ON DELETE rules
  for (const column of ['notAfter', 'actorId'])
    await sequelize.query(`ALTER TABLE "Sessions" DROP COLUMN "${column}"`);
}
