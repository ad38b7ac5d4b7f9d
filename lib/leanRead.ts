import { isProxy } from 'node:util/types';
import {
  DataTypes,
  Model,
  type Order,
  type QueryOptionsWithType,
  QueryTypes,
  type Sequelize,
  type Transaction,
  type WhereOptions,
} from 'sequelize';
import parserStore from 'sequelize/lib/dialects/parserStore';
import { FluxModel, type FluxModelClass, perModelAndConnection, publicAttributes } from './FluxModel.js';
import { selectRows } from './leanQuery.js';
import { attributeKind } from './query.js';

/**
 * The lean read path (docs/performance.md): `find` and `get` answer rows as the JSON their Sequelize
 * instances would give (`FluxModel#toJSON`), without building an instance per row. Sequelize's `findAll`
 * copies its options deeply, applies scopes and hooks, then builds an instance per row (and on SQLite asks
 * for the table's column types before every select); a reply then serializes each instance through
 * `toJSON` (socket.io twice: once to look for binary data, once to encode). Here the select is written
 * by Sequelize's own query generator (where, order and limit; the column list once per model; kept for
 * options of the same values, `ModelLeanReader#sql`) and run as `sequelize.query` runs it (its hooks,
 * pool, transactions, errors and logging unchanged; on PostgreSQL through `selectRows`,
 * lib/leanQuery.ts), and each row is converted once, the way Sequelize would have:
 * - SQLite: by the parser Sequelize applies to the column's declared type (`DATETIME` → Date, `TINYINT(1)`
 *   → boolean, `JSON` → parsed), read once per model from the table (`PRAGMA table_info`) instead of once
 *   per query;
 * - PostgreSQL: pg has already converted the values with the type parsers Sequelize gave it, as for an
 *   instance;
 * - then every attribute's sanitizer as `build({raw: true})` runs it (a BOOLEAN read as 0/1 or 'true'),
 *   and dates become their JSON text (what `JSON.stringify` would write for them, read once).
 *
 * A model whose instances do more than that keeps Sequelize's path ({@link leanReader} answers
 * `undefined`): its own `toJSON` or `getDataValue`, a default scope, `paranoid`, `rejectOnEmpty`, virtual attributes,
 * attributes stored under another column name, a dialect other than SQLite or PostgreSQL (or PostgreSQL
 * without quoted identifiers); and, checked on every read, `find` hooks on the model or the connection.
 */

/** What a lean read selects: the options of `Model.findAll` that `find` and `get` use. */
export interface LeanFindOptions {
  where: WhereOptions;
  order?: Order;
  limit?: number;
  offset?: number;
  transaction?: Transaction;
}

/** A JSON object as a reply carries it: attribute → JSON value (dates as ISO 8601 text). */
export type LeanItem = Record<string, unknown>;

/** Reads one model's rows as reply items; see {@link leanReader}. */
export interface LeanReader {
  /**
   * The rows `options` selects, each as the model's `toJSON` would give it, dates as their JSON text
   * (`JSON.stringify` writes the same). Each item is new, but a JSON attribute's value may be shared with
   * the items of an identical read made at the same time (lib/leanQuery.ts `selectRows`): never change it.
   * @throws what `Model.findAll` throws for the same options (Sequelize's errors).
   */
  findAll(options: LeanFindOptions): Promise<LeanItem[]>;
  /** The statement `findAll(options)` runs: Sequelize's `selectQuery` of the public attributes. */
  sql(options: LeanFindOptions): string;
}

/** The hooks of a read: while any is registered, reads build instances so that they run. */
const FIND_HOOKS = [
  'beforeFind',
  'beforeFindAfterExpandIncludeAll',
  'beforeFindAfterOptions',
  'afterFind',
] as const;

/** The parts of Sequelize's internals a lean read uses (not in its type declarations). */
interface ModelInternals {
  _scope?: object;
  _hasVirtualAttributes?: boolean;
  _dataTypeSanitizers: Record<string, (value: unknown, options: { raw: boolean }) => unknown>;
  options: { paranoid?: boolean; rejectOnEmpty?: unknown };
  hasHook(hookType: string): boolean;
}

