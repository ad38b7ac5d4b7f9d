import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
} from 'sequelize';
import { FluxModel, type References } from '../../lib/FluxModel.js';
import type { Group, PermissionTeam, PermissionUser } from '../../lib/permissions.js';

/**
 * A file uploaded straight to S3 with a pre-signed URL and confirmed (docs/reference.md#uploads). Read
 * groups: `all`, `user:<userId>`: a user reads their own uploads, `upload/read` everyone's.
 */
export class Upload extends FluxModel<InferAttributes<Upload>, InferCreationAttributes<Upload>> {
  declare id: CreationOptional<number>;
  declare tenantId: number;
  declare userId: number | null;
  declare key: string;
  declare filename: string;
  declare contentType: string;
  declare size: number;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  static override permissionLevels = ['read', 'admin'];
  /** Uploads outlive the user who made them. */
  static override references: References = { userId: { model: 'User', onDelete: 'set null' } };
  static override readGroupRules = { user: { attribute: 'userId', type: 'integer' as const } };
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    userId: { type: DataTypes.INTEGER, allowNull: true },
    key: { type: DataTypes.STRING(512), allowNull: false },
    filename: { type: DataTypes.STRING(255), allowNull: false },
    contentType: { type: DataTypes.STRING(100), allowNull: false },
    size: { type: DataTypes.INTEGER, allowNull: false },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };

  static override getUserReadGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    return [...super.getUserReadGroups(team, user), `user:${user.id}`];
  }
}
