import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Sequelize } from 'sequelize';
import { LatencyHistogram } from './latencyHistogram.js';
import type { Logger } from './log.js';
import type { StatsPayload, StatsReport } from './protocol.js';
import type { Bus } from './pubsub.js';
import type { FluxServer, FluxSocket } from './socket/types.js';

export type { StatsPayload, StatsReport } from './protocol.js';

/**
 * Live statistics for the admins rooms and `GET /stats` (docs/stats.md). Each instance runs one timer:
 * every `intervalMs` it closes a slot of its counters (requests by transport, changes published, request
 * durations), publishes one {@link StatsReport} on the bus (`stats:report`) and emits one `stats` event to
 * each admins room that has sockets on this instance, with the latest report of every instance seen within
 * the last 2.5 intervals summed ({@link StatsSummary}). Rates and latency cover the last `windowMs`. The
 * job counts read the shared queues: only the instance with the smallest id reads them, once per interval,
 * and the freshest reading counts. Nothing is done per request but a histogram update.
 */

/** Whose figures a viewer sees: every tenant's (the platform operator's view), or one tenant's. */
export type StatsView = 'platform' | { tenantId: number };

/** The admins room of the platform view: its sockets receive every tenant's figures. */
export const PLATFORM_ADMINS_ROOM = '*:admins';

/** The admins room of a view: `<tenantId>:admins`, or {@link PLATFORM_ADMINS_ROOM}. */
export function adminsRoom(view: StatsView): string {
  return view === 'platform' ? PLATFORM_ADMINS_ROOM : `${view.tenantId}:admins`;
}

/** Takes `socket` out of its admins room, if it is in one (its session ended, or its user changed). */
export function leaveAdminsRoom(socket: FluxSocket): void {
  const room = socket.data.statsRoom;
  if (room === undefined) return;
  socket.data.statsRoom = undefined;
  socket.leave(room);
}

/** Most intervals a window holds (a long window of short intervals is cut to this many). */
const MAX_SLOTS = 1_000;

/** An instance's report counts until this many of its intervals pass without a new one. */
const STALE_INTERVALS = 2.5;

type JobFigures = NonNullable<StatsReport['jobs']>;

export interface StatsOptions {
  io: FluxServer;
  bus: Bus;
  log: Logger;
  /** ms between two reports of this instance, and between two `stats` events; > 0. */
  intervalMs: number;
  /** ms covered by the rates and the latency percentiles (rounded up to whole intervals). */
  windowMs: number;
  /** Requests answered since the start, by transport (cumulative; `Metrics.requestCounts`). */
  requestCounts(): Promise<{ http: number; socket: number }>;
  /** Model changes published since the start (cumulative; `PubSub.stats.published`). */
  publishedCount(): number;
  /** Job counts by queue (`Jobs.counts`); without it the job figures are 0. */
  jobCounts?(): Promise<Record<string, { waiting: number; active: number; failed: number }>>;
  /** The database whose connections are counted ({@link poolFigures}). */
  sequelize: Sequelize;
  /** Given the work started outside a request (publishing, reading the job counts), for the stop to wait. */
  waitUntil?(work: Promise<unknown>): void;
}

/** What one interval of this instance saw. */
interface Slot {
  ms: number;
  http: number;
  socket: number;
  events: number;
  latency: LatencyHistogram;
}

export class Stats {
  /** This instance's id in the reports: unique per running process. */
  readonly instance = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** The latest report of each instance (this one's included) and when it arrived (local clock). */
  private readonly reports = new Map<string, { report: StatsReport; receivedAt: number }>();
  /** The admins rooms this instance put sockets in, with their view. */
  private readonly rooms = new Map<string, StatsView>();
  /** The closed slots of the window, oldest first. */
  private readonly slots: Slot[] = [];
  private current = new LatencyHistogram();
  private last = { at: 0, http: 0, socket: 0, events: 0 };
  private jobs?: JobFigures;
  private readingJobs = false;
  private ticking = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  /** Warnings given and not to repeat (`publish`: until a publish succeeds again). */
  private readonly warned = new Set<'publish' | 'report'>();

  constructor(private readonly options: StatsOptions) {
    options.bus.subscribe('stats:report', (report) => this.received(report));
    options.bus.subscribe('stats:gone', ({ instance }) => {
      if (instance !== this.instance) this.reports.delete(instance);
    });
  }

  /** Starts the timer, after a first report (so that `GET /stats` answers at once). */
  async start(): Promise<void> {
    const counts = await this.options.requestCounts();
    this.last = { at: Date.now(), ...counts, events: this.options.publishedCount() };
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and tells the other instances that this one's figures drop out. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.resolve(this.options.bus.publish('stats:gone', { instance: this.instance })).catch(
      () => {}, // they drop it after 2.5 intervals anyway
    );
  }

