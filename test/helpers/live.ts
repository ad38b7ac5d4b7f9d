import { expect } from 'vitest';

/**
 * Waits until `live.items` equals what `find()` returns now (ids, data and order), reading again every
 * 50 ms for at most `timeoutMs`; then fails with the difference. Live lists converge after the events of
 * a write arrive, so equality is awaited, never assumed at one instant.
 */
export async function expectLiveExact(
  live: { readonly items: readonly unknown[] },
  find: () => Promise<readonly unknown[]>,
  what = 'live query',
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let fresh = await find();
  while (JSON.stringify(live.items) !== JSON.stringify(fresh) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    fresh = await find();
  }
  expect(live.items, what).toEqual(fresh);
}
