import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toErrorReply } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import {
  connectClient,
  httpTransport,
  type Reply,
  socketTransport,
  type Transport,
} from '../helpers/clients.js';
import { adminLogin, expectSameReply, expectStatus, login } from '../helpers/fixtures.js';
import { createTestDatabase, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * What one `find` may cost (docs/security.md §2.8): filters over a limit, and operands the database would
 * refuse, get a 400 before any SQL, over HTTP and the socket alike; a statement that runs past
 * `database.statementTimeoutMs` is stopped, answers 503 `QueryTimeout`, and its connection serves the next.
 */

const TIMEOUT_MS = 300;
/** Long messages that the worst allowed pattern takes seconds to scan (about 0.5 ms per row on either database). */
const LONG_MESSAGES = 4000;
/** 100 characters, one wildcard: within the default limits, and as slow as a pattern gets per character. */
const SLOW_PATTERN = `%${'a'.repeat(98)}b`;
/** A statement that never ends on its own, on SQLite and PostgreSQL alike. */
const ENDLESS = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c';

let server: TestServer;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let http: Transport;
let socket: Transport;

beforeAll(async () => {
  // startTestServer replaces the `database` key whole: keep a fresh database of our own, with the timeout.
  // A pool of 2: had a timed-out statement kept its connection, the later requests would wait in vain.
  database = await createTestDatabase();
  server = await startTestServer({
    database: {
      ...database.config,
      statementTimeoutMs: TIMEOUT_MS,
      pool: { max: 2, min: 0, idle: 10_000, acquire: 10_000 },
    },
    // one expensive read at a time, two waiting, none behind a client's own (the shipped queues are longer)
    query: { expensive: { concurrency: 1, queueLength: 2, perClient: 1, perClientQueue: 0 } },
  });
  const token = await adminLogin(server.url);
  http = httpTransport(server.url, token);
  socket = socketTransport(await connectClient(server.url), token);
  const tenant = await Flux.Tenant.findOne({ where: { slug: 'default' } });
  const now = new Date();
  const text = 'a'.repeat(5000);
  for (let i = 0; i < LONG_MESSAGES; i += 500) {
    await Flux.sequelize.getQueryInterface().bulkInsert(
      Flux.Message.getTableName(),
      Array.from({ length: 500 }, () => ({
        tenantId: tenant?.id,
        text,
        channel: 'public:1',
        createdAt: now,
        updatedAt: now,
      })),
    );
  }
}, 120_000);

afterAll(async () => {
  socket?.close();
  await server?.stop();
  await database?.drop();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Filters over a limit: 400 `ValidationError` whose validation names the filter and the limit. */
const overLimits: Array<[string, unknown, { path: string; type: string }]> = [
  [
    'a pattern over maxPatternLength',
    { text: { like: `%${'x'.repeat(100)}` } },
    { path: 'filters.text.like', type: 'maxPatternLength' },
  ],
  [
    'patterns over maxPatternLength together',
    { or: [{ text: { like: 'x'.repeat(60) } }, { text: { notLike: 'y'.repeat(60) } }] },
    { path: 'filters.or[1].text.notLike', type: 'maxPatternLength' },
  ],
  [
    'a pattern over maxWildcards',
    { text: { like: '%a'.repeat(11) } },
    { path: 'filters.text.like', type: 'maxWildcards' },
  ],
  [
    'more conditions than maxConditions',
    { or: range(100).map((id) => ({ id })) },
    { path: 'filters.or[99]', type: 'maxConditions' },
  ],
  [
    'more than 1000 values in all lists',
    { id: { in: range(600), notIn: range(401) } },
    { path: 'filters.id.notIn', type: 'maxValues' },
  ],
];

/** Filters the database would refuse with an error (a 500 before): 400 `BadRequest`. */
const refusedOperands: Array<[string, unknown]> = [
  ['empty objects in or', { or: [{ or: [{}, {}] }] }],
  ['an empty object in and', { and: [{ id: 1 }, {}] }],
  ['an empty not', { not: {} }],
  ...['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'].map((name): [string, unknown] => [
    `the operator ${name}`,
    JSON.parse(`{"id": {"${name}": 1}}`),
  ]),
  ['is true on a date', { createdAt: { is: true } }],
  ['not false on a string', { text: { not: false } }],
  ['is with a string', { text: { is: 'x' } }],
  ['not with a date that is no date', { createdAt: { not: 'x' } }],
  ['a pattern ending with an escape character', { text: { like: 'abc\\' } }],
  ['an impossible date', { createdAt: { gt: '2020-13-45' } }],
  ['a date past year 9999', { createdAt: { lt: '+010000-01-01' } }],
  ['a date before year 1 once in UTC', { createdAt: { gte: '0001-01-01T00:00:00+01:00' } }],
  ['a date as a huge number', { createdAt: { between: [0, 8.64e15] } }],
];

describe.each(['http', 'socket'] as const)('filters refused before any SQL, over %s', (kind) => {
  const client = () => (kind === 'http' ? http : socket);

  it.each(overLimits)(
    'When a find has %s, then 400 ValidationError naming the filter, and the server still answers',
    async (_what, filters, issue) => {
      const body = expectStatus<{ _error: Record<string, unknown> }>(
        await client().request('GET', '/message', { filters }),
        400,
      );
      expect(body._error).toMatchObject({ status: 400, code: 'ValidationError' });
      expect(body._error.validation).toEqual([expect.objectContaining(issue)]);
      expectStatus(await client().request('GET', '/message', { limit: 1 }), 200);
    },
  );

  it.each(refusedOperands)(
    'When a find has %s, then 400 BadRequest, and the server still answers',
    async (_what, filters) => {
      const body = expectStatus<{ _error: Record<string, unknown> }>(
        await client().request('GET', '/message', { filters }),
        400,
      );
      expect(body._error).toMatchObject({ status: 400, code: 'BadRequest' });
      expectStatus(await client().request('GET', '/message', { limit: 1 }), 200);
    },
  );

  it('When like targets an enumeration (no LIKE on a PostgreSQL enum), then 400 BadRequest', async () => {
    const reply = await client().request('GET', '/alert', { filters: { severity: { like: 'warn%' } } });
    expect(expectStatus<{ _error: unknown }>(reply, 400)._error).toMatchObject({ code: 'BadRequest' });
  });

  it('When filters arrive as JSON text holding NUL (past the edge check), then 400 BadRequest', async () => {
    for (const filters of ['{"text":"a\\u0000"}', '{"text":{"like":"%\\u0000%"}}']) {
      const reply = await client().request('GET', '/message', { filters });
      expect(expectStatus<{ _error: unknown }>(reply, 400)._error).toMatchObject({ code: 'BadRequest' });
    }
  });
});

describe('statement timeout', () => {
  it('When any statement runs past statementTimeoutMs, then it is stopped as a QueryTimeout and the connection serves the next one', async () => {
    const stopped = await Flux.sequelize.query(ENDLESS).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(toErrorReply(stopped)).toMatchObject({ status: 503, unexpected: false });
    // in a transaction (its own connection on SQLite, a pooled one on PostgreSQL) alike
    const inTransaction = await Flux.sequelize
      .transaction((transaction) => Flux.sequelize.query(ENDLESS, { transaction }))
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(toErrorReply(inTransaction).body._error.code).toBe('QueryTimeout');
    const [rows] = await Flux.sequelize.query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
  });

  // the watchdog that interrupts statements is SQLite's (on PostgreSQL, with DATABASE_URL, the server cancels)
  it.skipIf(Boolean(process.env.DATABASE_URL))(
    'When the SQLite watchdog stops a statement before Date.now has counted the whole timeout, then its warn line is logged all the same',
    async () => {
      const warn = vi.spyOn(Flux.log, 'warn');
      // the watchdog's clock stands still while its timer runs (libuv's clock): as when the timer fires a
      // millisecond early by Date.now
      const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now());
      try {
        const stopped = await Flux.sequelize.query(ENDLESS).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(toErrorReply(stopped).body._error.code).toBe('QueryTimeout');
        const lines = warn.mock.calls.map((args) => args.join(' '));
        expect(lines.filter((line) => /ran \d+ ms, past statementTimeoutMs/.test(line))).toHaveLength(1);
      } finally {
        clock.mockRestore();
        warn.mockRestore();
      }
    },
  );

  it('When a find runs past statementTimeoutMs, then 503 QueryTimeout over HTTP and the socket, logged as a warning without stack, and the next request succeeds', async () => {
    const error = vi.spyOn(Flux.log, 'error');
    const warn = vi.spyOn(Flux.log, 'warn');
    try {
      const data = { filters: { text: { like: SLOW_PATTERN } }, count: true };
      const reply = await http.request('GET', '/message', data);
      expect(reply.body).toEqual({
        _error: { status: 503, code: 'QueryTimeout', message: 'The query took too long' },
      });
      expect(reply.status).toBe(503);
      await expectSameReply(http, socket, 'GET', '/message', data);
      expect(error).not.toHaveBeenCalled();
      const warnings = warn.mock.calls.map((args) => args.join(' '));
      expect(warnings.some((line) => /ran \d+ ms, past statementTimeoutMs/.test(line))).toBe(true);
      expect(warnings.join('\n')).not.toMatch(/\n\s+at |FROM|LIKE/);
    } finally {
      error.mockRestore();
      warn.mockRestore();
    }
    for (const client of [http, socket]) {
      const page = expectStatus<unknown[]>(
        await client.request('GET', '/message', { filters: { text: { like: 'a%' } }, limit: 2 }),
        200,
      );
      expect(page).toHaveLength(2);
    }
  });
});

describe('admission of expensive reads', () => {
  const slow = { filters: { text: { like: SLOW_PATTERN } }, count: true };

  it('When one client sends many searches with patterns at once, then one is admitted and the others get 429 at once, over both transports', async () => {
    const replies = await Promise.all([
      ...range(6).map(() => socket.request('GET', '/message', slow)),
      ...range(2).map(() => http.request('GET', '/message', slow)),
    ]);
    const refused = replies.filter((reply) => reply.status === 429);
    expect(refused).toHaveLength(7);
    for (const reply of refused) {
      expect((reply.body as { _error: { code: string } })._error.code).toBe('TooManyRequests');
      expect(reply.headers['retry-after']).toBe('1');
    }
    expect(replies.filter((reply) => reply.status === 503)).toHaveLength(1); // the admitted one timed out
    expect(Flux.queryGate.stats().peak).toBe(1);
  });

  it('When one client asks for several large, sorted, offset or counted pages at once, then they are admitted one at a time like searches', async () => {
    const page = { limit: 1000 };
    const replies = await Promise.all([
      ...range(2).map(() => socket.request('GET', '/message', page)),
      http.request('GET', '/message', page),
    ]);
    expectOneAdmitted(replies);
    // nor are a sort on a column other than id, an offset and a count (each reads every row it may)
    for (const [a, b, c] of [
      [
        { sort: '-text', limit: 1 },
        { offset: 3000, limit: 1 },
        { count: true, limit: 1 },
      ],
      [
        { sort: ['channel', 'id'], limit: 1 },
        { sort: '-text', limit: 1 },
        { sort: '-text', limit: 1 },
      ],
    ]) {
      const mixed = await Promise.all([
        socket.request('GET', '/message', a),
        socket.request('GET', '/message', b),
        http.request('GET', '/message', c),
      ]);
      expectOneAdmitted(mixed);
    }
    // a page of the default size, in id order, is not an expensive read
    const small = await Promise.all(range(3).map(() => socket.request('GET', '/message', { limit: 100 })));
    expect(small.map((reply) => reply.status)).toEqual([200, 200, 200]);
  });

  /**
   * One of three expensive reads admitted, the two others refused at once: the admitted one answers 200,
   * or 503 `QueryTimeout` when a busy machine makes its 5 MB read outlast the 300 ms timeout.
   */
  function expectOneAdmitted(replies: Reply[]): void {
    const outcomes = replies.map(
      (reply) => `${reply.status} ${(reply.body as { _error?: { code: string } })._error?.code ?? ''}`,
    );
    const refused = outcomes.filter((outcome) => outcome === '429 TooManyRequests');
    const admitted = outcomes.filter((outcome) => outcome !== '429 TooManyRequests');
    expect(refused).toHaveLength(2);
    expect(admitted).toHaveLength(1);
    expect(['200 ', '503 QueryTimeout']).toContain(admitted[0]);
  }

  /** `count` users of the admin's team (they read every message), each logged in. */
  async function readers(count: number, prefix: string): Promise<Transport[]> {
    const teamId = expectStatus<{ team: { id: number } }>(await http.request('GET', '/auth/me'), 200).team.id;
    return Promise.all(
      range(count).map(async (i) => {
        const user = { login: `${prefix}-${i}`, password: `${prefix}-password-${i}`, teamId };
        expectStatus(await http.request('POST', '/user', user), 201);
        return httpTransport(server.url, await login(server.url, user.login, user.password));
      }),
    );
  }

  it('When one user logs in many times, then its sessions share one place: more searches at once get 429', async () => {
    const sessions = await Promise.all(
      range(3).map(async () => httpTransport(server.url, await adminLogin(server.url))),
    );
    const replies = await Promise.all(sessions.map((client) => client.request('GET', '/message', slow)));
    expect(replies.map((reply) => reply.status).sort()).toEqual([429, 429, 503]);
  });

  it('When the searches of many users fill the queue, then the next one gets 503 Busy', async () => {
    const clients = await readers(4, 'searcher');
    const replies = await Promise.all(clients.map((client) => client.request('GET', '/message', slow)));
    const statuses = replies.map((reply) => reply.status).sort();
    // one running and two waiting time out; the fourth finds the queue full
    expect(statuses).toEqual([503, 503, 503, 503]);
    const busy = replies.filter(
      (reply) => (reply.body as { _error: { code: string } })._error.code === 'Busy',
    );
    expect(busy).toHaveLength(1);
    expect(busy[0].headers['retry-after']).toBe('1');
    expect(Flux.queryGate.stats().peak).toBe(1);
  });

  it('When a search with patterns is running, then an unrelated read of another client is answered before it ends', async () => {
    const [searcher, reader] = await readers(2, 'unrelated');
    let searchEnded = false;
    const search = searcher.request('GET', '/message', slow).then((reply) => {
      searchEnded = true;
      return reply;
    });
    await vi.waitUntil(() => Flux.queryGate.stats().active === 1, { timeout: 5000, interval: 1 });
    // a read of the database (on SQLite the search has a connection of its own; on PostgreSQL the gate
    // leaves the rest of the pool free)
    const page = expectStatus<unknown[]>(await reader.request('GET', '/message', { limit: 2 }), 200);
    expect(page).toHaveLength(2);
    expect(searchEnded).toBe(false);
    expect((await search).status).toBe(503);
  });
});