  /**
   * Counts one answered request's duration in the current slot. A Server-Sent Events stream (its
   * `Content-Type`) is left out: it lasts as long as its client stays, which is no request duration.
   * @param seconds from arrival to the end of the response
   */
  observeRequest(res: { getHeader(name: string): unknown }, seconds: number): void {
    if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
    this.current.record(seconds * 1000);
  }

  /**
   * Puts `socket` in the admins room of `view` (leaving the one it was in), or takes it out of its room
   * (`view` undefined: its user may not see statistics). A socket that joins a room receives the current
   * figures at once. Call it only for a connected, or connecting, socket.
   */
  watch(socket: FluxSocket, view: StatsView | undefined): void {
    const room = view === undefined ? undefined : adminsRoom(view);
    if (view !== undefined && room !== undefined) this.rooms.set(room, view);
    if (socket.data.statsRoom === room) return;
    leaveAdminsRoom(socket);
    if (view === undefined || room === undefined) return;
    socket.join(room);
    socket.data.statsRoom = room;
    if (socket.connected) socket.emit('stats', this.snapshot(view));
  }

  /** The figures of `view` now: the latest report of every instance, summed. */
  snapshot(view: StatsView): StatsPayload {
    const now = Date.now();
    return new StatsSummary(this.live(now)).payload(view, now);
  }

  /** One interval: closes the slot, reports, emits to the admins rooms of this instance. */
  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      const counts = await this.options.requestCounts();
      if (this.stopped) return;
      const now = Date.now();
      const events = this.options.publishedCount();
      this.slots.push({
        ms: now - this.last.at,
        http: counts.http - this.last.http,
        socket: counts.socket - this.last.socket,
        events: events - this.last.events,
        latency: this.current,
      });
      this.current = new LatencyHistogram();
      this.last = { at: now, ...counts, events };
      const windowSlots = Math.min(
        MAX_SLOTS,
        Math.max(1, Math.ceil(this.options.windowMs / this.options.intervalMs)),
      );
      while (this.slots.length > windowSlots) this.slots.shift();

