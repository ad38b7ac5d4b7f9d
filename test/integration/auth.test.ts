import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import {
  collect,
  connectClient,
  connectSocket,
  httpTransport,
  settle,
  socketRequest,
  socketTransport,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Authentication and sessions (docs/reference.md#authentication-and-sessions) with the 401/403 codes of
 * docs/reference.md#errors, over HTTP and the socket.
 */

let server: TestServer;
let admin: Transport;
let bar: { teamId: number; userId: number };

beforeAll(async () => {
  server = await startTestServer();
  admin = httpTransport(server.url, await adminLogin(server.url));
  bar = await createTeamWithUser(
    admin,
    { name: 'Bar', role: 'bar' },
    { login: 'bar', password: 'bar-password' },
  );
});

afterAll(async () => {
  await server?.stop();
});

type ErrorReply = { _error: { status: number; code: string; message: string } };

/**
 * The roles as configured (config/roles.ts, as loaded): role → its permissions, sorted as the API lists
 * them. Derived rather than copied, so that a new model or permission does not break these tests.
 */
function configuredRoles(): Record<string, string[]> {
  const roles = Flux.config.roles as Record<string, string[]>;
  return Object.fromEntries(
    Object.entries(roles).map(([role, permissions]) => [role, [...new Set(permissions)].sort()]),
  );
}

/** An anonymous transport of each kind; the socket one uses a fresh connection. */
async function anonymous(kind: 'http' | 'socket', token?: string): Promise<Transport> {
  return kind === 'http'
    ? httpTransport(server.url, token)
    : socketTransport(await connectClient(server.url), token);
}

describe.each(['http', 'socket'] as const)('auth over %s', (kind) => {
  it('When the login and password are right, then {jwt, user, team} without the password hash', async () => {
    const t = await anonymous(kind);
    const body = expectStatus<{ jwt: string; user: Record<string, unknown>; team: Record<string, unknown> }>(
      await t.request('POST', '/auth/login', { login: 'bar', password: 'bar-password' }),
      200,
    );
    expect(body.jwt.split('.')).toHaveLength(3);
    expect(jwt.decode(body.jwt)).toMatchObject({
      userId: bar.userId,
      tenantId: 1,
      sessionId: expect.any(Number),
    });
    expect(body.user).toMatchObject({ id: bar.userId, login: 'bar' });
    expect(body.user).not.toHaveProperty('password');
    expect(body.team).toMatchObject({ id: bar.teamId, role: 'bar' });
    t.close();
  });

  it('When the password is wrong or the login unknown, then the same 401', async () => {
    const t = await anonymous(kind);
    const wrong = expectStatus<ErrorReply>(
      await t.request('POST', '/auth/login', { login: 'bar', password: 'nope-nope' }),
      401,
    );
    const unknown = expectStatus<ErrorReply>(
      await t.request('POST', '/auth/login', { login: 'ghost', password: 'nope-nope' }),
      401,
    );
    expect(wrong).toEqual(unknown);
    expect(wrong._error.code).toBe('Unauthorized');
    t.close();
  });

  it('When login fields are missing or of the wrong type, then 400 ValidationError', async () => {
    const t = await anonymous(kind);
    const body = expectStatus<ErrorReply>(await t.request('POST', '/auth/login', { login: 5 }), 400);
    expect(body._error.code).toBe('ValidationError');
    t.close();
  });

  it('When a request has no credentials, then 401 Unauthorized', async () => {
    const t = await anonymous(kind);
    expect(expectStatus<ErrorReply>(await t.request('GET', '/auth/me'), 401)._error.code).toBe(
      'Unauthorized',
    );
    t.close();
  });

  it.each([
    ['a malformed authorization header', 'Basic abc', 'InvalidToken'],
    [
      'a token signed with another secret',
      `Bearer ${jwt.sign({ userId: 1, sessionId: 1, tenantId: 1 }, 'other-secret')}`,
      'InvalidToken',
    ],
    ['garbage', 'Bearer a.b.c', 'InvalidToken'],
  ])('When the token is %s, then 403', async (_what, header, code) => {
    const t = await anonymous(kind);
    const reply = await t.request('GET', '/auth/me', undefined, { authorization: header });
    expect(expectStatus<ErrorReply>(reply, 403)._error.code).toBe(code);
    t.close();
  });

  it('When the token has expired, then 403 TokenExpired', async () => {
    const expired = jwt.sign(
      { userId: 1, sessionId: 1, tenantId: 1, exp: Math.floor(Date.now() / 1000) - 10 },
      Flux.config.jwt.secret,
    );
    const t = await anonymous(kind, expired);
    expect(expectStatus<ErrorReply>(await t.request('GET', '/auth/me'), 403)._error.code).toBe(
      'TokenExpired',
    );
    t.close();
  });

  it('When a token that was accepted reaches its expiry, then 403 TokenExpired (a verified token is kept only until then)', async () => {
    const claims = jwt.decode(await login(server.url, 'bar', 'bar-password')) as jwt.JwtPayload;
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = jwt.sign(
      { userId: claims.userId, sessionId: claims.sessionId, tenantId: claims.tenantId, exp },
      Flux.config.jwt.secret,
    );
    const t = await anonymous(kind, token);
    expectStatus(await t.request('GET', '/auth/me'), 200);
    expectStatus(await t.request('GET', '/auth/me'), 200);
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 20));
    expect(expectStatus<ErrorReply>(await t.request('GET', '/auth/me'), 403)._error.code).toBe(
      'TokenExpired',
    );
    t.close();
  });

  it('When logged in, then /auth/me gives user, team, tenant and permissions', async () => {
    const t = await anonymous(kind, await login(server.url, 'bar', 'bar-password'));
    const me = expectStatus(await t.request('GET', '/auth/me'), 200);
    expect(me).toMatchObject({
      user: { id: bar.userId, login: 'bar' },
      team: { id: bar.teamId, name: 'Bar' },
      tenant: { slug: 'default' },
      permissions: configuredRoles().bar,
    });
    const roles = expectStatus<Record<string, string[]>>(await t.request('GET', '/auth/roles'), 200);
    expect(roles).toEqual(configuredRoles());
    t.close();
  });

  it('When a session logs out, then its token answers 403 TokenRevoked at once, on both transports', async () => {
    const token = await login(server.url, 'bar', 'bar-password');
    const t = await anonymous(kind, token);
    expect(expectStatus(await t.request('POST', '/auth/logout'), 200)).toEqual({ revoked: true });
    for (const other of [
      httpTransport(server.url, token),
      socketTransport(await connectClient(server.url), token),
    ]) {
      expect(expectStatus<ErrorReply>(await other.request('GET', '/auth/me'), 403)._error.code).toBe(
        'TokenRevoked',
      );
      other.close();
    }
    expect(
      expectStatus<ErrorReply>(await t.request('POST', '/auth/jwt', { jwt: token }), 403)._error.code,
    ).toBe('TokenRevoked');
    t.close();
  });

  it('When a valid token is refreshed, then a new working token for the same session', async () => {
    const token = await login(server.url, 'bar', 'bar-password');
    const t = await anonymous(kind);
    const fresh = expectStatus<{ jwt: string }>(
      await t.request('POST', '/auth/jwt', { jwt: token }),
      200,
    ).jwt;
    expect((jwt.decode(fresh) as { sessionId: number }).sessionId).toBe(
      (jwt.decode(token) as { sessionId: number }).sessionId,
    );
    expectStatus(await httpTransport(server.url, fresh).request('GET', '/auth/me'), 200);
    expectStatus(await t.request('POST', '/auth/jwt', { jwt: 'not-a-token' }), 403);
    t.close();
  });

  it('When X-Tenant names no tenant, then 404', async () => {
    const t = await anonymous(kind);
    const reply = await t.request(
      'POST',
      '/auth/login',
      { login: 'admin', password: ADMIN_PASSWORD },
      { 'x-tenant': 'nowhere' },
    );
    expect(expectStatus<ErrorReply>(reply, 404)._error.code).toBe('NotFound');
    t.close();
  });

  it('When an admin asks for a token as another user, then it works; a bar gets 403', async () => {
    const asAdmin = await anonymous(kind, await adminLogin(server.url));
    const { jwt: token } = expectStatus<{ jwt: string }>(
      await asAdmin.request('POST', `/auth/as/${bar.userId}`),
      200,
    );
    const me = expectStatus<{ user: { id: number } }>(
      await httpTransport(server.url, token).request('GET', '/auth/me'),
      200,
    );
    expect(me.user.id).toBe(bar.userId);
    // the session says who acted; the bar sees it among its own sessions, its logins have no actor
    const admin = expectStatus<{ user: { id: number } }>(await asAdmin.request('GET', '/auth/me'), 200).user;
    const barSessions = expectStatus<Array<{ id: number; actorId: number | null }>>(
      await httpTransport(server.url, token).request('GET', '/session', { limit: 1000 }),
      200,
    );
    const sessionOf = (jwt: string) =>
      JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).sessionId;
    const barToken = await login(server.url, 'bar', 'bar-password');
    expect(barSessions.find((s) => s.id === sessionOf(token))?.actorId).toBe(admin.id);
    expect((await Flux.Session.findByPk(sessionOf(barToken)))?.actorId).toBeNull();
    expectStatus(await asAdmin.request('POST', '/auth/as/999999'), 404);
    const asBar = await anonymous(kind, barToken);
    expectStatus(await asBar.request('POST', '/auth/as/1'), 403);
    asAdmin.close();
    asBar.close();
  });

  it('When the user who acted as another is deleted, then the sessions it opened end too, and still name it', async () => {
    const admin = await anonymous(kind, await adminLogin(server.url));
    const me = expectStatus<{ team: { id: number } }>(await admin.request('GET', '/auth/me'), 200);
    const actor = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', {
        login: `actor-${kind}`,
        password: 'actor-password',
        teamId: me.team.id,
      }),
      201,
    );
    const asActor = httpTransport(server.url, await login(server.url, `actor-${kind}`, 'actor-password'));
    const { jwt: token } = expectStatus<{ jwt: string }>(
      await asActor.request('POST', `/auth/as/${bar.userId}`),
      200,
    );
    expectStatus(await httpTransport(server.url, token).request('GET', '/auth/me'), 200);
    expectStatus(await admin.request('DELETE', `/user/${actor.id}`), 200);
    const refused = expectStatus<ErrorReply>(
      await httpTransport(server.url, token).request('GET', '/auth/me'),
      403,
    );
    expect(refused._error.code).toBe('TokenRevoked');
    const sessionId = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sessionId;
    expect((await Flux.Session.findByPk(sessionId))?.actorId).toBe(actor.id);
    admin.close();
  });
});

