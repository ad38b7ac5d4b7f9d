import { io, type Socket } from 'socket.io-client';
import { createClient, type FluxClient, FluxError, type FluxResponse } from '../../client/src/index.js';
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

/**
 * One way of sending Flux requests: plain HTTP, or socket.io virtual requests. Both send through
 * `@flux/client` (`FluxClient.request`), so every scenario that runs over both transports exercises the
 * client too; raw protocol tests use {@link connectSocket} and {@link socketRequest} instead.
 */
export interface Transport {
  name: 'http' | 'socket';
  request(method: string, url: string, data?: unknown, headers?: Record<string, string>): Promise<Reply>;
  close(): void;
}

/**
 * `request` through `client`, its reply as a {@link Reply} whatever its status: a reply ≥ 400 is taken from
 * the FluxError the client throws (`error.response`); no reply at all (status 0) still rejects. `token` is
 * sent as this request's `authorization` (the client holds no session: no refresh timer, no session end).
 */
async function clientRequest(
  client: FluxClient,
  token: string | undefined,
  method: string,
  url: string,
  data: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const allHeaders = { ...headers };
  if (token) allHeaders.authorization = `Bearer ${token}`;
  let response: FluxResponse;
  try {
    response = await client.request(method, url, data, { headers: allHeaders });
  } catch (error) {
    if (!(error instanceof FluxError) || !error.response) throw error;
    response = error.response;
  }
  return { status: response.statusCode, headers: response.headers, body: response.data };
}

/**
 * Sends requests through a client that holds its own session (logged in with `client.login`), over its
 * socket when connected, else HTTP: for scenarios written with {@link Transport}s whose actors are
 * `FluxClient`s. `name` only labels the transport.
 */
export function clientTransport(client: FluxClient, name: 'http' | 'socket'): Transport {
  return {
    name,
    request: (method, url, data, headers) => clientRequest(client, undefined, method, url, data, headers),
    close() {
      client.close();
    },
  };
}

/**
 * Sends requests over HTTP (`?data=<JSON>` for GET, a JSON body otherwise) through a `FluxClient` created
 * with `socket: false`; `token`, if any, as each request's bearer.
 */
export function httpTransport(base: string, token?: string): Transport {
  const client = createClient({ url: base, socket: false });
  return {
    name: 'http',
    request: (method, url, data, headers) => clientRequest(client, token, method, url, data, headers),
    close() {
      client.close();
    },
  };
}

/**
 * A `FluxClient` whose socket is connected (websocket only, no reconnection, its own connection), for
 * {@link socketTransport}; `client.socket` is there for events. Rejects on the first `connect_error`.
 */
export async function connectClient(base: string): Promise<FluxClient> {
  const client = createClient({
    url: base,
    socket: { reconnection: false, forceNew: true },
    timeoutMs: 5000,
  });
  const socket = client.socket!;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('connect_error', reject);
        resolve();
      });
      socket.once('connect_error', reject);
    });
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
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

/**
 * Sends requests as socket.io virtual requests through `client` (from {@link connectClient}); its socket is
 * bound by logging in over it, or `token` is sent as each request's bearer. Fails rather than let the client
 * fall back to HTTP when the socket is down.
 */
export function socketTransport(client: FluxClient, token?: string): Transport {
  return {
    name: 'socket',
    async request(method, url, data, headers) {
      if (!client.connected) throw new Error(`${method} ${url}: the socket transport is not connected`);
      return clientRequest(client, token, method, url, data, headers);
    },
    close() {
      client.close();
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
