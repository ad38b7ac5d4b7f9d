import type { NextFunction } from 'express';
import { Flux } from '../../lib/Flux.js';
import type { FluxRequest, FluxResponse } from '../../lib/http.js';

/** Logs each response at debug level when it finishes: status and duration in ms. */
export function resLogger(req: FluxRequest, res: FluxResponse, next: NextFunction): void {
  const started = process.hrtime.bigint();
  res.once('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    Flux.log.debug(`[${req.requestId}] ${res.statusCode} ${req.method} ${req.path} ${ms.toFixed(1)} ms`);
  });
  next();
}