/** The parts of Sequelize's query generator lean reads and capped counts use (not in its type declarations). */
export interface QueryGenerator {
  selectQuery(tableName: unknown, options: object, model: unknown): string;
  quoteIdentifier(identifier: string): string;
  quoteTable(table: unknown): string;
  getAliasToken(): string;
  escapeAttributes(attributes: string[], options: object, mainTableAs: string): string[];
  getWhereConditions(where: unknown, tableAs: string, model: unknown, options: object): string;
  getQueryOrders(options: object, model: unknown, subQuery: boolean): { mainQueryOrder: string[] };
  addLimitAndOffset(options: object, model: unknown): string;
}

interface HookedSequelize {
  hasHook(hookType: string): boolean;
  options: { timezone?: string; quoteIdentifiers?: boolean };
}

type Parse = (value: unknown, options: { timezone?: string }) => unknown;

/** One selected attribute and how its raw value becomes the instance's. */
interface Column {
  name: string;
  /** SQLite: the parser of the column's declared type, as Sequelize applies it to non-null values. */
  parse?: Parse;
  sanitize?: (value: unknown, options: { raw: boolean }) => unknown;
}

/** Most statements a reader keeps (see `ModelLeanReader#sql`), the least recently used dropped first. */
export const MAX_STATEMENTS = 500;
/** Longest key of options kept (UTF-16 code units): a where with a long `IN` list is written each time. */
export const MAX_STATEMENT_KEY = 2048;

/**
 * A text that only options with the same where, order, limit and offset give — so that Sequelize's
 * generator writes the same statement for them — or `undefined` when the options hold anything but
 * plain objects (their own keys, strings and registered symbols such as `Op.or`, in order; data
 * properties only), arrays of items only, strings, finite numbers, booleans, `null` and valid dates
 * without properties of their own (a `literal`, a `fn`, `undefined`, a `Buffer`, a proxy, a getter…),
 * or when the key would pass {@link MAX_STATEMENT_KEY}. What the generator reads beside the options —
 * the model's attributes, the connection's dialect and time zone — is fixed for a reader. Strings are
 * written as JSON, so no value can pass for another's delimiters; numbers, dates, `null` and booleans get
 * marks strings cannot have (`1` is not `"1"`, a date is not its text).
 */
export function statementKey(options: LeanFindOptions): string | undefined {
  const key = { text: '' };
  if (!writeKey(options.where, key) || !writeKey(options.order ?? null, key)) return undefined;
  for (const bound of [options.limit, options.offset]) {
    if (bound === undefined) key.text += '|u';
    else if (!writeKey(bound, key)) return undefined;
  }
  return key.text.length <= MAX_STATEMENT_KEY ? key.text : undefined;
}

