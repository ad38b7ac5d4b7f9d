import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
} from 'sequelize';
import { FluxModel } from '../../lib/FluxModel.js';
import type { Group, PermissionTeam, PermissionUser } from '../../lib/permissions.js';

/**
 * A team at the event (a bar, the logistics crew, the coordination desk). Permissions belong to the
 * team through its `role` (`config/roles.ts`); `group` gathers teams (e.g. all bars) for alert buttons
 * and group chat channels.
 */
export class Team
  extends FluxModel<InferAttributes<Team>, InferCreationAttributes<Team>>
  implements PermissionTeam
{
  declare id: CreationOptional<number>;
  declare tenantId: number;
  declare name: string;
  declare group: string | null;
  declare location: string | null;
  declare role: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  static override permissionLevels = ['read', 'admin'];
  static override writableAttributes = ['name', 'group', 'location', 'role'];
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    name: { type: DataTypes.STRING(100), allowNull: false, validate: { len: [1, 100] as [number, number] } },
    group: {
      type: DataTypes.STRING(100),
      allowNull: true,
      // `null` is how a missing value is written in group names: it cannot be a group itself
      validate: {
        is: { args: /^(?!null$)[^\s:]{1,100}$/, msg: 'group must be a word without spaces or colons' },
      },
    },
    location: { type: DataTypes.STRING(200), allowNull: true },
    role: {
      type: DataTypes.STRING(50),
      allowNull: false,
      validate: {
        isKnownRole(value: string) {
          if (!Team.app.roles.has(value))
            throw new Error(`role must be one of ${[...Team.app.roles.keys()].join(', ')}`);
        },
      },
    },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };
  static override modelOptions = {
    indexes: [{ unique: true, fields: ['tenantId', 'name'] }],
  };

  /** True when this team's role grants `permission` (`<model>/<level>`). */
  can(permission: string): boolean {
    return Team.app.roles.get(this.role)?.has(permission) ?? false;
  }

  /** The permissions of this team's role. */
  permissions(): string[] {
    return [...(Team.app.roles.get(this.role) ?? [])].sort();
  }

  /** Everyone also reads their own team. */
  static override getUserReadGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    const groups = super.getUserReadGroups(team, user);
    return user.teamId === null ? groups : [...groups, `id:${user.teamId}`];
  }
}
