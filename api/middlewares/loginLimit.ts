import type { NextFunction, RequestHandler } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import type { AppRequest } from '../types.js';

interface LoginLimitConfig {
  windowMs: number;
  perAccount: number;
  perAddress: number;
}

/** Limiters of the running server (rebuilt when Flux starts again, e.g. in tests). */
const built = new WeakMap<object, RequestHandler[]>();

function limiters(): RequestHandler[] {
  let handlers = built.get(Flux.express);
  if (!handlers) {
    const config = ((Flux.config.auth ?? {}) as { loginLimit?: LoginLimitConfig }).loginLimit ?? {
      windowMs: 15 * 60_000,
      perAccount: 10,
      perAddress: 100,
    };
    // only wrong passwords count (401): a valid login, a typo in the form or a 429 never locks anyone out
    const failedLogin = (_req: unknown, res: { statusCode: number }) => res.statusCode !== 401;
    handlers = [
      Flux.rateLimiter({
        name: 'login-address',
        windowMs: config.windowMs,
        limit: config.perAddress,
        requestWasSuccessful: failedLogin,
        skipSuccessfulRequests: true,
      }),
      Flux.rateLimiter({
        name: 'login-account',
        windowMs: config.windowMs,
        limit: config.perAccount,
        requestWasSuccessful: failedLogin,
        skipSuccessfulRequests: true,
        keyGenerator: (req) => {
          const { data, tenant } = req as AppRequest;
          const login = typeof data?.login === 'string' ? data.login.toLowerCase().slice(0, 100) : '';
          return `${tenant?.id ?? 0}:${login || ipKeyGenerator(req.ip ?? 'unknown')}`;
        },
      }),
    ];
    built.set(Flux.express, handlers);
  }
  return handlers;
}

/**
 * Brute-force protection of logins (SPEC §9): failed attempts are counted per account (tenant + login) and
 * per address; past `config.auth.loginLimit`, 429 `TooManyRequests` with `Retry-After`. Counted in Redis
 * when it is configured, so every instance shares the counts. Runs after `auth` (it needs the tenant).
 */
export function loginLimit(req: AppRequest, res: FluxResponse, next: NextFunction): void {
  const [byAddress, byAccount] = limiters();
  byAddress(req, res, (err?: unknown) => {
    if (err) {
      next(err);
      return;
    }
    byAccount(req, res, next);
  });
}
