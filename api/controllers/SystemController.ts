import { ExpectedError, NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxRequest, FluxResponse } from '../../lib/http.js';

/** Operations (SPEC §16): liveness, readiness and Prometheus metrics. No authentication. */
export class SystemController {
  /** `GET /health` → 200 `{status: "ok", uptime}` while the process runs (seconds). */
  async health(_req: FluxRequest, res: FluxResponse): Promise<void> {
    res.ok({ status: 'ok', uptime: Math.round(process.uptime()) });
  }

  /**
   * `GET /ready` → 200 `{status: "ready", database: "ok", redis?: "ok"}` when the database (and Redis,
   * when configured) answer; 503 `NotReady` otherwise, or while the server is shutting down.
   */
  async ready(_req: FluxRequest, res: FluxResponse): Promise<void> {
    if (Flux.stopping) throw new ExpectedError(503, 'NotReady', 'Shutting down');
    const checks: Record<string, string> = {};
    const fail = (what: string): never => {
      throw new ExpectedError(503, 'NotReady', `${what} is not reachable`);
    };
    await Flux.sequelize.authenticate().catch(() => fail('The database'));
    checks.database = 'ok';
    if (Flux.redis) {
      await Flux.redis.ping().catch(() => fail('Redis'));
      checks.redis = 'ok';
    }
    res.ok({ status: 'ready', ...checks });
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
