import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthEvent, createClient, decodeToken } from '../../client/src/index.js';
import { waitFor } from '../helpers/clients.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  // tokens live 6 s (refreshed 2 s before expiry): the client must refresh them to stay logged in
  server = await startTestServer({ jwt: { expiresIn: 6 } });
});
afterAll(async () => {
  await server?.stop();
});

it('When the token nears its expiry, then the client refreshes it and stays logged in past the first expiry', async () => {
  const c = createClient({ url: server.url });
  try {
    await c.connect();
    const events: AuthEvent[] = [];
    c.on('auth', (e) => events.push(e));
    await c.login('admin', ADMIN_PASSWORD);
    const first = c.token!;
    const firstExp = decodeToken(first)!.exp! * 1000;
    await waitFor(() => Date.now() > firstExp + 1000, 9000, 'the first token to expire');
    expect(events.map((e) => e.type)).toContain('refresh');
    expect(events.map((e) => e.type)).not.toContain('expired');
    expect(c.token).not.toBe(first);
    expect(decodeToken(c.token!)!.exp! * 1000).toBeGreaterThan(firstExp);
    // the socket's binding followed the refresh: an unauthenticated socket request still acts as admin
    const reply = await c.socket!.timeout(5000).emitWithAck('request', { method: 'GET', url: '/auth/me' });
    expect(reply.statusCode).toBe(200);
    expect((await c.request('GET', '/auth/me')).statusCode).toBe(200);
  } finally {
    c.close();
  }
});
