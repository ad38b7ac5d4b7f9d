import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparePassword } from '../../api/services/PasswordService.js';
import { Flux } from '../../lib/Flux.js';
import { connectSocket, httpTransport, socketRequest, type Transport } from '../helpers/clients.js';
import { adminLogin, expectStatus } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The edge (docs/reference.md#errors, #socket-protocol, #bad-input-and-bounded-cost): rate limits over HTTP
 * and socket (429 with Retry-After), login limits per account and per address, allowed origins, nesting
 * limits, in-flight limits per socket, security headers. The server trusts the loopback proxy so that each
 * test can speak from its own client address.
 */

let server: TestServer;
let admin: Transport;
const allowedOrigin = 'https://app.example.org';
let address = 0;
/** A fresh client address for each scenario (forwarded by the trusted loopback "proxy"). */
const nextAddress = () => `10.0.${Math.floor(++address / 250)}.${(address % 250) + 1}`;

beforeAll(async () => {
  server = await startTestServer({
    server: {
      port: 0,
      host: '127.0.0.1',
      trustProxy: 'loopback',
      cors: { origin: [allowedOrigin] },
      maxDepth: 8,
    },
    rateLimit: { windowMs: 60_000, limit: 20 },
    auth: { loginLimit: { windowMs: 60_000, perAccount: 3, perAddress: 5 } },
    socket: { maxInFlight: 4 },
  });
  admin = httpTransport(server.url, await adminLogin(server.url));
});

afterAll(async () => {
  await server?.stop();
});

const from = (ip: string) => ({ 'x-forwarded-for': ip });

describe('global rate limit', () => {
  it('When one address sends more than the limit over HTTP and socket together, then 429 with Retry-After on both', async () => {
    const ip = nextAddress();
    const http = httpTransport(server.url);
    for (let i = 0; i < 15; i++)
      expect((await http.request('GET', '/auth/roles', undefined, from(ip))).status).toBe(401);
    const socket = io(server.url, { transports: ['websocket'], extraHeaders: from(ip), forceNew: true });
    await new Promise((resolve) => socket.once('connect', resolve as () => void));
    // socket virtual requests count in the same window as the address's HTTP requests
    for (let i = 0; i < 5; i++)
      expect((await socketRequest(socket, { method: 'GET', url: '/auth/roles' })).statusCode).toBe(401);
    const overSocket = await socketRequest(socket, { method: 'GET', url: '/auth/roles' });
    expect(overSocket.statusCode).toBe(429);
    expect(overSocket.data).toEqual({
      _error: { status: 429, code: 'TooManyRequests', message: 'Too many requests' },
    });
    expect(Number(overSocket.headers['retry-after'])).toBeGreaterThan(0);
    const overHttp = await http.request('GET', '/auth/roles', undefined, from(ip));
    expect(overHttp.status).toBe(429);
    expect(Number(overHttp.headers['retry-after'])).toBeGreaterThan(0);
    // another address is not affected
    expect((await http.request('GET', '/auth/roles', undefined, from(nextAddress()))).status).toBe(401);
    socket.close();
  });

  it('When a client long-polls socket.io over HTTP, then socket.io answers alone: no second answer, nothing counted against the limit', async () => {
    const ip = nextAddress();
    // more polling handshakes than the limit: each is socket.io's own request
    for (let i = 0; i < 25; i++) {
      const reply = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: from(ip) });
      expect(reply.status).toBe(200);
      expect(await reply.text()).toMatch(/^0\{"sid":/);
    }
    expect((await httpTransport(server.url).request('GET', '/auth/roles', undefined, from(ip))).status).toBe(
      401,
    );
  });
});

