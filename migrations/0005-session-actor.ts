import { DataTypes } from 'sequelize';
import type { MigrationContext } from '../lib/migrator.js';

/**
 * `Sessions.actorId`: the user who opened the session as someone else (`POST /auth/as/:id`), null for a
 * login — the acting party of RFC 8693 §4.1 (`act`), kept with the session so that an impersonation
 * shows in `GET /session`, not only in the log. Deleting that user keeps the session, without actor.
 */

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addColumn('Sessions', 'actorId', {
    type: DataTypes.INTEGER,
    allowNull: true,
    references: { model: 'Users', key: 'id' },
    onDelete: 'SET NULL',
  });
}

export async function down({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.removeColumn('Sessions', 'actorId');
}
