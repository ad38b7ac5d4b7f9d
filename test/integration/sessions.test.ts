import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sessionActivity } from '../../api/services/SessionActivityService.js';
import { Flux } from '../../lib/Flux.js';
import { connectSocket, httpTransport, socketRequest, type Transport } from '../helpers/clients.js';
import { adminLogin, client, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Sessions (docs/reference.md#authentication-and-sessions, #permissions-and-models): what they record, who
 * reads and revokes them (their clean-up: housekeeping.test.ts).
 */

type Row = { id: number } & Record<string, unknown>;
let server: TestServer;
let admin: Transport;

beforeAll(async () => {
  server = await startTestServer({ auth: { sessionTouchMs: 0 } });
  admin = httpTransport(server.url, await adminLogin(server.url));
  await createTeamWithUser(admin, { name: 'Bar', role: 'bar' }, { login: 'bar', password: 'bar-password' });
  await createTeamWithUser(
    admin,
    { name: 'Desk', role: 'coord' },
    { login: 'desk', password: 'desk-password' },
  );
});

afterAll(async () => {
  await server?.stop();
});

const sessionOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sessionId as number;

describe('what a session records', () => {
  it('When a user logs in and acts, then the session has its address, user agent and last action', async () => {
    const token = await login(server.url, 'bar', 'bar-password');
    const session = (await Flux.Session.findByPk(sessionOf(token)))!;
    expect(session.ip).toMatch(/127\.0\.0\.1$/);
    expect(session.userAgent).toBeTruthy();
    const first = session.lastAction!.getTime();
    await new Promise((r) => setTimeout(r, 20));
    expectStatus(await httpTransport(server.url, token).request('GET', '/auth/me'), 200);
    // written in the background (api/services/SessionActivityService.ts)
    await vi.waitUntil(async () => (await Flux.Session.findByPk(session.id))!.lastAction!.getTime() > first, {
      timeout: 5000,
      interval: 20,
    });
  });

  it('When a socket logs in and disconnects, then its socket id is recorded, then its disconnection', async () => {
    const socket = await connectSocket(server.url);
    const reply = await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'bar', password: 'bar-password' },
    });
    const id = sessionOf((reply.data as { jwt: string }).jwt);
    // written with the session, before the reply
    expect((await Flux.Session.findByPk(id))!.socketId).toBe(socket.id);
    socket.close();
    let session = await Flux.Session.findByPk(id);
    for (let i = 0; i < 50 && !session!.disconnectedAt; i++) {
      await new Promise((r) => setTimeout(r, 20));
      session = await Flux.Session.findByPk(id);
    }
    expect(session!.disconnectedAt).toBeInstanceOf(Date);
    expect(session!.socketId).toBeNull();
  });
});

describe.each(['http', 'socket'] as const)('sessions over %s', (kind) => {
  it('When a user lists sessions, then only its own, and never a socket id; session/read lists everyone’s', async () => {
    const bar = await client(server.url, kind, 'bar', 'bar-password');
    const mine = expectStatus<Row[]>(await bar.request('GET', '/session'), 200);
    const barUser = (await Flux.User.findOne({ where: { login: 'bar' } }))!;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((s) => s.userId === barUser.id)).toBe(true);
    expect(mine.every((s) => !('socketId' in s))).toBe(true);
    const desk = await client(server.url, kind, 'desk', 'desk-password');
    const all = expectStatus<Row[]>(await desk.request('GET', '/session', { limit: 1000 }), 200);
    expect(new Set(all.map((s) => s.userId)).size).toBeGreaterThan(1);
    bar.close();
    desk.close();
  });

  it('When a user revokes its own session, then 200 and its token is refused; another’s is 404; session/read without admin is 403', async () => {
    const token = await login(server.url, 'bar', 'bar-password');
    const bar = await client(server.url, kind, 'bar', 'bar-password');
    const revoked = expectStatus<Row>(await bar.request('DELETE', `/session/${sessionOf(token)}`), 200);
    expect(revoked.revokedAt).toBeTruthy();
    const refused = await httpTransport(server.url, token).request('GET', '/auth/me');
    expect(expectStatus<{ _error: { code: string } }>(refused, 403)._error.code).toBe('TokenRevoked');

    const adminToken = await login(server.url, 'admin', ADMIN_PASSWORD);
    expectStatus(await bar.request('DELETE', `/session/${sessionOf(adminToken)}`), 404);
    const desk = await client(server.url, kind, 'desk', 'desk-password');
    expectStatus(await desk.request('DELETE', `/session/${sessionOf(adminToken)}`), 403);
    expectStatus(await httpTransport(server.url, adminToken).request('GET', '/auth/me'), 200);
    const asAdmin = await client(server.url, kind, 'admin', ADMIN_PASSWORD);
    expectStatus(await asAdmin.request('DELETE', `/session/${sessionOf(adminToken)}`), 200);
    expectStatus(await httpTransport(server.url, adminToken).request('GET', '/auth/me'), 403);
    for (const t of [bar, desk, asAdmin]) t.close();
  });

  it('When sessions are written through CRUD, then there is no such route', async () => {
    const asAdmin = await client(server.url, kind, 'admin', ADMIN_PASSWORD);
    expectStatus(await asAdmin.request('POST', '/session', { userId: 1 }), 404);
    expectStatus(await asAdmin.request('PATCH', '/session/1', { revokedAt: null }), 404);
    asAdmin.close();
  });
});

