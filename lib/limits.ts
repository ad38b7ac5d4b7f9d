import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, type Options, rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { type RedisReply, RedisStore } from 'rate-limit-redis';
import { BadRequestError, TooManyRequestsError } from './errors.js';

/**
 * Limits of the edge (SPEC §7, §18): nesting depth of bodies, and rate limiters built on
 * express-rate-limit (https://express-rate-limit.mintlify.app) with a Redis store when Redis is
 * configured, so that every instance counts together. Socket virtual requests pass through the same
 * Express app, so they count like HTTP requests, keyed by the socket's address.
 */

/** True when `value` nests objects/arrays deeper than `max` levels (iterative: no stack to overflow). */
export function deeperThan(value: unknown, max: number): boolean {
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

/**
 * True when a string (or key) anywhere in `value` holds a NUL character: PostgreSQL cannot store one in
 * text, SQLite drivers cut strings at it. Such input is refused with 400 before any query.
 */
export function hasNulCharacter(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const node = stack.pop();
    if (typeof node === 'string') {
      if (node.includes('\u0000')) return true;
    } else if (typeof node === 'object' && node !== null && !Buffer.isBuffer(node)) {
      for (const [key, child] of Object.entries(node)) {
        if (key.includes('\u0000')) return true;
        stack.push(child);
      }
    }
  }
  return false;
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
  /** Requests (or counted requests) per key and window. */
  limit: number;
  /** Distinguishes the limiter's keys in a shared store. */
  name: string;
  /** The client key; defaults to the request's address (IPv6 grouped by /56, express-rate-limit's default). */
  keyGenerator?: Options['keyGenerator'];
  /** The 429 message (default "Too many requests"). */
  message?: string;
  /** Count only what this says failed (e.g. wrong passwords). */
  requestWasSuccessful?: Options['requestWasSuccessful'];
  skipSuccessfulRequests?: boolean;
  redis?: Redis;
  /** Redis key prefix of the deployment. */
  prefix?: string;
}

/**
 * A rate limiter whose refusal is a 429 `TooManyRequests` with `Retry-After` (seconds until the window
 * resets), raised through the error handler like every other error.
 */
export function createRateLimiter(options: LimiterOptions): RequestHandler {
  const { redis } = options;
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: options.keyGenerator ?? ((req) => ipKeyGenerator(req.ip ?? 'unknown')),
    requestWasSuccessful: options.requestWasSuccessful,
    skipSuccessfulRequests: options.skipSuccessfulRequests ?? false,
    store: redis
      ? new RedisStore({
          prefix: `${options.prefix ?? 'flux:'}rl:${options.name}:`,
          sendCommand: (command: string, ...args: string[]) =>
            redis.call(command, ...args) as Promise<RedisReply>,
        })
      : undefined,
    // Redis down: let requests through rather than answer 500 everywhere (health checks included)
    passOnStoreError: true,
    handler: (req, _res, next) => {
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 1;
      next(new TooManyRequestsError(seconds, options.message));
    },
  });
}
