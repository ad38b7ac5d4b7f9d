import { DataTypes } from 'sequelize';
import type { MigrationContext } from '../lib/migrator.js';

/**
 * Tenants, teams, users and sessions (docs/reference.md#authentication-and-sessions, #tenants,
 * #permissions-and-models; docs/permissions.md).
 */

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

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('Tenants', {
    id,
    name: { type: DataTypes.STRING(200), allowNull: false },
    slug: { type: DataTypes.STRING(63), allowNull: false, unique: true },
    settings: { type: DataTypes.JSON, allowNull: false },
    ...timestamps,
  });
  await queryInterface.createTable('Teams', {
    id,
    tenantId,
    name: { type: DataTypes.STRING(100), allowNull: false },
    group: { type: DataTypes.STRING(100), allowNull: true },
    location: { type: DataTypes.STRING(200), allowNull: true },
    role: { type: DataTypes.STRING(50), allowNull: false },
    ...timestamps,
  });
  await queryInterface.addIndex('Teams', ['tenantId', 'name'], { unique: true, name: 'teams_tenant_name' });
  await queryInterface.createTable('Users', {
    id,
    tenantId,
    login: { type: DataTypes.STRING(100), allowNull: false },
    name: { type: DataTypes.STRING(200), allowNull: true },
    password: { type: DataTypes.STRING(200), allowNull: false },
    ip: { type: DataTypes.STRING(64), allowNull: true },
    teamId: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'Teams', key: 'id' } },
    preferences: { type: DataTypes.JSON, allowNull: false },
    ...timestamps,
  });
  await queryInterface.addIndex('Users', ['tenantId', 'login'], { unique: true, name: 'users_tenant_login' });
  await queryInterface.addIndex('Users', ['teamId'], { name: 'users_team' });
  await queryInterface.createTable('Sessions', {
    id,
    tenantId,
    userId: {
      type: DataTypes.INTEGER,
      allowNull: false,
      references: { model: 'Users', key: 'id' },
      onDelete: 'CASCADE',
    },
    ip: { type: DataTypes.STRING(64), allowNull: true },
    userAgent: { type: DataTypes.STRING(512), allowNull: true },
    socketId: { type: DataTypes.STRING(64), allowNull: true },
    lastAction: { type: DataTypes.DATE, allowNull: true },
    disconnectedAt: { type: DataTypes.DATE, allowNull: true },
    revokedAt: { type: DataTypes.DATE, allowNull: true },
    expiresAt: { type: DataTypes.DATE, allowNull: true },
    ...timestamps,
  });
  await queryInterface.addIndex('Sessions', ['userId'], { name: 'sessions_user' });
}

export async function down({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.dropTable('Sessions');
  await queryInterface.dropTable('Users');
  await queryInterface.dropTable('Teams');
  await queryInterface.dropTable('Tenants');
}
