import { DataTypes, type Sequelize, type Transaction, Utils } from 'sequelize';
import { type FluxModel, type FluxModelClass, perModelAndConnection } from './FluxModel.js';
import { insertRow } from './leanQuery.js';
import { dateJson } from './leanRead.js';

/**
 * The lean insert (docs/performance.md): `create` saves its built, validated instance with the statement
 * and the hooks `instance.save({validate: false})` would run, without the work `save` does around them
 * on every call: a deep copy of its options (twice), the statement written anew (every identifier
 * quoted, the returned columns listed) and lodash's set operations over the attribute names. What stays
 * Sequelize's:
 * - the values: each bound value is converted by the query generator's `format` with the attribute's
 *   type (type validation when enabled), as `insertQuery` converts it — except a date in the UTC
 *   timezone (Sequelize's default), which is written here as the `DATE` type writes it with moment
 *   (`YYYY-MM-DD HH:mm:ss.SSS +00:00`), a few times faster;
 * - the statement: written by `insertQuery` the first time a shape is met (which attributes are present,
 *   which are left to their column default, the SQL each value binds as), then reused for that shape;
 * - running it: as `sequelize.query` with the options `save` gives it (its query hooks, pool, transaction,
 *   logging, errors, and the returned row or generated id written into the instance) — on PostgreSQL
 *   through `insertRow` (lib/leanQuery.ts), which does that without `sequelize.query`'s own work;
 * - the instance's bookkeeping: timestamps set as `save` sets them, `afterCreate` hooks (the model's and
 *   the connection's; Flux publishes the change there) with `save`'s options, then the values recorded as
 *   saved and `isNewRecord` false.
 *
 * An insert `save` would write differently keeps `save` ({@link LeanInserter.insert} answers false): a model
 * with a version attribute or `hasTrigger`, a dialect other than SQLite or PostgreSQL, a connection with
 * `omitNull`, a search path or CLS transactions; and, checked on every insert, `beforeCreate`/`beforeSave`
 * hooks on the model or the connection, an instance that is not new or was built with `include`, and a
 * value that is SQL (`sequelize.fn`, `literal`).
 */
export interface LeanInserter {
  /**
   * Inserts `item` (new, built and validated) as `item.save({validate: false, transaction})` would, or
   * answers false without touching it when `save` must do it (see the module's header).
   * @throws what `save` throws for the same insert (Sequelize's errors: unique or foreign key constraint,
   *   the database away).
   */
  insert(item: FluxModel, options?: { transaction?: Transaction }): Promise<boolean>;
}

/** The parts of Sequelize's model class an insert uses (not in its type declarations). */
interface ModelInternals {
  rawAttributes: Record<string, AttributeInternals>;
  _timestampAttributes: { createdAt?: string; updatedAt?: string };
  _versionAttribute?: string;
  _virtualAttributes: Set<string>;
  _getDefaultTimestamp(attribute: string): unknown;
  getTableName(): unknown;
  options: { hasTrigger?: boolean };
  hasHook(hookType: string): boolean;
  runHooks(hookType: string, ...args: unknown[]): Promise<void>;
}

interface AttributeInternals {
  field?: string;
  autoIncrement?: boolean;
  type: unknown;
}

/** The parts of a Sequelize instance `save` keeps up to date (not in its type declarations). */
interface InstanceInternals {
  dataValues: Record<string, unknown>;
  _previousDataValues: Record<string, unknown>;
  _options: { include?: unknown[] };
  isNewRecord: boolean;
  changed(attribute: string, changed: false): void;
}

/** The parts of Sequelize's query generator an insert uses (not in its type declarations). */
interface InsertGenerator {
  insertQuery(
    table: unknown,
    values: Record<string, unknown>,
    attributes: Record<string, AttributeInternals>,
    options: object,
  ): { query: string; bind?: unknown[] };
  format(value: unknown, field: unknown, options: object, bindParam: (value: unknown) => string): string;
  bindParam(bind: unknown[]): (value: unknown) => string;
}

interface ConnectionInternals {
  options: {
    omitNull?: boolean;
    timezone?: string;
    typeValidation?: boolean;
    dialectOptions?: { prependSearchPath?: boolean };
  };
  hasHook(hookType: string): boolean;
  constructor: { _cls?: unknown };
}

