import { Socket as TcpSocket } from 'node:net';
import type { EngineSocket, FluxServer } from './types.js';

/**
 * Batching of socket writes: engine.io flushes the packets queued while a write was pending (replies to
 * requests that arrived together) one WebSocket frame at a time; corked, they leave in one system call.
 */

/**
 * Corks each flush of more than one packet on every engine.io connection of `io`, until the end of that
 * turn of the event loop. One listener per engine.io connection (not per namespace socket).
 */
export function corkBatchedWrites(io: FluxServer): void {
  io.engine?.on('connection', (conn: EngineSocket) => {
    conn.on('flush', onFlush);
  });
}

/**
 * One listener for every connection, not a closure each: Node calls it with `this` set to the emitter
 * (node:events, "Passing arguments and this to listeners").
 */
function onFlush(this: EngineSocket, packets: unknown[]): void {
  if (packets.length > 1) corkForThisTurn(this);
}

/**
 * Corks the connection's TCP socket until the end of this turn of the event loop: the frames written
 * meanwhile leave in one write, one system call instead of one per frame (`writable.cork()`, Node stream
 * docs). Nothing waits longer than the rest of this turn.
 */
export function corkForThisTurn(conn: EngineSocket): void {
  const tcp = tcpSocketOf(conn);
  // corked already means corked by an earlier flush of this turn (ws uncorks its own before returning)
  if (!tcp || tcp.writableCorked > 0 || tcp.destroyed) return;
  tcp.cork();
  process.nextTick(() => tcp.uncork());
}

/**
 * The TCP socket under a socket.io connection on the WebSocket transport (engine.io transport → ws
 * WebSocket → its socket), or undefined on HTTP long-polling or if these libraries change their shape.
 */
function tcpSocketOf(conn: EngineSocket): TcpSocket | undefined {
  const transport = (conn as unknown as { transport?: { socket?: { _socket?: unknown } } }).transport;
  const tcp = transport?.socket?._socket;
  return tcp instanceof TcpSocket ? tcp : undefined;
}
