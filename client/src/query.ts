/**
 * The `find` filter language and sort order evaluated in the client, exactly as the server's database
 * evaluates them (docs/protocol.md "Filters and sort, exactly"): SQL's three-valued logic (a condition on
 * `null` is unknown, `not` of unknown is unknown, an item matches only when its filter is true), strings
 * compared by Unicode code point, `like` case-sensitive with `%`, `_` and `\` as escape, `null` sorted
 * after every value (first in a descending sort), `id` as the last sort key. A live query uses it to
 * place each event's item without asking the server; test/client/query.conformance.test.ts checks it
 * against PostgreSQL and SQLite on random filters and data.
 *
 * The filter is assumed valid: the server checked it when the live query first fetched.
 */

/** The kind of an attribute's values, as the server's models declare them (client/src/schema.ts). */
export type AttributeKind = 'integer' | 'number' | 'string' | 'boolean' | 'date' | 'json';

/** Kinds of a model's public attributes by name. */
export type AttributeKinds = Readonly<Record<string, AttributeKind>>;

/** Something an item holds or a filter compares with, made comparable: dates as epoch ms. */
type Comparable = string | number | boolean;
/** SQL's truth values: `null` is unknown. */
type Truth = boolean | null;

/** Compares two strings by code point, as PostgreSQL's "C" collation and SQLite's BINARY do. */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 orders U+E000–U+FFFF after the surrogates of U+10000 and above: code points do not
    if (x >= 0xd800 && x <= 0xdfff && y >= 0xd800 && y <= 0xdfff) return x - y;
    if (x >= 0xd800 && x <= 0xdfff) return y >= 0xe000 ? 1 : x - y;
    if (y >= 0xd800 && y <= 0xdfff) return x >= 0xe000 ? -1 : x - y;
    return x - y;
  }
  return a.length - b.length;
}

function comparable(kind: AttributeKind, value: unknown): Comparable | null {
  if (value === null || value === undefined) return null;
  if (kind === 'date') return new Date(value as string | number).getTime();
  return value as Comparable;
}

function compareValues(a: Comparable, b: Comparable): number {
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  return Number(a) - Number(b);
}

const and3 = (values: Truth[]): Truth =>
  values.includes(false) ? false : values.includes(null) ? null : true;
const or3 = (values: Truth[]): Truth => (values.includes(true) ? true : values.includes(null) ? null : false);
const not3 = (value: Truth): Truth => (value === null ? null : !value);

