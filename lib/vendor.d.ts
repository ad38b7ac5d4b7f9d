/** node-postgres' parameter conversion (not in @types/pg), used by lib/pglitePool.ts to convert like pg does. */
declare module 'pg/lib/utils.js' {
  const utils: { prepareValue(value: unknown): unknown };
  export default utils;
}
