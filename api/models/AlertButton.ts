import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
} from 'sequelize';
import { FluxModel, type References } from '../../lib/FluxModel.js';
import type { Group, PermissionTeam, PermissionUser } from '../../lib/permissions.js';

/**
 * A button on the phones of a group of teams ("Out of beer", "Fight at the bar") that raises an alert to
 * a receiver team. Read groups: `all`, `senderGroup:<group>`.
 * - `alertButton/read`: reads every button; `alertButton/admin`: also writes them.
 * - `alertButton/createAlert`: reads the buttons of its team's group, and raises alerts from them.
 */
export class AlertButton extends FluxModel<
  InferAttributes<AlertButton>,
  InferCreationAttributes<AlertButton>
> {
  declare id: CreationOptional<number>;
  declare tenantId: number;
  declare title: string;
  declare category: string | null;
  declare senderGroup: string | null;
  declare receiverTeamId: number | null;
  declare messageRequired: CreationOptional<boolean>;
  declare messagePrompt: string | null;
  declare messageDefault: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  static override permissionLevels = ['read', 'createAlert', 'admin'];
  static override writableAttributes = [
    'title',
    'category',
    'senderGroup',
    'receiverTeamId',
    'messageRequired',
    'messagePrompt',
    'messageDefault',
  ];
  /** A team that receives a button's alerts cannot be destroyed: move the button first. */
  static override references: References = { receiverTeamId: { model: 'Team', onDelete: 'restrict' } };
  static override readGroupRules = { senderGroup: { attribute: 'senderGroup' } };
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    title: { type: DataTypes.STRING(200), allowNull: false, validate: { len: [1, 200] as [number, number] } },
    category: { type: DataTypes.STRING(100), allowNull: true },
    senderGroup: {
      type: DataTypes.STRING(100),
      allowNull: true,
      validate: {
        is: { args: /^(?!null$)[^\s:]{1,100}$/, msg: 'senderGroup must be a word without spaces or colons' },
      },
    },
    receiverTeamId: { type: DataTypes.INTEGER, allowNull: true },
    messageRequired: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    messagePrompt: { type: DataTypes.STRING(500), allowNull: true },
    messageDefault: { type: DataTypes.STRING(2000), allowNull: true },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };

  static override getUserReadGroups(
    team: PermissionTeam & { group?: string | null },
    user: PermissionUser,
  ): Group[] {
    const groups = super.getUserReadGroups(team, user);
    if (this.teamCan(team, 'createAlert') && team.group) groups.push(`senderGroup:${team.group}`);
    return groups;
  }
}
