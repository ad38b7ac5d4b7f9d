import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import { Logger } from '../../lib/log.js';
import { LocalBus, PubSub } from '../../lib/pubsub.js';
import { SocketTransport } from '../../lib/socket/transport.js';
import { connectSocket, httpTransport, socketRequest, waitFor } from '../helpers/clients.js';
import { adminLogin, expectStatus } from '../helpers/fixtures.js';
import { createTestDatabase, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The edge: operator routes stay off the socket, logs stay one line per call whatever a client sends,
 * the token secret is never a constant of the source, and one address cannot hold unbounded sockets.
 */

const notFound = { _error: { status: 404, code: 'NotFound', message: 'Unknown route' } };
const operatorRoutes = ['/metrics', '/openapi.json', '/docs/', '/docs'];

describe('operator routes and logs', () => {
  let server: TestServer;
  let logDir: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    logDir = mkdtempSync(path.join(tmpdir(), 'flux-edge-logs-'));
    server = await startTestServer({
      server: { port: 0, host: '127.0.0.1', middlewares: ['reqLogger'] },
      log: { level: 'error', dir: logDir },
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await server?.stop();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('When /metrics, /openapi.json and /docs are asked over an anonymous or an admin socket, then they answer the 404 of an unknown route; over HTTP 200', async () => {
    const token = await adminLogin(server.url);
    const anonymous = await connectSocket(server.url);
    const admin = await connectSocket(server.url, { token });
    sockets.push(anonymous, admin);
    for (const socket of [anonymous, admin]) {
      const unknown = await socketRequest(socket, { method: 'GET', url: '/no-such-route' });
      expect(unknown.data).toEqual(notFound);
      for (const url of operatorRoutes) {
        const reply = await socketRequest(socket, {
          method: 'GET',
          url,
          headers: { authorization: `Bearer ${token}` },
        });
        expect(reply.statusCode, url).toBe(404);
        expect(reply.data, url).toEqual(unknown.data);
      }
    }
    for (const url of ['/metrics', '/openapi.json', '/docs/']) {
      expect((await fetch(server.url + url)).status, url).toBe(200);
    }
  });

  it("When a socket request's URL carries control characters and a forged x-request-id, then its log line is escaped and tagged with a fresh UUID", async () => {
    const socket = await connectSocket(server.url);
    sockets.push(socket);
    // a raw newline never gets as far as the application: the payload check refuses the URL
    const newline = await socketRequest(socket, {
      method: 'GET',
      url: '/team/1\n2026-01-01T00:00:00.000Z error forged',
    });
    expect(newline.statusCode).toBe(400);
    const reply = await socketRequest(socket, {
      method: 'GET',
      url: '/team/\u001b[31mred\u009b2J',
      headers: { 'x-request-id': 'admin] \u001b[0mforged' },
    });
    expect(reply.statusCode).toBe(401);
    const requestId = String(reply.headers['x-request-id']);
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const file = path.join(logDir, 'development.log');
    const logged = () => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    };
    await waitFor(() => logged().includes(requestId), 3000, 'the log line');
    const line = logged()
      .split('\n')
      .find((l) => l.includes(requestId));
    expect(line).toMatch(/ debug \[[0-9a-f-]{36}\] socket GET \/team\/\\x1b\[31mred\\x9b2J$/);
    expect(logged()).not.toContain('\u001b');
    expect(logged()).not.toContain('\u009b');
    expect(logged()).not.toContain('forged');
  });

  it('When a client sends a plain x-request-id of 1 to 64 characters, then it is kept, over HTTP and the socket; a longer one is replaced', async () => {
    const socket = await connectSocket(server.url);
    sockets.push(socket);
    const short = await socketRequest(socket, {
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'a1' },
    });
    expect(short.headers['x-request-id']).toBe('a1');
    const http = await httpTransport(server.url).request('GET', '/health', undefined, {
      'x-request-id': 'edge-proxy.42_A',
    });
    expect(http.headers['x-request-id']).toBe('edge-proxy.42_A');
    const long = await httpTransport(server.url).request('GET', '/health', undefined, {
      'x-request-id': 'x'.repeat(65),
    });
    expect(long.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('metrics on their own port', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ metrics: { port: 0, host: '127.0.0.1' } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('When metrics.port is set, then /metrics is served on that port only and the main port answers 404', async () => {
    const metricsServer = Flux.metricsServer;
    expect(metricsServer?.listening).toBe(true);
    const address = metricsServer!.address() as { port: number };
    expect(`http://127.0.0.1:${address.port}`).not.toBe(server.url);
    const scraped = await fetch(`http://127.0.0.1:${address.port}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toContain('text/plain');
    expect(await scraped.text()).toContain('flux_sockets_connected');
    // nothing else of the application is reachable on the metrics port
    const other = await fetch(`http://127.0.0.1:${address.port}/health`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual(notFound);

    const main = await httpTransport(server.url).request('GET', '/metrics');
    expect(main.status).toBe(404);
    expect(main.body).toEqual(notFound);
  });

  it('When the server stops, then the metrics port is closed too', async () => {
    const address = Flux.metricsServer!.address() as { port: number };
    await server.stop();
    expect(Flux.metricsServer).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${address.port}/metrics`)).rejects.toThrow();
  });
});

describe('the token secret without JWT_SECRET', () => {
  const publishedSecret = 'flux-development-secret-do-not-use-in-production';
  const base = { server: { port: 0, host: '127.0.0.1' }, bootstrap: { adminPassword: 'edge-password' } };
  let dir: string;
  let envSecret: string | undefined;

  beforeAll(() => {
    envSecret = process.env.JWT_SECRET;
    delete process.env.JWT_SECRET;
  });

  afterAll(() => {
    if (envSecret !== undefined) process.env.JWT_SECRET = envSecret;
  });

  afterEach(async () => {
    await Flux.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('When JWT_SECRET is not set, then the first start makes a random secret in data/jwt-secret (0600) and the next start reuses it: tokens survive a restart', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'flux-edge-root-'));
    const secretFile = path.join(dir, 'data', 'jwt-secret');
    const database = await createTestDatabase();
    try {
      const config = { ...base, database: database.config, jwt: { secret: undefined, secretFile } };
      const first = await Flux.start({ config });
      const secret = Flux.config.jwt.secret;
      expect(secret).toMatch(/^[A-Za-z0-9_-]{64}$/);
      expect(secret).not.toBe(publishedSecret);
      expect(readFileSync(secretFile, 'utf8').trim()).toBe(secret);
      if (process.platform !== 'win32') expect(statSync(secretFile).mode & 0o777).toBe(0o600);
      const url = `http://127.0.0.1:${first.port}`;
      const token = expectStatus<{ jwt: string }>(
        await httpTransport(url).request('POST', '/auth/login', {
          login: 'admin',
          password: 'edge-password',
        }),
        200,
      ).jwt;
      await Flux.stop();

      const second = await Flux.start({ config });
      expect(Flux.config.jwt.secret).toBe(secret);
      const me = await httpTransport(`http://127.0.0.1:${second.port}`, token).request('GET', '/auth/me');
      expectStatus(me, 200);
    } finally {
      await Flux.stop();
      await database.drop();
    }
  });

  it('When a config file still sets the secret once shipped in config/jwt.ts, then it is ignored for the generated one', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'flux-edge-root-'));
    const secretFile = path.join(dir, 'data', 'jwt-secret');
    const database = await createTestDatabase();
    try {
      await Flux.start({
        config: { ...base, database: database.config, jwt: { secret: publishedSecret, secretFile } },
      });
      expect(Flux.config.jwt.secret).not.toBe(publishedSecret);
      expect(Flux.config.jwt.secret).toBe(readFileSync(secretFile, 'utf8').trim());
    } finally {
      await Flux.stop();
      await database.drop();
    }
  });

  it('When NODE_ENV=production has no JWT_SECRET, or the public one of old, then the server refuses to start and makes no secret file', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'flux-edge-root-'));
    const secretFile = path.join(dir, 'data', 'jwt-secret');
    const database = await createTestDatabase();
    const env = Flux.env;
    try {
      Flux.env = 'production';
      await expect(
        Flux.start({
          config: { ...base, database: database.config, jwt: { secret: undefined, secretFile } },
        }),
      ).rejects.toThrow(/JWT_SECRET/);
      process.env.JWT_SECRET = publishedSecret;
      await expect(
        Flux.start({ config: { ...base, database: database.config, jwt: { secretFile } } }),
      ).rejects.toThrow(/public development secret/);
      expect(() => statSync(secretFile)).toThrow();
    } finally {
      delete process.env.JWT_SECRET;
      Flux.env = env;
      await database.drop();
    }
  });
});

