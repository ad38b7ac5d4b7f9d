/**
 * Database (docs/reference.md#running). Without `url` (env `DATABASE_URL`), the embedded SQLite file
 * `storage` is used. With `DATABASE_URL=postgres://user:password@host:5432/db`, PostgreSQL (≥ 13).
 */
export default {
  url: undefined as string | undefined,
  storage: 'data/flux.sqlite',
  /** Log every SQL statement at debug level. */
  logging: false,
  /**
   * PostgreSQL connections of each instance (Sequelize pool). Keep instances × `max` under the server's
   * `max_connections` (100 by default). `idle` and `acquire` in ms.
   */
  pool: { max: 10, min: 0, idle: 10_000, acquire: 60_000 },
  /**
   * Longest run of any one SQL statement, ms: PostgreSQL cancels it (`statement_timeout`), SQLite is
   * interrupted. The request then answers 503 `QueryTimeout` and the connection serves the next one.
   * Migrations run under it too: give `flux migrate` a larger value for a long one. 0: no timeout.
   */
  statementTimeoutMs: 5_000,
};
