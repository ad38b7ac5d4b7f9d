/**
 * The client part of `npm run bench` (`BENCH_ONLY=client`; also alone: `npx tsx bench/client.ts`).
 *
 * 1. Bundle size: @flux/client for the browser (bench/clientBundle.ts: esbuild, ESM, minified), gzipped at
 *    level 9, without socket.io-client (target ≤ 10 KB) and, for information, with it.
 * 2. Live query event cost: the real `LiveQueries` / `LiveQuery` (client/src/LiveQuery.ts) on an in-memory
 *    feed, no server. The "server" is an authoritative store of alerts in this process: each event is
 *    generated against it and applied to it, then handed to the feed's `change` handler; its `find`
 *    answers the current first `limit` matching items (`compileFilter`, and kept in the query's order;
 *    checked against `compileSort` from scratch after each round), as fresh copies. One live query of alerts, filtered (`severity` in warning, serious;
 *    `receiverTeamId` not null), sorted (`severity`, then `-createdAt`), limit 1,000, with about 2,160
 *    matching alerts of 3,000 on the server so that the window is full. A listener is subscribed, as a UI
 *    would. Events are paced at BENCH_CLIENT_RATE per second of wall time (default 1,000; sent every
 *    BENCH_CLIENT_TICK_MS, default 10, those then due), each in its own macrotask (as socket messages
 *    arrive), for BENCH_CLIENT_SECONDS (default 5) after 1 s of warm-up. Mix: 10 % created, 10 % destroyed, 80 % updated (half of the updates change the title only,
 *    half draw severity and receiver again: items move within the order, leave or enter the filter); half of
 *    the items touched are in the window, half anywhere.
 *
 *    CPU is the process's (`process.cpuUsage()`, user + system) over the measured period, divided by its
 *    wall time: % of one core. It is reported gross, and net of what is not the client: the harness (the
 *    same pacing, event generation and store, without the live query: measured alone for 2 s per round)
 *    and the server side of each re-read (`find`, timed inline). µs per event is the net CPU divided by the
 *    events. At the end of each round, once the events stop, the live query's items must equal the
 *    authoritative answer computed from scratch within 2 s (reads in flight landing): OK or MISMATCH.
 *    BENCH_CLIENT_ROUNDS rounds (default 5): median and min–max.
 *
 * BENCH_CLIENT_FIND_MS (default 0) delays each `find`'s answer, as a round trip would (events meanwhile
 * queue in the query and further re-reads coalesce). BENCH_CLIENT_PROFILE=<file.cpuprofile> profiles the
 * measured period of round 1 (which the profiler slows). Prints a `result {…}` line on stdout for
 * bench/run.ts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { attributeKinds } from '../client/src/generated/schema.js';
import {
  type LiveFeedHandlers,
  type LiveParams,
  LiveQueries,
  type LiveQuery,
} from '../client/src/LiveQuery.js';
import { type AttributeKinds, compileFilter, compileSort } from '../client/src/query.js';
import { bundleClient, bundleSize } from './clientBundle.js';

/** An alert as replies and events carry it (api/models/Alert.ts: dates as ISO strings). */
type Alert = {
  id: number;
  tenantId: number;
  title: string;
  severity: 'done' | 'warning' | 'serious';
  message: string | null;
  senderTeamId: number | null;
  receiverTeamId: number | null;
  buttonId: number | null;
  users: number[];
  createdAt: string;
  updatedAt: string;
};
type ModelEventPayload = Parameters<LiveFeedHandlers['change']>[0];

const SECONDS = Number(process.env.BENCH_CLIENT_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_CLIENT_ROUNDS ?? 5);
const RATE = Number(process.env.BENCH_CLIENT_RATE ?? 1000);
const FIND_MS = Number(process.env.BENCH_CLIENT_FIND_MS ?? 0);
const TICK_MS = Number(process.env.BENCH_CLIENT_TICK_MS ?? 10);
const PROFILE = process.env.BENCH_CLIENT_PROFILE;
const WARM_UP_SECONDS = 1;
const BASELINE_SECONDS = 2;
/** How long the items may take to equal the answer once the events stop (reads in flight), ms. */
const SETTLE_MS = 2000;
const ITEMS = 3000;
const LIMIT = 1000;
const TARGET_BUNDLE_KB = 10;
const TARGET_CORE_PERCENT = 5;

