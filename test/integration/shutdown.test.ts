import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import { connectSocket, socketRequest } from '../helpers/clients.js';
import { startNode, waitForOutput } from '../helpers/processes.js';
import { ADMIN_PASSWORD, createTestDatabase } from '../helpers/server.js';

/**
 * Graceful shutdown (docs/reference.md#operations): `npm start`'s process, under concurrent HTTP and socket
 * load, receives SIGTERM; every request already in flight completes, sockets are told why they are closed,
 * exit code 0. Logins make the in-flight work: bcrypt at the default cost takes a while per request.
 */

let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database?.drop();
});

describe('SIGTERM', () => {
  it('When SIGTERM arrives under load, then no in-flight request fails and the process exits 0', async () => {
    const url = (database.config.url as string | undefined) ?? `sqlite:${database.config.storage as string}`;
    const app = startNode('app.ts', [], {
      NODE_ENV: 'development', // bcrypt at cost 12: each login takes long enough to be caught in flight
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      REDIS_URL: '',
      LOG_LEVEL: 'info',
      FLUX_ADMIN_PASSWORD: 'shutdown-password',
    });
    const [, port] = await waitForOutput(app, /listening on http:\/\/[^:]+:(\d+)/);
    const base = `http://127.0.0.1:${port}`;
    const socket = await connectSocket(base);
    const shutdownNotices: unknown[] = [];
    socket.on('server:shutdown', (notice: unknown) => shutdownNotices.push(notice));
    // one address may have auth.hashPerAddress + hashPerAddressQueue (1 + 4) password checks admitted
    // at once; they run one after another, so the last ones are still waiting when SIGTERM comes
    const credentials = { login: 'admin', password: 'shutdown-password' };

    const overHttp = Array.from({ length: 3 }, () =>
      fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credentials),
      }).then(
        (response) => response.status,
        () => 'failed',
      ),
    );
    const overSocket = Array.from({ length: 2 }, () =>
      socketRequest(socket, { method: 'POST', url: '/auth/login', data: credentials }, 30_000).then(
        (reply) => reply.statusCode,
        () => 'failed',
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    const exited = app.stop('SIGTERM');

    const statuses = await Promise.all([...overHttp, ...overSocket]);
    expect(statuses).toEqual(Array(5).fill(200));
    expect(await exited).toBe(0);
    expect(app.output()).toContain('SIGTERM received');
    expect(shutdownNotices).toEqual([{ reason: 'Server shutting down' }]);
    socket.close();
  }, 60_000);
});

/** Resolves with 'stopped' when `stop` resolves, or 'still running' after `ms`. */
const within = (stop: Promise<void>, ms: number) =>
  Promise.race([
    stop.then(() => 'stopped' as const),
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms)),
  ]);

/** Resolves once `port` on 127.0.0.1 refuses connections (polls every 5 ms, at most 10 s). */
async function portClosed(port: number): Promise<void> {
  await vi.waitFor(
    () =>
      new Promise<void>((resolve, reject) => {
        const probe = net.connect(port, '127.0.0.1');
        probe.once('connect', () => {
          probe.destroy();
          reject(new Error(`port ${port} still accepts`));
        });
        probe.once('error', (error: NodeJS.ErrnoException) =>
          error.code === 'ECONNREFUSED' ? resolve() : reject(error),
        );
      }),
    { timeout: 10_000, interval: 5 },
  );
}

/**
 * What the server answered on `connection` to one GET of `path`: status line, `Connection` header and body
 * (decoded when chunked).
 */
