import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket, socketRequest } from '../helpers/clients.js';
import { adminLogin } from '../helpers/fixtures.js';
import { databaseChecksum, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Fuzzing the edge (docs/reference.md#errors, #bad-input-and-bounded-cost), seeded and reproducible
 * (`FLUX_FUZZ_SEED`): thousands of malformed requests over HTTP and over the socket — bad JSON, wrong types,
 * huge and deep bodies, unknown operators, SQL and path-traversal strings, non-object payloads, wrong
 * methods, garbage tokens, and filters over the cost limits or with operands the database would refuse. Every
 * reply must be a documented 4xx with the error body of docs/reference.md#errors, the server must keep
 * serving, and no row may change.
 */

const documented = new Set([400, 401, 403, 404, 413]);
let server: TestServer;
let token: string;
let socket: Socket;

beforeAll(async () => {
  server = await startTestServer({
    server: { port: 0, host: '127.0.0.1', maxDepth: 16 },
    auth: { sessionTouchMs: 3_600_000 },
  });
  token = await adminLogin(server.url);
  socket = await connectSocket(server.url);
}, 60_000);

afterAll(async () => {
  socket?.close();
  await server?.stop();
});

const collections = ['team', 'user', 'alert', 'alertbutton', 'message', 'session'];
const nastyStrings = fc.oneof(
  fc.constantFrom(
    "' OR 1=1 --",
    '"; DROP TABLE "Users"; --',
    '../../../etc/passwd',
    '..\\..\\windows\\system32',
    '%00',
    '\u0000',
    '$' + '{7*7}',
    '__proto__',
    'constructor',
    '<script>alert(1)</script>',
    'null',
    '-1',
    '1e308',
    '0x10',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const notJson = fc.oneof(
  fc.constantFrom(
    '{',
    '{"a":',
    '[1,2',
    "{'a':1}",
    '{"a":1,}',
    'undefined',
    '{"a":NaN}',
    'nul',
    '{"a" 1}',
    ']',
  ),
  fc.string({ maxLength: 30 }).map((s) => `{${s}`),
);
const wrongType = fc.oneof(
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
  fc.boolean(),
);
const filterOperator = fc
  .string({ minLength: 1, maxLength: 12 })
  .filter(
    (op) =>
      ![
        'eq',
        'ne',
        'gt',
        'gte',
        'lt',
        'lte',
        'in',
        'notIn',
        'like',
        'notLike',
        'between',
        'is',
        'not',
        'and',
        'or',
      ].includes(op),
  );

/** A free-text attribute of each collection, for `like` patterns. */
const textAttribute: Record<string, string> = {
  team: 'name',
  user: 'login',
  alert: 'title',
  alertbutton: 'title',
  message: 'text',
  session: 'userAgent',
};
/** Every key of `Object.prototype` (`constructor`, `toString`, `__proto__`…): the whole class, not examples. */
const prototypeKeys = fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype));
const DAY_MS = 86_400_000;
/** Dates no database column holds: out of years 1–9999 (in UTC), or no date at all. */
const oddDate = fc.oneof(
  fc.integer({ min: 253_402_300_800_000, max: 8.64e15 }),
  fc.integer({ min: -8.64e15, max: -62_135_596_800_001 }),
  fc.integer({ min: 8.64e15 + 1, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(
    '2020-13-45',
    '2020-02-30T25:61:00Z',
    '+010000-01-01',
    '+275760-09-13T00:00:00.001Z',
    '-000001-01-01',
    '0000-12-31T23:59:59.999Z',
    '0001-01-01T00:00:00+01:00',
    '9999-12-31T23:59:59-01:00',
    '',
    'yesterday',
  ),
  fc.string({ maxLength: 12 }).filter((s) => Number.isNaN(new Date(s).getTime())),
  fc.boolean(),
);
/**
 * Filters refused before any SQL because of what they would cost or make the database refuse: keys of
 * Object.prototype as operators or attributes, empty objects deep in and/or/not, patterns over the length
 * or wildcard limits, patterns ending in an escape, is/not operands the attribute cannot take, odd dates.
 */
const costlyFilter = (route: string) => {
  const text = textAttribute[route];
  return fc.oneof(
    fc
      .tuple(prototypeKeys, fc.constantFrom('id', text, 'createdAt'), fc.jsonValue(), fc.boolean())
      .map(([key, attribute, value, asAttribute]) =>
        JSON.parse(
          asAttribute
            ? `{"or": [{"id": 1}, {"${key}": ${JSON.stringify(value) ?? 'null'}}]}`
            : `{"${attribute}": {"${key}": ${JSON.stringify(value) ?? 'null'}}}`,
        ),
      ),
    fc
      .record({
        path: fc.array(fc.constantFrom('and', 'or', 'not'), { minLength: 1, maxLength: 5 }),
        padding: fc.integer({ min: 0, max: 20 }),
      })
      .map(({ path, padding }) =>
        path.reduceRight<unknown>(
          (inner, key) =>
            key === 'not' ? { not: inner } : { [key]: [...Array(padding).fill({ id: 1 }), inner] },
          {},
        ),
      ),
    fc
      .oneof(
        fc.string({ unit: fc.constantFrom('%', '_', 'a', 'b'), minLength: 101, maxLength: 400 }),
        fc.string({ unit: fc.constantFrom('%', '_'), minLength: 11, maxLength: 100 }),
        fc.string({ unit: fc.constantFrom('%', 'a'), maxLength: 60 }).map((p) => `${p}${'%'.repeat(11)}`),
      )
      .chain((pattern) =>
        fc.constantFrom(
          { [text]: { like: pattern } },
          { [text]: { notLike: pattern } },
          { or: [{ [text]: { like: pattern.slice(0, 60) } }, { [text]: { like: pattern.slice(-60) } }] },
        ),
      ),
    fc
      .tuple(fc.string({ maxLength: 20 }), fc.integer({ min: 0, max: 3 }))
      .map(([s, n]) => ({ [text]: { like: `${s.replace(/\\+$/, '')}${'\\'.repeat(2 * n + 1)}` } })),
    fc
      .record({
        attribute: fc.constantFrom('id', text, 'createdAt', 'updatedAt'),
        operator: fc.constantFrom('is', 'not'),
        operand: fc.boolean(),
      })
      .map(({ attribute, operator, operand }) => ({ [attribute]: { [operator]: operand } })),
    fc
      .oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.double({ noNaN: true }), fc.constant([]))
      .map((operand) => ({ createdAt: { is: operand } })),
    fc
      .tuple(
        fc.constantFrom('eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'not', 'in', 'between'),
        oddDate,
        fc.integer(),
      )
      .map(([operator, date, other]) => ({
        createdAt:
          operator === 'in'
            ? { in: [other * DAY_MS, date] }
            : operator === 'between'
              ? { between: [date, 0] }
              : { [operator]: date },
      })),
  );
};

/** One malformed request; each kind is invalid by construction. */
const malformed = fc.oneof(
  // bad JSON in a write body
  fc.record({ kind: fc.constant('badJson'), route: fc.constantFrom(...collections), raw: notJson }),
  // a non-integer id
  fc.record({
    kind: fc.constant('badId'),
    method: fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE'),
    route: fc.constantFrom(...collections),
    id: nastyStrings.filter((s) => s.length > 0 && !/^\d+$/.test(s)),
  }),
  // an unknown attribute or operator in find's filters, or a wrongly typed value
  fc.record({
    kind: fc.constant('badFilter'),
    route: fc.constantFrom(...collections),
    filters: fc.oneof(
      fc.record({ id: fc.dictionary(filterOperator, fc.jsonValue(), { minKeys: 1, maxKeys: 2 }) }),
      fc.record({ id: nastyStrings.map((s) => `${s}x`) }),
      fc
        .dictionary(
          nastyStrings.filter(
            (k) =>
              !['id', 'tenantId', 'and', 'or', 'not', 'createdAt', 'updatedAt'].includes(k) && k.length > 0,
          ),
          fc.jsonValue(),
          {
            minKeys: 1,
            maxKeys: 2,
          },
        )
        .filter((d) =>
          Object.keys(d).every(
            (k) => !['name', 'login', 'title', 'text', 'channel', 'group', 'role', 'location'].includes(k),
          ),
        ),
      fc.record({ password: fc.string() }),
      fc.record({ id: fc.record({ in: fc.constant('not a list') }) }),
    ),
  }),
  // filters over the cost limits, or with operands the database would refuse
  fc.constantFrom(...collections).chain((route) =>
    fc.record({
      kind: fc.constant('costlyFilter'),
      route: fc.constant(route),
      filters: costlyFilter(route),
    }),
  ),
  // known attributes with values of the wrong type
  fc.record({
    kind: fc.constant('wrongTypes'),
    route: fc.constantFrom('team', 'user', 'alert', 'alertbutton', 'message'),
    value: wrongType,
  }),
  // a garbage token on an authenticated route
  fc.record({
    kind: fc.constant('garbageToken'),
    route: fc.constantFrom(...collections),
    token: nastyStrings,
  }),
  // a route that does not exist, or a method a route does not have
  fc.record({
    kind: fc.constant('unknownRoute'),
    path: nastyStrings.map((s) => `/x-${encodeURIComponent(s)}`),
  }),
  fc.record({
    kind: fc.constant('wrongMethod'),
    route: fc.constantFrom('/team', '/auth/login', '/tenant/1/settings', '/message/channels'),
  }),
  // bodies nested too deep, or too large
  fc.record({ kind: fc.constant('deep'), depth: fc.integer({ min: 20, max: 200 }) }),
  fc.record({ kind: fc.constant('huge'), size: fc.integer({ min: 110_000, max: 400_000 }) }),
  // logins with hostile strings (wrong credentials by construction)
  fc.record({
    kind: fc.constant('login'),
    login: nastyStrings,
    password: nastyStrings.map((s) => `${s}-not-the-password`),
  }),
);
type Malformed = typeof malformed extends fc.Arbitrary<infer T> ? T : never;

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
}

/** The request a case stands for, as method, url, data (or raw body) and headers. */
function toRequest(c: Malformed): {
  method: string;
  url: string;
  data?: unknown;
  raw?: string;
  headers: Record<string, string>;
} {
  const auth = { authorization: `Bearer ${token}` };
  switch (c.kind) {
    case 'badJson':
      return { method: 'POST', url: `/${c.route}`, raw: c.raw, headers: auth };
    case 'badId':
      return {
        method: c.method,
        url: `/${c.route}/${encodeURIComponent(c.id)}`,
        data: c.method === 'GET' ? undefined : { name: 'x' },
        headers: auth,
      };
    case 'badFilter':
    case 'costlyFilter':
      return { method: 'GET', url: `/${c.route}`, data: { filters: c.filters }, headers: auth };
    case 'wrongTypes': {
      const fields: Record<string, string[]> = {
        team: ['name', 'role'],
        user: ['login', 'password'],
        alert: ['title', 'severity'],
        alertbutton: ['title'],
        message: ['text', 'channel'],
      };
      return {
        method: 'POST',
        url: `/${c.route}`,
        data: Object.fromEntries(fields[c.route].map((f) => [f, c.value])),
        headers: auth,
      };
    }
    case 'garbageToken':
      return {
        method: 'GET',
        url: `/${c.route}`,
        // printable ASCII only: fetch refuses other header bytes before they leave the client
        headers: { authorization: `Bearer ${c.token.replace(/[^\x20-\x7e]/g, '')}x.y` },
      };
    case 'unknownRoute':
      return { method: 'GET', url: c.path, headers: auth };
    case 'wrongMethod':
      return {
        method: c.route === '/auth/login' ? 'DELETE' : 'PATCH',
        url: c.route,
        data: {},
        headers: auth,
      };
    case 'deep':
      return { method: 'POST', url: '/team', data: nested(c.depth), headers: auth };
    case 'huge':
      return { method: 'POST', url: '/team', data: { name: 'x'.repeat(c.size), role: 'bar' }, headers: auth };
    case 'login':
      return {
        method: 'POST',
        url: '/auth/login',
        data: { login: c.login, password: c.password },
        headers: {},
      };
  }
}

async function overHttp(r: ReturnType<typeof toRequest>): Promise<{ status: number; body: unknown }> {
  let url = server.url + r.url;
  const headers: Record<string, string> = { ...r.headers };
  let body: string | undefined;
  if (r.raw !== undefined) {
    body = r.raw;
    headers['content-type'] = 'application/json';
  } else if (r.data !== undefined) {
    if (r.method === 'GET') url += `?data=${encodeURIComponent(JSON.stringify(r.data))}`;
    else {
      body = JSON.stringify(r.data);
      headers['content-type'] = 'application/json';
    }
  }
  const response = await fetch(url, { method: r.method, headers, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function overSocket(r: ReturnType<typeof toRequest>): Promise<{ status: number; body: unknown }> {
  // a raw (unparseable) body has no socket equivalent: the socket sends the string itself as data
  const data = r.raw !== undefined ? r.raw : r.data;
  const reply = await socketRequest(socket, { method: r.method, url: r.url, data, headers: r.headers });
  return { status: reply.statusCode, body: reply.data };
}

function expectDocumented(where: string, c: Malformed, reply: { status: number; body: unknown }): void {
  const context = `${where} ${JSON.stringify(c).slice(0, 300)} -> ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`;
  expect(documented.has(reply.status), context).toBe(true);
  const error = (reply.body as { _error?: { status: number; code: string; message: string } })?._error;
  expect(error?.status, context).toBe(reply.status);
  expect(typeof error?.code, context).toBe('string');
  expect(JSON.stringify(reply.body), context).not.toMatch(
    /\bat .+\.(ts|js):\d+|SELECT |INSERT |Sequelize|Bearer [A-Za-z0-9]/,
  );
}

describe('fuzzing the edge', () => {
  it('When thousands of malformed requests arrive over HTTP and the socket, then each gets a documented 4xx and nothing changes', async () => {
    const before = await databaseChecksum();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(malformed, async (c) => {
        const request = toRequest(c);
        expectDocumented('http', c, await overHttp(request));
        expectDocumented('socket', c, await overSocket(request));
        sent += 2;
      }),
      { numRuns: 1200, seed: Number(process.env.FLUX_FUZZ_SEED ?? 4242) },
    );
    // non-object socket payloads, which HTTP cannot express
    await fc.assert(
      fc.asyncProperty(
        fc.anything().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
        async (payload) => {
          const reply = await socketRequest(socket, payload);
          expect(reply.statusCode).toBe(400);
          sent++;
        },
      ),
      { numRuns: 300, seed: Number(process.env.FLUX_FUZZ_SEED ?? 4242) },
    );
    expect(sent).toBeGreaterThanOrEqual(2700);
    expect(socket.connected).toBe(true);
    expect(
      (await fetch(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    expect(await databaseChecksum()).toBe(before);
  }, 300_000);
});
