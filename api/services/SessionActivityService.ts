import { Op, type WhereOptions } from 'sequelize';
import { Flux } from '../../lib/Flux.js';
import { publishUpdate } from '../../lib/modelHooks.js';
import type { Session } from '../models/Session.js';

/**
 * Sessions per statement: an OR of (id, socketId) pairs, or a CASE over ids, stays far below SQLite's
 * expression depth.
 */
const PER_STATEMENT = 200;
/**
 * How long a write waits for the changes that follow its first one, in ms: phones reconnecting after a
 * restart arrive a few per millisecond, and a write started at the first would carry it alone.
 */
const GATHER_MS = 20;

/** One socket joining or leaving a session, in the order the transport saw it, or an action of it. */
type SessionChange =
  | { kind: 'connected' | 'disconnected'; sessionId: number; socketId: string }
  | { kind: 'touched'; sessionId: number };

/**
 * Writes what a session's activity changes of its row — which socket holds it (`socketId`, hidden), when
 * it lost it (`disconnectedAt`), its last action (`lastAction`) — in batches: one write at a time, each
 * starting {@link GATHER_MS} after the first change it carries at the earliest, and every change seen
 * meanwhile goes into the next one. In the benchmark's reconnect storm (10,000 sockets of 1,000 sessions)
 * the bindings took about 1,000 updates instead of 10,000; a server that stops with 10,000 sockets writes
 * their disconnections in 50 updates (docs/performance.md).
 *
 * - A connection (a socket bound to the session by its token) sets `socketId` and clears `disconnectedAt`;
 *   the connections of a batch are one `UPDATE … SET socketId = CASE id …`.
 * - A touch (an authenticated request, at most one per `auth.sessionTouchMs`) sets `lastAction` to the
 *   time of the write; the touches of a batch are one `UPDATE`.
 * - Those rows are then read back, and each is published once as an update of the session
 *   (`model:session`). The columns written decide no read group (a session's groups come from its user),
 *   so its readers before are its readers after.
 * - A disconnection (`socketId` null, `disconnectedAt` now) is written only while the session still names
 *   that socket: a later socket of the session keeps it connected. Written with Sequelize's per-row hooks,
 *   which publish each row. `disconnectedAt` is the time of the write that records it.
 *
 * Ordering: the socket changes of one session are applied in the order they were asked for — its last
 * connection of a batch, then the disconnections asked for after it — and a change asked for while a
 * write runs is written by a later write. So a socket that goes while its binding is being written ends
 * disconnected.
 */
export class SessionActivityService {
  private pending: SessionChange[] = [];
  private writing?: Promise<void>;
  private next?: Promise<void>;

  /**
   * Records that `socketId` is now the socket of session `sessionId`.
   * @returns resolves once written (never rejects: a failed write is logged, the sessions stay as they were)
   */
  connected(sessionId: number, socketId: string): Promise<void> {
    return this.enqueue({ kind: 'connected', sessionId, socketId });
  }

  /**
   * Records an action of session `sessionId` (its `lastAction`: the time of the write).
   * @returns resolves once written (never rejects: a failed write is logged, the session stays as it was)
   */
  touched(sessionId: number): Promise<void> {
    return this.enqueue({ kind: 'touched', sessionId });
  }

  /**
   * Records that `socketId` left session `sessionId`.
   * @returns resolves once written (never rejects: a failed write is logged, the sessions stay as they were)
   */
  disconnected(sessionId: number, socketId: string): Promise<void> {
    return this.enqueue({ kind: 'disconnected', sessionId, socketId });
  }

  private enqueue(change: SessionChange): Promise<void> {
    this.pending.push(change);
    // once the write in flight is done (it never rejects) and the changes of the next GATHER_MS are in
    this.next ??= Promise.all([this.writing, new Promise((resolve) => setTimeout(resolve, GATHER_MS))]).then(
      () => this.write(),
    );
    return this.next;
  }

  private async write(): Promise<void> {
    const batch = this.pending.splice(0);
    this.next = undefined;
    const written = this.writeAll(batch);
    this.writing = written;
    await written;
  }

  private async writeAll(batch: SessionChange[]): Promise<void> {
    // per session, its last connection; the disconnections asked for before it are overtaken by it
    const connections = new Map<number, string>();
    const lastConnection = new Map<number, number>();
    const touched = new Set<number>();
    batch.forEach((change, index) => {
      if (change.kind === 'touched') touched.add(change.sessionId);
      if (change.kind !== 'connected') return;
      connections.set(change.sessionId, change.socketId);
      lastConnection.set(change.sessionId, index);
    });
    const disconnections = batch.flatMap((change, index) =>
      change.kind === 'disconnected' && index > (lastConnection.get(change.sessionId) ?? -1) ? [change] : [],
    );
    const connected = [...connections];
    const touches = [...touched];
    for (let start = 0; start < Math.max(connected.length, touches.length); start += PER_STATEMENT) {
      const sockets = new Map(connected.slice(start, start + PER_STATEMENT));
      const actions = touches.slice(start, start + PER_STATEMENT);
      try {
        await this.writeRows(sockets, actions);
      } catch (err) {
        Flux.log.warn(`could not record the activity of ${sockets.size + actions.length} session(s):`, err);
      }
    }
    for (let start = 0; start < disconnections.length; start += PER_STATEMENT) {
      const pairs = disconnections.slice(start, start + PER_STATEMENT);
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

  /**
   * One statement sets the socket of every session of `sockets` (session id → socket id), one the last
   * action of every session of `touched`; then each row is read back and published once.
   */
  private async writeRows(sockets: Map<number, string>, touched: number[]): Promise<void> {
    const { sequelize, Session: model } = Flux;
    // no per-row hooks (they would read every row first and write each alone): published below
    const options = { hooks: false, validate: false } as const;
    if (sockets.size > 0) {
      const ids = [...sockets.keys()];
      const id = sequelize.getQueryInterface().quoteIdentifier('id');
      const cases = ids.map(
        (sessionId) => `WHEN ${Number(sessionId)} THEN ${sequelize.escape(sockets.get(sessionId)!)}`,
      );
      await model.update(
        { socketId: sequelize.literal(`CASE ${id} ${cases.join(' ')} END`), disconnectedAt: null } as never,
        { ...options, where: { id: ids } },
      );
    }
    if (touched.length > 0)
      await model.update({ lastAction: new Date() }, { ...options, where: { id: touched } });
    // read back after the writes: what is published is never older than them
    const rows = await model.findAll({ where: { id: [...new Set([...sockets.keys(), ...touched])] } });
    for (const row of rows) publishUpdate(Flux.pubsub, row);
  }
}

/** The application's writer of sessions' sockets (one per process, like the other services). */
export const sessionActivity = new SessionActivityService();
