import { Op } from 'sequelize';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import {
  type AttributeMap,
  DEFAULT_QUERY_LIMITS,
  parseFilters,
  parseFindQuery,
  parseSort,
} from '../../lib/query.js';

const attributes: AttributeMap = new Map([
  ['id', { kind: 'integer' }],
  ['name', { kind: 'string' }],
  ['active', { kind: 'boolean' }],
  ['createdAt', { kind: 'date' }],
  ['severity', { kind: 'string', values: ['done', 'warning', 'serious'] }],
  ['preferences', { kind: 'json' }],
]);

describe('parseFilters', () => {
  it('turns word operators into Sequelize operators', () => {
    expect(parseFilters({ id: { gte: 2, lt: 10 }, name: { like: 'a%' } }, attributes)).toEqual({
      id: { [Op.gte]: 2, [Op.lt]: 10 },
      name: { [Op.like]: 'a%' },
    });
  });

  it('reads plain values as equality, lists as in, null as IS NULL', () => {
    expect(parseFilters({ id: 3, name: ['a', 'b'], active: null }, attributes)).toEqual({
      id: 3,
      name: { [Op.in]: ['a', 'b'] },
      active: { [Op.is]: null },
    });
  });

  it('nests and / or / not', () => {
    expect(
      parseFilters({ or: [{ id: 1 }, { and: [{ name: 'x' }, { not: { active: true } }] }] }, attributes),
    ).toEqual({
      [Op.or]: [{ id: 1 }, { [Op.and]: [{ name: 'x' }, { [Op.not]: { active: true } }] }],
    });
  });

  it('accepts between, notIn, is and not', () => {
    expect(
      parseFilters(
        { id: { between: [1, 5], notIn: [3] }, active: { is: true }, name: { not: 'x' } },
        attributes,
      ),
    ).toEqual({
      id: { [Op.between]: [1, 5], [Op.notIn]: [3] },
      active: { [Op.is]: true },
      name: { [Op.not]: 'x' },
    });
  });

  it('normalises dates to ISO strings', () => {
    expect(parseFilters({ createdAt: { gt: '2026-01-01' } }, attributes)).toEqual({
      createdAt: { [Op.gt]: '2026-01-01T00:00:00.000Z' },
    });
  });

  it.each([
    [{ id: { regexp: '.*' } }, /unknown operator "regexp"/],
    [{ id: { $gt: 1 } }, /unknown operator/],
    [{ password: 'x' }, /unknown attribute "password"/],
    [{ preferences: 'x' }, /cannot be filtered/],
    [{ id: 'one' }, /expected a integer/],
    [{ id: 1.5 }, /expected a integer/],
    [{ name: { like: 5 } }, /string pattern/],
    [{ id: { like: 'x' } }, /string attribute/],
    [{ id: { between: [1] } }, /\[low, high\]/],
    [{ id: { in: 5 } }, /must be a list/],
    [{ active: { is: 'yes' } }, /null, true or false/],
    [{ severity: 'bad' }, /one of done, warning, serious/],
    [{ createdAt: 'not a date' }, /date/],
    [{ or: {} }, /non-empty list/],
    [{ or: [] }, /non-empty list/],
    [[], /must be an object/],
    ['id=1', /must be an object/],
    [{ id: {} }, /empty condition/],
  ])('refuses %j with a 400', (filters, message) => {
    expect(() => parseFilters(filters, attributes)).toThrow(BadRequestError);
    expect(() => parseFilters(filters, attributes)).toThrow(message);
  });

  it('refuses deep nesting', () => {
    let filters: unknown = { id: 1 };
    for (let i = 0; i < 10; i++) filters = { and: [filters] };
    expect(() => parseFilters(filters, attributes)).toThrow(/nested too deeply/);
  });

  it('refuses huge lists', () => {
    expect(() => parseFilters({ id: { in: Array.from({ length: 1001 }, (_, i) => i) } }, attributes)).toThrow(
      /more than 1000 values/,
    );
  });
});

