import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { literal, type QueryOptions, Sequelize, Transaction } from 'sequelize';
import { addOwnQueryHook } from './leanQuery.js';
import type { Logger } from './log.js';

/**
 * Opens the database: PostgreSQL when `url` is set (`postgres://…`), else the embedded SQLite file
 * `storage` (relative paths are resolved against `rootdir`; `:memory:` is accepted for tools). `pool`
 * sizes PostgreSQL's connection pool (Sequelize `pool` options; default 10 connections). SQLite
 * transactions are `IMMEDIATE`.
 *
 * Every statement runs under `statementTimeoutMs` (default 5000; 0: none): PostgreSQL cancels it
 * (`statement_timeout` of each pooled connection, SQLSTATE 57014), SQLite is interrupted
 * (`SQLITE_INTERRUPT`). Either way the query rejects, `toErrorReply` answers 503 `QueryTimeout`, the
 * connection serves the next statement, and one warn line (no SQL, no stack) names the statement's type
 * and model.
 */
export function openDatabase(
  options: {
    url?: string;
    storage: string;
    logging: boolean;
    pool?: { max: number; min: number; idle: number; acquire: number };
    statementTimeoutMs?: number;
  },
  rootdir: string,
  log: Logger,
): Sequelize {
  const logging = options.logging ? (sql: string) => log.debug(sql) : false;
  const timeoutMs = options.statementTimeoutMs ?? 5_000;
  let sequelize: Sequelize;
  if (options.url) {
    sequelize = new Sequelize(options.url, {
      logging,
      pool: options.pool ?? { max: 10, min: 0, idle: 10_000, acquire: 60_000 },
      // sent by pg as a startup parameter of every connection (a `?statement_timeout=` in the URL wins)
      dialectOptions: timeoutMs > 0 ? { statement_timeout: timeoutMs } : {},
    });
  } else {
    const storage = options.storage === ':memory:' ? options.storage : path.resolve(rootdir, options.storage);
    if (storage !== ':memory:') mkdirSync(path.dirname(storage), { recursive: true });
    // Transactions take the write lock when they begin (BEGIN IMMEDIATE): a deferred one that read, then
    // wrote after another connection committed, would fail SQLITE_BUSY at once (no wait can help it);
    // others wait for an immediate one instead (https://www.sqlite.org/lang_transaction.html)
    sequelize = new Sequelize({
      dialect: 'sqlite',
      storage,
      logging,
      transactionType: Transaction.TYPES.IMMEDIATE,
    });
    prepareConnections(sequelize);
  }
  if (timeoutMs > 0) watchStatements(sequelize, timeoutMs, log);
  return sequelize;
}

/** What Flux uses of node-sqlite3's `Database`. */
interface SqliteConnection {
  /** Without a callback: run this connection's statements one after another from now on. */
  serialize(): void;
  /** `sqlite3_interrupt`: stop the statement running on this connection. */
  interrupt(): void;
  /** Runs SQL without results, queued like any statement of a serialized connection. */
  exec(sql: string, callback: (err: Error | null) => void): void;
}

/** How long an SQLite statement waits for another connection's lock before failing `SQLITE_BUSY`, ms. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Prepares every SQLite connection before its first statement — Sequelize opens one per transaction besides
 * the default one, so a PRAGMA run once would miss them:
 * - node-sqlite3's serialized mode. In the default (parallel) mode, each queued statement waits in a libuv
 *   pool thread for the connection's mutex, and the main thread, which finalizes a finished statement
 *   under that same mutex, blocks behind whichever statement runs next: one slow statement froze the
 *   event loop, every request with it, and the timers that should stop it. Serialized, a statement starts
 *   once the previous one is finalized.
 * - a busy timeout: wait for another connection's lock instead of failing at once.
 * - `PRAGMA case_sensitive_like = ON`: `like` filters mean the same as on PostgreSQL (docs/protocol.md).
 */
function prepareConnections(sequelize: Sequelize): void {
  const prepared = new WeakSet<object>();
  sequelize.addHook('beforeQuery', (_options: QueryOptions, query) => {
    const connection = query.connection as unknown as SqliteConnection;
    if (prepared.has(connection)) return;
    connection.serialize();
    // queued before the statement about to run; a failure would show in every like filter's test
    connection.exec(
      `PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}; PRAGMA case_sensitive_like = ON`,
      () => {},
    );
    prepared.add(connection);
  });
}

/**
 * The operand of `LIKE` on SQLite: the pattern with `ESCAPE '\'`, so that `\` escapes `%`, `_` and itself
 * as on PostgreSQL (where it is the default). Pass it to `parseFindQuery`.
 */
export function sqliteLikeOperand(sequelize: Sequelize): (pattern: string) => unknown {
  return (pattern) => literal(`${sequelize.escape(pattern)} ESCAPE '\\'`);
}

/** The statements under way on one connection, oldest first, and since when the oldest one runs. */
interface ConnectionWatch {
  pending: Map<object, string>;
  since: number;
  timer?: NodeJS.Timeout;
  /** SQLite: the watchdog interrupted the statement running now (its end logs the warn line). */
  interrupted?: boolean;
}

