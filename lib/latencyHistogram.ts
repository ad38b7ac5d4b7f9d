/**
 * Durations in a log-scale histogram that several instances can add together (lib/stats.ts sends one over
 * the bus in each instance's report). Bucket `i` counts the durations in `(MIN_MS·R^(i-1), MIN_MS·R^i]` ms
 * with `R = 2^(1/16)`: a percentile read from it is within ±2.2 % of the true one (the bucket's geometric
 * middle), whatever the range, from 0.01 ms to minutes. Recording a duration is one logarithm and one map
 * update; the buckets in use are at most a few hundred, kept sparse.
 */

/** Durations up to this many ms share bucket 0. */
const MIN_MS = 0.01;
/** Buckets per doubling of the duration. */
const STEPS = 16;
/** The last bucket: durations past `MIN_MS·2^27` ms (about 22 minutes) are counted in it. */
const MAX_INDEX = STEPS * 27;

/** Sparse buckets as they travel in JSON: `[index, count]` pairs, by index. */
export type HistogramBuckets = Array<[number, number]>;

export class LatencyHistogram {
  private readonly buckets = new Map<number, number>();
  /** Durations recorded (or added). */
  count = 0;

  /** Counts one duration, in ms (negative or not finite: ignored). */
  record(ms: number): void {
    if (!(ms >= 0) || ms === Number.POSITIVE_INFINITY) return;
    const index = ms <= MIN_MS ? 0 : Math.min(MAX_INDEX, Math.ceil(Math.log2(ms / MIN_MS) * STEPS));
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count++;
  }

  /**
   * Adds another histogram's counts, or buckets as {@link toJSON} gives them (from another instance);
   * entries that are not `[index, count]` pairs of whole numbers in range are skipped.
   */
  add(other: LatencyHistogram | readonly unknown[]): this {
    const entries = other instanceof LatencyHistogram ? other.buckets.entries() : other;
    for (const entry of entries) {
      if (!Array.isArray(entry)) continue;
      const [index, count] = entry as unknown[];
      if (!Number.isInteger(index) || !Number.isInteger(count)) continue;
      if ((index as number) < 0 || (index as number) > MAX_INDEX || (count as number) <= 0) continue;
      this.buckets.set(index as number, (this.buckets.get(index as number) ?? 0) + (count as number));
      this.count += count as number;
    }
    return this;
  }

  /**
   * The duration below which a fraction `q` (0–1) of the recorded ones fall, in ms: the geometric middle of
   * the bucket holding it. 0 when nothing was recorded.
   */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.count));
    let seen = 0;
    for (const [index, count] of this.toJSON()) {
      seen += count;
      if (seen >= rank) return index === 0 ? MIN_MS : MIN_MS * 2 ** ((index - 0.5) / STEPS);
    }
    return 0; // not reached: the counts add up to `count`
  }

  /** The buckets in use as `[index, count]` pairs, by index. */
  toJSON(): HistogramBuckets {
    return [...this.buckets.entries()].sort((a, b) => a[0] - b[0]);
  }
}
