import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import type { StatsPayload } from '../../lib/protocol.js';
import {
  collect,
  connectClient,
  connectSocket,
  httpTransport,
  settle,
  socketRequest,
  socketTransport,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, createTenant, expectStatus, login } from '../helpers/fixtures.js';
import { type NodeProcess, startNode, waitForOutput } from '../helpers/processes.js';
import { ADMIN_PASSWORD, createTestDatabase, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Live statistics (docs/stats.md): the sockets of users with `stats/read` are in their admins room and
 * receive `stats` every `stats.intervalMs`, with figures that match what clients did (sockets by team,
 * requests by transport), scoped to their tenant unless they are the platform operator; `GET /stats`
 * answers the same over HTTP and the socket; a role change, a team change or a logout ends the events; with
 * Redis, the figures of two instances are summed.
 */

const INTERVAL_MS = 200;
const WINDOW_MS = 2000;
/** The window in seconds: a rate times this is the number of requests in the window. */
const WINDOW_S = WINDOW_MS / 1000;

let server: TestServer;
let url: string;
let admin: Transport;
let tokens: { admin: string; bar: string; logistics: string; ops: string; otherAdmin: string };
let ids: {
  adminTeam: number;
  bar: number;
  logistics: number;
  ops: number;
  opsUser: number;
  otherAdminTeam: number;
};
/** Sockets a test opened: closed after it, so that the next one counts from zero. */
const opened: Socket[] = [];

beforeAll(async () => {
  server = await startTestServer({ stats: { intervalMs: INTERVAL_MS, windowMs: WINDOW_MS } });
  url = server.url;
  const adminToken = await adminLogin(url);
  admin = httpTransport(url, adminToken);
  const me = expectStatus<{ team: { id: number } }>(await admin.request('GET', '/auth/me'), 200);
  const bar = await createTeamWithUser(
    admin,
    { name: 'Bar', role: 'bar' },
    { login: 'bar1', password: 'password-bar' },
  );
  const logistics = await createTeamWithUser(
    admin,
    { name: 'Logistics', role: 'logistics' },
    { login: 'log1', password: 'password-log' },
  );
  const ops = await createTeamWithUser(
    admin,
    { name: 'Ops', role: 'admin' },
    { login: 'ops1', password: 'password-ops' },
  );
  await createTenant(admin, { name: 'Other event', slug: 'other-event', adminPassword: 'password-other' });
  tokens = {
    admin: adminToken,
    bar: await login(url, 'bar1', 'password-bar'),
    logistics: await login(url, 'log1', 'password-log'),
    ops: await login(url, 'ops1', 'password-ops'),
    otherAdmin: await login(url, 'admin', 'password-other', 'other-event'),
  };
  const otherMe = expectStatus<{ team: { id: number } }>(
    await httpTransport(url, tokens.otherAdmin).request('GET', '/auth/me'),
    200,
  );
  ids = {
    adminTeam: me.team.id,
    bar: bar.teamId,
    logistics: logistics.teamId,
    ops: ops.teamId,
    opsUser: ops.userId,
    otherAdminTeam: otherMe.team.id,
  };
});

afterAll(async () => {
  await closeOpened();
  await server?.stop();
});

/** Opens a socket (bound by its handshake token when given), closed after the test. */
async function open(token?: string, base = url): Promise<Socket> {
  const socket = await connectSocket(base, token ? { token } : undefined);
  opened.push(socket);
  return socket;
}

/** Opens a socket that logs in over itself (`POST /auth/login`), closed after the test. */
async function openLoggedIn(
  loginName: string,
  password: string,
  tenant?: string,
  base = url,
): Promise<Socket> {
  const socket = await open(undefined, base);
  const reply = await socketRequest(socket, {
    method: 'POST',
    url: '/auth/login',
    data: { login: loginName, password },
    headers: tenant ? { 'x-tenant': tenant } : {},
  });
  expect(reply.statusCode, JSON.stringify(reply.data)).toBe(200);
  return socket;
}

async function closeOpened(): Promise<void> {
  for (const socket of opened.splice(0)) socket.close();
}

/** Waits until the latest event satisfies `predicate` (events keep coming every interval). */
async function untilLatest(
  events: StatsPayload[],
  predicate: (stats: StatsPayload) => boolean,
  what: string,
  timeoutMs = 8000,
): Promise<StatsPayload> {
  await waitFor(() => events.length > 0 && predicate(events[events.length - 1]), timeoutMs, what);
  return events[events.length - 1];
}

/** Waits until a socket's events have stopped: none for three intervals. */
async function untilStopped(events: unknown[], what: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    const count = events.length;
    await settle(INTERVAL_MS * 3);
    if (events.length === count) return;
    if (Date.now() - started > 8000) throw new Error(`Timed out waiting for ${what}`);
  }
}

