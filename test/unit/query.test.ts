import { Op } from 'sequelize';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { type AttributeMap, parseFilters, parseFindQuery, parseSort } from '../../lib/query.js';

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
      /too long/,
    );
  });
});

describe('parseSort', () => {
  it('reads ascending and descending keys and appends id', () => {
    expect(parseSort('-createdAt', attributes)).toEqual([
      ['createdAt', 'DESC'],
      ['id', 'ASC'],
    ]);
    expect(parseSort(['name', '-id'], attributes)).toEqual([
      ['name', 'ASC'],
      ['id', 'DESC'],
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