describe('cached identities', () => {
  it('When a team’s role or a user’s team changes, then the next request already acts with the new permissions', async () => {
    const team = await createTeamWithUser(
      admin,
      { name: 'Switching', role: 'bar' },
      { login: 'switcher', password: 'switcher-password' },
    );
    const me = httpTransport(server.url, await login(server.url, 'switcher', 'switcher-password'));
    const permissions = async () =>
      expectStatus<{ permissions: string[] }>(await me.request('GET', '/auth/me'), 200).permissions;
    expect(await permissions()).toContain('message/oneChannel');
    expectStatus(await admin.request('PATCH', `/team/${team.teamId}`, { role: 'orga' }), 200);
    expect(await permissions()).toContain('message/public');
    const other = await createTeamWithUser(
      admin,
      { name: 'Elsewhere', role: 'logistics' },
      { login: 'elsewhere', password: 'elsewhere-password' },
    );
    expectStatus(await admin.request('PATCH', `/user/${team.userId}`, { teamId: other.teamId }), 200);
    expect(expectStatus<{ team: { name: string } }>(await me.request('GET', '/auth/me'), 200).team.name).toBe(
      'Elsewhere',
    );
  });
});

describe('passwords and refreshes', () => {
  it('When users change their own password, then the current one is required and their other sessions end', async () => {
    await createTeamWithUser(
      admin,
      { name: 'Changers', role: 'bar' },
      { login: 'changer', password: 'changer-password' },
    );
    const other = await login(server.url, 'changer', 'changer-password');
    const current = await login(server.url, 'changer', 'changer-password');
    const me = httpTransport(server.url, current);
    const id = expectStatus<{ user: { id: number } }>(await me.request('GET', '/auth/me'), 200).user.id;
    const missing = expectStatus<ErrorReply & { _error: { validation: Array<{ path: string }> } }>(
      await me.request('PATCH', `/user/${id}`, { password: 'new-password-1' }),
      400,
    );
    expect(missing._error.validation[0].path).toBe('currentPassword');
    expectStatus(
      await me.request('PATCH', `/user/${id}`, { password: 'new-password-1', currentPassword: 'wrong-one' }),
      400,
    );
    // the same id written another way is still one's own account
    expectStatus(await me.request('PATCH', `/user/0${id}`, { password: 'new-password-1' }), 400);
    expectStatus(
      await me.request('PATCH', `/user/${id}`, {
        password: 'new-password-1',
        currentPassword: 'changer-password',
      }),
      200,
    );
    expectStatus(await me.request('GET', '/auth/me'), 200);
    expect(
      expectStatus<ErrorReply>(await httpTransport(server.url, other).request('GET', '/auth/me'), 403)._error
        .code,
    ).toBe('TokenRevoked');
    await login(server.url, 'changer', 'new-password-1');
  });

  it('When a token is refreshed, then its session lasts as long as the new token', async () => {
    const token = await login(server.url, 'bar', 'bar-password');
    const sessionId = (jwt.decode(token) as { sessionId: number }).sessionId;
    const before = (await Flux.Session.findByPk(sessionId))!.expiresAt!.getTime();
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = expectStatus<{ jwt: string }>(
      await httpTransport(server.url).request('POST', '/auth/jwt', { jwt: token }),
      200,
    ).jwt;
    const after = (await Flux.Session.findByPk(sessionId))!.expiresAt!.getTime();
    expect(after).toBeGreaterThan(before);
    expect(after).toBe((jwt.decode(fresh) as { exp: number }).exp * 1000);
  });
});

