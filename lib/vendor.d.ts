/** node-postgres' parameter conversion (not in @types/pg), used by lib/pglitePool.ts to convert like pg does. */
declare module 'pg/lib/utils.js' {
  const utils: { prepareValue(value: unknown): unknown };
  export default utils;
}

/**
 * Sequelize's per-dialect registry of value parsers (by type name, e.g. `DATETIME`), which its SQLite
 * dialect applies to selected values; used by lib/leanRead.ts to convert rows as Sequelize does.
 */
declare module 'sequelize/lib/dialects/parserStore' {
  const parserStore: (dialect: string) => {
    get(type: string): ((value: unknown, options: { timezone?: string }) => unknown) | undefined;
  };
  export default parserStore;
}

/** Express's final handler (https://github.com/pillarjs/finalhandler), used as `app.handle` uses it. */
declare module 'finalhandler' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  function finalhandler(
    req: IncomingMessage,
    res: ServerResponse,
    options?: { env?: string; onerror?: (err: unknown, req: IncomingMessage, res: ServerResponse) => void },
  ): (err?: unknown) => void;
  export default finalhandler;
}
