import { createHash } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import {
  connectClient,
  httpTransport,
  type Reply,
  settle,
  socketTransport,
  type Transport,
} from '../helpers/clients.js';
import { adminLogin, client, createTenant, expectStatus, login } from '../helpers/fixtures.js';
import { databaseChecksum, startTestServer, type TestServer } from '../helpers/server.js';
import { mailsTo, type ReceivedMail, startSmtpServer, type TestSmtpServer } from '../helpers/smtp.js';

/**
 * Password reset by e-mail (docs/mail.md "Password reset"), end to end through the job queue and a real
 * SMTP server: `POST /auth/reset` answers 202 whatever the login and mails a one-time token to a user with
 * an e-mail; `POST /auth/reset/confirm` spends it once, sets the password and ends every session; both
 * count against the login limits. The server trusts the loopback proxy, so that each HTTP scenario speaks
 * from addresses of its own (socket requests all come from 127.0.0.1).
 */

let server: TestServer;
let smtp: TestSmtpServer;
let admin: Transport;
let address = 0;
/** A client address of its own for each call (`X-Forwarded-For`, trusted from loopback). */
const nextAddress = () => `10.2.0.${++address}`;

const PER_ACCOUNT = 3;
const PER_ADDRESS = 10;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({
    server: { port: 0, host: '127.0.0.1', trustProxy: 'loopback' },
    mail: { url: smtp.url, from: 'Flux <flux@example.org>' },
    auth: {
      bcryptRounds: 4,
      loginLimit: { windowMs: 60_000, perAccount: PER_ACCOUNT, perAddress: PER_ADDRESS },
    },
  });
  admin = httpTransport(server.url, await adminLogin(server.url));
});

afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

let users = 0;
/** Creates a user (with `email`, or none) through the API as admin. */
async function createUser(options: { email?: string | null; tenant?: Transport } = {}) {
  const name = `reset-user-${++users}`;
  const password = `${name}-password`;
  const email = options.email === undefined ? `${name}@example.org` : options.email;
  const created = expectStatus<{ id: number; email: string | null }>(
    await (options.tenant ?? admin).request('POST', '/user', { login: name, password, email }),
    201,
  );
  expect(created.email).toBe(email);
  return { id: created.id, login: name, password, email };
}

/** An anonymous transport; over HTTP each request speaks from a new address. */
async function anonymous(kind: 'http' | 'socket'): Promise<Transport> {
  if (kind === 'socket') return socketTransport(await connectClient(server.url));
  const http = httpTransport(server.url);
  return {
    ...http,
    request: (method, url, data, headers) =>
      http.request(method, url, data, { 'x-forwarded-for': nextAddress(), ...headers }),
  };
}

/** The token of a reset mail: on a line of its own in the text part, and in the HTML part. */
function tokenOf(mail: ReceivedMail): string {
  const match = /^([A-Za-z0-9_-]{43})$/m.exec(mail.parsed.text ?? '');
  expect(match, mail.parsed.text).not.toBeNull();
  expect(String(mail.parsed.html)).toContain(match![1]);
  return match![1];
}

/** Waits for the `n`-th mail to `email` and returns it. */
async function nthMailTo(email: string, n: number): Promise<ReceivedMail> {
  const received = await smtp.waitFor((all) => mailsTo(all, email).length >= n);
  return mailsTo(received, email)[n - 1];
}

const accepted = { accepted: true };