describe('a socket that goes while it is being bound', () => {
  it('When sockets log in or bind a token and disconnect at once, then every session ends with no socket and a disconnection time', async () => {
    const { userId } = await createTeamWithUser(
      admin,
      { name: 'Racers', role: 'bar' },
      { login: 'racer', password: 'racer-password' },
    );
    const since = new Date();
    const tokenSessions = new Set<number>();
    const acks: Array<Promise<unknown>> = [];
    for (let round = 0; round < 30; round++) {
      // a login (the session is created with the socket id) and the binding of a token of a fresh
      // session (the socket id is written afterwards, in the background), each on a socket that closes
      // right after its request
      const token = await login(server.url, 'racer', 'racer-password');
      tokenSessions.add(sessionOf(token));
      const loggingIn = await connectSocket(server.url);
      const binding = await connectSocket(server.url);
      const request = (socket: typeof binding, url: string, data: unknown) =>
        // with an ack: a request without one is not run
        acks.push(
          socket
            .timeout(2000)
            .emitWithAck('request', { method: 'POST', url, data })
            .catch(() => null),
        );
      request(loggingIn, '/auth/login', { login: 'racer', password: 'racer-password' });
      request(binding, '/auth/jwt', { jwt: token, refresh: false });
      // socket.io drops a request whose socket closed in the same turn: the closes come 0 to 4 ms later,
      // landing at different points of the binding
      await new Promise((r) => setTimeout(r, round % 5));
      loggingIn.close();
      binding.close();
    }
    await Promise.all(acks);
    // settled when no session claims a socket any more (a poll: the writes are in the background)
    const sessions = async () => Flux.Session.findAll({ where: { userId }, order: [['id', 'ASC']] });
    const started = Date.now();
    let found = await sessions();
    while (found.some((session) => session.socketId !== null) && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 50));
      found = await sessions();
    }
    const socketLogins = found.filter((session) => !tokenSessions.has(session.id));
    expect(socketLogins.length).toBeGreaterThan(0);
    expect(found.every((session) => session.createdAt >= since)).toBe(true);
    // a session bound to a socket ends with none and a disconnection time; one whose binding request was
    // dropped never had a socket
    const state = (session: (typeof found)[number]) => ({
      id: session.id,
      socketId: session.socketId,
      disconnected: tokenSessions.has(session.id) || session.disconnectedAt instanceof Date,
    });
    expect(found.map(state)).toEqual(
      found.map((session) => ({ id: session.id, socketId: null, disconnected: true })),
    );
  }, 60_000);

  it('When many sockets disconnect at once, then their disconnections are written in a few statements, each session once, and an admin subscribed to sessions sees each one', async () => {
    const { userId } = await createTeamWithUser(
      admin,
      { name: 'Crowd', role: 'bar' },
      { login: 'crowd', password: 'crowd-password' },
    );
    const watcher = await connectSocket(server.url, { token: await adminLogin(server.url) });
    const events: Array<{ verb: string; id: number; data: { disconnectedAt: string | null } }> = [];
    watcher.on('model:session', (event) => events.push(event));
    expect((await socketRequest(watcher, { method: 'POST', url: '/session/subscribe' })).statusCode).toBe(
      200,
    );
    const sockets = await Promise.all(
      Array.from({ length: 40 }, async () =>
        connectSocket(server.url, { token: await login(server.url, 'crowd', 'crowd-password') }),
      ),
    );
    const sessions = async () => Flux.Session.findAll({ where: { userId } });
    await vi.waitUntil(async () => (await sessions()).every((session) => session.socketId !== null), {
      timeout: 10_000,
    });
    let statements = 0;
    const count = (options: object) => {
      if ((options as { model?: unknown }).model === Flux.Session) statements++;
    };
    Flux.sequelize.addHook('afterBulkUpdate', 'countDisconnections', count);
    try {
      for (const socket of sockets) socket.close();
      await vi.waitUntil(
        async () => (await sessions()).every((s) => s.socketId === null && s.disconnectedAt !== null),
        { timeout: 10_000 },
      );
    } finally {
      Flux.sequelize.removeHook('afterBulkUpdate', 'countDisconnections');
    }
    // one statement per write in flight: the first close starts one, the others wait for the next
    expect(statements).toBeGreaterThan(0);
    expect(statements).toBeLessThanOrEqual(10);
    const ids = new Set((await sessions()).map((session) => session.id));
    const disconnections = () => events.filter((e) => ids.has(e.id) && e.data.disconnectedAt !== null);
    await vi.waitUntil(() => disconnections().length >= ids.size, { timeout: 5000 });
    // each session once
    expect(new Set(disconnections().map((e) => e.id)).size).toBe(ids.size);
    expect(disconnections()).toHaveLength(ids.size);
    watcher.close();
  });

  it('When many sockets bind their tokens at once and act, then their sessions record them in a few statements, and an admin subscribed to sessions sees each one', async () => {
    const { userId } = await createTeamWithUser(
      admin,
      { name: 'Returning crowd', role: 'bar' },
      { login: 'returning', password: 'returning-password' },
    );
    // sessions opened over HTTP: no socket yet, as after a restart wrote every disconnection
    const tokens = await Promise.all(
      Array.from({ length: 40 }, () => login(server.url, 'returning', 'returning-password')),
    );
    const watcher = await connectSocket(server.url, { token: await adminLogin(server.url) });
    const events: Array<{ verb: string; id: number; data: Record<string, unknown> }> = [];
    watcher.on('model:session', (event) => events.push(event));
    expect((await socketRequest(watcher, { method: 'POST', url: '/session/subscribe' })).statusCode).toBe(
      200,
    );
    let statements = 0;
    const count = (_options: unknown, query: unknown) => {
      if (/^UPDATE [`"]Sessions[`"] SET [`"]socketId[`"]/.test(String((query as { sql?: unknown }).sql)))
        statements++;
    };
    Flux.sequelize.addHook('afterQuery', 'countBindings', count);
    const sessions = async () => Flux.Session.findAll({ where: { userId } });
    let sockets: Awaited<ReturnType<typeof connectSocket>>[] = [];
    try {
      sockets = await Promise.all(tokens.map((token) => connectSocket(server.url, { token })));
      const socketOf = new Map(tokens.map((token, i) => [sessionOf(token), sockets[i].id]));
      await vi.waitUntil(
        async () => (await sessions()).every((session) => session.socketId === socketOf.get(session.id)),
        { timeout: 10_000 },
      );
    } finally {
      Flux.sequelize.removeHook('afterQuery', 'countBindings');
    }
    // one statement per write (each gathers the bindings of 20 ms and more while the previous one runs):
    // 3 to 8 here for 40 handshakes, which the server spreads over a few hundred ms; one per binding without
    expect(statements).toBeGreaterThan(0);
    expect(statements).toBeLessThanOrEqual(20);
    // each session published once as updated, never with its socket id (hidden)
    const ids = new Set(tokens.map(sessionOf));
    const bindings = () => events.filter((e) => ids.has(e.id) && e.verb === 'updated');
    await vi.waitUntil(() => bindings().length >= ids.size, { timeout: 5000 });
    expect(new Set(bindings().map((e) => e.id)).size).toBe(ids.size);
    expect(bindings()).toHaveLength(ids.size);
    for (const event of bindings()) {
      expect(event.data).not.toHaveProperty('socketId');
      expect(event.data).toMatchObject({ id: event.id, userId, disconnectedAt: null });
    }
    // their requests touch them (sessionTouchMs 0 here): one statement per write too
    let touches = 0;
    const countTouches = (_options: unknown, query: unknown) => {
      if (/^UPDATE [`"]Sessions[`"] SET [`"]lastAction[`"]/.test(String((query as { sql?: unknown }).sql)))
        touches++;
    };
    const acted = new Date();
    Flux.sequelize.addHook('afterQuery', 'countTouches', countTouches);
    try {
      const replies = await Promise.all(
        sockets.map((socket) => socketRequest(socket, { method: 'GET', url: '/auth/me' })),
      );
      expect(replies.map((reply) => reply.statusCode)).toEqual(sockets.map(() => 200));
      await vi.waitUntil(async () => (await sessions()).every((session) => session.lastAction! >= acted), {
        timeout: 10_000,
      });
    } finally {
      Flux.sequelize.removeHook('afterQuery', 'countTouches');
    }
    expect(touches).toBeGreaterThan(0);
    expect(touches).toBeLessThanOrEqual(20);
    // and they still end as before when the sockets go
    for (const socket of sockets) socket.close();
    await vi.waitUntil(
      async () => (await sessions()).every((s) => s.socketId === null && s.disconnectedAt !== null),
      { timeout: 10_000 },
    );
    watcher.close();
  });

  it('When a socket goes back to a session it left, then that session names it again, though its cached copy already did', async () => {
    const socket = await connectSocket(server.url);
    const post = async (url: string, data: unknown) => {
      const reply = await socketRequest(socket, { method: 'POST', url, data });
      expect(reply.statusCode).toBe(200);
      return (reply.data as { jwt: string }).jwt;
    };
    const first = await post('/auth/login', { login: 'bar', password: 'bar-password' });
    // a request of the bound session: its context (with this socket id) is cached from now on
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(200);
    await post('/auth/login', { login: 'desk', password: 'desk-password' });
    const row = async () => (await Flux.Session.findByPk(sessionOf(first)))!;
    await vi.waitUntil(async () => (await row()).socketId === null, { timeout: 5000, interval: 20 });
    await post('/auth/jwt', { jwt: first, refresh: false });
    await vi.waitUntil(async () => (await row()).socketId === socket.id, { timeout: 5000, interval: 20 });
    expect((await row()).disconnectedAt).toBeNull();
    socket.close();
  });

  it('When a socket logs in again, as another user or with another session, then the session it leaves is marked disconnected', async () => {
    await createTeamWithUser(
      admin,
      { name: 'Switchers', role: 'bar' },
      { login: 'switcher', password: 'switcher-password' },
    );
    const socket = await connectSocket(server.url);
    const logIn = async (data: unknown, url = '/auth/login') => {
      const reply = await socket.timeout(5000).emitWithAck('request', { method: 'POST', url, data });
      expect(reply.statusCode).toBe(200);
      return sessionOf((reply.data as { jwt: string }).jwt);
    };
    const first = await logIn({ login: 'switcher', password: 'switcher-password' });
    const second = await logIn({ login: 'admin', password: ADMIN_PASSWORD });
    // and a token of a third session bound over the same socket (its socket id is written afterwards)
    const third = await logIn(
      { jwt: await login(server.url, 'switcher', 'switcher-password'), refresh: false },
      '/auth/jwt',
    );
    const left = async () => Flux.Session.findAll({ where: { id: [first, second] }, order: [['id', 'ASC']] });
    await vi.waitUntil(async () => (await left()).every((session) => session.socketId === null), {
      timeout: 5000,
      interval: 20,
    });
    for (const session of await left()) expect(session.disconnectedAt).toBeInstanceOf(Date);
    const current = (await Flux.Session.findByPk(third))!;
    await vi.waitUntil(async () => (await current.reload()).socketId === socket.id, {
      timeout: 5000,
      interval: 20,
    });
    expect(current.disconnectedAt).toBeNull();
    socket.close();
  });
});