/** The 400 a filter gets, as the client sees it: code, message and validation. */
function refusal(filters: unknown, limits = {}): BadRequestError {
  try {
    parseFilters(filters, attributes, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    return err as BadRequestError;
  }
  throw new Error(`accepted ${JSON.stringify(filters)}`);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('parseFilters: cost limits', () => {
  it('When a filter holds more conditions than maxConditions, then a ValidationError names maxConditions', () => {
    // `{or: [50 × {id: i}]}`: the filter, `or`, and two per element (the object and its key) = 102
    const filters = { or: range(50).map((id) => ({ id })) };
    expect(() => parseFilters(filters, attributes, { maxConditions: 102 })).not.toThrow();
    const error = refusal(filters, { maxConditions: 101 });
    expect(error.code).toBe('ValidationError');
    expect(error.validation).toEqual([
      { path: 'filters.or[49].id', message: 'more than 101 conditions in all', type: 'maxConditions' },
    ]);
  });

  it('When operator objects and nested not/and/or pile up, then each object and each key counts', () => {
    // filter 1 + `not` 1 + its object 1 + `and` 1 + element 1 + `name` 1 + operator object 1 + `like` 1 = 8
    const filters = { not: { and: [{ name: { like: 'a%' } }] } };
    expect(() => parseFilters(filters, attributes, { maxConditions: 8 })).not.toThrow();
    expect(refusal(filters, { maxConditions: 7 }).validation?.[0].type).toBe('maxConditions');
  });

  it('When and/or lists hold empty objects, then 400 at the first one, whatever the nesting', () => {
    // once free: 31 conditions that cost Sequelize 0.5 s of CPU
    const attack = { or: range(30).map(() => ({ or: range(1000).map(() => ({})) })) };
    expect(refusal(attack).message).toBe('filters.or[0].or[0]: empty filter');
    expect(refusal({ and: [{ id: 1 }, {}] }).message).toBe('filters.and[1]: empty filter');
    expect(refusal({ not: {} }).message).toBe('filters.not: empty filter');
    expect(parseFilters({}, attributes)).toEqual({});
  });

  it('When the lists of a filter hold more than 1000 values in all, then a ValidationError names maxValues', () => {
    const filters = { or: [{ id: range(600) }, { id: { notIn: range(300) } }, { id: { between: [1, 2] } }] };
    expect(() => parseFilters(filters, attributes)).not.toThrow();
    const error = refusal({ or: [...filters.or, { id: { in: range(99) } }] });
    expect(error.validation).toEqual([
      { path: 'filters.or[3].id.in', message: 'more than 1000 values in all lists', type: 'maxValues' },
    ]);
  });

  it('When like patterns are longer than maxPatternLength in all, then a ValidationError names the filter', () => {
    const { maxPatternLength } = DEFAULT_QUERY_LIMITS;
    expect(() => parseFilters({ name: { like: 'a'.repeat(maxPatternLength) } }, attributes)).not.toThrow();
    const error = refusal({ name: { notLike: 'a'.repeat(maxPatternLength + 1) } });
    expect(error.code).toBe('ValidationError');
    expect(error.validation).toEqual([
      {
        path: 'filters.name.notLike',
        message: `patterns longer than ${maxPatternLength} characters in all`,
        type: 'maxPatternLength',
      },
    ]);
    // two patterns within the limit each, over it together
    const half = 'b'.repeat(maxPatternLength / 2 + 1);
    expect(refusal({ or: [{ name: { like: half } }, { name: { like: half } }] }).validation?.[0].path).toBe(
      'filters.or[1].name.like',
    );
    expect(refusal({ name: { like: 'abc' } }, { maxPatternLength: 2 }).validation?.[0].type).toBe(
      'maxPatternLength',
    );
  });

  it('When like patterns hold more than maxWildcards % and _ in all, then a ValidationError names the filter', () => {
    expect(() => parseFilters({ name: { like: '%a_b%'.repeat(3) } }, attributes)).not.toThrow(); // 9
    expect(refusal({ name: { like: '%a%b%c%d%e%f' } }, { maxWildcards: 5 }).validation).toEqual([
      {
        path: 'filters.name.like',
        message: 'more than 5 wildcards (% and _) in all patterns',
        type: 'maxWildcards',
      },
    ]);
    expect(
      refusal({ and: [{ name: { like: '%_%_%_' } }, { name: { notLike: '%_%_%' } }] }).validation?.[0],
    ).toEqual(expect.objectContaining({ path: 'filters.and[1].name.notLike', type: 'maxWildcards' }));
  });
});

describe('parseFilters: operands the database would refuse', () => {
  it.each(Object.getOwnPropertyNames(Object.prototype))(
    'When the operator is %s (a key of Object.prototype), then 400 unknown operator',
    (name) => {
      // JSON.parse: a `__proto__` key is then an own property, as it arrives from a client
      const filters = JSON.parse(`{"id": {"${name}": 1}, "name": {"${name}": "x"}}`);
      expect(refusal(filters).message).toBe(`filters.id: unknown operator "${name}"`);
      expect(refusal(JSON.parse(`{"${name}": 1}`)).message).toMatch(/unknown attribute/);
    },
  );

  it.each([
    [{ createdAt: { is: true } }, /true and false need a boolean attribute/],
    [{ name: { is: false } }, /true and false need a boolean attribute/],
    [{ id: { not: true } }, /true and false need a boolean attribute/],
    [{ severity: { not: false } }, /true and false need a boolean attribute/],
    [{ createdAt: { is: '2020-01-01' } }, /must be null, true or false/],
    [{ name: { is: 'x' } }, /must be null, true or false/],
    [{ createdAt: { not: 'yesterday' } }, /expected a date value/],
    [{ id: { not: 'x' } }, /expected a integer value/],
    [{ active: { not: 'true' } }, /expected a boolean value/],
    [{ severity: { not: 'bad' } }, /one of done, warning, serious/],
    [{ name: { not: [1] } }, /expected a string value/],
  ])('When is/not has an operand the attribute cannot take (%j), then 400', (filters, message) => {
    expect(refusal(filters).message).toMatch(message);
  });

  it('When is/not has an operand the attribute takes, then Sequelize gets it (not: value is a plain !=)', () => {
    expect(
      parseFilters(
        { createdAt: { is: null }, id: { not: null }, active: { is: false, not: true }, name: { not: 'x' } },
        attributes,
      ),
    ).toEqual({
      createdAt: { [Op.is]: null },
      id: { [Op.not]: null },
      active: { [Op.is]: false, [Op.not]: true },
      name: { [Op.not]: 'x' },
    });
  });

  it.each(['\\', 'a\\', 'a\\\\\\'])(
    'When a like pattern ends with an escape character (%s), then 400',
    (pattern) => {
      expect(refusal({ name: { like: pattern } }).message).toMatch(/cannot end with an escape character/);
    },
  );

  it('When a like pattern ends with an escaped backslash, then it is accepted', () => {
    expect(parseFilters({ name: { like: 'a\\\\' } }, attributes)).toEqual({ name: { [Op.like]: 'a\\\\' } });
  });

  it('When like targets an enumeration (PostgreSQL has no LIKE on enums), then 400', () => {
    expect(refusal({ severity: { like: 'do%' } }).message).toMatch(/free-text string attribute/);
  });

  it.each([
    '2020-13-45',
    '2020-01-01T25:00:00Z',
    '0000-12-31T23:59:59.999Z',
    '0001-01-01T00:30:00+01:00',
    '+010000-01-01',
    '-000001-01-01',
    '10000-01-01',
    253402300800000,
    -62135596800001,
    Number.NaN,
    '',
    true,
  ])('When a date filter is not a storable date (%j), then 400', (value) => {
    expect(refusal({ createdAt: { gte: value } }).message).toMatch(/expected a date value/);
  });

  it.each([
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
    ['2020-01-01T00:00:00+14:00', '2019-12-31T10:00:00.000Z'],
    [-0, '1970-01-01T00:00:00.000Z'],
    [253402300799999, '9999-12-31T23:59:59.999Z'],
  ])('When a date filter is %j, then PostgreSQL gets the ISO instant %s', (value, iso) => {
    expect(parseFilters({ createdAt: { gte: value } }, attributes)).toEqual({ createdAt: { [Op.gte]: iso } });
  });

  it('When a string holds NUL (JSON text from a query string gets past the edge), then 400', () => {
    expect(refusal(JSON.parse('{"name": "a\\u0000"}')).message).toMatch(/expected a string value/);
    expect(refusal(JSON.parse('{"name": {"like": "%\\u0000%"}}')).message).toMatch(/NUL/);
  });
});

describe('parseSort', () => {
  it('reads ascending and descending keys, nulls last ascending on every database, and appends id', () => {
    expect(parseSort('-createdAt', attributes)).toEqual([
      ['createdAt', 'DESC NULLS FIRST'],
      ['id', 'ASC'],
    ]);
    expect(parseSort(['name', '-id'], attributes)).toEqual([
      ['name', 'ASC NULLS LAST'],
      ['id', 'DESC NULLS FIRST'],
    ]);
  });

  it('refuses unknown attributes and wrong types', () => {
    expect(() => parseSort('password', attributes)).toThrow(/unknown attribute/);
    expect(() => parseSort(5, attributes)).toThrow(BadRequestError);
  });
});

describe('parseFindQuery', () => {
  it('defaults to 100 items from offset 0', () => {
    const query = parseFindQuery({}, attributes);
    expect(query).toMatchObject({ limit: 100, offset: 0, count: false, subscribe: false, where: {} });
  });

  it('accepts query-string forms of numbers, flags and JSON', () => {
    const query = parseFindQuery(
      { limit: '5', offset: '10', count: 'true', filters: '{"id":1}', sort: '-id' },
      attributes,
    );
    expect(query).toMatchObject({ limit: 5, offset: 10, count: true, where: { id: 1 } });
  });

  it.each([
    [{ limit: 0 }],
    [{ limit: 1001 }],
    [{ limit: 'ten' }],
    [{ offset: -1 }],
    [{ count: 'maybe' }],
    [{ filters: '{bad json' }],
  ])('refuses %j', (data) => {
    expect(() => parseFindQuery(data, attributes)).toThrow(BadRequestError);
  });
});
