/**
 * Bounds on what one `find` filter may cost (docs/security.md §2.8). Over one: 400 `ValidationError`
 * naming the filter and the limit.
 */
export default {
  /**
   * Conditions in all: every object of a filter (the filter itself, each element of `and`/`or`, each
   * `not`, each operator object) and every key in it; `{"name": {"like": "a%"}}` counts 4. 200 admits an
   * `or` of 99 `{"attr": value}` alternatives; the worst filter it admits costs about 7 ms of Sequelize
   * CPU, where uncounted empty objects once cost 500 ms.
   */
  maxConditions: 200,
  /**
   * Characters in all the `like`/`notLike` patterns of one filter. Matching costs up to (pattern length ×
   * text length) for each row scanned: 100 keeps the worst pattern near 0.7 ms per 5000-character row.
   */
  maxPatternLength: 100,
  /** Wildcards (`%` and `_`, escaped or not) in all the patterns of one filter. */
  maxWildcards: 10,
  /**
   * Reads with patterns running at once per process. Each costs in proportion to the rows it may read
   * (up to `database.statementTimeoutMs`): 1 keeps every other database connection (on SQLite, the
   * main one: such a read runs on a connection of its own) free for ordinary requests.
   */
  patternConcurrency: 1,
  /** Reads with patterns that may wait their turn; past it 503 `Busy` with `Retry-After`. */
  patternQueueLength: 16,
  /**
   * Reads with patterns one client (a session; an address when anonymous) may have admitted at once;
   * more answer 429 at once: one socket's requests in flight cannot fill the queue.
   */
  patternsPerClient: 1,
};
