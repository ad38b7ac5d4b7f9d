import type { Sequelize } from 'sequelize';
import { describe, expect, it } from 'vitest';
import type { QueueCounts } from '../../lib/jobs.js';
import { LatencyHistogram } from '../../lib/latencyHistogram.js';
import { Logger } from '../../lib/log.js';
import type { StatsReport } from '../../lib/protocol.js';
import { LocalBus } from '../../lib/pubsub.js';
import type { FluxServer } from '../../lib/socket/types.js';
import { adminsRoom, PLATFORM_ADMINS_ROOM, Stats, StatsSummary } from '../../lib/stats.js';
import { settle, waitFor } from '../helpers/clients.js';

/**
 * The pure parts of the statistics (docs/stats.md): the latency histogram that instances add together, and
 * the summing of the instances' reports into each view.
 */

describe('LatencyHistogram', () => {
  it('When durations are recorded, then its percentiles are within 2.2 % of the true ones', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) histogram.record(ms);
    expect(histogram.count).toBe(1000);
    expect(Math.abs(histogram.percentile(0.5) - 500) / 500).toBeLessThan(0.022);
    expect(Math.abs(histogram.percentile(0.99) - 990) / 990).toBeLessThan(0.022);
    expect(Math.abs(histogram.percentile(0) - 1) / 1).toBeLessThan(0.022);
  });

  it('When two histograms are added, then the sum is the histogram of all their durations', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (let i = 0; i < 200; i++) {
      const ms = 0.5 + i * 0.37;
      (i % 3 === 0 ? a : b).record(ms);
      all.record(ms);
    }
    // as an instance receives it: through JSON
    const summed = new LatencyHistogram().add(JSON.parse(JSON.stringify(a))).add(b);
    expect(summed.toJSON()).toEqual(all.toJSON());
    expect(summed.percentile(0.99)).toBe(all.percentile(0.99));
  });

  it('When nothing was recorded, then percentiles are 0; bad durations and malformed buckets are skipped', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.percentile(0.5)).toBe(0);
    histogram.record(-1);
    histogram.record(Number.NaN);
    histogram.record(Number.POSITIVE_INFINITY);
    histogram.add([[1, 2.5], ['x', 1], [-1, 3], [1e9, 1], 'junk', [3, -2]] as unknown[]);
    expect(histogram.count).toBe(0);
    histogram.record(0);
    histogram.record(1e12); // past the last bucket: counted in it
    expect(histogram.count).toBe(2);
    expect(histogram.percentile(1)).toBeGreaterThan(1e6);
  });
});

function report(instance: string, overrides: Partial<StatsReport> = {}): StatsReport {
  return {
    instance,
    intervalMs: 200,
    sockets: { total: 0, authenticated: 0, tenants: {} },
    window: { ms: 2000, http: 0, socket: 0, events: 0, latency: [] },
    db: { poolUsed: 0, poolSize: 0 },
    ...overrides,
  };
}

describe('StatsSummary', () => {
  const latencyOne = new LatencyHistogram();
  const latencyTwo = new LatencyHistogram();
  for (let i = 0; i < 98; i++) latencyOne.record(2);
  latencyTwo.record(500);
  latencyTwo.record(500);
  const reports = [
    report('one', {
      sockets: {
        total: 5,
        authenticated: 4,
        tenants: {
          1: { authenticated: 3, byTeam: { 10: 2, 11: 1 } },
          2: { authenticated: 1, byTeam: { 20: 1 } },
        },
      },
      window: { ms: 2000, http: 10, socket: 4, events: 6, latency: latencyOne.toJSON() },
      jobs: { waiting: 1, active: 2, failed: 3, at: 100 },
      db: { poolUsed: 1, poolSize: 4 },
    }),
    report('two', {
      sockets: { total: 3, authenticated: 3, tenants: { 1: { authenticated: 3, byTeam: { 10: 2 } } } },
      // just started: its window is shorter
      window: { ms: 500, http: 5, socket: 0, events: 1, latency: latencyTwo.toJSON() },
      jobs: { waiting: 7, active: 0, failed: 9, at: 200 },
      db: { poolUsed: 2, poolSize: 3 },
    }),
  ];

  it('When the platform view is asked, then every figure is summed over the instances', () => {
    const payload = new StatsSummary(reports).payload('platform', 1234);
    expect(payload).toEqual({
      at: 1234,
      scope: 'platform',
      instances: 2,
      sockets: { total: 8, authenticated: 7, byTeam: { 10: 4, 11: 1, 20: 1 } },
      // per instance: count / window, then summed
      rates: { http: 5 + 10, socket: 2, events: 3 + 2 },
      latencyMs: expect.objectContaining({}),
      // the freshest reading of the shared queues, not a sum
      jobs: { waiting: 7, active: 0, failed: 9 },
      db: { poolUsed: 3, poolSize: 7 },
    });
    expect(Math.abs(payload.latencyMs.p50 - 2) / 2).toBeLessThan(0.022);
    expect(Math.abs(payload.latencyMs.p99 - 500) / 500).toBeLessThan(0.022);
  });

  it("When a tenant's view is asked, then it holds that tenant's sockets and the latency, no operator figure", () => {
    const summary = new StatsSummary(reports);
    const payload = summary.payload({ tenantId: 2 }, 1);
    expect(payload).toEqual({
      at: 1,
      scope: 'tenant',
      instances: 2,
      sockets: { total: 1, authenticated: 1, byTeam: { 20: 1 } },
      rates: null,
      latencyMs: summary.payload('platform', 1).latencyMs,
      jobs: null,
      db: null,
    });
    expect(summary.payload({ tenantId: 1 }, 1).sockets).toEqual({
      total: 6,
      authenticated: 6,
      byTeam: { 10: 4, 11: 1 },
    });
    expect(summary.payload({ tenantId: 3 }, 1).sockets).toEqual({ total: 0, authenticated: 0, byTeam: {} });
  });

  it('When no instance reported, then the figures are zeros', () => {
    expect(new StatsSummary([]).payload('platform', 0)).toEqual({
      at: 0,
      scope: 'platform',
      instances: 0,
      sockets: { total: 0, authenticated: 0, byTeam: {} },
      rates: { http: 0, socket: 0, events: 0 },
      latencyMs: { p50: 0, p99: 0 },
      jobs: { waiting: 0, active: 0, failed: 0 },
      db: { poolUsed: 0, poolSize: 0 },
    });
  });

  it('Rooms: one per tenant, one for the platform view', () => {
    expect(adminsRoom({ tenantId: 7 })).toBe('7:admins');
    expect(adminsRoom('platform')).toBe(PLATFORM_ADMINS_ROOM);
  });
});