/**
 * The hook `save` runs before an insert: while one is registered, creates go through `save` (a `beforeSave`
 * hook is registered as `beforeCreate` too).
 */
const BEFORE_HOOK = 'beforeCreate';

/** What `insertQuery` hands `format` for an insert's value. */
const FORMAT_OPTIONS = { context: 'INSERT' };

/**
 * The statements kept per model: one per shape met, and shapes are few (which attributes a create sets);
 * should a type write SQL that varies with the value, shapes past this are written each time, not kept.
 */
const MAX_SHAPES = 100;

/** A value left to its column's default (an auto-increment key without a value), in a shape's key. */
const DEFAULT_MARK = '\u0000';

class ModelLeanInserter implements LeanInserter {
  readonly #internals: ModelInternals;
  readonly #sequelize: Sequelize;
  readonly #generator: InsertGenerator;
  /** Every attribute, as `save`'s `fields`. */
  readonly #attributes: string[];
  /** The attributes stored in a column (not virtual), in the same order. */
  readonly #stored: string[];
  readonly #autoIncrement: Set<string>;
  /** The `DATE` attributes whose dates are written here (see the module's header). */
  readonly #utcDates: Set<string>;
  /** Shape (see `insert`) → the statement `insertQuery` wrote for it. */
  readonly #statements = new Map<string, string>();