describe("the writer of sessions' sockets", () => {
  it('When connections and disconnections of one session land in one batch, then the session ends as if each had been written in turn', async () => {
    const token = await login(server.url, 'bar', 'bar-password');
    const id = sessionOf(token);
    const state = async () => {
      const session = (await Flux.Session.findByPk(id))!;
      return { socketId: session.socketId, disconnected: session.disconnectedAt instanceof Date };
    };
    // each sequence is asked for in one turn, so that it is one batch
    const run = async (changes: Array<['connected' | 'disconnected', string]>) => {
      await Promise.all(changes.map(([kind, socketId]) => sessionActivity[kind](id, socketId)));
      return state();
    };
    expect(await run([['connected', 'a']])).toEqual({ socketId: 'a', disconnected: false });
    // a disconnection asked for before a connection of the same batch is overtaken by it
    expect(
      await run([
        ['disconnected', 'a'],
        ['connected', 'b'],
      ]),
    ).toEqual({ socketId: 'b', disconnected: false });
    expect(
      await run([
        ['connected', 'c'],
        ['disconnected', 'c'],
      ]),
    ).toEqual({ socketId: null, disconnected: true });
    // the disconnection of a socket the session no longer names changes nothing
    expect(
      await run([
        ['connected', 'd'],
        ['connected', 'e'],
        ['disconnected', 'd'],
      ]),
    ).toEqual({ socketId: 'e', disconnected: false });
    expect(
      await run([
        ['connected', 'f'],
        ['disconnected', 'f'],
        ['connected', 'g'],
      ]),
    ).toEqual({ socketId: 'g', disconnected: false });
    expect(await run([['disconnected', 'g']])).toEqual({ socketId: null, disconnected: true });
  });
});
