import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import {
  collect,
  connectClient,
  httpTransport,
  socketTransport,
  type Transport,
} from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A session's life is bounded from its login (`auth.sessionMaxAgeMs`, docs/security.md): tokens are
 * refreshed up to that moment, never past it, whatever the token lifetime.
 */

const MAX_AGE_MS = 2000;
let server: TestServer;
let barId: number;

beforeAll(async () => {
  server = await startTestServer({ jwt: { expiresIn: 60 }, auth: { sessionMaxAgeMs: MAX_AGE_MS } });
  const admin = httpTransport(server.url, await adminLogin(server.url));
  barId = (
    await createTeamWithUser(admin, { name: 'Bar', role: 'bar' }, { login: 'bar', password: 'bar-password' })
  ).userId;
});

afterAll(async () => {
  await server?.stop();
});

type ErrorReply = { _error: { code: string } };
const claims = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sessionId: number; exp: number };

/** Logs in over `kind`; a socket logs in over itself, so that it is bound to the session. */
async function loggedIn(kind: 'http' | 'socket'): Promise<{ t: Transport; jwt: string; expired: unknown[] }> {
  const socketClient = kind === 'socket' ? await connectClient(server.url) : undefined;
  const t = socketClient ? socketTransport(socketClient) : httpTransport(server.url);
  const expired = socketClient ? collect(socketClient.socket!, 'auth:expired') : [];
  const body = expectStatus<{ jwt: string }>(
    await t.request('POST', '/auth/login', { login: 'admin', password: ADMIN_PASSWORD }),
    200,
  );
  return { t, jwt: body.jwt, expired };
}

describe.each(['http', 'socket'] as const)('session lifetime over %s', (kind) => {
  it('When a session is refreshed, then no token outlives its maximum age, and after it the user must log in', async () => {
    const { t, jwt, expired } = await loggedIn(kind);
    const session = (await Flux.Session.findByPk(claims(jwt).sessionId))!;
    const end = session.createdAt.getTime() + MAX_AGE_MS;
    // the token lifetime is 60 s: the session's end comes first
    expect(claims(jwt).exp * 1000).toBeLessThanOrEqual(end);
    expect(claims(jwt).exp * 1000).toBeGreaterThan(end - 1000);

    await new Promise((r) => setTimeout(r, 500));
    const refreshed = expectStatus<{ jwt: string }>(await t.request('POST', '/auth/jwt', { jwt }), 200).jwt;
    expect(claims(refreshed).exp * 1000).toBeLessThanOrEqual(end);
    expect(
      expectStatus(await t.request('GET', '/auth/me', undefined, bearer(refreshed)), 200),
    ).toHaveProperty('user');

    await new Promise((r) => setTimeout(r, end - Date.now() + 100));
    const refusal = expectStatus<ErrorReply>(await t.request('POST', '/auth/jwt', { jwt: refreshed }), 403);
    expect(refusal._error.code).toBe('TokenExpired');
    const me = expectStatus<ErrorReply>(
      await t.request('GET', '/auth/me', undefined, bearer(refreshed)),
      403,
    );
    expect(me._error.code).toBe('TokenExpired');
    // a socket bound by its login is unbound at the session's end, as at a token's
    if (kind === 'socket') {
      expect(expired).toEqual([{ reason: 'expired' }]);
      expect((await t.request('GET', '/auth/me')).status).toBe(401);
    }
    t.close();
  });

  it('When a user acts as another, then that session ends with the actor’s own, not a full life later', async () => {
    const { t, jwt } = await loggedIn(kind);
    const actorSession = (await Flux.Session.findByPk(claims(jwt).sessionId))!;
    const actorEnd = actorSession.createdAt.getTime() + MAX_AGE_MS;
    await new Promise((r) => setTimeout(r, 800));
    const { jwt: acting } = expectStatus<{ jwt: string }>(
      await t.request('POST', `/auth/as/${barId}`, undefined, bearer(jwt)),
      200,
    );
    // a login now would end about 2 s from now; this session ends with the actor's, 0.8 s earlier
    expect(claims(acting).exp * 1000).toBeLessThanOrEqual(actorEnd);
    const refreshed = expectStatus<{ jwt: string }>(
      await t.request('POST', '/auth/jwt', { jwt: acting }),
      200,
    ).jwt;
    expect(claims(refreshed).exp * 1000).toBeLessThanOrEqual(actorEnd);
    t.close();
  });

  it('When the maximum age is lowered, then older sessions end at once, their unexpired tokens too', async () => {
    const maxAge = Flux.config.auth.sessionMaxAgeMs;
    try {
      Flux.config.auth.sessionMaxAgeMs = 60_000;
      const { t, jwt } = await loggedIn(kind);
      expectStatus(await t.request('GET', '/auth/me', undefined, bearer(jwt)), 200);
      Flux.config.auth.sessionMaxAgeMs = 300;
      await new Promise((r) => setTimeout(r, 400));
      const me = expectStatus<ErrorReply>(await t.request('GET', '/auth/me', undefined, bearer(jwt)), 403);
      expect(me._error.code).toBe('TokenExpired');
      const refusal = expectStatus<ErrorReply>(await t.request('POST', '/auth/jwt', { jwt }), 403);
      expect(refusal._error.code).toBe('TokenExpired');
      t.close();
    } finally {
      Flux.config.auth.sessionMaxAgeMs = maxAge;
    }
  });
});

function bearer(jwt: string): Record<string, string> {
  return { authorization: `Bearer ${jwt}` };
}
