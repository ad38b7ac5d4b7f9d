import { DataTypes } from 'sequelize';
import type { MigrationContext } from '../lib/migrator.js';

/** Alert buttons, alerts and chat messages (docs/reference.md#permissions-and-models). */

const id = { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true, allowNull: false };
const timestamps = {
  createdAt: { type: DataTypes.DATE, allowNull: false },
  updatedAt: { type: DataTypes.DATE, allowNull: false },
};
const tenantId = {
  type: DataTypes.INTEGER,
  allowNull: false,
  references: { model: 'Tenants', key: 'id' },
  onDelete: 'CASCADE',
};
const team = { type: DataTypes.INTEGER, allowNull: true, references: { model: 'Teams', key: 'id' } };

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('AlertButtons', {
    id,
    tenantId,
    title: { type: DataTypes.STRING(200), allowNull: false },
    category: { type: DataTypes.STRING(100), allowNull: true },
    senderGroup: { type: DataTypes.STRING(100), allowNull: true },
    receiverTeamId: team,
    messageRequired: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    messagePrompt: { type: DataTypes.STRING(500), allowNull: true },
    messageDefault: { type: DataTypes.STRING(2000), allowNull: true },
    ...timestamps,
  });
  await queryInterface.addIndex('AlertButtons', ['tenantId', 'senderGroup'], {
    name: 'alert_buttons_tenant_group',
  });
  await queryInterface.createTable('Alerts', {
    id,
    tenantId,
    title: { type: DataTypes.STRING(200), allowNull: false },
    severity: { type: DataTypes.STRING(16), allowNull: false },
    message: { type: DataTypes.TEXT, allowNull: true },
    senderTeamId: team,
    receiverTeamId: team,
    buttonId: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'AlertButtons', key: 'id' } },
    users: { type: DataTypes.JSON, allowNull: false },
    ...timestamps,
  });
  await queryInterface.addIndex('Alerts', ['tenantId', 'receiverTeamId'], { name: 'alerts_tenant_receiver' });
  await queryInterface.addIndex('Alerts', ['tenantId', 'senderTeamId'], { name: 'alerts_tenant_sender' });
  await queryInterface.createTable('Messages', {
    id,
    tenantId,
    text: { type: DataTypes.TEXT, allowNull: false },
    channel: { type: DataTypes.STRING(120), allowNull: false },
    userId: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'Users', key: 'id' } },
    ...timestamps,
  });
  await queryInterface.addIndex('Messages', ['tenantId', 'channel', 'createdAt'], {
    name: 'messages_tenant_channel',
  });
}

export async function down({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.dropTable('Messages');
  await queryInterface.dropTable('Alerts');
  await queryInterface.dropTable('AlertButtons');
}
