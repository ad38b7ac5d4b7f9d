import { BadRequestError, ExpectedError, TooManyRequestsError, toErrorReply } from '../errors.js';
import type { Logger } from '../log.js';
import type { RequestAck, VirtualResponse } from '../protocol.js';
import type { FluxSocket } from './types.js';
import {
  type Dispatch,
  injectVirtualRequest,
  parseVirtualRequest,
  runVirtualRequest,
  type VirtualRequestInput,
} from './virtualRequest.js';

/**
 * Virtual requests in and out (docs/reference.md#socket-protocol): a socket's `request` message is checked,
 * admitted (the stop, the socket's cap of requests in flight), run through the Express app
 * (lib/socket/virtualRequest.ts), and its reply sent to the ack — or, for a legacy client, as
 * `response-<requestId>`.
 */

export interface RequestPumpOptions {
  dispatch: Dispatch;
  log: Logger;
  /** Largest `data` of a virtual request, in bytes of JSON (413 above). */
  maxBodyBytes: number;
  /** Deepest nesting of `data` (400 above). */
  maxDepth: number;
  /** Requests one socket may have in flight; more are answered 429 at once. */
  maxInFlight: number;
  /** False once the server stops: new requests are answered 503 `ShuttingDown`, those in flight finish. */
  accepting(): boolean;
}

/** A request in flight: where to answer it, and whether it was (its first outcome wins). */
interface Pending {
  socket: FluxSocket;
  reply: RequestAck;
  settled: boolean;
}

export class RequestPump {
  /** Requests in flight not answered yet (see {@link abandonInFlight}). */
  private readonly unanswered = new Set<Pending>();

  constructor(private readonly options: RequestPumpOptions) {}

  /** Runs one virtual request for `socket` (also usable by the server itself, e.g. the handshake). */
  request(socket: FluxSocket, input: VirtualRequestInput): Promise<VirtualResponse> {
    return injectVirtualRequest(this.options.dispatch, input, socket.data.origin);
  }

  /**
   * Handles one `request` message of `socket`: `payload` and `ack` are as the client sent them, unchecked.
   * Every request with somewhere to answer gets exactly one reply, whatever happens.
   */
  handle(socket: FluxSocket, payload: unknown, ack: unknown): void {
    const reply = typeof ack === 'function' ? (ack as RequestAck) : legacyReply(socket, payload);
    if (!reply) return; // no ack and no usable requestId: nowhere to answer
    let input: VirtualRequestInput;
    try {
      input = parseVirtualRequest(payload, {
        maxBodyBytes: this.options.maxBodyBytes,
        maxDepth: this.options.maxDepth,
      });
    } catch (err) {
      reply(errorResponse(err instanceof ExpectedError ? err : new BadRequestError((err as Error).message)));
      return;
    }
    if (!this.options.accepting()) {
      reply(errorResponse(new ExpectedError(503, 'ShuttingDown', 'The server is shutting down: reconnect')));
      return;
    }
    const data = socket.data;
    if (data.inFlight >= this.options.maxInFlight) {
      reply(
        errorResponse(
          new TooManyRequestsError(1, `At most ${this.options.maxInFlight} requests in flight per socket`),
        ),
      );
      return;
    }
    data.inFlight++;
    // answered once: by its own reply, or earlier by `abandonInFlight` when the server stops first
    const pending: Pending = { socket, reply, settled: false };
    this.unanswered.add(pending);
    runVirtualRequest(
      this.options.dispatch,
      input,
      data.origin,
      (response) => this.answer(pending, input, response),
      (err) => this.fail(pending, input, err),
    );
  }

  /** Sends the reply of a request, unless it was answered already or its socket is gone. */
  private answer(pending: Pending, input: VirtualRequestInput, response: VirtualResponse): void {
    if (pending.settled) return;
    pending.settled = true;
    const { socket, reply } = pending;
    socket.data.inFlight--;
    if (!this.unanswered.delete(pending) || !socket.connected) return;
    try {
      reply(response);
    } catch (err) {
      // a body socket.io cannot encode (e.g. circular), where HTTP's res.json would have thrown
      this.options.log.error(`socket ${socket.id}: ${input.method} ${input.url}: reply not sent:`, err);
      reply(errorResponse(err));
    }
  }

  /** Answers a request whose run threw, unless it was answered already or its socket is gone. */
  private fail(pending: Pending, input: VirtualRequestInput, err: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    const { socket, reply } = pending;
    socket.data.inFlight--;
    this.options.log.error(`socket ${socket.id}: ${input.method} ${input.url} failed:`, err);
    if (this.unanswered.delete(pending) && socket.connected) reply(errorResponse(err));
  }

  /**
   * Answers every request still in flight at once with 503 `ShuttingDown` (a stop past its deadline):
   * the clients get an ack before their sockets close; the requests' own replies, if they come, are
   * dropped.
   * @returns how many requests were abandoned (those of sockets already gone get no ack).
   */
  abandonInFlight(): number {
    const pending = [...this.unanswered];
    this.unanswered.clear();
    const reply = errorResponse(
      new ExpectedError(
        503,
        'ShuttingDown',
        'The server is shutting down: the request did not finish in time',
      ),
    );
    for (const { socket, reply: send } of pending) if (socket.connected) send(reply);
    return pending.length;
  }
}

/** The reply of an error, as an ack receives it (the body HTTP would have sent). */
export function errorResponse(err: unknown): VirtualResponse {
  const reply = toErrorReply(err);
  return {
    statusCode: reply.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...reply.headers },
    data: reply.body,
  };
}

/** The reply function of a legacy client: `response-<requestId>` when the payload names a requestId. */
function legacyReply(socket: FluxSocket, payload: unknown): RequestAck | undefined {
  const requestId =
    typeof payload === 'object' && payload !== null
      ? (payload as { requestId?: unknown }).requestId
      : undefined;
  const usable =
    (typeof requestId === 'string' && /^[\w.:-]{1,100}$/.test(requestId)) ||
    (typeof requestId === 'number' && Number.isSafeInteger(requestId));
  if (!usable) return undefined;
  return (response) => {
    socket.emit(`response-${requestId}`, response);
  };
}
