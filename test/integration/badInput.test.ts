import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import {
  connectClient,
  connectSocket,
  httpTransport,
  socketRequest,
  socketTransport,
  type Transport,
} from '../helpers/clients.js';
import { adminLogin, expectStatus } from '../helpers/fixtures.js';
import { databaseChecksum, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Bad input (docs/reference.md#errors, #socket-protocol, #bad-input-and-bounded-cost): a 4xx, never a 500,
 * never a crash, never a change to data.
 */

let server: TestServer;
let token: string;
let admin: Transport;

/** A fingerprint of every row of every model: equal before and after means nothing changed. */

beforeAll(async () => {
  server = await startTestServer();
  token = await adminLogin(server.url);
  admin = httpTransport(server.url, token);
});

afterAll(async () => {
  await server?.stop();
});

describe('HTTP', () => {
  const post = (url: string, body: string, type = 'application/json') =>
    fetch(server.url + url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body,
    });

  it('When bodies are malformed, not objects, too large or polluting, then 4xx and nothing changes', async () => {
    const before = await databaseChecksum();
    const cases: Array<[string, string, number]> = [
      ['/user', '{"login": "x",', 400],
      ['/user', '[{"login": "x"}]', 400],
      ['/user', '"just a string"', 400],
      ['/user', 'null', 400],
      ['/team', JSON.stringify({ name: 'x'.repeat(200_000), role: 'bar' }), 413],
      ['/team', '{"__proto__": {"role": "admin"}, "constructor": {"prototype": {"x": 1}}}', 400],
      ['/user/1', '{}', 404],
      ['/auth/login', '{"login": {"$gt": ""}, "password": {"$gt": ""}}', 400],
    ];
    for (const [url, body, status] of cases) {
      const response = await post(url, body);
      expect({ url, body: body.slice(0, 60), status: response.status }).toEqual({
        url,
        body: body.slice(0, 60),
        status,
      });
      const reply = (await response.json()) as { _error: { status: number; code: string; message: string } };
      expect(reply._error.status).toBe(status);
      expect(JSON.stringify(reply)).not.toMatch(/at .*\.ts|SELECT|INSERT|Bearer/);
    }
    expect(({} as Record<string, unknown>).role).toBeUndefined();
    expect(await databaseChecksum()).toBe(before);
  });

  it('When ?data is not JSON, then 400', async () => {
    const response = await fetch(`${server.url}/user?data=%7Bnope`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(400);
  });

  it('When a method has no route, then 404', async () => {
    expectStatus(await admin.request('PUT', '/user'), 404);
    expectStatus(await admin.request('DELETE', '/auth/login'), 404);
  });
});

describe('JSON attributes', () => {
  it.each([
    ['a number', 5],
    ['a string', 'dark'],
    ['a list', ['dark']],
    ['null', null],
  ])(
    'When preferences are %s, then 400 ValidationError over HTTP and socket, and nothing changes',
    async (_what, value) => {
      const me = expectStatus<{ user: { id: number } }>(await admin.request('GET', '/auth/me'), 200);
      const socket = socketTransport(await connectClient(server.url), token);
      const before = await databaseChecksum();
      for (const client of [admin, socket]) {
        const reply = await client.request('PATCH', `/user/${me.user.id}`, { preferences: value });
        expect(reply.status).toBe(400);
        expect(
          (reply.body as { _error: { code: string; validation: Array<{ path: string }> } })._error,
        ).toMatchObject({
          code: 'ValidationError',
          validation: [{ path: 'preferences' }],
        });
      }
      expect(await databaseChecksum()).toBe(before);
      socket.close();
    },
  );
});

describe('path parameters', () => {
  /** Every route with a `:param`, each param replaced by a percent-encoding that does not decode. */
  const malformed = ['%ff', '%E0%A4%A', '%', '%zz', '%C3%28'];
  const withParams = () =>
    Flux.routes
      .filter((route) => route.path.includes('/:'))
      .map((route, i) => ({
        route,
        url: route.path.replace(/:[A-Za-z_]\w*/g, () => malformed[i % malformed.length]),
      }));

  it('When a path parameter is malformed percent-encoding, then every /:param route answers 400 BadRequest over HTTP and socket', async () => {
    const routes = withParams();
    expect(routes.length).toBeGreaterThan(10);
    const overSocket = socketTransport(await connectClient(server.url), token);
    const before = await databaseChecksum();
    const seen: unknown[] = [];
    for (const { route, url } of routes) {
      const transports = route.httpOnly ? [admin] : [admin, overSocket];
      for (const transport of transports) {
        const reply = await transport.request(route.method, url, route.method === 'get' ? undefined : {});
        seen.push({ via: transport.name, method: route.method, url, status: reply.status, body: reply.body });
      }
    }
    const expected = seen.map((entry) => ({
      ...(entry as object),
      status: 400,
      body: {
        _error: { status: 400, code: 'BadRequest', message: 'Malformed percent-encoding in the URL path' },
      },
    }));
    expect(seen).toEqual(expected);
    expect(await databaseChecksum()).toBe(before);
    overSocket.close();
  });
});

describe('socket', () => {
  it.each([
    ['null', null],
    ['a string', 'GET /user'],
    ['a number', 42],
    ['an array', [{ method: 'GET', url: '/user' }]],
    ['no method', { url: '/user' }],
    ['an unknown method', { method: 'BREW', url: '/user' }],
    ['no url', { method: 'GET' }],
    ['an absolute url', { method: 'GET', url: 'http://example.com/user' }],
    ['headers that are not an object', { method: 'GET', url: '/user', headers: 'x' }],
  ])('When the payload is %s, then the ack is 400 and the socket stays connected', async (_what, payload) => {
    const socket = await connectSocket(server.url);
    const reply = await socketRequest(socket, payload);
    expect(reply.statusCode).toBe(400);
    expect(reply.data).toMatchObject({ _error: { status: 400, code: 'BadRequest' } });
    expect(socket.connected).toBe(true);
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
    socket.close();
  });

  it('When data is not an object on a write, then 400 and nothing changes', async () => {
    const before = await databaseChecksum();
    const t = socketTransport(await connectClient(server.url), token);
    for (const data of ['text', 5, [1, 2], true]) {
      expectStatus(await t.request('POST', '/team', data), 400);
    }
    expect(await databaseChecksum()).toBe(before);
    t.close();
  });

  it('When socket data is larger than the body limit, then 413 and the socket stays connected', async () => {
    const socket = await connectSocket(server.url);
    const reply = await socketRequest(socket, {
      method: 'POST',
      url: '/team',
      data: { name: 'x'.repeat(200_000), role: 'bar' },
      headers: { authorization: `Bearer ${token}` },
    });
    expect(reply).toMatchObject({
      statusCode: 413,
      data: { _error: { status: 413, code: 'PayloadTooLarge' } },
    });
    expect(socket.connected).toBe(true);
    socket.close();
  });

  it('When a legacy client sends requestId without an ack, then the reply comes as response-<requestId>', async () => {
    const socket = await connectSocket(server.url);
    const reply = new Promise<{ statusCode: number; data: unknown }>((resolve) =>
      socket.once('response-abc-1', resolve),
    );
    socket.emit('request', {
      requestId: 'abc-1',
      method: 'POST',
      url: '/auth/login',
      data: { login: 'admin', password: 'nope-nope' },
    });
    expect(await reply).toMatchObject({ statusCode: 401, data: { _error: { code: 'Unauthorized' } } });
    const bad = new Promise<{ statusCode: number }>((resolve) => socket.once('response-7', resolve));
    socket.emit('request', { requestId: 7, url: '/user' });
    expect((await bad).statusCode).toBe(400);
    socket.close();
  });

  it('When many requests are in flight on one socket, then each gets its own ack', async () => {
    const t = socketTransport(await connectClient(server.url), token);
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => t.request('GET', i % 2 ? '/user/1' : '/team/1')),
    );
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect((reply.body as { id: number; login?: string }).login !== undefined).toBe(i % 2 === 1);
    });
    t.close();
  });

  it('When a client sends garbage events or no ack, then the server ignores them and keeps serving', async () => {
    const socket = await connectSocket(server.url);
    socket.emit('request');
    socket.emit('request', { method: 'GET', url: '/user' });
    socket.emit('unknown-event', { a: 1 });
    socket.emit('request', { requestId: { nested: true }, method: 'GET', url: '/user' });
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
    socket.close();
  });
});
