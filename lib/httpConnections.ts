import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The HTTP connections of a server, as a stopping server needs them; see {@link trackHttpConnections}. */
export interface HttpConnections {
  /**
   * Resolves once no connection that has sent nothing yet is left (each sent its first request, upgraded
   * or closed), or after `ms` milliseconds.
   */
  served(ms: number): Promise<void>;
  /**
   * Resolves once no HTTP connection is left open, or after `ms` milliseconds. Not counted: connections
   * upgraded to WebSocket, and those holding a socket.io long-polling request (both engine.io's, closed
   * with it).
   */
  closed(ms: number): Promise<void>;
}

/**
 * Follows the connections `server` accepts until their WebSocket upgrade or their close, and notes which
 * have not sent their first request yet and which hold a long-polling request under `socketPath` (e.g.
 * `/socket.io`): a stopping server waits on those before closing what is idle, and, after a drain, for
 * the connections to be closed by their clients (`FluxApp#stop`, lib/Flux.ts). One shared `close`
 * listener per connection; an upgraded connection leaves at its upgrade, so nothing is kept per open
 * WebSocket. Register it after anything that wraps the server's `request` listeners (engine.io does).
 */
export function trackHttpConnections(server: HttpServer, socketPath: string): HttpConnections {
  const open = new Set<Socket>();
  const fresh = new Set<Socket>();
  const polling = new Set<Socket>();
  const pollPrefix = `${socketPath.replace(/\/$/, '')}/`;
  function forget(this: Socket): void {
    open.delete(this);
    fresh.delete(this);
  }
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    fresh.add(socket);
    socket.on('close', forget);
  });
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    fresh.delete(req.socket);
    if (req.url?.startsWith(pollPrefix)) {
      // engine.io holds a poll until it has packets or its ping is due (25 s)
      const { socket } = req;
      polling.add(socket);
      res.once('close', () => polling.delete(socket));
    }
  });
  server.prependListener('upgrade', (req: IncomingMessage) => {
    open.delete(req.socket);
    fresh.delete(req.socket);
    req.socket.removeListener('close', forget);
  });
  const until = async (done: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(5, deadline - Date.now())));
    }
  };
  return {
    served: (ms) => until(() => fresh.size === 0, ms),
    closed: (ms) => until(() => [...open].every((socket) => polling.has(socket)), ms),
  };
}
