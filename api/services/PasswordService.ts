import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import { Flux } from '../../lib/Flux.js';
import { FairQueue } from '../../lib/fairQueue.js';

/**
 * Password hashing (bcrypt, cost `auth.bcryptRounds`) in a bounded queue, fair between client addresses.
 * A hash or a comparison holds a libuv pool thread for its whole cost (about 200 ms at cost 12 on this
 * project's reference machine); the pool has 4 threads by default, shared with file I/O and SQLite.
 * Unbounded, four wrong logins at once would starve every database query of the process, and one
 * address's burst of logins would make everyone's wait behind it. So at most `auth.hashConcurrency`
 * bcrypt operations run at once (the rest of the pool stays free), `auth.hashQueueLength` wait (503
 * `Busy` past it), and one address has `auth.hashPerAddress` in that queue with `auth.hashPerAddressQueue`
 * more waiting behind its own (429 past it). The CPU of the machine bounds login throughput anyway.
 */

/** The queue of the running server (a new one when Flux starts again, e.g. in tests). */
const queues = new WeakMap<object, FairQueue>();

/**
 * The queue of the running server, following the `auth.hash*` keys. `client` undefined: work no password
 * sender asked for (hashing a new password, the dummy hash), bounded by the process-wide limits only —
 * sharing one client's place, every user's password change would wait behind the others'.
 */
function inQueue<T>(client: string | undefined, job: () => Promise<T>): Promise<T> {
  const {
    hashConcurrency: concurrency,
    hashQueueLength: queueLength,
    hashPerAddress: perClient,
    hashPerAddressQueue: perClientQueue,
  } = Flux.config.auth;
  const bounds = { concurrency, queueLength, perClient, perClientQueue };
  let queue = queues.get(Flux.express);
  if (!queue) {
    queue = new FairQueue({
      ...bounds,
      busyMessage: 'Too many password checks at once: retry in a moment',
      tooManyMessage: 'Too many password checks from this address at once: wait for the previous ones',
    });
    queues.set(Flux.express, queue);
  }
  queue.configure(bounds);
  return queue.run(client, job);
}

/** bcrypt operations running now, waiting now, and the most that ever ran at once in the running server. */
export function passwordWork(): { active: number; waiting: number; peak: number } {
  return queues.get(Flux.express)?.stats() ?? { active: 0, waiting: 0, peak: 0 };
}

/**
 * The bcrypt hash of `password` at cost `rounds` (default `auth.bcryptRounds`).
 * @throws ExpectedError 503 `Busy` when the queue is full.
 */
export function hashPassword(password: string, rounds = Flux.config.auth.bcryptRounds): Promise<string> {
  return inQueue(undefined, () => bcrypt.hash(password, rounds));
}

/** The alphabet of bcrypt's base64 (salt and digest of a hash). */
const bcryptAlphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Rows given a password nobody knows, with that value: the hashing reaction stores it as it is. */
const unusablePasswords = new WeakMap<object, string>();

/**
 * Gives `user` a password nobody knows, without any bcrypt work: a well-formed bcrypt hash (cost
 * `auth.bcryptRounds`, random salt) whose digest is random, so no password is known to match it. A login
 * against it fails after the same bcrypt time as any wrong password (it does not tell such accounts
 * apart); the user gets a password by a reset or from an admin. For accounts created without one (the CSV
 * import, docs/import.md): hashing a random password for each of 10,000 users would cost minutes of bcrypt
 * for nothing. The save that follows stores the value as it is (api/reactions.ts,
 * {@link isUnusablePassword}); a password set after it is hashed as usual.
 */
export function setUnusablePassword(user: { password: string }): void {
  const digest = Array.from(randomBytes(31), (byte) => bcryptAlphabet[byte & 63]).join('');
  user.password = `${bcrypt.genSaltSync(Flux.config.auth.bcryptRounds)}${digest}`;
  unusablePasswords.set(user, user.password);
}

/** Whether `user`'s password is still the value {@link setUnusablePassword} gave it (already a hash). */
export function isUnusablePassword(user: { password: string }): boolean {
  return unusablePasswords.get(user) === user.password;
}

/**
 * Whether `password` matches the bcrypt `hash` (constant time, bcrypt's `compare`).
 * @param client whom the work is for (`address:<ip>`, the client sending the password); undefined: the
 *   process-wide limits only.
 * @throws TooManyRequestsError 429 when that client has too many waiting; ExpectedError 503 `Busy` when
 *   the queue is full.
 */
export function comparePassword(password: string, hash: string, client?: string): Promise<boolean> {
  return inQueue(client, () => bcrypt.compare(password, hash));
}
