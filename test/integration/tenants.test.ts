import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { adminLogin, createTenant, expectSameReply, expectStatus, login } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Tenants (docs/reference.md#tenants): the operator's routes, and nothing of one tenant readable, writable or
 * delivered in another.
 */

type Row = { id: number } & Record<string, unknown>;
type ErrorReply = { _error: { code: string; validation?: Array<{ path: string }> } };

let server: TestServer;
let operator: Transport;
let tenantB: Row;

beforeAll(async () => {
  server = await startTestServer();
  operator = httpTransport(server.url, await adminLogin(server.url));
  tenantB = await createTenant(operator, {
    name: 'Festival B',
    slug: 'festival-b',
    adminPassword: 'admin-b-password',
  });
});

afterAll(async () => {
  await server?.stop();
});

/** A logged-in client of one tenant, over one transport. */
async function tenantClient(
  kind: 'http' | 'socket',
  tenant: string,
  loginName: string,
  password: string,
): Promise<Transport> {
  const token = await login(server.url, loginName, password, tenant);
  return kind === 'http'
    ? httpTransport(server.url, token)
    : socketTransport(await connectClient(server.url), token);
}

describe('tenant routes', () => {
  it('When the operator creates a tenant, then its admin logs in with X-Tenant into its own Admin team', async () => {
    expect(tenantB).toMatchObject({ name: 'Festival B', slug: 'festival-b', settings: {} });
    const b = await tenantClient('http', 'festival-b', 'admin', 'admin-b-password');
    const me = expectStatus<{ permissions: string[] }>(await b.request('GET', '/auth/me'), 200);
    expect(me).toMatchObject({
      user: { login: 'admin' },
      team: { name: 'Admin', role: 'admin' },
      tenant: { slug: 'festival-b' },
    });
    // tenant/admin only counts for the operator's teams: not listed here
    expect(me.permissions).not.toContain('tenant/admin');
    expect(me.permissions).toContain('alert/admin');
  });

  it.each([
    [{ name: 'X', slug: 'Bad Slug', admin: { login: 'a', password: 'password-1' } }, 'slug'],
    [{ name: 'X', slug: 'festival-b', admin: { login: 'a', password: 'password-1' } }, 'slug'],
    [{ name: '', slug: 'ok', admin: { login: 'a', password: 'password-1' } }, 'name'],
    [{ name: 'X', slug: 'ok2' }, 'admin'],
    [{ name: 'X', slug: 'ok3', admin: { login: 'a', password: 'short' } }, 'password'],
  ])('When POST /tenant gets %j, then 400 naming %s and no tenant is created', async (data, path) => {
    const before = expectStatus<Row[]>(await operator.request('GET', '/tenant'), 200).length;
    const body = expectStatus<ErrorReply>(await operator.request('POST', '/tenant', data), 400);
    expect(JSON.stringify(body._error.validation ?? [])).toContain(path);
    expect(expectStatus<Row[]>(await operator.request('GET', '/tenant'), 200)).toHaveLength(before);
  });

  it('When the operator reads, configures and measures a tenant, then it gets its data; unknown ids are 404', async () => {
    expect(expectStatus<Row[]>(await operator.request('GET', '/tenant'), 200).map((t) => t.slug)).toEqual([
      'default',
      'festival-b',
    ]);
    expect(expectStatus(await operator.request('GET', `/tenant/${tenantB.id}`), 200)).toMatchObject({
      slug: 'festival-b',
    });
    const updated = expectStatus(
      await operator.request('PUT', `/tenant/${tenantB.id}/settings`, {
        settings: { theme: 'dark', days: 3 },
      }),
      200,
    );
    expect(updated.settings).toEqual({ theme: 'dark', days: 3 });
    expectStatus(await operator.request('PUT', `/tenant/${tenantB.id}/settings`, { settings: 'dark' }), 400);
    const usage = expectStatus(await operator.request('GET', `/tenant/${tenantB.id}/usage`), 200);
    expect(usage).toMatchObject({
      tenantId: tenantB.id,
      rows: { team: 1, user: 1, alert: 0, message: 0 },
      storageBytes: 0,
    });
    expectStatus(await operator.request('GET', '/tenant/999999'), 404);
    expectStatus(await operator.request('GET', '/tenant/999999/usage'), 404);
  });

  it('When a tenant’s own admin, or a non-admin of the default tenant, calls them, then 403', async () => {
    const b = await tenantClient('http', 'festival-b', 'admin', 'admin-b-password');
    expect(expectStatus<ErrorReply>(await b.request('GET', '/tenant'), 403)._error.code).toBe('Forbidden');
    expectStatus(
      await b.request('POST', '/tenant', {
        name: 'X',
        slug: 'x',
        admin: { login: 'a', password: 'password-1' },
      }),
      403,
    );
    expectStatus(await b.request('GET', `/tenant/${tenantB.id}/usage`), 403);
    expectStatus(await operator.request('POST', '/team', { name: 'Orga', role: 'orga' }), 201);
    expectStatus(
      await operator.request('POST', '/user', { login: 'orga', password: 'orga-password', name: 'Orga' }),
      201,
    );
    const orga = await tenantClient('http', 'default', 'orga', 'orga-password');
    expectStatus(await orga.request('GET', '/tenant'), 403);
    expectStatus(await httpTransport(server.url).request('GET', '/tenant'), 401);
  });
});

describe.each(['http', 'socket'] as const)('tenant isolation over %s', (kind) => {
  it('When tenant A’s admin reaches for tenant B’s rows, then they are invisible and untouchable', async () => {
    const b = await tenantClient('http', 'festival-b', 'admin', 'admin-b-password');
    const bTeam = expectStatus<Row>(
      await b.request('POST', '/team', { name: `Bar ${kind}`, role: 'bar', group: 'bars' }),
      201,
    );
    const bUser = expectStatus<Row>(
      await b.request('POST', '/user', { login: `b-${kind}`, password: 'password-b1', teamId: bTeam.id }),
      201,
    );
    const bAlert = expectStatus<Row>(
      await b.request('POST', '/alert', { title: 'B only', severity: 'serious', receiverTeamId: bTeam.id }),
      201,
    );

    const a = await tenantClient(kind, 'default', 'admin', 'admin-test-password');
    for (const [route, id] of [
      ['team', bTeam.id],
      ['user', bUser.id],
      ['alert', bAlert.id],
    ] as const) {
      // B asks the very list A asks next (one statement kept per list: the tenant is in it)
      const theirs = expectStatus<Row[]>(await b.request('GET', `/${route}`, { limit: 1000 }), 200);
      expect(theirs.map((r) => r.id)).toContain(id);
      expect(theirs.every((r) => r.tenantId !== 1)).toBe(true);
      expectStatus(await a.request('GET', `/${route}/${id}`), 404);
      expectStatus(
        await a.request('PATCH', `/${route}/${id}`, { name: 'taken over', title: 'taken over' }),
        404,
      );
      expectStatus(await a.request('DELETE', `/${route}/${id}`), 404);
      const list = expectStatus<Row[]>(await a.request('GET', `/${route}`, { limit: 1000 }), 200);
      expect(list.map((r) => r.id)).not.toContain(id);
      expect(list.every((r) => r.tenantId === 1)).toBe(true);
    }
    // references across tenants are refused
    const cross = expectStatus<ErrorReply>(
      await a.request('POST', '/user', { login: `cross-${kind}`, password: 'password-x1', teamId: bTeam.id }),
      400,
    );
    expect(cross._error.validation?.[0].path).toBe('teamId');
    expectStatus(
      await a.request('POST', '/alert', { title: 'x', severity: 'done', receiverTeamId: bTeam.id }),
      400,
    );
    // the token's tenant wins over an X-Tenant header
    const mine = expectStatus<Row[]>(
      await a.request('GET', '/team', undefined, { 'x-tenant': 'festival-b' }),
      200,
    );
    expect(mine.every((t) => t.tenantId === 1)).toBe(true);
    // B's rows are as B left them
    expect(expectStatus<Row>(await b.request('GET', `/alert/${bAlert.id}`), 200).title).toBe('B only');
    a.close();
  });

  it('When the same login and team name exist in both tenants, then each logs into its own', async () => {
    const b = await tenantClient('http', 'festival-b', 'admin', 'admin-b-password');
    expectStatus(await b.request('POST', '/team', { name: `Shared ${kind}`, role: 'orga' }), 201);
    expectStatus(await operator.request('POST', '/team', { name: `Shared ${kind}`, role: 'orga' }), 201);
    const inB = await tenantClient(kind, 'festival-b', 'admin', 'admin-b-password');
    expect(expectStatus(await inB.request('GET', '/auth/me'), 200)).toMatchObject({
      tenant: { slug: 'festival-b' },
    });
    expectStatus(
      await httpTransport(server.url).request('POST', '/auth/login', {
        login: 'admin',
        password: 'admin-b-password',
      }),
      401,
    );
    inB.close();
  });

  it('When tenant A writes, then tenant B’s subscribers receive nothing, and the reverse', async () => {
    const subscribe = async (tenant: string, password: string) => {
      const socket = await connectSocket(server.url);
      const events = collect<ModelEventPayload>(socket, 'model:team');
      await socketRequest(socket, {
        method: 'POST',
        url: '/auth/login',
        data: { login: 'admin', password },
        headers: { 'x-tenant': tenant },
      });
      expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(200);
      return { socket, events };
    };
    const inA = await subscribe('default', 'admin-test-password');
    const inB = await subscribe('festival-b', 'admin-b-password');
    const writerA = await tenantClient(kind, 'default', 'admin', 'admin-test-password');
    const writerB = await tenantClient(kind, 'festival-b', 'admin', 'admin-b-password');
    const teamA = expectStatus<Row>(
      await writerA.request('POST', '/team', { name: `Live A ${kind}`, role: 'orga' }),
      201,
    );
    const teamB = expectStatus<Row>(
      await writerB.request('POST', '/team', { name: `Live B ${kind}`, role: 'orga' }),
      201,
    );
    await waitFor(() => inA.events.length === 1 && inB.events.length === 1, 3000, 'one event each');
    await settle();
    expect(inA.events.map((e) => e.id)).toEqual([teamA.id]);
    expect(inB.events.map((e) => e.id)).toEqual([teamB.id]);
    for (const s of [inA, inB]) s.socket.close();
    writerA.close();
    writerB.close();
  });
});

describe('tenant routes, one scenario, two transports', () => {
  it('gives the same status and body over HTTP and over the socket', async () => {
    const token = await adminLogin(server.url);
    const tokenB = await login(server.url, 'admin', 'admin-b-password', 'festival-b');
    const requests: Array<[string, string, string, unknown?]> = [
      [token, 'GET', '/tenant'],
      [token, 'GET', `/tenant/${tenantB.id}`],
      [token, 'GET', '/tenant/999999'],
      [token, 'GET', '/tenant/abc'],
      [
        token,
        'POST',
        '/tenant',
        { name: 'X', slug: 'Bad Slug', admin: { login: 'a', password: 'password-1' } },
      ],
      [token, 'PUT', `/tenant/${tenantB.id}/settings`, { settings: 'not an object' }],
      [tokenB, 'GET', '/tenant'],
      [tokenB, 'GET', `/tenant/${tenantB.id}/usage`],
    ];
    const socketClient = await connectClient(server.url);
    for (const [bearer, method, url, data] of requests) {
      await expectSameReply(
        httpTransport(server.url, bearer),
        socketTransport(socketClient, bearer),
        method,
        url,
        data,
      );
    }
    socketClient.close();
  });
});
