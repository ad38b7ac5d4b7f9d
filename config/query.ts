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
};
