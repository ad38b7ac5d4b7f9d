import { Op, type WhereOptions } from 'sequelize';

/**
 * The pure core of Flux permissions (docs/permissions.md). A user holds groups per model and action; an item
 * holds groups per action; the action is allowed when the two lists meet. Read groups are also rooms (§12),
 * and are turned into SQL filters here, from the same declaration that produces an item's groups, so that
 * "the item is in `find`" and "the item's read groups meet the user's" cannot drift apart.
 */

/** A group name such as `all`, `id:5` or `team:3`. `null` attribute values are written `<prefix>:null`. */
export type Group = string;

export const ALL = 'all';

/** True when the two lists share at least one group. */
export function intersects(userGroups: readonly Group[], itemGroups: readonly Group[]): boolean {
  if (userGroups.length === 0 || itemGroups.length === 0) return false;
  const smaller = userGroups.length < itemGroups.length ? userGroups : itemGroups;
  const larger = new Set(smaller === userGroups ? itemGroups : userGroups);
  return smaller.some((group) => larger.has(group));
}

/**
 * How an item's group of one prefix is derived, and how a user's group of that prefix becomes SQL.
 * - `{ attribute }`: the group is `<prefix>:<item[attribute]>` and selects `attribute = value`.
 * - `{ value, where }`: a derived group (e.g. a channel's category) with its own SQL.
 */
export type GroupRule =
  | { attribute: string; type?: 'integer' | 'string' }
  | { value: (item: Record<string, unknown>) => string | null; where: (value: string) => WhereOptions };

/** The group rules of a model, by prefix; `all` is implicit and never a rule. */
export type GroupRules = Record<string, GroupRule>;

function groupValue(value: unknown): string {
  return value === null || value === undefined ? 'null' : String(value);
}

/** The groups of an item under `rules`: `['all', '<prefix>:<value>', …]` in the rules' order. */
export function itemGroups(item: Record<string, unknown>, rules: GroupRules): Group[] {
  const groups: Group[] = [ALL];
  for (const [prefix, rule] of Object.entries(rules)) {
    if ('attribute' in rule) {
      const value = item[rule.attribute];
      // an item not saved yet has no id: it has no `id:` group rather than `id:null`
      if (rule.attribute === 'id' && (value === null || value === undefined)) continue;
      groups.push(`${prefix}:${groupValue(value)}`);
    } else {
      const value = rule.value(item);
      if (value !== null) groups.push(`${prefix}:${value}`);
    }
  }
  return groups;
}

/** Sentinel: the user's groups select no item at all (callers skip the query). */
export const NOTHING = null;

/**
 * The SQL equivalent of "the item's groups meet `userGroups`": `{}` when the user has `all`,
 * `NOTHING` when no group can match, else an `Op.or` of one condition per usable group.
 * Groups of unknown prefixes select nothing (they cannot be on any item).
 */
export function groupsToWhere(
  userGroups: readonly Group[],
  rules: GroupRules,
): WhereOptions | typeof NOTHING {
  if (userGroups.includes(ALL)) return {};
  const conditions: WhereOptions[] = [];
  for (const group of userGroups) {
    const colon = group.indexOf(':');
    if (colon < 0) continue;
    const rule = rules[group.slice(0, colon)];
    if (!rule) continue;
    const raw = group.slice(colon + 1);
    if (!('attribute' in rule)) {
      conditions.push(rule.where(raw));
      continue;
    }
    if (raw === 'null') {
      conditions.push({ [rule.attribute]: { [Op.is]: null } });
      continue;
    }
    if (rule.type === 'integer') {
      if (!/^-?\d+$/.test(raw)) continue;
      conditions.push({ [rule.attribute]: Number(raw) });
    } else {
      conditions.push({ [rule.attribute]: raw });
    }
  }
  if (conditions.length === 0) return NOTHING;
  return conditions.length === 1 ? conditions[0] : { [Op.or]: conditions };
}

/** The minimal view of a team that permission code needs: `team.can('alert/read')`. */
export interface PermissionTeam {
  id: number;
  can(permission: string): boolean;
}

/** The minimal view of an authenticated user. */
export interface PermissionUser {
  id: number;
  teamId: number | null;
}

/** The CRUD actions that carry groups. */
export type Action = 'read' | 'create' | 'update' | 'destroy';

/** Parses a role table (role → `<namespace>/<level>` strings) into sets, checking every name. */
export function parseRoles(
  roles: Record<string, unknown>,
  known: Record<string, readonly string[]>,
): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const [role, permissions] of Object.entries(roles)) {
    if (!Array.isArray(permissions)) throw new Error(`roles.${role}: must be a list of permissions`);
    const set = new Set<string>();
    for (const permission of permissions) {
      const [namespace, level, extra] = typeof permission === 'string' ? permission.split('/') : [];
      if (!namespace || !level || extra !== undefined) {
        throw new Error(`roles.${role}: "${String(permission)}" is not of the form <model>/<level>`);
      }
      const levels = known[namespace];
      if (!levels)
        throw new Error(`roles.${role}: "${permission}" names an unknown model or namespace "${namespace}"`);
      if (!levels.includes(level)) {
        throw new Error(
          `roles.${role}: "${permission}" is not a level of ${namespace} (${levels.join(', ')})`,
        );
      }
      set.add(permission);
    }
    result.set(role, set);
  }
  return result;
}

/** The team of a user who has none: it can do nothing. */
export const noTeam: PermissionTeam = { id: 0, can: () => false };
