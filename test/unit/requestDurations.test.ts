import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestDurations } from '../../lib/requestDurations.js';

/** Flux's request histogram is read like a prom-client histogram: same text, same values. */
describe('RequestDurations', () => {
  const options = {
    name: 'flux_request_duration_seconds',
    help: 'Duration of requests',
    buckets: [0.001, 0.01, 0.1, 1],
  };
  const observations: Array<[Record<'method' | 'route' | 'status' | 'transport', string>, number]> = [
    [{ method: 'GET', route: '/health', status: '200', transport: 'socket' }, 0.0004],
    [{ method: 'GET', route: '/health', status: '200', transport: 'socket' }, 0.001],
    [{ method: 'GET', route: '/user/:id', status: '404', transport: 'http' }, 0.05],
    [{ method: 'GET', route: '/health', status: '200', transport: 'socket' }, 3],
    [{ method: 'POST', route: 'unmatched', status: '404', transport: 'http' }, 0.2],
    [{ method: 'GET', route: '/user/:id', status: '404', transport: 'http' }, 0.0101],
  ];

  function both() {
    const theirs = new Registry();
    const ours = new Registry();
    const histogram = new Histogram({
      ...options,
      labelNames: ['method', 'route', 'status', 'transport'],
      registers: [theirs],
    });
    const durations = new RequestDurations({ ...options, registers: [ours] });
    for (const [labels, seconds] of observations) {
      histogram.observe({ ...labels }, seconds);
      durations.observe({ ...labels }, seconds);
    }
    return { theirs, ours, durations };
  }

  it("When requests are observed, then /metrics reads as prom-client's histogram would", async () => {
    const { theirs, ours } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain(
      'flux_request_duration_seconds_bucket{le="0.001",method="GET",route="/health",status="200",transport="socket"} 2',
    );
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('When reset, then it exposes no series, like prom-client', async () => {
    const { theirs, ours } = both();
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('When a duration is not a finite number, then it throws like prom-client and counts nothing', async () => {
    const { durations, ours } = both();
    const before = await ours.metrics();
    expect(() => durations.observe(observations[0][0], Number.NaN)).toThrow(TypeError);
    expect(await ours.metrics()).toBe(before);
  });

  it('When a registry already holds the name, then it refuses it', () => {
    const registry = new Registry();
    new RequestDurations({ ...options, registers: [registry] });
    expect(() => new RequestDurations({ ...options, registers: [registry] })).toThrow(
      /already been registered/,
    );
  });
});
