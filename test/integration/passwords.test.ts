import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordWork } from '../../api/services/PasswordService.js';
import { connectSocket, httpTransport, socketRequest } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Password hashing is bounded (docs/security.md §2.11): bcrypt holds a libuv pool thread for its whole
 * cost, so at most `auth.hashConcurrency` run at once, and at most `auth.hashQueueLength` wait; past that
 * 503 `Busy`. The rest of the pool stays free for the database.
 */

let server: TestServer;

beforeAll(async () => {
  // a cost high enough that parallel logins overlap on the pool
  server = await startTestServer({ auth: { bcryptRounds: 9, hashConcurrency: 1, hashQueueLength: 3 } });
});

afterAll(async () => {
  await server?.stop();
});

describe('bounded password hashing', () => {
  it('When many logins arrive at once over HTTP and socket, then one bcrypt runs at a time, a few wait, the others get 503 Busy', async () => {
    const http = httpTransport(server.url);
    const socket = await connectSocket(server.url);
    const attempts = Array.from({ length: 12 }, async (_, i) => {
      const data = { login: i % 2 ? 'admin' : `nobody-${i}`, password: 'not-the-password' };
      if (i % 3) return (await http.request('POST', '/auth/login', data)).status;
      const reply = await socketRequest(socket, { method: 'POST', url: '/auth/login', data });
      if (reply.statusCode === 503)
        expect(reply.headers['Retry-After'] ?? reply.headers['retry-after']).toBe('1');
      return reply.statusCode;
    });
    const statuses = await Promise.all(attempts);
    expect(passwordWork().peak).toBe(1);
    // one running and three waiting are checked (401); the rest are refused at once
    expect(statuses.filter((status) => status === 401).length).toBeGreaterThanOrEqual(4);
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 401 || status === 503)).toBe(true);
    const busy = await Promise.all(
      Array.from({ length: 8 }, () =>
        http.request('POST', '/auth/login', { login: 'x', password: 'y-y-y-y' }),
      ),
    );
    const refused = busy.find((reply) => reply.status === 503);
    expect(refused?.body).toEqual({
      _error: { status: 503, code: 'Busy', message: 'Too many password checks at once: retry in a moment' },
    });
    expect(refused?.headers['retry-after']).toBe('1');
    // and once the storm is over, a login goes through
    expect(
      (await http.request('POST', '/auth/login', { login: 'admin', password: 'admin-test-password' })).status,
    ).toBe(200);
    socket.close();
  });
});