describe('password reset, end to end', () => {
  for (const kind of ['http', 'socket'] as const) {
    it(`When a user with an e-mail asks over ${kind}, then the mail's token sets a new password once and every old session ends`, async () => {
      const user = await createUser();
      // two sessions: a token used over HTTP, and a socket bound by its login
      const oldToken = await login(server.url, user.login, user.password);
      const boundSocket = await client(server.url, 'socket', user.login, user.password);
      const anon = await anonymous(kind);

      expect(expectStatus(await anon.request('POST', '/auth/reset', { login: user.login }), 202)).toEqual(
        accepted,
      );
      const mail = await nthMailTo(user.email!, 1);
      expect(mail.to).toEqual([user.email]);
      expect(mail.parsed.subject).toBe('Reset your password for Default');
      expect(mail.parsed.text).toContain(`the login "${user.login}"`);
      expect(mail.parsed.html).toContain('<p>');
      const token = tokenOf(mail);
      // the database holds the token's SHA-256 only
      const stored = JSON.stringify(
        await Flux.sequelize.query('SELECT * FROM "PasswordResets" WHERE "userId" = :id', {
          replacements: { id: user.id },
          type: QueryTypes.SELECT,
        }),
      );
      expect(stored).toContain(createHash('sha256').update(token).digest('hex'));
      expect(stored).not.toContain(token);

      const newPassword = `${user.login}-new-password`;
      expect(
        expectStatus(
          await anon.request('POST', '/auth/reset/confirm', { token, password: newPassword }),
          200,
        ),
      ).toEqual({ reset: true });

      // the old token is revoked, the socket's session too (the socket is anonymous again)
      const viaOldToken = await httpTransport(server.url, oldToken).request('GET', '/auth/me');
      expect(expectStatus<{ _error: { code: string } }>(viaOldToken, 403)._error.code).toBe('TokenRevoked');
      expectStatus(await boundSocket.request('GET', '/auth/me'), 401);
      // the new password logs in, the old one no more
      await login(server.url, user.login, newPassword);
      const withOld = await httpTransport(server.url).request(
        'POST',
        '/auth/login',
        { login: user.login, password: user.password },
        { 'x-forwarded-for': nextAddress() },
      );
      expectStatus(withOld, 401);
      // the token was spent
      const again = await anon.request('POST', '/auth/reset/confirm', {
        token,
        password: 'yet-another-password',
      });
      expect(expectStatus<{ _error: { code: string } }>(again, 400)._error.code).toBe('InvalidResetToken');
      boundSocket.close();
      anon.close();
    });
  }

  it('When the login is unknown or the user has no e-mail, then the same 202 and no mail', async () => {
    const withMail = await createUser();
    const withoutMail = await createUser({ email: null });
    const anon = await anonymous('http');
    const before = smtp.received.length;
    const unknown = await anon.request('POST', '/auth/reset', { login: 'nobody-at-all' });
    const noMail = await anon.request('POST', '/auth/reset', { login: withoutMail.login });
    const known = await anon.request('POST', '/auth/reset', { login: withMail.login });
    for (const reply of [unknown, noMail]) {
      expect({ status: reply.status, body: reply.body }).toEqual({ status: known.status, body: known.body });
    }
    expect(known.status).toBe(202);
    // the known user's mail arrives; nothing else was sent meanwhile, nor after it
    await nthMailTo(withMail.email!, 1);
    await settle(300);
    expect(smtp.received.length).toBe(before + 1);
    // no token was stored for the others
    const stored = await Flux.sequelize.query<{ userId: number }>('SELECT "userId" FROM "PasswordResets"', {
      type: QueryTypes.SELECT,
    });
    expect(stored.map((row) => row.userId)).not.toContain(withoutMail.id);
  });

  it('When a user asks twice, then the second token replaces the first', async () => {
    const user = await createUser();
    const anon = await anonymous('http');
    expectStatus(await anon.request('POST', '/auth/reset', { login: user.login }), 202);
    const first = tokenOf(await nthMailTo(user.email!, 1));
    expectStatus(await anon.request('POST', '/auth/reset', { login: user.login }), 202);
    const second = tokenOf(await nthMailTo(user.email!, 2));
    expect(second).not.toBe(first);
    const refused = await anon.request('POST', '/auth/reset/confirm', {
      token: first,
      password: 'first-new-password',
    });
    expect(expectStatus<{ _error: { code: string } }>(refused, 400)._error.code).toBe('InvalidResetToken');
    expectStatus(
      await anon.request('POST', '/auth/reset/confirm', { token: second, password: 'second-new-pass' }),
      200,
    );
    await login(server.url, user.login, 'second-new-pass');
  });

  it('When a token has expired, then it is refused and the password stays', async () => {
    const user = await createUser();
    const anon = await anonymous('http');
    expectStatus(await anon.request('POST', '/auth/reset', { login: user.login }), 202);
    const token = tokenOf(await nthMailTo(user.email!, 1));
    // as if auth.resetTtlMs had passed
    await Flux.sequelize.query('UPDATE "PasswordResets" SET "expiresAt" = :past WHERE "userId" = :id', {
      replacements: { past: new Date(Date.now() - 1000), id: user.id },
    });
    const reply = await anon.request('POST', '/auth/reset/confirm', { token, password: 'too-late-password' });
    expect(expectStatus<{ _error: { code: string } }>(reply, 400)._error.code).toBe('InvalidResetToken');
    await login(server.url, user.login, user.password);
  });

  it('When two confirmations of one token run at once, then exactly one succeeds', async () => {
    const user = await createUser();
    const anon = await anonymous('http');
    expectStatus(await anon.request('POST', '/auth/reset', { login: user.login }), 202);
    const token = tokenOf(await nthMailTo(user.email!, 1));
    const replies = await Promise.all(
      ['racer-one-password', 'racer-two-password'].map((password) =>
        anon.request('POST', '/auth/reset/confirm', { token, password }),
      ),
    );
    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 400]);
    const winner = replies.findIndex((reply) => reply.status === 200);
    await login(server.url, user.login, ['racer-one-password', 'racer-two-password'][winner]);
  });

  it('When a reset is asked in another tenant, then only that tenant’s user gets a mail, and a token works only in its tenant', async () => {
    const slug = 'reset-other';
    await createTenant(admin, { name: 'Other event', slug, adminPassword: 'other-admin-password' });
    const otherAdmin = httpTransport(
      server.url,
      await login(server.url, 'admin', 'other-admin-password', slug),
    );
    const here = await createUser();
    // the same login in the other tenant, with another e-mail
    const there = expectStatus<{ id: number }>(
      await otherAdmin.request('POST', '/user', {
        login: here.login,
        password: 'there-password',
        email: `there-${here.email}`,
      }),
      201,
    );
    expect(there.id).not.toBe(here.id);
    const anon = await anonymous('http');
    expectStatus(await anon.request('POST', '/auth/reset', { login: here.login }, { 'x-tenant': slug }), 202);
    const mail = await nthMailTo(`there-${here.email}`, 1);
    expect(mail.parsed.subject).toBe('Reset your password for Other event');
    const token = tokenOf(mail);
    expect(mailsTo(smtp.received, here.email!)).toEqual([]);
    // the default tenant does not know this token
    const elsewhere = await anon.request('POST', '/auth/reset/confirm', {
      token,
      password: 'cross-tenant-pass',
    });
    expect(expectStatus<{ _error: { code: string } }>(elsewhere, 400)._error.code).toBe('InvalidResetToken');
    expectStatus(
      await anon.request(
        'POST',
        '/auth/reset/confirm',
        { token, password: 'own-tenant-pass' },
        { 'x-tenant': slug },
      ),
      200,
    );
    await login(server.url, here.login, 'own-tenant-pass', slug);
    await login(server.url, here.login, here.password);
  });
});

