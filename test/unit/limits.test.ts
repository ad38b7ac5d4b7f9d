import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { createRateLimiter, deeperThan, unstorableText } from '../../lib/limits.js';

describe('deeperThan', () => {
  const nested = (depth: number): unknown => (depth <= 1 ? { leaf: 1 } : { a: nested(depth - 1) });

  it('measures objects and arrays, not scalars', () => {
    expect(deeperThan('text', 0)).toBe(false);
    expect(deeperThan({ a: 1 }, 1)).toBe(false);
    expect(deeperThan({ a: { b: 1 } }, 1)).toBe(true);
    expect(deeperThan([[[1]]], 2)).toBe(true);
    expect(deeperThan(nested(32), 32)).toBe(false);
    expect(deeperThan(nested(33), 32)).toBe(true);
  });

  it('does not overflow the stack on absurd depths', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(deeperThan(deep, 32)).toBe(true);
  });
});

describe('unstorableText', () => {
  it('finds NUL and lone surrogates in values and keys at any depth, and lets pairs through', () => {
    expect(unstorableText({ a: ['ok', { b: 'x\u0000y' }] })).toBe('nul');
    expect(unstorableText(JSON.parse('{"k\\u0000": 1}'))).toBe('nul');
    expect(unstorableText({ a: [{ b: 'x\ud800' }] })).toBe('surrogate');
    expect(unstorableText(JSON.parse('{"\\ude00": 1}'))).toBe('surrogate');
    expect(unstorableText({ a: ['ok', { b: 'fine 😀' }], n: 5, buffer: Buffer.from([0]) })).toBeUndefined();
  });
});

describe('createRateLimiter (in process)', () => {
  /** Runs `limit` on `req` and resolves with what it passed to `next`. */
  const outcome = (limit: ReturnType<typeof createRateLimiter>, req: object) =>
    new Promise<unknown>((resolve) => limit(req as Request, {} as Response, resolve));

  it("counts a virtual request under its socket's address and an HTTP request under req.ip, IPv6 by /56", async () => {
    const limit = createRateLimiter({ name: 'test', windowMs: 60_000, limit: 2 });
    const outcomes: unknown[] = [];
    // a virtual request: req.ip is its socket's address (test/unit/virtualRequest.test.ts)
    outcomes.push(await outcome(limit, { isSocket: true, socket: { remoteAddress: '2001:db8:0:1::1' } }));
    // HTTP on another connection, from the same /56 (the address a trusted proxy forwarded)
    outcomes.push(await outcome(limit, { ip: '2001:db8:0:ff::2', socket: {} }));
    outcomes.push(await outcome(limit, { ip: '2001:db8:0:ff::2', socket: {} }));
    outcomes.push(await outcome(limit, { ip: '10.0.0.1', socket: {} }));
    expect(outcomes.slice(0, 2)).toEqual([undefined, undefined]);
    expect(outcomes[2]).toMatchObject({ status: 429 });
    expect(outcomes[3]).toBeUndefined();
  });

  it('follows a connection whose forwarded address changes from one request to the next', async () => {
    const limit = createRateLimiter({ name: 'test', windowMs: 60_000, limit: 1 });
    const outcomes: unknown[] = [];
    const connection = {};
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.1'])
      outcomes.push(await outcome(limit, { ip, socket: connection }));
    expect(outcomes[0]).toBeUndefined();
    expect(outcomes[1]).toBeUndefined();
    expect(outcomes[2]).toMatchObject({ status: 429 });
  });
});
