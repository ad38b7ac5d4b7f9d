import { describe, expect, it } from 'vitest';
import type { Request, Response } from 'express';
import { createRateLimiter, deeperThan, FixedWindows, unstorableText } from '../../lib/limits.js';

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

describe('FixedWindows', () => {
  it('counts a window from its first request, refuses past the limit with the time left, then opens anew', () => {
    let now = 1_000;
    const windows = new FixedWindows(2, 10_000, () => now);
    expect(windows.consume('a')).toBe(0);
    now += 4_000;
    expect(windows.consume('a')).toBe(0);
    expect(windows.consume('b')).toBe(0); // keys count apart
    expect(windows.consume('a')).toBe(6_000); // refused: the window of `a` ends at 11,000
    now += 5_999;
    expect(windows.consume('a')).toBe(1); // refusals count too
    now += 1;
    expect(windows.consume('a')).toBe(0); // a new window
  });

  it('drops expired windows once per window length, on a call', () => {
    let now = 0;
    const windows = new FixedWindows(5, 1_000, () => now);
    for (const key of ['a', 'b', 'c']) windows.consume(key);
    expect(windows.size).toBe(3);
    now = 999;
    windows.consume('d');
    expect(windows.size).toBe(4);
    now = 1_000;
    windows.consume('d'); // sweeps a, b and c (ended at 1,000); d's window runs until 1,999
    expect(windows.size).toBe(1);
  });
});

describe('createRateLimiter (in process)', () => {
  it("counts a virtual request under its socket's address and an HTTP request under req.ip, IPv6 by /56", () => {
    const limit = createRateLimiter({ name: 'test', windowMs: 60_000, limit: 2 });
    const outcomes: unknown[] = [];
    const send = (req: object) =>
      limit(req as Request, {} as Response, (err?: unknown) => outcomes.push(err));
    // a virtual request: req.ip is its socket's address (test/unit/virtualRequest.test.ts)
    send({ isSocket: true, socket: { remoteAddress: '2001:db8:0:1::1' } });
    // HTTP on another connection, from the same /56 (the address a trusted proxy forwarded)
    send({ ip: '2001:db8:0:ff::2', socket: {} });
    send({ ip: '2001:db8:0:ff::2', socket: {} });
    send({ ip: '10.0.0.1', socket: {} });
    expect(outcomes.slice(0, 2)).toEqual([undefined, undefined]);
    expect(outcomes[2]).toMatchObject({ status: 429 });
    expect(outcomes[3]).toBeUndefined();
  });

  it('follows a connection whose forwarded address changes from one request to the next', () => {
    const limit = createRateLimiter({ name: 'test', windowMs: 60_000, limit: 1 });
    const outcomes: unknown[] = [];
    const connection = {};
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.1'])
      limit({ ip, socket: connection } as unknown as Request, {} as Response, (err?: unknown) =>
        outcomes.push(err),
      );
    expect(outcomes[0]).toBeUndefined();
    expect(outcomes[1]).toBeUndefined();
    expect(outcomes[2]).toMatchObject({ status: 429 });
  });
});