describe('bad input', () => {
  const huge = { login: 'x'.repeat(200_000) };

  for (const kind of ['http', 'socket'] as const) {
    it(`When a reset or a confirmation is malformed over ${kind}, then 4xx, no mail, and nothing changes`, async () => {
      const user = await createUser();
      const anon = await anonymous(kind);
      expectStatus(await anon.request('POST', '/auth/reset', { login: user.login }), 202);
      const token = tokenOf(await nthMailTo(user.email!, 1));
      const mails = smtp.received.length;
      const before = await databaseChecksum();
      const resets = async () =>
        JSON.stringify(await Flux.sequelize.query('SELECT * FROM "PasswordResets" ORDER BY "userId"'));
      const resetsBefore = await resets();
      const cases: Array<[string, unknown, number, string]> = [
        ['/auth/reset', {}, 400, 'ValidationError'],
        ['/auth/reset', { login: 42 }, 400, 'ValidationError'],
        ['/auth/reset', { login: { $gt: '' } }, 400, 'ValidationError'],
        ['/auth/reset', { login: '' }, 400, 'ValidationError'],
        ['/auth/reset', { login: 'y'.repeat(101) }, 400, 'ValidationError'],
        ['/auth/reset', huge, 413, 'PayloadTooLarge'],
        ['/auth/reset/confirm', {}, 400, 'ValidationError'],
        ['/auth/reset/confirm', { token }, 400, 'ValidationError'],
        [
          '/auth/reset/confirm',
          { token: 'garbage', password: 'long-enough-password' },
          400,
          'ValidationError',
        ],
        [
          '/auth/reset/confirm',
          { token: `${token}x`, password: 'long-enough-password' },
          400,
          'ValidationError',
        ],
        [
          '/auth/reset/confirm',
          { token: "' OR 1=1 --", password: 'long-enough-password' },
          400,
          'ValidationError',
        ],
        [
          '/auth/reset/confirm',
          { token: 'A'.repeat(43), password: 'long-enough-password' },
          400,
          'InvalidResetToken',
        ],
        // the password's rules: refused before the token is spent
        ['/auth/reset/confirm', { token, password: 'short' }, 400, 'ValidationError'],
        ['/auth/reset/confirm', { token, password: 'é'.repeat(40) }, 400, 'ValidationError'],
        ['/auth/reset/confirm', { token, password: 12345678 }, 400, 'ValidationError'],
        ['/auth/reset/confirm', { ...huge, token }, 413, 'PayloadTooLarge'],
      ];
      for (const [url, data, status, code] of cases) {
        const reply: Reply = await anon.request('POST', url, data);
        expect({ url, data: JSON.stringify(data).slice(0, 80), status: reply.status }).toEqual({
          url,
          data: JSON.stringify(data).slice(0, 80),
          status,
        });
        expect((reply.body as { _error: { code: string } })._error.code).toBe(code);
        expect(JSON.stringify(reply.body)).not.toContain(token);
      }
      expect(await databaseChecksum()).toBe(before);
      expect(await resets()).toBe(resetsBefore);
      await settle(200);
      expect(smtp.received.length).toBe(mails);
      // the token is still good after all that
      expectStatus(
        await anon.request('POST', '/auth/reset/confirm', { token, password: 'finally-my-password' }),
        200,
      );
      anon.close();
    });
  }

  it('When a body is not JSON, then 400', async () => {
    for (const url of ['/auth/reset', '/auth/reset/confirm']) {
      const response = await fetch(server.url + url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': nextAddress() },
        body: '{"login": "x",',
      });
      expect(response.status).toBe(400);
    }
  });
});

