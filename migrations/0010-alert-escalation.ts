import { DataTypes } from 'sequelize';
import { setTextCollation } from '../lib/database.js';
import type { MigrationContext } from '../lib/migrator.js';

/**
 * Alert escalation and acknowledgement, and the record of direct uploads not yet confirmed
 * (docs/escalation.md):
 * - `Alerts.escalatedAt`: when a `warning` nobody acknowledged became `serious` (set once, by the job);
 * - `Alerts.acknowledgedAt`, `Alerts.acknowledgedById`: when and by whom it was acknowledged
 *   (`POST /alert/:id/acknowledge`). `acknowledgedById` references the user (`set null` when the user is
 *   destroyed: the time stays, so the alert stays acknowledged); indexed for that destroy's lookup.
 * - `alerts_pending_escalation`: a partial index on `createdAt` of the alerts that may still escalate
 *   (`warning`, neither acknowledged nor escalated). The sweep's query (oldest overdue first) reads only
 *   those, however many alerts were handled before.
 * - `PendingUploads`: each key handed out by `POST /upload/presign` until it is confirmed, so that the
 *   objects uploaded and never confirmed can be found and deleted without listing the bucket; `claimedAt`
 *   marks a key the clean-up took (it can no longer be confirmed). Not a model: bookkeeping of the server,
 *   no foreign key (the key holds the tenant and user ids).
 * - `sessions_expires`, `sessions_revoked`: the clean-up of ended sessions reads them.
 */

const pendingEscalation = {
  name: 'alerts_pending_escalation',
  where: { severity: 'warning', acknowledgedAt: null, escalatedAt: null },
};

export async function up({
  context: { queryInterface, sequelize },
}: {
  context: MigrationContext;
}): Promise<void> {
  await queryInterface.addColumn('Alerts', 'escalatedAt', { type: DataTypes.DATE, allowNull: true });
  await queryInterface.addColumn('Alerts', 'acknowledgedAt', { type: DataTypes.DATE, allowNull: true });
  await queryInterface.addColumn('Alerts', 'acknowledgedById', {
    type: DataTypes.INTEGER,
    allowNull: true,
    references: { model: 'Users', key: 'id' },
  });
  await queryInterface.addIndex('Alerts', ['acknowledgedById'], { name: 'alerts_acknowledged_by' });
  await queryInterface.addIndex('Alerts', ['createdAt'], pendingEscalation);
  await queryInterface.createTable('PendingUploads', {
    key: { type: DataTypes.STRING(512), allowNull: false, primaryKey: true },
    expiresAt: { type: DataTypes.DATE, allowNull: false },
    claimedAt: { type: DataTypes.DATE, allowNull: true },
    createdAt: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('PendingUploads', ['expiresAt'], { name: 'pending_uploads_expires' });
  await queryInterface.addIndex('Sessions', ['expiresAt'], { name: 'sessions_expires' });
  await queryInterface.addIndex('Sessions', ['revokedAt'], { name: 'sessions_revoked' });
  await setTextCollation(sequelize, 'C'); // PostgreSQL: the new text column compares by code point
}

export async function down({
  context: { queryInterface, sequelize },
}: {
  context: MigrationContext;
}): Promise<void> {
  await queryInterface.removeIndex('Sessions', 'sessions_revoked');
  await queryInterface.removeIndex('Sessions', 'sessions_expires');
  await queryInterface.dropTable('PendingUploads');
  await queryInterface.removeIndex('Alerts', pendingEscalation.name);
  await queryInterface.removeIndex('Alerts', 'alerts_acknowledged_by');
  if (sequelize.getDialect() === 'sqlite') {
    // plain DROP COLUMN (SQLite ≥ 3.35): Sequelize's SQLite removeColumn rebuilds the table and loses its
    // AUTOINCREMENT, indexes and ON DELETE rules
    for (const column of ['acknowledgedById', 'acknowledgedAt', 'escalatedAt'])
      await sequelize.query(`ALTER TABLE "Alerts" DROP COLUMN "${column}"`);
  } else {
    for (const column of ['acknowledgedById', 'acknowledgedAt', 'escalatedAt'])
      await queryInterface.removeColumn('Alerts', column);
  }
}
