import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthEvent,
  createClient,
  type FluxClient,
  FluxError,
  memoryStorage,
  type TokenStorage,
  webStorage,
} from '../../client/src/index.js';
import { httpTransport, waitFor } from '../helpers/clients.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const clients: FluxClient[] = [];

/** A client of the test server; `socket: false` for HTTP only. Closed after each test. */
async function client(options: { socket?: false; storage?: TokenStorage } = {}) {
  const made = createClient({ url: server.url, ...options });
  clients.push(made);
  if (options.socket !== false) await made.connect();
  return made;
}

async function caught(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FluxError);
  return error as FluxError;
}

const plain = (error: FluxError) => ({
  status: error.status,
  code: error.code,
  message: error.message,
  validation: error.validation,
});

beforeAll(async () => {
  server = await startTestServer();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await server?.stop();
});

describe('requests', () => {
  it('When the socket is connected, then replies and errors are those of HTTP, and the socket carries them', async () => {
    const overSocket = await client();
    const overHttp = await client({ socket: false });
    await overSocket.login('admin', ADMIN_PASSWORD);
    await overHttp.login('admin', ADMIN_PASSWORD);
    expect(overSocket.connected).toBe(true);

    const query = { filters: { name: { like: 'A%' } }, sort: '-name', count: true };
    const a = await overSocket.request('GET', '/team', query);
    const b = await overHttp.request('GET', '/team', query);
    expect(a.statusCode).toBe(200);
    expect(a.data).toEqual(b.data);
    expect((a.data as unknown[]).length).toBeGreaterThan(0);
    expect(a.headers['x-total-count']).toBe(b.headers['x-total-count']);
    expect(a.headers['content-type']).toBe(b.headers['content-type']);

    const missing = [
      await caught(overSocket.request('GET', '/team/999999')),
      await caught(overHttp.request('GET', '/team/999999')),
    ];
    expect(plain(missing[0]!)).toEqual(plain(missing[1]!));
    expect(missing[0]).toMatchObject({ status: 404, code: 'NotFound' });

    const invalid = [
      await caught(overSocket.request('POST', '/team', { name: 42 })),
      await caught(overHttp.request('POST', '/team', { name: 42 })),
    ];
    expect(plain(invalid[0]!)).toEqual(plain(invalid[1]!));
    expect(invalid[0]!.code).toBe('ValidationError');
    expect(invalid[0]!.validation?.length).toBeGreaterThan(0);

    // subscribing is socket only: it tells which transport carried the request
    expect((await overSocket.request('POST', '/team/subscribe')).statusCode).toBe(200);
    expect((await caught(overHttp.request('POST', '/team/subscribe'))).status).toBe(400);
  });

  it('When the socket is disconnected, then requests fall back to HTTP, and go over it again once reconnected', async () => {
    const c = await client();
    await c.login('admin', ADMIN_PASSWORD);
    c.disconnect();
    expect(c.connected).toBe(false);
    expect((await c.request('GET', '/auth/me')).statusCode).toBe(200);
    expect((await caught(c.request('POST', '/team/subscribe'))).status).toBe(400);
    await c.connect();
    expect((await c.request('POST', '/team/subscribe')).statusCode).toBe(200);
  });

  it.each(['socket', 'http'] as const)(
    'When a request over %s carries headers of its own, then they replace the client’s, and a refused token of its own does not end the session',
    async (transport) => {
      const c = await client(transport === 'http' ? { socket: false } : {});
      await c.login('admin', ADMIN_PASSWORD);
      const events: AuthEvent[] = [];
      c.on('auth', (event) => events.push(event));
      const login = `headers-${transport}`;
      await c.request('POST', '/user', { login, password: 'headers-password', teamId: 1 });
      const other = await client({ socket: false });
      await other.login(login, 'headers-password');

      const traced = await c.request('GET', '/health', undefined, {
        headers: { 'X-Request-Id': 'client-a1' },
      });
      expect(traced.headers['x-request-id']).toBe('client-a1');
      // `Authorization` in any case replaces the session's token for this request only
      const asOther = await c.request<{ user: { login: string } }>('GET', '/auth/me', undefined, {
        headers: { Authorization: `Bearer ${other.token}` },
      });
      expect(asOther.data.user.login).toBe(login);
      const refused = await caught(
        c.request('GET', '/auth/me', undefined, { headers: { authorization: 'Bearer a.b.c' } }),
      );
      expect(refused).toMatchObject({ status: 403, code: 'InvalidToken' });
      expect(c.token).not.toBeNull();
      expect(events).toEqual([]);
      expect((await c.request('GET', '/auth/me')).statusCode).toBe(200);
    },
  );

  it.each(['socket', 'http'] as const)(
    'When a reply over %s is an error, then the FluxError keeps the reply: status, lower-case headers and body',
    async (transport) => {
      const c = await client(transport === 'http' ? { socket: false } : {});
      await c.login('admin', ADMIN_PASSWORD);
      const missing = await caught(
        c.request('GET', '/team/999999', undefined, { headers: { 'x-request-id': 'missing-1' } }),
      );
      expect(missing.response).toEqual({
        statusCode: 404,
        headers: expect.objectContaining({
          'x-request-id': 'missing-1',
          'content-type': expect.stringContaining('application/json'),
        }),
        data: { _error: { status: 404, code: 'NotFound', message: missing.message } },
      });
      // no reply, no response
      const offline = createClient({ url: 'http://127.0.0.1:1', socket: false });
      expect((await caught(offline.request('GET', '/health'))).response).toBeUndefined();
    },
  );
});