describe('/auth/ip', () => {
  it('When a user is registered for the peer address, then it logs in; forwarding headers are ignored', async () => {
    const kiosk = await createTeamWithUser(
      admin,
      { name: 'Kiosk', role: 'orga' },
      { login: 'kiosk', password: 'kiosk-password' },
    );
    const spoofed = await createTeamWithUser(
      admin,
      { name: 'Spoof', role: 'admin' },
      { login: 'spoofed', password: 'spoof-password' },
    );
    expectStatus(await admin.request('PATCH', `/user/${kiosk.userId}`, { ip: '127.0.0.1' }), 200);
    expectStatus(await admin.request('PATCH', `/user/${spoofed.userId}`, { ip: '10.9.9.9' }), 200);
    const forged = { 'x-forwarded-for': '10.9.9.9', forwarded: 'for=10.9.9.9', 'x-real-ip': '10.9.9.9' };
    for (const t of [httpTransport(server.url), socketTransport(await connectClient(server.url))]) {
      const body = expectStatus<{ user: { login: string } }>(
        await t.request('POST', '/auth/ip', {}, forged),
        200,
      );
      expect(body.user.login).toBe('kiosk');
      t.close();
    }
    expectStatus(await admin.request('PATCH', `/user/${kiosk.userId}`, { ip: null }), 200);
    expectStatus(await httpTransport(server.url).request('POST', '/auth/ip', {}, forged), 401);
  });
});

