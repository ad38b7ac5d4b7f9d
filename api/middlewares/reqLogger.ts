import type { NextFunction } from 'express';
import { Flux } from '../../lib/Flux.js';
import type { FluxRequest, FluxResponse } from '../../lib/http.js';

/** Logs each request at debug level: id, transport, method and path (never the body or headers). */
export function reqLogger(req: FluxRequest, _res: FluxResponse, next: NextFunction): void {
  Flux.log.debug(`[${req.requestId}] ${req.isSocket ? 'socket' : 'http'} ${req.method} ${req.path}`);
  next();
}
