import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../api/models/Session.js';
import type { Team } from '../../api/models/Team.js';
import type { User } from '../../api/models/User.js';
import { type AuthContext, authService } from '../../api/services/AuthService.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxModelClass } from '../../lib/FluxModel.js';
import { addOwnQueryHook } from '../../lib/leanQuery.js';
import { LeanJoin } from '../../lib/leanRead.js';
import { connectClient, httpTransport, socketTransport, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, createTenant, expectStatus, login } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The identity of a session that misses the cache (api/services/AuthService.ts): on PostgreSQL one
 * statement joins the session, its user and the user's team, built into the instances Sequelize's two
 * reads give; elsewhere, or while `find` hooks are registered, Sequelize reads them. Both ways refuse the
 * same tokens with the same errors, in the same order. SQLite by default, PostgreSQL when DATABASE_URL
 * is set. The statements are counted by a query hook of Flux's own kind (lib/leanQuery.ts), so that the
 * join runs as it does in production, lean.
 */

let server: TestServer;
let admin: Transport;
let postgres: boolean;
/** Statements that read the sessions, users or teams tables since the last reset. */
let identityStatements = 0;
let otherTenantId: number;
let member: { teamId: number; userId: number; token: string; sessionId: number };

const payloadOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
    sessionId: number;
    userId: number;
  };

