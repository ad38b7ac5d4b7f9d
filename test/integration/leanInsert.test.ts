import pg from 'pg';
import { DataTypes, Model, type ModelAttributes, type ModelOptions, type Sequelize } from 'sequelize';
import sqlite3 from 'sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FluxModel, FluxModelClass } from '../../lib/FluxModel.js';
import { leanInserter, utcDateText } from '../../lib/leanInsert.js';
import type { Transport } from '../helpers/clients.js';
import { client, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, openTestDatabase, startTestServer, type TestServer } from '../helpers/server.js';
import { toyModel } from '../helpers/toyModels.js';

/**
 * The lean insert (lib/leanInsert.ts) does what `instance.save({validate: false})` does: the same
 * statement with the same bound values, the same row stored, the same instance afterwards (values,
 * saved values, changed attributes, `isNewRecord`) and the same `afterCreate` hooks with the same
 * options — for attributes of every kind, renamed and virtual ones, defaults and nulls. Whatever `save`
 * would write differently (before-create hooks, SQL values, versions, …) is left to `save`. Through the
 * API, creates answer what the database then holds, over HTTP and the socket. SQLite by default,
 * PostgreSQL when DATABASE_URL is set.
 */

describe('When an instance is inserted lean, then everything is as after save', () => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let sequelize: Sequelize;

  /** A toy model `name` with attributes of every kind, defined with `options`. */
  function define(name: string, options: Partial<ModelOptions> = {}, attributes: ModelAttributes = {}) {
    return toyModel(
      sequelize,
      name,
      {},
      {
        flag: { type: DataTypes.BOOLEAN, allowNull: true },
        at: { type: DataTypes.DATE, allowNull: true },
        data: { type: DataTypes.JSON, allowNull: true },
        label: { type: DataTypes.STRING(40), allowNull: false, defaultValue: 'none' },
        size: { type: DataTypes.DOUBLE, allowNull: true },
        kind: { type: DataTypes.ENUM('a', 'b'), allowNull: true },
        renamed: { type: DataTypes.STRING, allowNull: true, field: 'stored_as' },
        double: {
          type: DataTypes.VIRTUAL,
          get(this: Model) {
            return Number(this.get('size') ?? 0) * 2;
          },
        },
        ...attributes,
      },
      options,
    );
  }

  const postgres = () => sequelize.getDialect() === 'postgres';

  beforeAll(async () => {
    database = await openTestDatabase();
    sequelize = database.sequelize;
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  afterAll(async () => {
    await database?.close();
  });

  const VALUES: Array<Record<string, unknown>> = [
    { tenantId: 1 },
    { tenantId: 2, flag: true, at: new Date('2026-11-29T18:03:30.123Z'), data: { a: [1, null, 'é"'] } },
    { tenantId: 3, flag: false, at: null, data: null, label: "it's", size: 1.5, kind: 'b', renamed: 'r' },
    { tenantId: 4, at: new Date('0999-12-31T23:59:59.999Z'), data: [3, 'x'], size: -0.25, kind: 'a' },
    { tenantId: 5, id: 500, data: 'text', renamed: null },
  ];

  /** What inserting `values` leaves: the statements run, the instance, the row, the hook calls. */
  async function observe(model: FluxModelClass, values: Record<string, unknown>, lean: boolean) {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-30T04:00:00.007Z') });
    const hooks: Array<{ fields: unknown; transaction: unknown; values: unknown }> = [];
    model.addHook('afterCreate', 'observe', (instance: Model, options: { fields?: unknown }) => {
      hooks.push({ fields: options.fields, transaction: undefined, values: { ...instance.get() } });
    });
    // the statements as the driver receives them: SQL and bound values
    const driver = postgres()
      ? [vi.spyOn(pg.Client.prototype, 'query')]
      : [vi.spyOn(sqlite3.Database.prototype, 'run'), vi.spyOn(sqlite3.Database.prototype, 'all')];
    const item = model.build(values as never);
    let calls: unknown[][];
    try {
      if (lean) expect(await leanInserter(model)?.insert(item)).toBe(true);
      else await item.save({ validate: false });
    } finally {
      model.removeHook('afterCreate', 'observe');
      calls = driver.flatMap((spy) => [...spy.mock.calls] as unknown[][]);
      for (const spy of driver) spy.mockRestore();
    }
    const ran = calls.map(([sql, bind]) => ({
      sql: String(sql),
      bind: Array.isArray(bind) ? bind : undefined,
    }));
    const internals = item as unknown as { _previousDataValues: object; isNewRecord: boolean };
    const id = item.get('id');
    const row = await model.findByPk(id as number, { raw: true });
    await model.destroy({ where: { id: id as number } });
    if (typeof id === 'number' && values.id === undefined) await resetSequence(model);
    return {
      ran,
      dataValues: { ...item.dataValues },
      previous: { ...internals._previousDataValues },
      changed: item.changed(),
      isNewRecord: internals.isNewRecord,
      json: JSON.stringify(item),
      row,
      hooks,
    };
  }

  /** The next generated id of `model` back to what it was, so that both inserts get the same id. */
  async function resetSequence(model: FluxModelClass): Promise<void> {
    const table = String(model.getTableName());
    if (sequelize.getDialect() === 'postgres') {
      await sequelize.query(
        `SELECT setval(pg_get_serial_sequence('"${table}"', 'id'), GREATEST(COALESCE((SELECT MAX(id) FROM "${table}"), 0), 1), (SELECT MAX(id) IS NOT NULL FROM "${table}"))`,
      );
    } else {
      await sequelize.query(`DELETE FROM sqlite_sequence WHERE name = '${table}'`).catch(() => {});
    }
  }

  it('When varied values are inserted lean and by save, then statements, instances, rows and hooks are the same', async () => {
    const Plain = define('PlainInsert');
    await Plain.sync({ force: true });
    expect(leanInserter(Plain)).toBeDefined();
    for (const values of VALUES) {
      const bySave = await observe(Plain, values, false);
      const lean = await observe(Plain, values, true);
      expect(lean, JSON.stringify(values)).toEqual(bySave);
      expect(lean.ran.filter((s) => s.sql.startsWith('INSERT'))).toHaveLength(1);
      expect(lean.hooks).toHaveLength(1);
      expect(lean.changed).toBe(false);
      expect(lean.isNewRecord).toBe(false);
    }
  });

  it('When dates are written lean, then the text is what Sequelize’s DATE type binds, and format is not asked', async () => {
    const Plain = define('DatedInsert');
    await Plain.sync({ force: true });
    const generator = sequelize.getQueryInterface().queryGenerator as unknown as {
      format(value: unknown, field: unknown, options: object, bindParam: (value: unknown) => string): string;
    };
    const attribute = (Plain as unknown as { rawAttributes: Record<string, unknown> }).rawAttributes.at;
    const bySequelize = (date: Date): unknown => {
      const bind: unknown[] = [];
      generator.format(date, attribute, { context: 'INSERT' }, (value) => `$${bind.push(value)}`);
      return bind[0];
    };
    const dates = [
      new Date('2026-11-30T04:00:00.007Z'),
      new Date('0000-01-01T00:00:00.000Z'),
      new Date('0999-12-31T23:59:59.999Z'),
      new Date('1000-01-01T00:00:00.010Z'),
      new Date('9999-12-31T23:59:59.999Z'),
      new Date('1970-01-01T00:00:00.000Z'),
      ...Array.from({ length: 200 }, (_, i) => new Date(-62e12 + i * 1.7e12 + ((i * 7919) % 1000))),
    ];
    for (const date of dates) {
      const lean = utcDateText(date);
      const year = date.getUTCFullYear();
      if (year >= 0 && year <= 9999) expect(lean, date.toISOString()).toBe(bySequelize(date));
      else expect(lean).toBeUndefined();
    }
    expect(utcDateText(new Date(Number.NaN))).toBeUndefined();
    // the inserter writes them itself: format is asked for no date (once the statement of the shape is
    // written: insertQuery, which writes it, formats every value)
    const build = () => Plain.build({ tenantId: 1, at: new Date('2026-11-30T04:00:00.007Z') } as never);
    expect(await leanInserter(Plain)?.insert(build())).toBe(true);
    const format = vi.spyOn(generator, 'format');
    try {
      expect(await leanInserter(Plain)?.insert(build())).toBe(true);
      expect(format.mock.calls.filter(([value]) => value instanceof Date)).toEqual([]);
      expect(format).toHaveBeenCalled();
    } finally {
      format.mockRestore();
    }
  });

  it('When an insert breaks a unique index, then the lean insert throws what save throws and stores nothing', async () => {
    const Unique = define('UniqueInsert', {}, { code: { type: DataTypes.STRING, unique: true } });
    await Unique.sync({ force: true });
    await Unique.create({ tenantId: 1, code: 'x' } as never);
    const bySave = await Unique.build({ tenantId: 1, code: 'x' } as never)
      .save({ validate: false })
      .catch((err: Error) => err);
    const lean = await leanInserter(Unique)
      ?.insert(Unique.build({ tenantId: 1, code: 'x' } as never))
      .catch((err: Error) => err);
    expect((lean as Error).name).toBe('SequelizeUniqueConstraintError');
    expect((lean as Error).name).toBe((bySave as Error).name);
    expect(await Unique.count()).toBe(1);
  });

  it('When save would insert differently, then the lean insert leaves the instance to save', async () => {
    const Plain = define('LeftToSave');
    await Plain.sync({ force: true });
    const untouched = async (item: Model) => {
      const before = JSON.stringify(item.dataValues);
      expect(await leanInserter(Plain)?.insert(item as FluxModel)).toBe(false);
      expect(JSON.stringify(item.dataValues)).toBe(before);
    };

    // hooks before the insert, on the model or the connection, as long as they are registered
    for (const hook of ['beforeCreate', 'beforeSave'] as const) {
      Plain.addHook(hook, 'test', () => {});
      await untouched(Plain.build({ tenantId: 1 } as never));
      Plain.removeHook(hook, 'test');
      sequelize.addHook(hook, 'test', () => {});
      await untouched(Plain.build({ tenantId: 1 } as never));
      sequelize.removeHook(hook, 'test');
    }
    // a value that is SQL, an instance already stored, an instance built with include
    await untouched(Plain.build({ tenantId: 1, label: sequelize.fn('lower', 'X') } as never));
    const stored = await Plain.create({ tenantId: 1 } as never);
    await untouched(stored);
    const included = Plain.build({ tenantId: 1 } as never);
    (included as unknown as { _options: { include: unknown[] } })._options.include = [{}];
    await untouched(included);
    expect(await leanInserter(Plain)?.insert(Plain.build({ tenantId: 1 } as never) as FluxModel)).toBe(true);

    // a version attribute (optimistic locking) or triggers: never lean
    expect(leanInserter(define('Versioned', { version: true }))).toBeUndefined();
    expect(leanInserter(define('Triggered', { hasTrigger: true }))).toBeUndefined();
  });
});

describe.each(['http', 'socket'] as const)('When items are created over %s', (kind) => {
  let server: TestServer;
  let admin: Transport;

  beforeAll(async () => {
    server = await startTestServer();
    admin = await client(server.url, kind, 'admin', ADMIN_PASSWORD);
  });

  afterAll(async () => {
    admin?.close();
    await server?.stop();
  });

  it('When messages, teams and alerts are created, then they are inserted lean and the replies are the stored items', async () => {
    const save = vi.spyOn(Model.prototype, 'save');
    try {
      const team = expectStatus(
        await admin.request('POST', '/team', { name: `Lean ${kind}`, role: 'bar' }),
        201,
      );
      const message = expectStatus(
        await admin.request('POST', '/message', { channel: `public:${team.id}`, text: 'é"\'\\ lean' }),
        201,
      );
      const alert = expectStatus(
        await admin.request('POST', '/alert', { title: `Lean ${kind}`, receiverTeamId: team.id }),
        201,
      );
      expect(save).not.toHaveBeenCalled();
      for (const [path, item] of [
        ['/team', team],
        ['/message', message],
        ['/alert', alert],
      ] as const) {
        const stored = expectStatus(await admin.request('GET', `${path}/${item.id}`), 200);
        expect(item, path).toEqual(stored);
      }
      // a user's password is hashed by a beforeSave reaction: users go through save
      const user = await admin.request('POST', '/user', {
        login: `lean-${kind}`,
        password: 'lean-password-2026',
        teamId: team.id,
      });
      expectStatus(user, 201);
      expect(save).toHaveBeenCalled();
    } finally {
      save.mockRestore();
    }
  });
});