describe('login limits', () => {
  it('When an account gets too many wrong passwords, then even the right one is refused for a while', async () => {
    expectStatus(await admin.request('POST', '/user', { login: 'target', password: 'target-password' }), 201);
    const http = httpTransport(server.url);
    for (let i = 0; i < 3; i++) {
      const ip = nextAddress(); // from several addresses: the account counts on its own
      expect(
        (await http.request('POST', '/auth/login', { login: 'target', password: 'wrong-guess' }, from(ip)))
          .status,
      ).toBe(401);
    }
    const blocked = await http.request(
      'POST',
      '/auth/login',
      { login: 'target', password: 'target-password' },
      from(nextAddress()),
    );
    expect(expectStatus<{ _error: { code: string } }>(blocked, 429)._error.code).toBe('TooManyRequests');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('When one address tries many accounts, then it is refused after the per-address limit, over the socket too', async () => {
    const ip = nextAddress();
    const socket = io(server.url, { transports: ['websocket'], extraHeaders: from(ip), forceNew: true });
    await new Promise((resolve) => socket.once('connect', resolve as () => void));
    for (let i = 0; i < 5; i++) {
      const reply = await socketRequest(socket, {
        method: 'POST',
        url: '/auth/login',
        data: { login: `nobody-${i}`, password: 'guess-guess' },
      });
      expect(reply.statusCode).toBe(401);
    }
    const blocked = await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'admin', password: 'guess-guess' },
    });
    expect(blocked.statusCode).toBe(429);
    socket.close();
  });

  it('When logins succeed or are malformed, then they do not count', async () => {
    const ip = nextAddress();
    const http = httpTransport(server.url);
    for (let i = 0; i < 8; i++)
      expect((await http.request('POST', '/auth/login', { login: 5 }, from(ip))).status).toBe(400);
    for (let i = 0; i < 4; i++) {
      expect(
        (
          await http.request(
            'POST',
            '/auth/login',
            { login: 'admin', password: 'admin-test-password' },
            from(ip),
          )
        ).status,
      ).toBe(200);
    }
  });
});

describe('origins', () => {
  it('When a browser page of another origin opens a socket, then it is refused; the allowed origin and native clients connect', async () => {
    const evil = io(server.url, {
      transports: ['websocket'],
      extraHeaders: { origin: 'https://evil.example' },
      forceNew: true,
      reconnection: false,
    });
    const refused = await new Promise<boolean>((resolve) => {
      evil.once('connect', () => resolve(false));
      evil.once('connect_error', () => resolve(true));
    });
    expect(refused).toBe(true);
    evil.close();
    const good = io(server.url, {
      transports: ['websocket'],
      extraHeaders: { origin: allowedOrigin },
      forceNew: true,
    });
    await new Promise((resolve) => good.once('connect', resolve as () => void));
    good.close();
    (await connectSocket(server.url)).close();
  });

  it('When a page of the server itself (the console) opens a socket, then it connects though its origin is not listed; another port of the same host is refused', async () => {
    const open = (origin: string) => {
      const socket = io(server.url, {
        transports: ['websocket'],
        extraHeaders: { origin },
        forceNew: true,
        reconnection: false,
      });
      return new Promise<boolean>((resolve) => {
        socket.once('connect', () => resolve(true));
        socket.once('connect_error', () => resolve(false));
      }).finally(() => socket.close());
    };
    const own = new URL(server.url);
    expect(await open(own.origin)).toBe(true);
    own.port = String(Number(own.port) + 1);
    expect(await open(own.origin)).toBe(false);
  });

  it('When a preflight comes from another origin, then CORS does not allow it; from the allowed one, it does', async () => {
    const preflight = (origin: string) =>
      fetch(`${server.url}/user`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      });
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight(allowedOrigin)).headers.get('access-control-allow-origin')).toBe(allowedOrigin);
  });
});