/** The alert's attribute kinds, from the client's generated schema. */
const kinds: AttributeKinds = attributeKinds.alert!;
const params: LiveParams<Alert> = {
  filters: { severity: { in: ['warning', 'serious'] }, receiverTeamId: { ne: null } },
  sort: ['severity', '-createdAt'],
  limit: LIMIT,
};
const matches = compileFilter(params.filters, kinds);
const compare = compileSort(params.sort as string[], kinds) as (a: Alert, b: Alert) => number;
/**
 * The same order as `compare` for these items, cheaper (the harness's cost is noise to subtract): the
 * severities are ASCII, the dates ISO strings of one format, no value is null. Checked against `compare`
 * at the end of every round.
 */
const storeOrder = (a: Alert, b: Alert): number =>
  a.severity !== b.severity
    ? a.severity < b.severity
      ? -1
      : 1
    : a.createdAt !== b.createdAt
      ? a.createdAt > b.createdAt
        ? -1
        : 1
      : a.id - b.id;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A seeded pseudo-random generator (mulberry32): the same events for the same seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where `item` is, or goes, in `list` in the query's order (the order is total: ids break ties). */
function position(list: Alert[], item: Alert): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (storeOrder(list[middle], item) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The server: every alert by id, and the matching ones in the query's order (kept incrementally, so
 * that `find` costs a copy of the window, not a sort). Items are never mutated: an update replaces one.
 */
class Store {
  readonly byId = new Map<number, Alert>();
  /** Ids in an array, for a uniform pick; `slot` is each id's index there. */
  private readonly ids: number[] = [];
  private readonly slot = new Map<number, number>();
  readonly ordered: Alert[] = [];
  private nextId = 1;
  /** Simulated time (ms): one millisecond per event, so every update is newer than the last. */
  private clock = Date.UTC(2026, 10, 1);
  readonly random: () => number;

  constructor(seed: number) {
    this.random = random(seed);
    const month = 30 * 24 * 3600 * 1000;
    for (let i = 0; i < ITEMS; i++) this.put(this.newAlert(this.clock - Math.floor(this.random() * month)));
  }

  private newAlert(createdAt: number): Alert {
    const date = new Date(createdAt).toISOString();
    const { severity, receiverTeamId } = this.draw();
    return {
      id: this.nextId++,
      tenantId: 1,
      title: `Alert ${this.nextId}`,
      severity,
      message: this.random() < 0.5 ? null : 'Besoin de renfort au bar sud',
      senderTeamId: 1 + Math.floor(this.random() * 20),
      receiverTeamId,
      buttonId: null,
      users: [],
      createdAt: date,
      updatedAt: date,
    };
  }

  /** Severity (serious 30 %, warning 50 %, done 20 %) and receiver (none 10 %): 72 % match. */
  private draw(): Pick<Alert, 'severity' | 'receiverTeamId'> {
    const r = this.random();
    return {
      severity: r < 0.3 ? 'serious' : r < 0.8 ? 'warning' : 'done',
      receiverTeamId: this.random() < 0.1 ? null : 1 + Math.floor(this.random() * 20),
    };
  }

  private put(item: Alert): void {
    const old = this.byId.get(item.id);
    if (old) {
      if (matches(old)) this.ordered.splice(position(this.ordered, old), 1);
    } else {
      this.slot.set(item.id, this.ids.length);
      this.ids.push(item.id);
    }
    this.byId.set(item.id, item);
    if (matches(item)) this.ordered.splice(position(this.ordered, item), 0, item);
  }

  private delete(item: Alert): void {
    if (matches(item)) this.ordered.splice(position(this.ordered, item), 1);
    this.byId.delete(item.id);
    const index = this.slot.get(item.id)!;
    const last = this.ids.pop()!;
    if (last !== item.id) {
      this.ids[index] = last;
      this.slot.set(last, index);
    }
    this.slot.delete(item.id);
  }