function writeKey(value: unknown, key: { text: string }): boolean {
  if (key.text.length > MAX_STATEMENT_KEY) return false;
  switch (typeof value) {
    case 'string':
      key.text += JSON.stringify(value);
      return true;
    case 'number':
      // -0 and 0 are one JSON text but not one value; neither is common enough to keep
      if (!Number.isFinite(value) || Object.is(value, -0)) return false;
      key.text += `#${value}`;
      return true;
    case 'boolean':
      key.text += value ? '#t' : '#f';
      return true;
    case 'object': {
      if (value === null) {
        key.text += '#n';
        return true;
      }
      // a proxy or a getter could answer the key one value and the generator another
      if (isProxy(value)) return false;
      if (Array.isArray(value)) {
        // Sequelize reads operators on any value (`value[Op.or]`): an array holds its items only
        if (Reflect.ownKeys(value).length !== value.length + 1) return false;
        key.text += '[';
        for (const item of value) if (!writeKey(item, key)) return false;
        key.text += ']';
        return true;
      }
      if (value instanceof Date) {
        const time = value.getTime();
        if (Number.isNaN(time) || Reflect.ownKeys(value).length > 0) return false;
        key.text += `#d${time}`;
        return true;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return false;
      key.text += '{';
      for (const name of Reflect.ownKeys(value)) {
        if (typeof name === 'symbol') {
          const registered = Symbol.keyFor(name);
          if (registered === undefined) return false;
          key.text += `@${JSON.stringify(registered)}`;
        } else key.text += JSON.stringify(name);
        const property = Object.getOwnPropertyDescriptor(value, name);
        if (!property || !('value' in property) || !writeKey(property.value, key)) return false;
      }
      key.text += '}';
      return true;
    }
    default:
      return false;
  }
}

const SANITIZE_OPTIONS = { raw: true };
/** What `selectQuery` hands the where's generator of a select (it reads `type` only). */
const WHERE_OPTIONS = { type: QueryTypes.SELECT };

class ModelLeanReader implements LeanReader {
  readonly #model: FluxModelClass;
  readonly #sequelize: Sequelize;
  readonly #generator: QueryGenerator;
  readonly #attributes: string[];
  readonly #sqlite: boolean;
  /** `SELECT <the attributes> FROM <table> AS <model>`, as `selectQuery` begins it. */
  readonly #head: string;
  readonly #as: string;
  /** Integer attribute → `<model>.<column>`, quoted as the where's generator quotes it. */
  readonly #quoted: Map<string, string>;
  #columns?: Column[];
  #columnsRead?: Promise<Column[]>;
  /** Statements written, by their options' key ({@link statementKey}), the least recently used first. */
  readonly #statements = new Map<string, string>();

  constructor(model: FluxModelClass, sequelize: Sequelize) {
    this.#model = model;
    this.#sequelize = sequelize;
    this.#generator = sequelize.getQueryInterface().queryGenerator as QueryGenerator;
    this.#attributes = [...publicAttributes(model).keys()];
    this.#sqlite = sequelize.getDialect() === 'sqlite';
    const generator = this.#generator;
    this.#as = generator.quoteIdentifier(model.name);
    const columns = generator.escapeAttributes(this.#attributes, {}, this.#as).join(', ');
    const table = generator.quoteTable(model.getTableName());
    this.#head = `SELECT ${columns} FROM ${table} ${generator.getAliasToken()} ${this.#as}`;
    const attributes = Object.entries(model.getAttributes() as Record<string, { type: { key: string } }>);
    this.#quoted = new Map(
      attributes
        .filter(([, attribute]) => attributeKind(attribute.type.key) === 'integer')
        .map(([name]) => [name, `${this.#as}.${generator.quoteIdentifier(name)}`]),
    );
  }

  /**
   * What `selectQuery` writes for these options (no include, group or lock): the same generator methods
   * for the where, the order and the limit, around a beginning written once. A where of integer
   * equalities (`get`) is written directly; any other statement is kept by its options' key
   * ({@link statementKey}) and given again for options that have the same key: a team's phones ask the
   * same lists, and Sequelize's walk of a where costs more than the rest of a lean read's own work.
   */
  sql(options: LeanFindOptions): string {
    const integers = this.integerEqualities(options.where);
    if (integers !== undefined) return this.write(options, integers);
    const key = statementKey(options);
    if (key === undefined) return this.write(options);
    const statements = this.#statements;
    let sql = statements.get(key);
    if (sql === undefined) {
      sql = this.write(options);
      if (statements.size >= MAX_STATEMENTS) statements.delete(statements.keys().next().value as string);
    } else statements.delete(key);
    // the last used last: the least recently used goes first
    statements.set(key, sql);
    return sql;
  }

  /** The statement of `options`, written by Sequelize's generator (the where given when already written). */
  private write(options: LeanFindOptions, writtenWhere?: string): string {
    const generator = this.#generator;
    const model = this.#model;
    let sql = this.#head;
    const where = writtenWhere ?? generator.getWhereConditions(options.where, this.#as, model, WHERE_OPTIONS);
    if (where) sql += ` WHERE ${where}`;
    if (options.order) {
      const order = generator.getQueryOrders(options, model, false).mainQueryOrder;
      if (order.length) sql += ` ORDER BY ${order.join(', ')}`;
    }
    return `${sql}${generator.addLimitAndOffset(options, model)};`;
  }

  /**
   * A where of integer attributes equal to integers only (`{tenantId: 1, id: 7}`: `get` by a user who reads every
   * item) written as Sequelize writes it, without its walk of the where; undefined for any other where.
   */
  private integerEqualities(where: WhereOptions): string | undefined {
    if (Object.getOwnPropertySymbols(where).length) return undefined;
    const terms: string[] = [];
    for (const [name, value] of Object.entries(where)) {
      const column = this.#quoted.get(name);
      if (column === undefined || !Number.isSafeInteger(value)) return undefined;
      terms.push(`${column} = ${value}`);
    }
    return terms.join(' AND ');
  }

  /** True while a `find` hook is registered on the model or the connection (they can come at any time). */
  hooked(): boolean {
    const model = this.#model as unknown as ModelInternals;
    const sequelize = this.#sequelize as unknown as HookedSequelize;
    return FIND_HOOKS.some((hook) => model.hasHook(hook) || sequelize.hasHook(hook));
  }

  async findAll(options: LeanFindOptions): Promise<LeanItem[]> {
    const columns = this.#columns ?? (await this.columns());
    const model = this.#model;
    const sql = this.sql(options);
    const rows = this.#sqlite
      ? ((await this.#sequelize.query(sql, {
          transaction: options.transaction,
          type: QueryTypes.SELECT,
          model,
          raw: true,
          // the column types are the reader's, read once (Sequelize asks the table before each select)
          tableNames: [],
        } as QueryOptionsWithType<QueryTypes.SELECT>)) as unknown as Record<string, unknown>[])
      : await selectRows(this.#sequelize, sql, { model, transaction: options.transaction });
    const timezone = { timezone: (this.#sequelize as unknown as HookedSequelize).options.timezone };
    const items: LeanItem[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const item: LeanItem = {};
      for (const column of columns) {
        let value = row[column.name];
        if (value !== undefined) {
          if (column.parse && value !== null) value = column.parse(value, timezone);
          if (column.sanitize) value = column.sanitize(value, SANITIZE_OPTIONS);
        }
        item[column.name] = value === undefined ? null : value instanceof Date ? dateJson(value) : value;
      }
      items[i] = item;
    }
    return items;
  }

  /** The selected attributes with their conversions, read once. */
  private async columns(): Promise<Column[]> {
    // a failed read (the database away) is tried again by the next one
    this.#columnsRead ??= this.readColumns().catch((err: unknown) => {
      this.#columnsRead = undefined;
      throw err;
    });
    this.#columns = await this.#columnsRead;
    return this.#columns;
  }

  /** The selected attributes with their conversions; on SQLite, from the table's declared types. */
  private async readColumns(): Promise<Column[]> {
    const sanitizers = (this.#model as unknown as ModelInternals)._dataTypeSanitizers;
    const declared = this.#sqlite ? await this.declaredTypes() : undefined;
    return this.#attributes.map((name) => ({
      name,
      parse: declared?.has(name) ? sqliteParser(declared.get(name) as string) : undefined,
      sanitize: Object.hasOwn(sanitizers, name) ? sanitizers[name] : undefined,
    }));
  }

  /** SQLite: column → declared type, as Sequelize reads them before a select (`PRAGMA table_info`). */
  private async declaredTypes(): Promise<Map<string, string>> {
    const table = String(this.#model.getTableName()).replace(/`/g, '');
    const rows = (await this.#sequelize.query(`PRAGMA table_info(\`${table}\`)`, {
      type: QueryTypes.SELECT,
      raw: true,
    })) as unknown as Array<{ name: string; type: string }>;
    return new Map(rows.map((row) => [row.name, row.type]));
  }
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/**
 * What `JSON.stringify` writes for `date` (`Date#toJSON`): null for an invalid date, else its
 * `toISOString()` — formatted here for the years 0 to 9999, a few times faster than V8's.
 */
