import { TooManyRequestsError } from './errors.js';
import { WorkQueue } from './workQueue.js';

/**
 * Admission of expensive reads: the statements whose cost grows with the data rather than with the
 * answer (a `like` pattern scans every row of the tenant it may read). The statement timeout bounds one
 * of them; this bounds how many run at once, so that they can never hold every database connection (or
 * SQLite's one) while ordinary requests wait:
 *
 * - at most `concurrency` run at once in the process, at most `queueLength` wait their turn; past that,
 *   503 `Busy` with `Retry-After` ({@link WorkQueue});
 * - at most `perClient` of one client (a session, or an address for anonymous requests) are admitted at
 *   once; more answer 429 `TooManyRequests` at once, so one socket's requests in flight cannot fill the
 *   queue either.
 */
export interface QueryGateOptions {
  concurrency: number;
  queueLength: number;
  perClient: number;
}

export class QueryGate {
  private readonly queue: WorkQueue;
  private readonly byClient = new Map<string, number>();

  constructor(private readonly options: QueryGateOptions) {
    this.queue = new WorkQueue({ ...options, busyMessage: 'Too many searches at once: retry in a moment' });
  }

  /**
   * Runs `work` once a place is free.
   * @param client who asks (`session:<id>`, `address:<ip>`): at most `perClient` of theirs at once.
   * @throws TooManyRequestsError (429, `Retry-After: 1`) when `client` already has `perClient` admitted;
   *   ExpectedError 503 `Busy` (`Retry-After: 1`) when `queueLength` are already waiting.
   */
  async run<T>(client: string, work: () => Promise<T>): Promise<T> {
    const admitted = this.byClient.get(client) ?? 0;
    if (admitted >= this.options.perClient) {
      throw new TooManyRequestsError(
        1,
        `At most ${this.options.perClient} search(es) with patterns at once: wait for the previous one`,
      );
    }
    this.byClient.set(client, admitted + 1);
    try {
      return await this.queue.run(work);
    } finally {
      const left = (this.byClient.get(client) ?? 1) - 1;
      if (left > 0) this.byClient.set(client, left);
      else this.byClient.delete(client);
    }
  }

  /** Expensive reads running now, waiting now, and the most that ever ran at once. */
  stats(): { active: number; waiting: number; peak: number } {
    return this.queue.stats();
  }
}