  /** An existing item: half the time one of the query's window, half the time any. */
  private pick(): Alert {
    if (this.random() < 0.5 && this.ordered.length > 0)
      return this.ordered[Math.floor(this.random() * Math.min(LIMIT, this.ordered.length))];
    return this.byId.get(this.ids[Math.floor(this.random() * this.ids.length)])!;
  }

  /** Makes the next change and returns its event (its data a copy, as if decoded from the wire). */
  next(): ModelEventPayload {
    this.clock += 1;
    const r = this.random();
    if (r < 0.1) {
      const item = this.newAlert(this.clock);
      this.put(item);
      return { verb: 'created', id: item.id, data: { ...item } };
    }
    const old = this.pick();
    if (r < 0.2) {
      this.delete(old);
      return { verb: 'destroyed', id: old.id, data: { ...old } };
    }
    const item: Alert = {
      ...old,
      title: `Alert ${old.id} (${this.clock})`,
      updatedAt: new Date(this.clock).toISOString(),
      ...(this.random() < 0.5 ? this.draw() : {}),
    };
    this.put(item);
    return { verb: 'updated', id: item.id, data: { ...item } };
  }

  /** What `find` answers now: the first `limit` matching items, as fresh objects. */
  find(limit: number): Alert[] {
    return this.ordered.slice(0, limit).map((item) => ({ ...item }));
  }

  /** The answer computed from scratch, to check both the store and the live query. */
  answer(): Alert[] {
    return [...this.byId.values()].filter(matches).sort(compare).slice(0, LIMIT);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Calls `event` RATE times a second of wall time for `seconds` (event k due at k / RATE s), each call in
 * its own macrotask (microtasks, such as a re-read's answer, run between two events). The process wakes
 * every TICK_MS and sends the events then due: waking a process costs some 50 µs of CPU here, a thousand
 * wake-ups a second would be 5 % of a core of harness to subtract. Returns the process's CPU time (µs)
 * and the wall time (ms) of the period.
 */
async function drive(seconds: number, event: () => void): Promise<{ cpuUs: number; wallMs: number }> {
  const total = Math.round(seconds * RATE);
  const cpu = process.cpuUsage();
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * RATE) / 1000) + 1);
    while (sent < due) {
      event();
      sent++;
      await nextTurn();
    }
    const now = performance.now() - start;
    const wait = Math.max((sent * 1000) / RATE, Math.ceil(now / TICK_MS) * TICK_MS) - now;
    if (sent < total && wait > 0) await sleep(wait);
  }
  await nextTurn();
  const used = process.cpuUsage(cpu);
  return { cpuUs: used.user + used.system, wallMs: performance.now() - start };
}

interface Round {
  grossPercent: number;
  harnessPercent: number;
  serverPercent: number;
  netPercent: number;
  netUsPerEvent: number;
  events: number;
  /** Events per second of wall time actually sent over the measured period. */
  eventsPerSecond: number;
  refetchesPerSecond: number;
  notifications: number;
  consistent: boolean;
  mismatch?: string;
}

/** The harness alone: the same pacing, events and store, delivered to nobody. */
async function harness(seed: number): Promise<number> {
  const store = new Store(seed);
  await drive(WARM_UP_SECONDS / 2, () => store.next());
  const { cpuUs, wallMs } = await drive(BASELINE_SECONDS, () => store.next());
  return cpuUs / (wallMs * 10);
}

/** Runs `run` under V8's sampling profiler and writes the profile to `file` (for Chrome's DevTools). */
async function profiled<R>(file: string, run: () => Promise<R>): Promise<R> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    log(`    (round 1's measured period profiled: ${file})`);
  }
}