describe('connections per address', () => {
  const cap = 5;
  let server: TestServer;
  const open: Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer({ socket: { maxConnectionsPerAddress: cap } });
  });

  afterAll(async () => {
    for (const socket of open) socket.close();
    await server?.stop();
  });

  /** Opens one socket: resolves with it once connected, or with the `connect_error`'s data. */
  function attempt(auth?: { token: string }): Promise<{ socket?: Socket; error?: unknown }> {
    const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth });
    return new Promise((resolve) => {
      socket.once('connect', () => {
        open.push(socket);
        resolve({ socket });
      });
      socket.once('connect_error', (err: Error & { data?: unknown }) => {
        socket.close();
        resolve({ error: err.data ?? err.message });
      });
    });
  }

  const tooMany = {
    _error: {
      status: 429,
      code: 'TooManyRequests',
      message: `At most ${cap} connections at once from one address`,
    },
  };

  it('When 60 sockets connect at once from one address with the cap at 5, then 5 connect and 55 get connect_error 429; after disconnects new ones are accepted', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, () => attempt()));
    const connected = results.filter((r) => r.socket).map((r) => r.socket!);
    expect(connected).toHaveLength(cap);
    const refused = results.filter((r) => r.error);
    expect(refused).toHaveLength(55);
    for (const { error } of refused) expect(error).toEqual(tooMany);

    // the connected ones work
    expect((await socketRequest(connected[0], { method: 'GET', url: '/health' })).statusCode).toBe(200);

    connected[0].close();
    connected[1].close();
    await waitFor(() => Flux.io.of('/').sockets.size === cap - 2, 3000, 'the disconnections');
    const again = await Promise.all([attempt(), attempt(), attempt()]);
    expect(again.filter((r) => r.socket)).toHaveLength(2);
    expect(again.filter((r) => r.error).map((r) => r.error)).toEqual([tooMany]);
  });

  it('When handshakes are refused (a bad token), then they give their place back', async () => {
    for (const socket of open.splice(0)) socket.close();
    await waitFor(() => Flux.io.of('/').sockets.size === 0, 3000, 'the disconnections');
    // one after the other: a handshake holds its place while it runs
    for (let i = 0; i < 2 * cap; i++) {
      expect((await attempt({ token: 'not-a-jwt' })).error).toMatchObject({ _error: { status: 403 } });
    }
    const accepted = await Promise.all(Array.from({ length: cap }, () => attempt()));
    expect(accepted.filter((r) => r.socket)).toHaveLength(cap);
  });
});

