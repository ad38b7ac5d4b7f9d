import { Op, type WhereOptions } from 'sequelize';
import { Flux } from '../../lib/Flux.js';
import type { Session } from '../models/Session.js';

/** Disconnections per statement: an OR of (id, socketId) pairs stays far below SQLite's expression depth. */
const PER_STATEMENT = 200;

/**
 * Writes the disconnections of sockets from their sessions (`socketId` null, `disconnectedAt` now, only
 * while the session still names that socket: a later socket of the session keeps it connected), in batches:
 * one write at a time, and every disconnection seen meanwhile goes into the next one. A server that stops
 * with 10,000 sockets writes them in 50 updates instead of 10,000 (each update reads its rows first, for
 * the model hooks that publish `model:session`): within `server.shutdownTimeoutMs`. `disconnectedAt` is
 * the time of the write that records it (docs/performance.md).
 *
 * Ordering: a disconnection asked for while a write runs is written by a later write, so a caller that asks
 * again once its own write of the session's socket has committed (`AuthController`'s binding) is written
 * after it.
 */
export class DisconnectionService {
  private pending: Array<{ sessionId: number; socketId: string }> = [];
  private writing?: Promise<void>;
  private next?: Promise<void>;

  /**
   * Records that `socketId` left session `sessionId`.
   * @returns resolves once written (never rejects: a failed write is logged, the sessions stay as they were)
   */
  disconnected(sessionId: number, socketId: string): Promise<void> {
    this.pending.push({ sessionId, socketId });
    // after the write in flight, whatever became of it
    const write = () => this.write();
    this.next ??= (this.writing ?? Promise.resolve()).then(write, write);
    return this.next;
  }

  private async write(): Promise<void> {
    const batch = this.pending.splice(0);
    this.next = undefined;
    const written = this.writeAll(batch);
    this.writing = written;
    await written;
  }

  private async writeAll(batch: Array<{ sessionId: number; socketId: string }>): Promise<void> {
    for (let start = 0; start < batch.length; start += PER_STATEMENT) {
      const pairs = batch.slice(start, start + PER_STATEMENT);
      try {
        const where: WhereOptions<Session> = {
          [Op.or]: pairs.map(({ sessionId, socketId }) => ({ id: sessionId, socketId })),
        };
        await Flux.Session.update({ disconnectedAt: new Date(), socketId: null } as never, { where });
      } catch (err) {
        Flux.log.warn(`could not record ${pairs.length} disconnection(s):`, err);
      }
    }
  }
}

/** The application's writer of disconnections (one per process, like the other services). */
export const disconnections = new DisconnectionService();
