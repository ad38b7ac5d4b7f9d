import { z } from 'zod';
import { ForbiddenError, NotFoundError, TokenError, UnauthorizedError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import type { OperationDoc } from '../../lib/openapi.js';
import { validate } from '../../lib/validate.js';
import {
  type AuthContext,
  authService,
  DEFAULT_TENANT,
  type IssuedToken,
  type SessionMeta,
} from '../services/AuthService.js';
import {
  confirmPasswordReset,
  requestPasswordReset,
  resetTokenPattern,
} from '../services/PasswordResetService.js';
import { assertCanGrantRole } from '../services/PermissionService.js';
import { sessionActivity } from '../services/SessionActivityService.js';
import { watchStats } from '../services/StatsService.js';
import type { AppRequest } from '../types.js';

const loginSchema = z.object({ login: z.string().min(1).max(100), password: z.string().min(1).max(200) });
const jwtSchema = z.object({ jwt: z.string().min(1).max(4096), refresh: z.boolean().default(true) });
const resetSchema = z.object({ login: z.string().min(1).max(100) });
const resetConfirmSchema = z.object({
  token: z.string().regex(resetTokenPattern, 'a reset token: the 43 characters of the mail'),
  // the User model checks the length rules (auth.minPasswordLength, 72 bytes)
  password: z.string().min(1).max(200),
});
const rateLimited = {
  description: 'Past the login limits (`auth.loginLimit`): `Retry-After` gives the seconds to wait',
};

/**
 * Binds the socket of a virtual request to the session it just authenticated
 * (docs/reference.md#authentication-and-sessions), and records the socket with the session unless
 * `recorded` (a session opened over this socket was created with it).
 */
function bindSocket(req: AppRequest, context: AuthContext & IssuedToken, recorded = false): void {
  if (!req.isSocket || !req.ioSocket) return;
  const bound = Flux.sockets.bind(req.ioSocket, {
    sessionId: context.session.id,
    userId: context.user.id,
    tenantId: context.tenant.id,
    teamId: context.user.teamId,
    expiresAt: context.expiresAt,
  });
  // revoked while this request ran (after its token was checked): the socket stays anonymous
  if (!bound) throw new TokenError('TokenRevoked', 'Token revoked');
  const { session } = context;
  const socket = req.ioSocket;
  // gone, or bound to another session, while this request ran: the transport already asked for the
  // disconnection of this session from it, which must stay the last word
  if (Flux.sockets.auth(socket)?.sessionId !== session.id) return;
  // the admins room (docs/stats.md), for a socket that is still there and now bound to this session
  watchStats(socket, context.team, context.tenant);
  if (recorded) return;
  // Written in the background, in order with the socket's disconnection
  // (api/services/SessionActivityService.ts). Always: a cached session naming this socket may have been
  // disconnected from it since (the socket bound another session in between).
  Flux.waitUntil(sessionActivity.connected(session.id, socket.id));
}

function meta(req: AppRequest): SessionMeta {
  const userAgent = req.isSocket ? req.ioSocket?.handshake.headers['user-agent'] : req.headers['user-agent'];
  return {
    ip: req.ip,
    userAgent: typeof userAgent === 'string' ? userAgent : undefined,
    // a login over a socket records the socket with the session (one write, done before the reply)
    socketId: req.isSocket ? req.ioSocket?.id : undefined,
  };
}

/** Login, tokens and identity (docs/reference.md#authentication-and-sessions). */
export class AuthController {
  /** Request bodies, for validation and the OpenAPI document. */
  static schemas = {
    login: loginSchema,
    jwt: jwtSchema,
    reset: resetSchema,
    resetConfirm: resetConfirmSchema,
  };

  /** `/openapi.json`: what the password reset routes answer, which Flux cannot infer. */
  static openapi: Record<string, OperationDoc> = {
    reset: {
      description:
        'Anonymous (tenant by `X-Tenant` or the host). Mails a one-time reset token to the user of this ' +
        'login when they have an e-mail; answers 202 `{accepted: true}` in every case, so that it tells ' +
        'nothing of which logins exist (docs/mail.md). Counts against the login limits.',
      responses: {
        202: { description: '`{accepted: true}`, whether or not the login exists' },
        429: rateLimited,
      },
    },
    resetConfirm: {
      description:
        'Anonymous (tenant by `X-Tenant` or the host). Spends the token of the mail and sets the password; ' +
        'every session of the user is revoked. 400 `InvalidResetToken` for an unknown, used or expired ' +
        'token, 400 `ValidationError` for a refused password (the token stays usable). Counts against the ' +
        'login limits.',
      responses: {
        200: { description: '`{reset: true}`: log in with the new password' },
        429: rateLimited,
      },
    },
  };

  /** `POST /auth/login {login, password}` → `{jwt, user, team}`; over a socket it also binds the session. */
  async login(req: AppRequest, res: FluxResponse): Promise<void> {
    const { login, password } = validate(loginSchema, req.data);
    const context = await authService.login(req.tenant!, login, password, meta(req));
    bindSocket(req, context, true);
    res.ok({ jwt: context.jwt, user: context.user, team: context.team });
  }

  /**
   * `POST /auth/jwt {jwt, refresh?}` → a fresh `{jwt}` for the same session; over a socket it binds the
   * session with the fresh token's expiry. With `refresh: false` (the socket handshake) the token is
   * only checked, returned as is, and the socket keeps that token's expiry.
   */
  async jwt(req: AppRequest, res: FluxResponse): Promise<void> {
    const { jwt, refresh } = validate(jwtSchema, req.data);
    const context = await authService.authenticateToken(jwt);
    const issued = refresh
      ? await authService.refresh(context.session)
      : { jwt, expiresAt: context.payload.exp * 1000 };
    bindSocket(req, { ...context, ...issued });
    res.ok({ jwt: issued.jwt });
  }

  /** `POST /auth/logout`: revokes the session; its tokens answer 403 `TokenRevoked` at once. */
  async logout(req: AppRequest, res: FluxResponse): Promise<void> {
    await authService.revoke(req.session!);
    res.ok({ revoked: true });
  }

  /** `POST /auth/ip`: logs in the user whose `ip` is the connection's real address (kiosk PCs). */
  async ip(req: AppRequest, res: FluxResponse): Promise<void> {
    // An IPv4 peer of a dual-stack listener is reported as ::ffff:a.b.c.d
    const address = req.ip?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    const user = address
      ? await Flux.User.findOne({
          where: { tenantId: req.tenant!.id, ip: address },
          include: [{ association: 'team' }],
        })
      : null;
    if (!user) throw new UnauthorizedError('No user is registered for this address');
    const context = await authService.openSession(req.tenant!, user, meta(req));
    bindSocket(req, context, true);
    res.ok({ jwt: context.jwt, user: context.user, team: context.team });
  }

  /**
   * `POST /auth/as/:id`: a token for another user of the same tenant; needs `auth/as`. The new session
   * records the caller as its `actorId` (listed by `GET /session`) and ends no later than the caller's
   * own session; the log has a line.
   */
  async as(req: AppRequest, res: FluxResponse): Promise<void> {
    if (!req.team?.can('auth/as')) throw new ForbiddenError('Needs permission auth/as');
    const id = Number(req.data.id);
    const user = Number.isSafeInteger(id)
      ? await Flux.User.findOne({
          where: { id, tenantId: req.tenant!.id },
          include: [{ association: 'team' }],
        })
      : null;
    if (!user) throw new NotFoundError(`No user ${String(req.data.id)}`);
    // acting as someone is acting with their role: only over users whose role one holds entirely
    if (user.team) assertCanGrantRole(req.team, user.team.role);
    Flux.log.warn(
      `auth/as: user ${req.user!.id} (${req.user!.login}) took the identity of user ${user.id} (${user.login})`,
    );
    // the token is for someone else: this socket stays bound to its own session. The new session records
    // who acted, and ends with the actor's own: impersonating cannot extend a session's life
    const context = await authService.openSession(req.tenant!, user, {
      ...meta(req),
      socketId: undefined,
      actorId: req.user!.id,
      actorSessionId: req.session!.id,
      notAfter: authService.endOfLife(req.session!),
    });
    res.ok({ jwt: context.jwt, user: context.user, team: context.team });
  }

  /**
   * `POST /auth/reset {login}` → 202 `{accepted: true}` whether or not the login exists; a user with an
   * e-mail gets a one-time reset token by mail (api/services/PasswordResetService.ts).
   */
  async reset(req: AppRequest, res: FluxResponse): Promise<void> {
    const { login } = validate(resetSchema, req.data);
    await requestPasswordReset(req.tenant!, login, { address: req.ip });
    res.status(202).json({ accepted: true });
  }

  /**
   * `POST /auth/reset/confirm {token, password}` → `{reset: true}`: the token is spent, the password set,
   * every session of the user revoked.
   */
  async resetConfirm(req: AppRequest, res: FluxResponse): Promise<void> {
    const { token, password } = validate(resetConfirmSchema, req.data);
    await confirmPasswordReset(req.tenant!, token, password, { address: req.ip });
    res.ok({ reset: true });
  }

  /** `GET /auth/me` → `{user, team, tenant, permissions}`. */
  async me(req: AppRequest, res: FluxResponse): Promise<void> {
    const tenant = req.tenant!;
    res.ok({
      user: req.user,
      team: req.team ?? null,
      tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug },
      // tenant/admin counts only in the default tenant (docs/reference.md#tenants): not listed elsewhere
      permissions: (req.team?.permissions() ?? []).filter(
        (p) => p !== 'tenant/admin' || tenant.slug === DEFAULT_TENANT,
      ),
    });
  }

  /** `GET /auth/roles` → role name → list of permissions. */
  async roles(_req: AppRequest, res: FluxResponse): Promise<void> {
    res.ok(Object.fromEntries([...Flux.roles].map(([role, permissions]) => [role, [...permissions].sort()])));
  }
}
