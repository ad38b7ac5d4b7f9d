import { Op, type Order, type WhereOptions } from 'sequelize';
import { BadRequestError } from './errors.js';

/**
 * Parsing of `find`'s data (SPEC §11) into Sequelize options, refusing anything outside the allow-list
 * with a 400: `filters` (a Sequelize-style where object with word operators), `sort`, `limit`, `offset`,
 * `count`. Values are checked against attribute types so that no query reaches the database with a value
 * the column cannot hold (PostgreSQL would answer with an error, SQLite with a silent mismatch).
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
const MAX_LIST = 1000;
const MAX_STRING = 2000;
const MAX_CONDITIONS = 200;

const comparison = { eq: Op.eq, ne: Op.ne, gt: Op.gt, gte: Op.gte, lt: Op.lt, lte: Op.lte } as const;
const lists = { in: Op.in, notIn: Op.notIn } as const;
const patterns = { like: Op.like, notLike: Op.notLike } as const;

type Scalar = string | number | boolean | null;

class FilterParser {
  private conditions = 0;

  constructor(private readonly attributes: AttributeMap) {}

  parse(filters: unknown, depth = 0): WhereOptions {
    if (depth > MAX_DEPTH) throw new BadRequestError('filters: nested too deeply');
    if (typeof filters !== 'object' || filters === null || Array.isArray(filters)) {
      throw new BadRequestError('filters: must be an object');
    }
    const where: Record<string | symbol, unknown> = {};
    for (const [key, value] of Object.entries(filters)) {
      if (++this.conditions > MAX_CONDITIONS) throw new BadRequestError('filters: too many conditions');
      if (key === 'and' || key === 'or') {
        if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LIST) {
          throw new BadRequestError(`filters: "${key}" takes a non-empty list of filters`);
        }
        where[key === 'and' ? Op.and : Op.or] = value.map((sub) => this.parse(sub, depth + 1));
      } else if (key === 'not') {
        where[Op.not] = this.parse(value, depth + 1);
      } else {
        const info = this.attributes.get(key);
        if (!info) throw new BadRequestError(`filters: unknown attribute "${key}"`);
        if (info.kind === 'json') throw new BadRequestError(`filters: attribute "${key}" cannot be filtered`);
        where[key] = this.condition(key, info, value);
      }
    }
    return where as WhereOptions;
  }

  private condition(attribute: string, info: AttributeInfo, value: unknown): unknown {
    if (value === null) return { [Op.is]: null };
    if (Array.isArray(value)) return { [Op.in]: this.list(attribute, info, value) };
    if (typeof value !== 'object') return this.scalar(attribute, info, value);
    const operators = Object.entries(value as Record<string, unknown>);
    if (operators.length === 0) throw new BadRequestError(`filters.${attribute}: empty condition`);
    const result: Record<symbol, unknown> = {};
    for (const [name, operand] of operators) {
      if (++this.conditions > MAX_CONDITIONS) throw new BadRequestError('filters: too many conditions');
      const where = `filters.${attribute}.${name}`;
      if (name in comparison) {
        result[comparison[name as keyof typeof comparison]] =
          operand === null && (name === 'eq' || name === 'ne') ? null : this.scalar(attribute, info, operand);
      } else if (name in lists) {
        if (!Array.isArray(operand)) throw new BadRequestError(`${where}: must be a list`);
        result[lists[name as keyof typeof lists]] = this.list(attribute, info, operand);
      } else if (name in patterns) {
        if (info.kind !== 'string' || typeof operand !== 'string' || operand.length > MAX_STRING) {
          throw new BadRequestError(`${where}: needs a string attribute and a string pattern`);
        }
        result[patterns[name as keyof typeof patterns]] = operand;
      } else if (name === 'between') {
        if (!Array.isArray(operand) || operand.length !== 2)
          throw new BadRequestError(`${where}: must be [low, high]`);
        result[Op.between] = operand.map((v) => this.scalar(attribute, info, v));
      } else if (name === 'is') {
        if (operand !== null && operand !== true && operand !== false) {
          throw new BadRequestError(`${where}: must be null, true or false`);
        }
        result[Op.is] = operand;
      } else if (name === 'not') {
        result[Op.not] =
          operand === null || typeof operand === 'boolean' ? operand : this.scalar(attribute, info, operand);
      } else {
        throw new BadRequestError(`filters.${attribute}: unknown operator "${name}"`);
      }
    }
    return result;
  }

  private list(attribute: string, info: AttributeInfo, values: unknown[]): Scalar[] {
    if (values.length > MAX_LIST) throw new BadRequestError(`filters.${attribute}: list too long`);
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
        if (typeof value !== 'string' || value.length > MAX_STRING) return bad();
        if (info.values && !info.values.includes(value)) {
          throw new BadRequestError(`filters.${attribute}: must be one of ${info.values.join(', ')}`);
        }
        return value;
    }
  }
}

/**
 * Turns a client's `filters` into a Sequelize where object.
 * @throws BadRequestError (400) for unknown attributes or operators, wrong value types, excess size.
 * @example parseFilters({ age: { gte: 18 }, or: [{ name: 'a' }, { name: null }] }, attributes)
 */
export function parseFilters(filters: unknown, attributes: AttributeMap): WhereOptions {
  return new FilterParser(attributes).parse(filters);
}

/**
 * Turns `sort` (`"name"`, `"-createdAt"` or a list of them) into a Sequelize order, with `id` appended as
 * a tie-breaker so that pages are stable.
 * @throws BadRequestError for unknown or non-sortable attributes.
 */
export function parseSort(sort: unknown, attributes: AttributeMap): Order {
  const keys = sort === undefined ? [] : Array.isArray(sort) ? sort : [sort];
  if (keys.length > 10) throw new BadRequestError('sort: too many keys');
  const order: Array<[string, 'ASC' | 'DESC']> = keys.map((key) => {
    if (typeof key !== 'string')
      throw new BadRequestError('sort: must be an attribute name or a list of them');
    const descending = key.startsWith('-');
    const name = descending ? key.slice(1) : key;
    const info = attributes.get(name);
    if (!info || info.kind === 'json') throw new BadRequestError(`sort: unknown attribute "${name}"`);
    return [name, descending ? 'DESC' : 'ASC'];
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
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/**
 * Parses the whole of `find`'s data. Query-string values arrive as strings and are accepted for `limit`,
 * `offset`, `count` and `subscribe`; `filters` and `sort` may also arrive as JSON text from a query string.
 */
export function parseFindQuery(data: Record<string, unknown>, attributes: AttributeMap): FindQuery {
  const json = (name: string, value: unknown): unknown => {
    if (typeof value !== 'string' || !/^[[{]/.test(value)) return value;
    try {
      return JSON.parse(value);
    } catch {
      throw new BadRequestError(`${name}: malformed JSON`);
    }
  };
  return {
    where: data.filters === undefined ? {} : parseFilters(json('filters', data.filters), attributes),
    order: parseSort(json('sort', data.sort), attributes),
    limit: integer('limit', data.limit, 1, MAX_LIMIT, DEFAULT_LIMIT),
    offset: integer('offset', data.offset, 0, Number.MAX_SAFE_INTEGER, 0),
    count: flag('count', data.count),
    subscribe: flag('subscribe', data.subscribe),
  };
}
