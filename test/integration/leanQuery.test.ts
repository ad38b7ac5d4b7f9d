import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../lib/database.js';
import { addOwnQueryHook, selectRows } from '../../lib/leanQuery.js';
import { Logger } from '../../lib/log.js';
import { createTestDatabase } from '../helpers/server.js';

/**
 * Lean selects (lib/leanQuery.ts) answer what `sequelize.query(sql, {type: SELECT, raw: true})` answers:
 * the same rows, the same errors (a statement past `statementTimeoutMs` included, with its warn line),
 * inside a transaction what the transaction sees; connections go back to the pool; while a query hook
 * other than Flux's own is registered, the select goes through `sequelize.query` so that it runs. On
 * PostgreSQL they skip `sequelize.query`, and identical selects asked while the first waits for a
 * connection share its statement (until it is sent: each still sees the writes committed before it was
 * asked); on SQLite they are `sequelize.query`. SQLite by default, PostgreSQL when DATABASE_URL is set.
 */

const TIMEOUT_MS = 300;
const ENDLESS = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c';

let sequelize: Sequelize;
let drop: () => Promise<void>;
const warnings: string[] = [];
let postgres: boolean;

beforeAll(async () => {
  const database = await createTestDatabase();
  drop = database.drop;
  const log = new Logger({ level: 'error', dir: false });
  log.warn = (...args: unknown[]) => {
    warnings.push(args.join(' '));
  };
  sequelize = openDatabase(
    {
      url: database.config.url as string | undefined,
      storage: (database.config.storage as string | undefined) ?? '',
      logging: false,
      pool: { max: 2, min: 0, idle: 10_000, acquire: 5_000 },
      statementTimeoutMs: TIMEOUT_MS,
    },
    process.cwd(),
    log,
  );
  postgres = sequelize.getDialect() === 'postgres';
  await sequelize.query(
    'CREATE TABLE lean_rows (id INTEGER PRIMARY KEY, at TIMESTAMP, label TEXT, flag BOOLEAN)',
  );
  await sequelize.query(
    `INSERT INTO lean_rows VALUES (1, '2026-11-30 04:00:00.007', 'é"''\\', true), (2, NULL, NULL, false), (3, '0999-12-31 23:59:59.999', '', NULL)`,
  );
});

afterAll(async () => {
  await sequelize?.close();
  await drop?.();
});

const bySequelize = (sql: string, options: object = {}) =>
  sequelize.query(sql, { type: QueryTypes.SELECT, raw: true, ...options }) as unknown as Promise<unknown[]>;

/** What a promise settles to: its value, or the error's name, message, SQL and database code. */
async function settled(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { value: await promise };
  } catch (err) {
    const error = err as Error & { sql?: string; parent?: { code?: string } };
    return { name: error.name, message: error.message, sql: error.sql, code: error.parent?.code };
  }
}

describe('When a select runs lean, then it answers what sequelize.query answers', () => {
  it('When rows of every kind are selected, then they are the same, and sequelize.query is not asked on PostgreSQL', async () => {
    const statements = [
      'SELECT * FROM lean_rows ORDER BY id',
      'SELECT id, at, label, flag FROM lean_rows WHERE id = 2',
      'SELECT count(*) AS n FROM lean_rows',
      'SELECT * FROM lean_rows WHERE id < 0',
    ];
    for (const sql of statements) {
      const expected = await bySequelize(sql);
      const query = vi.spyOn(sequelize, 'query');
      try {
        expect(await selectRows(sequelize, sql, {}), sql).toEqual(expected);
        expect(query).toHaveBeenCalledTimes(postgres ? 0 : 1);
      } finally {
        query.mockRestore();
      }
    }
  });

  it('When a statement fails, then the error is Sequelize’s, as sequelize.query throws it', async () => {
    for (const sql of ['SELECT nope FROM lean_rows', 'SELECT * FROM no_such_table', 'SELEC 1']) {
      const expected = await settled(bySequelize(sql));
      expect(await settled(selectRows(sequelize, sql, {})), sql).toEqual(expected);
      expect(expected).toMatchObject({ name: 'SequelizeDatabaseError' });
    }
  });

  it('When a select runs past statementTimeoutMs, then it fails as sequelize.query fails, with a warn line, and the next select is served', async () => {
    warnings.length = 0;
    const lean = await settled(selectRows(sequelize, ENDLESS, {}));
    // its own warn line (on SQLite the select is `sequelize.query`'s, stopped by the watchdog)
    const warned = warnings.filter((line) => line.includes('past statementTimeoutMs')).length;
    expect(warned).toBe(1);
    expect(lean).toEqual(await settled(bySequelize(ENDLESS)));
    expect(lean).toMatchObject({ code: postgres ? '57014' : 'SQLITE_INTERRUPT' });
    expect(await selectRows(sequelize, 'SELECT count(*) AS n FROM lean_rows', {})).toEqual(
      await bySequelize('SELECT count(*) AS n FROM lean_rows'),
    );
  });

  it('When it runs in a transaction, then it sees the transaction’s writes; once the transaction finished, it fails as sequelize.query fails', async () => {
    let finished: Transaction | undefined;
    await sequelize
      .transaction(async (transaction) => {
        finished = transaction;
        await sequelize.query(`INSERT INTO lean_rows VALUES (4, NULL, 'uncommitted', NULL)`, { transaction });
        const sql = 'SELECT id, label FROM lean_rows WHERE id = 4';
        expect(await selectRows(sequelize, sql, { transaction })).toEqual([{ id: 4, label: 'uncommitted' }]);
        expect(await selectRows(sequelize, sql, {})).toEqual([]);
        throw new Error('roll back');
      })
      .catch((err: Error) => expect(err.message).toBe('roll back'));
    const sql = 'SELECT 1 AS one';
    const expected = await settled(bySequelize(sql, { transaction: finished }));
    expect(expected).toMatchObject({ name: 'Error' });
    expect(await settled(selectRows(sequelize, sql, { transaction: finished }))).toEqual(expected);
  });

  it('When many selects run at once on a pool of two, then every one is answered and the connections go back', async () => {
    const all = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0
          ? settled(selectRows(sequelize, 'SELECT nope', {}))
          : selectRows(sequelize, `SELECT ${i} AS i`, {}),
      ),
    );
    expect(all.filter((rows) => Array.isArray(rows))).toHaveLength(40);
    const pool = (sequelize.connectionManager as unknown as { pool: { using?: number } }).pool;
    if (postgres) expect(pool.using).toBe(0);
  });

  it('When a query hook other than Flux’s is registered, then selects go through sequelize.query until it goes', async () => {
    const seen: string[] = [];
    sequelize.addHook('beforeQuery', 'test', () => {
      seen.push('before');
    });
    try {
      expect(await selectRows(sequelize, 'SELECT 1 AS one', {})).toEqual([{ one: 1 }]);
      expect(seen).toEqual(['before']);
    } finally {
      sequelize.removeHook('beforeQuery', 'test');
    }
    const query = vi.spyOn(sequelize, 'query');
    try {
      await selectRows(sequelize, 'SELECT 1 AS one', {});
      expect(query).toHaveBeenCalledTimes(postgres ? 0 : 1);
    } finally {
      query.mockRestore();
    }
  });
});

