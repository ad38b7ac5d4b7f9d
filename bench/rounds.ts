/**
 * Alternating rounds: how `npm run bench` compares servers on a machine whose speed drifts.
 *
 * One phase per server is not a measurement: the same build gave Flux HTTP get 0.62, 0.92 and 1.02 ×
 * Feathers in three runs of one 5-second phase each. So the servers of a comparison all run at once (an
 * idle server costs little: idle Flux used about 17 ms of CPU per second here), and each round measures one
 * phase of every server of every scenario in turn — peer, Flux, then the next scenario — before the next
 * round starts. Whatever slows the machine for a while lands in one round of many scenarios rather than in
 * every round of one, and the two phases of a ratio are seconds apart. A ratio (Flux over a peer) is taken
 * per round; its median over the rounds is the figure, shown with the min–max of the rounds.
 *
 * This module knows nothing of processes or servers: a contender is a name and a function that runs one
 * phase. bench/run.ts wires it to the load generator.
 */

/** What one phase measured on one server. */
export interface Sample {
  rps: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
  /** Server CPU (user + system) per request served, µs. */
  cpuUsPerRequest: number;
  errors: number;
}

/** One server's side of a comparison: its name, and how to run one phase of the scenario against it. */
export interface Contender {
  server: string;
  phase: (seconds: number) => Promise<Sample>;
}

/** One scenario (a request over a transport) asked of several servers. */
export interface Comparison {
  scenario: string;
  transport: 'http' | 'socket';
  /** In the order of each round: peers first, the reference (Flux) last. */
  contenders: Contender[];
  /** Runs after each phase: the create scenarios delete the rows they added, so every phase reads the same. */
  afterPhase?: () => Promise<void>;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** A row of the results table: one server in one scenario. */
export interface Row {
  scenario: string;
  transport: 'http' | 'socket';
  server: string;
  /** Medians over the rounds (one phase's figures where there are no rounds). */
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerRequest: number;
  /** Errors of every round, summed. */
  errors: number;
  rounds?: number;
  cpuUsPerRequestByRound?: number[];
  /** Flux's CPU per request over this server's, per round: median and min–max (peers only). */
  fluxCpuRatio?: Spread;
  /** Flux's requests/s over this server's, per round: median and min–max (peers only). */
  fluxRpsRatio?: Spread;
}

export interface RoundsOptions {
  rounds: number;
  /** Length of each measured phase. */
  seconds: number;
  /** One unrecorded phase of this length per contender before the first round (JIT, pools, caches). */
  warmUpSeconds: number;
  log: (line: string) => void;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median and range of `values`, to two decimals. */
export function spread(values: number[]): Spread {
  const round = (value: number) => Number(value.toFixed(2));
  return {
    median: round(median(values)),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
  };
}

/**
 * Runs `options.rounds` rounds of every comparison, after a warm-up phase of each contender.
 * @returns the samples of each comparison, per contender, per round: `[comparison][contender][round]`
 */
export async function runRounds(comparisons: Comparison[], options: RoundsOptions): Promise<Sample[][][]> {
  options.log(`warm-up: ${options.warmUpSeconds} s per server and scenario, not recorded`);
  for (const comparison of comparisons)
    for (const contender of comparison.contenders) {
      await contender.phase(options.warmUpSeconds);
      await comparison.afterPhase?.();
    }
  const samples = comparisons.map((comparison) => comparison.contenders.map((): Sample[] => []));
  for (let round = 1; round <= options.rounds; round++) {
    options.log(`round ${round} of ${options.rounds}`);
    for (const [c, comparison] of comparisons.entries())
      for (const [i, contender] of comparison.contenders.entries()) {
        const sample = await contender.phase(options.seconds);
        await comparison.afterPhase?.();
        samples[c][i].push(sample);
        options.log(
          `  ${comparison.scenario} ${comparison.transport} ${contender.server}: ${describe(sample)}`,
        );
      }
  }
  return samples;
}

/** One phase in a log line. */
export function describe(sample: Sample): string {
  const errors = sample.errors ? `, ${sample.errors} errors` : '';
  return `${Math.round(sample.rps)} req/s, p50 ${sample.p50} ms, p99 ${sample.p99} ms, ${sample.cpuUsPerRequest.toFixed(1)} µs CPU/req${errors}`;
}

/**
 * The rows of one comparison: each server's medians over the rounds, and for each peer the ratios of
 * `reference` to it, round by round (the two phases of a round ran seconds apart).
 */
export function summarize(comparison: Comparison, samples: Sample[][], reference = 'flux'): Row[] {
  const at = comparison.contenders.findIndex((contender) => contender.server === reference);
  return comparison.contenders.map((contender, i) => {
    const own = samples[i];
    const row: Row = {
      scenario: comparison.scenario,
      transport: comparison.transport,
      server: contender.server,
      rps: Math.round(median(own.map((sample) => sample.rps))),
      p50: Number(median(own.map((sample) => sample.p50)).toFixed(2)),
      p99: Number(median(own.map((sample) => sample.p99)).toFixed(2)),
      cpuUsPerRequest: Number(median(own.map((sample) => sample.cpuUsPerRequest)).toFixed(1)),
      errors: own.reduce((sum, sample) => sum + sample.errors, 0),
      rounds: own.length,
      cpuUsPerRequestByRound: own.map((sample) => Number(sample.cpuUsPerRequest.toFixed(1))),
    };
    if (at < 0 || at === i) return row;
    const theirs = samples[at];
    row.fluxCpuRatio = spread(own.map((sample, r) => theirs[r].cpuUsPerRequest / sample.cpuUsPerRequest));
    row.fluxRpsRatio = spread(own.map((sample, r) => theirs[r].rps / sample.rps));
    return row;
  });
}
