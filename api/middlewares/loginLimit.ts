import type { NextFunction } from 'express';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { beginPasswordAttempt } from '../services/LoginLimitService.js';
import type { AppRequest } from '../types.js';

/**
 * Brute-force protection of logins (docs/security.md): the attempt takes its points before the password is checked
 * (`api/services/LoginLimitService.ts`); a failed login (401) keeps them, a successful one clears its
 * account's count, anything else gives them back. Hence at most `perAccount` logins of one account may
 * be in flight at once. Runs after `auth` (it needs the tenant).
 */
export async function loginLimit(req: AppRequest, res: FluxResponse, next: NextFunction): Promise<void> {
  const attempt = await beginPasswordAttempt({
    tenantId: req.tenant?.id ?? 0,
    login: typeof req.data.login === 'string' ? req.data.login : '',
    address: req.ip,
  });
  res.once('finish', () => {
    const outcome = res.statusCode === 401 ? 'failed' : res.statusCode === 200 ? 'succeeded' : 'neutral';
    Flux.waitUntil(attempt.end(outcome).catch((err: unknown) => Flux.log.warn('login limiter:', err)));
  });
  next();
}
