import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
  Op,
} from 'sequelize';
import { FluxModel, type References } from '../../lib/FluxModel.js';
import type { Group, PermissionTeam, PermissionUser } from '../../lib/permissions.js';

export const channelCategories = ['public', 'group', 'private'] as const;
export type ChannelCategory = (typeof channelCategories)[number];

/** `public:<teamId>`, `private:<teamId>` or `group:<group>`. */
export const channelPattern = /^(?:(public|private):([1-9]\d{0,9})|(group):([^\s:]{1,100}))$/;

/** The category of a channel name, or null when it is not a channel. */
export function channelCategory(channel: unknown): ChannelCategory | null {
  if (typeof channel !== 'string') return null;
  const match = channelPattern.exec(channel);
  return match ? ((match[1] ?? match[3]) as ChannelCategory) : null;
}

type ChatTeam = PermissionTeam & { group?: string | null };

/**
 * A chat message in a channel (docs/reference.md#permissions-and-models): `public:<teamId>` (a team's public
 * channel), `group:<group>` (the teams of a group), `private:<teamId>` (a team and the coordination).
 * Read groups: `all`, `channel:<channel>`, `category:<public|group|private>`.
 * - `message/oneChannel`: reads its team's public channel and its group's channel; sends only in the first.
 * - `message/public`: reads and sends in every public channel, and in its own group's channel.
 * - `message/group`: (with `public`) reads and sends in every group channel.
 * - `message/private`: (with `public`) reads and sends in its own team's private channel.
 * - `message/admin`: reads, sends, edits and deletes everywhere.
 * Authors edit and delete their own messages, within the channels they may send to.
 */
export class Message extends FluxModel<InferAttributes<Message>, InferCreationAttributes<Message>> {
  declare id: CreationOptional<number>;
  declare tenantId: number;
  declare text: string;
  declare channel: string;
  declare userId: number | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  static override permissionLevels = ['oneChannel', 'public', 'group', 'private', 'admin'];
  static override writableAttributes = ['text', 'channel'];
  /** Messages outlive their author. */
  static override references: References = { userId: { model: 'User', onDelete: 'set null' } };
  static override readGroupRules = {
    channel: { attribute: 'channel' },
    category: {
      value: (item: Record<string, unknown>) => channelCategory(item.channel),
      where: (category: string) =>
        (channelCategories as readonly string[]).includes(category)
          ? { channel: { [Op.like]: `${category}:%` } }
          : { channel: { [Op.is]: null } },
    },
  };
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    text: { type: DataTypes.TEXT, allowNull: false, validate: { len: [1, 5000] as [number, number] } },
    channel: {
      type: DataTypes.STRING(120),
      allowNull: false,
      validate: {
        is: {
          args: channelPattern,
          msg: 'channel must be public:<teamId>, group:<group> or private:<teamId>',
        },
      },
    },
    userId: { type: DataTypes.INTEGER, allowNull: true },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };

  static override getUserReadGroups(team: ChatTeam, user: PermissionUser): Group[] {
    if (this.teamCan(team, 'admin')) return ['all'];
    const groups: Group[] = [];
    if (this.teamCan(team, 'oneChannel')) {
      groups.push(`channel:public:${team.id}`);
      if (team.group) groups.push(`channel:group:${team.group}`);
    }
    groups.push(...this.publicGroups(team, user));
    return groups;
  }

  /** Where a team may send: like reading, except that `oneChannel` sends only in its public channel. */
  static override getUserCreateGroups(team: ChatTeam, user: PermissionUser): Group[] {
    if (this.teamCan(team, 'admin')) return ['all'];
    const groups: Group[] = [];
    if (this.teamCan(team, 'oneChannel')) groups.push(`channel:public:${team.id}`);
    groups.push(...this.publicGroups(team, user));
    return groups;
  }

  /** Editing moves a message only between channels one may send to (authorship is checked by the controller). */
  static override getUserUpdateGroups(team: ChatTeam, user: PermissionUser): Group[] {
    return this.getUserCreateGroups(team, user);
  }

  static override getUserDestroyGroups(team: ChatTeam, user: PermissionUser): Group[] {
    return this.getUserCreateGroups(team, user);
  }

  private static publicGroups(team: ChatTeam, _user: PermissionUser): Group[] {
    if (!this.teamCan(team, 'public')) return [];
    const groups: Group[] = ['category:public'];
    if (team.group) groups.push(`channel:group:${team.group}`);
    if (this.teamCan(team, 'group')) groups.push('category:group');
    if (this.teamCan(team, 'private')) groups.push(`channel:private:${team.id}`);
    return groups;
  }
}