async function liveRound(seed: number): Promise<Round> {
  const store = new Store(seed);
  let handlers: LiveFeedHandlers | undefined;
  let finds = 0;
  let serverUs = 0;
  const queries = new LiveQueries(
    (_model, feedHandlers) => {
      handlers = feedHandlers;
      return {
        find: async (find) => {
          finds++;
          // synchronous work: its wall time is its CPU time (and costs less to read than cpuUsage)
          const start = performance.now();
          const items = store.find(find.limit ?? LIMIT);
          serverUs += (performance.now() - start) * 1000;
          if (FIND_MS > 0) await sleep(FIND_MS);
          return items;
        },
        close() {},
      };
    },
    () => kinds,
  );
  const query: LiveQuery<Alert> = queries.open<Alert>('alert', params);
  await query.ready;
  if (query.items.length !== LIMIT) throw new Error(`the window holds ${query.items.length} items`);
  let notifications = 0;
  let shown = 0;
  query.subscribe((items) => {
    notifications++;
    shown = items.length;
  });
  const deliver = () => handlers!.change(store.next());

  await drive(WARM_UP_SECONDS, deliver);
  const before = { finds, notifications };
  serverUs = 0;
  const measure = () => drive(SECONDS, deliver);
  const { cpuUs, wallMs } = PROFILE && seed === 1 ? await profiled(PROFILE, measure) : await measure();
  const refetches = finds - before.finds;
  const measured = { serverUs, notifications: notifications - before.notifications };

  // the events stop: the items must become the answer computed from scratch once the reads in flight
  // (or scheduled) land; given up to SETTLE_MS
  const expected = store.answer();
  const text = JSON.stringify(expected);
  let mismatch: string | undefined;
  if (JSON.stringify(store.ordered.slice(0, LIMIT)) !== text)
    mismatch = 'the benchmark store itself is out of order (a bug of the benchmark)';
  const settled = performance.now();
  while (JSON.stringify(query.items) !== text && performance.now() - settled < SETTLE_MS) await sleep(5);
  const got = query.items;
  if (!mismatch && JSON.stringify(got) !== text) {
    const at = expected.findIndex((item, i) => JSON.stringify(item) !== JSON.stringify(got[i]));
    mismatch = `${got.length} items, expected ${expected.length}; first difference at ${at}: got ${JSON.stringify(got[at] ?? null)}, expected ${JSON.stringify(expected[at] ?? null)}`;
  }
  if (shown !== got.length && measured.notifications > 0) mismatch ??= 'the listener saw another list';
  query.close();

  const grossPercent = cpuUs / (wallMs * 10);
  const serverPercent = measured.serverUs / (wallMs * 10);
  return {
    grossPercent,
    harnessPercent: 0,
    serverPercent,
    netPercent: 0,
    netUsPerEvent: 0,
    events: Math.round(SECONDS * RATE),
    eventsPerSecond: (SECONDS * RATE) / (wallMs / 1000),
    refetchesPerSecond: refetches / (wallMs / 1000),
    notifications: measured.notifications,
    consistent: mismatch === undefined,
    mismatch,
  };
}

/** Median and range of `values`, rounded to `digits`. */
function spread(values: number[], digits = 2): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  const round = (value: number) => Number(value.toFixed(digits));
  return { median: round(median), min: round(sorted[0]), max: round(sorted.at(-1) as number) };
}

const show = ({ median, min, max }: { median: number; min: number; max: number }, unit = '') =>
  `${median}${unit} (${min}–${max})`;

async function bundle() {
  const without = await bundleClient();
  const withSocketIo = await bundleClient({ withSocketIo: true });
  const kb = (bytes: number) => Number((bytes / 1024).toFixed(2));
  const a = bundleSize(without);
  const b = bundleSize(withSocketIo);
  const result = {
    minifiedKB: kb(a.minified),
    gzippedKB: kb(a.gzipped),
    withSocketIo: { minifiedKB: kb(b.minified), gzippedKB: kb(b.gzipped) },
    targetKB: TARGET_BUNDLE_KB,
    met: a.gzipped <= TARGET_BUNDLE_KB * 1024,
  };
  log(
    `  bundle of @flux/client (esm, browser, minified, gzip -9), without socket.io-client: ${result.gzippedKB} KB (${result.minifiedKB} KB minified) — target ≤ ${TARGET_BUNDLE_KB} KB: ${result.met ? 'met' : 'NOT MET'}`,
  );
  log(
    `  with socket.io-client, for information: ${result.withSocketIo.gzippedKB} KB (${result.withSocketIo.minifiedKB} KB minified)`,
  );
  return result;
}

