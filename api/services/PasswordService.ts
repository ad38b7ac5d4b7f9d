import bcrypt from 'bcrypt';
import { Flux } from '../../lib/Flux.js';
import { WorkQueue } from '../../lib/workQueue.js';

/**
 * Password hashing (bcrypt, cost `auth.bcryptRounds`) in a bounded queue. A hash or a comparison holds a
 * libuv pool thread for its whole cost (about 200 ms at cost 12 on this project's reference machine);
 * the pool has 4 threads by default, shared with file I/O and SQLite. Unbounded, four wrong logins at
 * once would starve every database query of the process. So at most `auth.hashConcurrency` bcrypt
 * operations run at once (the rest of the pool stays free), with at most `auth.hashQueueLength` waiting;
 * past that, 503 `Busy` with `Retry-After`. The CPU of the machine bounds login throughput anyway.
 */

let queue: WorkQueue | undefined;

/** The queue of this process, following `auth.hashConcurrency` and `auth.hashQueueLength`. */
function inQueue<T>(job: () => Promise<T>): Promise<T> {
  const { hashConcurrency: concurrency, hashQueueLength: queueLength } = Flux.config.auth;
  queue ??= new WorkQueue({
    concurrency,
    queueLength,
    busyMessage: 'Too many password checks at once: retry in a moment',
  });
  queue.configure({ concurrency, queueLength });
  return queue.run(job);
}

/** bcrypt operations running now, waiting now, and the most that ever ran at once in this process. */
export function passwordWork(): { active: number; waiting: number; peak: number } {
  return queue?.stats() ?? { active: 0, waiting: 0, peak: 0 };
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
