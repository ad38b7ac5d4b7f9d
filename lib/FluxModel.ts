import { Model, type ModelAttributes, type ModelOptions, type ModelStatic } from 'sequelize';
import type { FluxConfig } from './config.js';
import type { Logger } from './log.js';
import {
  ALL,
  type Group,
  type GroupRules,
  groupsToWhere,
  itemGroups,
  type PermissionTeam,
  type PermissionUser,
} from './permissions.js';
import { type AttributeInfo, type AttributeMap, attributeKind } from './query.js';

/**
 * What a model is handed at load time (`loadModels`), e.g. for a validator that checks a role name:
 * the validated config, the role table and the log. {@link FluxModel.app} reads it.
 */
export interface ModelContext {
  /** The validated config: the framework's keys and the application's registered ones. */
  readonly config: FluxConfig;
  /** Role name → permission set (`<model>/<level>`), once checked at start. */
  readonly roles: ReadonlyMap<string, ReadonlySet<string>>;
  readonly log: Logger;
}

/**
 * What destroying a referenced row does to the rows that reference it:
 * - `restrict`: the destroy is refused (400 "Team 3 is referenced by 2 User …") while any row of the
 *   tenant references it;
 * - `cascade`: the referencing rows are destroyed with it (their own references followed in turn);
 * - `set null`: the referencing attribute is cleared (it must allow null).
 */
export type OnDelete = 'restrict' | 'cascade' | 'set null';

/** One foreign key of a model (see {@link FluxModel.references}); it references the target's `id`. */
export interface Reference {
  /** The referenced model's name, e.g. `'Team'`. */
  readonly model: string;
  /** The rule applied to the referencing rows when the referenced row is destroyed. */
  readonly onDelete: OnDelete;
}

/** A model's foreign keys: attribute → {@link Reference}. */
export type References = Readonly<Record<string, Reference>>;

/** The lowerCamelCase public name of a model: `AlertButton` → `alertButton` (events, permissions). */
export function publicModelName(modelName: string): string {
  return modelName.charAt(0).toLowerCase() + modelName.slice(1);
}

/**
 * Base class of every Flux model: a Sequelize model that declares, as static data, what the framework
 * needs to serve it — attributes, hidden and writable attributes, permission levels and read-group rules.
 *
 * Defaults (docs/permissions.md): a user has group `all` for read when the team can `<model>/read` or
 * `<model>/admin`, and for create/update/destroy when it can `<model>/admin`; an item has
 * `['all', 'id:<id>']` for every action. Override the static `getUser…Groups` and instance `get…Groups`
 * to change them, and `readGroupRules` (or `getReadFilters`) so that `find` stays equivalent.
 */
export abstract class FluxModel<
  // biome-ignore lint/suspicious/noExplicitAny: Sequelize's own Model defaults its generics to any
  TAttributes extends {} = any,
  TCreation extends {} = TAttributes,
