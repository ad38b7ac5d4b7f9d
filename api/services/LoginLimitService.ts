import { ipKeyGenerator } from 'express-rate-limit';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';

/**
 * Brute-force protection of every password check (login, the current password of a password change):
 * the "login endpoint protection" pattern of rate-limiter-flexible
 * (https://github.com/animir/node-rate-limiter-flexible/wiki/Overall-example). Failed checks are counted
 * per account (tenant + lower-cased login) and per client address (IPv6 grouped by /56); once either
 * count reaches `auth.loginLimit` (`perAccount`, `perAddress` per `windowMs`), checks answer 429
 * `TooManyRequests` with `Retry-After` until the window passes. An attempt holds its points while it
 * runs, so parallel guesses cannot exceed the limit either. Counts live in Redis when it is configured,
 * shared by every instance.
 */

interface Limiters {
  byAccount: RateLimiterAbstract;
  byAddress: RateLimiterAbstract;
}

/** How an attempt ended: a wrong password keeps its points, a right one clears its account's count. */
export type AttemptOutcome = 'failed' | 'succeeded' | 'neutral';

/** A password attempt holding its points until {@link PasswordAttempt.end}. */
export interface PasswordAttempt {
  /** Settles the points taken (idempotent): kept when `failed`, else given back. */
  end(outcome: AttemptOutcome): Promise<void>;
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
            // Redis unreachable: counted in this process meanwhile (rate-limiter-flexible's insurance)
            insuranceLimiter: new RateLimiterMemory({ keyPrefix: `login-${name}`, points, duration }),
          })
        : new RateLimiterMemory({ keyPrefix: `login-${name}`, points, duration });
    found = { byAccount: make('account', config.perAccount), byAddress: make('address', config.perAddress) };
    built.set(Flux.express, found);
  }
  return found;
}

/**
 * Takes one point per account and per address before a password is checked.
 * @param who `tenantId` and `login` of the account (`login` empty: the address alone is counted),
 *   `address` the client's (`req.ip`).
 * @throws TooManyRequestsError (429, `Retry-After` in seconds) when a limit is reached; an error of the
 *   store (Redis down) as is.
 */
export async function beginPasswordAttempt(who: {
  tenantId: number;
  login: string;
  address: string | undefined;
}): Promise<PasswordAttempt> {
  const { byAccount, byAddress } = limiters();
  const address = ipKeyGenerator(who.address ?? 'unknown');
  const login = who.login.toLowerCase().slice(0, 100);
  const accountKey = `${who.tenantId}:${login}`;
  const taken: Array<[RateLimiterAbstract, string]> = [];
  try {
    // pushed before consuming: `consume` adds its point even when it refuses, and a refusal is not a
    // failed password: that point is given back too (or parallel attempts with the right password,
    // refused while others held the points, would lock the account)
    taken.push([byAddress, address]);
    await byAddress.consume(address);
    if (login) {
      taken.push([byAccount, accountKey]);
      await byAccount.consume(accountKey);
    }
  } catch (refusal) {
    for (const [limiter, key] of taken) await limiter.reward(key).catch(() => undefined);
    if (refusal instanceof Error) throw refusal;
    const msBeforeNext = (refusal as { msBeforeNext?: number }).msBeforeNext ?? 1000;
    throw new TooManyRequestsError(
      Math.max(1, Math.ceil(msBeforeNext / 1000)),
      'Too many failed password attempts: try again later',
    );
  }
  let ended = false;
  return {
    async end(outcome) {
      if (ended || outcome === 'failed') {
        ended = true;
        return;
      }
      ended = true;
      await Promise.all(
        taken.map(([limiter, key]) =>
          limiter === byAccount && outcome === 'succeeded' ? limiter.delete(key) : limiter.reward(key),
        ),
      );
    },
  };
}

/**
 * Clears the failed attempts counted against an account: its owner proved who they are another way (a
 * password reset by e-mail), so the lock those attempts put on its logins ends.
 */
export async function clearAccountAttempts(tenantId: number, login: string): Promise<void> {
  await limiters().byAccount.delete(`${tenantId}:${login.toLowerCase().slice(0, 100)}`);
}

/**
 * Checks a password under the limits: runs `check` holding the attempt's points, keeps them when it
 * answers false.
 * @returns what `check` returned.
 * @throws TooManyRequestsError (429) when a limit is reached; `check` is not run then.
 */
export async function checkPasswordLimited(
  who: { tenantId: number; login: string; address: string | undefined },
  check: () => Promise<boolean>,
): Promise<boolean> {
  const attempt = await beginPasswordAttempt(who);
  let valid = false;
  try {
    valid = await check();
  } finally {
    // a right current password gives its points back, but does not clear the account's failures
    await attempt
      .end(valid ? 'neutral' : 'failed')
      .catch((err: unknown) => Flux.log.warn('login limiter:', err));
  }
  return valid;
}