describe('socket sessions', () => {
  it('When a socket that authenticates by header subscribes and that session logs out, then it leaves its rooms', async () => {
    const token = await login(server.url, 'admin', ADMIN_PASSWORD);
    const socket = await connectSocket(server.url);
    const revoked = collect(socket, 'auth:revoked');
    const events = collect<ModelEventPayload>(socket, 'model:team');
    const headers = { authorization: `Bearer ${token}` };
    expect(
      (await socketRequest(socket, { method: 'POST', url: '/team/subscribe', headers })).statusCode,
    ).toBe(200);
    expectStatus(await httpTransport(server.url, token).request('POST', '/auth/logout'), 200);
    await waitFor(() => revoked.length === 1, 3000, 'auth:revoked');
    expectStatus(
      await admin.request('POST', '/team', { name: 'Unseen after header logout', role: 'orga' }),
      201,
    );
    await settle(300);
    expect(events).toEqual([]);
    socket.close();
  });

  it('When a socket logs in, then its later requests are authenticated without a header', async () => {
    const socket = await connectSocket(server.url);
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
    await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'bar', password: 'bar-password' },
    });
    const me = await socketRequest(socket, { method: 'GET', url: '/auth/me' });
    expect(me.statusCode).toBe(200);
    expect(me.data).toMatchObject({ user: { login: 'bar' } });
    socket.close();
  });

  it('When a socket connects with a valid handshake token, then it is bound; an invalid one is refused', async () => {
    const token = await login(server.url, 'bar', 'bar-password');
    const socket = await connectSocket(server.url, { token });
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(200);
    socket.close();
    const refused = await connectSocket(server.url, { token: 'a.b.c' }).then(
      () => undefined,
      (err: { data?: ErrorReply }) => err,
    );
    expect(refused?.data?._error.code).toBe('InvalidToken');
  });

  it('When the session of a subscribed socket logs out over HTTP, then the socket gets auth:revoked, leaves its rooms, and can log in again', async () => {
    const token = await login(server.url, 'admin', ADMIN_PASSWORD);
    const socket = await connectSocket(server.url, { token });
    const revoked = collect(socket, 'auth:revoked');
    const events = collect<ModelEventPayload>(socket, 'model:team');
    expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(200);
    expectStatus(await admin.request('POST', '/team', { name: 'Seen before logout', role: 'orga' }), 201);
    await waitFor(() => events.length === 1, 3000, 'event before logout');

    expectStatus(await httpTransport(server.url, token).request('POST', '/auth/logout'), 200);
    await waitFor(() => revoked.length === 1, 3000, 'auth:revoked');
    expect(socket.connected).toBe(true);
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
    expectStatus(await admin.request('POST', '/team', { name: 'Not seen after logout', role: 'orga' }), 201);
    await settle(300);
    expect(events).toHaveLength(1);

    await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'admin', password: ADMIN_PASSWORD },
    });
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(200);
    socket.close();
  });
});
