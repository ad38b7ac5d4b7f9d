import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Sequelize, Transaction } from 'sequelize';
import type { Logger } from './log.js';

/**
 * Opens the database: PostgreSQL when `url` is set (`postgres://…`), else the embedded SQLite file
 * `storage` (relative paths are resolved against `rootdir`; `:memory:` is accepted for tools). `pool`
 * sizes PostgreSQL's connection pool (Sequelize `pool` options; default 10 connections). SQLite
 * transactions are `IMMEDIATE`.
 */
export function openDatabase(
  options: {
    url?: string;
    storage: string;
    logging: boolean;
    pool?: { max: number; min: number; idle: number; acquire: number };
  },
  rootdir: string,
  log: Logger,
): Sequelize {
  const logging = options.logging ? (sql: string) => log.debug(sql) : false;
  if (options.url) {
    return new Sequelize(options.url, {
      logging,
      pool: options.pool ?? { max: 10, min: 0, idle: 10_000, acquire: 60_000 },
    });
  }
  const storage = options.storage === ':memory:' ? options.storage : path.resolve(rootdir, options.storage);
  if (storage !== ':memory:') mkdirSync(path.dirname(storage), { recursive: true });
  // Transactions take the write lock when they begin (BEGIN IMMEDIATE): a deferred one that read, then
  // wrote after another connection committed, would fail SQLITE_BUSY at once (no wait can help it);
  // others wait for an immediate one instead (https://www.sqlite.org/lang_transaction.html)
  return new Sequelize({ dialect: 'sqlite', storage, logging, transactionType: Transaction.TYPES.IMMEDIATE });
}

/** SQLite: wait for locks instead of failing, and enforce foreign keys. No-op on other dialects. */
export async function tuneDatabase(sequelize: Sequelize): Promise<void> {
  if (sequelize.getDialect() !== 'sqlite') return;
  await sequelize.query('PRAGMA journal_mode = WAL');
  await sequelize.query('PRAGMA busy_timeout = 5000');
  await sequelize.query('PRAGMA foreign_keys = ON');
}
