import { Op, type Sequelize, type WhereOptions } from 'sequelize';
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
type SessionChange = (
  | { kind: 'connected' | 'disconnected'; sessionId: number; socketId: string }
  | { kind: 'touched'; sessionId: number }
) & {
  /** The database of the server that asked for it: a change left by a stopped server is not written. */
  sequelize: Sequelize;
};

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
 * - Each row written is then published once as an update of the session (`model:session`), as PostgreSQL's
 *   `UPDATE … RETURNING` gave it (so no later change of the row is published before it), or as read back
 *   on SQLite. The columns written decide no read group (a session's groups come from its user), so its
 *   readers before are its readers after.
 * - A disconnection (`socketId` null, `disconnectedAt` now) is written only while the session still names
 *   that socket: a later socket of the session keeps it connected. Written with Sequelize's per-row hooks,
 *   which publish each row. `disconnectedAt` is the time of the write that records it.
 *
 * Ordering: a change asked for while a write runs is written by a later write; within a batch, the last
 * connection of each session is written first, then the disconnections (each changes nothing unless the
 * session still names its socket) but one naming the very socket its session connects later in the batch.
 * So a socket that goes while its binding is being written ends disconnected, and a failed connection
 * leaves the disconnections before it to be written. A failed statement is logged; the others still run.
 * Changes asked for by a server that has stopped since are dropped (its database is closed, or another
 * server's is open).
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
    return this.enqueue({ kind: 'connected', sessionId, socketId, sequelize: Flux.sequelize });
  }

  /**
   * Records an action of session `sessionId` (its `lastAction`: the time of the write).
   * @returns resolves once written (never rejects: a failed write is logged, the session stays as it was)
   */
  touched(sessionId: number): Promise<void> {
    return this.enqueue({ kind: 'touched', sessionId, sequelize: Flux.sequelize });
  }

  /**
   * Records that `socketId` left session `sessionId`.
   * @returns resolves once written (never rejects: a failed write is logged, the sessions stay as they were)
   */
  disconnected(sessionId: number, socketId: string): Promise<void> {
    return this.enqueue({ kind: 'disconnected', sessionId, socketId, sequelize: Flux.sequelize });
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

  private async writeAll(all: SessionChange[]): Promise<void> {
    // asked for by a server that stopped since (its database is closed or another one's)
    const batch = all.filter((change) => change.sequelize === Flux.sequelize);
    // per session, its last connection; a disconnection of that very socket asked for before it is
    // overtaken by it, any other is written after the connections (it then changes nothing, unless the
    // connection failed)
    const connections = new Map<number, { socketId: string; index: number }>();
    const touched = new Set<number>();
    batch.forEach((change, index) => {
      if (change.kind === 'touched') touched.add(change.sessionId);
      if (change.kind === 'connected')
        connections.set(change.sessionId, { socketId: change.socketId, index });
    });
    const disconnections = batch.flatMap((change, index) => {
      if (change.kind !== 'disconnected') return [];
      const connection = connections.get(change.sessionId);
      const overtaken = connection?.socketId === change.socketId && connection.index > index;
      return overtaken ? [] : [change];
    });
    const connected = [...connections].map(([sessionId, { socketId }]) => [sessionId, socketId] as const);
    const touches = [...touched];
    for (let start = 0; start < Math.max(connected.length, touches.length); start += PER_STATEMENT) {
      await this.writeRows(
        new Map(connected.slice(start, start + PER_STATEMENT)),
        touches.slice(start, start + PER_STATEMENT),
      );
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
   * action of every session of `touched`; then each row written is published once, as the statement
   * returned it (PostgreSQL: `RETURNING`, so that no later change of the row is published before it) or as
   * read back. Never throws: a failed statement is logged, and the other one still runs.
   */
  private async writeRows(sockets: Map<number, string>, touched: number[]): Promise<void> {
    const { sequelize, Session: model } = Flux;
    const returning = sequelize.getDialect() === 'postgres';
    // no per-row hooks (they would read every row first and write each alone): published below
    const options = { hooks: false, validate: false, returning } as const;
    const written = new Map<number, Session | undefined>();
    const write = async (ids: number[], values: object, what: string): Promise<void> => {
      try {
        // [count] or, with RETURNING, [count, rows]
        const [, rows] = (await model.update(values as never, { ...options, where: { id: ids } })) as [
          number,
          Session[]?,
        ];
        // the later statement's row has both changes
        for (const id of ids) written.set(id, undefined);
        for (const row of rows ?? []) written.set(row.id, row);
      } catch (err) {
        Flux.log.warn(`could not record ${what} of ${ids.length} session(s):`, err);
      }
    };
    if (sockets.size > 0) {
      const ids = [...sockets.keys()];
      const id = sequelize.getQueryInterface().quoteIdentifier('id');
      const cases = ids.map(
        (sessionId) => `WHEN ${Number(sessionId)} THEN ${sequelize.escape(sockets.get(sessionId)!)}`,
      );
      await write(
        ids,
        { socketId: sequelize.literal(`CASE ${id} ${cases.join(' ')} END`), disconnectedAt: null },
        'the socket',
      );
    }
    if (touched.length > 0) await write(touched, { lastAction: new Date() }, 'the last action');
    try {
      const unread = [...written].filter(([, row]) => !row).map(([id]) => id);
      const read = unread.length > 0 ? await model.findAll({ where: { id: unread } }) : [];
      for (const row of [...written.values(), ...read]) if (row) publishUpdate(Flux.pubsub, row);
    } catch (err) {
      Flux.log.warn(`could not publish the activity of ${written.size} session(s):`, err);
    }
  }
}

/** The application's writer of session activity (one per process, like the other services). */
export const sessionActivity = new SessionActivityService();
