import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashPassword, passwordWork } from '../../api/services/PasswordService.js';
import { httpTransport } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The dummy hash an unknown login is compared with (so that its refusal takes as long as a wrong
 * password's: docs/security.md) is made by the first login at the configured cost. Made while the hashing
 * queue is full, it is refused (503 `Busy`); it must then be made again by a later login, not kept
 * refused — else every unknown login would get 503 from then on while known ones get 401: an outage, and
 * an oracle of which logins exist. No login may run before the test: this file's cost (10) is its own.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    auth: {
      loginLimit: { windowMs: 60_000, perAccount: 100, perAddress: 100 },
      bcryptRounds: 10,
      hashConcurrency: 1,
      hashQueueLength: 3,
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe('the dummy hash of unknown logins', () => {
  it('When the first login finds the hashing queue full, then it gets 503 Busy, and once the queue is free an unknown login gets 401', async () => {
    const unknownLogin = () =>
      httpTransport(server.url).request('POST', '/auth/login', {
        login: 'nobody-at-all',
        password: 'not-the-password',
      });
    // four slow hashes: one running, three waiting, for seconds
    const slow = Array.from({ length: 4 }, () => hashPassword('a-slow-password', 14));
    await vi.waitUntil(() => passwordWork().waiting === 3, { timeout: 5000, interval: 5 });
    const busy = await unknownLogin();
    expect(busy.status).toBe(503);
    expect((busy.body as { _error: { code: string } })._error.code).toBe('Busy');
    expect(passwordWork().waiting).toBe(3); // refused while the queue was still full
    await Promise.all(slow);
    const refused = await unknownLogin();
    expect(refused.status).toBe(401);
    expect((refused.body as { _error: { code: string } })._error.code).toBe('Unauthorized');
  }, 60_000);
});
