import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
} from 'sequelize';
import { FluxModel, type References } from '../../lib/FluxModel.js';
import { ALL, type Group, type PermissionTeam, type PermissionUser } from '../../lib/permissions.js';

export const severities = ['done', 'warning', 'serious'] as const;
export type Severity = (typeof severities)[number];

/** What a team that handles an alert (not an admin) may change on it. */
const handlerWritable = ['severity', 'message'] as const;

/**
 * An alert raised by a sender team, for a receiver team (or for nobody in particular: `null`).
 * Read groups: `all`, `id:<id>`, `senderTeam:<id>`, `receiverTeam:<id|null>`.
 * - `alert/read`: reads all; `alert/admin`: reads and writes all.
 * - `alert/restrictedSender`: reads, creates and updates the alerts its team sent.
 * - `alert/restrictedReceiver`: reads and updates the alerts sent to its team.
 * - `alert/nullReceiver`: reads and updates the alerts sent to nobody in particular.
 * Non-admin handlers change only `severity` and `message` (and the assigned users, `PUT /alert/:id/users`).
 * `escalatedAt`, `acknowledgedAt` and `acknowledgedById` are never written by a client: see
 * {@link Alert.getUserAcknowledgeGroups} and docs/escalation.md.
 */
export class Alert extends FluxModel<InferAttributes<Alert>, InferCreationAttributes<Alert>> {
  declare id: CreationOptional<number>;
  declare tenantId: number;
  declare title: string;
  declare severity: Severity;
  declare message: string | null;
  declare senderTeamId: number | null;
  declare receiverTeamId: number | null;
  declare buttonId: number | null;
  declare users: CreationOptional<number[]>;
  /** When the alert, a `warning` nobody acknowledged in time, became `serious` (the escalation job). */
  declare escalatedAt: CreationOptional<Date | null>;
  /** When a handler first acknowledged it (`POST /alert/:id/acknowledge`); it then never escalates. */
  declare acknowledgedAt: CreationOptional<Date | null>;
  /** Who acknowledged it; null once that user is destroyed (the time stays). */
  declare acknowledgedById: CreationOptional<number | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  static override permissionLevels = [
    'read',
    'restrictedSender',
    'restrictedReceiver',
    'nullReceiver',
    'admin',
  ];
  static override writableAttributes = [
    'title',
    'severity',
    'message',
    'senderTeamId',
    'receiverTeamId',
    'buttonId',
    'users',
  ];
  /**
   * A team with alerts cannot be destroyed: clearing an alert's receiver would hand the alert to the teams
   * that handle alerts sent to nobody. Alerts outlive their button, and the user who acknowledged them
   * (`acknowledgedAt` stays: the alert stays acknowledged).
   */
  static override references: References = {
    senderTeamId: { model: 'Team', onDelete: 'restrict' },
    receiverTeamId: { model: 'Team', onDelete: 'restrict' },
    buttonId: { model: 'AlertButton', onDelete: 'set null' },
    acknowledgedById: { model: 'User', onDelete: 'set null' },
  };
  static override readGroupRules = {
    id: { attribute: 'id', type: 'integer' as const },
    senderTeam: { attribute: 'senderTeamId', type: 'integer' as const },
    receiverTeam: { attribute: 'receiverTeamId', type: 'integer' as const },
  };
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    title: { type: DataTypes.STRING(200), allowNull: false, validate: { len: [1, 200] as [number, number] } },
    severity: { type: DataTypes.ENUM(...severities), allowNull: false, defaultValue: 'warning' },
    message: { type: DataTypes.TEXT, allowNull: true, validate: { len: [0, 5000] as [number, number] } },
    senderTeamId: { type: DataTypes.INTEGER, allowNull: true },
    receiverTeamId: { type: DataTypes.INTEGER, allowNull: true },
    buttonId: { type: DataTypes.INTEGER, allowNull: true },
    users: {
      type: DataTypes.JSON,
      allowNull: false,
      defaultValue: [],
      validate: {
        isUserIdList(value: unknown) {
          if (
            !Array.isArray(value) ||
            value.length > 100 ||
            !value.every((id) => Number.isSafeInteger(id) && id > 0)
          ) {
            throw new Error('users must be a list of at most 100 user ids');
          }
        },
      },
    },
    // set by the server only: acknowledgement through its route, escalation by its job (docs/escalation.md)
    escalatedAt: { type: DataTypes.DATE, allowNull: true },
    acknowledgedAt: { type: DataTypes.DATE, allowNull: true },
    acknowledgedById: { type: DataTypes.INTEGER, allowNull: true },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };

  static override getUserReadGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    const groups = super.getUserReadGroups(team, user);
    if (this.teamCan(team, 'restrictedSender')) groups.push(`senderTeam:${team.id}`);
    if (this.teamCan(team, 'restrictedReceiver')) groups.push(`receiverTeam:${team.id}`);
    if (this.teamCan(team, 'nullReceiver')) groups.push('receiverTeam:null');
    return groups;
  }

  static override getUserCreateGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    const groups = super.getUserCreateGroups(team, user);
    if (this.teamCan(team, 'restrictedSender')) groups.push(`senderTeam:${team.id}`);
    return groups;
  }

  /** Handlers (sender, receiver, null-receiver teams) update what they read, except admin fields. */
  static override getUserUpdateGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    return [
      ...super.getUserUpdateGroups(team, user),
      ...this.getUserReadGroups(team, user).filter((g) => g !== 'all'),
    ];
  }

  /**
   * The user's groups for acknowledging an alert it reads (`POST /alert/:id/acknowledge`,
   * docs/permissions.md): `all` with `alert/admin`; `receiverTeam:<own team>` for every member of a team,
   * whatever its alert level — the receiver team is the one expected to answer; `receiverTeam:null` with
   * `alert/nullReceiver`, the handlers of alerts sent to nobody, which would otherwise always escalate.
   */
  static getUserAcknowledgeGroups(team: PermissionTeam, _user: PermissionUser): Group[] {
    const groups: Group[] = this.teamCan(team, 'admin') ? [ALL] : [];
    if (team.id) groups.push(`receiverTeam:${team.id}`);
    if (this.teamCan(team, 'nullReceiver')) groups.push('receiverTeam:null');
    return groups;
  }

  /** The alert's groups for acknowledging it: `all`, `receiverTeam:<id|null>`. */
  getAcknowledgeGroups(): Group[] {
    return [ALL, `receiverTeam:${this.receiverTeamId ?? 'null'}`];
  }

  static override getWritableAttributes(
    team: PermissionTeam,
    _user: PermissionUser,
    item?: FluxModel,
  ): readonly string[] {
    if (this.teamCan(team, 'admin')) return this.writableAttributes;
    // creating: a sender team sets the content and the receiver, never another sender
    return item ? handlerWritable : ['title', 'severity', 'message', 'receiverTeamId', 'buttonId'];
  }
}
