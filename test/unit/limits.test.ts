import { describe, expect, it } from 'vitest';
import { deeperThan, FixedWindows, unstorableText } from '../../lib/limits.js';

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
