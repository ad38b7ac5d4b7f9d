import {
  DataTypes,
  type Model,
  type ModelAttributeColumnOptions,
  type ModelAttributes,
  type ModelOptions,
  type ModelStatic,
  Op,
  type Sequelize,
} from 'sequelize';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import { FluxModel, type FluxModelClass, publicAttributes } from '../../lib/FluxModel.js';
import { type LeanFindOptions, leanReader, MAX_STATEMENTS, statementKey } from '../../lib/leanRead.js';
import type { Transport } from '../helpers/clients.js';
import { client, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, openTestDatabase, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The lean read path (lib/leanRead.ts) answers what Sequelize instances would: for every model of the
 * application, rows written with varied values — nulls, booleans, dates (with milliseconds, long ago),
 * JSON of every shape, text with quotes and non-ASCII characters, hidden attributes — read lean and read
 * as instances serialize to the same JSON text, attribute order included; and `get` and `find` over
 * HTTP and the socket answer that same JSON. Models whose instances give more than their values (their
 * own `toJSON`, scopes, find hooks, …) are read through Sequelize. SQLite by default, PostgreSQL when
 * DATABASE_URL is set.
 */

let server: TestServer;
const seeded = new Map<FluxModelClass, number[]>();

const models = (): FluxModelClass[] => Object.values(Flux.models) as unknown as FluxModelClass[];

type AttributeOf = ModelAttributeColumnOptions & {
  type: { key: string; values?: string[]; options?: { length?: number } };
};

const DATES = [
  new Date('2026-11-29T18:03:30.123Z'),
  new Date('1970-01-01T00:00:00.000Z'),
  new Date('0999-12-31T23:59:59.999Z'),
];
const JSONS: unknown[] = [{}, { a: [1, 'two', null, true], nested: { x: 1.5, y: 'é"\\' } }, [3, 2, 1], []];

/** A value of `attribute` for variant `v` (0: nulls where allowed), unique per `n` for text. */
function valueFor(
  model: FluxModelClass,
  name: string,
  attribute: AttributeOf,
  v: number,
  n: number,
  ids: Map<string, number>,
): unknown {
  if (name === 'tenantId') return 1;
  const nullable = attribute.allowNull !== false;
  if (v === 0 && nullable) return null;
  const reference = model.references[name];
  if (reference) return ids.get(reference.model) ?? null;
  const type = attribute.type;
  switch (type.key) {
    case 'INTEGER':
      return 1000 + n;
    case 'BOOLEAN':
      return v % 2 === 1;
    case 'DATE':
      return DATES[v % DATES.length];
    case 'JSON':
      return JSONS[(v + n) % JSONS.length];
    case 'ENUM':
      return type.values?.[v % type.values.length];
    default: {
      // unique per row (unique indexes), with quotes and non-ASCII text, cut to a STRING(n)'s length
      const length = type.options?.length;
      return `${n}-${name}-é"'\\`.slice(0, typeof length === 'number' ? length : undefined);
    }
  }
}

beforeAll(async () => {
  server = await startTestServer();
  // each model after the models it references, so that its references name existing rows
  const pending = models();
  const ids = new Map<string, number>();
  let n = 0;
  while (pending.length) {
    const index = pending.findIndex((model) =>
      Object.values(model.references).every(
        (reference) => reference.model === model.name || ids.has(reference.model),
      ),
    );
    const [model] = pending.splice(index === -1 ? 0 : index, 1);
    const attributes = model.getAttributes() as Record<string, AttributeOf>;
    const rows = [0, 1, 2, 3].map((v) => {
      n++;
      const row: Record<string, unknown> = {};
      for (const [name, attribute] of Object.entries(attributes)) {
        if (attribute.autoIncrement || name === 'createdAt' || name === 'updatedAt') continue;
        row[name] = valueFor(model, name, attribute, v, n, ids);
      }
      return row;
    });
    // stored as given: no validation, no hooks (no password hashing, no events)
    const created = await model.bulkCreate(rows as never[], { validate: false, hooks: false });
    const createdIds = created.map((row) => row.get('id') as number);
    // the rows already there (the bootstrap's tenant, team and admin) too
    const existing = await model.findAll({ attributes: ['id'] });
    const existingIds = existing.map((row) => row.get('id') as number);
    seeded.set(model, [...new Set([...existingIds, ...createdIds])]);
    ids.set(model.name, createdIds[1]);
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

/** What Sequelize's instances of `model` serialize to, for `ids`, by id. */
async function instanceJson(model: FluxModelClass, ids: number[]): Promise<string> {
  return JSON.stringify(await model.findAll({ where: { id: ids }, order: [['id', 'ASC']] }));
}

describe('When rows are read lean, then they serialize as their instances', () => {
  it('When every model of the application is read, then each reads lean', () => {
    // a model whose instances give more than their values would read through Sequelize (and this test
    // would compare nothing for it): say so here if one is added on purpose
    for (const model of models()) expect(leanReader(model), model.name).toBeDefined();
  });

  it('When the varied rows of every model are read, then the JSON text is the instances’', async () => {
    for (const model of models()) {
      const ids = seeded.get(model) as number[];
      const lean = await leanReader(model)?.findAll({ where: { id: ids }, order: [['id', 'ASC']] });
      expect(JSON.stringify(lean), model.name).toBe(await instanceJson(model, ids));
      for (const hidden of model.hiddenAttributes)
        for (const item of lean ?? []) expect(item, `${model.name}.${hidden}`).not.toHaveProperty(hidden);
      // one by one, as `get` reads them
      for (const id of ids) {
        const one = await leanReader(model)?.findAll({ where: { id }, limit: 1 });
        expect(JSON.stringify(one), `${model.name} ${id}`).toBe(await instanceJson(model, [id]));
      }
    }
  });
});

describe('When a lean read is written, then it is the statement Sequelize writes', () => {
  it('When the options vary, then the SQL is selectQuery’s for the same attributes', () => {
    const Message = Flux.models.Message as unknown as FluxModelClass;
    const reader = leanReader(Message);
    const generator = Flux.sequelize.getQueryInterface().queryGenerator as {
      selectQuery(table: unknown, options: object, model: unknown): string;
    };
    const attributes = [...publicAttributes(Message).keys()];
    const cases: LeanFindOptions[] = [
      { where: {} },
      { where: { tenantId: 1, id: 7 }, limit: 1 },
      { where: { tenantId: 1, userId: -5, id: 0 }, limit: 1 },
      { where: { tenantId: 1, channel: 'public:2', id: 7 }, limit: 1 },
      { where: { tenantId: 1, id: 2 ** 53 }, limit: 1 },
      {
        where: {
          [Op.and]: [
            { tenantId: 1, [Op.and]: [{ [Op.or]: [{ channel: 'public:2' }, { userId: null }] }] },
            { text: { [Op.like]: '50\\%%' }, createdAt: { [Op.gte]: new Date('2026-11-29T18:00:00.000Z') } },
          ],
        },
        order: [
          ['createdAt', 'DESC'],
          ['id', 'ASC'],
        ],
        limit: 20,
        offset: 40,
      },
      { where: { id: { [Op.in]: [1, 2, 3] }, channel: { [Op.ne]: "it's" } }, offset: 5 },
    ];
    for (const options of cases) {
      const expected = generator.selectQuery(
        Message.getTableName(),
        { ...structuredClone({ ...options, where: undefined }), where: options.where, attributes },
        Message,
      );
      expect(reader?.sql(options)).toBe(expected);
    }
  });
});

describe('When a lean read is asked again, then its statement is the one kept', () => {
  const Message = () => Flux.models.Message as unknown as FluxModelClass;
  const generator = () =>
    Flux.sequelize.getQueryInterface().queryGenerator as {
      selectQuery(table: unknown, options: object, model: unknown): string;
      getWhereConditions(...args: unknown[]): string;
    };
  /** What Sequelize itself writes for `options`. */
  const expected = (options: LeanFindOptions) =>
    generator().selectQuery(
      Message().getTableName(),
      {
        ...structuredClone({ ...options, where: undefined }),
        where: options.where,
        attributes: [...publicAttributes(Message()).keys()],
      },
      Message(),
    );
  /** How many wheres Sequelize's generator writes while `run` runs. */
  function writes(run: () => void): number {
    const spy = vi.spyOn(generator(), 'getWhereConditions');
    try {
      run();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  }

  it('When options that differ in one value, type, operator, order of keys or bound come twice, then each gets its own statement, written once', () => {
    const reader = leanReader(Message())!;
    const date = new Date('2026-11-29T18:00:00.000Z');
    // new objects each time: writing a statement, Sequelize changes its options' order in place ('DESC'
    // becomes a literal)
    const cases = (): LeanFindOptions[] => [
      { where: { channel: '1' } },
      { where: { channel: 1 } },
      { where: { userId: 1 } },
      { where: { userId: '1' } },
      { where: { [Op.or]: [{ channel: 'kept:a' }, { userId: 2 }] } },
      { where: { [Op.and]: [{ channel: 'kept:a' }, { userId: 2 }] } },
      { where: { [Op.or]: [{ channel: 'kept:a' }], userId: 2 } },
      { where: { channel: { [Op.in]: ['kept:a', 'kept:b'] } } },
      { where: { channel: { [Op.in]: ['kept:a","kept:b'] } } },
      { where: { channel: { [Op.in]: ['kept:a', ['kept:b']] } } },
      { where: { channel: 'kept:a"b' } },
      { where: { channel: 'kept:a\\"b' } },
      { where: { channel: null } },
      { where: { channel: 'null' } },
      { where: { channel: '#n' } },
      { where: { createdAt: { [Op.gte]: date } } },
      { where: { createdAt: { [Op.gte]: date.toISOString() } } },
      { where: { createdAt: { [Op.gte]: new Date(date.getTime() + 1) } } },
      { where: { userId: 2, channel: 'kept:a' } },
      { where: { channel: 'kept:a', userId: 2 } },
      { where: { channel: 'kept:a' }, limit: 20 },
      { where: { channel: 'kept:a' }, limit: 20, offset: 20 },
      { where: { channel: 'kept:a' }, offset: 20 },
      { where: { channel: 'kept:a' }, order: [['id', 'DESC']] },
      { where: { channel: 'kept:a' }, order: [['id', 'ASC']] },
      { where: { text: { [Op.like]: '%kept%' } } },
      { where: { text: { [Op.notLike]: '%kept%' } } },
    ];
    // no two of them share a key (some share a statement: Sequelize writes '1' and 1 alike for a text column)
    expect(new Set(cases().map(statementKey)).size).toBe(cases().length);
    const statements = cases().map(expected);
    // asked once (written, unless an earlier test wrote it), then again in another order: never written again
    for (const [i, options] of cases().entries()) expect(reader.sql(options)).toBe(statements[i]);
    const again = writes(() => {
      for (const [i, options] of [...cases().entries()].reverse())
        expect(reader.sql(options)).toBe(statements[i]);
    });
    expect(again).toBe(0);
  });

  it('When the options hold what has no key (a Sequelize where, a long IN list), then the statement is written each time', () => {
    const reader = leanReader(Message())!;
    const { sequelize } = Flux;
    const cases: LeanFindOptions[] = [
      { where: { [Op.and]: [sequelize.where(sequelize.col('channel'), 'kept:w')] } },
      { where: { channel: { [Op.in]: Array.from({ length: 300 }, (_, i) => `kept-long-list:${i}`) } } },
    ];
    for (const options of cases) {
      expect(statementKey(options)).toBeUndefined();
      const statement = expected(options);
      expect(writes(() => expect(reader.sql(options)).toBe(statement))).toBeGreaterThan(0);
      expect(writes(() => expect(reader.sql(options)).toBe(statement))).toBeGreaterThan(0);
    }
  });

  it(`When more than ${MAX_STATEMENTS} options were asked, then the least recently used is written again; a get by id is never kept`, () => {
    const reader = leanReader(Message())!;
    const bound = (i: number): LeanFindOptions => ({ where: { channel: `bound:${i}` } });
    reader.sql(bound(0));
    // gets (a where of integer equalities) are written directly: a thousand of them drop nothing
    for (let id = 1; id <= 2 * MAX_STATEMENTS; id++) reader.sql({ where: { tenantId: 1, id }, limit: 1 });
    expect(writes(() => reader.sql(bound(0)))).toBe(0);
    // full: bound:0 and 499 others, every statement of earlier tests pushed out
    for (let i = 1; i < MAX_STATEMENTS; i++) reader.sql(bound(i));
    // bound:0 used again, so the next one pushes out bound:1, the least recently used
    expect(writes(() => reader.sql(bound(0)))).toBe(0);
    reader.sql(bound(MAX_STATEMENTS));
    const statements = [0, 1, 2].map((i) => expected(bound(i)));
    expect(writes(() => expect(reader.sql(bound(0))).toBe(statements[0]))).toBe(0);
    expect(writes(() => expect(reader.sql(bound(2))).toBe(statements[2]))).toBe(0);
    expect(writes(() => expect(reader.sql(bound(1))).toBe(statements[1]))).toBe(1);
  });

  it('When a value could answer the key one thing and Sequelize another, then it has no key', () => {
    const withKey: LeanFindOptions = { where: { userId: [1, 2], createdAt: new Date(0) } };
    expect(statementKey(withKey)).toBeDefined();
    const unusual: unknown[] = [
      // Sequelize reads operators on any value: an array or a date carrying one
      { userId: Object.assign([1, 2], { [Op.or]: [3] }) },
      { createdAt: Object.assign(new Date(0), { [Op.or]: new Date(1) }) },
      // a getter and a proxy could answer differently each time they are read
      Object.defineProperty({}, 'channel', { get: () => 'kept:getter', enumerable: true }),
      new Proxy({ channel: 'kept:proxy' }, {}),
      { channel: -0 },
      { channel: Number.NaN },
      { channel: new Date(Number.NaN) },
      { channel: 10n },
      { channel: undefined },
      { channel: Symbol.for('kept') },
      { [Symbol('local')]: 'kept' },
      { channel: Buffer.from('kept') },
    ];
    for (const where of unusual)
      expect(statementKey({ where: where as LeanFindOptions['where'] })).toBeUndefined();
  });
});

describe.each(['http', 'socket'] as const)('When the admin reads over %s', (kind) => {
  let admin: Transport;

  beforeAll(async () => {
    admin = await client(server.url, kind, 'admin', ADMIN_PASSWORD);
  });

  afterAll(() => admin.close());

  it('When it gets and finds the rows of every generic model, then the replies are the instances’ JSON', async () => {
    let compared = 0;
    for (const model of models()) {
      if (!model.tenantScoped) continue; // tenants have their own controller
      const path = `/${model.publicName.toLowerCase()}`;
      const ids = seeded.get(model) as number[];
      const expected = JSON.parse(await instanceJson(model, ids)) as Array<{ id: number }>;
      const found = await admin.request('GET', path, {
        filters: { id: { in: ids } },
        sort: 'id',
      });
      expect(JSON.stringify(expectStatus(found, 200)), `${path}`).toBe(JSON.stringify(expected));
      for (const item of expected) {
        const got = await admin.request('GET', `${path}/${item.id}`);
        expect(JSON.stringify(expectStatus(got, 200)), `${path}/${item.id}`).toBe(JSON.stringify(item));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
  });

  it('When a crowd reads the same list while the admin creates teams, then each of the admin’s reads after a create has it', async () => {
    // on PostgreSQL the crowd's lists (the same user, the same query) share statements while they wait for
    // a connection (hundreds of times here); the rule that a shared statement is never one sent before a
    // read was asked is checked deterministically in leanQuery.test.ts
    const crowd = await Promise.all(
      Array.from({ length: 3 }, () => client(server.url, kind, 'admin', ADMIN_PASSWORD)),
    );
    const list = { sort: '-id', limit: 3 };
    let reading = true;
    let crowdReads = 0;
    const readers = crowd.flatMap((reader) =>
      Array.from({ length: 8 }, async () => {
        while (reading) {
          expectStatus(await reader.request('GET', '/team', list), 200);
          crowdReads++;
        }
      }),
    );
    try {
      for (let i = 0; i < 10; i++) {
        const team = expectStatus<{ id: number }>(
          await admin.request('POST', '/team', { name: `Crowd ${kind} ${i}`, role: 'bar' }),
          201,
        );
        const [first] = expectStatus<Array<{ id: number }>>(await admin.request('GET', '/team', list), 200);
        expect(first.id).toBe(team.id);
      }
    } finally {
      reading = false;
      await Promise.all(readers);
      for (const reader of crowd) reader.close();
    }
    expect(crowdReads).toBeGreaterThan(10);
  });
});

describe('When a model’s instances give more than their values, then it reads through Sequelize', () => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let sequelize: Sequelize;

  /** A toy model `name` with a flag, a time and a JSON value, defined with `options`. */
  function define(name: string, options: Partial<ModelOptions> = {}, attributes: ModelAttributes = {}) {
    const model = class extends FluxModel {};
    Object.defineProperty(model, 'name', { value: name });
    initialize(model, sequelize, options, attributes);
    return model as unknown as FluxModelClass;
  }

  function initialize(
    model: typeof FluxModel,
    on: Sequelize,
    options: Partial<ModelOptions> = {},
    attributes: ModelAttributes = {},
  ): void {
    (model as unknown as ModelStatic<Model>).init(
      {
        id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
        tenantId: { type: DataTypes.INTEGER, allowNull: false },
        flag: { type: DataTypes.BOOLEAN, allowNull: true },
        at: { type: DataTypes.DATE, allowNull: true },
        data: { type: DataTypes.JSON, allowNull: true },
        ...attributes,
      },
      { sequelize: on, modelName: model.name, tableName: `${model.name}s`, ...options },
    );
  }

  beforeAll(async () => {
    database = await openTestDatabase();
    sequelize = database.sequelize;
  });

  afterAll(async () => {
    await database?.close();
  });

  it('When a plain model is read lean, then it gives its instances’ JSON; with its own toJSON or getDataValue, a scope, paranoid, virtual or renamed attributes it reads through Sequelize', async () => {
    const Plain = define('Plain');
    const Custom = define('Custom');
    Custom.prototype.toJSON = function toJSON() {
      return { custom: true };
    } as never;
    const OwnValue = define('OwnValue');
    OwnValue.prototype.getDataValue = function getDataValue(key: string) {
      return `${key}!`;
    } as never;
    const Scoped = define('Scoped', { defaultScope: { where: { flag: true } } });
    const Paranoid = define('Paranoid', { paranoid: true });
    const Virtual = define('Virtual', {}, { double: { type: DataTypes.VIRTUAL, get: () => 2 } });
    const Renamed = define('Renamed', {}, { renamed: { type: DataTypes.STRING, field: 'stored_as' } });
    await sequelize.sync();
    await Plain.bulkCreate([
      { tenantId: 1, flag: true, at: new Date('2026-11-29T18:03:30.123Z'), data: { a: [1, null] } },
      { tenantId: 1, flag: false, at: null, data: null },
      { tenantId: 1, flag: null, at: new Date('1970-01-01T00:00:00.000Z'), data: 'text' },
    ] as never[]);
    const lean = await leanReader(Plain)?.findAll({ where: {}, order: [['id', 'ASC']] });
    expect(lean).toHaveLength(3);
    expect(JSON.stringify(lean)).toBe(JSON.stringify(await Plain.findAll({ order: [['id', 'ASC']] })));
    for (const model of [Custom, OwnValue, Scoped, Paranoid, Virtual, Renamed])
      expect(leanReader(model), model.name).toBeUndefined();
  });

  it('When a find hook is registered on the model or the connection, then reads build instances until it goes', () => {
    const Hooked = define('Hooked');
    expect(leanReader(Hooked)).toBeDefined();
    Hooked.addHook('afterFind', 'test', () => {});
    expect(leanReader(Hooked)).toBeUndefined();
    Hooked.removeHook('afterFind', 'test');
    expect(leanReader(Hooked)).toBeDefined();
    sequelize.addHook('beforeFind', 'test', () => {});
    expect(leanReader(Hooked)).toBeUndefined();
    sequelize.removeHook('beforeFind', 'test');
    expect(leanReader(Hooked)).toBeDefined();
  });

  it('When a model is initialized again on another connection (a restart in the same process), then lean reads go there', async () => {
    const Moved = define('Moved');
    await Moved.sync();
    await Moved.create({ tenantId: 1 } as never);
    expect(await leanReader(Moved)?.findAll({ where: {} })).toHaveLength(1);
    const other = await openTestDatabase();
    try {
      initialize(Moved as unknown as typeof FluxModel, other.sequelize);
      await Moved.sync();
      await Moved.bulkCreate([{ tenantId: 1 }, { tenantId: 1 }] as never[]);
      const items = await leanReader(Moved)?.findAll({ where: {}, order: [['id', 'ASC']] });
      expect(JSON.stringify(items)).toBe(JSON.stringify(await Moved.findAll({ order: [['id', 'ASC']] })));
      expect(items).toHaveLength(2);
    } finally {
      initialize(Moved as unknown as typeof FluxModel, sequelize);
      await other.close();
    }
  });
});
