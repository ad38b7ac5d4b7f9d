import type { Transaction } from 'sequelize';
import { NotFoundError, TokenError, UnauthorizedError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import { type FluxModelClass, perModelAndConnection } from '../../lib/FluxModel.js';
import { JwtCodec } from '../../lib/jwt.js';
import { type LeanJoin, leanJoin } from '../../lib/leanRead.js';
import { afterCommit } from '../../lib/modelHooks.js';
import type { Session } from '../models/Session.js';
import type { Team } from '../models/Team.js';
import type { Tenant } from '../models/Tenant.js';
import type { User } from '../models/User.js';
import { comparePassword, hashPassword } from './PasswordService.js';
import { sessionActivity } from './SessionActivityService.js';

/** What a Flux JWT carries (docs/reference.md#authentication-and-sessions). */
export interface TokenPayload {
  userId: number;
  sessionId: number;
  tenantId: number;
}

/** Who an authenticated request or socket is. `team` is null for a user without a team. */
export interface AuthContext {
  user: User;
  team: Team | null;
  session: Session;
  tenant: Tenant;
}

export interface IssuedToken {
  jwt: string;
  /** Expiry in ms since epoch. */
  expiresAt: number;
}

/** Where a session is opened from, recorded with it. */
export interface SessionMeta {
  ip?: string;
  userAgent?: string;
  /** The socket.io socket id when the session is opened over a socket and bound to it. */
  socketId?: string;
  /** The user opening the session as someone else (`POST /auth/as/:id`). */
  actorId?: number;
  /** The session of that user: revoking it revokes the new one. */
  actorSessionId?: number;
  /** A fixed end of life, ms since epoch (an impersonation ends with the actor's own session). */
  notAfter?: number;
}

/** Rows behind cached auth contexts that changed (the payload of {@link AUTH_CHANGED}). */
export interface IdentityChange {
  sessionIds?: number[];
  userIds?: number[];
  teamIds?: number[];
  tenantIds?: number[];
}

export const DEFAULT_TENANT = 'default';
/** Bus topic: rows behind cached auth contexts changed ({@link IdentityChange}). */
export const AUTH_CHANGED = 'auth:changed';
/** Safety net of the auth context cache: changes are also announced on the bus. */
const CONTEXT_CACHE_MS = 30_000;
const MAX_CACHED_CONTEXTS = 50_000;
/** Bus topic: `{sessionId}` was revoked; every instance unbinds its sockets. */
export const SESSION_REVOKED = 'session:revoked';
const slugPattern = /^[a-z0-9-]{1,63}$/;
const TENANT_CACHE_MS = 5_000;

type IdentityJoin = LeanJoin<'session' | 'user' | 'team'>;
/** The lean read of an identity, per Session model and connection: `undefined` where Sequelize must read. */
const identityJoinOf = perModelAndConnection((session): IdentityJoin | undefined =>
  leanJoin(
    { session, user: Flux.User, team: Flux.User.associations.team.target as FluxModelClass },
    { team: { in: 'user', association: 'team' } },
  ),
);

/**
 * Logins, tokens, sessions and tenants resolution (docs/reference.md#authentication-and-sessions, #tenants),
 * shared by the auth middleware, the auth controller, the socket handshake and the CLI.
 */
export class AuthService {
  private codec?: { secret: string; expiresIn: string | number; codec: JwtCodec<TokenPayload> };
  private dummy?: { rounds: number; hash: Promise<string> };
  private readonly tenants = new Map<string, { tenant: Tenant | null; at: number }>();
  /** Who a session is (session, user, team, tenant), by session id: two queries saved per request. */
  private readonly contexts = new Map<number, { context: AuthContext; at: number }>();
  /** Bumped by every forget: a context loaded across a change is not cached. */
  private generation = 0;
  /**
   * Loads under way, by `<sessionId>:<userId>`, with the generation they started in: the requests of one
   * session that miss the cache at once (its sockets reconnecting after a restart) share one read instead of
   * each reading the session, its user and team (docs/performance.md "Sockets").
   */
  private readonly loading = new Map<string, { generation: number; context: Promise<AuthContext> }>();
  /** Tenant reads under way, by cache key: a crowd of handshakes that miss the cache shares one. */
  private readonly loadingTenants = new Map<string, Promise<Tenant | null>>();

  private jwt(): JwtCodec<TokenPayload> {
    const { secret, expiresIn } = Flux.config.jwt;
    if (!this.codec || this.codec.secret !== secret || this.codec.expiresIn !== expiresIn) {
      this.codec = { secret, expiresIn, codec: new JwtCodec<TokenPayload>(secret, expiresIn) };
    }
    return this.codec.codec;
  }

  /**
   * Signs a fresh token for `session` and extends the session's expiry to it (at most to the session's
   * end of life, `auth.sessionMaxAgeMs` after its login).
   * @throws TokenError 403 `TokenExpired` when the session has reached that age.
   */
  async refresh(session: Session): Promise<IssuedToken> {
    this.assertYoungEnough(session);
    const issued = this.issue(session);
    session.expiresAt = new Date(issued.expiresAt);
    await session.save();
    return issued;
  }

  /** Revokes every unrevoked session of `userId` but `keepSessionId` (after a password change). */
  async revokeOtherSessions(userId: number, keepSessionId?: number): Promise<void> {
    const sessions = await Flux.Session.findAll({ where: { userId, revokedAt: null } });
    for (const session of sessions) if (session.id !== keepSessionId) await this.revoke(session);
  }

  /** Revokes every session `actorId` opened as someone else (`/auth/as`), e.g. when the actor is deleted. */
  async revokeSessionsActedBy(actorId: number): Promise<void> {
    const sessions = await Flux.Session.findAll({ where: { actorId, revokedAt: null } });
    for (const session of sessions) await this.revoke(session);
  }

  /** Signs a token for `session`. */
  issue(session: Session): IssuedToken {
    const { token, expiresAt } = this.jwt().sign(
      { userId: session.userId, sessionId: session.id, tenantId: session.tenantId },
      this.endOfLife(session),
    );
    return { jwt: token, expiresAt };
  }

  /**
   * When `session` ends, ms since epoch: `auth.sessionMaxAgeMs` after its login, or its own `notAfter`
   * if that comes first; undefined when neither bounds it.
   */
  endOfLife(session: Session): number | undefined {
    const maxAge = Flux.config.auth.sessionMaxAgeMs;
    const end = Math.min(
      maxAge ? session.createdAt.getTime() + maxAge : Number.POSITIVE_INFINITY,
      session.notAfter?.getTime() ?? Number.POSITIVE_INFINITY,
    );
    return Number.isFinite(end) ? end : undefined;
  }

  /** @throws TokenError 403 `TokenExpired` once `session` reached its end of life (`endOfLife`). */
  private assertYoungEnough(session: Session): void {
    const end = this.endOfLife(session);
    if (end !== undefined && Date.now() >= end)
      throw new TokenError('TokenExpired', 'Session too old: log in again');
  }

  /**
   * Checks a login and password in `tenant` and opens a session.
   * @throws UnauthorizedError (401) for an unknown login or a wrong password (same message for both).
   */
  async login(
    tenant: Tenant,
    login: string,
    password: string,
    meta: SessionMeta,
  ): Promise<AuthContext & IssuedToken> {
    const user = await Flux.User.findOne({
      where: { tenantId: tenant.id, login },
      include: [{ association: 'team' }],
    });
    // Compare against a dummy hash for unknown logins, so that timing does not reveal which logins exist.
    // the same cost as real hashes, or the time of a refusal would tell unknown logins from known ones
    const rounds = Flux.config.auth.bcryptRounds;
    if (this.dummy?.rounds !== rounds) {
      const dummy = { rounds, hash: hashPassword('flux-dummy-password', rounds) };
      this.dummy = dummy;
      // refused (503 `Busy` while the queue is full): the next unknown login makes it again, rather than
      // every unknown login getting 503 from then on (and so telling unknown logins from known ones)
      dummy.hash.catch(() => {
        if (this.dummy === dummy) this.dummy = undefined;
      });
    }
    const client = `address:${meta.ip ?? 'unknown'}`;
    const valid = user
      ? await comparePassword(password, user.password, client)
      : (await comparePassword(password, await this.dummy.hash, client)) && false;
    if (!user || !valid) throw new UnauthorizedError('Wrong login or password');
    return this.openSession(tenant, user, meta);
  }

  /** Opens a session for `user` (login, `/auth/ip`, `/auth/as`) and signs its token. */
  async openSession(tenant: Tenant, user: User, meta: SessionMeta): Promise<AuthContext & IssuedToken> {
    const session = await Flux.Session.create({
      tenantId: tenant.id,
      userId: user.id,
      ip: meta.ip ?? null,
      userAgent: meta.userAgent?.slice(0, 512) ?? null,
      socketId: meta.socketId ?? null,
      actorId: meta.actorId ?? null,
      actorSessionId: meta.actorSessionId ?? null,
      notAfter: meta.notAfter === undefined ? null : new Date(meta.notAfter),
      lastAction: new Date(),
      disconnectedAt: null,
      revokedAt: null,
      expiresAt: null,
    });
    const issued = this.issue(session);
    session.expiresAt = new Date(issued.expiresAt);
    await session.save();
    return { user, team: user.team ?? null, session, tenant, ...issued };
  }

  /**
   * Verifies a bearer token and loads who it stands for.
   * @throws TokenError 403 `InvalidToken`, `TokenExpired` or `TokenRevoked`.
   */
  async authenticateToken(token: string): Promise<AuthContext & { payload: TokenPayload & { exp: number } }> {
    const payload = this.jwt().verify(token);
    if (!Number.isSafeInteger(payload.sessionId) || !Number.isSafeInteger(payload.userId)) {
      throw new TokenError('InvalidToken', 'Invalid token');
    }
    const context = await this.authenticateSession(payload.sessionId, payload.userId);
    return { ...context, payload };
  }

  /**
   * Loads an unrevoked session with its user, team and tenant.
   * @throws TokenError 403 `TokenRevoked` when the session was revoked, `InvalidToken` when it is gone,
   *   `TokenExpired` when it is older than `auth.sessionMaxAgeMs`.
   */
  async authenticateSession(sessionId: number, userId: number): Promise<AuthContext> {
    // Redis unreachable: a revocation made on another instance may be unknown here, and the bus that
    // drops cached identities is down too; the database (`revokedAt`) decides, the cache is skipped
    let revocationsKnown = true;
    try {
      if (await Flux.revocations.isRevoked(sessionId)) throw new TokenError('TokenRevoked', 'Token revoked');
    } catch (err) {
      if (err instanceof TokenError) throw err;
      revocationsKnown = false;
    }
    const cached = revocationsKnown ? this.contexts.get(sessionId) : undefined;
    if (cached && cached.context.user.id === userId && Date.now() - cached.at < CONTEXT_CACHE_MS) {
      // tokens end with their session's life; a lowered `sessionMaxAgeMs` ends older ones too
      this.assertYoungEnough(cached.context.session);
      return cached.context;
    }
    const generation = this.generation;
    const context = await this.sharedLoad(sessionId, userId);
    this.assertYoungEnough(context.session);
    // a change announced while the rows were being read makes them stale: use them once, keep them not
    if (generation === this.generation) this.contexts.set(sessionId, { context, at: Date.now() });
    if (this.contexts.size > MAX_CACHED_CONTEXTS)
      this.contexts.delete(this.contexts.keys().next().value as number);
    return context;
  }

  /**
   * Forgets cached contexts after a change of the rows they were built from (on every instance, through
   * the bus topic {@link AUTH_CHANGED}): a moved user, a team's new role, a revoked session.
   */
  forgetContexts(changed: IdentityChange): void {
    this.generation++;
    if (!changed.userIds?.length && !changed.teamIds?.length && !changed.tenantIds?.length) {
      for (const id of changed.sessionIds ?? []) this.contexts.delete(id);
      return;
    }
    const sessions = new Set(changed.sessionIds ?? []);
    const users = new Set(changed.userIds ?? []);
    const teams = new Set(changed.teamIds ?? []);
    const tenants = new Set(changed.tenantIds ?? []);
    if (tenants.size) this.forgetTenants();
    for (const [id, { context }] of this.contexts) {
      if (
        sessions.has(id) ||
        users.has(context.user.id) ||
        (context.team && teams.has(context.team.id)) ||
        tenants.has(context.tenant.id)
      ) {
        this.contexts.delete(id);
      }
    }
  }

  /**
   * A write changed rows behind cached contexts (a revoked session, a moved user, a team's new role, a
   * tenant), from any write path: the contexts built from them are forgotten here at once, and on every
   * other instance through the bus ({@link AUTH_CHANGED}) once the write commits. Announced before the
   * write is acknowledged: once the client has the reply, the announcement is on its way to every
   * instance, which may use the old identity (e.g. a team's old role) for no longer than the bus takes.
   */
  identityChanged(
    changed: IdentityChange,
    write: { transaction?: Transaction | null },
  ): void | Promise<void> {
    this.forgetContexts(changed);
    return afterCommit(write, () =>
      Flux.waitUntil(
        Promise.resolve(Flux.bus.publish(AUTH_CHANGED, changed)).catch((err: unknown) =>
          Flux.log.error('could not announce a change:', err),
        ),
      ),
    );
  }

  /**
   * {@link loadContext}, shared with the loads of the same session and user under way since the last
   * forget: one started before a change is not given to a request that arrived after it.
   */
  private sharedLoad(sessionId: number, userId: number): Promise<AuthContext> {
    const key = `${sessionId}:${userId}`;
    const pending = this.loading.get(key);
    if (pending && pending.generation === this.generation) return pending.context;
    const entry = { generation: this.generation, context: this.loadContext(sessionId, userId) };
    this.loading.set(key, entry);
    const done = () => {
      if (this.loading.get(key) === entry) this.loading.delete(key);
    };
    entry.context.then(done, done);
    return entry.context;
  }

  private async loadContext(sessionId: number, userId: number): Promise<AuthContext> {
    const join = identityJoinOf(Flux.Session);
    if (join?.usable()) return this.loadContextLean(join, sessionId, userId);
    const session = await Flux.Session.findByPk(sessionId);
    if (!session || session.userId !== userId) throw new TokenError('InvalidToken', 'Invalid token');
    if (session.revokedAt) throw new TokenError('TokenRevoked', 'Token revoked');
    const [user, tenant] = await Promise.all([
      Flux.User.findOne({
        where: { id: userId, tenantId: session.tenantId },
        include: [{ association: 'team', where: { tenantId: session.tenantId }, required: false }],
      }),
      this.tenantById(session.tenantId),
    ]);
    if (!user || !tenant) throw new TokenError('InvalidToken', 'Invalid token');
    return { user, team: user.team ?? null, session, tenant };
  }

  /**
   * {@link loadContext} in one statement (docs/performance.md, "lean identity"): the session, its user of
   * the session's tenant and the user's team of that tenant, joined, built into the instances the two
   * reads of Sequelize give (the team as an include of the user), then the tenant (cached). The same checks
   * in the same order.
   */
  private async loadContextLean(join: IdentityJoin, sessionId: number, userId: number): Promise<AuthContext> {
    if (!Number.isSafeInteger(sessionId)) throw new TokenError('InvalidToken', 'Invalid token');
    const c = (as: 'session' | 'user' | 'team', attribute: string) => join.column(as, attribute);
    const [row] = await join.rows(
      `${join.select} FROM ${join.table('session')}` +
        ` LEFT OUTER JOIN ${join.table('user')} ON ${c('user', 'id')} = ${c('session', 'userId')}` +
        ` AND ${c('user', 'tenantId')} = ${c('session', 'tenantId')}` +
        ` LEFT OUTER JOIN ${join.table('team')} ON ${c('team', 'id')} = ${c('user', 'teamId')}` +
        ` AND ${c('team', 'tenantId')} = ${c('session', 'tenantId')}` +
        ` WHERE ${c('session', 'id')} = ${sessionId};`,
    );
    const session = row?.session as Session | null | undefined;
    if (!session || session.userId !== userId) throw new TokenError('InvalidToken', 'Invalid token');
    if (session.revokedAt) throw new TokenError('TokenRevoked', 'Token revoked');
    const user = row.user as User | null;
    const tenant = user ? await this.tenantById(session.tenantId) : null;
    if (!user || !tenant) throw new TokenError('InvalidToken', 'Invalid token');
    return { user, team: row.team as Team | null, session, tenant };
  }

  /**
   * Revokes a session on every instance: its tokens answer 403 `TokenRevoked` from now on (revocation
   * list, shared through Redis, then `revokedAt` in the database), and its sockets everywhere are unbound
   * (they leave every subscription room and receive `auth:revoked`) and its event streams ended (their
   * last event `auth:revoked`), through the bus topic
   * {@link SESSION_REVOKED}. The sessions opened from it (`POST /auth/as/:id`) are revoked with it, and
   * theirs in turn.
   */
  async revoke(session: Session): Promise<void> {
    await this.revokeOne(session);
    const opened = await Flux.Session.findAll({ where: { actorSessionId: session.id, revokedAt: null } });
    for (const child of opened) await this.revoke(child);
  }

  private async revokeOne(session: Session): Promise<void> {
    const until = session.expiresAt ? session.expiresAt.getTime() : Date.now() + 366 * 24 * 3600_000;
    // the database first: it is the reference every instance falls back to if Redis fails
    if (!session.revokedAt) {
      session.revokedAt = new Date();
      await session.save();
    }
    // Redis unreachable: the database already refuses the session everywhere (instances read it while
    // Redis is down); the revocation is logged, the logout still answered
    await Flux.revocations
      .revoke(session.id, until)
      .catch((err: unknown) => Flux.log.warn('could not share a revocation through Redis:', err));
    // here at once, then on every other instance through the bus (here again: unbinding is idempotent)
    Flux.sockets.unbindSession(session.id, 'revoked');
    Flux.eventStreams.endSession(session.id, 'revoked');
    await Promise.resolve(Flux.bus.publish(SESSION_REVOKED, { sessionId: session.id })).catch(
      (err: unknown) => Flux.log.warn('could not announce a revocation to the other instances:', err),
    );
  }

  /**
   * Notes the activity of a session in `lastAction`, at most once per `everyMs` per session (a write per
   * request would cost more than the information is worth), written in the background with the other
   * activity of sessions (api/services/SessionActivityService.ts: a batch is one statement).
   */
  touch(session: Session, everyMs = 60_000): void {
    const now = Date.now();
    if (session.lastAction && now - session.lastAction.getTime() < everyMs) return;
    // the cached session knows it now, as a value, not a change: a later save() of it (refresh, revoke)
    // writes only its own columns
    session.dataValues.lastAction = new Date(now);
    Flux.waitUntil(sessionActivity.touched(session.id));
  }

  async tenantById(id: number): Promise<Tenant | null> {
    return this.cachedTenant(`id:${id}`, () => Flux.Tenant.findByPk(id));
  }

  async tenantBySlug(slug: string): Promise<Tenant | null> {
    if (!slugPattern.test(slug)) return null;
    return this.cachedTenant(`slug:${slug}`, () => Flux.Tenant.findOne({ where: { slug } }));
  }

  /** Forgets cached tenants (after a tenant changes). */
  forgetTenants(): void {
    this.tenants.clear();
    this.loadingTenants.clear();
  }

  /**
   * Forgets every cached context and tenant: at each start, since the process may have served another
   * database before (a restart in the same process, tests), whose session ids mean other users.
   */
  forgetAll(): void {
    this.generation++;
    this.contexts.clear();
    this.tenants.clear();
    this.loading.clear();
    this.loadingTenants.clear();
  }

  private async cachedTenant(key: string, load: () => Promise<Tenant | null>): Promise<Tenant | null> {
    const cached = this.tenants.get(key);
    if (cached && Date.now() - cached.at < TENANT_CACHE_MS) return cached.tenant;
    const pending = this.loadingTenants.get(key);
    if (pending) return pending;
    const loaded = load().then((tenant) => {
      // forgotten meanwhile (forgetTenants): this answer may predate the change, it is not kept
      if (this.loadingTenants.get(key) !== loaded) return tenant;
      // misses are not kept: any slug from a header or a host name would otherwise grow the map
      if (tenant) this.tenants.set(key, { tenant, at: Date.now() });
      else this.tenants.delete(key);
      return tenant;
    });
    this.loadingTenants.set(key, loaded);
    const done = () => {
      if (this.loadingTenants.get(key) === loaded) this.loadingTenants.delete(key);
    };
    loaded.then(done, done);
    return loaded;
  }

  /**
   * The tenant of an anonymous request (docs/reference.md#tenants): the `X-Tenant` header (a slug, which must
   * exist), else the first label of a host name with three or more labels when it names a tenant, else
   * `default`.
   * @throws NotFoundError (404) for an `X-Tenant` that names no tenant.
   */
  async resolveTenant(headerSlug: string | undefined, hostname: string | undefined): Promise<Tenant> {
    if (headerSlug !== undefined && headerSlug !== '') {
      const tenant = await this.tenantBySlug(headerSlug.toLowerCase());
      if (!tenant) throw new NotFoundError('Unknown tenant');
      return tenant;
    }
    const labels =
      hostname && !/^[\d.]+$/.test(hostname) && !hostname.includes(':') ? hostname.split('.') : [];
    if (labels.length >= 3) {
      const tenant = await this.tenantBySlug(labels[0].toLowerCase());
      if (tenant) return tenant;
    }
    const fallback = await this.tenantBySlug(DEFAULT_TENANT);
    if (!fallback) throw new NotFoundError('Unknown tenant');
    return fallback;
  }
}

export const authService = new AuthService();
