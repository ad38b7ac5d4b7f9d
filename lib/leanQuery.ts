import { EmptyResultError, QueryTypes, type Sequelize, type Transaction } from 'sequelize';

/**
 * Lean statements on PostgreSQL (docs/performance.md): a SELECT of raw rows ({@link selectRows}) and a
 * one-row INSERT ({@link insertRow}), run as `sequelize.query` runs them: on the transaction's connection
 * or one taken from Sequelize's pool (its `beforePoolAcquire`/`afterPoolAcquire` hooks, read replicas),
 * between the connection's query hooks, errors turned into Sequelize's (`formatError` of the dialect's
 * `Query`, the connection marked invalid where Sequelize marks it), the connection given back after.
 * Without what that call does besides for every statement: its options copied three times, a `Query`
 * object with a UUID, a stack trace taken in case of an error, the retry wrapper, each row copied.
 *
 * A select outside a transaction that waits for a connection is shared ({@link selectRows}): the same
 * statement asked again before the first is sent joins it, and both get its rows — one statement where a
 * crowd (phones reconnecting after a restart, each reading the same list) would send hundreds.
 *
 * Used when nothing else would differ; otherwise both call `sequelize.query`: a dialect other than
 * PostgreSQL, SQL logging or benchmarking, CLS transactions, a prepended search path, retries for more
 * than SQLite's busy errors (Sequelize's default) — read once per connection — or, checked by each
 * statement, query hooks other than those registered with {@link addOwnQueryHook}, or a finished
 * transaction (`sequelize.query` throws its error).
 */

/** A pg client as Sequelize's pool hands it out (the parts used here). */
interface PgConnection {
  query(sql: string, parameters?: unknown[]): Promise<PgResult>;
  _invalid?: boolean;
}

/** What pg answers for a statement. */
interface PgResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
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
    Query: {
      new (
        connection: unknown,
        sequelize: unknown,
        options: object,
      ): { formatError(error: unknown, stack?: string): Error };
      formatBindParameters(sql: string, bind: unknown[], dialect: string): [string, unknown[]];
    };
  };
}

/** Sequelize's default retry: it matches SQLite's busy error only, never a PostgreSQL one. */
const DEFAULT_RETRY_MATCH = 'SQLITE_BUSY: database is locked';

/** The query hooks Flux registers itself, by connection: they are called directly (see the header). */
const ownHooks = new WeakMap<object, Set<unknown>>();

/**
 * Registers `fn` as a `beforeQuery` or `afterQuery` hook of `sequelize` (`sequelize.addHook`) that lean
 * statements call too, directly, with the statement's options (`type`, `model`, `transaction`) and
 * `{connection, sql}` as its query: `fn` must be synchronous and use nothing else of either.
 */
