import { Op, type Order, type WhereOptions } from 'sequelize';
import { BadRequestError } from './errors.js';

/**
 * Parsing of `find`'s data (docs/reference.md#generic-crud) into Sequelize options, refusing anything outside
 * the allow-list with a 400: `filters` (a Sequelize-style where object with word operators), `sort`, `limit`,
 * `offset`, `count`. Values are checked against attribute types so that no query reaches the database with a
 * value the column cannot hold (PostgreSQL would answer with an error, SQLite with a silent mismatch).
 */

/** The kind of value an attribute holds, as far as filters are concerned. */
export type AttributeKind = 'integer' | 'number' | 'string' | 'boolean' | 'date' | 'json';

export interface AttributeInfo {
  kind: AttributeKind;
  /** Allowed values of an ENUM attribute. */
  values?: readonly string[];
  /** Longest value of a `STRING(n)` attribute (PostgreSQL refuses longer ones with an error). */
  maxLength?: number;
}

/** True for a date the databases can store (years 1 to 9999). */
export function storableDate(date: Date): boolean {
  const year = date.getUTCFullYear();
  return !Number.isNaN(date.getTime()) && year >= 1 && year <= 9999;
}

/** Public, filterable attributes of a model by name. */
export type AttributeMap = ReadonlyMap<string, AttributeInfo>;

/** Maps a Sequelize data type key (`INTEGER`, `STRING`, …) to an {@link AttributeKind}. */
export function attributeKind(typeKey: string): AttributeKind {
  switch (typeKey) {
    case 'INTEGER':
    case 'BIGINT':
    case 'SMALLINT':
    case 'TINYINT':
    case 'MEDIUMINT':
      return 'integer';
    case 'FLOAT':
    case 'DOUBLE':
    case 'REAL':
    case 'DECIMAL':
      return 'number';
    case 'BOOLEAN':
      return 'boolean';
    case 'DATE':
    case 'DATEONLY':
      return 'date';
    case 'JSON':
    case 'JSONB':
      return 'json';
    default:
      return 'string';
  }
}

const MAX_DEPTH = 6;
/** Values in all the lists of one filter (`in`, `notIn`, plain lists, `between`). */
const MAX_VALUES = 1000;
const MAX_STRING = 2000;

/** Bounds on what one `find` filter may make the database and Sequelize do (config `query`). */
export interface QueryLimits {
  /**
   * Conditions in all: every object (the filter itself, each element of `and`/`or`, each operand of
   * `not`, each operator object) and every key in it.
   */
  maxConditions: number;
  /** Characters in all the `like`/`notLike` patterns of one filter. */
  maxPatternLength: number;
  /** Wildcards (`%` and `_`, escaped or not) in all the `like`/`notLike` patterns of one filter. */
  maxWildcards: number;
}

/** The defaults of `config/query.ts`, for callers without a config. */
export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = {
  maxConditions: 200,
  maxPatternLength: 100,
  maxWildcards: 10,
};

// Maps, not object literals: `name in {…}` would accept `constructor`, `toString`, `__proto__`…
const comparisons = new Map<string, symbol>([
  ['eq', Op.eq],
  ['ne', Op.ne],
  ['gt', Op.gt],
  ['gte', Op.gte],
  ['lt', Op.lt],
  ['lte', Op.lte],
]);
const lists = new Map<string, symbol>([
  ['in', Op.in],
  ['notIn', Op.notIn],
]);
const patterns = new Map<string, symbol>([
  ['like', Op.like],
  ['notLike', Op.notLike],
]);

type Scalar = string | number | boolean | null;

