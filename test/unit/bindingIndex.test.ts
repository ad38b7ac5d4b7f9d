import { afterEach, describe, expect, it, vi } from 'vitest';
import { addTo, expireAt, removeFrom } from '../../lib/bindingIndex.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('expireAt', () => {
  it('fires at an instant past setTimeout’s limit (about 24.8 days), not before, and not once cancelled', () => {
    vi.useFakeTimers();
    const fired: string[] = [];
    const far = Date.now() + 2 ** 31 + 5_000;
    expireAt(far, () => fired.push('far'));
    const cancelled = expireAt(far, () => fired.push('cancelled'));
    expireAt(Date.now() - 1, () => fired.push('past'));
    vi.advanceTimersByTime(0);
    expect(fired).toEqual(['past']);
    vi.advanceTimersByTime(2 ** 31 - 1); // setTimeout's longest delay: a plain timer would have fired here
    cancelled.cancel();
    expect(fired).toEqual(['past']);
    vi.advanceTimersByTime(5_001);
    expect(fired).toEqual(['past', 'far']);
  });
});

describe('addTo and removeFrom', () => {
  it('keep a set per key and drop a key whose set is empty', () => {
    const index = new Map<number, Set<string>>();
    addTo(index, 1, 'a');
    addTo(index, 1, 'b');
    removeFrom(index, 1, 'a');
    expect([...(index.get(1) ?? [])]).toEqual(['b']);
    removeFrom(index, 1, 'b');
    removeFrom(index, 2, 'x');
    expect(index.size).toBe(0);
  });
});
