import { afterEach, describe, expect, it, vi } from 'vitest';
import { addTo, ExpiryQueue, expireAt, removeFrom } from '../../lib/bindingIndex.js';

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

describe('ExpiryQueue', () => {
  it('keeps one timer per instant, calls each item of an instant when it comes, and drops an instant with its last item', () => {
    vi.useFakeTimers();
    const due: string[] = [];
    const queue = new ExpiryQueue<string>((item) => due.push(item));
    const soon = Date.now() + 1000;
    const later = Date.now() + 2000;
    for (const item of ['a', 'b', 'c']) queue.add(soon, item);
    queue.add(later, 'd');
    queue.add(later, 'e');
    expect(vi.getTimerCount()).toBe(2);
    queue.delete(soon, 'b');
    queue.delete(soon, 'x'); // never added: nothing changes
    vi.advanceTimersByTime(999);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual(['a', 'c']);
    expect(vi.getTimerCount()).toBe(1);
    queue.delete(later, 'd');
    queue.delete(later, 'e');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(due).toEqual(['a', 'c']);
  });

  it('calls an item due in the past at once, and one due past setTimeout’s limit on time', () => {
    vi.useFakeTimers();
    const due: string[] = [];
    const queue = new ExpiryQueue<string>((item) => due.push(item));
    const far = Date.now() + 2 ** 31 + 5_000;
    queue.add(far, 'far');
    queue.add(Date.now() - 1, 'past');
    vi.advanceTimersByTime(0);
    expect(due).toEqual(['past']);
    vi.advanceTimersByTime(2 ** 31 + 4_999);
    expect(due).toEqual(['past']);
    vi.advanceTimersByTime(1);
    expect(due).toEqual(['past', 'far']);
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