/**
 * Times every statement through Sequelize's `beforeQuery`/`afterQuery` hooks (they wrap every
 * `sequelize.query`, model methods included). A connection runs one statement at a time (SQLite
 * serialized, see {@link serializeConnections}; pg queues a client's queries), so the oldest statement
 * under way on a connection is the one running, and it runs since the connection became busy or finished
 * the statement before: time spent queued behind another does not count. SQLite has no timeout of its
 * own: past `timeoutMs`, `sqlite3_interrupt` stops the connection's running statement
 * (https://www.sqlite.org/c3ref/interrupt.html); PostgreSQL cancels by itself. A statement that ends past
 * `timeoutMs`, or that the watchdog stopped, logs one warn line with its type and model (no SQL: it holds
 * values).
 */
function watchStatements(sequelize: Sequelize, timeoutMs: number, log: Logger): void {
  const sqlite = sequelize.getDialect() === 'sqlite';
  const watches = new WeakMap<object, ConnectionWatch>();

  const interruptLater = (connection: object, watch: ConnectionWatch): void => {
    clearTimeout(watch.timer);
    watch.timer = undefined;
    if (!sqlite || watch.pending.size === 0) return;
    watch.timer = setTimeout(
      function interruptStatement() {
        (connection as SqliteConnection).interrupt();
        watch.interrupted = true;
        // the statement now ends and afterQuery arms the timer for the next one; should the interrupt
        // have come as it ended on its own, try again for whatever runs on
        watch.timer = setTimeout(interruptStatement, timeoutMs).unref();
      },
      Math.max(0, watch.since + timeoutMs - Date.now()),
    ).unref();
  };

  addOwnQueryHook(sequelize, 'beforeQuery', (options, query) => {
    const connection = query.connection as object;
    let watch = watches.get(connection);
    if (!watch) {
      watch = { pending: new Map(), since: Date.now() };
      watches.set(connection, watch);
    }
    const model = (options as { model?: { name?: string } }).model?.name;
    watch.pending.set(query, [options.type ?? 'SQL', model].filter(Boolean).join(' '));
    if (watch.pending.size === 1) {
      watch.since = Date.now();
      interruptLater(connection, watch);
    }
  });
  addOwnQueryHook(sequelize, 'afterQuery', (_options, query) => {
    const connection = query.connection as object;
    const watch = watches.get(connection);
    const statement = watch?.pending.get(query);
    if (!watch || statement === undefined) return;
    watch.pending.delete(query);
    const now = Date.now();
    // the interrupt's timer runs on libuv's clock, which can be a millisecond behind Date.now's: a
    // statement it stopped ran the whole timeout, whatever Date.now says
    const ran = watch.interrupted ? Math.max(now - watch.since, timeoutMs) : now - watch.since;
    watch.interrupted = false;
    if (ran >= timeoutMs) {
      log.warn(`database: a ${statement} statement ran ${ran} ms, past statementTimeoutMs (${timeoutMs} ms)`);
    }
    watch.since = now;
    interruptLater(connection, watch);
  });
}

/** SQLite: wait for locks instead of failing, and enforce foreign keys. No-op on other dialects. */
export async function tuneDatabase(sequelize: Sequelize): Promise<void> {
  if (sequelize.getDialect() !== 'sqlite') return;
  await sequelize.query('PRAGMA journal_mode = WAL');
  await sequelize.query(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  await sequelize.query('PRAGMA foreign_keys = ON');
}

/** A `text` or `varchar` column of the current schema, with its full type (`character varying(200)`). */
interface TextColumn {
  table: string;
  column: string;
  type: string;
}

/**
 * PostgreSQL: the `text` and `varchar` columns of the current schema's tables whose collation is not
 * `collation`; none on other dialects.
 */
export async function textColumnsNotIn(
  sequelize: Sequelize,
  collation: 'C' | 'default',
): Promise<TextColumn[]> {
  if (sequelize.getDialect() !== 'postgres') return [];
  const [columns] = (await sequelize.query(
    `SELECT c.relname AS "table", a.attname AS "column", format_type(a.atttypid, a.atttypmod) AS "type"
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_collation co ON co.oid = a.attcollation
      WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        AND a.atttypid IN ('text'::regtype, 'varchar'::regtype) AND co.collname <> :collation
        AND c.relname <> 'SequelizeMeta'
      ORDER BY 1, 2`,
    { replacements: { collation } },
  )) as [TextColumn[], unknown];
  return columns;
}

/**
 * PostgreSQL: gives every `text` and `varchar` column of the current schema's tables the collation
 * `collation` (`"C"`: compare and sort by code point, as SQLite does; `default`: the database's). Indexes
 * on those columns are rebuilt. No-op on other dialects. Call it at the end of a migration that adds text
 * columns (docs/extending.md).
 */
export async function setTextCollation(sequelize: Sequelize, collation: 'C' | 'default'): Promise<void> {
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  for (const { table, column, type } of await textColumnsNotIn(sequelize, collation)) {
    await sequelize.query(
      `ALTER TABLE ${quote(table)} ALTER COLUMN ${quote(column)} TYPE ${type} COLLATE ${quote(collation)}`,
    );
  }
}
