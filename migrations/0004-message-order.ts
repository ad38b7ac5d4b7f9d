import type { MigrationContext } from '../lib/migrator.js';

/**
 * Messages of a channel in their default order (`find` sorts by id): with `(tenantId, channel, id)` the
 * list of a channel is an index range scan, where `(tenantId, channel, createdAt)` made SQLite sort every
 * message of the channel and PostgreSQL walk the primary key past other channels' messages.
 */

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addIndex('Messages', ['tenantId', 'channel', 'id'], {
    name: 'messages_tenant_channel_id',
  });
}

export async function down({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.removeIndex('Messages', 'messages_tenant_channel_id');
}
