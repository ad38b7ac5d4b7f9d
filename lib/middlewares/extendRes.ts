import { randomUUID } from 'node:crypto';
import type { NextFunction } from 'express';
import type { ErrorBody } from '../errors.js';
import type { FluxRequest, FluxResponse } from '../http.js';

function ok(this: FluxResponse, data: unknown): void {
  this.status(200).json(data);
}

function created(this: FluxResponse, data: unknown): void {
  this.status(201).json(data);
}

function error(this: FluxResponse, status: number, code: string, message: string): void {
  const body: ErrorBody = { _error: { status, code, message } };
  this.status(status).json(body);
}

/**
 * Adds `res.ok`, `res.created` and `res.error` (SPEC §6), stamps the request with `isSocket` and a
 * request id (echoed as `X-Request-Id`). Global, before any route.
 */
export function extendRes(req: FluxRequest, res: FluxResponse, next: NextFunction): void {
  if (req.isSocket !== true) req.isSocket = false;
  // a request id set by a proxy in front is kept, so that its logs and ours can be joined
  const incoming = req.headers['x-request-id'];
  req.requestId = typeof incoming === 'string' && /^[\w.-]{8,64}$/.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', req.requestId);
  res.ok = ok;
  res.created = created;
  res.error = error;
  next();
}
