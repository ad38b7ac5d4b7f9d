import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, httpTransport, socketRequest, waitFor } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * An impersonation (`POST /auth/as/:id`) lives no longer than the session it was opened from
 * (docs/permissions.md): revoking that session — a logout, a password change, an admin's revocation —
 * revokes it, on both transports.
 */

let server: TestServer;
let barId: number;

type ErrorReply = { _error: { code: string } };

beforeAll(async () => {
  server = await startTestServer();
  const admin = httpTransport(server.url, await adminLogin(server.url));
  barId = (
    await createTeamWithUser(admin, { name: 'Bar', role: 'bar' }, { login: 'bar', password: 'bar-password' })
  ).userId;
  // a second operator whose password can change without disturbing the other tests
  const team = expectStatus<{ team: { id: number } }>(await admin.request('GET', '/auth/me'), 200).team;
  expectStatus(
    await admin.request('POST', '/user', {
      login: 'operator',
      password: 'operator-password',
      teamId: team.id,
    }),
    201,
  );
});

afterAll(async () => {
  await server?.stop();
});

/** The actor's token and an impersonation of the bar opened from it, with a socket bound to the latter. */
async function impersonate(actor: string, password: string) {
  const actorToken = await login(server.url, actor, password);
  const as = await httpTransport(server.url, actorToken).request('POST', `/auth/as/${barId}`);
  const asToken = expectStatus<{ jwt: string }>(as, 200).jwt;
  const socket = await connectSocket(server.url, { token: asToken });
  const revoked = collect(socket, 'auth:revoked');
  expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(200);
  return { actorToken, asToken, socket, revoked };
}

/** Fails unless `token` is refused as revoked over HTTP and cannot be refreshed. */
async function expectRevoked(token: string): Promise<void> {
  const me = await httpTransport(server.url, token).request('GET', '/auth/me');
  expect(expectStatus<ErrorReply>(me, 403)._error.code).toBe('TokenRevoked');
  const refresh = await httpTransport(server.url).request('POST', '/auth/jwt', { jwt: token });
  expect(expectStatus<ErrorReply>(refresh, 403)._error.code).toBe('TokenRevoked');
}

describe('impersonation ends with its actor’s session', () => {
  it('When the actor logs out, then the impersonation token is revoked and its socket told auth:revoked', async () => {
    const { actorToken, asToken, socket, revoked } = await impersonate('admin', ADMIN_PASSWORD);
    expectStatus(await httpTransport(server.url, actorToken).request('POST', '/auth/logout'), 200);
    await expectRevoked(asToken);
    await waitFor(() => revoked.length === 1, 3000, 'auth:revoked on the impersonation socket');
    const me = await socketRequest(socket, { method: 'GET', url: '/auth/me' });
    expect(me.statusCode).toBe(401);
    socket.close();
  });

  it('When the actor changes its password, then every impersonation it opened is revoked, from this session too', async () => {
    const { actorToken, asToken, socket, revoked } = await impersonate('operator', 'operator-password');
    const actor = httpTransport(server.url, actorToken);
    const me = expectStatus<{ user: { id: number } }>(await actor.request('GET', '/auth/me'), 200);
    expectStatus(
      await actor.request('PATCH', `/user/${me.user.id}`, {
        password: 'operator-new-password',
        currentPassword: 'operator-password',
      }),
      200,
    );
    await expectRevoked(asToken);
    await waitFor(() => revoked.length === 1, 3000, 'auth:revoked on the impersonation socket');
    // the actor's own session, which changed the password, goes on
    expectStatus(await actor.request('GET', '/auth/me'), 200);
    socket.close();
  });

  it('When an admin revokes the actor’s session over the socket, then the sessions opened from it are revoked too', async () => {
    const { actorToken, asToken, socket } = await impersonate('admin', ADMIN_PASSWORD);
    const actorSessionId = (
      JSON.parse(Buffer.from(actorToken.split('.')[1], 'base64url').toString()) as { sessionId: number }
    ).sessionId;
    // a second impersonation, opened from the first one's actor session too
    expectStatus(await httpTransport(server.url, actorToken).request('POST', `/auth/as/${barId}`), 200);
    const operator = await connectSocket(server.url, { token: await adminLogin(server.url) });
    const reply = await socketRequest(operator, { method: 'DELETE', url: `/session/${actorSessionId}` });
    expect(reply.statusCode).toBe(200);
    await expectRevoked(actorToken);
    await expectRevoked(asToken);
    const sessions = expectStatus<Array<{ actorSessionId: number | null; revokedAt: string | null }>>(
      await httpTransport(server.url, await adminLogin(server.url)).request('GET', '/session', {
        filters: { actorSessionId: actorSessionId },
      }),
      200,
    );
    expect(sessions).toHaveLength(2);
    for (const session of sessions) expect(session.revokedAt).not.toBeNull();
    socket.close();
    operator.close();
  });
});