describe('Stats (one instance, its bus shared with others)', () => {
  /** What Stats reads of socket.io: no socket, no room. */
  const io = {
    of: () => ({ sockets: new Map(), adapter: { rooms: new Map() } }),
    local: { to: () => ({ emit: () => true }) },
  } as unknown as FluxServer;
  const sequelize = {
    getDialect: () => 'postgres',
    connectionManager: { pool: { size: 3, using: 1 } },
  } as unknown as Sequelize;
  const log = new Logger({ level: 'error', dir: false });

  /** By default no tick during a test but the first. */
  function stats(
    bus: LocalBus,
    jobCounts?: () => Promise<Record<string, QueueCounts>>,
    intervalMs = 60_000,
  ): Stats {
    return new Stats({
      io,
      bus,
      log,
      intervalMs,
      windowMs: intervalMs,
      requestCounts: async () => ({ http: 0, socket: 0 }),
      publishedCount: () => 0,
      jobCounts,
      sequelize,
    });
  }

  it('When reports arrive on the bus, then the snapshot sums them with its own; malformed ones are dropped; a gone instance drops out', async () => {
    const bus = new LocalBus();
    const own = stats(bus);
    await own.start();
    bus.publish('stats:report', report('other', { db: { poolUsed: 2, poolSize: 5 } }));
    bus.publish('stats:report', { instance: 'broken', intervalMs: 200 } as unknown as StatsReport);
    bus.publish('stats:report', report('negative', { db: { poolUsed: -1, poolSize: 5 } }));
    await settle(20);
    expect(own.snapshot('platform')).toMatchObject({ instances: 2, db: { poolUsed: 3, poolSize: 8 } });
    bus.publish('stats:gone', { instance: 'other' });
    await settle(20);
    expect(own.snapshot('platform')).toMatchObject({ instances: 1, db: { poolUsed: 1, poolSize: 3 } });
    await own.stop();
  });

  it('When an instance stops reporting, then it drops out after 2.5 of its intervals', async () => {
    const bus = new LocalBus();
    const own = stats(bus);
    await own.start();
    bus.publish('stats:report', report('quiet', { intervalMs: 50 }));
    await settle(20);
    expect(own.snapshot('platform').instances).toBe(2);
    await settle(400);
    expect(own.snapshot('platform').instances).toBe(1);
    await own.stop();
  });

  it('When several instances report, then only the one with the smallest id reads the job counts', async () => {
    const bus = new LocalBus();
    let reads = 0;
    const counts = async () => {
      reads++;
      return { mail: { waiting: 1, delayed: 5, active: 0, completed: 9, failed: 2 } };
    };
    // an instance whose id sorts before every real one (host:pid:…) is live: this one does not read
    bus.publish('stats:report', report('!first', { jobs: { waiting: 4, active: 4, failed: 4, at: 1 } }));
    await settle(20);
    const second = stats(bus, counts);
    bus.publish('stats:report', report('!first'));
    await settle(20);
    await second.start();
    await settle(20);
    expect(reads).toBe(0);
    await second.stop();

    const alone = stats(new LocalBus(), counts, 50);
    await alone.start();
    await settle(20);
    expect(reads).toBe(1);
    // the reading is reported from the next interval on; delayed and completed jobs are not counted
    await waitFor(() => alone.snapshot('platform').jobs?.failed === 2, 2000, 'the job counts');
    expect(alone.snapshot('platform').jobs).toEqual({ waiting: 1, active: 0, failed: 2 });
    await alone.stop();
  });
});