describe('When identical selects are asked at once, then they share one statement until it is sent', () => {
  /** Selects sent (a query hook of Flux's own kind keeps selects lean). */
  let sent = 0;
  const count = (options: { type?: string }) => {
    if (options.type === QueryTypes.SELECT) sent++;
  };
  type Pool = { getConnection(options: object): Promise<{ query(sql: string): Promise<unknown> }> };
  const connections = () =>
    sequelize.connectionManager as unknown as Pool & { releaseConnection(c: unknown): void };

  beforeAll(() => addOwnQueryHook(sequelize, 'beforeQuery', count));
  afterAll(() => {
    sequelize.removeHook('beforeQuery', count as never);
  });

  it('When ten identical selects wait for a connection, then one statement answers them all, with the writes committed before each was asked', async () => {
    const sql = 'SELECT id, label FROM lean_rows ORDER BY id';
    const before = await selectRows(sequelize, sql, {});
    // both connections of the pool busy: the selects wait
    const held = postgres
      ? [
          await connections().getConnection({ type: 'SELECT' }),
          await connections().getConnection({ type: 'SELECT' }),
        ]
      : [];
    sent = 0;
    const early = Array.from({ length: 5 }, () => selectRows(sequelize, sql, {}));
    // a write committed after the first selects were asked and before the next ones
    const write = `INSERT INTO lean_rows VALUES (10, NULL, 'shared', NULL)`;
    if (postgres) await held[0].query(write);
    else await sequelize.query(write);
    const late = Array.from({ length: 5 }, () => selectRows(sequelize, sql, {}));
    const other = selectRows(sequelize, 'SELECT count(*) AS n FROM lean_rows', {});
    for (const connection of held) connections().releaseConnection(connection);
    const answers = await Promise.all([...early, ...late]);
    expect(sent).toBe(postgres ? 2 : 11);
    expect(await other).toEqual([{ n: postgres ? '4' : 4 }]);
    // every select asked after the write sees it; on PostgreSQL the first ones too (their statement was
    // sent after it), and all ten have the one statement's rows
    const expected = [...before, { id: 10, label: 'shared' }];
    for (const rows of answers.slice(5)) expect(rows).toEqual(expected);
    if (postgres) for (const rows of answers) expect(rows).toBe(answers[5]);
    await sequelize.query('DELETE FROM lean_rows WHERE id = 10');
  });

  it('When a select is asked after an identical one was sent, then it runs its own statement and sees what was committed since', async () => {
    const slow = postgres
      ? 'SELECT count(*) AS n, (SELECT pg_sleep(0.15)::text) AS slept FROM lean_rows'
      : 'SELECT count(*) AS n, NULL AS slept FROM lean_rows';
    sent = 0;
    const first = selectRows(sequelize, slow, {});
    await vi.waitFor(() => expect(sent).toBe(1));
    await sequelize.query(`INSERT INTO lean_rows VALUES (11, NULL, 'after', NULL)`);
    const second = selectRows(sequelize, slow, {});
    const [a, b] = await Promise.all([first, second]);
    expect(sent).toBe(2);
    expect(Number((a[0] as { n: unknown }).n) + 1).toBe(Number((b[0] as { n: unknown }).n));
    await sequelize.query('DELETE FROM lean_rows WHERE id = 11');
  });

  it('When the shared statement fails, then every select that joined it gets its error, and the next one runs again', async () => {
    const held = postgres ? [await connections().getConnection({ type: 'SELECT' })] : [];
    const held2 = postgres ? [await connections().getConnection({ type: 'SELECT' })] : [];
    sent = 0;
    const failing = Array.from({ length: 4 }, () =>
      settled(selectRows(sequelize, 'SELECT nope FROM lean_rows', {})),
    );
    for (const connection of [...held, ...held2]) connections().releaseConnection(connection);
    const errors = await Promise.all(failing);
    expect(sent).toBe(postgres ? 1 : 4);
    for (const error of errors)
      expect(error).toEqual(await settled(bySequelize('SELECT nope FROM lean_rows')));
    sent = 0;
    expect(await settled(selectRows(sequelize, 'SELECT nope FROM lean_rows', {}))).toEqual(errors[0]);
    expect(sent).toBe(1);
  });
});
