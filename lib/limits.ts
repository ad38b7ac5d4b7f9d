import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { BadRequestError, TooManyRequestsError } from './errors.js';

/**
 * Limits of the edge (docs/reference.md#errors, #bad-input-and-bounded-cost): nesting depth of bodies, and
 * rate limiters (rate-limiter-flexible) counted in Redis when it is configured, so that every instance counts
 * together. Socket virtual requests pass through the same Express app, so they count like HTTP requests,
 * keyed by the socket's address.
 */

/** True when `value` nests objects/arrays deeper than `max` levels (iterative: no stack to overflow). */
export function deeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null || Buffer.isBuffer(node)) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** A UTF-16 surrogate without its pair (with the `u` flag, a pair is one code point, not `Cs`). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Why a string (or key) anywhere in `value` cannot be stored as it is, or undefined when none is:
 * - `nul`: a NUL character — PostgreSQL cannot store one in text, SQLite drivers cut strings at it;
 * - `surrogate`: a lone UTF-16 surrogate (`"\ud800"`), which is not Unicode text: both databases store
 *   U+FFFD instead, so the reply, the event and a client's own filter would hold a value the database
 *   does not (a live query's list would differ from `find`).
 * Such input is refused with 400 before any query.
 */
export function unstorableText(value: unknown): 'nul' | 'surrogate' | undefined {
  const check = (text: string) =>
    text.includes('\u0000') ? 'nul' : LONE_SURROGATE.test(text) ? 'surrogate' : undefined;
  const stack: unknown[] = [value];
  while (stack.length) {
    const node = stack.pop();
    if (typeof node === 'string') {
      const problem = check(node);
      if (problem) return problem;
    } else if (typeof node === 'object' && node !== null && !Buffer.isBuffer(node)) {
      for (const [key, child] of Object.entries(node)) {
        const problem = check(key);
        if (problem) return problem;
        stack.push(child);
      }
    }
  }
  return undefined;
}

/** Refuses bodies nested deeper than `max` with 400 (body-parser has no depth limit). */
export function maxDepth(max: number): RequestHandler {
  return function maxDepth(req: Request, _res: Response, next: NextFunction): void {
    if (deeperThan(req.body, max))
      throw new BadRequestError(`The request body is nested deeper than ${max} levels`);
    next();
  };
}

export interface LimiterOptions {
  /** Window length, ms. */
  windowMs: number;
  /** Requests per key and window. */
  limit: number;
  /** Distinguishes the limiter's keys in a shared store. */
  name: string;
  /** The 429 message (default "Too many requests"). */
  message?: string;
  redis?: Redis;
  /** Redis key prefix of the deployment. */
  prefix?: string;
}

/**
 * The rate-limit key of a request's address (IPv6 grouped by /56, with express-rate-limit's
 * `ipKeyGenerator`), kept per connection: the address of a connection's requests rarely changes, and the
 * IPv6 check is a long regular expression. The address is `req.ip`; for a socket virtual request
 * (`req.isSocket`) it is read from its socket, which is what `req.ip` answers there (no forwarding header
 * reaches a virtual request: lib/socket/virtualRequest.ts) without Express's getter running proxy-addr.
 */
function addressKeys(): (req: Request) => string {
  const byConnection = new WeakMap<object, { address: string; key: string }>();
  return function addressKey(req: Request): string {
    const connection = req.socket as { remoteAddress?: string } | undefined;
    const address =
      ((req as { isSocket?: boolean }).isSocket === true ? connection?.remoteAddress : req.ip) ?? 'unknown';
    const known = connection ? byConnection.get(connection) : undefined;
    if (known?.address === address) return known.key;
    const key = ipKeyGenerator(address);
    if (connection) byConnection.set(connection, { address, key });
    return key;
  };
}

/**
 * A fixed-window rate limiter keyed by the client's address (IPv6 grouped by /56, with express-rate-limit's
 * `ipKeyGenerator`), counted by rate-limiter-flexible (https://github.com/animir/node-rate-limiter-flexible):
 * in Redis when it is configured, so that every instance counts together, else in this process. A refusal
 * is a 429 `TooManyRequests` with `Retry-After` (seconds until the window resets), raised through the error
 * handler like every other error. When the store fails (Redis down), requests pass: health checks and the
 * service stay up.
 */
export function createRateLimiter(options: LimiterOptions): RequestHandler {
  const duration = Math.max(1, Math.ceil(options.windowMs / 1000));
  const keyOf = addressKeys();
  const refusal = (ms: number) =>
    new TooManyRequestsError(Math.max(1, Math.ceil(ms / 1000)), options.message);
  const memory = () =>
    new RateLimiterMemory({ keyPrefix: `rl:${options.name}`, points: options.limit, duration });
  const limiter: RateLimiterAbstract = !options.redis
    ? memory()
    : new RateLimiterRedis({
        storeClient: options.redis,
        keyPrefix: `${options.prefix ?? 'flux:'}rl:${options.name}`,
        points: options.limit,
        duration,
        // Redis unreachable: counted in this process meanwhile (rate-limiter-flexible's insurance)
        insuranceLimiter: memory(),
      });
  return function rateLimit(req: Request, _res: Response, next: NextFunction): void {
    limiter.consume(keyOf(req)).then(
      () => next(),
      (refused: unknown) => {
        // the store failed: fail open
        if (refused instanceof Error) next();
        else next(refusal((refused as { msBeforeNext?: number }).msBeforeNext ?? 1000));
      },
    );
  };
}
