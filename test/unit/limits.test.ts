import { describe, expect, it } from 'vitest';
import { deeperThan, unstorableText } from '../../lib/limits.js';

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
