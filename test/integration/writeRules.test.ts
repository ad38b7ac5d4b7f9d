import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reactions } from '../../api/reactions.js';
import { comparePassword } from '../../api/services/PasswordService.js';
import { ADMIN_TEAM, createTenant } from '../../api/services/TenantService.js';
import { Flux } from '../../lib/Flux.js';
import {
  collect,
  connectClient,
  connectSocket,
  httpTransport,
  socketRequest,
  socketTransport,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import {
  adminLogin,
  client,
  createTeamWithUser,
  createTenant as createTenantByApi,
  expectStatus,
  login,
} from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Rules every write path obeys (issue 11): the same rule through HTTP, the socket and a write made in
 * the process without a request (a service, a job, the CLI's path: cli.test.ts runs the commands).
 * - A new password ends the user's other sessions (the session changing its own password goes on).
 * - A tenant starts with a team `Admin` (role `admin`) and its admin, whoever creates it.
 */

type ErrorReply = { _error: { code: string } };

let server: TestServer;
let admin: Transport;
let users = 0;

beforeAll(async () => {
  server = await startTestServer();
  admin = httpTransport(server.url, await adminLogin(server.url));
});

afterAll(async () => {
  await server?.stop();
});

/** A new user of a bar team, with the password `<login>-password`. */
async function newUser(): Promise<{ id: number; login: string; password: string }> {
  const loginName = `writer-${++users}`;
  const password = `${loginName}-password`;
  const { userId } = await createTeamWithUser(
    admin,
    { name: `Writers ${users}`, role: 'bar' },
    { login: loginName, password },
  );
  return { id: userId, login: loginName, password };
}

/** The user's sessions elsewhere: a token used once (its identity cached) and a bound socket. */
async function otherSessions(user: { login: string; password: string }) {
  const token = await login(server.url, user.login, user.password);
  expectStatus(await httpTransport(server.url, token).request('GET', '/auth/me'), 200);
  const socket = await connectSocket(server.url);
  const revoked = collect(socket, 'auth:revoked');
  const bound = await socketRequest(socket, {
    method: 'POST',
    url: '/auth/login',
    data: { login: user.login, password: user.password },
  });
  expect(bound.statusCode).toBe(200);
  return { token, socket, revoked };
}

/** Fails unless the token answers 403 TokenRevoked and the socket was told `auth:revoked`. */
async function expectEnded(others: Awaited<ReturnType<typeof otherSessions>>): Promise<void> {
  const me = await httpTransport(server.url, others.token).request('GET', '/auth/me');
  expect(expectStatus<ErrorReply>(me, 403)._error.code).toBe('TokenRevoked');
  await waitFor(() => others.revoked.length === 1, 3000, 'auth:revoked on the other socket');
  expect((await socketRequest(others.socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
  others.socket.close();
}

describe.each(['http', 'socket'] as const)('a new password over %s', (kind) => {
  it('When users change their own password, then their other sessions end and the changing one goes on', async () => {
    const user = await newUser();
    const others = await otherSessions(user);
    const me = await client(server.url, kind, user.login, user.password);
    expectStatus(
      await me.request('PATCH', `/user/${user.id}`, {
        password: 'changed-password',
        currentPassword: user.password,
      }),
      200,
    );
    await expectEnded(others);
    expectStatus(await me.request('GET', '/auth/me'), 200);
    await login(server.url, user.login, 'changed-password');
    me.close();
  });

  it('When an admin sets a user’s password, then every session of the user ends', async () => {
    const user = await newUser();
    const others = await otherSessions(user);
    const operator =
      kind === 'http'
        ? admin
        : socketTransport(await connectClient(server.url), await adminLogin(server.url));
    expectStatus(await operator.request('PATCH', `/user/${user.id}`, { password: 'set-by-admin' }), 200);
    await expectEnded(others);
    await login(server.url, user.login, 'set-by-admin');
    if (operator !== admin) operator.close();
  });
});

describe('a new password written without a request (a service, a job)', () => {
  it('When the row is saved, then the password is stored hashed and every session of the user ends', async () => {
    const user = await newUser();
    const others = await otherSessions(user);
    const row = (await Flux.User.findByPk(user.id))!;
    row.password = 'written-by-a-job';
    await row.save();
    await expectEnded(others);
    const stored = (await Flux.User.findByPk(user.id))!.password;
    expect(stored).not.toBe('written-by-a-job');
    expect(await comparePassword('written-by-a-job', stored)).toBe(true);
  });

  it('When the row is saved in a transaction, then the sessions end once it commits, and not after a rollback', async () => {
    const user = await newUser();
    const others = await otherSessions(user);
    await expect(
      Flux.sequelize.transaction(async (transaction) => {
        const row = (await Flux.User.findByPk(user.id, { transaction }))!;
        row.password = 'rolled-back';
        await row.save({ transaction });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expectStatus(await httpTransport(server.url, others.token).request('GET', '/auth/me'), 200);
    expect(others.revoked).toHaveLength(0);
    await Flux.sequelize.transaction(async (transaction) => {
      const row = (await Flux.User.findByPk(user.id, { transaction }))!;
      row.password = 'committed-password';
      await row.save({ transaction });
    });
    await expectEnded(others);
  });
});

describe('a tenant starts with its Admin team and admin, whoever creates it', () => {
  /** The teams and users of a tenant, as compared between write paths. */
  async function startingRows(slug: string) {
    const tenant = (await Flux.Tenant.findOne({ where: { slug } }))!;
    const teams = await Flux.Team.findAll({ where: { tenantId: tenant.id }, raw: true });
    const members = await Flux.User.findAll({ where: { tenantId: tenant.id }, raw: true });
    return {
      teams: teams.map(({ name, role, group, location }) => ({ name, role, group, location })),
      users: members.map(({ login, name, teamId, ip }) => ({
        login,
        name,
        team: teams.find((team) => team.id === teamId)?.name,
        ip,
      })),
    };
  }

  it('When one tenant is created through the API and one by the service (as the CLI does), then both have the same rows', async () => {
    await createTenantByApi(admin, {
      name: 'By the API',
      slug: 'by-api',
      adminPassword: 'api-admin-password',
    });
    const started = await createTenant({
      name: 'By the service',
      slug: 'by-service',
      admin: { login: 'admin', password: 'service-admin-password' },
    });
    expect(started.team).toMatchObject(ADMIN_TEAM);
    const expected = {
      teams: [{ ...ADMIN_TEAM, group: null, location: null }],
      users: [{ login: 'admin', name: 'admin', team: ADMIN_TEAM.name, ip: null }],
    };
    expect(await startingRows('by-api')).toEqual(expected);
    expect(await startingRows('by-service')).toEqual(expected);
    // the service's admin logs into its tenant as the API's does
    const token = await login(server.url, 'admin', 'service-admin-password', 'by-service');
    const me = expectStatus<{ team: { name: string; role: string } }>(
      await httpTransport(server.url, token).request('GET', '/auth/me'),
      200,
    );
    expect(me.team).toMatchObject(ADMIN_TEAM);
  });

  it('When the service is given a bad slug or a short password, then nothing is created', async () => {
    await expect(
      createTenant({ name: 'Bad', slug: 'Bad Slug', admin: { login: 'a', password: 'long-enough' } }),
    ).rejects.toMatchObject({ status: 400, code: 'ValidationError' });
    await expect(
      createTenant({ name: 'Short', slug: 'short-pw', admin: { login: 'a', password: 'x' } }),
    ).rejects.toThrow(/password/);
    expect(await Flux.Tenant.count({ where: { slug: 'short-pw' } })).toBe(0);
  });

  it('When the server first started, then the default tenant got the same Admin team, its admin named Administrator', async () => {
    const rows = await startingRows('default');
    expect(rows.teams).toContainEqual({ ...ADMIN_TEAM, group: null, location: null });
    expect(rows.users).toContainEqual({
      login: 'admin',
      name: 'Administrator',
      team: ADMIN_TEAM.name,
      ip: null,
    });
  });
});

describe('the reactions to writes', () => {
  it('are keyed by the model classes Flux loaded', () => {
    const loaded = new Set<unknown>(Object.values(Flux.models));
    expect(reactions.length).toBeGreaterThan(0);
    for (const entry of reactions) expect(loaded.has(entry.model), entry.name).toBe(true);
  });
});