/** Waits until no request was answered for a whole window (the socket and HTTP rates are 0 again). */
function untilQuiet(events: StatsPayload[]): Promise<StatsPayload> {
  return untilLatest(
    events,
    (stats) => stats.rates?.http === 0 && stats.rates.socket === 0,
    'a window without requests',
    WINDOW_MS * 5,
  );
}

function expectShape(stats: StatsPayload, scope: 'platform' | 'tenant'): void {
  expect(Object.keys(stats).sort()).toEqual(
    ['at', 'db', 'instances', 'jobs', 'latencyMs', 'rates', 'scope', 'sockets'].sort(),
  );
  expect(stats.scope).toBe(scope);
  expect(stats.at).toBeGreaterThan(Date.now() - 60_000);
  expect(stats.instances).toBeGreaterThanOrEqual(1);
  expect(Object.keys(stats.sockets).sort()).toEqual(['authenticated', 'byTeam', 'total']);
  expect(stats.sockets.total).toBeGreaterThanOrEqual(stats.sockets.authenticated);
  for (const [teamId, count] of Object.entries(stats.sockets.byTeam)) {
    expect(teamId).toMatch(/^\d+$/);
    expect(count).toBeGreaterThan(0);
  }
  expect(stats.latencyMs).toEqual({ p50: expect.any(Number), p99: expect.any(Number) });
  expect(stats.latencyMs.p99).toBeGreaterThanOrEqual(stats.latencyMs.p50);
  if (scope === 'tenant') {
    expect(stats.sockets.total).toBe(stats.sockets.authenticated);
    expect({ rates: stats.rates, jobs: stats.jobs, db: stats.db }).toEqual({
      rates: null,
      jobs: null,
      db: null,
    });
    return;
  }
  expect(stats.rates).toEqual({
    http: expect.any(Number),
    socket: expect.any(Number),
    events: expect.any(Number),
  });
  expect(stats.jobs).toEqual({
    waiting: expect.any(Number),
    active: expect.any(Number),
    failed: expect.any(Number),
  });
  expect(stats.db).toEqual({ poolUsed: expect.any(Number), poolSize: expect.any(Number) });
  expect(stats.db!.poolSize).toBeGreaterThanOrEqual(1);
  expect(stats.db!.poolUsed).toBeLessThanOrEqual(stats.db!.poolSize);
}