export function dateJson(date: Date): string | null {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) return date.toJSON();
  const ms = date.getUTCMilliseconds();
  return `${year < 1000 ? `${year}`.padStart(4, '0') : year}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}.${ms < 10 ? `00${ms}` : ms < 100 ? `0${ms}` : ms}Z`;
}

/**
 * The parser Sequelize's SQLite dialect applies to a value of a column declared `declared`
 * (`Query#applyParsers` in sequelize/lib/dialects/sqlite/query.js: the type name before any `(`, without
 * `UNSIGNED`/`ZEROFILL`, upper-cased, looked up among the dialect's parsers).
 */
function sqliteParser(declared: string): Parse | undefined {
  let type = declared.includes('(') ? declared.slice(0, declared.indexOf('(')) : declared;
  type = type.replace('UNSIGNED', '').replace('ZEROFILL', '').trim().toUpperCase();
  return parserStore('sqlite').get(type) as Parse | undefined;
}

/** Null when instances of `model` give more than their values (see the module's header). */
function compile(model: FluxModelClass): ModelLeanReader | null {
  const sequelize = model.sequelize;
  if (!sequelize) return null;
  const internals = model as unknown as ModelInternals;
  const dialect = sequelize.getDialect();
  const attributes = model.getAttributes() as Record<string, { field?: string; type: unknown }>;
  const plain =
    (model.prototype as FluxModel).toJSON === FluxModel.prototype.toJSON &&
    (model.prototype as FluxModel).getDataValue === Model.prototype.getDataValue &&
    (dialect === 'sqlite' ||
      (dialect === 'postgres' &&
        (sequelize as unknown as HookedSequelize).options.quoteIdentifiers !== false)) &&
    Object.keys(internals._scope ?? {}).length === 0 &&
    !internals.options.paranoid &&
    !internals.options.rejectOnEmpty &&
    !internals._hasVirtualAttributes &&
    Object.entries(attributes).every(
      ([name, attribute]) =>
        (attribute.field ?? name) === name && !(attribute.type instanceof DataTypes.VIRTUAL),
    );
  return plain ? new ModelLeanReader(model, sequelize) : null;
}

