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

/**
 * Items due at instants (epoch ms), with one timer per distinct instant instead of one per item: the sockets
 * of one token share its expiry, and JWT expiries count whole seconds (RFC 7519 `exp`), so the sockets whose
 * tokens were issued within the same second share one too. `onDue` is called for each item of an instant
 * when it comes (at once when it is past); timers are unref'd and re-arm beyond `setTimeout`'s limit.
 */
export class ExpiryQueue<T> {
  private readonly due = new Map<number, { items: Set<T>; timer: NodeJS.Timeout }>();

  constructor(private readonly onDue: (item: T) => void) {}

  /** Calls `onDue(item)` at `at` (an item added twice at the same instant is called once). */
  add(at: number, item: T): void {
    const entry = this.due.get(at);
    if (entry) entry.items.add(item);
    else this.due.set(at, { items: new Set([item]), timer: this.arm(at) });
  }

  /** Cancels `add(at, item)`; the instant's timer goes with its last item. */
  delete(at: number, item: T): void {
    const entry = this.due.get(at);
    if (!entry?.items.delete(item) || entry.items.size > 0) return;
    clearTimeout(entry.timer);
    this.due.delete(at);
  }

  private arm(at: number): NodeJS.Timeout {
    const delay = at - Date.now();
    const timer = setTimeout(
      () => (delay > MAX_TIMER ? this.rearm(at) : this.expire(at)),
      Math.max(0, Math.min(delay, MAX_TIMER)),
    );
    timer.unref();
    return timer;
  }

  private rearm(at: number): void {
    const entry = this.due.get(at);
    if (entry) entry.timer = this.arm(at);
  }

  private expire(at: number): void {
    const entry = this.due.get(at);
    if (!entry) return;
    this.due.delete(at);
    for (const item of entry.items) this.onDue(item);
  }
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