function exchange(
  connection: net.Socket,
  path: string,
): Promise<{ status: string; connection?: string; body: string }> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const head = received.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = /\r\ncontent-length: (\d+)/i.exec(received.slice(0, head));
      const chunked = /\r\ntransfer-encoding: chunked/i.test(received.slice(0, head));
      let body = received.slice(head + 4);
      if (length ? body.length < Number(length[1]) : !(chunked && body.endsWith('0\r\n\r\n'))) return;
      // chunked: each chunk is its size in hex, CRLF, its bytes, CRLF (RFC 9112 §7.1)
      if (chunked) body = body.replace(/([0-9a-f]+)\r\n([\s\S]*?)\r\n/gi, (_all, _size, data) => data);
      cleanup();
      resolve({
        status: received.slice(0, received.indexOf('\r\n')),
        connection: /\r\nconnection: ([^\r]+)/i.exec(received)?.[1]?.toLowerCase(),
        body,
      });
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`connection closed, received ${JSON.stringify(received)}`));
    };
    const cleanup = () => {
      connection.off('data', onData);
      connection.off('close', onClose);
    };
    connection.on('data', onData);
    connection.on('close', onClose);
    connection.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe('draining before the stop (server.drainDelayMs)', () => {
  it('When Flux stops with a drain delay, then meanwhile requests are still answered on both transports and connections stay alive, /ready answers 503, and only then the port closes', async () => {
    const own = await createTestDatabase();
    const agent = new http.Agent({ keepAlive: true });
    try {
      const address = await Flux.start({
        config: {
          server: { port: 0, host: '127.0.0.1', drainDelayMs: 600 },
          database: own.config,
          bootstrap: { adminPassword: ADMIN_PASSWORD },
          redis: { url: process.env.REDIS_URL, prefix: `flux-drain-${process.pid}:` },
        },
      });
      const get = (path: string) =>
        new Promise<{ status: number; connection?: string }>((resolve, reject) => {
          const request = http.get({ host: '127.0.0.1', port: address.port, path, agent }, (response) => {
            response.resume();
            response.on('end', () =>
              resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }),
            );
          });
          request.on('error', reject);
        });
      const socket = await connectSocket(`http://127.0.0.1:${address.port}`);
      expect(await get('/health')).toEqual({ status: 200, connection: 'keep-alive' });

      const stopped = Flux.stop();
      // a proxy keeps reusing its connections rather than opening new ones the closing port would reset
      expect(await get('/health')).toEqual({ status: 200, connection: 'keep-alive' });
      expect((await get('/ready')).status).toBe(503);
      expect((await socketRequest(socket, { method: 'GET', url: '/health' })).statusCode).toBe(200);
      expect(await within(stopped, 100)).toBe('still running');
      // its idle connection would be waited for (the next tests)
      agent.destroy();

      expect(await within(stopped, 10_000)).toBe('stopped');
      await portClosed(address.port); // refused
      socket.close();
    } finally {
      agent.destroy();
      await Flux.stop();
      await own.drop();
    }
  }, 20_000);

  interface IdleConnection {
    connection: net.Socket;
    port: number;
    /** Resolves when the connection closes. */
    closed: Promise<'closed'>;
    /** `Flux.stop()`, awaited by the cleanup whatever the test asserted. */
    stop: () => Promise<void>;
  }

  /**
   * Runs `body` against Flux started on its own database with `server`'s options and one kept-alive
   * connection that has served a request and is idle, as a proxy's pooled connection; then cleans up.
   */
  async function withIdleConnection(
    server: Record<string, number>,
    body: (idle: IdleConnection) => Promise<void>,
  ): Promise<void> {
    const own = await createTestDatabase();
    const connection = new net.Socket();
    let stopped: Promise<void> | undefined;
    try {
      const address = await Flux.start({
        config: {
          server: { port: 0, host: '127.0.0.1', ...server },
          database: own.config,
          bootstrap: { adminPassword: ADMIN_PASSWORD },
          redis: { url: process.env.REDIS_URL, prefix: `flux-idle-${process.pid}:` },
        },
      });
      await new Promise((resolve, reject) =>
        connection.connect(address.port, '127.0.0.1').once('connect', resolve).once('error', reject),
      );
      expect(await exchange(connection, '/health')).toMatchObject({
        status: 'HTTP/1.1 200 OK',
        connection: 'keep-alive',
      });
      const closed = new Promise<'closed'>((resolve) => connection.once('close', () => resolve('closed')));
      await body({ connection, port: address.port, closed, stop: () => (stopped = Flux.stop()) });
    } finally {
      connection.destroy();
      await stopped; // a stop in progress ends before the next test starts one
      await Flux.stop();
      await own.drop();
    }
  }

  /** 'open' when `closed` has not resolved within `ms`. */
  const openAfter = (closed: Promise<'closed'>, ms: number) =>
    Promise.race([closed, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), ms))]);

  it('When the port has closed after the drain, then an idle kept-alive connection stays open for its client: a request on it is answered and closes it, and the stop ends once it is closed', async () => {
    await withIdleConnection({ drainDelayMs: 300 }, async ({ connection, port, stop }) => {
      const stopped = stop();
      await portClosed(port);
      // the proxy sends the next request on it after the port closed (nginx learns of the stop only from a
      // refused connection): answered, and the connection closes after it
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await exchange(connection, '/health')).toMatchObject({
        status: 'HTTP/1.1 200 OK',
        connection: 'close',
      });
      // with no HTTP connection left, the stop does not wait for the keep-alive timeout (5 s)
      expect(await within(stopped, 4000)).toBe('stopped');
    });
  }, 20_000);

  it('When the port has closed after the drain, then a socket.io handshake on a kept-alive connection is refused, polling or WebSocket: its client tries again elsewhere', async () => {
    await withIdleConnection({ drainDelayMs: 300 }, async ({ connection, port, stop }) => {
      const handshake = `${Flux.config.socket.path}/?EIO=4&transport=`;
      // a second connection, open before the stop, for the WebSocket upgrade
      const other = net.connect(port, '127.0.0.1');
      other.on('error', () => {});
      try {
        await new Promise((resolve, reject) => other.once('connect', resolve).once('error', reject));
        const upgradeReply = new Promise<string>((resolve) => {
          let received = '';
          other.on('data', (chunk: Buffer) => {
            received += chunk.toString('latin1');
          });
          other.once('close', () => resolve(received));
        });
        stop();
        await portClosed(port);
        const reply = await exchange(connection, `${handshake}polling`);
        expect(reply).toMatchObject({ status: 'HTTP/1.1 403 Forbidden', connection: 'close' });
        expect(JSON.parse(reply.body)).toEqual({ code: 4, message: 'Server shutting down' });
        other.write(
          `GET ${handshake}websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
            'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
        // engine.io refuses an upgrade with a 400 and the reason
        const refused = await upgradeReply;
        expect(refused).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
        expect(refused).toMatch(/\r\n\r\nServer shutting down$/);
      } finally {
        other.destroy();
      }
    });
  }, 20_000);

  it('When a client keeps an idle connection open past the port closing, then the server leaves it open for a while, and closes it within half of what server.shutdownTimeoutMs leaves', async () => {
    await withIdleConnection(
      { drainDelayMs: 100, shutdownTimeoutMs: 1200 },
      async ({ port, closed, stop }) => {
        const stopped = stop();
        await portClosed(port);
        // the client may be sending a request on it right now: not closed at once
        expect(await openAfter(closed, 300)).toBe('open');
        // but the requests in flight get the other half of the 1,200 ms
        expect(await openAfter(closed, 3000)).toBe('closed');
        expect(await within(stopped, 3000)).toBe('stopped');
      },
    );
  }, 20_000);

  it('When Flux stops without a drain, then an idle kept-alive connection is closed at once', async () => {
    await withIdleConnection({ drainDelayMs: 0 }, async ({ closed, stop }) => {
      const stopped = stop();
      expect(await openAfter(closed, 1000)).toBe('closed');
      expect(await within(stopped, 3000)).toBe('stopped');
    });
  }, 20_000);
});

/**
 * Starts Flux on its own database and opens one raw connection to it, as a load balancer does: accepted,
 * nothing written yet. `reply()` resolves with what came back once the server closed it ('' when cut).
 */
async function startWithConnection(drainDelayMs: number) {
  const own = await createTestDatabase();
  const address = await Flux.start({
    config: {
      server: { port: 0, host: '127.0.0.1', drainDelayMs },
      database: own.config,
      bootstrap: { adminPassword: ADMIN_PASSWORD },
      redis: { url: process.env.REDIS_URL, prefix: `flux-unsent-${process.pid}:` },
    },
  });
  const connection = net.connect(address.port, '127.0.0.1');
  await new Promise((resolve, reject) => connection.once('connect', resolve).once('error', reject));
  let received = '';
  connection.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  connection.on('error', () => {}); // a cut connection shows as an empty reply
  const ended = new Promise((resolve) => connection.once('close', resolve));
  return { own, connection, reply: () => ended.then(() => received) };
}

describe('connections accepted before the port closed', () => {
  /** How long after the port closed the request comes (nginx writes it right after connecting). */
  const DELAY_MS = 20;
  it.each([0, 300])(
    'When a connection is accepted before the stop and its request arrives just after the port closed (drain %i ms), then the request is answered before the server stops',
    async (drainDelayMs) => {
      const { own, connection, reply } = await startWithConnection(drainDelayMs);
      let stopped: Promise<void> | undefined;
      try {
        stopped = Flux.stop();
        await portClosed(Number(connection.remotePort));
        // the request (a database read) comes right after the port closed
        await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
        const body = JSON.stringify({ login: 'admin', password: 'not-the-password' });
        connection.write(
          `POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
        // answered (401: a wrong password, read from the database), not cut and not failed on a closed database
        expect(await reply()).toMatch(/^HTTP\/1\.1 401 /);
      } finally {
        await stopped; // a stop in progress ends before the next test starts one
        await Flux.stop();
        await own.drop();
      }
    },
  );

  it('When a request has reached the server but is not read yet as the stop begins, then it is answered before the server stops', async () => {
    const { own, connection, reply } = await startWithConnection(0);
    let stopped: Promise<void> | undefined;
    try {
      // the request is in the server's receive buffer, but its event loop has not read it when stop begins
      // (a load balancer's request that crossed the closing of the port): written, then stop in the same turn
      connection.write('GET /auth/roles HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      stopped = Flux.stop();
      expect(await reply()).toMatch(/^HTTP\/1\.1 401 /);
    } finally {
      await stopped;
      await Flux.stop();
      await own.drop();
    }
  });
});

describe('work left after the last reply', () => {
  /** Starts Flux in this process on `database` (Redis too when `REDIS_URL` is set). */
  async function start(config: Record<string, unknown>): Promise<string> {
    const address = await Flux.start({
      config: {
        server: { port: 0, host: '127.0.0.1' },
        database: config,
        bootstrap: { adminPassword: ADMIN_PASSWORD },
        redis: { url: process.env.REDIS_URL, prefix: `flux-stop-${process.pid}:` },
      },
    });
    return `http://127.0.0.1:${address.port}`;
  }

  it('When Flux stops with sockets connected, then their disconnections are written and published before Redis and the database close', async () => {
    const own = await createTestDatabase();
    try {
      const base = await start(own.config);
      const errors = [vi.spyOn(Flux.log, 'error'), vi.spyOn(Flux.log, 'warn')];
      const sockets = await Promise.all([connectSocket(base), connectSocket(base)]);
      const sessionIds: number[] = [];
      for (const socket of sockets) {
        const reply = await socketRequest(socket, {
          method: 'POST',
          url: '/auth/login',
          data: { login: 'admin', password: ADMIN_PASSWORD },
        });
        expect(reply.statusCode).toBe(200);
        sessionIds.push(JSON.parse(atob((reply.data as { jwt: string }).jwt.split('.')[1])).sessionId);
      }
      const published = Flux.pubsub.stats.published;
      await Flux.stop();
      // the two disconnections were written, and their changes handed to the bus, before it closed
      expect(Flux.pubsub.stats.published - published).toBeGreaterThanOrEqual(2);
      expect(errors.flatMap((spy) => spy.mock.calls)).toEqual([]);
      for (const spy of errors) spy.mockRestore();

      await start(own.config);
      const sessions = await Flux.Session.findAll({ where: { id: sessionIds } });
      expect(sessions.map((s) => [s.socketId, s.disconnectedAt instanceof Date])).toEqual([
        [null, true],
        [null, true],
      ]);
      await Flux.stop();
      for (const socket of sockets) socket.close();
    } finally {
      await Flux.stop();
      await own.drop();
    }
  });

  it('When work handed to waitUntil still needs the database as Flux stops, then it finishes first', async () => {
    const own = await createTestDatabase();
    try {
      await start(own.config);
      const late = Flux.waitUntil(new Promise((r) => setTimeout(r, 200)).then(() => Flux.User.count()));
      await Flux.stop();
      expect(await late).toBe(1);
    } finally {
      await Flux.stop();
      await own.drop();
    }
  });
});

describe('a stop past its deadline', () => {
  const shutdownTimeoutMs = 300;

  /** Starts Flux here with a short shutdown deadline and slow logins (bcrypt at cost 13). */
  async function start(database: Record<string, unknown>): Promise<string> {
    const address = await Flux.start({
      config: {
        server: { port: 0, host: '127.0.0.1', shutdownTimeoutMs },
        database,
        auth: { bcryptRounds: 13 },
        bootstrap: { adminPassword: ADMIN_PASSWORD },
        redis: { url: process.env.REDIS_URL, prefix: `flux-deadline-${process.pid}:` },
      },
    });
    return `http://127.0.0.1:${address.port}`;
  }

  it('When a client is still sending its headers as Flux stops, then the stop does not wait for it (Node would, until its headersTimeout)', async () => {
    const own = await createTestDatabase();
    const client = new net.Socket();
    try {
      const { port } = new URL(await start(own.config));
      await new Promise<void>((resolve) => client.connect(Number(port), '127.0.0.1', resolve));
      client.on('error', () => undefined);
      // half a request: no request event yet, so nothing in flight to wait for, but an open connection
      client.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await within(Flux.stop(), 5000)).toBe('stopped');
    } finally {
      client.destroy();
      await Flux.stop();
      await own.drop();
    }
  });

  it('When a client sends its body slowly as Flux stops, then the stop does not wait for it past the deadline', async () => {
    const own = await createTestDatabase();
    const client = new net.Socket();
    try {
      const base = await start(own.config);
      const { port } = new URL(base);
      await new Promise<void>((resolve) => client.connect(Number(port), '127.0.0.1', resolve));
      client.on('error', () => undefined);
      // headers and the first bytes of a 1000-byte body: the server waits for the rest
      client.write(
        'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"login":',
      );
      await vi.waitUntil(() => Flux.lifecycle.inFlight === 1, { timeout: 2000 });
      const drip = setInterval(() => client.write(' '), 50);
      const closed = new Promise((resolve) => client.once('close', resolve));
      try {
        expect(await within(Flux.stop(), shutdownTimeoutMs + 5000)).toBe('stopped');
      } finally {
        clearInterval(drip);
      }
      await closed;
    } finally {
      client.destroy();
      await Flux.stop();
      await own.drop();
    }
  });

  it('When a socket request is still running past the deadline, then its ack is 503 ShuttingDown before the socket closes', async () => {
    const own = await createTestDatabase();
    try {
      const base = await start(own.config);
      const socket = await connectSocket(base);
      const notices: unknown[] = [];
      socket.on('server:shutdown', (notice: unknown) => notices.push(notice));
      // a login at bcrypt cost 13 outlasts the deadline
      const ack = socketRequest(
        socket,
        { method: 'POST', url: '/auth/login', data: { login: 'admin', password: ADMIN_PASSWORD } },
        10_000,
      );
      await vi.waitUntil(() => Flux.lifecycle.inFlight === 1, { timeout: 2000 });
      const stopped = Flux.stop();
      expect(await ack).toEqual({
        statusCode: 503,
        headers: { 'content-type': 'application/json; charset=utf-8' },
        data: {
          _error: {
            status: 503,
            code: 'ShuttingDown',
            message: 'The server is shutting down: the request did not finish in time',
          },
        },
      });
      await stopped;
      expect(notices).toEqual([{ reason: 'Server shutting down' }]);
      socket.close();
    } finally {
      await Flux.stop();
      await own.drop();
    }
  });
});
