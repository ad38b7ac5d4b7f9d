import type { NextFunction } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import type { AppRequest } from '../types.js';

interface Limiters {
  byAccount: RateLimiterAbstract;
  byAddress: RateLimiterAbstract;
}

/** Limiters of the running server (rebuilt when Flux starts again, e.g. in tests). */
const built = new WeakMap<object, Limiters>();

function limiters(): Limiters {
  let found = built.get(Flux.express);
  if (!found) {
    const config = Flux.config.auth.loginLimit;
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
 * failed logins (401) are counted, per account (tenant + login) and per address; once either count
 * reaches `config.auth.loginLimit`, logins answer 429 `TooManyRequests` with `Retry-After` until the
 * window passes. An attempt holds a point while it runs, so parallel guesses cannot exceed the limit
 * either; a successful login clears its account's count. (Hence at most `perAccount` logins of one
 * account may be in flight at once.) Counts live in Redis when it is configured, shared by every
 * instance. Runs after `auth` (it needs the tenant).
 */
export async function loginLimit(req: AppRequest, res: FluxResponse, next: NextFunction): Promise<void> {
  const { byAccount, byAddress } = limiters();
  const login = typeof req.data.login === 'string' ? req.data.login.toLowerCase().slice(0, 100) : '';
  const address = ipKeyGenerator(req.ip ?? 'unknown');
  const accountKey = `${req.tenant?.id ?? 0}:${login}`;
  // Each attempt takes a point before the password is checked (atomically: parallel guesses cannot all
  // pass the check), and gives it back when it did not fail; a successful login clears its account.
  const taken: Array<[RateLimiterAbstract, string]> = [];
  try {
    await byAddress.consume(address);
    taken.push([byAddress, address]);
    if (login) {
      await byAccount.consume(accountKey);
      taken.push([byAccount, accountKey]);
    }
  } catch (refusal) {
    for (const [limiter, key] of taken) await limiter.reward(key).catch(() => undefined);
    if (refusal instanceof Error) throw refusal; // the store failed: a 500, logged
    const msBeforeNext = (refusal as { msBeforeNext?: number }).msBeforeNext ?? 1000;
    throw new TooManyRequestsError(
      Math.max(1, Math.ceil(msBeforeNext / 1000)),
      'Too many failed logins: try again later',
    );
  }
  res.once('finish', () => {
    if (res.statusCode === 401) return; // a failure: the points stay taken
    const returned = taken.map(([limiter, key]) =>
      limiter === byAccount && res.statusCode === 200 ? limiter.delete(key) : limiter.reward(key),
    );
    Flux.waitUntil(Promise.all(returned).catch((err: unknown) => Flux.log.warn('login limiter:', err)));
  });
  next();
}
