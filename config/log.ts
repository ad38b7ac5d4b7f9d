/**
 * Logging (docs/reference.md#logging). `LOG_LEVEL` overrides `level` (console only; files always get their
 * share).
 */
export default {
  level: 'info' as 'error' | 'warn' | 'info' | 'debug',
  /** Folder of `production.log` and `development.log`, relative to the project; `false` disables files. */
  dir: 'logs' as string | false,
};
