import { EventEmitter } from 'node:events';
import type { PGlite } from '@electric-sql/pglite';
import pgUtils from 'pg/lib/utils.js';

/**
 * A `pg.Pool`-shaped facade over ONE in-process PGlite database, for BullMQ's PostgreSQL backend (which
 * accepts "an already-constructed pg.Pool"): the job store of the embedded default (docs/jobs.md).
 *
 * PGlite is a single session. The facade guarantees:
 * - `pool.query()`: one statement at a time (PGlite's own mutex), never inside another client's open
 *   transaction (the transaction gate below);
 * - a client's `BEGIN` … `COMMIT`/`ROLLBACK`: holds the gate, so nothing interleaves;
 * - parameters converted exactly as node-postgres does (`prepareValue`), `int8` and `numeric` returned
 *   as strings, as node-postgres does;
 * - notifications: every client with a `notification` listener receives every `NOTIFY` of the session
 *   (BullMQ filters by channel and payload itself).
 * What it cannot give: several sessions. Session state (`SET`, `LISTEN`, advisory locks) is shared by
 * every "connection" — BullMQ 6.7 relies on none of it beyond a fixed `search_path` (set once).
 * Every BullMQ upgrade must rerun the job tests (test/integration/jobs.test.ts) on this store.
 */
export class PGlitePool extends EventEmitter {
  /** BullMQ reads `pool.options.keepAlive` to size its blocking waits. */
  readonly options = { keepAlive: true };
  /** The client whose transaction is open, if any. */
  txOwner: PGliteClient | null = null;
  private txWaiters: Array<() => void> = [];
  readonly clients = new Set<PGliteClient>();
  private readonly unsubscribe: () => void;

  constructor(readonly db: PGlite) {
    super();
    this.setMaxListeners(0);
    this.unsubscribe = db.onNotification((channel, payload) => {
      for (const client of this.clients) client.emit('notification', { channel, payload, processId: 0 });
    });
  }

  /** Waits until no other client holds a transaction. */
  async gate(owner: PGliteClient | null): Promise<void> {
    while (this.txOwner && this.txOwner !== owner) {
      await new Promise<void>((resolve) => this.txWaiters.push(resolve));
    }
  }

  releaseTransaction(): void {
    this.txOwner = null;
    for (const resolve of this.txWaiters.splice(0)) resolve();
  }

  /** Runs one statement (several without parameters, as node-postgres' simple protocol allows). */
  async run(owner: PGliteClient | null, text: string, params?: unknown[]): Promise<QueryResult> {
    // PGlite runs SQL synchronously (WebAssembly) and resolves without real I/O: a busy worker would chain
    // microtasks and starve timers, sockets and HTTP. Yield to the macrotask queue before each statement.
    await new Promise((resolve) => setImmediate(resolve));
    await this.gate(owner);
    if (!params || params.length === 0) {
      const results = await this.db.exec(text, { parsers: pgLikeParsers });
      const last = results[results.length - 1] ?? { rows: [], affectedRows: 0, fields: [] };
      return { rows: last.rows, rowCount: last.affectedRows ?? last.rows.length, fields: last.fields };
    }
    const values = params.map((value) => pgUtils.prepareValue(value));
    const result = await this.db.query(text, values, { parsers: pgLikeParsers });
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length, fields: result.fields };
  }

  query(text: string | { text: string; values?: unknown[] }, params?: unknown[]): Promise<QueryResult> {
    if (typeof text === 'object') return this.run(null, text.text, text.values);
    return this.run(null, text, params);
  }

  async connect(): Promise<PGliteClient> {
    const client = new PGliteClient(this);
    this.clients.add(client);
    this.emit('connect', client);
    return client;
  }

  async end(): Promise<void> {
    this.unsubscribe();
    this.clients.clear();
  }

  get totalCount(): number {
    return this.clients.size;
  }

  get idleCount(): number {
    return 0;
  }

  get waitingCount(): number {
    return this.txWaiters.length;
  }
}

/** What node-postgres returns from `query`, as far as BullMQ reads it. */
interface QueryResult {
  rows: unknown[];
  rowCount: number;
  fields: unknown[];
}

/** `int8` and `numeric` as strings, as node-postgres returns them. */
const pgLikeParsers = { 20: (text: string) => text, 1700: (text: string) => text };

/** One "connection" of {@link PGlitePool}: its transaction holds the pool's gate. */
class PGliteClient extends EventEmitter {
  constructor(private readonly pool: PGlitePool) {
    super();
  }

  async query(text: string | { text: string; values?: unknown[] }, params?: unknown[]): Promise<QueryResult> {
    const sql = typeof text === 'object' ? text.text : text;
    const values = typeof text === 'object' ? text.values : params;
    const head = sql
      .replace(/^(\s|--[^\n]*\n)*/, '')
      .slice(0, 17)
      .toUpperCase();
    if (/^(BEGIN|START TRANSACTION)/.test(head)) {
      await this.pool.gate(this);
      this.pool.txOwner = this;
    }
    try {
      return await this.pool.run(this, sql, values);
    } finally {
      if (/^(COMMIT|ROLLBACK|END)\b/.test(head) && this.pool.txOwner === this) this.pool.releaseTransaction();
    }
  }

  /** Returns the connection; one returned mid-transaction is rolled back, as node-postgres destroys it. */
  release(): void {
    if (this.pool.txOwner === this) {
      this.pool.db.exec('ROLLBACK').catch(() => {});
      this.pool.releaseTransaction();
    }
    this.pool.clients.delete(this);
  }

  async end(): Promise<void> {
    this.release();
  }
}
