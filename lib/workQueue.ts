import pLimit from 'p-limit';
import { ExpectedError } from './errors.js';

/** Bounds of a {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Jobs running at once. */
  concurrency: number;
  /** Jobs that may wait their turn; one more is refused with 503 `Busy`. */
  queueLength: number;
  /** The message of that 503, e.g. "Too many images are being processed: retry in a moment". */
  busyMessage: string;
}

/**
 * A bounded queue of costly work (p-limit): at most `concurrency` jobs run at once, at most `queueLength`
 * wait, and past that a job is refused at once with 503 `Busy` and `Retry-After: 1`, since the server is
 * full whoever asks. For work that holds a scarce resource for long: a libuv pool thread (bcrypt, image
 * decoding), a database connection (a scan).
 */
export class WorkQueue {
  private readonly limit: ReturnType<typeof pLimit>;
  /** Admitted (running or waiting), running, and the most that ever ran at once. */
  private readonly counts = { admitted: 0, active: 0, peak: 0 };

  constructor(private options: WorkQueueOptions) {
    this.limit = pLimit(options.concurrency);
  }

  /** Applies new bounds (after a config change); jobs already admitted are not affected. */
  configure(options: Omit<WorkQueueOptions, 'busyMessage'>): void {
    this.options = { ...this.options, ...options };
    if (this.limit.concurrency !== options.concurrency) this.limit.concurrency = options.concurrency;
  }

  /**
   * Runs `job` once a place is free; resolves or rejects as it does.
   * @throws ExpectedError 503 `Busy` (`Retry-After: 1`) when `queueLength` jobs already wait.
   */
  async run<T>(job: () => Promise<T>): Promise<T> {
    // counted here, synchronously: p-limit starts its jobs a microtask later, so its own counts lag
    // behind a burst of calls
    if (this.counts.admitted >= this.options.concurrency + this.options.queueLength) {
      throw new ExpectedError(503, 'Busy', this.options.busyMessage, { headers: { 'Retry-After': '1' } });
    }
    this.counts.admitted++;
    try {
      return await this.limit(async () => {
        this.counts.active++;
        this.counts.peak = Math.max(this.counts.peak, this.counts.active);
        try {
          return await job();
        } finally {
          this.counts.active--;
        }
      });
    } finally {
      this.counts.admitted--;
    }
  }

  /** Jobs running now, waiting now, and the most that ever ran at once. */
  stats(): { active: number; waiting: number; peak: number } {
    const { admitted, active, peak } = this.counts;
    return { active, waiting: admitted - active, peak };
  }
}
