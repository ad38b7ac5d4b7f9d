// A pg.Pool-shaped facade over ONE in-process PGlite instance, for BullMQ's
// PostgreSQL backend (which accepts "an already-constructed pg.Pool").
//
// PGlite is a single session. What this facade guarantees:
//  - pool.query(): one statement at a time (PGlite's own mutex), never inside
//    another client's open transaction (our tx gate below);
//  - client BEGIN..COMMIT/ROLLBACK: holds the tx gate, so nothing interleaves;
//  - parameters are converted exactly as node-postgres does (pg's prepareValue)
//    and int8/numeric come back as strings, as with node-postgres;
//  - notifications: every client with a 'notification' listener receives every
//    NOTIFY of the session (BullMQ filters by channel and payload itself).
// What it cannot give: several sessions. Session state (SET, LISTEN, advisory
// session locks) is shared by every "connection".
import { EventEmitter } from 'node:events';
import pgUtils from 'pg/lib/utils.js';

const PG_LIKE_PARSERS = { 20: (s) => s, 1700: (s) => s }; // int8, numeric: strings as in pg

export class PGlitePool extends EventEmitter {
  constructor(db) {
    super();
    this.db = db;
    this.txOwner = null;
    this.txWaiters = [];
    this.clients = new Set();
    this.setMaxListeners(0);
    this.options = { keepAlive: true }; // BullMQ reads pool.options.keepAlive
    this.unsubscribe = db.onNotification((channel, payload) => {
      for (const c of this.clients) c.emit('notification', { channel, payload, processId: 0 });
    });
  }
  async _gate(owner) {
    while (this.txOwner && this.txOwner !== owner) {
      await new Promise((r) => this.txWaiters.push(r));
    }
  }
  _releaseTx() {
    this.txOwner = null;
    const w = this.txWaiters;
    this.txWaiters = [];
    for (const r of w) r();
  }
  async _run(owner, text, params) {
    // PGlite runs SQL synchronously (WASM) and resolves its promises without any
    // real I/O: a busy worker would chain microtasks forever and starve the event
    // loop (timers, sockets, HTTP). Yield to the macrotask queue before each statement.
    await new Promise((r) => setImmediate(r));
    await this._gate(owner);
    if (!params || params.length === 0) {
      // node-postgres uses the simple protocol without params: several statements allowed
      const results = await this.db.exec(text, { parsers: PG_LIKE_PARSERS });
      const last = results[results.length - 1] ?? { rows: [], affectedRows: 0 };
      return { rows: last.rows, rowCount: last.affectedRows ?? last.rows.length, fields: last.fields };
    }
    const values = params.map((v) => pgUtils.prepareValue(v));
    const r = await this.db.query(text, values, { parsers: PG_LIKE_PARSERS });
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length, fields: r.fields };
  }
  query(text, params) {
    if (typeof text === 'object') ({ text, values: params } = text);
    return this._run(null, text, params);
  }
  async connect() {
    const client = new PGliteClient(this);
    this.clients.add(client);
    this.emit('connect', client);
    return client;
  }
  async end() {
    this.unsubscribe?.();
    this.clients.clear();
  }
  get totalCount() { return this.clients.size; }
  get idleCount() { return 0; }
  get waitingCount() { return this.txWaiters.length; }
}

class PGliteClient extends EventEmitter {
  constructor(pool) {
    super();
    this.pool = pool;
  }
  async query(text, params) {
    if (typeof text === 'object') ({ text, values: params } = text);
    const head = text.replace(/^(\s|--[^\n]*\n)*/, '').slice(0, 16).toUpperCase();
    if (/^(BEGIN|START TRANSACTION)/.test(head)) {
      await this.pool._gate(this);
      this.pool.txOwner = this;
    }
    try {
      return await this.pool._run(this, text, params);
    } finally {
      if (/^(COMMIT|ROLLBACK|END)\b/.test(head) && this.pool.txOwner === this) this.pool._releaseTx();
    }
  }
  release() {
    if (this.pool.txOwner === this) {
      // like a pg client returned mid-transaction and destroyed
      this.pool.db.exec('ROLLBACK').catch(() => {});
      this.pool._releaseTx();
    }
    this.pool.clients.delete(this);
  }
  async end() { this.release(); }
}
