import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';

/**
 * A SELECT of raw rows on PostgreSQL, run as `sequelize.query(sql, {type: SELECT, raw: true, model,
 * transaction})` runs it (docs/performance.md): on the transaction's connection or one taken from
 * Sequelize's pool (its `beforePoolAcquire`/`afterPoolAcquire` hooks, read replicas), between the
 * connection's query hooks, its errors turned into Sequelize's (`formatError` of the dialect's `Query`,
 * the connection marked invalid where Sequelize marks it), the connection given back after. Without what
 * that call does besides for every statement: its options copied three times, a `Query` object with a
 * UUID, a stack trace taken in case of an error, the retry wrapper, and each row copied.
 *
 * Used as is when nothing else would differ; otherwise {@link selectRows} calls `sequelize.query`:
 * a dialect other than PostgreSQL, SQL logging or benchmarking, CLS transactions, a prepended search
 * path, retries for more than SQLite's busy errors (Sequelize's default), or query hooks other than
 * those registered with {@link addOwnQueryHook}.
 */

/** A pg client as Sequelize's pool hands it out (the parts used here). */
interface PgConnection {
  query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
  _invalid?: boolean;
}

/** A hook of Sequelize's, as it stores a named one. */
type StoredHook = { name?: string; fn: (...args: unknown[]) => unknown } | ((...args: unknown[]) => unknown);

/** The parts of Sequelize's instance used here (not in its type declarations). */
interface SequelizeInternals {
  options: {
    logging?: unknown;
    benchmark?: boolean;
    retry?: { match?: unknown[]; max?: number };
    dialectOptions?: { prependSearchPath?: boolean };
    hooks?: Record<string, StoredHook[] | undefined>;
  };
  constructor: { _cls?: unknown };
  connectionManager: {
    getConnection(options: object): Promise<PgConnection>;
    releaseConnection(connection: PgConnection): void;
  };
  dialect: {
    Query: new (
      connection: unknown,
      sequelize: unknown,
      options: object,
    ) => { formatError(error: unknown, stack?: string): Error };
  };
}

/** Sequelize's default retry: it matches SQLite's busy error only, never a PostgreSQL one. */
const DEFAULT_RETRY_MATCH = 'SQLITE_BUSY: database is locked';

/** The query hooks Flux registers itself, by connection: they are called directly (see the header). */
const ownHooks = new WeakMap<object, Set<unknown>>();

/**
 * Registers `fn` as a `beforeQuery` or `afterQuery` hook of `sequelize` (`sequelize.addHook`) that lean
 * selects call too, directly, with the statement's options and `{connection, sql}` as its query: `fn` must
 * be synchronous and use nothing else of the query.
 */
export function addOwnQueryHook(
  sequelize: Sequelize,
  type: 'beforeQuery' | 'afterQuery',
  fn: (options: { type?: string; model?: { name?: string } }, query: { connection: unknown }) => void,
): void {
  sequelize.addHook(type, fn as never);
  let own = ownHooks.get(sequelize);
  if (!own) {
    own = new Set();
    ownHooks.set(sequelize, own);
  }
  own.add(fn);
}

/** The functions of `hooks` when every one is registered with {@link addOwnQueryHook}, else undefined. */
function ownOnly(
  hooks: StoredHook[] | undefined,
  own: Set<unknown> | undefined,
): Array<(...args: unknown[]) => unknown> | undefined {
  const fns = (hooks ?? []).map((hook) => (typeof hook === 'function' ? hook : hook.fn));
  return fns.every((fn) => own?.has(fn)) ? fns : undefined;
}

/** Whether a select on `sequelize` can run lean, but for its query hooks (checked by each select). */
function leanDialect(sequelize: SequelizeInternals & Sequelize): boolean {
  const options = sequelize.options;
  return (
    sequelize.getDialect() === 'postgres' &&
    !options.logging &&
    !options.benchmark &&
    !options.dialectOptions?.prependSearchPath &&
    !sequelize.constructor._cls &&
    (options.retry?.match ?? []).every((match) => match === DEFAULT_RETRY_MATCH)
  );
}

const leanConnections = new WeakMap<object, boolean>();

/**
 * The rows of `sql` (a SELECT), as `sequelize.query(sql, {type: QueryTypes.SELECT, raw: true, model,
 * transaction})` answers them (see the module's header).
 * @throws what `sequelize.query` throws for the same statement (Sequelize's errors).
 */
export async function selectRows(
  sequelize: Sequelize,
  sql: string,
  options: { model?: unknown; transaction?: Transaction },
): Promise<Record<string, unknown>[]> {
  const internals = sequelize as unknown as SequelizeInternals & Sequelize;
  let lean = leanConnections.get(sequelize);
  if (lean === undefined) {
    lean = leanDialect(internals);
    leanConnections.set(sequelize, lean);
  }
  const own = ownHooks.get(sequelize);
  const hooks = internals.options.hooks;
  const before = lean ? ownOnly(hooks?.beforeQuery, own) : undefined;
  const after = before && ownOnly(hooks?.afterQuery, own);
  const queryOptions = {
    type: QueryTypes.SELECT,
    raw: true,
    model: options.model,
    transaction: options.transaction,
  };
  const transaction = options.transaction as
    | (Transaction & { connection: PgConnection; finished?: string })
    | undefined;
  // a finished transaction: `sequelize.query` throws its error
  if (!before || !after || transaction?.finished) {
    return (await sequelize.query(sql, queryOptions as never)) as unknown as Record<string, unknown>[];
  }
  const connection = transaction
    ? transaction.connection
    : await internals.connectionManager.getConnection(queryOptions);
  const query = { connection, sql };
  try {
    for (const hook of before) hook(queryOptions, query);
    const result = await connection.query(sql);
    return result.rows;
  } catch (error) {
    throw formatError(internals, connection, queryOptions, sql, error);
  } finally {
    for (const hook of after) hook(queryOptions, query);
    if (!transaction) internals.connectionManager.releaseConnection(connection);
  }
}

/** What Sequelize's PostgreSQL `Query#run` makes of a failed statement. */
function formatError(
  sequelize: SequelizeInternals,
  connection: PgConnection,
  options: object,
  sql: string,
  error: unknown,
): Error {
  const err = error as Error & { code?: string; sql?: string; parameters?: unknown };
  if (
    err.code === 'ECONNRESET' ||
    /Unable to set non-blocking to true/i.test(String(err)) ||
    /SSL SYSCALL error: EOF detected/i.test(String(err)) ||
    /Local: Authentication failure/i.test(String(err)) ||
    err.message === 'Query read timeout'
  ) {
    connection._invalid = true;
  }
  err.sql = sql;
  err.parameters = [];
  return new sequelize.dialect.Query(connection, sequelize, options).formatError(err, new Error().stack);
}
