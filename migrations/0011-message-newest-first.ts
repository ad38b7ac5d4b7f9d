import type { MigrationContext } from '../lib/migrator.js';

/**
 * A channel's newest messages as the console asks them (`sort: ['-createdAt', '-id']`, docs/console.md):
 * `(tenantId, channel, createdAt, id)` gives that order itself, so the newest 20 are the last 20 entries
 * of an index range. With `(tenantId, channel, createdAt)` PostgreSQL read the range backwards and sorted
 * it again by id (an incremental sort, at least 32 rows, every row of a run of equal `createdAt`), and
 * SQLite sorted the ties in a temporary tree. The new index replaces that one: it serves every query the
 * old one did.
 */

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addIndex('Messages', ['tenantId', 'channel', 'createdAt', 'id'], {
    name: 'messages_tenant_channel_created_id',
  });
  await queryInterface.removeIndex('Messages', 'messages_tenant_channel');
}

export async function down({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addIndex('Messages', ['tenantId', 'channel', 'createdAt'], {
    name: 'messages_tenant_channel',
  });
  await queryInterface.removeIndex('Messages', 'messages_tenant_channel_created_id');
}