/** Each model's reader, for the connection it was compiled on. */
const readerOf = perModelAndConnection(compile);

/**
 * The lean reader of `model`, or `undefined` when its reads must build instances: a model whose instances
 * give more than their stored values, or while `find` hooks are registered (see the module's header).
 * Computed once per model and connection (`Model.init` again, as a restart in the same process does,
 * compiles it again); the hooks are checked on every call.
 */
export function leanReader(model: FluxModelClass): LeanReader | undefined {
  const reader = readerOf(model);
  return reader && !reader.hooked() ? reader : undefined;
}

/**
 * Lean instances (docs/performance.md): one SELECT over the tables of several models, joined by the caller's
 * SQL, whose rows are built into one instance per model as `findAll` builds its rows
 * (`Model.build(values, {isNewRecord: false, raw: true, attributes})`, every attribute selected, hidden ones
 * too: these are instances, not replies) — without `findAll`'s copies of its options, its query object and
 * its include validation for the statement. A model read through an outer join whose row is missing gives
 * `null` (its primary key is null), as an include does. A model declared as an include of another
 * (`includes`, one level deep) is built as `findAll` with that include builds it: within its parent
 * (`build(values, {include: [{association}]})`, so that the parent holds it as `findAll` leaves it, as a
 * property and among its values).
 *
 * PostgreSQL only, where pg converts the values with the type parsers Sequelize gives it, as for `findAll`
 * (SQLite would need each table's declared types). {@link leanJoin} answers `undefined` where any of the
 * models must be read by Sequelize ({@link leanReader}: instances that give more than their values, `find`
 * hooks): the caller then reads through Sequelize.
 *
 * @example
 * const join = leanJoin({ s: Session, u: User, t: Team }, { t: { in: 'u', association: 'team' } });
 * const c = (as: 's' | 'u' | 't', attribute: string) => join.column(as, attribute);
 * const rows = await join.rows(
 *   `${join.select} FROM ${join.table('s')}` +
 *     ` LEFT JOIN ${join.table('u')} ON ${c('u', 'id')} = ${c('s', 'userId')}` +
 *     ` LEFT JOIN ${join.table('t')} ON ${c('t', 'id')} = ${c('u', 'teamId')} WHERE ${c('s', 'id')} = 7`,
 * ); // [{ s: Session, u: User | null, t: Team | null }], t === u.team
 */
export class LeanJoin<As extends string> {
  /** `SELECT` and every attribute of every model, each under a positional alias (`"<as>.<index>"`). */
  readonly select: string;
  readonly #sequelize: Sequelize;
  readonly #generator: QueryGenerator;
  readonly #parts: ReadonlyArray<JoinPart<As>>;