  constructor(model: FluxModelClass, sequelize: Sequelize) {
    this.#internals = model as unknown as ModelInternals;
    this.#sequelize = sequelize;
    this.#generator = sequelize.getQueryInterface().queryGenerator as unknown as InsertGenerator;
    this.#attributes = Object.keys(this.#internals.rawAttributes);
    this.#stored = this.#attributes.filter((name) => !this.#internals._virtualAttributes.has(name));
    this.#autoIncrement = new Set(
      this.#attributes.filter((name) => this.#internals.rawAttributes[name].autoIncrement === true),
    );
    const options = (sequelize as unknown as ConnectionInternals).options;
    const utc = options.timezone === '+00:00' && !options.typeValidation;
    this.#utcDates = new Set(
      this.#attributes.filter((name) => utc && isPlainDate(this.#internals.rawAttributes[name].type)),
    );
  }

  async insert(item: FluxModel, options: { transaction?: Transaction } = {}): Promise<boolean> {
    const model = this.#internals;
    const sequelize = this.#sequelize as unknown as ConnectionInternals;
    const instance = item as unknown as InstanceInternals;
    if (
      !instance.isNewRecord ||
      instance._options.include?.length ||
      model.hasHook(BEFORE_HOOK) ||
      sequelize.hasHook(BEFORE_HOOK)
    ) {
      return false;
    }
    const dataValues = instance.dataValues;
    // the values as `save` writes them, checked before anything changes
    for (const name of this.#stored) {
      if (dataValues[name] instanceof Utils.SequelizeMethod) return false;
    }

    // timestamps, as `save` sets them (`Utils.now`: a Date with milliseconds on SQLite and PostgreSQL)
    const now = new Date();
    const { createdAt, updatedAt } = model._timestampAttributes;
    if (updatedAt) dataValues[updatedAt] = model._getDefaultTimestamp(updatedAt) || now;
    if (createdAt && !dataValues[createdAt]) {
      dataValues[createdAt] = model._getDefaultTimestamp(createdAt) || now;
    }

    // `Utils.mapValueFieldNames`, each value converted as `insertQuery` converts it; the shape names the
    // statement: the columns present, and what each value binds as (`$n`, or the type's SQL around it)
    const generator = this.#generator;
    const values: Record<string, unknown> = {};
    const bind: unknown[] = [];
    const bindParam = generator.bindParam(bind);
    let shape = '';
    for (const name of this.#stored) {
      const value = dataValues[name];
      if (value === undefined) continue;
      const attribute = model.rawAttributes[name];
      const column = attribute.field ?? name;
      values[column] = value;
      let text: string | undefined;
      if (this.#autoIncrement.has(name) && value == null) text = DEFAULT_MARK;
      else if (value instanceof Date && this.#utcDates.has(name)) {
        const written = utcDateText(value);
        if (written !== undefined) text = bindParam(written);
      }
      text ??= generator.format(value, attribute, FORMAT_OPTIONS, bindParam);
      shape += `${column}\u0001${text}\u0001`;
    }
    let query = this.#statements.get(shape);
    if (query === undefined) {
      query = generator.insertQuery(model.getTableName(), values, model.rawAttributes, {
        returning: true,
        hasTrigger: model.options.hasTrigger,
      }).query;
      if (this.#statements.size < MAX_SHAPES) this.#statements.set(shape, query);
    }

    // what `save` hands its hooks, and `queryInterface.insert` the query
    const fields = [...this.#attributes];
    const saveOptions = {
      ...(options.transaction ? { transaction: options.transaction } : {}),
      hooks: true,
      validate: false,
      fields,
      defaultFields: fields,
      returning: true,
    };
    await insertRow(this.#sequelize, query, bind, instance, {
      ...saveOptions,
      fields: [...fields],
      defaultFields: [...fields],
      hasTrigger: model.options.hasTrigger,
    });
    instance.isNewRecord = false;
    await model.runHooks('afterCreate', item, saveOptions);
    for (const field of saveOptions.fields) {
      instance._previousDataValues[field] = dataValues[field];
      instance.changed(field, false);
    }
    return true;
  }
}

/**
 * Whether `type` is a `DATE` whose dates Sequelize writes with `DATE`'s own `_stringify` (through the
 * dialect's: PostgreSQL's adds only `Infinity`), and nothing else: no `_bindParam` of its own.
 */
function isPlainDate(type: unknown): boolean {
  const date = type as { _stringify?: unknown; _bindParam?: unknown } | undefined;
  return (
    type instanceof DataTypes.DATE &&
    date?._bindParam === undefined &&
    DATE_STRINGIFIERS.includes(date?._stringify)
  );
}

/** Sequelize's data types by dialect (not in its type declarations). */
const dialectTypes = DataTypes as unknown as Record<'postgres' | 'sqlite', { DATE: { prototype: object } }>;

/** The `_stringify` of `DATE` and of the dialects' `DATE` that {@link utcDateText} writes the same. */
const DATE_STRINGIFIERS: unknown[] = [
  DataTypes.DATE.prototype,
  dialectTypes.postgres.DATE.prototype,
  dialectTypes.sqlite.DATE.prototype,
].map((prototype) => (prototype as { _stringify?: unknown })._stringify);

/**
 * What Sequelize's `DATE` type writes for `date` in the UTC timezone (`moment(date).utcOffset('+00:00')
 * .format('YYYY-MM-DD HH:mm:ss.SSS Z')`), for the years 0 to 9999; undefined for others (and invalid
 * dates), which Sequelize writes.
 */
export function utcDateText(date: Date): string | undefined {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) return undefined;
  const json = dateJson(date) as string;
  return `${json.slice(0, 10)} ${json.slice(11, 23)} +00:00`;
}

/** Null when `save` would insert instances of `model` differently (see the module's header). */
function compile(model: FluxModelClass): ModelLeanInserter | null {
  const sequelize = model.sequelize;
  if (!sequelize) return null;
  const internals = model as unknown as ModelInternals;
  const connection = sequelize as unknown as ConnectionInternals;
  const dialect = sequelize.getDialect();
  const plain =
    (dialect === 'sqlite' || dialect === 'postgres') &&
    !internals._versionAttribute &&
    !internals.options.hasTrigger &&
    !connection.options.omitNull &&
    !connection.options.dialectOptions?.prependSearchPath &&
    !connection.constructor._cls;
  return plain ? new ModelLeanInserter(model, sequelize) : null;
}

/** Each model's inserter, for the connection it was compiled on. */
const inserterOf = perModelAndConnection(compile);

/**
 * The lean inserter of `model`, or `undefined` when its creates must go through `save` (see the
 * module's header). Computed once per model and connection; hooks and instances are checked by each
 * insert.
 */
export function leanInserter(model: FluxModelClass): LeanInserter | undefined {
  return inserterOf(model) ?? undefined;
}
