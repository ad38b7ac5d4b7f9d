import { DataTypes } from 'sequelize';
import { setTextCollation } from '../lib/database.js';
import type { MigrationContext } from '../lib/migrator.js';

/**
 * E-mail (docs/mail.md):
 * - `Users.email`: optional, unique per tenant (a unique index on `tenantId, email`; NULLs, users without
 *   an e-mail, as many as needed on both databases).
 * - `PasswordResets`: the pending password reset of a user, at most one (the user id is the key, a new
 *   request replaces it). Only the SHA-256 of the token is stored, so a copy of the database holds no
 *   usable token; `expiresAt` bounds it; the row is deleted when the token is spent. Not a model: no route
 *   reads it and no event carries it. The rows go with their user and tenant (`ON DELETE CASCADE`): no
 *   subscriber sees them, so the database may remove them silently.
 */

export async function up({
  context: { queryInterface, sequelize },
}: {
  context: MigrationContext;
}): Promise<void> {
  await queryInterface.addColumn('Users', 'email', { type: DataTypes.STRING(254), allowNull: true });
  await queryInterface.addIndex('Users', ['tenantId', 'email'], { unique: true, name: 'users_tenant_email' });
  await queryInterface.createTable('PasswordResets', {
    userId: {
      type: DataTypes.INTEGER,
      primaryKey: true,
      allowNull: false,
      references: { model: 'Users', key: 'id' },
      onDelete: 'CASCADE',
    },
    tenantId: {
      type: DataTypes.INTEGER,
      allowNull: false,
      references: { model: 'Tenants', key: 'id' },
      onDelete: 'CASCADE',
    },
    /** Lower-case hex SHA-256 of the token. */
    tokenHash: { type: DataTypes.STRING(64), allowNull: false },
    expiresAt: { type: DataTypes.DATE, allowNull: false },
    createdAt: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('PasswordResets', ['tokenHash'], {
    unique: true,
    name: 'password_resets_token',
  });
  await setTextCollation(sequelize, 'C'); // PostgreSQL: the new text columns compare by code point
}

export async function down({
  context: { queryInterface, sequelize },
}: {
  context: MigrationContext;
}): Promise<void> {
  await queryInterface.dropTable('PasswordResets');
  await queryInterface.removeIndex('Users', 'users_tenant_email');
  // plain DROP COLUMN (SQLite ≥ 3.35): Sequelize's SQLite removeColumn rebuilds the table and loses its
  // AUTOINCREMENT, indexes and ON DELETE rules
  await sequelize.query('ALTER TABLE "Users" DROP COLUMN "email"');
}