  constructor(
    sequelize: Sequelize,
    models: Record<As, FluxModelClass>,
    includes: Partial<Record<NoInfer<As>, JoinInclude<NoInfer<As>>>> = {},
  ) {
    this.#sequelize = sequelize;
    this.#generator = sequelize.getQueryInterface().queryGenerator as QueryGenerator;
    const entries = Object.entries(models) as Array<[As, FluxModelClass]>;
    // one level: a part is built within a top-level part, never within another included one
    for (const [as, include] of Object.entries(includes) as Array<[As, JoinInclude<As> | undefined]>) {
      if (include && (!Object.hasOwn(models, include.in) || includes[include.in]))
        throw new Error(`${as} must be included in a model of the join that is not itself included`);
    }
    this.#parts = entries.map(([as, model]) => ({
      as,
      model,
      attributes: Object.keys(model.getAttributes()),
      within: Boolean(includes[as]),
      included: entries
        .filter(([child]) => includes[child]?.in === as)
        .map(([child]) => ({ as: child, association: (includes[child] as JoinInclude<As>).association })),
    }));
    const q = (identifier: string) => this.#generator.quoteIdentifier(identifier);
    // positional aliases: an attribute's name may be longer than what PostgreSQL keeps of an alias (63 bytes)
    const columns = this.#parts.flatMap(({ as, attributes }) =>
      attributes.map((name, i) => `${q(as)}.${q(name)} AS ${q(`${as}.${i}`)}`),
    );
    this.select = `SELECT ${columns.join(', ')}`;
  }

  /** `<the model's table> AS <as>`, quoted. */
  table(as: As): string {
    const { model } = this.part(as);
    return `${this.#generator.quoteTable(model.getTableName())} AS ${this.#generator.quoteIdentifier(as)}`;
  }

  /** `<as>.<attribute>`, quoted. */
  column(as: As, attribute: string): string {
    return `${this.#generator.quoteIdentifier(as)}.${this.#generator.quoteIdentifier(attribute)}`;
  }

  /** True while no model of the join has `find` hooks registered (checked by each read, they can come at any time). */
  usable(): boolean {
    return this.#parts.every(({ model }) => leanReader(model) !== undefined);
  }

  /**
   * The rows of `sql` (a SELECT beginning with {@link select}), each as one instance per model (`null` for a
   * missing outer-joined row). Query hooks see the first model as the statement's `model`, as they see the
   * main model of a `findAll` with includes.
   * @throws what `sequelize.query` throws for the same statement (Sequelize's errors).
   */
  async rows(sql: string, transaction?: Transaction): Promise<Array<Record<As, FluxModel | null>>> {
    const rows = await selectRows(this.#sequelize, sql, { model: this.#parts[0]?.model, transaction });
    return rows.map((row) => {
      const values = {} as Record<As, Record<string, unknown> | null>;
      for (const { as, model, attributes } of this.#parts) {
        const part: Record<string, unknown> = {};
        for (let i = 0; i < attributes.length; i++) part[attributes[i]] = row[`${as}.${i}`];
        values[as] = part[model.primaryKeyAttribute] === null ? null : part;
      }
      const instances = {} as Record<As, FluxModel | null>;
      for (const { as, model, attributes, within, included } of this.#parts) {
        if (within) continue;
        const own = values[as];
        if (!own) {
          instances[as] = null;
          for (const child of included) instances[child.as] = null;
          continue;
        }
        const options: Record<string, unknown> = { isNewRecord: false, raw: true, attributes };
        if (included.length) {
          // what `findAll` hands `build` for these includes (Sequelize validates them in the constructor)
          options.include = included.map(({ association }) => ({ association }));
          for (const child of included) own[child.association] = values[child.as];
        }
        const instance = model.build(own, options as never) as FluxModel;
        instances[as] = instance;
        for (const child of included)
          instances[child.as] = ((instance as unknown as Record<string, FluxModel | null | undefined>)[
            child.association
          ] ?? null) as FluxModel | null;
      }
      return instances;
    });
  }

  private part(as: As) {
    const part = this.#parts.find((candidate) => candidate.as === as);
    if (!part) throw new Error(`no model joined as ${as}`);
    return part;
  }
}

/** A model of a {@link LeanJoin} built as an include of another: its alias there and the association. */
export interface JoinInclude<As extends string> {
  in: As;
  association: string;
}

interface JoinPart<As extends string> {
  as: As;
  model: FluxModelClass;
  attributes: string[];
  /** True when the part is built within another (an include). */
  within: boolean;
  /** The parts built within this one. */
  included: Array<{ as: As; association: string }>;
}

/**
 * A {@link LeanJoin} of `models` (alias → model, all initialized on one connection; `includes`: the models
 * built within another, by alias: a parent's own alias and its association), or `undefined` when
 * they must be read by Sequelize: a dialect other than PostgreSQL, or a model whose reads are not lean
 * ({@link leanReader}). The join's SQL is written once by the caller's choice (it may keep the join);
 * {@link LeanJoin.usable} tells each read whether `find` hooks have since been registered.
 */
export function leanJoin<As extends string>(
  models: Record<As, FluxModelClass>,
  includes: Partial<Record<NoInfer<As>, JoinInclude<NoInfer<As>>>> = {},
): LeanJoin<As> | undefined {
  const all = Object.values(models) as FluxModelClass[];
  const sequelize = all[0]?.sequelize;
  if (sequelize?.getDialect() !== 'postgres') return undefined;
  const sameConnection = all.every((model) => model.sequelize === sequelize && readerOf(model));
  return sameConnection ? new LeanJoin(sequelize, models, includes) : undefined;
}