describe('connections per address, handshakes abandoned', () => {
  it('When a client leaves in the middle of its handshake, then its place is given back', async () => {
    // a handshake token is replayed to a route that answers only when told to: handshakes stay open
    let hits = 0;
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const app = express();
    app.post('/slow-auth', (_req, res) => {
      hits++;
      void answered.then(() => res.json({}));
    });
    const http = createServer(app);
    const ioServer = new Server(http);
    new SocketTransport({
      io: ioServer,
      dispatch: app,
      pubsub: new PubSub(ioServer, new LocalBus()),
      log: new Logger({ level: 'error', dir: false }),
      handshakeAuth: { url: '/slow-auth', tokenField: 'jwt' },
      trustProxy: false,
      maxBodyBytes: 1024,
      maxDepth: 8,
      maxInFlight: 8,
      maxConnectionsPerAddress: 2,
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const options = { transports: ['websocket'], reconnection: false, forceNew: true };
    const outcome = (socket: Socket) =>
      new Promise<unknown>((resolve) => {
        socket.once('connect', () => resolve('connected'));
        socket.once('connect_error', (err: Error & { data?: unknown }) => resolve(err.data ?? err.message));
      });
    const clients: Socket[] = [];
    try {
      const leaving = io(url, { ...options, auth: { token: 'a' } });
      const waiting = io(url, { ...options, auth: { token: 'b' } });
      clients.push(leaving, waiting);
      const waited = outcome(waiting);
      await waitFor(() => hits === 2, 3000, 'both handshakes under way');
      leaving.close();
      await waitFor(() => ioServer.engine.clientsCount === 1, 3000, 'the server to see the client leave');

      const anonymous = io(url, options);
      clients.push(anonymous);
      expect(await outcome(anonymous)).toBe('connected');
      const beyond = io(url, options);
      clients.push(beyond);
      expect(await outcome(beyond)).toMatchObject({ _error: { status: 429, code: 'TooManyRequests' } });

      answer();
      expect(await waited).toBe('connected');
    } finally {
      answer();
      for (const client of clients) client.close();
      await ioServer.close();
    }
  });
});
