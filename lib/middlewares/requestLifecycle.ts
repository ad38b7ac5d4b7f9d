import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** What {@link requestLifecycle} reports. */
export interface RequestLifecycleHooks {
  /** A request (HTTP or virtual) arrived. */
  started(): void;
  /**
   * The same request is over: answered, or given up (its connection closed first). Called exactly once
   * per `started`.
   * @param seconds from arrival to the end of the response; undefined when no response was completed
   */
  ended(req: Request, res: Response, seconds: number | undefined): void;
}

/**
 * Global middleware for what every request is counted for: in flight between arrival and end (the
 * graceful stop waits for them) and its duration (request metrics). The end is the response's `close`
 * (emitted once, after `finish` or when the connection goes) — or, for a pipelined HTTP request whose
 * connection closed while it was queued behind another, the `close` of its aborted request: Node never
 * gives such a response a socket, so it never emits `close` (Node 20 `abortIncoming`).
 */
export function requestLifecycle(hooks: RequestLifecycleHooks): RequestHandler {
  return function requestLifecycle(req: Request, res: Response, next: NextFunction): void {
    hooks.started();
    const arrived = process.hrtime.bigint();
    let over = false;
    const end = (): void => {
      if (over) return;
      over = true;
      hooks.ended(req, res, res.writableEnded ? Number(process.hrtime.bigint() - arrived) / 1e9 : undefined);
    };
    res.on('close', end);
    // an HTTP request also emits `close` once its body is read: only an aborted one (errored) ends it
    if (!(req as Request & { isSocket?: boolean }).isSocket)
      req.once('close', () => {
        if (req.errored) end();
      });
    next();
  };
}