      const report = this.report();
      this.reports.set(this.instance, { report, receivedAt: now });
      const live = this.live(now);
      if (live.every(({ instance }) => instance >= this.instance)) this.readJobs();
      const sent = Promise.resolve(this.options.bus.publish('stats:report', report)).then(
        () => this.warned.delete('publish'),
        (err: unknown) => {
          // once per outage, not once per interval
          if (this.stopped || this.warned.has('publish')) return;
          this.warned.add('publish');
          this.options.log.warn("stats: could not publish this instance's figures:", err);
        },
      );
      this.options.waitUntil?.(sent);
      this.emit(live, now);
    } catch (err) {
      if (!this.stopped) this.options.log.warn('stats: could not compute the figures:', err);
    } finally {
      this.ticking = false;
    }
  }

  /** This instance's report: its sockets, its window, its pool, and the job counts it last read. */
  private report(): StatsReport {
    let total = 0;
    let authenticated = 0;
    const tenants: StatsReport['sockets']['tenants'] = {};
    for (const socket of this.options.io.of('/').sockets.values()) {
      total++;
      const auth = socket.data.auth;
      if (!auth) continue;
      authenticated++;
      const tenant = tenants[auth.tenantId] ?? { authenticated: 0, byTeam: {} };
      tenants[auth.tenantId] = tenant;
      tenant.authenticated++;
      if (auth.teamId !== undefined && auth.teamId !== null)
        tenant.byTeam[auth.teamId] = (tenant.byTeam[auth.teamId] ?? 0) + 1;
    }
    const window = { ms: 0, http: 0, socket: 0, events: 0 };
    const latency = new LatencyHistogram();
    for (const slot of this.slots) {
      window.ms += slot.ms;
      window.http += slot.http;
      window.socket += slot.socket;
      window.events += slot.events;
      latency.add(slot.latency);
    }
    return {
      instance: this.instance,
      intervalMs: this.options.intervalMs,
      sockets: { total, authenticated, tenants },
      window: { ...window, latency: latency.toJSON() },
      ...(this.jobs ? { jobs: this.jobs } : {}),
      db: poolFigures(this.options.sequelize),
    };
  }

  /** Reads the job counts (one reading at a time); the figures are reported from the next interval on. */
  private readJobs(): void {
    const read = this.options.jobCounts;
    if (!read) {
      this.jobs = { waiting: 0, active: 0, failed: 0, at: Date.now() };
      return;
    }
    if (this.readingJobs) return;
    this.readingJobs = true;
    const reading = read()
      .then(
        (queues) => {
          const jobs = { waiting: 0, active: 0, failed: 0, at: Date.now() };
          for (const counts of Object.values(queues)) {
            jobs.waiting += counts.waiting;
            jobs.active += counts.active;
            jobs.failed += counts.failed;
          }
          this.jobs = jobs;
        },
        (err: unknown) => {
          if (!this.stopped) this.options.log.warn('stats: could not read the job counts:', err);
        },
      )
      .finally(() => {
        this.readingJobs = false;
      });
    this.options.waitUntil?.(reading);
  }

  /**
   * A report from the bus (this instance's own come back too: ignored). One that does not have the shape
   * of a {@link StatsReport} (an instance of another version) is dropped, once logged.
   */
  private received(report: StatsReport): void {
    if (this.stopped || report?.instance === this.instance) return;
    if (!isReport(report)) {
      if (!this.warned.has('report')) this.options.log.warn('stats: dropped a malformed report from the bus');
      this.warned.add('report');
      return;
    }
    this.reports.set(report.instance, { report, receivedAt: Date.now() });
  }

  /** The reports still counting at `now` (older ones are forgotten). */
  private live(now: number): StatsReport[] {
    const live: StatsReport[] = [];
    for (const [instance, { report, receivedAt }] of this.reports) {
      if (now - receivedAt > STALE_INTERVALS * report.intervalMs) this.reports.delete(instance);
      else live.push(report);
    }
    return live;
  }

  /** One `stats` event per admins room with sockets on this instance (to those sockets only). */
  private emit(live: StatsReport[], now: number): void {
    const members = this.options.io.of('/').adapter.rooms;
    let summary: StatsSummary | undefined;
    for (const [room, view] of this.rooms) {
      if (!members.get(room)?.size) {
        this.rooms.delete(room);
        continue;
      }
      summary ??= new StatsSummary(live);
      this.options.io.local.to(room).emit('stats', summary.payload(view, now));
    }
  }
}

/**
 * The latest reports of the instances, summed once, then cut for each view: the platform view has every
 * figure; a tenant's view only its own sockets and the latency, the operator figures being null (they
 * would tell one tenant about the others' activity).
 */
export class StatsSummary {
  private readonly total: number = 0;
  private readonly authenticated: number = 0;
  private readonly rates = { http: 0, socket: 0, events: 0 };
  private readonly latencyMs: { p50: number; p99: number };
  private readonly jobs = { waiting: 0, active: 0, failed: 0 };
  private readonly db = { poolUsed: 0, poolSize: 0 };

  constructor(private readonly reports: readonly StatsReport[]) {
    const latency = new LatencyHistogram();
    let jobs: JobFigures | undefined;
    for (const report of reports) {
      this.total += report.sockets.total;
      this.authenticated += report.sockets.authenticated;
      const { ms, http, socket, events } = report.window;
      if (ms > 0) {
        this.rates.http += (http * 1000) / ms;
        this.rates.socket += (socket * 1000) / ms;
        this.rates.events += (events * 1000) / ms;
      }
      latency.add(report.window.latency);
      if (report.jobs && (!jobs || report.jobs.at > jobs.at)) jobs = report.jobs;
      this.db.poolUsed += report.db.poolUsed;
      this.db.poolSize += report.db.poolSize;
    }
    for (const key of ['http', 'socket', 'events'] as const) this.rates[key] = round(this.rates[key], 3);
    this.latencyMs = { p50: round(latency.percentile(0.5), 2), p99: round(latency.percentile(0.99), 2) };
    if (jobs) this.jobs = { waiting: jobs.waiting, active: jobs.active, failed: jobs.failed };
  }

