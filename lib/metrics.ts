import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueCounts } from './jobs.js';
import type { PubSub } from './pubsub.js';
import type { FluxServer } from './socket/types.js';

/**
 * Prometheus metrics (docs/reference.md#operations) with prom-client: request durations by route, status and
 * transport (HTTP and socket virtual requests), connected sockets, subscriptions, open event streams, events
 * published and delivered, plus the process defaults (CPU, memory, event loop). One registry per running
 * server.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly duration: Histogram<'method' | 'route' | 'status' | 'transport'>;

  /**
   * `streams`: the Server-Sent Events streams of this instance (lib/eventStreams.ts), when it serves them;
   * `jobs`: the job queues (lib/jobs.ts), whose counts are read at each scrape.
   */
  constructor(
    io: FluxServer,
    pubsub: PubSub,
    streams?: { readonly size: number },
    jobs?: { counts(): Promise<Record<string, QueueCounts>> },
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.duration = new Histogram({
      name: 'flux_request_duration_seconds',
      help: 'Duration of HTTP requests and socket virtual requests, by route pattern, status and transport',
      labelNames: ['method', 'route', 'status', 'transport'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    new Gauge({
      name: 'flux_sockets_connected',
      help: 'Sockets connected to this instance',
      registers: [this.registry],
      collect() {
        this.set(io.of('/').sockets.size);
      },
    });
    new Gauge({
      name: 'flux_subscriptions',
      help: 'Model subscriptions of the sockets of this instance',
      registers: [this.registry],
      collect() {
        let total = 0;
        for (const socket of io.of('/').sockets.values()) total += socket.data.subscriptions?.size ?? 0;
        this.set(total);
      },
    });
    new Gauge({
      name: 'flux_event_streams',
      help: 'Server-Sent Events streams (GET /events) open on this instance',
      registers: [this.registry],
      collect() {
        this.set(streams?.size ?? 0);
      },
    });
    let published = 0;
    new Counter({
      name: 'flux_events_published_total',
      help: 'Model changes published by this instance',
      registers: [this.registry],
      collect() {
        this.inc(pubsub.stats.published - published);
        published = pubsub.stats.published;
      },
    });
    if (jobs) {
      new Gauge({
        name: 'flux_jobs',
        help: 'Background jobs by queue and state (waiting, delayed, active, completed, failed), all instances',
        labelNames: ['queue', 'state'],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const [queue, counts] of Object.entries(await jobs.counts()))
            for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
        },
      });
    }
    let delivered = 0;
    new Counter({
      name: 'flux_events_delivered_total',
      help: 'Model changes delivered to the subscribers of this instance',
      registers: [this.registry],
      collect() {
        this.inc(pubsub.stats.delivered - delivered);
        delivered = pubsub.stats.delivered;
      },
    });
  }

  /**
   * Records one answered request (HTTP or virtual) in `flux_request_duration_seconds`, labelled by the
   * route pattern — never the raw URL, ids would explode the label space — or `unmatched`.
   * @param seconds time from arrival to the end of the response
   */
  observeRequest(req: Request, res: Response, seconds: number): void {
    const route = req.route?.path as string | undefined;
    this.duration.observe(
      {
        method: req.method,
        route: route ? (req.baseUrl || '') + route : 'unmatched',
        status: String(res.statusCode),
        transport: (req as Request & { isSocket?: boolean }).isSocket ? 'socket' : 'http',
      },
      seconds,
    );
  }
}

/**
 * Requests answered since the start, by transport: the counts of `flux_request_duration_seconds` summed
 * over its labels (read by lib/stats.ts for its rates, once per interval).
 */
export async function requestCounts(metrics: Metrics): Promise<{ http: number; socket: number }> {
  const counts = { http: 0, socket: 0 };
  const histogram = metrics.registry.getSingleMetric('flux_request_duration_seconds') as
    | Histogram
    | undefined;
  const metric = await histogram?.get();
  for (const { metricName, labels, value } of metric?.values ?? []) {
    if (metricName !== 'flux_request_duration_seconds_count') continue;
    if (labels.transport === 'http' || labels.transport === 'socket') counts[labels.transport] += value;
  }
  return counts;
}

/**
 * The request listener of the metrics port (`metrics.port`): `GET`/`HEAD /metrics` answers the
 * Prometheus text exposition of `metrics`; any other path 404 and any other method 405, with the usual
 * `{"_error": …}` body. Nothing else of the application is reachable there.
 */
export function metricsListener(metrics: Metrics, log: { error(...args: unknown[]): void }): RequestListener {
  const fail = (res: ServerResponse, status: number, code: string, message: string): void => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ _error: { status, code, message } }));
  };
  return function metricsListener(req: IncomingMessage, res: ServerResponse): void {
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== '/metrics') {
      fail(res, 404, 'NotFound', 'Unknown route');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      fail(res, 405, 'MethodNotAllowed', 'Only GET /metrics');
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.error('metrics: could not collect:', err);
        fail(res, 500, 'UnexpectedError', 'Unexpected error');
      },
    );
  };
}
