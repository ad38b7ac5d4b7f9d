import type { NextFunction } from 'express';
import { TokenError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { type AuthContext, authService } from '../services/AuthService.js';
import type { AppRequest } from '../types.js';

const bearer = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

function assign(req: AppRequest, context: AuthContext): void {
  req.user = context.user;
  req.team = context.team ?? undefined;
  req.session = context.session;
  req.tenant = context.tenant;
}

/**
 * Authenticates a request (docs/reference.md#routes-and-middlewares, #authentication-and-sessions) by
 * `Authorization: Bearer <jwt>`, or — on a socket without that header — by the session bound to the socket.
 * Sets `req.user`, `req.team`, `req.session`, `req.tenant`. Never fails by itself: a refused token is kept in
 * `req.authError` for `requireAuth`, and the request goes on anonymous, in the tenant named by `X-Tenant` or
 * the host (404 for an unknown `X-Tenant`).
 */
export async function auth(req: AppRequest, _res: FluxResponse, next: NextFunction): Promise<void> {
  const header = req.headers.authorization;
  try {
    if (header !== undefined) {
      const match = bearer.exec(header);
      if (!match)
        throw new TokenError('InvalidToken', 'Malformed authorization header: expected "Bearer <jwt>"');
      const context = await authService.authenticateToken(match[1]);
      assign(req, context);
      req.authExpiresAt = context.payload.exp * 1000;
    } else if (req.isSocket && req.ioSocket) {
      const bound = Flux.sockets.auth(req.ioSocket);
      if (bound) {
        try {
          assign(req, await authService.authenticateSession(bound.sessionId, bound.userId));
          req.authExpiresAt = bound.expiresAt;
        } catch (err) {
          // The session was revoked elsewhere (another instance, the CLI): the socket is anonymous again.
          // Any other failure (database down) leaves the binding alone.
          if (err instanceof TokenError) Flux.sockets.unbind(req.ioSocket, 'revoked');
          throw err;
        }
      }
    }
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    req.authError = err;
  }
  if (req.session) {
    authService.touch(req.session, Flux.config.auth.sessionTouchMs);
  }
  if (!req.tenant) {
    const slug = req.headers['x-tenant'];
    req.tenant = await authService.resolveTenant(typeof slug === 'string' ? slug : undefined, req.hostname);
  }
  next();
}
