import { DataTypes } from 'sequelize';
import type { MigrationContext } from '../lib/migrator.js';

/**
 * Avatars (a timestamp on users, so that clients know when to fetch them again) and direct uploads
 * (docs/reference.md#uploads).
 */

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addColumn('Users', 'avatarUpdatedAt', { type: DataTypes.DATE, allowNull: true });
  await queryInterface.createTable('Uploads', {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true, allowNull: false },
    tenantId: {
      type: DataTypes.INTEGER,
      allowNull: false,
      references: { model: 'Tenants', key: 'id' },
      onDelete: 'CASCADE',
    },
    userId: { type: DataTypes.INTEGER, allowNull: true, references: { model: 'Users', key: 'id' } },
    key: { type: DataTypes.STRING(512), allowNull: false, unique: true },
    filename: { type: DataTypes.STRING(255), allowNull: false },
    contentType: { type: DataTypes.STRING(100), allowNull: false },
    size: { type: DataTypes.INTEGER, allowNull: false },
    createdAt: { type: DataTypes.DATE, allowNull: false },
    updatedAt: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('Uploads', ['tenantId', 'userId'], { name: 'uploads_tenant_user' });
}

export async function down({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.dropTable('Uploads');
  if (queryInterface.sequelize.getDialect() === 'sqlite') {
    // SQLite ≥ 3.35 drops a column in place; Sequelize's removeColumn would rebuild the table instead,
    // which trips over the composite unique index and the foreign keys pointing at Users
    await queryInterface.sequelize.query('ALTER TABLE `Users` DROP COLUMN `avatarUpdatedAt`');
  } else {
    await queryInterface.removeColumn('Users', 'avatarUpdatedAt');
  }
}
