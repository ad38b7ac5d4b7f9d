import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
  type NonAttribute,
} from 'sequelize';
import { FluxModel, type References } from '../../lib/FluxModel.js';
import type { Group, PermissionTeam, PermissionUser } from '../../lib/permissions.js';
import type { Team } from './Team.js';

/**
 * Attributes a user may change on their own account without `user/admin`. A new password or e-mail of
 * one's own needs the current password too (api/controllers/UserController.ts).
 */
const selfWritable = ['name', 'password', 'email', 'preferences'] as const;

/**
 * A person with a login, member of one team. Read groups: `all`, `id:<id>`, `team:<teamId>`.
 * `user/read` reads everyone, `user/team` the members of one's team, `user/admin` writes everyone;
 * everyone reads and edits themself (name, password, e-mail, preferences). The password is stored as a
 * bcrypt hash (cost `config.auth.bcryptRounds`, see api/reactions.ts), hidden from every reply and event; a
 * new one ends the user's other sessions (api/services/AccountService.ts). The e-mail (optional, unique per
 * tenant) is where password resets and serious alerts are sent (docs/mail.md); whoever reads the user
 * reads it, like the login.
 */
export class User
  extends FluxModel<InferAttributes<User>, InferCreationAttributes<User>>
  implements PermissionUser
{
  declare id: CreationOptional<number>;
  declare tenantId: number;
  declare login: string;
  declare name: string | null;
  declare password: string;
  declare ip: string | null;
  /** Where mail for the user goes (docs/mail.md); null: none. Unique per tenant, compared as written. */
  declare email: CreationOptional<string | null>;
  declare teamId: number | null;
  declare preferences: CreationOptional<Record<string, unknown>>;
  /** When the avatar last changed (null: none); clients fetch `GET /user/avatar/:id` again when it moves. */
  declare avatarUpdatedAt: CreationOptional<Date | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare team?: NonAttribute<Team>;

  static override permissionLevels = ['read', 'team', 'admin'];
  static override hiddenAttributes = ['password'] as const;
  static override writableAttributes = ['login', 'name', 'password', 'email', 'ip', 'teamId', 'preferences'];
  /** A team with members cannot be destroyed: move them first. */
  static override references: References = { teamId: { model: 'Team', onDelete: 'restrict' } };
  static override readGroupRules = {
    id: { attribute: 'id', type: 'integer' as const },
    team: { attribute: 'teamId', type: 'integer' as const },
  };
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    login: {
      type: DataTypes.STRING(100),
      allowNull: false,
      validate: { len: [1, 100] as [number, number], is: /^[^\s]+$/ },
    },
    name: { type: DataTypes.STRING(200), allowNull: true },
    password: {
      type: DataTypes.STRING(200),
      allowNull: false,
      validate: {
        // Runs on the clear password before it is hashed (api/reactions.ts; a 60-character hash passes too).
        isValidLength(value: string) {
          const min = User.app.config.auth.minPasswordLength;
          if (value.length < min) throw new Error(`password must have at least ${min} characters`);
          // bcrypt reads only the first 72 bytes: longer passwords would be silently truncated
          if (Buffer.byteLength(value) > 72) throw new Error('password must have at most 72 bytes');
        },
      },
    },
    ip: { type: DataTypes.STRING(64), allowNull: true, validate: { isIP: true } },
    // RFC 5321 bounds a forward path to 256 octets, an address to 254 characters
    email: {
      type: DataTypes.STRING(254),
      allowNull: true,
      validate: { len: [3, 254] as [number, number], isEmail: { msg: 'email must be an e-mail address' } },
    },
    teamId: { type: DataTypes.INTEGER, allowNull: true },
    preferences: {
      type: DataTypes.JSON,
      allowNull: false,
      defaultValue: {},
      validate: {
        // a JSON column takes any value: the contract is an object of the client's settings
        isObject(value: unknown) {
          if (typeof value !== 'object' || value === null || Array.isArray(value))
            throw new Error('preferences must be an object');
        },
      },
    },
    avatarUpdatedAt: { type: DataTypes.DATE, allowNull: true },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };
  static override modelOptions = {
    indexes: [
      { unique: true, fields: ['tenantId', 'login'] },
      { unique: true, fields: ['tenantId', 'email'] },
    ],
  };

  static associate(models: { Team: typeof Team }): void {
    User.belongsTo(models.Team, { as: 'team', foreignKey: 'teamId', constraints: false });
  }

  static override getUserReadGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    const groups = super.getUserReadGroups(team, user);
    if (this.teamCan(team, 'team') && user.teamId !== null) groups.push(`team:${user.teamId}`);
    groups.push(`id:${user.id}`);
    return groups;
  }

  static override getUserUpdateGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    return [...super.getUserUpdateGroups(team, user), `id:${user.id}`];
  }

  /** Admins write every writable attribute; others only their own name, password, e-mail and preferences. */
  static override getWritableAttributes(
    team: PermissionTeam,
    user: PermissionUser,
    item?: FluxModel,
  ): readonly string[] {
    if (this.teamCan(team, 'admin')) return this.writableAttributes;
    return item && (item as User).id === user.id ? selfWritable : [];
  }
}