function countIdentityStatements(_options: unknown, query: { sql?: string }): void {
  const sql = query.sql ?? '';
  if (/^SELECT /.test(sql) && /(FROM|JOIN) [`"](Sessions|Users|Teams)[`"]/.test(sql)) identityStatements++;
}

/** Reads `sessionId` as `userId` afresh: lean where it can be, through Sequelize when `sequelize` is true. */
async function load(sessionId: number, userId: number, sequelize = false): Promise<AuthContext> {
  authService.forgetAll();
  // a find hook makes every read build instances through Sequelize (lib/leanRead.ts)
  if (sequelize) Flux.Session.addHook('beforeFind', 'leanIdentityTest', () => {});
  try {
    return await authService.authenticateSession(sessionId, userId);
  } finally {
    if (sequelize) Flux.Session.removeHook('beforeFind', 'leanIdentityTest');
  }
}

/** What an instance holds, as Sequelize's reads leave it (an included team compared on its own). */
interface InstanceState {
  values: Record<string, unknown>;
  team: InstanceState | null;
  previous: { values: Record<string, unknown>; team: InstanceState | null };
  plain: unknown;
  isNewRecord: boolean;
  changed: unknown;
  model: string;
}

function state(instance: Session | User | Team | null): InstanceState | null {
  if (!instance) return null;
  const internals = instance as unknown as { _previousDataValues: Record<string, unknown> };
  const withoutTeam = ({ team, ...values }: Record<string, unknown>) => ({
    values,
    team: state(team as Team),
  });
  return {
    ...withoutTeam(instance.dataValues as Record<string, unknown>),
    previous: withoutTeam(internals._previousDataValues),
    plain: instance.get({ plain: true }),
    isNewRecord: instance.isNewRecord,
    changed: instance.changed(),
    model: instance.constructor.name,
  };
}

function sameIdentity(lean: AuthContext, sequelize: AuthContext): void {
  expect(state(lean.session)).toEqual(state(sequelize.session));
  expect(state(lean.user)).toEqual(state(sequelize.user));
  expect(state(lean.team)).toEqual(state(sequelize.team));
  expect(lean.user.team ?? null).toBe(lean.team);
  expect((lean.user.dataValues as { team?: unknown }).team ?? null).toBe(lean.team);
  expect(lean.tenant.id).toBe(sequelize.tenant.id);
}

beforeAll(async () => {
  server = await startTestServer();
  postgres = Flux.sequelize.getDialect() === 'postgres';
  admin = httpTransport(server.url, await adminLogin(server.url));
  const ids = await createTeamWithUser(
    admin,
    { name: 'Lean bar', role: 'bar' },
    { login: 'lean', password: 'lean-password' },
  );
  const token = await login(server.url, 'lean', 'lean-password');
  member = { ...ids, token, sessionId: payloadOf(token).sessionId };
  otherTenantId = (
    await createTenant(admin, { name: 'Lean other', slug: 'lean-other', adminPassword: 'password-9' })
  ).id;
  // a hook of Flux's own kind: any other query hook would send every select through sequelize.query
  addOwnQueryHook(Flux.sequelize, 'afterQuery', countIdentityStatements);
});

afterAll(async () => {
  Flux.sequelize?.removeHook('afterQuery', countIdentityStatements as never);
  admin?.close();
  await server?.stop();
});

describe('the identity of a session', () => {
  it('When a session misses the cache, then its session, user and team take one statement on PostgreSQL (two through Sequelize)', async () => {
    identityStatements = 0;
    const context = await load(member.sessionId, member.userId);
    expect(context.user.id).toBe(member.userId);
    expect(context.team?.id).toBe(member.teamId);
    expect(identityStatements).toBe(postgres ? 1 : 2);
    identityStatements = 0;
    await load(member.sessionId, member.userId, true);
    expect(identityStatements).toBe(2);
  });

  it('When it is read in one statement, then the session, user and team are the instances Sequelize’s reads give, with a team, without one, and with a team of another tenant', async () => {
    const lean = await load(member.sessionId, member.userId);
    const sequelize = await load(member.sessionId, member.userId, true);
    expect(lean.team).not.toBeNull();
    sameIdentity(lean, sequelize);

    const loner = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', { login: 'lean-loner', password: 'loner-password', teamId: null }),
      201,
    );
    const lonerToken = await login(server.url, 'lean-loner', 'loner-password');
    const lonerSession = payloadOf(lonerToken).sessionId;
    const alone = await load(lonerSession, loner.id);
    expect(alone.team).toBeNull();
    sameIdentity(alone, await load(lonerSession, loner.id, true));

    // a team id naming another tenant's team (written past the API): no team, as the include's tenant condition
    const foreign = await Flux.models.Team.create({
      tenantId: otherTenantId,
      name: 'Foreign',
      role: 'bar',
    } as never);
    await Flux.User.update({ teamId: foreign.get('id') as number }, { where: { id: loner.id } });
    const outside = await load(lonerSession, loner.id);
    expect(outside.user.teamId).toBe(foreign.get('id'));
    expect(outside.team).toBeNull();
    sameIdentity(outside, await load(lonerSession, loner.id, true));
    await Flux.User.update({ teamId: null }, { where: { id: loner.id } });
    await foreign.destroy();
  });

  it('When a token names another user, a revoked session, a user moved to another tenant or a session that is gone, then both reads refuse it with the same error', async () => {
    const victim = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', {
        login: 'lean-victim',
        password: 'victim-password',
        teamId: null,
      }),
      201,
    );
    const token = await login(server.url, 'lean-victim', 'victim-password');
    const { sessionId } = payloadOf(token);
    const refusal = async (session: number, user: number, sequelize: boolean) => {
      const error = await load(session, user, sequelize).then(
        () => undefined,
        (err: unknown) => err,
      );
      return { name: (error as Error)?.constructor.name, code: (error as { code?: string })?.code };
    };
    const both = async (session: number, user: number) => {
      const lean = await refusal(session, user, false);
      expect(lean).toEqual(await refusal(session, user, true));
      return lean;
    };
    expect(await both(sessionId, member.userId)).toEqual({ name: 'TokenError', code: 'InvalidToken' });
    expect(await both(2 ** 31 - 1, victim.id)).toEqual({ name: 'TokenError', code: 'InvalidToken' });

    const home = (await load(sessionId, victim.id)).tenant.id;
    await Flux.User.update({ tenantId: otherTenantId }, { where: { id: victim.id } });
    expect(await both(sessionId, victim.id)).toEqual({ name: 'TokenError', code: 'InvalidToken' });
    await Flux.User.update({ tenantId: home }, { where: { id: victim.id } });
    expect((await load(sessionId, victim.id)).user.id).toBe(victim.id);

    // revoked in the database only (not in the revocation list): the session row decides
    await Flux.Session.update({ revokedAt: new Date() }, { where: { id: sessionId } });
    expect(await both(sessionId, victim.id)).toEqual({ name: 'TokenError', code: 'TokenRevoked' });
  });

  it('When a session read in one statement is saved, then only what changed is written', async () => {
    const token = await login(server.url, 'lean', 'lean-password');
    const { sessionId } = payloadOf(token);
    const context = await load(sessionId, member.userId);
    const before = (await Flux.Session.findByPk(sessionId))!;
    let saved: string[] | undefined;
    Flux.Session.addHook('beforeUpdate', 'leanIdentitySave', (_instance, options) => {
      saved = (options as { fields?: string[] }).fields;
    });
    const expiresAt = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
    try {
      context.session.expiresAt = expiresAt;
      await context.session.save();
    } finally {
      Flux.Session.removeHook('beforeUpdate', 'leanIdentitySave');
    }
    expect(saved?.filter((field) => field !== 'updatedAt')).toEqual(['expiresAt']);
    const after = (await Flux.Session.findByPk(sessionId))!;
    expect(after.expiresAt?.getTime()).toBe(expiresAt.getTime());
    const { expiresAt: _a, updatedAt: _b, ...unchanged } = before.get({ plain: true });
    expect(after.get({ plain: true })).toMatchObject(unchanged);
  });

  it('When a join declares an include deeper than one level or in a model it does not join, then it is refused', () => {
    const models = { session: Flux.Session, user: Flux.User, team: Flux.models.Team } as Record<
      'session' | 'user' | 'team',
      FluxModelClass
    >;
    expect(
      () =>
        new LeanJoin(Flux.sequelize, models, {
          user: { in: 'session', association: 'user' },
          team: { in: 'user', association: 'team' },
        }),
    ).toThrow(/not itself included/);
    expect(
      () => new LeanJoin(Flux.sequelize, models, { team: { in: 'nobody' as 'user', association: 'team' } }),
    ).toThrow(/not itself included/);
    expect(
      new LeanJoin(Flux.sequelize, models, { team: { in: 'user', association: 'team' } }).select,
    ).toMatch(/^SELECT /);
  });

  for (const transport of ['http', 'socket'] as const) {
    it(`When a session misses the cache over ${transport}, then /auth/me answers the user and team it answered from the cache`, async () => {
      const me: Transport =
        transport === 'http'
          ? httpTransport(server.url, member.token)
          : socketTransport(await connectClient(server.url), member.token);
      try {
        const cached = expectStatus(await me.request('GET', '/auth/me'), 200);
        authService.forgetAll();
        identityStatements = 0;
        const fresh = expectStatus(await me.request('GET', '/auth/me'), 200);
        expect(identityStatements).toBe(postgres ? 1 : 2);
        expect(fresh).toEqual(cached);
        expect(fresh).toMatchObject({
          user: { id: member.userId, login: 'lean' },
          team: { id: member.teamId },
        });
      } finally {
        me.close();
      }
    });
  }
});