describe('shape limits', () => {
  const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : { a: nested(depth - 1) });

  it('When a body or socket data nests deeper than the limit, then 400', async () => {
    const http = httpTransport(server.url);
    expect(
      (
        await http.request(
          'POST',
          '/auth/login',
          { login: 'admin', password: 'x', extra: nested(10) },
          from(nextAddress()),
        )
      ).status,
    ).toBe(400);
    expect(
      (await http.request('POST', '/auth/login', { extra: nested(5) }, from(nextAddress()))).status,
    ).toBe(400); // validation, not depth
    const socket = await connectSocket(server.url);
    const reply = await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { extra: nested(10) },
    });
    expect(reply.statusCode).toBe(400);
    expect((reply.data as { _error: { message: string } })._error.message).toMatch(/nested deeper/);
    const deep = await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: JSON.parse(`${'['.repeat(1000)}${']'.repeat(1000)}`),
    });
    expect(deep.statusCode).toBe(400);
    expect(socket.connected).toBe(true);
    socket.close();
  });

  it('When one socket has too many requests in flight, then the extra ones get 429 at once', async () => {
    const socket = io(server.url, {
      transports: ['websocket'],
      extraHeaders: from(nextAddress()),
      forceNew: true,
    });
    await new Promise((resolve) => socket.once('connect', resolve as () => void));
    const headers = { authorization: `Bearer ${await adminLogin(server.url)}` };
    const replies = await Promise.all(
      Array.from({ length: 10 }, () =>
        socketRequest(socket, { method: 'GET', url: '/user', data: { limit: 1000 }, headers }),
      ),
    );
    const statuses = replies.map((r) => r.statusCode);

    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
    socket.close();
  });

  it('When anything answers, then security headers are set', async () => {
    const response = await fetch(`${server.url}/auth/roles`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });
});

describe('parallel guesses', () => {
  it('When many guesses for one account arrive at once, then no more than the limit are checked', async () => {
    expectStatus(
      await admin.request('POST', '/user', { login: 'parallel', password: 'parallel-password' }),
      201,
    );
    const http = httpTransport(server.url);
    const guesses = Array.from({ length: 20 }, (_, i) =>
      http.request(
        'POST',
        '/auth/login',
        { login: 'parallel', password: i === 19 ? 'parallel-password' : `guess-${i}` },
        from(nextAddress()),
      ),
    );
    const statuses = (await Promise.all(guesses)).map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(16);
  });
});

describe('password checks outside the login', () => {
  it('When a logged-in user guesses its current password, then the guesses count against the login limits, in parallel too', async () => {
    const created = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', { login: 'oracle', password: 'oracle-password' }),
      201,
    );
    const loginReply = await httpTransport(server.url).request(
      'POST',
      '/auth/login',
      { login: 'oracle', password: 'oracle-password' },
      from(nextAddress()),
    );
    const self = httpTransport(server.url, expectStatus<{ jwt: string }>(loginReply, 200).jwt);
    const change = (currentPassword: string) =>
      self.request(
        'PATCH',
        `/user/${created.id}`,
        { password: 'oracle-new-password', currentPassword },
        from(nextAddress()),
      );
    const statuses = (await Promise.all(Array.from({ length: 20 }, (_, i) => change(`guess-${i}`)))).map(
      (reply) => reply.status,
    );
    expect(statuses.filter((status) => status === 400).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(17);
    // the account is blocked for the right password too, and for a login
    const right = await change('oracle-password');
    expect(expectStatus<{ _error: { code: string } }>(right, 429)._error.code).toBe('TooManyRequests');
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    const login = await httpTransport(server.url).request(
      'POST',
      '/auth/login',
      { login: 'oracle', password: 'oracle-password' },
      from(nextAddress()),
    );
    expect(login.status).toBe(429);
    // nothing changed: the old password is still the one (checked directly, the login being blocked)
    const user = await Flux.User.findByPk(created.id);
    expect(await comparePassword('oracle-password', user!.password)).toBe(true);
  });

  it('When a socket guesses its user’s current password, then it is refused with 429 after the account limit', async () => {
    const created = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', { login: 'oracle2', password: 'oracle2-password' }),
      201,
    );
    const socket = io(server.url, {
      transports: ['websocket'],
      extraHeaders: from(nextAddress()),
      forceNew: true,
    });
    await new Promise((resolve) => socket.once('connect', resolve as () => void));
    const login = await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'oracle2', password: 'oracle2-password' },
    });
    expect(login.statusCode).toBe(200);
    const change = (currentPassword: string) =>
      socketRequest(socket, {
        method: 'PATCH',
        url: `/user/${created.id}`,
        data: { password: 'oracle2-new-password', currentPassword },
      });
    for (let i = 0; i < 3; i++) {
      const reply = await change(`guess-${i}`);
      expect(reply.statusCode).toBe(400);
      expect((reply.data as { _error: { code: string } })._error.code).toBe('ValidationError');
    }
    const blocked = await change('oracle2-password');
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    socket.close();
  });
});