  /** The payload of `stats` for `view`, dated `at` (ms since epoch). */
  payload(view: StatsView, at: number): StatsPayload {
    const byTeam: Record<string, number> = {};
    let authenticated = 0;
    for (const report of this.reports) {
      const tenants = report.sockets.tenants;
      for (const tenant of view === 'platform' ? Object.values(tenants) : [tenants[view.tenantId]]) {
        if (!tenant) continue;
        authenticated += tenant.authenticated;
        for (const [teamId, count] of Object.entries(tenant.byTeam))
          byTeam[teamId] = (byTeam[teamId] ?? 0) + count;
      }
    }
    const instances = this.reports.length;
    if (view !== 'platform') {
      return {
        at,
        scope: 'tenant',
        instances,
        sockets: { total: authenticated, authenticated, byTeam },
        rates: null,
        latencyMs: { ...this.latencyMs },
        jobs: null,
        db: null,
      };
    }
    return {
      at,
      scope: 'platform',
      instances,
      sockets: { total: this.total, authenticated: this.authenticated, byTeam },
      rates: { ...this.rates },
      latencyMs: { ...this.latencyMs },
      jobs: { ...this.jobs },
      db: { ...this.db },
    };
  }
}

/** What {@link poolFigures} reads of a sequelize-pool `Pool`. */
interface PoolLike {
  size: number;
  using: number;
}

/**
 * The database connections of this instance: PostgreSQL's pool (`size` open, `using` lent out; both pools
 * with read replication). SQLite has no pool: Sequelize opens one connection shared by plain statements
 * and one per transaction, so `poolSize` counts the open ones and `poolUsed` those of open transactions.
 */
export function poolFigures(sequelize: Sequelize): { poolUsed: number; poolSize: number } {
  const manager = sequelize.connectionManager as unknown as {
    pool?: PoolLike | { read: PoolLike; write: PoolLike };
    connections?: Record<string, unknown>;
  };
  if (sequelize.getDialect() === 'sqlite') {
    // keyed by transaction id; `default` is the shared one (`1` for an in-memory database)
    const open = Object.keys(manager.connections ?? {});
    return { poolSize: open.length, poolUsed: open.filter((key) => key !== 'default' && key !== '1').length };
  }
  const pool = manager.pool;
  const pools = !pool ? [] : 'read' in pool ? [pool.read, pool.write] : [pool];
  return {
    poolUsed: pools.reduce((sum, each) => sum + each.using, 0),
    poolSize: pools.reduce((sum, each) => sum + each.size, 0),
  };
}

/** Whether a message of `stats:report` has the shape of a {@link StatsReport} (what the sums read). */
function isReport(value: unknown): value is StatsReport {
  const report = value as StatsReport | null;
  const isCount = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  return (
    typeof report?.instance === 'string' &&
    isCount(report.intervalMs) &&
    report.intervalMs > 0 &&
    report.intervalMs <= 3_600_000 &&
    isCount(report.sockets?.total) &&
    isCount(report.sockets.authenticated) &&
    typeof report.sockets.tenants === 'object' &&
    report.sockets.tenants !== null &&
    Object.values(report.sockets.tenants).every(
      (tenant) =>
        isCount(tenant?.authenticated) &&
        typeof tenant.byTeam === 'object' &&
        tenant.byTeam !== null &&
        Object.values(tenant.byTeam).every(isCount),
    ) &&
    ['ms', 'http', 'socket', 'events'].every((key) => isCount(report.window?.[key as 'ms'])) &&
    Array.isArray(report.window.latency) &&
    (report.jobs === undefined ||
      ['waiting', 'active', 'failed', 'at'].every((key) => isCount(report.jobs?.[key as 'at']))) &&
    isCount(report.db?.poolUsed) &&
    isCount(report.db.poolSize)
  );
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
