import type { NextFunction } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import type { AppRequest } from '../types.js';

interface LoginLimitConfig {
  windowMs: number;
  perAccount: number;
  perAddress: number;
}

interface Limiters {
  byAccount: RateLimiterAbstract;
  byAddress: RateLimiterAbstract;
}

/** Limiters of the running server (rebuilt when Flux starts again, e.g. in tests). */
const built = new WeakMap<object, Limiters>();

function limiters(): Limiters {
  let found = built.get(Flux.express);
  if (!found) {
    const config = ((Flux.config.auth ?? {}) as { loginLimit?: LoginLimitConfig }).loginLimit ?? {
      windowMs: 15 * 60_000,
      perAccount: 10,
      perAddress: 100,
    };
    const duration = Math.max(1, Math.ceil(config.windowMs / 1000));
    const make = (name: string, points: number) =>
      Flux.redis
        ? new RateLimiterRedis({
            storeClient: Flux.redis,
            keyPrefix: `${Flux.config.redis.prefix}login-${name}`,
            points,
            duration,
          })
        : new RateLimiterMemory({ keyPrefix: `login-${name}`, points, duration });
    found = { byAccount: make('account', config.perAccount), byAddress: make('address', config.perAddress) };
    built.set(Flux.express, found);
  }
  return found;
}

/**
 * Brute-force protection of logins (SPEC §9), the "login endpoint protection" pattern of
 * rate-limiter-flexible (https://github.com/animir/node-rate-limiter-flexible/wiki/Overall-example):
 * only failed logins (401) are counted, per account (tenant + login) and per address; once either count
 * reaches `config.auth.loginLimit`, logins answer 429 `TooManyRequests` with `Retry-After` until the
 * window passes. A successful login clears its account's count. Concurrent logins of one account from
 * many devices (a shared bar tablet account) are never refused for being concurrent. Counts live in Redis
 * when it is configured, shared by every instance. Runs after `auth` (it needs the tenant).
 */
export async function loginLimit(req: AppRequest, res: FluxResponse, next: NextFunction): Promise<void> {
  const { byAccount, byAddress } = limiters();
  const login = typeof req.data.login === 'string' ? req.data.login.toLowerCase().slice(0, 100) : '';
  const address = ipKeyGenerator(req.ip ?? 'unknown');
  const accountKey = `${req.tenant?.id ?? 0}:${login}`;
  const [account, fromAddress] = await Promise.all([
    login ? byAccount.get(accountKey) : Promise.resolve(null),
    byAddress.get(address),
  ]);
  const blocked = [
    account && account.consumedPoints >= byAccount.points ? account : null,
    fromAddress && fromAddress.consumedPoints >= byAddress.points ? fromAddress : null,
  ].filter((state) => state !== null);
  if (blocked.length) {
    const seconds = Math.max(1, Math.ceil(Math.max(...blocked.map((state) => state.msBeforeNext)) / 1000));
    throw new TooManyRequestsError(seconds, 'Too many failed logins: try again later');
  }
  res.once('finish', () => {
    const counted =
      res.statusCode === 401
        ? Promise.all([login ? byAccount.penalty(accountKey) : null, byAddress.penalty(address)])
        : res.statusCode === 200 && login
          ? byAccount.delete(accountKey)
          : Promise.resolve();
    counted.catch((err: unknown) => Flux.log.warn('login limiter:', err));
  });
  next();
}
