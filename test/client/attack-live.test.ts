import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthEvent, createClient, decodeToken } from '../../client/src/index.js';
import { waitFor } from '../helpers/clients.js';
import { expectLiveExact } from '../helpers/live.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ jwt: { expiresIn: 4 } });
});
afterAll(async () => {
  await server?.stop();
});

it('When a socket-less client refreshes its token, then its live query still follows changes after the first token expired', async () => {
  const watcher = createClient({ url: server.url, socket: false });
  const writer = createClient({ url: server.url, socket: false });
  try {
    const events: AuthEvent[] = [];
    watcher.on('auth', (e) => events.push(e));
    await watcher.login('admin', ADMIN_PASSWORD);
    await writer.login('admin', ADMIN_PASSWORD);
    const firstExp = decodeToken(watcher.token!)!.exp! * 1000;
    const live = watcher.live('team', { sort: 'name' });
    await live.ready;
    await waitFor(() => Date.now() > firstExp + 500, 8000, 'the first token to expire');
    expect(events.map((e) => e.type)).toContain('refresh');
    await writer.service('team').create({ name: 'After the refresh', role: 'bar' });
    await expectLiveExact(live, () => watcher.service('team').find({ sort: 'name' }), 'live team', 3000);
    live.close();
  } finally {
    watcher.close();
    writer.close();
  }
}, 20_000);

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { memoryStorage } from '../../client/src/index.js';

/** A token the client takes as valid for an hour (it never checks signatures). */
function fakeToken(): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'HS256' })}.${part({ userId: 1, sessionId: 1, tenantId: 1, iat: now, exp: now + 3600 })}.sig`;
}

for (const [what, body] of [
  ['before ready', ''],
  ['right after ready', 'event: ready\ndata: {}\n\n'],
] as const) {
  it(`When the event stream ends ${what} (a proxy, a broken server), then the client does not open it again in a tight loop`, async () => {
    let streams = 0;
    let reads = 0;
    const fake = createServer((req, res) => {
      if (req.url?.startsWith('/events')) {
        streams++;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(body);
        return;
      }
      reads++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const client = createClient({ url, socket: false, storage: memoryStorage(fakeToken()) });
    const live = client.live('team');
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // opened again after a growing wait (0.5 s, 1 s…): a handful of requests, not hundreds
      expect(streams).toBeLessThan(6);
      expect(reads).toBeLessThan(6);
    } finally {
      live.close();
      client.close();
      fake.closeAllConnections();
      await new Promise((resolve) => fake.close(resolve));
    }
  });
}
