import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import type { OperationDoc } from '../../lib/openapi.js';
import type { AppRequest } from '../types.js';

/**
 * One-way clients (docs/protocol.md §8): model events as Server-Sent Events, for clients that only listen
 * (dashboards, screens, scripts) and for environments without socket.io.
 */
export class EventController {
  /** `/openapi.json`: the query parameter and the stream, which Flux cannot infer. */
  static openapi: Record<string, OperationDoc> = {
    stream: {
      description:
        'HTTP only. Server-Sent Events: `event: ready` `{heartbeatMs}` once the stream is in its rooms, then ' +
        'the `model:<name>` events `{verb, id, data}` a socket subscriber of the same user would get, a ' +
        '`: ping` comment every `heartbeatMs`; ends with `auth:revoked`, `auth:expired` or ' +
        '`server:shutdown` (docs/protocol.md).',
      parameters: [
        {
          name: 'models',
          in: 'query',
          required: true,
          description: 'Public model names, comma-separated (alert,message)',
          schema: { type: 'string' },
        },
      ],
      responses: {
        200: {
          description: 'The event stream',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        503: { description: 'The server is stopping' },
      },
    },
  };

  /**
   * `GET /events?models=alert,message` (HTTP only, authenticated): a `text/event-stream` of the
   * `model:<name>` events a socket of the same user subscribed to those models would get, after
   * `event: ready`; `: ping` every `events.heartbeatMs`; ends on the session's revocation
   * (`auth:revoked`), at the token's expiry (`auth:expired`) or on shutdown (`server:shutdown`).
   * Refusals come before the stream, as JSON errors: 400 no or unknown model, 403 a model the user may
   * not read, 429 over `events.maxStreamsPerUser`, 503 while stopping (lib/eventStreams.ts).
   */
  async stream(req: AppRequest, res: FluxResponse): Promise<void> {
    Flux.eventStreams.serve(req, res);
  }
}
