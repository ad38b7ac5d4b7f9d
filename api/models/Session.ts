import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
} from 'sequelize';
import { FluxModel, type References } from '../../lib/FluxModel.js';
import type { Group, PermissionTeam, PermissionUser } from '../../lib/permissions.js';

/**
 * A login: every token carries its session id, and revoking the session revokes its tokens
 * (docs/reference.md#authentication-and-sessions). Read groups: `all`, `user:<userId>`; a user reads their
 * own sessions, `session/read` reads all.
 */
export class Session extends FluxModel<InferAttributes<Session>, InferCreationAttributes<Session>> {
  declare id: CreationOptional<number>;
  declare tenantId: number;
  declare userId: number;
  /** Who opened the session as `userId` through `POST /auth/as/:id`; null for a login. */
  declare actorId: CreationOptional<number | null>;
  /** The actor's session it was opened from (`POST /auth/as/:id`): revoking that one revokes this one. */
  declare actorSessionId: CreationOptional<number | null>;
  declare ip: string | null;
  declare userAgent: string | null;
  declare socketId: string | null;
  declare lastAction: Date | null;
  declare disconnectedAt: Date | null;
  declare revokedAt: Date | null;
  declare expiresAt: Date | null;
  /** A fixed end of life (an impersonation ends with its actor's session); null: `auth.sessionMaxAgeMs`. */
  declare notAfter: CreationOptional<Date | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  static override permissionLevels = ['read', 'admin'];
  static override hiddenAttributes = ['socketId'] as const;
  /**
   * A user's sessions go with the user. `actorId` and `actorSessionId` are records, not references: no
   * foreign key, they keep naming a user or session that is gone.
   */
  static override references: References = { userId: { model: 'User', onDelete: 'cascade' } };
  static override readGroupRules = { user: { attribute: 'userId', type: 'integer' as const } };
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    userId: { type: DataTypes.INTEGER, allowNull: false },
    actorId: { type: DataTypes.INTEGER, allowNull: true },
    actorSessionId: { type: DataTypes.INTEGER, allowNull: true },
    ip: { type: DataTypes.STRING(64), allowNull: true },
    userAgent: { type: DataTypes.STRING(512), allowNull: true },
    socketId: { type: DataTypes.STRING(64), allowNull: true },
    lastAction: { type: DataTypes.DATE, allowNull: true },
    disconnectedAt: { type: DataTypes.DATE, allowNull: true },
    revokedAt: { type: DataTypes.DATE, allowNull: true },
    expiresAt: { type: DataTypes.DATE, allowNull: true },
    notAfter: { type: DataTypes.DATE, allowNull: true },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };

  static override getUserReadGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    return [...super.getUserReadGroups(team, user), `user:${user.id}`];
  }
}
