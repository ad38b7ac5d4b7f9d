import type { MigrationContext } from '../lib/migrator.js';

/**
 * Indexes on the referencing columns that had none: deleting a user, a button or a team looks up the rows
 * that reference it (the declared `references` of the models, and the database's own foreign-key check),
 * which scanned `Messages`, `Alerts` and `AlertButtons` whole.
 */

const indexes = [
  { table: 'Messages', column: 'userId', name: 'messages_user' },
  { table: 'Alerts', column: 'buttonId', name: 'alerts_button' },
  { table: 'AlertButtons', column: 'receiverTeamId', name: 'alert_buttons_receiver_team' },
];

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  for (const { table, column, name } of indexes) await queryInterface.addIndex(table, [column], { name });
}

export async function down({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  for (const { table, name } of indexes) await queryInterface.removeIndex(table, name);
}
