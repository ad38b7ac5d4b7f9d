import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { passwordWork } from '../../api/services/PasswordService.js';
import { httpTransport, type Reply, type Transport } from '../helpers/clients.js';
import { adminLogin, expectStatus } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Password hashing is bounded (docs/security.md §2.8): bcrypt holds a libuv pool thread for its whole
 * cost, so at most `auth.hashConcurrency` run at once, at most `auth.hashQueueLength` wait (503 `Busy`
 * past it), and one address has one operation in that queue with `auth.hashPerAddressQueue` behind its
 * own (429 past it). The server trusts the loopback proxy so that each client speaks from its own address.
 */

let server: TestServer;
let address = 0;
const nextAddress = () => `10.1.0.${++address}`;

beforeAll(async () => {
  // a cost high enough that parallel logins overlap on the pool
  server = await startTestServer({
    server: { port: 0, host: '127.0.0.1', trustProxy: 'loopback' },
    auth: {
      loginLimit: { windowMs: 60_000, perAccount: 3, perAddress: 10_000 },
      bcryptRounds: 9,
      hashConcurrency: 1,
      hashQueueLength: 3,
      hashPerAddress: 1,
      hashPerAddressQueue: 2,
    },
  });
  admin = httpTransport(server.url, await adminLogin(server.url));
});

let admin: Transport;

afterAll(async () => {
  await server?.stop();
});

const http = () => httpTransport(server.url);
let unknown = 0;
/** A login that fails (an unknown login: the dummy hash is checked all the same), never the same twice. */
const wrongLogin = () => ({ login: `nobody-${++unknown}`, password: 'not-the-password' });

describe('bounded password hashing', () => {
  it('When logins from many addresses arrive at once, then one bcrypt runs at a time, a few wait, the others get 503 Busy', async () => {
    const replies = await Promise.all(
      Array.from({ length: 12 }, () =>
        http().request('POST', '/auth/login', wrongLogin(), { 'x-forwarded-for': nextAddress() }),
      ),
    );
    expect(passwordWork().peak).toBe(1);
    const statuses = replies.map((reply) => reply.status);
    // one running and three waiting are checked (401), more if a check ended while the others arrived;
    // the rest are refused at once
    expect(statuses.filter((status) => status === 401).length).toBeGreaterThanOrEqual(4);
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 401 || status === 503)).toBe(true);
    const refused = replies.find((reply) => reply.status === 503);
    expect(refused?.body).toEqual({
      _error: { status: 503, code: 'Busy', message: 'Too many password checks at once: retry in a moment' },
    });
    expect(refused?.headers['retry-after']).toBe('1');
    // once the storm is over, a login goes through
    const ok = await http().request(
      'POST',
      '/auth/login',
      { login: 'admin', password: 'admin-test-password' },
      { 'x-forwarded-for': nextAddress() },
    );
    expect(ok.status).toBe(200);
  });

  it('When one address sends a burst of logins, then it waits behind itself: another address is served after one of its checks, and its excess gets 429', async () => {
    const burst = nextAddress();
    const finished: string[] = [];
    const login = (who: string, from: string): Promise<Reply> =>
      http()
        .request('POST', '/auth/login', wrongLogin(), { 'x-forwarded-for': from })
        .then((reply) => {
          finished.push(`${who}:${reply.status}`);
          return reply;
        });
    const attacks = Array.from({ length: 8 }, () => login('burst', burst));
    // the other address asks once the burst's refusals are back (its checks are queued by then)
    await vi.waitUntil(() => finished.some((entry) => entry === 'burst:429'), { timeout: 5000, interval: 1 });
    const checkedBefore = finished.filter((entry) => entry === 'burst:401').length;
    const other = await login('other', nextAddress());
    const replies = await Promise.all(attacks);
    expect(other.status).toBe(401);
    const statuses = replies.map((reply) => reply.status);
    // one in the queue and two behind it are checked (more if a check ended while the burst arrived);
    // the rest are refused at once
    expect(statuses.filter((status) => status === 401).length).toBeGreaterThanOrEqual(3);
    const refused = replies.filter((reply) => reply.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
    expect(refused[0].headers['retry-after']).toBe('1');
    // the other address did not wait for the whole burst: at least one of the burst's checks queued before
    // it ended after it (how many ended before depends on how fast its request arrived: with other test
    // files running at once, one more of the burst's checks may end meanwhile)
    const checked = finished.filter((entry) => entry.endsWith(':401'));
    expect(checked.indexOf('other:401')).toBeLessThanOrEqual(checkedBefore + 2);
    expect(checked.slice(checked.indexOf('other:401') + 1).length).toBeGreaterThanOrEqual(1);
  });

  it('When parallel password changes give the right current password, then the refused ones do not count: the account can still log in', async () => {
    const created = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', { login: 'rightful', password: 'rightful-password' }),
      201,
    );
    const loginReply = await httpTransport(server.url).request(
      'POST',
      '/auth/login',
      { login: 'rightful', password: 'rightful-password' },
      { 'x-forwarded-for': nextAddress() },
    );
    const self = httpTransport(server.url, expectStatus<{ jwt: string }>(loginReply, 200).jwt);
    const replies = await Promise.all(
      Array.from({ length: 12 }, () =>
        self.request(
          'PATCH',
          `/user/${created.id}`,
          { password: 'rightful-password', currentPassword: 'rightful-password' },
          { 'x-forwarded-for': nextAddress() },
        ),
      ),
    );
    const statuses = replies.map((reply) => reply.status);
    // at most perAccount (3) checks at once (one bcrypt at a time here); the others are refused while
    // those hold their points
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 200 || status === 429)).toBe(true);
    const again = await httpTransport(server.url).request(
      'POST',
      '/auth/login',
      { login: 'rightful', password: 'rightful-password' },
      { 'x-forwarded-for': nextAddress() },
    );
    expect(again.status).toBe(200);
  });
});
