import type { NextFunction } from 'express';
import { UnauthorizedError } from '../../lib/errors.js';
import type { FluxResponse } from '../../lib/http.js';
import type { AppRequest } from '../types.js';

/**
 * 401 `Unauthorized` when `auth` found no credentials; 403 `InvalidToken` / `TokenExpired` /
 * `TokenRevoked` when it refused the token that was presented (docs/reference.md#errors).
 */
export function requireAuth(req: AppRequest, _res: FluxResponse, next: NextFunction): void {
  if (!req.user) throw req.authError ?? new UnauthorizedError();
  next();
}
