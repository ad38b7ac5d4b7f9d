import { ExpectedError, NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxRequest, FluxResponse } from '../../lib/http.js';

/**
 * Operations (docs/reference.md#operations): liveness, readiness and Prometheus metrics. No authentication.
 */
export class SystemController {
  /** `GET /health` → 200 `{status: "ok", uptime}` while the process runs (seconds). */
  async health(_req: FluxRequest, res: FluxResponse): Promise<void> {
    res.ok({ status: 'ok', uptime: Math.round(process.uptime()) });
  }

  /**
   * `GET /ready` → 200 `{status: "ready", database: "ok", redis?: "ok"}` when the database (and Redis,
   * when configured: each of this instance's connections, its subscriptions renewed) answer within
   * {@link READY_TIMEOUT_MS}; 503 `NotReady` otherwise, naming every
   * dependency and its state (`Not ready: database not reachable, Redis ok`), or while the
   * server is still starting (it listens before its job store is open) or shutting down. Both are checked
   * at once, so a hung dependency costs one timeout.
   */
  async ready(_req: FluxRequest, res: FluxResponse): Promise<void> {
    if (Flux.lifecycle.state === 'starting') throw new ExpectedError(503, 'NotReady', 'Starting');
    if (Flux.stopping) throw new ExpectedError(503, 'NotReady', 'Shutting down');
    const redis = Flux.redis;
    const [database, cache] = await Promise.all([
      reachable(Flux.sequelize.authenticate()),
      redis ? reachable(Flux.pingRedis()) : undefined,
    ]);
    if (!database || cache === false) {
      const states = [`database ${database ? 'ok' : 'not reachable'}`];
      if (cache !== undefined) states.push(`Redis ${cache ? 'ok' : 'not reachable'}`);
      throw new ExpectedError(503, 'NotReady', `Not ready: ${states.join(', ')}`);
    }
    res.ok({ status: 'ready', database: 'ok', ...(redis ? { redis: 'ok' } : {}) });
  }

  /** `GET /openapi.json` → the OpenAPI 3.1 document of every route (browsable at `/docs`). */
  async openapi(_req: FluxRequest, res: FluxResponse): Promise<void> {
    res.ok(Flux.openapi());
  }

  /**
   * `GET /metrics` (HTTP only) → Prometheus text exposition format. With `metrics.port` set, the metrics
   * are served on that port alone: here 404 `NotFound`, as for an unknown route.
   */
  async metrics(_req: FluxRequest, res: FluxResponse): Promise<void> {
    if (Flux.config.metrics.port !== undefined) throw new NotFoundError('Unknown route');
    const { registry } = Flux.metrics;
    res.setHeader('Content-Type', registry.contentType);
    res.status(200).send(await registry.metrics());
  }
}

/** How long `/ready` waits for each dependency, in ms: under nginx's and orchestrators' probe timeouts. */
const READY_TIMEOUT_MS = 2000;

/** Resolves true when `check` settles successfully within {@link READY_TIMEOUT_MS}, else false. */
async function reachable(check: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      check.then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
