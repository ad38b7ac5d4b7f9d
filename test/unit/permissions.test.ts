import { Op } from 'sequelize';
import { describe, expect, it } from 'vitest';
import { groupsToWhere, intersects, itemGroups, NOTHING, parseRoles } from '../../lib/permissions.js';

describe('intersects', () => {
  it('is true only when the lists share a group', () => {
    expect(intersects(['all'], ['all', 'id:1'])).toBe(true);
    expect(intersects(['id:2', 'team:3'], ['all', 'id:1', 'team:3'])).toBe(true);
    expect(intersects(['id:2'], ['all', 'id:1'])).toBe(false);
    expect(intersects([], ['all'])).toBe(false);
    expect(intersects(['all'], [])).toBe(false);
  });
});

const rules = {
  id: { attribute: 'id', type: 'integer' as const },
  team: { attribute: 'teamId', type: 'integer' as const },
  channel: { attribute: 'channel' },
};

describe('itemGroups', () => {
  it('derives all, then one group per rule, with null values written "null"', () => {
    expect(itemGroups({ id: 5, teamId: null, channel: 'public:1' }, rules)).toEqual([
      'all',
      'id:5',
      'team:null',
      'channel:public:1',
    ]);
  });

  it('has no id group before the item is saved', () => {
    expect(itemGroups({ teamId: 3, channel: 'x' }, rules)).toEqual(['all', 'team:3', 'channel:x']);
  });

  it('uses derived rules', () => {
    const derived = {
      category: {
        value: (item: Record<string, unknown>) => String(item.channel).split(':')[0],
        where: () => ({}),
      },
    };
    expect(itemGroups({ channel: 'group:bars' }, derived)).toEqual(['all', 'category:group']);
  });
});

describe('groupsToWhere', () => {
  it('selects everything for "all"', () => {
    expect(groupsToWhere(['all', 'id:1'], rules)).toEqual({});
  });

  it('selects nothing without usable groups', () => {
    expect(groupsToWhere([], rules)).toBe(NOTHING);
    expect(groupsToWhere(['unknown:1', 'noprefix'], rules)).toBe(NOTHING);
    expect(groupsToWhere(['id:abc'], rules)).toBe(NOTHING);
  });

  it('turns each group into a condition on its attribute, typed', () => {
    expect(groupsToWhere(['id:5'], rules)).toEqual({ id: 5 });
    expect(groupsToWhere(['id:5', 'team:null', 'channel:public:1'], rules)).toEqual({
      [Op.or]: [{ id: 5 }, { teamId: { [Op.is]: null } }, { channel: 'public:1' }],
    });
  });
});

describe('parseRoles', () => {
  const known = { user: ['read', 'admin'], auth: ['as'] };

  it('parses roles into permission sets', () => {
    const roles = parseRoles({ admin: ['user/admin', 'auth/as'], guest: [] }, known);
    expect(roles.get('admin')).toEqual(new Set(['user/admin', 'auth/as']));
    expect(roles.get('guest')).toEqual(new Set());
  });

  it.each([
    [{ x: 'user/read' }, /must be a list/],
    [{ x: ['user'] }, /<model>\/<level>/],
    [{ x: ['user/read/more'] }, /<model>\/<level>/],
    [{ x: ['alert/read'] }, /unknown model or namespace "alert"/],
    [{ x: ['user/write'] }, /not a level of user/],
  ])('refuses %j', (roles, message) => {
    expect(() => parseRoles(roles, known)).toThrow(message);
  });
});
