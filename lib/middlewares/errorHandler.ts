import type { NextFunction } from 'express';
import { toErrorReply } from '../errors.js';
import type { FluxRequest, FluxResponse } from '../http.js';
import type { Logger } from '../log.js';
import { requestIdOf } from './extendRes.js';

/**
 * Builds the Express error handler: every error becomes the error body (docs/reference.md#errors) through
 * {@link toErrorReply}, the same mapper the socket transport uses. Unexpected errors are logged with the
 * request id (method and path escaped by the logger: one line whatever the client sent); the client only sees
 * "Unexpected error".
 */
export function errorHandler(log: Logger) {
  return function errorHandler(err: unknown, req: FluxRequest, res: FluxResponse, _next: NextFunction): void {
    const reply = toErrorReply(err);
    // Errors of the global body parser happen before `extendRes` stamped the request: same rule as there.
    if (!req.requestId) {
      req.requestId = requestIdOf(req.headers);
      if (!res.headersSent) res.setHeader('X-Request-Id', req.requestId);
    }
    if (reply.unexpected) {
      log.error(`[${req.requestId ?? '-'}] ${req.method} ${req.path} failed:`, err);
    }
    if (res.headersSent) {
      // Too late for an error reply: the response is cut off, as Express's final handler would (it
      // destroys the TCP socket). `res.destroy()` does that over HTTP, and answers 500 to a virtual
      // request, whose socket is the shared socket.io connection.
      if (!res.writableEnded) res.destroy();
      return;
    }
    for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
    res.status(reply.status).json(reply.body);
  };
}