/** JSON decoding of one re-read's reply (1,000 alerts), which a real client pays and this one does not. */
function decodeCostUs(): number {
  const text = JSON.stringify(new Store(0).find(LIMIT));
  for (let i = 0; i < 20; i++) JSON.parse(text);
  const start = performance.now();
  for (let i = 0; i < 50; i++) JSON.parse(text);
  return Math.round(((performance.now() - start) * 1000) / 50);
}

async function liveCost() {
  log(
    `  live query: ${LIMIT} of ~${Math.round(ITEMS * 0.72)} matching alerts (${ITEMS} in all), ${RATE} events/s for ${SECONDS} s after ${WARM_UP_SECONDS} s of warm-up, ${ROUNDS} rounds${FIND_MS ? `, find answered after ${FIND_MS} ms` : ''}`,
  );
  const rounds: Round[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const round = await liveRound(i);
    round.harnessPercent = await harness(i);
    round.netPercent = round.grossPercent - round.harnessPercent - round.serverPercent;
    round.netUsPerEvent = (round.netPercent * 10_000) / RATE;
    rounds.push(round);
    log(
      `    round ${i}: ${round.events} events at ${round.eventsPerSecond.toFixed(0)}/s, ${round.grossPercent.toFixed(2)} % of a core gross, harness ${round.harnessPercent.toFixed(2)} %, server side of re-reads ${round.serverPercent.toFixed(2)} % → live query ${round.netPercent.toFixed(2)} % (${round.netUsPerEvent.toFixed(1)} µs/event); ${round.refetchesPerSecond.toFixed(1)} re-reads/s, ${round.notifications} notifications; items ${round.consistent ? 'OK' : `MISMATCH: ${round.mismatch}`}`,
    );
  }
  const result = {
    rate: RATE,
    seconds: SECONDS,
    rounds: ROUNDS,
    limit: LIMIT,
    storeItems: ITEMS,
    findLatencyMs: FIND_MS,
    netCorePercent: spread(rounds.map((r) => r.netPercent)),
    netUsPerEvent: spread(
      rounds.map((r) => r.netUsPerEvent),
      1,
    ),
    grossCorePercent: spread(rounds.map((r) => r.grossPercent)),
    harnessCorePercent: spread(rounds.map((r) => r.harnessPercent)),
    serverCorePercent: spread(rounds.map((r) => r.serverPercent)),
    refetchesPerSecond: spread(
      rounds.map((r) => r.refetchesPerSecond),
      1,
    ),
    decodeUsPerRefetch: decodeCostUs(),
    consistent: rounds.every((r) => r.consistent),
    targetCorePercent: TARGET_CORE_PERCENT,
    met: false,
  };
  result.met = result.netCorePercent.median <= TARGET_CORE_PERCENT;
  log(
    `  live query, median (min–max) of ${ROUNDS} rounds: ${show(result.netCorePercent, ' %')} of one core, ${show(result.netUsPerEvent, ' µs')} per event (gross ${show(result.grossCorePercent, ' %')}, harness ${show(result.harnessCorePercent, ' %')}, server side ${show(result.serverCorePercent, ' %')}); ${show(result.refetchesPerSecond)} re-reads/s — target ≤ ${TARGET_CORE_PERCENT} %: ${result.met ? 'met' : 'NOT MET'}; items ${result.consistent ? 'OK' : 'MISMATCH'}`,
  );
  log(
    `  (not counted: decoding a re-read's reply of ${LIMIT} alerts costs ${result.decodeUsPerRefetch} µs of JSON.parse here)`,
  );
  return result;
}

log('client (@flux/client): bundle size and live query event cost');
const result = { bundle: await bundle(), live: await liveCost() };
process.stdout.write(`result ${JSON.stringify(result)}\n`);