/**
 * A UTF-16 surrogate without its pair: both databases compare U+FFFD instead, a client's own evaluation
 * of the filter would not (the edge refuses it too, lib/limits.ts `unstorableText`, but filters sent as
 * JSON text only become strings here).
 */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Turns a checked `like`/`notLike` pattern into the operand Sequelize puts after `LIKE`. Patterns mean the
 * same on every database: case-sensitive, `%` any text, `_` one character, `\` escaping the next one.
 * PostgreSQL's `LIKE` is that already; SQLite needs `PRAGMA case_sensitive_like` (lib/database.ts) and an
 * `ESCAPE` clause ({@link sqliteLikeOperand}).
 */
export type LikeOperand = (pattern: string) => unknown;

/** A 400 `ValidationError` naming the filter and the limit it broke. */
function limitError(path: string, message: string, type: string): BadRequestError {
  return new BadRequestError(`${path}: ${message}`, [{ path, message, type }]);
}

class FilterParser {
  /** `like`/`notLike` patterns of the filter: each makes the database scan the rows it may read. */
  patterns = 0;
  private conditions = 0;
  private values = 0;
  private patternLength = 0;
  private wildcards = 0;

  constructor(
    private readonly attributes: AttributeMap,
    private readonly limits: QueryLimits,
    private readonly likeOperand: LikeOperand = (pattern) => pattern,
  ) {}

  /** Counts one condition; `path` names where the limit was crossed. */
  private count(path: string): void {
    if (++this.conditions > this.limits.maxConditions) {
      throw limitError(path, `more than ${this.limits.maxConditions} conditions in all`, 'maxConditions');
    }
  }

  parse(filters: unknown, depth = 0, path = 'filters'): WhereOptions {
    if (depth > MAX_DEPTH)
      throw limitError(path, `nested too deeply (at most ${MAX_DEPTH} levels)`, 'maxDepth');
    if (typeof filters !== 'object' || filters === null || Array.isArray(filters)) {
      throw new BadRequestError(`${path}: must be an object`);
    }
    this.count(path);
    const entries = Object.entries(filters);
    // `{}` inside `and`/`or`/`not` matches everything (Sequelize even turns `or: [{}, {}]` into `0 = 1`):
    // never what a client means, and free padding if it were not counted
    if (entries.length === 0 && depth > 0) throw new BadRequestError(`${path}: empty filter`);
    const where: Record<string | symbol, unknown> = {};
    for (const [key, value] of entries) {
      const at = `${path}.${key}`;
      this.count(at);
      if (key === 'and' || key === 'or') {
        if (!Array.isArray(value) || value.length === 0) {
          throw new BadRequestError(`${at}: takes a non-empty list of filters`);
        }
        where[key === 'and' ? Op.and : Op.or] = value.map((sub, i) =>
          this.parse(sub, depth + 1, `${at}[${i}]`),
        );
      } else if (key === 'not') {
        where[Op.not] = this.parse(value, depth + 1, at);
      } else {
        const info = this.attributes.get(key);
        if (!info) throw new BadRequestError(`${path}: unknown attribute "${key}"`);
        if (info.kind === 'json') throw new BadRequestError(`${at}: attribute "${key}" cannot be filtered`);
        where[key] = this.condition(key, info, value, at);
      }
    }
    return where as WhereOptions;
  }

  private condition(attribute: string, info: AttributeInfo, value: unknown, path: string): unknown {
    if (value === null) return { [Op.is]: null };
    if (Array.isArray(value)) return { [Op.in]: this.list(attribute, info, value, path) };
    if (typeof value !== 'object') return this.scalar(attribute, info, value);
    this.count(path);
    const operators = Object.entries(value as Record<string, unknown>);
    if (operators.length === 0) throw new BadRequestError(`${path}: empty condition`);
    const result: Record<symbol, unknown> = {};
    for (const [name, operand] of operators) {
      const where = `${path}.${name}`;
      this.count(where);
      const comparison = comparisons.get(name);
      const list = lists.get(name);
      const pattern = patterns.get(name);
      if (comparison) {
        result[comparison] =
          operand === null && (name === 'eq' || name === 'ne') ? null : this.scalar(attribute, info, operand);
      } else if (list) {
        if (!Array.isArray(operand)) throw new BadRequestError(`${where}: must be a list`);
        result[list] = this.list(attribute, info, operand, where);
      } else if (pattern) {
        result[pattern] = this.likeOperand(this.pattern(info, operand, where));
      } else if (name === 'between') {
        if (!Array.isArray(operand) || operand.length !== 2)
          throw new BadRequestError(`${where}: must be [low, high]`);
        result[Op.between] = this.list(attribute, info, operand, where);
      } else if (name === 'is' || name === 'not') {
        result[name === 'is' ? Op.is : Op.not] = this.truth(attribute, info, name, operand, where);
      } else {
        throw new BadRequestError(`${path}: unknown operator "${name}"`);
      }
    }
    return result;
  }

  /**
   * The operand of `is` and `not`. Sequelize writes `IS [NOT] NULL` for null and `IS [NOT] TRUE/FALSE`
   * for a boolean, which PostgreSQL only accepts on boolean columns; `not` with another value becomes
   * `!=`, so it takes what `ne` takes. `is` takes nothing else.
   */
  private truth(
    attribute: string,
    info: AttributeInfo,
    name: string,
    operand: unknown,
    where: string,
  ): Scalar {
    if (operand === null) return null;
    if (typeof operand === 'boolean') {
      if (info.kind !== 'boolean')
        throw new BadRequestError(`${where}: true and false need a boolean attribute`);
      return operand;
    }
    if (name === 'is') throw new BadRequestError(`${where}: must be null, true or false`);
    return this.scalar(attribute, info, operand);
  }

  /**
   * A `like`/`notLike` pattern. Matching costs up to (pattern length × text length) for each row scanned,
   * and a filter may hold many patterns: the limits bound the sum over all of them. PostgreSQL refuses a
   * pattern that ends with its escape character (`\`).
   */
  private pattern(info: AttributeInfo, operand: unknown, where: string): string {
    // an ENUM column has no LIKE operator on PostgreSQL
    if (info.kind !== 'string' || info.values || typeof operand !== 'string') {
      throw new BadRequestError(`${where}: needs a free-text string attribute and a string pattern`);
    }
    const { maxPatternLength, maxWildcards } = this.limits;
    this.patternLength += operand.length;
    if (this.patternLength > maxPatternLength) {
      throw limitError(
        where,
        `patterns longer than ${maxPatternLength} characters in all`,
        'maxPatternLength',
      );
    }
    this.patterns++;
    this.wildcards += operand.match(/[%_]/g)?.length ?? 0;
    if (this.wildcards > maxWildcards) {
      throw limitError(
        where,
        `more than ${maxWildcards} wildcards (% and _) in all patterns`,
        'maxWildcards',
      );
    }
    if ((/\\*$/.exec(operand)?.[0].length ?? 0) % 2 === 1) {
      throw new BadRequestError(`${where}: a pattern cannot end with an escape character (\\)`);
    }
    if (operand.includes('\u0000')) throw new BadRequestError(`${where}: NUL characters are not allowed`);
    // the databases match U+FFFD for it, a client's own evaluation would not (lib/limits.ts unstorableText)
    if (LONE_SURROGATE.test(operand))
      throw new BadRequestError(`${where}: a UTF-16 surrogate without its pair is not allowed`);
    return operand;
  }

  private list(attribute: string, info: AttributeInfo, values: unknown[], where: string): Scalar[] {
    this.values += values.length;
    if (this.values > MAX_VALUES) {
      throw limitError(where, `more than ${MAX_VALUES} values in all lists`, 'maxValues');
    }
    return values.map((v) => this.scalar(attribute, info, v));
  }

  private scalar(attribute: string, info: AttributeInfo, value: unknown): Scalar {
    const bad = (): never => {
      throw new BadRequestError(`filters.${attribute}: expected a ${info.kind} value`);
    };
    switch (info.kind) {
      case 'integer':
        return Number.isSafeInteger(value) ? (value as number) : bad();
      case 'number':
        return typeof value === 'number' && Number.isFinite(value) ? value : bad();
      case 'boolean':
        return typeof value === 'boolean' ? value : bad();
      case 'date': {
        if (typeof value !== 'string' && typeof value !== 'number') return bad();
        const date = new Date(value);
        return storableDate(date) ? date.toISOString() : bad();
      }
      default:
        // SQLite cuts the statement at a NUL (the edge refuses NUL, but JSON text in a query string
        // only becomes a string here)
        // and stores U+FFFD for a lone surrogate, which a client's own evaluation would not match
        if (
          typeof value !== 'string' ||
          value.length > MAX_STRING ||
          value.includes('\u0000') ||
          LONE_SURROGATE.test(value)
        )
          return bad();
        if (info.values && !info.values.includes(value)) {
          throw new BadRequestError(`filters.${attribute}: must be one of ${info.values.join(', ')}`);
        }
        return value;
    }
  }
}

/**
 * Turns a client's `filters` into a Sequelize where object.
 * @param limits bounds on conditions and patterns; {@link DEFAULT_QUERY_LIMITS} for missing ones
 * @throws BadRequestError (400 `BadRequest`) for unknown attributes or operators, wrong value types or
 *   operands; 400 `ValidationError` (with `validation: [{path, message, type}]`, `type` naming the limit:
 *   `maxConditions`, `maxPatternLength`, `maxWildcards`, `maxValues`, `maxDepth`) over a limit.
 * @example parseFilters({ age: { gte: 18 }, or: [{ name: 'a' }, { name: null }] }, attributes)
 */
export function parseFilters(
  filters: unknown,
  attributes: AttributeMap,
  limits: Partial<QueryLimits> = {},
  likeOperand?: LikeOperand,
): WhereOptions {
  return new FilterParser(attributes, { ...DEFAULT_QUERY_LIMITS, ...limits }, likeOperand).parse(filters);
}

/**
 * Turns `sort` (`"name"`, `"-createdAt"` or a list of them) into a Sequelize order, with `id` appended as
 * a tie-breaker so that pages are stable. `null` sorts after every value ascending and before every value
 * descending on every database (PostgreSQL's default; SQLite's is the opposite), so that a client can
 * place an item in a sorted list exactly where the server would (client/src/query.ts).
 * @throws BadRequestError for unknown or non-sortable attributes.
 */
export function parseSort(sort: unknown, attributes: AttributeMap): Order {
  const keys = sort === undefined ? [] : Array.isArray(sort) ? sort : [sort];
  if (keys.length > 10) throw new BadRequestError('sort: too many keys');
  const order: Array<[string, 'ASC NULLS LAST' | 'DESC NULLS FIRST' | 'ASC']> = keys.map((key) => {
    if (typeof key !== 'string')
      throw new BadRequestError('sort: must be an attribute name or a list of them');
    const descending = key.startsWith('-');
    const name = descending ? key.slice(1) : key;
    const info = attributes.get(name);
    if (!info || info.kind === 'json') throw new BadRequestError(`sort: unknown attribute "${name}"`);
    return [name, descending ? 'DESC NULLS FIRST' : 'ASC NULLS LAST'];
  });
  if (!order.some(([name]) => name === 'id')) order.push(['id', 'ASC']);
  return order;
}

function integer(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (!Number.isSafeInteger(n) || (n as number) < min || (n as number) > max) {
    throw new BadRequestError(`${name}: must be an integer from ${min} to ${max}`);
  }
  return n as number;
}

function flag(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new BadRequestError(`${name}: must be true or false`);
}

/** Parsed options of a `find` request. */
export interface FindQuery {
  where: WhereOptions;
  order: Order;
  limit: number;
  offset: number;
  count: boolean;
  subscribe: boolean;
  /**
   * `like`/`notLike` patterns in the filter. A read with patterns costs in proportion to the rows it
   * scans, not to its answer: callers admit it through a `FairQueue` (lib/fairQueue.ts).
   */
  patterns: number;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/**
 * Parses the whole of `find`'s data. Query-string values arrive as strings and are accepted for `limit`,
 * `offset`, `count` and `subscribe`; `filters` and `sort` may also arrive as JSON text from a query string.
 */
export function parseFindQuery(
  data: Record<string, unknown>,
  attributes: AttributeMap,
  limits: Partial<QueryLimits> = {},
  likeOperand?: LikeOperand,
): FindQuery {
  const json = (name: string, value: unknown): unknown => {
    if (typeof value !== 'string' || !/^[[{]/.test(value)) return value;
    try {
      return JSON.parse(value);
    } catch {
      throw new BadRequestError(`${name}: malformed JSON`);
    }
  };
  const filters = new FilterParser(attributes, { ...DEFAULT_QUERY_LIMITS, ...limits }, likeOperand);
  return {
    where: data.filters === undefined ? {} : filters.parse(json('filters', data.filters)),
    patterns: filters.patterns,
    order: parseSort(json('sort', data.sort), attributes),
    limit: integer('limit', data.limit, 1, MAX_LIMIT, DEFAULT_LIMIT),
    offset: integer('offset', data.offset, 0, Number.MAX_SAFE_INTEGER, 0),
    count: flag('count', data.count),
    subscribe: flag('subscribe', data.subscribe),
  };
}
