import { DataTypes } from 'sequelize';
import { FluxModel } from '../../../../../lib/FluxModel.js';
import { ALL, type Group, type PermissionTeam, type PermissionUser } from '../../../../../lib/permissions.js';

/**
 * A toy model for the conformance suite: a card has a title, a colour, an optional owner and a hidden
 * note. A team that can `card/read` reads every card and `card/admin` writes every card; anyone else reads
 * and writes the cards they own (group `owner:<user id>`), so that changing `ownerId` moves a card in and
 * out of a user's view.
 */
export class Card extends FluxModel {
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    title: { type: DataTypes.STRING(100), allowNull: false, validate: { len: [1, 100] as [number, number] } },
    color: { type: DataTypes.ENUM('red', 'blue'), allowNull: false, defaultValue: 'red' },
    size: { type: DataTypes.INTEGER, allowNull: true },
    ownerId: { type: DataTypes.INTEGER, allowNull: true },
    note: { type: DataTypes.STRING(200), allowNull: true },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };
  static override hiddenAttributes = ['note'];
  static override writableAttributes = ['title', 'color', 'size', 'ownerId', 'note'];
  static override readGroupRules = {
    id: { attribute: 'id', type: 'integer' as const },
    owner: { attribute: 'ownerId', type: 'integer' as const },
  };

  private static own(user: PermissionUser): Group[] {
    return [`owner:${user.id}`];
  }

  static override getUserReadGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    return this.teamCan(team, 'read') || this.teamCan(team, 'admin') ? [ALL] : Card.own(user);
  }

  static override getUserCreateGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    return this.teamCan(team, 'admin') ? [ALL] : Card.own(user);
  }

  static override getUserUpdateGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    return this.getUserCreateGroups(team, user);
  }

  static override getUserDestroyGroups(team: PermissionTeam, user: PermissionUser): Group[] {
    return this.getUserCreateGroups(team, user);
  }
}
