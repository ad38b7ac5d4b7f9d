import bcrypt from 'bcrypt';
import pLimit from 'p-limit';
import { ExpectedError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';

/**
 * Password hashing (bcrypt, cost `auth.bcryptRounds`) in a bounded queue. A hash or a comparison holds a
 * libuv pool thread for its whole cost (about 200 ms at cost 12 on this project's reference machine);
 * the pool has 4 threads by default, shared with file I/O and SQLite. Unbounded, four wrong logins at
 * once would starve every database query of the process. So at most `auth.hashConcurrency` bcrypt
 * operations run at once (the rest of the pool stays free), with at most `auth.hashQueueLength` waiting;
 * past that, 503 `Busy` with `Retry-After`. The CPU of the machine bounds login throughput anyway.
 */

let queue: ReturnType<typeof pLimit> | undefined;
const counts = { active: 0, peak: 0 };

/** bcrypt operations running now, waiting now, and the most that ever ran at once in this process. */
export function passwordWork(): { active: number; waiting: number; peak: number } {
  return { ...counts, waiting: queue?.pendingCount ?? 0 };
}

function inQueue<T>(job: () => Promise<T>): Promise<T> {
  const { hashConcurrency, hashQueueLength } = Flux.config.auth;
  queue ??= pLimit(hashConcurrency);
  if (queue.concurrency !== hashConcurrency) queue.concurrency = hashConcurrency;
  if (queue.activeCount >= hashConcurrency && queue.pendingCount >= hashQueueLength) {
    return Promise.reject(
      new ExpectedError(503, 'Busy', 'Too many password checks at once: retry in a moment', {
        headers: { 'Retry-After': '1' },
      }),
    );
  }
  return queue(async () => {
    counts.active++;
    counts.peak = Math.max(counts.peak, counts.active);
    try {
      return await job();
    } finally {
      counts.active--;
    }
  });
}

/**
 * The bcrypt hash of `password` at cost `rounds` (default `auth.bcryptRounds`).
 * @throws ExpectedError 503 `Busy` when the queue is full.
 */
export function hashPassword(password: string, rounds = Flux.config.auth.bcryptRounds): Promise<string> {
  return inQueue(() => bcrypt.hash(password, rounds));
}

/**
 * Whether `password` matches the bcrypt `hash` (constant time, bcrypt's `compare`).
 * @throws ExpectedError 503 `Busy` when the queue is full.
 */
export function comparePassword(password: string, hash: string): Promise<boolean> {
  return inQueue(() => bcrypt.compare(password, hash));
}