describe('the admins room', () => {
  it('When an admin connects (handshake token or login over the socket), then it receives stats every interval, with every figure', async () => {
    try {
      const byHandshake = collect<StatsPayload>(await open(tokens.admin), 'stats');
      const byLogin = collect<StatsPayload>(await openLoggedIn('admin', ADMIN_PASSWORD), 'stats');
      await waitFor(
        () => byHandshake.length >= 4 && byLogin.length >= 4,
        5000,
        'four stats events on each socket',
      );
      for (const stats of [...byHandshake, ...byLogin]) expectShape(stats, 'platform');
      expect(byHandshake[byHandshake.length - 1].instances).toBe(1);
      // periodic: later and later, one per interval
      for (let i = 1; i < byHandshake.length; i++)
        expect(byHandshake[i].at).toBeGreaterThan(byHandshake[i - 1].at);
      const from = byHandshake.length;
      await settle(INTERVAL_MS * 10);
      expect(byHandshake.length - from).toBeGreaterThan(0);
      expect(byHandshake.length - from).toBeLessThanOrEqual(10 + 2);
    } finally {
      await closeOpened();
    }
  });

  it('When sockets of two teams connect and go, then sockets.byTeam, authenticated and total count them', async () => {
    try {
      const events = collect<StatsPayload>(await open(tokens.admin), 'stats');
      for (let i = 0; i < 3; i++) await open(tokens.bar);
      for (let i = 0; i < 2; i++) await openLoggedIn('log1', 'password-log');
      await open(); // anonymous
      const expected = { [ids.adminTeam]: 1, [ids.bar]: 3, [ids.logistics]: 2 };
      const seen = await untilLatest(
        events,
        (stats) => stats.sockets.total === 7 && stats.sockets.authenticated === 6,
        'the 7 sockets counted',
      );
      expect(seen.sockets.byTeam).toEqual(expected);

      // two of the bar's sockets go
      opened[1].close();
      opened[2].close();
      const after = await untilLatest(events, (stats) => stats.sockets.total === 5, 'two sockets fewer');
      expect(after.sockets).toEqual({
        total: 5,
        authenticated: 4,
        byTeam: { [ids.adminTeam]: 1, [ids.bar]: 1, [ids.logistics]: 2 },
      });
    } finally {
      await closeOpened();
    }
  });

  it('When n HTTP and m socket requests are sent, then the rates of the window reflect them, then fall back to 0', async () => {
    try {
      const events = collect<StatsPayload>(await open(tokens.admin), 'stats');
      const http = httpTransport(url, tokens.bar);
      const socket = socketTransport(await connectClient(url), tokens.logistics);
      await untilQuiet(events);
      const from = events.length;
      const n = 20;
      const m = 12;
      for (let i = 0; i < n - 2; i++) expectStatus(await http.request('GET', '/auth/me'), 200);
      // two writes: two model changes published
      for (const name of ['Rates 1', 'Rates 2'])
        expectStatus(await admin.request('POST', '/team', { name, role: 'orga' }), 201);
      for (let i = 0; i < m; i++) expectStatus(await socket.request('GET', '/auth/me'), 200);

      const peak = await untilLatest(
        events,
        (stats) => stats.rates!.http * WINDOW_S >= n * 0.6 && stats.rates!.socket * WINDOW_S >= m * 0.6,
        'the requests in the rates',
      );
      expect(peak.rates!.events * WINDOW_S).toBeGreaterThanOrEqual(2 * 0.6);
      expect(peak.latencyMs.p50).toBeGreaterThan(0);
      expect(peak.latencyMs.p99).toBeLessThan(10_000);
      // no more than was sent: a rate is a count over the window's real length, which the timer's jitter
      // may make a little shorter than windowMs (a request counted twice would double it)
      await settle(WINDOW_MS + INTERVAL_MS * 2);
      for (const stats of events.slice(from)) {
        expect(stats.rates!.http * WINDOW_S).toBeLessThanOrEqual(n * 1.3);
        expect(stats.rates!.socket * WINDOW_S).toBeLessThanOrEqual(m * 1.3);
      }
      // the window slides on: no request, no rate
      const quiet = await untilQuiet(events);
      expect(quiet.latencyMs).toEqual({ p50: 0, p99: 0 });
      socket.close();
    } finally {
      await closeOpened();
    }
  });

  it('When jobs and the database are read, then the figures are those of the queues and the pool', async () => {
    try {
      const events = collect<StatsPayload>(await open(tokens.admin), 'stats');
      await waitFor(() => events.length >= 2, 5000, 'stats events');
      const counts = Object.values(await Flux.jobs.counts()).reduce(
        (sum, queue) => ({
          waiting: sum.waiting + queue.waiting,
          active: sum.active + queue.active,
          failed: sum.failed + queue.failed,
        }),
        { waiting: 0, active: 0, failed: 0 },
      );
      // nothing runs in between: the next readings are those
      await untilLatest(
        events,
        (stats) => JSON.stringify(stats.jobs) === JSON.stringify(counts),
        'the job counts',
      );
      const { db } = events[events.length - 1];
      expect(db!.poolSize).toBeGreaterThanOrEqual(1);
      expect(db!.poolUsed).toBeLessThanOrEqual(db!.poolSize);
    } finally {
      await closeOpened();
    }
  });

  it('When a user without stats/read connects, then it never receives stats, and GET /stats answers 403 (401 anonymous), over HTTP and the socket', async () => {
    try {
      const control = collect<StatsPayload>(await open(tokens.admin), 'stats');
      const barSocket = await open(tokens.bar);
      const bar = collect<StatsPayload>(barSocket, 'stats');
      const barLoggedIn = collect<StatsPayload>(await openLoggedIn('log1', 'password-log'), 'stats');
      const from = control.length;
      await waitFor(() => control.length >= from + 4, 5000, 'four events of the control');
      expect(bar).toEqual([]);
      expect(barLoggedIn).toEqual([]);

      const viaHttp = await httpTransport(url, tokens.bar).request('GET', '/stats');
      expect(expectStatus<{ _error: { code: string } }>(viaHttp, 403)._error.code).toBe('Forbidden');
      const viaSocket = await socketRequest(barSocket, { method: 'GET', url: '/stats' });
      expect(viaSocket).toMatchObject({ statusCode: 403, data: viaHttp.body });
      const anonymous = await httpTransport(url).request('GET', '/stats');
      expectStatus(anonymous, 401);
      const anonymousSocket = await socketRequest(await open(), { method: 'GET', url: '/stats' });
      expect(anonymousSocket).toMatchObject({ statusCode: 401, data: anonymous.body });
    } finally {
      await closeOpened();
    }
  });

  it('When an admin asks GET /stats, then it answers the snapshot over HTTP and the socket; odd query input is harmless', async () => {
    try {
      const socket = await openLoggedIn('admin', ADMIN_PASSWORD);
      // the figures are those of the last interval: wait for one that counted this socket (under load the
      // request below could otherwise come before the first tick after the login)
      const events = collect<StatsPayload>(socket, 'stats');
      await waitFor(
        () => events.some((stats) => stats.sockets.byTeam[ids.adminTeam] === 1),
        5000,
        'an interval that counted the socket',
      );
      const viaHttp = expectStatus<StatsPayload>(await admin.request('GET', '/stats'), 200);
      expectShape(viaHttp, 'platform');
      const viaSocket = await socketRequest(socket, { method: 'GET', url: '/stats' });
      expect(viaSocket.statusCode).toBe(200);
      expectShape(viaSocket.data as StatsPayload, 'platform');
      // the socket that asked is counted in its team
      expect((viaSocket.data as StatsPayload).sockets.byTeam[ids.adminTeam]).toBe(1);

      for (const query of [
        '?x=1',
        "?x='%20OR%201=1--",
        '?x[$gt]=1',
        '?data=%7B%22scope%22%3A%22tenant%22%7D',
        '?limit=-1',
      ]) {
        const reply = await admin.request('GET', `/stats${query}`);
        expect(reply.status, query).toBe(200);
        expect((reply.body as StatsPayload).scope).toBe('platform');
        const overSocket = await socketRequest(socket, { method: 'GET', url: `/stats${query}` });
        expect(overSocket.statusCode, query).toBe(200);
      }
      for (const query of ['?data=%7Bbroken', '?data=%5B1%5D', '?y=%00']) {
        expectStatus(await admin.request('GET', `/stats${query}`), 400);
        expect((await socketRequest(socket, { method: 'GET', url: `/stats${query}` })).statusCode).toBe(400);
      }
      // a write verb is no route
      expect((await admin.request('POST', '/stats', { scope: 'x' })).status).toBe(404);
      expectStatus(await admin.request('GET', '/health'), 200);
    } finally {
      await closeOpened();
    }
  });

  it("When another tenant's admin connects, then it sees only its tenant's sockets and no operator figure, and the platform admin sees both", async () => {
    try {
      const platform = collect<StatsPayload>(await open(tokens.admin), 'stats');
      for (let i = 0; i < 2; i++) await open(tokens.bar);
      const tenantEvents = collect<StatsPayload>(await open(tokens.otherAdmin), 'stats');
      await openLoggedIn('admin', 'password-other', 'other-event');
      const seen = await untilLatest(
        tenantEvents,
        (stats) => stats.sockets.authenticated === 2,
        "the tenant's two sockets",
      );
      expectShape(seen, 'tenant');
      expect(seen.sockets).toEqual({ total: 2, authenticated: 2, byTeam: { [ids.otherAdminTeam]: 2 } });
      for (const stats of tenantEvents) {
        expect(Object.keys(stats.sockets.byTeam)).toEqual(
          stats.sockets.authenticated ? [String(ids.otherAdminTeam)] : [],
        );
      }
      const all = await untilLatest(
        platform,
        (stats) => stats.sockets.authenticated === 5,
        'the five sockets',
      );
      expect(all.sockets.byTeam).toEqual({ [ids.adminTeam]: 1, [ids.bar]: 2, [ids.otherAdminTeam]: 2 });

      const viaHttp = expectStatus<StatsPayload>(
        await httpTransport(url, tokens.otherAdmin).request('GET', '/stats'),
        200,
      );
      expectShape(viaHttp, 'tenant');
      expect(viaHttp.sockets.byTeam).toEqual({ [ids.otherAdminTeam]: 2 });
    } finally {
      await closeOpened();
    }
  });

  it("When the team's role loses stats/read, then its sockets stop receiving stats; when it gets it back, they receive them again; a team change alike", async () => {
    try {
      const control = collect<StatsPayload>(await open(tokens.admin), 'stats');
      const opsSocket = await open(tokens.ops);
      const ops = collect<StatsPayload>(opsSocket, 'stats');
      await waitFor(() => ops.length >= 2, 5000, 'stats for ops');

      expectStatus(await admin.request('PATCH', `/team/${ids.ops}`, { role: 'orga' }), 200);
      await untilStopped(ops, 'the events of ops to stop');
      const stoppedAt = ops.length;
      const controlFrom = control.length;
      await settle(INTERVAL_MS * 4);
      expect(control.length).toBeGreaterThan(controlFrom);
      expect(ops.length).toBe(stoppedAt);
      expectStatus(await httpTransport(url, tokens.ops).request('GET', '/stats'), 403);
      // still counted, in its team
      expect(control[control.length - 1].sockets.byTeam[ids.ops]).toBe(1);

      expectStatus(await admin.request('PATCH', `/team/${ids.ops}`, { role: 'admin' }), 200);
      await waitFor(() => ops.length >= stoppedAt + 2, 5000, 'stats for ops again');

      // the user moves to the bar team: out of the room, and counted in its new team
      expectStatus(await admin.request('PATCH', `/user/${ids.opsUser}`, { teamId: ids.bar }), 200);
      await untilStopped(ops, 'the events of ops to stop after the team change');
      const latest = await untilLatest(
        control,
        (stats) => stats.sockets.byTeam[ids.bar] === 1,
        'ops counted in the bar',
      );
      expect(latest.sockets.byTeam[ids.ops]).toBeUndefined();
      expectStatus(await admin.request('PATCH', `/user/${ids.opsUser}`, { teamId: ids.ops }), 200);
    } finally {
      await closeOpened();
    }
  });

  it('When an admin socket logs out, then it leaves the room: no more stats', async () => {
    try {
      const token = await adminLogin(url);
      const socket = await open(token);
      const events = collect<StatsPayload>(socket, 'stats');
      const revoked = collect(socket, 'auth:revoked');
      await waitFor(() => events.length >= 2, 5000, 'stats');
      expect((await socketRequest(socket, { method: 'POST', url: '/auth/logout' })).statusCode).toBe(200);
      await waitFor(() => revoked.length === 1, 5000, 'auth:revoked');
      const count = events.length;
      await settle(INTERVAL_MS * 4);
      expect(events.length).toBeLessThanOrEqual(count + 1); // one may have been on its way
      const after = events.length;
      await settle(INTERVAL_MS * 4);
      expect(events.length).toBe(after);
    } finally {
      await closeOpened();
    }
  });

  it('When stats.intervalMs is 0, then no event is sent and GET /stats answers 404', async () => {
    await server.stop();
    server = await startTestServer({ stats: { intervalMs: 0 } });
    const token = await adminLogin(server.url);
    const socket = await open(token, server.url);
    const events = collect<StatsPayload>(socket, 'stats');
    const reply = await httpTransport(server.url, token).request('GET', '/stats');
    expect(expectStatus<{ _error: { code: string } }>(reply, 404)._error.code).toBe('NotFound');
    await settle(500);
    expect(events).toEqual([]);
    await closeOpened();
  });
});

