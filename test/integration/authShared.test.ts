import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authService } from '../../api/services/AuthService.js';
import { Flux } from '../../lib/Flux.js';
import { addOwnQueryHook } from '../../lib/leanQuery.js';
import { httpTransport, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Identity reads shared by the requests that miss the cache at once (docs/performance.md "Sockets"): a
 * session's sockets reconnecting together after a restart read the session, its user and the tenant once.
 */

let server: TestServer;
let admin: Transport;
let token: string;
let sessionId: number;
let userId: number;
/** SELECTs reading each table since the last reset. */
let reads: Record<string, number> = {};
/** Called when a query of the Session model is sent. */
let onSessionQuery: (() => void) | undefined;

beforeAll(async () => {
  server = await startTestServer();
  admin = httpTransport(server.url, await adminLogin(server.url));
  await createTeamWithUser(
    admin,
    { name: 'Shared bar', role: 'bar' },
    { login: 'shared', password: 'shared-password' },
  );
  token = await login(server.url, 'shared', 'shared-password');
  ({ sessionId, userId } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()));
  // hooks of Flux's own kind: any other query hook would send every select through sequelize.query
  addOwnQueryHook(Flux.sequelize, 'beforeQuery', (options) => {
    if (options.model?.name === 'Session') onSessionQuery?.();
  });
  addOwnQueryHook(Flux.sequelize, 'afterQuery', (_options, query) => {
    const sql = query.sql ?? '';
    if (!sql.startsWith('SELECT ')) return;
    // each table the statement reads (one statement may join the session, its user and team)
    const tables = new Set([...sql.matchAll(/ (?:FROM|JOIN) [`"](\w+)[`"]/g)].map((match) => match[1]));
    for (const table of tables) reads[table] = (reads[table] ?? 0) + 1;
  });
});

afterAll(async () => {
  admin?.close();
  await server?.stop();
});

describe('identity reads under a crowd', () => {
  it('When 20 requests of one session miss the cache at once, then the session, its user and the tenant are read once', async () => {
    authService.forgetAll();
    reads = {};
    const contexts = await Promise.all(
      Array.from({ length: 20 }, () => authService.authenticateToken(token)),
    );
    expect(new Set(contexts.map((context) => context.session.id))).toEqual(new Set([sessionId]));
    expect(contexts.every((context) => context.user.id === userId)).toBe(true);
    expect(reads.Sessions).toBe(1);
    expect(reads.Users).toBe(1);
    expect(reads.Tenants ?? 0).toBeLessThanOrEqual(1);
  });

  it('When 20 anonymous requests resolve the default tenant at once, then it is read once', async () => {
    authService.forgetAll();
    reads = {};
    const tenants = await Promise.all(
      Array.from({ length: 20 }, () => authService.resolveTenant(undefined, '127.0.0.1')),
    );
    expect(new Set(tenants.map((tenant) => tenant.slug))).toEqual(new Set(['default']));
    expect(reads.Tenants).toBe(1);
  });

  it('When a change is announced while a load is under way, then a request after it reads again', async () => {
    authService.forgetAll();
    reads = {};
    const underWay = new Promise<void>((resolve) => {
      onSessionQuery = resolve;
    });
    const before = authService.authenticateSession(sessionId, userId);
    await underWay;
    onSessionQuery = undefined;
    authService.forgetContexts({ sessionIds: [sessionId] });
    const after = authService.authenticateSession(sessionId, userId);
    await Promise.all([before, after]);
    expect(reads.Sessions).toBe(2);
  });

  it('When the session is revoked, then requests that shared a load before are refused afterwards', async () => {
    const other = await login(server.url, 'shared', 'shared-password');
    authService.forgetAll();
    await Promise.all(Array.from({ length: 5 }, () => authService.authenticateToken(other)));
    const me = httpTransport(server.url, other);
    expectStatus(await me.request('POST', '/auth/logout'), 200);
    const refused = await Promise.allSettled(
      Array.from({ length: 5 }, () => authService.authenticateToken(other)),
    );
    expect(refused.map((result) => result.status)).toEqual(Array(5).fill('rejected'));
    me.close();
  });
});