/** A `like` pattern as a regular expression over code points: `%` any text, `_` one character. */
export function likePattern(pattern: string): RegExp {
  let source = '';
  const characters = [...pattern];
  for (let i = 0; i < characters.length; i++) {
    let c = characters[i];
    if (c === '\\' && i + 1 < characters.length) c = `\\${characters[++i]}`;
    if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else {
      const literal = c.length > 1 && c.startsWith('\\') ? c.slice(1) : c;
      // the syntax characters: with the `u` flag, escaping anything else (`-`) is an error
      source += literal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 'su');
}

type Predicate = (item: Readonly<Record<string, unknown>>) => Truth;

/**
 * Compiles a `find` filter into a predicate: true when the server's `find` would return the item.
 * @param filter a filter as `find` takes it (`{severity: 'serious', or: [{…}, {…}]}`)
 * @param kinds the model's attribute kinds (dates compare as instants, strings by code point)
 */
export function compileFilter(
  filter: unknown,
  kinds: AttributeKinds,
): (item: Readonly<Record<string, unknown>>) => boolean {
  const predicate =
    filter === undefined ? () => true : compileObject(filter as Record<string, unknown>, kinds);
  return (item) => predicate(item) === true;
}

function compileObject(filter: Record<string, unknown>, kinds: AttributeKinds): Predicate {
  const parts: Predicate[] = Object.entries(filter).map(([key, value]) => {
    if (key === 'and' || key === 'or') {
      const subs = (value as Record<string, unknown>[]).map((sub) => compileObject(sub, kinds));
      const combine = key === 'and' ? and3 : or3;
      return (item) => combine(subs.map((sub) => sub(item)));
    }
    if (key === 'not') {
      const sub = compileObject(value as Record<string, unknown>, kinds);
      return (item) => not3(sub(item));
    }
    return compileCondition(key, kinds[key] ?? 'string', value);
  });
  return (item) => and3(parts.map((part) => part(item)));
}

function compileCondition(attribute: string, kind: AttributeKind, condition: unknown): Predicate {
  const read = (item: Readonly<Record<string, unknown>>) => comparable(kind, item[attribute]);
  if (condition === null) return (item) => read(item) === null;
  if (Array.isArray(condition)) {
    const list = condition.map((value) => comparable(kind, value) as Comparable);
    return (item) => inList(read(item), list);
  }
  if (typeof condition !== 'object') {
    const operand = comparable(kind, condition) as Comparable;
    return (item) => compareWith(read(item), operand, (order) => order === 0);
  }
  const parts = Object.entries(condition as Record<string, unknown>).map(([name, operand]) =>
    compileOperator(kind, name, operand, read),
  );
  return (item) => and3(parts.map((part) => part(item)));
}

function compareWith(value: Comparable | null, operand: Comparable, test: (order: number) => boolean): Truth {
  return value === null ? null : test(compareValues(value, operand));
}

/** `value IN (list)`; an empty list is `IN (NULL)` for Sequelize: never true. */
function inList(value: Comparable | null, list: Comparable[]): Truth {
  if (list.length === 0 || value === null) return null;
  return list.some((entry) => compareValues(value, entry) === 0);
}

function compileOperator(
  kind: AttributeKind,
  name: string,
  operand: unknown,
  read: (item: Readonly<Record<string, unknown>>) => Comparable | null,
): Predicate {
  const value = (raw: unknown) => comparable(kind, raw) as Comparable;
  switch (name) {
    case 'eq':
    case 'ne': {
      const equal = name === 'eq';
      if (operand === null) return (item) => (read(item) === null) === equal;
      const target = value(operand);
      return (item) => compareWith(read(item), target, (order) => (order === 0) === equal);
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const target = value(operand);
      const test = {
        gt: (order: number) => order > 0,
        gte: (order: number) => order >= 0,
        lt: (order: number) => order < 0,
        lte: (order: number) => order <= 0,
      }[name];
      return (item) => compareWith(read(item), target, test);
    }
    case 'in':
    case 'notIn': {
      const list = (operand as unknown[]).map(value);
      // Sequelize leaves `notIn: []` out of the query altogether
      if (name === 'notIn' && list.length === 0) return () => true;
      return name === 'in' ? (item) => inList(read(item), list) : (item) => not3(inList(read(item), list));
    }
    case 'like':
    case 'notLike': {
      const pattern = likePattern(operand as string);
      const like = name === 'like';
      return (item) => {
        const text = read(item);
        return text === null ? null : pattern.test(String(text)) === like;
      };
    }
    case 'between': {
      const [low, high] = (operand as unknown[]).map(value);
      return (item) => {
        const current = read(item);
        return current === null
          ? null
          : compareValues(current, low) >= 0 && compareValues(current, high) <= 0;
      };
    }
    case 'is':
      return (item) => read(item) === operand;
    case 'not':
      if (operand === null || typeof operand === 'boolean') return (item) => read(item) !== operand;
      return compileOperator(kind, 'ne', operand, read);
    default:
      throw new Error(`unknown filter operator "${name}"`);
  }
}

/**
 * Compiles a `find` sort (`"title"`, `"-createdAt"` or a list) into a comparator giving the server's order:
 * each key ascending (or descending with `-`), `null` after every value (before, descending), then `id`.
 */
export function compileSort(
  sort: string | readonly string[] | undefined,
  kinds: AttributeKinds,
): (a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>) => number {
  const keys = (sort === undefined ? [] : typeof sort === 'string' ? [sort] : [...sort]).map((key) => {
    const descending = key.startsWith('-');
    const name = descending ? key.slice(1) : key;
    return { name, kind: kinds[name] ?? 'string', sign: descending ? -1 : 1 };
  });
  if (!keys.some((key) => key.name === 'id')) keys.push({ name: 'id', kind: 'integer', sign: 1 });
  return (a, b) => {
    for (const { name, kind, sign } of keys) {
      const x = comparable(kind, a[name]);
      const y = comparable(kind, b[name]);
      if (x === y) continue;
      // null is greater than every value: last ascending, first descending
      const order = x === null ? 1 : y === null ? -1 : compareValues(x, y);
      if (order !== 0) return sign * order;
    }
    return 0;
  };
}
