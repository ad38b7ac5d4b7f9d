import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** The connections of an HTTP server that have not sent a request yet; see {@link trackFreshConnections}. */
export interface FreshConnections {
  /** Resolves once none is left (each sent its first request or closed), or after `ms` milliseconds. */
  served(ms: number): Promise<void>;
}

/**
 * Follows the connections `server` accepts until their first request (or WebSocket upgrade) or their
 * close: a stopping server waits for those before closing idle connections (`FluxApp#stop`, lib/Flux.ts).
 * Shared listeners, and a connection leaves the set at its first request: nothing is kept per open
 * WebSocket. Register it after anything that wraps the server's `request` listeners (engine.io does).
 */
export function trackFreshConnections(server: HttpServer): FreshConnections {
  const fresh = new Set<Socket>();
  function forget(this: Socket): void {
    fresh.delete(this);
  }
  const served = (req: IncomingMessage): void => {
    if (fresh.delete(req.socket)) req.socket.removeListener('close', forget);
  };
  server.on('connection', (socket: Socket) => {
    fresh.add(socket);
    socket.on('close', forget);
  });
  server.prependListener('request', served);
  server.prependListener('upgrade', served);
  return {
    async served(ms) {
      const deadline = Date.now() + ms;
      while (fresh.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(5, deadline - Date.now())));
      }
    },
  };
}