describe('typed services', () => {
  for (const transport of ['socket', 'http'] as const) {
    it(`When a team is created, read, found, patched, updated and removed over ${transport}, then each reply is the item`, async () => {
      const c = await client(transport === 'http' ? { socket: false } : {});
      await c.login('admin', ADMIN_PASSWORD);
      const teams = c.service('team');
      const created = await teams.create({ name: `Bar ${transport}`, role: 'bar', group: 'bars' });
      expect(created).toMatchObject({ name: `Bar ${transport}`, role: 'bar', group: 'bars' });
      expect(typeof created.createdAt).toBe('string');
      expect(await teams.get(created.id)).toEqual(created);
      const found = await teams.find({ filters: { name: `Bar ${transport}` }, sort: ['-name'] });
      expect(found.map((t) => t.id)).toEqual([created.id]);
      expect((await teams.patch(created.id, { location: 'North' })).location).toBe('North');
      expect((await teams.update(created.id, { group: null })).group).toBeNull();
      expect((await teams.remove(created.id)).id).toBe(created.id);
      expect((await caught(teams.get(created.id))).status).toBe(404);
    });
  }
});

describe('auth lifecycle', () => {
  it('When a client logs in and out, then it emits login and logout, and its token is revoked', async () => {
    const c = await client();
    const events: AuthEvent[] = [];
    c.on('auth', (e) => events.push(e));
    const { user } = await c.login('admin', ADMIN_PASSWORD);
    expect(user.login).toBe('admin');
    const token = c.token!;
    expect(token).toBeTruthy();
    expect((await c.request('GET', '/auth/me')).statusCode).toBe(200);
    await c.logout();
    expect(c.token).toBeNull();
    expect(events.map((e) => e.type)).toEqual(['login', 'logout']);
    expect(events[0]!.user?.login).toBe('admin');
    expect((await caught(c.request('GET', '/auth/me'))).status).toBe(401);
    const reused = await httpTransport(server.url, token).request('GET', '/auth/me');
    expect(reused.status).toBe(403);
    expect(reused.body).toMatchObject({ _error: { code: 'TokenRevoked' } });
  });

  it('When the session is revoked elsewhere, then the client emits revoked and its requests fail', async () => {
    const c = await client();
    const events: AuthEvent[] = [];
    c.on('auth', (e) => events.push(e));
    await c.login('admin', ADMIN_PASSWORD);
    const token = c.token!;
    // another tab of the same session logs out over HTTP
    expect((await httpTransport(server.url, token).request('POST', '/auth/logout')).status).toBe(200);
    await waitFor(() => events.some((e) => e.type === 'revoked'), 3000, 'auth revoked');
    expect(c.token).toBeNull();
    expect(await caught(c.request('GET', '/team'))).toMatchObject({ status: 401, code: 'Unauthorized' });
    const reused = await httpTransport(server.url, token).request('GET', '/team');
    expect(reused.status).toBe(403);
    expect(reused.body).toMatchObject({ _error: { code: 'TokenRevoked' } });
  });

  it('When another client of the same storage signed in meanwhile, then the end of the first session leaves its token', async () => {
    const storage = memoryStorage();
    const first = await client({ storage });
    const events: AuthEvent[] = [];
    first.on('auth', (e) => events.push(e));
    await first.login('admin', ADMIN_PASSWORD);
    const firstToken = first.token!;
    // another tab sharing the storage signs in (a new session) before the first session is ended
    const second = await client({ socket: false, storage });
    await second.login('admin', ADMIN_PASSWORD);
    const secondToken = second.token!;
    expect(secondToken).not.toBe(firstToken);
    const revoked = new Promise((resolve) => first.socket!.once('auth:revoked', resolve));
    expect((await httpTransport(server.url, firstToken).request('POST', '/auth/logout')).status).toBe(200);
    await revoked;
    // the first client's socket heard its session end; the stored token is the second session's and stays
    expect(storage.get()).toBe(secondToken);
    expect((await second.request('GET', '/auth/me')).statusCode).toBe(200);
    expect(events.map((e) => e.type)).toEqual(['login']);
  });

  it('When a request is refused for its token over HTTP, then the session ends as revoked', async () => {
    const c = await client({ socket: false });
    const events: AuthEvent[] = [];
    c.on('auth', (e) => events.push(e));
    await c.login('admin', ADMIN_PASSWORD);
    await httpTransport(server.url, c.token!).request('POST', '/auth/logout');
    expect(await caught(c.request('GET', '/team'))).toMatchObject({ status: 403, code: 'TokenRevoked' });
    expect(events.map((e) => e.type)).toEqual(['login', 'revoked']);
    expect(c.token).toBeNull();
  });

  it('When the stored token was revoked, then the socket handshake drops it as revoked, and logging in again works', async () => {
    const first = await client({ socket: false });
    await first.login('admin', ADMIN_PASSWORD);
    const stale = first.token!;
    await httpTransport(server.url, stale).request('POST', '/auth/logout');

    const overHttp = await client({ socket: false, storage: memoryStorage(stale) });
    expect(overHttp.token).toBe(stale);
    expect((await overHttp.login('admin', ADMIN_PASSWORD)).user.login).toBe('admin');
    expect(overHttp.token).not.toBe(stale);

    const events: AuthEvent[] = [];
    const overSocket = createClient({ url: server.url, storage: memoryStorage(stale) });
    clients.push(overSocket);
    overSocket.on('auth', (e) => events.push(e));
    await overSocket.connect(); // refused with TokenRevoked, then connected anonymously
    expect(events.map((e) => e.type)).toEqual(['revoked']);
    expect(overSocket.token).toBeNull();
    expect((await overSocket.login('admin', ADMIN_PASSWORD)).user.login).toBe('admin');
  });

  it('When the socket reconnects, then it is bound to the session again through the handshake token', async () => {
    const c = await client();
    await c.login('admin', ADMIN_PASSWORD);
    c.disconnect();
    await c.connect();
    // no authorization header: only the socket's binding authenticates this request
    const reply = await c.socket!.timeout(5000).emitWithAck('request', { method: 'GET', url: '/auth/me' });
    expect(reply.statusCode).toBe(200);
    expect(reply.data).toMatchObject({ user: { login: 'admin' } });
  });

  it('When the socket connects while a login goes over HTTP, then the login binds it before resolving', async () => {
    const c = createClient({ url: server.url, socket: { autoConnect: false } });
    clients.push(c);
    // the login's HTTP request is held until the socket is up (connected without a token)
    const realFetch = globalThis.fetch;
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    globalThis.fetch = (async (...args: Parameters<typeof fetch>) => {
      await held;
      return realFetch(...args);
    }) as typeof fetch;
    try {
      const login = c.login('admin', ADMIN_PASSWORD);
      await c.connect();
      release();
      await login;
    } finally {
      globalThis.fetch = realFetch;
    }
    // no authorization header: only the socket's binding authenticates this request
    const reply = await c.socket!.timeout(5000).emitWithAck('request', { method: 'GET', url: '/auth/me' });
    expect(reply.statusCode).toBe(200);
    expect(reply.data).toMatchObject({ user: { login: 'admin' } });
  });

  it('When a token is in a localStorage-like store, then a new client uses it and logout removes it', async () => {
    const store = new Map<string, string>();
    const storage = webStorage({
      getItem: (k) => store.get(k) ?? null,
      setItem: (k, v) => void store.set(k, v),
      removeItem: (k) => void store.delete(k),
    });
    const first = await client({ storage });
    await first.login('admin', ADMIN_PASSWORD);
    expect(store.get('flux:token')).toBe(first.token);
    first.close();
    const second = await client({ storage });
    expect((await second.request('GET', '/auth/me')).data).toMatchObject({ user: { login: 'admin' } });
    await second.logout();
    expect(store.has('flux:token')).toBe(false);
  });

  it('When a user is registered for the client address, then loginByIp logs it in', async () => {
    const admin = await client();
    await admin.login('admin', ADMIN_PASSWORD);
    const team = await admin.service('team').create({ name: 'Kiosk', role: 'orga' });
    await admin
      .service('user')
      .create({ login: 'kiosk', password: 'kiosk-password', teamId: team.id, ip: '127.0.0.1' });
    const kiosk = await client();
    const events: AuthEvent[] = [];
    kiosk.on('auth', (e) => events.push(e));
    const { user } = await kiosk.loginByIp();
    expect(user.login).toBe('kiosk');
    expect(events.map((e) => e.type)).toEqual(['login']);
    expect((await kiosk.request('GET', '/auth/me')).data).toMatchObject({ user: { login: 'kiosk' } });
  });
});
