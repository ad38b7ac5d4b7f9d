import { ForbiddenError, NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import type { OperationDoc } from '../../lib/openapi.js';
import { statsView } from '../services/StatsService.js';
import type { AppRequest } from '../types.js';

/**
 * Live statistics (docs/stats.md): `GET /stats` answers the snapshot the admins room receives as `stats`
 * every `stats.intervalMs`, over HTTP and the socket alike.
 */
export class StatsController {
  /** `/openapi.json`: what the route answers, which Flux cannot infer. */
  static openapi: Record<string, OperationDoc> = {
    read: {
      description:
        'Needs `stats/read`. The figures of every instance summed: `{at, scope, instances, sockets: ' +
        '{total, authenticated, byTeam}, rates: {http, socket, events}, latencyMs: {p50, p99}, jobs: ' +
        '{waiting, active, failed}, db: {poolUsed, poolSize}}`. The platform operator (`tenant/admin` of ' +
        "the `default` tenant) sees every tenant; anyone else their tenant's sockets and the latency, with " +
        '`rates`, `jobs` and `db` null (docs/stats.md). Query parameters are ignored.',
      responses: {
        200: { description: 'The statistics snapshot' },
        404: { description: 'Statistics are off (`stats.intervalMs` is 0)' },
      },
    },
  };

  /**
   * `GET /stats` → the current statistics of the user's view (`StatsPayload`, lib/protocol.ts).
   * @throws 403 Forbidden without `stats/read`; 404 NotFound when statistics are off
   */
  async read(req: AppRequest, res: FluxResponse): Promise<void> {
    const view = statsView(req.team, req.tenant!);
    if (!view) throw new ForbiddenError('Needs permission stats/read');
    if (!Flux.stats) throw new NotFoundError('Statistics are off (stats.intervalMs is 0)');
    res.ok(Flux.stats.snapshot(view));
  }
}