export function addOwnQueryHook(
  sequelize: Sequelize,
  type: 'beforeQuery' | 'afterQuery',
  fn: (
    options: { type?: string; model?: { name?: string } },
    query: { connection: unknown; sql?: string },
  ) => void,
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

/** The options of a statement, as its query hooks and Sequelize's errors see them. */
interface StatementOptions {
  type: string;
  model?: unknown;
  transaction?: Transaction;
  [option: string]: unknown;
}

type StatementTransaction = Transaction & { connection: PgConnection; finished?: string };

/** The query hooks a lean statement calls itself, before and after it runs. */
interface StatementHooks {
  before: Array<(...args: unknown[]) => unknown>;
  after: Array<(...args: unknown[]) => unknown>;
}

/** The query hooks of a lean statement (Flux's own), or undefined when it must go through `sequelize.query`. */
function leanHooks(sequelize: Sequelize, options: StatementOptions): StatementHooks | undefined {
  const internals = sequelize as unknown as SequelizeInternals & Sequelize;
  let lean = leanConnections.get(sequelize);
  if (lean === undefined) {
    lean = leanDialect(internals);
    leanConnections.set(sequelize, lean);
  }
  if (!lean) return undefined;
  const own = ownHooks.get(sequelize);
  const hooks = internals.options.hooks;
  const before = ownOnly(hooks?.beforeQuery, own);
  const after = before && ownOnly(hooks?.afterQuery, own);
  const transaction = options.transaction as StatementTransaction | undefined;
  // a finished transaction: `sequelize.query` throws its error
  if (!before || !after || transaction?.finished) return undefined;
  return { before, after };
}

/**
 * Runs `sql` with `parameters` lean (see the module's header) and answers pg's result; undefined, having
 * run nothing, when the statement must go through `sequelize.query`.
 */
function runLean(
  sequelize: Sequelize,
  sql: string,
  parameters: unknown[] | undefined,
  options: StatementOptions,
): Promise<PgResult> | undefined {
  const hooks = leanHooks(sequelize, options);
  return hooks && run(sequelize as unknown as SequelizeInternals, sql, parameters, options, hooks);
}

/**
 * Runs a lean statement. `sent`, if given, is called once the statement has its connection (or could get
 * none), just before it is sent.
 */
async function run(
  sequelize: SequelizeInternals,
  sql: string,
  parameters: unknown[] | undefined,
  options: StatementOptions,
  { before, after }: StatementHooks,
  sent?: () => void,
): Promise<PgResult> {
  const transaction = options.transaction as StatementTransaction | undefined;
  let connection: PgConnection;
  try {
    connection = transaction
      ? transaction.connection
      : await sequelize.connectionManager.getConnection(options);
  } finally {
    sent?.();
  }
  const query = { connection, sql };
  try {
    for (const hook of before) hook(options, query);
    return await (parameters ? connection.query(sql, parameters) : connection.query(sql));
  } catch (error) {
    throw formatError(sequelize, connection, options, sql, parameters, error);
  } finally {
    for (const hook of after) hook(options, query);
    if (!transaction) sequelize.connectionManager.releaseConnection(connection);
  }
}

/** Lean selects waiting for a connection, by connection and statement: an identical one joins them. */
const waitingSelects = new WeakMap<object, Map<string, Promise<PgResult>>>();

/**
 * The rows of `sql` (a SELECT), as `sequelize.query(sql, {type: QueryTypes.SELECT, raw: true, model,
 * transaction})` answers them (see the module's header).
 *
 * Outside a transaction, when it runs lean, the same `sql` asked while an earlier one waits for a
 * connection joins it: one statement, its rows (the same array and objects: read them, never change them)
 * or its error for both. Only until it is sent: PostgreSQL takes a statement's snapshot when it starts
 * (READ COMMITTED), so a joined select still sees every write committed before it was asked — a client
 * reads its own writes — and a select asked after the statement was sent runs its own. A select that
 * joins shares the first one's lot: what is left of its wait for a connection (`pool.acquire`), and its
 * `model` as the query hooks and a slow statement's warn line see it.
 * @throws what `sequelize.query` throws for the same statement (Sequelize's errors).
 */
export async function selectRows(
  sequelize: Sequelize,
  sql: string,
  options: { model?: unknown; transaction?: Transaction },
): Promise<Record<string, unknown>[]> {
  const queryOptions: StatementOptions = {
    type: QueryTypes.SELECT,
    raw: true,
    model: options.model,
    transaction: options.transaction,
  };
  const hooks = leanHooks(sequelize, queryOptions);
  if (!hooks)
    return (await sequelize.query(sql, queryOptions as never)) as unknown as Record<string, unknown>[];
  const internals = sequelize as unknown as SequelizeInternals;
  if (options.transaction) return (await run(internals, sql, undefined, queryOptions, hooks)).rows;
  let waiting = waitingSelects.get(sequelize);
  const joined = waiting?.get(sql);
  if (joined) return (await joined).rows;
  // the statement leaves the waiting ones as soon as it has a connection (or could get none)
  let sentAlready = false;
  let statement: Promise<PgResult> | undefined;
  const sent = () => {
    sentAlready = true;
    if (statement && waiting?.get(sql) === statement) waiting.delete(sql);
  };
  statement = run(internals, sql, undefined, queryOptions, hooks, sent);
  if (!sentAlready) {
    if (!waiting) {
      waiting = new Map();
      waitingSelects.set(sequelize, waiting);
    }
    waiting.set(sql, statement);
  }
  return (await statement).rows;
}

/**
 * Inserts one row with `sql` (an `INSERT … RETURNING` written by Sequelize's `insertQuery`) and its `bind`
 * values, as `sequelize.query(sql, {...options, bind, type: QueryTypes.INSERT, instance})` does: the
 * returned columns are written into `instance.dataValues` under their attribute names (SQLite: the
 * generated id), and no row inserted is Sequelize's `EmptyResultError`.
 * @throws what `sequelize.query` throws for the same statement (Sequelize's errors).
 */
export async function insertRow(
  sequelize: Sequelize,
  sql: string,
  bind: unknown[],
  instance: { dataValues: Record<string, unknown>; constructor: unknown },
  options: { transaction?: Transaction; [option: string]: unknown },
): Promise<void> {
  const model = instance.constructor as ReturnedColumns;
  const queryOptions: StatementOptions = { ...options, type: QueryTypes.INSERT, instance, model };
  const internals = sequelize as unknown as SequelizeInternals;
  // what `sequelize.query` hands pg: `$$` unescaped, NUL in text written as `\\0` (the dialect's own)
  const postgres = sequelize.getDialect() === 'postgres';
  const [statement, parameters] = postgres
    ? internals.dialect.Query.formatBindParameters(sql, bind, 'postgres')
    : [sql, bind];
  const lean = postgres ? runLean(sequelize, statement, parameters, queryOptions) : undefined;
  if (!lean) {
    await sequelize.query(sql, { ...queryOptions, bind } as never);
    return;
  }
  const { rows, rowCount } = await lean;
  if (!rowCount) throw new EmptyResultError('');
  // PostgreSQL's `Query#formatResults` for an insert with an instance
  const row = rows[0] ?? {};
  const names = attributeNames(model);
  for (const key of Object.keys(row)) instance.dataValues[names.get(key) ?? key] = row[key];
}

/** What {@link attributeNames} reads of a model (not in Sequelize's type declarations). */
interface ReturnedColumns {
  rawAttributes: Record<string, { field?: string; fieldName?: string }>;
  /** Made anew by `refreshAttributes`, which every change of the attributes calls (associations too). */
  fieldRawAttributesMap: object;
}

/** Attribute names by returned column, per state of a model's attributes (see {@link attributeNames}). */
const attributeNamesByModel = new WeakMap<object, Map<string, string>>();

/**
 * Where `Query#formatResults` writes a returned column `key`: under the `fieldName` of the first attribute
 * (in definition order) whose `fieldName` or `field` is `key` (`key` itself when that attribute has no
 * `fieldName`), or under `key` when none is. Built once per state of the model's attributes (keyed by
 * its `fieldRawAttributesMap`), not per insert.
 */
function attributeNames(model: ReturnedColumns): Map<string, string> {
  let names = attributeNamesByModel.get(model.fieldRawAttributesMap);
  if (!names) {
    names = new Map();
    for (const { fieldName, field } of Object.values(model.rawAttributes))
      for (const key of [fieldName, field])
        if (key !== undefined && !names.has(key)) names.set(key, fieldName ?? key);
    attributeNamesByModel.set(model.fieldRawAttributesMap, names);
  }
  return names;
}

/** What Sequelize's PostgreSQL `Query#run` makes of a failed statement. */
function formatError(
  sequelize: SequelizeInternals,
  connection: PgConnection,
  options: object,
  sql: string,
  parameters: unknown[] | undefined,
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
  err.parameters = parameters;
  return new sequelize.dialect.Query(connection, sequelize, options).formatError(err, new Error().stack);
}
