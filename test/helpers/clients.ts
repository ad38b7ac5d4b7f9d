import { io, type Socket } from 'socket.io-client';
import type {
  ClientToServerEvents,
  ServerToClientEvents,
  VirtualRequestPayload,
  VirtualResponse,
} from '../../lib/protocol.js';

/** What a client sees of a reply, whichever the transport. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** One way of sending Flux requests: plain HTTP, or socket.io virtual requests. */
export interface Transport {
  name: 'http' | 'socket';
  request(method: string, url: string, data?: unknown, headers?: Record<string, string>): Promise<Reply>;
  close(): void;
}

/** Sends requests over HTTP (`?data=<JSON>` for GET, a JSON body otherwise). */
export function httpTransport(base: string, token?: string): Transport {
  return {
    name: 'http',
    async request(method, url, data, headers = {}) {
      const upper = method.toUpperCase();
      let target = base + url;
      const init: RequestInit = { method: upper, headers: { ...headers } };
      if (token) (init.headers as Record<string, string>).authorization = `Bearer ${token}`;
      if (data !== undefined) {
        if (upper === 'GET')
          target += `${url.includes('?') ? '&' : '?'}data=${encodeURIComponent(JSON.stringify(data))}`;
        else {
          init.body = JSON.stringify(data);
          (init.headers as Record<string, string>)['content-type'] = 'application/json';
        }
      }
      const response = await fetch(target, init);
      const text = await response.text();
      const type = response.headers.get('content-type') ?? '';
      return {
        status: response.status,
        headers: Object.fromEntries(response.headers.entries()),
        body: text && type.includes('json') ? JSON.parse(text) : text || null,
      };
    },
    close() {},
  };
}

/** Connects a socket.io client (websocket only) and waits for the connection. */
export function connectSocket(base: string, auth?: { token: string }): Promise<Socket> {
  const socket = io(base, { transports: ['websocket'], auth, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** A socket.io client typed with Flux's events (lib/protocol.ts), as a client application holds it. */
export type FluxClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * Emits a `request` and resolves with its ack; rejects after `timeoutMs` so a missing ack fails the test.
 * `payload` is unchecked on purpose: tests send malformed ones too.
 */
export function socketRequest(socket: Socket, payload: unknown, timeoutMs = 5000): Promise<VirtualResponse> {
  return (socket as FluxClientSocket)
    .timeout(timeoutMs)
    .emitWithAck('request', payload as VirtualRequestPayload);
}

/** Sends requests as socket.io virtual requests on `socket` (bound by login, or with a token header). */
export function socketTransport(socket: Socket, token?: string): Transport {
  return {
    name: 'socket',
    async request(method, url, data, headers = {}) {
      const allHeaders = { ...headers };
      if (token) allHeaders.authorization = `Bearer ${token}`;
      const ack = await socketRequest(socket, { method, url, data, headers: allHeaders });
      const lower = Object.fromEntries(
        Object.entries(ack.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
      );
      return { status: ack.statusCode, headers: lower, body: ack.data };
    },
    close() {
      socket.close();
    },
  };
}

/** Collects the events of one name received by a socket. */
export function collect<T = unknown>(socket: Socket, event: string): T[] {
  const received: T[] = [];
  socket.on(event, (payload: T) => received.push(payload));
  return received;
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits `ms` so that events that should NOT arrive get a chance to (used after a positive control). */
export function settle(ms = 150): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