describe('login limits', () => {
  it(`When one login is asked for more than ${PER_ACCOUNT} times, then 429 with Retry-After, for resets and logins alike`, async () => {
    const user = await createUser();
    const anon = await anonymous('http');
    for (let i = 0; i < PER_ACCOUNT; i++)
      expectStatus(await anon.request('POST', '/auth/reset', { login: user.login }), 202);
    const refused = await anon.request('POST', '/auth/reset', { login: user.login });
    expect(expectStatus<{ _error: { code: string } }>(refused, 429)._error.code).toBe('TooManyRequests');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // an unknown login is limited the same way: nothing tells them apart
    for (let i = 0; i < PER_ACCOUNT; i++)
      expectStatus(await anon.request('POST', '/auth/reset', { login: 'limited-nobody' }), 202);
    expectStatus(await anon.request('POST', '/auth/reset', { login: 'limited-nobody' }), 429);
    // the requests count against the account's logins
    const loginReply = await anon.request('POST', '/auth/login', {
      login: user.login,
      password: user.password,
    });
    expectStatus(loginReply, 429);
  });

  it('When failed logins locked an account, then a reset by e-mail unlocks it for its owner', async () => {
    const user = await createUser();
    const http = httpTransport(server.url);
    const attempt = (password: string) =>
      http.request(
        'POST',
        '/auth/login',
        { login: user.login, password },
        { 'x-forwarded-for': nextAddress() },
      );
    // someone guesses, the owner asks for a reset: the account's logins are locked
    for (let i = 0; i < PER_ACCOUNT - 1; i++) expectStatus(await attempt('a-wrong-guess'), 401);
    expectStatus(await http.request('POST', '/auth/reset', { login: user.login }), 202);
    expectStatus(await attempt(user.password), 429);
    const token = tokenOf(await nthMailTo(user.email!, 1));
    const newPassword = `${user.login}-after-lock`;
    expectStatus(await http.request('POST', '/auth/reset/confirm', { token, password: newPassword }), 200);
    expectStatus(await attempt(newPassword), 200);
  });

  it(`When one address sends wrong tokens, then past ${PER_ADDRESS} it gets 429, for confirmations and requests alike`, async () => {
    const from = nextAddress();
    const http = httpTransport(server.url);
    const confirm = (token: string) =>
      http.request(
        'POST',
        '/auth/reset/confirm',
        { token, password: 'guessing-password' },
        { 'x-forwarded-for': from },
      );
    for (let i = 0; i < PER_ADDRESS; i++) {
      const reply = await confirm(String(i).padStart(43, 'G'));
      expect(expectStatus<{ _error: { code: string } }>(reply, 400)._error.code).toBe('InvalidResetToken');
    }
    const refused = await confirm('Z'.repeat(43));
    expectStatus(refused, 429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expectStatus(
      await http.request('POST', '/auth/reset', { login: 'anyone' }, { 'x-forwarded-for': from }),
      429,
    );
  });
});
