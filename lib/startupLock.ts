import type { Logger } from './log.js';

/** The lock's two 32-bit keys: "Flux" in ASCII, and 1 for "start". */
const LOCK_KEYS = [0x466c7578, 1] as const;

/** Releases a {@link acquireStartupLock} lock. */
export type ReleaseLock = () => Promise<void>;

/**
 * Serializes the start of instances that share one PostgreSQL database (a rolling deploy, replicas
 * started together): migrations and first-start data run under a session-level advisory lock
 * (`pg_advisory_lock`, PostgreSQL docs "Advisory Lock Functions"), so that one instance migrates while the
 * others wait, then find the schema up to date. The lock lives on a connection of its own, outside the
 * Sequelize pool; it goes when released — or when the process dies, with its connection.
 * @param url the PostgreSQL connection URL (`config.database.url`)
 * @returns the release function
 * @throws the connection error when the database cannot be reached
 */
export async function acquireStartupLock(url: string, log: Logger): Promise<ReleaseLock> {
  const { default: pg } = await import('pg'); // PostgreSQL only: a start on SQLite does not load it
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const [first, second] = LOCK_KEYS;
    const free = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
      first,
      second,
    ]);
    if (!free.rows[0].locked) {
      log.info('Another instance is migrating or starting on this database: waiting for it');
      await client.query('SELECT pg_advisory_lock($1, $2)', [first, second]);
    }
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    // closing the session releases its advisory locks
    await client.end().catch(() => undefined);
  };
}
