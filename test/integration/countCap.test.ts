import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../helpers/clients.js';
import { adminLogin, client, expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * `find` with `count` counts at most `query.maxCount` rows (docs/protocol.md, `count`): up to it
 * `X-Total-Count` is the total; past it, it is `query.maxCount` and `X-Total-Count-Capped: true` says that
 * more match. Written once, run over HTTP and over the socket.
 */

const MAX_COUNT = 3;
const ORIGIN = 'http://console.test';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    server: { port: 0, host: '127.0.0.1', cors: { origin: ORIGIN } },
    query: { maxCount: MAX_COUNT },
  });
  const token = await adminLogin(server.url);
  // 5 teams at `far`, 3 at `near`
  for (const [location, n] of [
    ['far', 5],
    ['near', 3],
  ] as const)
    for (let i = 1; i <= n; i++) {
      const response = await fetch(`${server.url}/team`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${location} ${i}`, role: 'orga', location }),
      });
      expect(response.status).toBe(201);
    }
});

afterAll(async () => {
  await server?.stop();
});

describe.each(['http', 'socket'] as const)('count over %s', (kind) => {
  let admin: Transport;

  beforeAll(async () => {
    admin = await client(server.url, kind, 'admin', ADMIN_PASSWORD);
  });

  afterAll(() => admin.close());

  it('When more rows match than query.maxCount, then X-Total-Count is the cap and says it is capped', async () => {
    const reply = await admin.request('GET', '/team', {
      filters: { location: 'far' },
      sort: 'name',
      limit: 2,
      count: true,
    });
    // the page is what it would be without the cap
    expect(expectStatus<Array<{ name: string }>>(reply, 200).map((team) => team.name)).toEqual([
      'far 1',
      'far 2',
    ]);
    expect(reply.headers['x-total-count']).toBe(String(MAX_COUNT));
    expect(reply.headers['x-total-count-capped']).toBe('true');
  });

  it('When exactly query.maxCount rows match, then X-Total-Count is exact and not capped', async () => {
    const reply = await admin.request('GET', '/team', { filters: { location: 'near' }, count: true });
    expect(expectStatus<unknown[]>(reply, 200)).toHaveLength(MAX_COUNT);
    expect(reply.headers['x-total-count']).toBe(String(MAX_COUNT));
    expect(reply.headers['x-total-count-capped']).toBeUndefined();
  });

  it('When fewer or no rows match, then X-Total-Count is exact, whatever the offset', async () => {
    const some = await admin.request('GET', '/team', {
      filters: { location: 'near', name: { ne: 'near 1' } },
      offset: 1,
      count: true,
    });
    expect(expectStatus<unknown[]>(some, 200)).toHaveLength(1);
    expect(some.headers['x-total-count']).toBe('2');
    expect(some.headers['x-total-count-capped']).toBeUndefined();
    const none = await admin.request('GET', '/team', { filters: { location: 'nowhere' }, count: true });
    expect(expectStatus<unknown[]>(none, 200)).toEqual([]);
    expect(none.headers['x-total-count']).toBe('0');
  });
});

describe('count over HTTP, from a browser of another origin', () => {
  it('When the reply is capped, then CORS exposes X-Total-Count-Capped to the page', async () => {
    const token = await login(server.url, 'admin', ADMIN_PASSWORD);
    const data = encodeURIComponent(JSON.stringify({ filters: { location: 'far' }, count: true }));
    const response = await fetch(`${server.url}/team?data=${data}`, {
      headers: { authorization: `Bearer ${token}`, origin: ORIGIN },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-total-count-capped')).toBe('true');
    const exposed = (response.headers.get('access-control-expose-headers') ?? '').split(',');
    expect(exposed.map((name) => name.trim().toLowerCase())).toContain('x-total-count-capped');
  });
});