> extends Model<TAttributes, TCreation> {
  /** Sequelize attribute definitions, passed to `Model.init` at start. */
  static modelAttributes: ModelAttributes = {};
  /** Extra `Model.init` options (indexes, …); `sequelize`, `modelName` and `tableName` are set by Flux. */
  static modelOptions: Partial<ModelOptions> = {};
  /** Attributes never serialized (`toJSON`, events) nor filterable/sortable. */
  static hiddenAttributes: readonly string[] = [];
  /** Attributes a client may set through generic create/update. */
  static writableAttributes: readonly string[] = [];
  /** Permission levels of `<model>/<level>` that `config/roles.ts` may grant. */
  static permissionLevels: readonly string[] = ['read', 'admin'];
  /** How an item's read groups derive from its attributes (besides `all`); also drives `getReadFilters`. */
  static readGroupRules: GroupRules = { id: { attribute: 'id', type: 'integer' } };
  /** False for models that are not scoped by tenant (only the tenant model itself). */
  static tenantScoped = true;
  /**
   * The model's foreign keys: attribute → the model it references and what happens to this row when the
   * referenced one is destroyed ({@link Reference}). One declaration serves every write path:
   * - create and update (`ModelController`): a value the client sets or changes must name a row of the tenant,
   *   else 400 `ValidationError` (`type: 'reference'`);
   * - destroy of the referenced row, by any path (API, CLI, service; lib/references.ts): `restrict`
   *   refuses it with 400 naming this model, `cascade` destroys this row too, `set null` clears the
   *   attribute — in the destroy's transaction, each change published after the commit like any write.
   *
   * At start, every declaration must name a model and an attribute, and match the database: each foreign
   * key between two models' tables (but `tenantId`, which Flux manages) is declared here, and each
   * declared reference is a foreign key to the named model's table.
   *
   * @example
   * static override references: References = {
   *   teamId: { model: 'Team', onDelete: 'restrict' },
   *   buttonId: { model: 'AlertButton', onDelete: 'set null' },
   * };
   */
  static references: References = {};

  /**
   * The context the model was loaded with (`loadModels`): config, roles, log. Each model class holds its
   * own; read it when the model runs (validators, hooks, `can`), not at import.
   * @throws Error when the model has not been loaded.
   */
  static get app(): ModelContext {
    throw new Error(
      `${this.name} has no app context: it is handed one when loaded (lib/loader.ts loadModels)`,
    );
  }

  /** The model's name in events, rooms and permissions (`alertButton`). */
  static get publicName(): string {
    return publicModelName(this.name);
  }

  /** True when `team` holds `<model>/<level>`. */
  static teamCan(team: PermissionTeam | null | undefined, level: string): boolean {
    return !!team && team.can(`${this.publicName}/${level}`);
  }

  static getUserReadGroups(team: PermissionTeam, _user: PermissionUser): Group[] {
    return this.teamCan(team, 'read') || this.teamCan(team, 'admin') ? [ALL] : [];
  }

  static getUserCreateGroups(team: PermissionTeam, _user: PermissionUser): Group[] {
    return this.teamCan(team, 'admin') ? [ALL] : [];
  }

  static getUserUpdateGroups(team: PermissionTeam, _user: PermissionUser): Group[] {
    return this.teamCan(team, 'admin') ? [ALL] : [];
  }

  static getUserDestroyGroups(team: PermissionTeam, _user: PermissionUser): Group[] {
    return this.teamCan(team, 'admin') ? [ALL] : [];
  }

  /**
   * Sequelize `where` selecting exactly the items whose read groups meet the user's, or `null` when none
   * can. Derived from `readGroupRules`; a model that overrides `getReadGroups` must keep them in step.
   */
  static getReadFilters(team: PermissionTeam, user: PermissionUser): ReturnType<typeof groupsToWhere> {
    return groupsToWhere(this.getUserReadGroups(team, user), this.readGroupRules);
  }

  /**
   * Attributes this user may write on `item` (undefined for a create). Defaults to `writableAttributes`.
   */
  static getWritableAttributes(
    _team: PermissionTeam,
    _user: PermissionUser,
    _item?: FluxModel,
  ): readonly string[] {
    return this.writableAttributes;
  }

  /** The item's read groups, from `readGroupRules`. */
  getReadGroups(): Group[] {
    const model = this.constructor as typeof FluxModel;
    return itemGroups(this.get({ plain: true }) as Record<string, unknown>, model.readGroupRules);
  }

  getCreateGroups(): Group[] {
    return this.getReadGroups();
  }

  getUpdateGroups(): Group[] {
    return this.getReadGroups();
  }

  getDestroyGroups(): Group[] {
    return this.getReadGroups();
  }

  /**
   * The public representation, as replies and events carry it: every attribute of the model but the
   * hidden ones (unset ones as `null`, as a later read would return them); associations are left out.
   */
  override toJSON<T extends TAttributes>(): T {
    const model = this.constructor as typeof FluxModel;
    const values: Record<string, unknown> = {};
    for (const name of publicAttributes(model).keys()) {
      const value = this.getDataValue(name as keyof TAttributes);
      values[name] = value === undefined ? null : value;
    }
    return values as T;
  }
}

const attributeMaps = new WeakMap<object, Map<string, AttributeInfo>>();

/**
 * Public (non-hidden) attributes of a model with their kinds, computed once per model: what replies and
 * events carry (`toJSON`), what `find` may filter and sort on, what create/update type-check.
 */
export function publicAttributes(model: typeof FluxModel): AttributeMap {
  let map = attributeMaps.get(model);
  if (!map) {
    map = new Map();
    const attributes = (model as unknown as ModelStatic<FluxModel>).getAttributes() as Record<
      string,
      { type: unknown }
    >;
    for (const [name, attribute] of Object.entries(attributes)) {
      if (model.hiddenAttributes.includes(name)) continue;
      const type = attribute.type as { key: string; values?: string[]; options?: { length?: number } };
      const maxLength = type.options?.length;
      map.set(name, {
        kind: attributeKind(type.key),
        values: type.key === 'ENUM' ? type.values : undefined,
        maxLength: type.key === 'STRING' && typeof maxLength === 'number' ? maxLength : undefined,
      });
    }
    attributeMaps.set(model, map);
  }
  return map;
}

/**
 * Hands `model` its context ({@link FluxModel.app}); `loadModels` does it for every model it loads, a test
 * for the models it builds itself.
 */
export function provideModelContext(model: typeof FluxModel, app: ModelContext): void {
  Object.defineProperty(model, 'app', { value: app, configurable: true, enumerable: false });
}

/** A Flux model class with Sequelize's static API. */
export type FluxModelClass<M extends FluxModel = FluxModel> = ModelStatic<M> &
  Omit<typeof FluxModel, 'prototype'>;

/** Any class derived from {@link FluxModel}. */
export type FluxModelStatic = typeof FluxModel & (new () => FluxModel);

/**
 * `compile` memoized per model class and the connection the class is initialized on: `Model.init` again
 * (a restart in the same process initializes the classes anew) compiles it again.
 */
export function perModelAndConnection<T>(
  compile: (model: FluxModelClass) => T,
): (model: FluxModelClass) => T {
  const compiled = new WeakMap<object, { sequelize: unknown; value: T }>();
  return (model) => {
    let entry = compiled.get(model);
    if (!entry || entry.sequelize !== model.sequelize) {
      entry = { sequelize: model.sequelize, value: compile(model) };
      compiled.set(model, entry);
    }
    return entry.value;
  };
}
