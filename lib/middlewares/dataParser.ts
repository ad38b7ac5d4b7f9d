import type { NextFunction } from 'express';
import { BadRequestError } from '../errors.js';
import type { FluxRequest, FluxResponse } from '../http.js';
import { unstorableText } from '../limits.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/**
 * Builds `req.data` (docs/reference.md#routes-and-middlewares) from, in increasing precedence: `?data=<JSON>`
 * on GET requests, the other query values, the body, then the route params.
 * @throws BadRequestError when `?data` is not a JSON object or the body is not an object, or a string holds
 *   what cannot be stored as it is (`unstorableText`: NUL, a lone surrogate).
 */
export function dataParser(req: FluxRequest, _res: FluxResponse, next: NextFunction): void {
  let query = req.query as Record<string, unknown>;
  let dataParam: unknown;
  // the query without `data` (a copy only when it has one: most requests have no `?data`)
  if (Object.hasOwn(query, 'data')) ({ data: dataParam, ...query } = query);
  let fromParam: Record<string, unknown> | undefined;
  if (req.method === 'GET' && dataParam !== undefined) {
    let parsed: unknown;
    try {
      parsed = typeof dataParam === 'string' ? JSON.parse(dataParam) : undefined;
    } catch {
      throw new BadRequestError('data: malformed JSON');
    }
    if (!isPlainObject(parsed)) throw new BadRequestError('data: must be a JSON object');
    fromParam = parsed;
  } else if (dataParam !== undefined) {
    query.data = dataParam;
  }
  const body: unknown = req.body;
  if (body !== undefined && body !== null && !isPlainObject(body)) {
    throw new BadRequestError('The request body must be a JSON object');
  }
  // most requests carry one source besides the route params: one copy then
  req.data =
    fromParam === undefined && isEmpty(query)
      ? { ...(body as Record<string, unknown> | undefined), ...req.params }
      : { ...fromParam, ...query, ...(body as Record<string, unknown> | undefined), ...req.params };
  const unstorable = unstorableText(req.data);
  if (unstorable === 'nul') throw new BadRequestError('Input may not contain NUL characters');
  if (unstorable === 'surrogate')
    throw new BadRequestError('Input must be Unicode text: a UTF-16 surrogate without its pair');
  next();
}
