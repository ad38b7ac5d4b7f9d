import pLimit from 'p-limit';
import { TooManyRequestsError } from './errors.js';
import { WorkQueue } from './workQueue.js';

/**
 * Admission of expensive reads: those whose cost grows with the data rather than with what a client
 * usually asks (a `like` pattern scans every row the user may read; a large page builds and serializes
 * up to 1000 rows on the main thread). The statement timeout bounds one of them; this bounds how many
 * run at once, so that they never hold every database connection (or SQLite's one) or the event loop
 * while ordinary requests wait:
 *
 * - at most `concurrency` run at once in the process, at most `queueLength` wait their turn; past that,
 *   503 `Busy` with `Retry-After` ({@link WorkQueue});
 * - one client (a session, or an address for anonymous requests) has at most `perClient` of them
 *   admitted at once and `perClientQueue` more waiting behind its own; past that, 429
 *   `TooManyRequests` at once. A client's parallel expensive reads are served one after another, and
 *   one socket's requests in flight cannot fill the process queue.
 */
export interface QueryGateOptions {
  concurrency: number;
  queueLength: number;
  perClient: number;
  perClientQueue: number;
}

export class QueryGate {
  private readonly queue: WorkQueue;
  /** Clients with expensive reads admitted (running or waiting), with their own queue. */
  private readonly clients = new Map<string, { admitted: number; limit: ReturnType<typeof pLimit> }>();

  constructor(private readonly options: QueryGateOptions) {
    this.queue = new WorkQueue({
      concurrency: options.concurrency,
      queueLength: options.queueLength,
      busyMessage: 'Too many expensive reads at once: retry in a moment',
    });
  }

  /**
   * Runs `work` once the client's turn comes and a place is free.
   * @param client who asks (`session:<id>`, `address:<ip>`).
   * @throws TooManyRequestsError (429, `Retry-After: 1`) when `client` already has `perClient +
   *   perClientQueue` admitted; ExpectedError 503 `Busy` (`Retry-After: 1`) when its turn comes and
   *   `queueLength` reads of all clients are already waiting.
   */
  async run<T>(client: string, work: () => Promise<T>): Promise<T> {
    const { perClient, perClientQueue } = this.options;
    let entry = this.clients.get(client);
    if (!entry) {
      entry = { admitted: 0, limit: pLimit(perClient) };
      this.clients.set(client, entry);
    }
    if (entry.admitted >= perClient + perClientQueue) {
      throw new TooManyRequestsError(
        1,
        `At most ${perClient + perClientQueue} expensive reads (patterns, large pages) at once: wait for the previous ones`,
      );
    }
    entry.admitted++;
    try {
      return await entry.limit(() => this.queue.run(work));
    } finally {
      if (--entry.admitted === 0) this.clients.delete(client);
    }
  }

  /** Expensive reads running now, waiting for a place now, and the most that ever ran at once. */
  stats(): { active: number; waiting: number; peak: number } {
    return this.queue.stats();
  }
}
