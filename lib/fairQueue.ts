import pLimit from 'p-limit';
import { TooManyRequestsError } from './errors.js';
import { WorkQueue } from './workQueue.js';

/** Bounds and messages of a {@link FairQueue}. */
export interface FairQueueOptions {
  /** Jobs running at once in the process. */
  concurrency: number;
  /** Jobs of all clients waiting for a place; one more is refused with 503 `Busy`. */
  queueLength: number;
  /** Jobs of one client running (or waiting for a place) at once. */
  perClient: number;
  /** Jobs of one client waiting behind its own; one more is refused with 429. */
  perClientQueue: number;
  /** The message of the 503, e.g. "Too many expensive reads at once: retry in a moment". */
  busyMessage: string;
  /** The message of the 429, e.g. "Wait for your previous searches". */
  tooManyMessage: string;
}

/**
 * A bounded queue of costly work that is fair between clients: the process runs at most `concurrency`
 * jobs at once with at most `queueLength` waiting ({@link WorkQueue}: 503 `Busy` past it), and each
 * client — whatever the caller names a client: a user, an address — has at most `perClient` jobs in
 * that queue, with `perClientQueue` more waiting behind its own (429 `TooManyRequests` at once past it).
 * So one client's burst waits behind itself: another client's job waits for at most `perClient` jobs of
 * each client ahead of it, however many that client sent.
 */
export class FairQueue {
  private readonly queue: WorkQueue;
  /** Clients with jobs admitted (running or waiting), each with its own queue. */
  private readonly clients = new Map<string, { admitted: number; limit: ReturnType<typeof pLimit> }>();

  constructor(private options: FairQueueOptions) {
    this.queue = new WorkQueue(options);
  }

  /** Applies new bounds (after a config change); jobs already admitted are not affected. */
  configure(options: Omit<FairQueueOptions, 'busyMessage' | 'tooManyMessage'>): void {
    this.options = { ...this.options, ...options };
    this.queue.configure(options);
  }

  /**
   * Runs `job` once the client's turn comes and a place is free; resolves or rejects as it does.
   * @param client who asks, e.g. `user:<tenantId>:<id>` or `address:<ip>`; undefined for work no client
   *   asked for (the process's own), bounded by the process-wide limits only.
   * @throws TooManyRequestsError (429, `Retry-After: 1`) when `client` already has `perClient +
   *   perClientQueue` admitted; ExpectedError 503 `Busy` (`Retry-After: 1`) when its turn comes and
   *   `queueLength` jobs of all clients already wait.
   */
  async run<T>(client: string | undefined, job: () => Promise<T>): Promise<T> {
    if (client === undefined) return this.queue.run(job);
    const { perClient, perClientQueue } = this.options;
    let entry = this.clients.get(client);
    if (!entry) {
      entry = { admitted: 0, limit: pLimit(perClient) };
      this.clients.set(client, entry);
    }
    if (entry.admitted >= perClient + perClientQueue) {
      throw new TooManyRequestsError(1, this.options.tooManyMessage);
    }
    entry.admitted++;
    try {
      return await entry.limit(() => this.queue.run(job));
    } finally {
      if (--entry.admitted === 0) this.clients.delete(client);
    }
  }

  /** Jobs running now, waiting for a place now, and the most that ever ran at once. */
  stats(): { active: number; waiting: number; peak: number } {
    return this.queue.stats();
  }
}
