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
   * Rows a `find` with `count` counts at most (docs/protocol.md): past it `X-Total-Count` is this number
   * and `X-Total-Count-Capped: true`. An exact count reads every matching row, whatever the page: 100,000
   * messages of one channel took 35 ms of PostgreSQL; counting up to 10,001 takes about 2.5 ms.
   */
  maxCount: 10_000,
  /**
   * Admission of expensive reads: a `find` with `like`/`notLike` patterns (it scans every row the user
   * may read, up to `database.statementTimeoutMs`), or a page larger than `largePage` items (a 1000-item
   * page of long messages is megabytes built and serialized on the main thread).
   */
  expensive: {
    /** Pages larger than this many items are expensive reads (the default page is 100). */
    largePage: 100,
    /**
     * Expensive reads running at once per process: 1 keeps the other database connections (on SQLite,
     * the main one: a search reads on a connection of its own) and most of the event loop for ordinary
     * requests.
     */
    concurrency: 1,
    /** Expensive reads of all clients that may wait their turn; past it 503 `Busy` with `Retry-After`. */
    queueLength: 32,
    /** Expensive reads of one client (a session; an address when anonymous) running at once. */
    perClient: 1,
    /**
     * Expensive reads of one client that may wait behind its own; past it 429 at once. One socket's
     * requests in flight cannot fill the process queue.
     */
    perClientQueue: 4,
  },
};
