/**
 * What the session bindings of sockets (lib/socket/sessionBindings.ts) and of event streams
 * (lib/eventStreams.ts) both need: subscribers indexed by session and user id, and a timer at the token's
 * expiry.
 */

/** Longest delay `setTimeout` accepts (about 24.8 days); a later instant is reached in steps. */
const MAX_TIMER = 2 ** 31 - 1;

/** Adds `value` to the set of `key` in `index`, creating it. */
export function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const values = index.get(key);
  if (values) values.add(value);
  else index.set(key, new Set([value]));
}

/** Removes `value` from the set of `key` in `index`, and the set once empty. */
export function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const values = index.get(key);
  values?.delete(value);
  if (values?.size === 0) index.delete(key);
}

/** A timer that does not keep the process alive; `cancel()` stops it. */
export interface Expiry {
  cancel(): void;
}

/**
 * Calls `callback` at `at` (epoch ms; at once when past), however far away: beyond `setTimeout`'s limit
 * the timer re-arms. Unref'd.
 */
export function expireAt(at: number, callback: () => void): Expiry {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = at - Date.now();
    timer = setTimeout(delay > MAX_TIMER ? arm : callback, Math.max(0, Math.min(delay, MAX_TIMER)));
    timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
