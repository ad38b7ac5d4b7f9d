import type { Registry } from 'prom-client';

/** The labels of one request's duration, in the order they are exposed. */
export interface RequestLabels {
  method: string;
  /** The route pattern (never the raw URL), or `unmatched`. */
  route: string;
  status: string;
  transport: string;
}

/** One label set's counts: per bucket (not cumulative), sum and count. */
interface Series {
  labels: RequestLabels;
  buckets: number[];
  sum: number;
  count: number;
}

/** A value as prom-client's registry reads it from a histogram. */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: RequestLabels;
  value: number;
  metricName: string;
  exemplar?: null;
}

/**
 * A Prometheus histogram of request durations in seconds, labelled by method, route, status and transport,
 * registered in a prom-client registry and read by it exactly like a prom-client `Histogram` (the same
 * values in the same order, so the same `/metrics` text and the same `get()`). It exists because
 * prom-client's `observe` validates and hashes the labels object on every call, which was a tenth of the
 * CPU a socket request costs Flux beyond socket.io (docs/performance.md); here a label set is found by one
 * string key, and its bucket by a scan of the bounds.
 */
export class RequestDurations {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();
  private readonly bounds: readonly number[];

  /**
   * @param options.buckets upper bounds in seconds, increasing (`+Inf` is implied)
   * @param options.registers the registries that expose it
   * @throws Error when a registry holds another metric of that name (as prom-client does)
   */
  constructor(readonly options: { name: string; help: string; buckets: number[]; registers: Registry[] }) {
    this.bounds = [...options.buckets];
    for (const registry of options.registers)
      registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  get name(): string {
    return this.options.name;
  }

  get help(): string {
    return this.options.help;
  }

  /**
   * Counts one duration.
   * @param seconds the request's duration, in seconds
   * @throws TypeError when `seconds` is not a finite number (as prom-client's `observe` does)
   */
  observe(labels: RequestLabels, seconds: number): void {
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`);
    const key = `${labels.method}\n${labels.route}\n${labels.status}\n${labels.transport}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels, buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]) {
        series.buckets[i]++;
        break;
      }
    }
    series.sum += seconds;
    series.count++;
  }

  /** Forgets every count (`registry.resetMetrics()`). */
  reset(): void {
    this.series.clear();
  }

  /** What the registry formats: per label set, the cumulative buckets, `+Inf`, the sum and the count. */
  async getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values: ExportedValue[] = [];
    for (const { labels, buckets, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += buckets[i];
        values.push({
          labels: { le },
          sharedLabels: labels,
          value: cumulative,
          metricName: bucket,
          exemplar: null,
        });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The values with their labels merged (`le` first), as prom-client's `Histogram.get()` gives them. */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...value }) => ({
        ...value,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }
}
