import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
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

/** What a client-supplied request id must look like to be kept. */
export const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The id of a request: its `X-Request-Id` header when it matches {@link requestIdPattern} (a proxy in
 * front set it, so that its logs and ours can be joined), else a fresh UUID. The same rule for HTTP and
 * socket virtual requests: an id carrying spaces, control characters or a forged log prefix is dropped.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const incoming = headers['x-request-id'];
  return typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
}

/**
 * `res.ok`, `res.created` and `res.error` (docs/reference.md#routes-and-middlewares). An app built by
 * `buildExpressApp` carries them on its response prototype (`app.response`, as Express's own helpers), so
 * that its responses, HTTP and virtual, are not given three properties each.
 */
export const replyHelpers = { ok, created, error } as const;

/**
 * Gives `res` the reply helpers ({@link replyHelpers}) when its prototype does not carry them, and stamps
 * the request with `isSocket` and a request id (see {@link requestIdOf}, echoed as `X-Request-Id`). Global,
 * before any route.
 */
export function extendRes(req: FluxRequest, res: FluxResponse, next: NextFunction): void {
  if (req.isSocket !== true) req.isSocket = false;
  req.requestId = requestIdOf(req.headers);
  res.setHeader('X-Request-Id', req.requestId);
  if (res.ok !== ok) {
    res.ok = ok;
    res.created = created;
    res.error = error;
  }
  next();
}