const redisUrl = process.env.REDIS_URL;

describe.skipIf(!redisUrl)('two instances sharing the database and Redis', () => {
  const instances: Array<{ url: string; process: NodeProcess }> = [];
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = {
      server: { port: 0, host: '127.0.0.1' },
      database: { url: database.config.url ?? `sqlite:${database.config.storage as string}` },
      redis: { url: redisUrl, prefix: `flux-stats-${process.pid}:` },
      bootstrap: { adminPassword: ADMIN_PASSWORD },
      jwt: { secret: 'a-shared-secret-of-the-two-instances-0123456789' },
      stats: { intervalMs: INTERVAL_MS, windowMs: WINDOW_MS },
    };
    // one after the other: the first runs the migrations
    for (let i = 0; i < 2; i++) {
      const instance = startNode('test/helpers/instance.ts', [], {
        NODE_ENV: 'test',
        FLUX_TEST_CONFIG: JSON.stringify(config),
      });
      const [, port] = await waitForOutput(instance, /listening (\d+)/);
      instances.push({ url: `http://127.0.0.1:${port}`, process: instance });
    }
  }, 90_000);

  afterAll(async () => {
    await closeOpened();
    for (const instance of instances) await instance.process.stop();
    await database?.drop();
  });

  it('When sockets and requests reach both instances, then an admin on either sees them summed, with instances: 2; a stopped instance drops out', async () => {
    const [one, two] = instances;
    const adminToken = await login(one.url, 'admin', ADMIN_PASSWORD);
    const operator = httpTransport(one.url, adminToken);
    const me = expectStatus<{ team: { id: number } }>(await operator.request('GET', '/auth/me'), 200);
    const bar = await createTeamWithUser(
      operator,
      { name: 'Bar', role: 'bar' },
      { login: 'bar1', password: 'password-bar' },
    );
    const logistics = await createTeamWithUser(
      operator,
      { name: 'Logistics', role: 'logistics' },
      { login: 'log1', password: 'password-log' },
    );
    const barToken = await login(two.url, 'bar1', 'password-bar');

    const onOne = collect<StatsPayload>(await open(adminToken, one.url), 'stats');
    const onTwo = collect<StatsPayload>(await open(adminToken, two.url), 'stats');
    for (let i = 0; i < 2; i++) await open(barToken, one.url);
    for (let i = 0; i < 3; i++) await open(barToken, two.url);
    await openLoggedIn('log1', 'password-log', undefined, two.url);
    const expected = {
      total: 8,
      authenticated: 8,
      byTeam: { [me.team.id]: 2, [bar.teamId]: 5, [logistics.teamId]: 1 },
    };
    for (const events of [onOne, onTwo]) {
      // both counts: an instance's figures reach the other at its next report, and log1's socket may be
      // counted connected in one report and bound (by its login) only in the next
      const seen = await untilLatest(
        events,
        (stats) => stats.sockets.total === 8 && stats.sockets.authenticated === 8,
        'the sockets of both instances',
      );
      expect(seen.instances).toBe(2);
      expect(seen.sockets).toEqual(expected);
    }
    // one event per interval, from its own instance: not one from each instance
    const from = onOne.length;
    await settle(INTERVAL_MS * 10);
    expect(onOne.length - from).toBeGreaterThan(0);
    expect(onOne.length - from).toBeLessThanOrEqual(10 + 2);
    const viaHttp = expectStatus<StatsPayload>(
      await httpTransport(two.url, adminToken).request('GET', '/stats'),
      200,
    );
    expect({ instances: viaHttp.instances, sockets: viaHttp.sockets }).toEqual({
      instances: 2,
      sockets: expected,
    });

    // requests on both: the rates add up
    await untilQuiet(onOne);
    const n = 10;
    const m = 8;
    for (let i = 0; i < n; i++)
      expectStatus(await httpTransport(one.url, barToken).request('GET', '/auth/me'), 200);
    for (let i = 0; i < n; i++)
      expectStatus(await httpTransport(two.url, barToken).request('GET', '/auth/me'), 200);
    for (const instance of [one, two]) {
      const socket = socketTransport(await connectClient(instance.url), barToken);
      for (let i = 0; i < m; i++) expectStatus(await socket.request('GET', '/auth/me'), 200);
      socket.close();
    }
    const peak = await untilLatest(
      onOne,
      (stats) => stats.rates!.http * WINDOW_S >= 2 * n * 0.6 && stats.rates!.socket * WINDOW_S >= 2 * m * 0.6,
      'the requests of both instances in the rates',
    );
    // each transport's requests of both instances, no more (the other transport's are not counted in)
    expect(peak.rates!.http * WINDOW_S).toBeLessThanOrEqual(2 * n * 1.3);
    expect(peak.rates!.socket * WINDOW_S).toBeLessThanOrEqual(2 * m * 1.3);

    // instance two stops: its sockets and its figures are gone
    await instances[1].process.stop();
    instances.pop();
    const alone = await untilLatest(onOne, (stats) => stats.instances === 1, 'instance two to drop out');
    expect(alone.sockets.byTeam[bar.teamId]).toBe(2);
  });
});
