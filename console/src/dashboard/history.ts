import type { StatsPayload } from '@flux/client';

/** One `stats` snapshot and when the console received it (ms since epoch, this device's clock). */
export interface Sample {
  receivedAt: number;
  stats: StatsPayload;
}

/**
 * The last minutes of `stats` snapshots, oldest first: a ring buffer of at most `capacity` samples, of
 * which those older than `spanMs` before the newest are dropped. Dated by arrival rather than by the
 * server's `at`, so that a reconnection to an instance with another clock never sends the charts back in
 * time.
 */
export class StatsHistory {
  private readonly ring: Array<Sample | undefined>;
  private start = 0;
  private size = 0;

  constructor(
    readonly spanMs = 5 * 60_000,
    readonly capacity = 1_500,
  ) {
    this.ring = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** The newest sample, if any. */
  get latest(): Sample | undefined {
    return this.size ? this.at(this.size - 1) : undefined;
  }

  /** Adds a snapshot received at `receivedAt`; overwrites the oldest when full, drops the too old. */
  push(stats: StatsPayload, receivedAt: number): void {
    if (this.size === this.capacity) {
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
    this.ring[(this.start + this.size) % this.capacity] = { receivedAt, stats };
    this.size++;
    while (this.size > 1 && this.at(0).receivedAt < receivedAt - this.spanMs) {
      this.ring[this.start] = undefined;
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
  }

  /** The samples, oldest first. */
  samples(): Sample[] {
    return Array.from({ length: this.size }, (_, i) => this.at(i));
  }

  /** The median time between two samples (ms), once there are three; the server's `stats.intervalMs`. */
  interval(): number | null {
    if (this.size < 3) return null;
    const gaps: number[] = [];
    for (let i = Math.max(1, this.size - 10); i < this.size; i++)
      gaps.push(this.at(i).receivedAt - this.at(i - 1).receivedAt);
    gaps.sort((a, b) => a - b);
    return gaps[Math.floor(gaps.length / 2)]!;
  }

  private at(index: number): Sample {
    return this.ring[(this.start + index) % this.capacity]!;
  }
}
