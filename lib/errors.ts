import { STATUS_CODES } from 'node:http';
import type { ErrorBody, ValidationIssue } from './protocol.js';

/**
 * The one error hierarchy of Flux and the one mapper that turns anything thrown into the wire body
 * `{"_error": {status, code, message, validation?}}` (docs/reference.md#errors). HTTP (`errorHandler`) and
 * the socket transport both go through {@link toErrorReply}, so a client sees the same status and body on
 * both.
 */

/** The error body's types live with the rest of the wire protocol. */
export type { ErrorBody, ValidationIssue } from './protocol.js';

/**
 * Base of every error a client may cause. `status` is the HTTP status (never a database code),
 * `code` a stable machine-readable word.
 */
export class ExpectedError extends Error {
  readonly status: number;
  readonly code: string;
  readonly validation?: ValidationIssue[];
  /** Extra response headers, e.g. `Retry-After` for 429. */
  readonly headers?: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: { validation?: ValidationIssue[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.validation = extra.validation;
    this.headers = extra.headers;
  }

  toJSON(): ErrorBody {
    const body: ErrorBody = { _error: { status: this.status, code: this.code, message: this.message } };
    if (this.validation) body._error.validation = this.validation;
    return body;
  }
}

export class BadRequestError extends ExpectedError {
  constructor(message = 'Bad request', validation?: ValidationIssue[]) {
    super(400, validation ? 'ValidationError' : 'BadRequest', message, { validation });
  }
}

export class UnauthorizedError extends ExpectedError {
  constructor(message = 'Authentication required') {
    super(401, 'Unauthorized', message);
  }
}

/** A token was presented but cannot be used: `InvalidToken`, `TokenExpired` or `TokenRevoked`. */
export class TokenError extends ExpectedError {
  constructor(code: 'InvalidToken' | 'TokenExpired' | 'TokenRevoked', message: string) {
    super(403, code, message);
  }
}

export class ForbiddenError extends ExpectedError {
  constructor(message = 'Forbidden') {
    super(403, 'Forbidden', message);
  }
}

export class NotFoundError extends ExpectedError {
  constructor(message = 'Not found') {
    super(404, 'NotFound', message);
  }
}

export class PayloadTooLargeError extends ExpectedError {
  constructor(message = 'Payload too large') {
    super(413, 'PayloadTooLarge', message);
  }
}

export class TooManyRequestsError extends ExpectedError {
  constructor(retryAfterSeconds: number, message = 'Too many requests') {
    super(429, 'TooManyRequests', message, { headers: { 'Retry-After': String(retryAfterSeconds) } });
  }
}

/** What the mapper produced: the status, the body, extra headers, and whether it was unexpected. */
export interface ErrorReply {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True for a 500: the caller logs the original error; the client only sees "Unexpected error". */
  unexpected: boolean;
}

interface SequelizeLikeValidationError {
  name: string;
  errors?: Array<{ path?: string | null; message?: string; type?: string | null; validatorKey?: string }>;
}

const sequelizeValidationNames = new Set(['SequelizeValidationError', 'SequelizeUniqueConstraintError']);

// A statement stopped by `database.statementTimeoutMs` (lib/database.ts): PostgreSQL's SQLSTATE 57014
// `query_canceled` (https://www.postgresql.org/docs/current/errcodes-appendix.html), SQLite's
// SQLITE_INTERRUPT. Sequelize keeps the driver's error as `parent`.
const statementTimeoutCodes = new Set(['57014', 'SQLITE_INTERRUPT']);

function isStatementTimeout(err: object): boolean {
  const { code, parent } = err as { code?: unknown; parent?: { code?: unknown } };
  return statementTimeoutCodes.has(String(code)) || statementTimeoutCodes.has(String(parent?.code));
}

/** Sequelize's `ConnectionError` and its subclasses: the database cannot be reached or has no free connection. */
const connectionErrorNames = new Set([
  'SequelizeConnectionError',
  'SequelizeConnectionRefusedError',
  'SequelizeConnectionTimedOutError',
  'SequelizeConnectionAcquireTimeoutError',
  'SequelizeHostNotFoundError',
  'SequelizeHostNotReachableError',
  'SequelizeAccessDeniedError',
  'SequelizeInvalidConnectionError',
]);

/**
 * True when `err` says the database went away under a query: a Sequelize connection error, a PostgreSQL
 * shutdown or start-up (SQLSTATE class 08 "connection exception", 57P01–57P03, see
 * https://www.postgresql.org/docs/current/errcodes-appendix.html) or node-postgres losing its socket.
 */
function isDatabaseUnavailable(err: object): boolean {
  const { name, parent } = err as { name?: string; parent?: { code?: unknown; message?: unknown } };
  if (name && connectionErrorNames.has(name)) return true;
  if (name !== 'SequelizeDatabaseError' || !parent) return false;
  const code = String(parent.code ?? '');
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  const message = String(parent.message ?? '');
  return message.startsWith('Connection terminated') || message.endsWith('is not queryable');
}

/**
 * Errors from libraries in the request path that carry a client-caused 4xx (body-parser, multer, jwt),
 * statement timeouts (503 `QueryTimeout`) and a database that cannot be reached (503
 * `DatabaseUnavailable`): expected, so not logged as failures.
 */
function fromLibraryError(err: unknown): ExpectedError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  if (isStatementTimeout(err)) return new ExpectedError(503, 'QueryTimeout', 'The query took too long');
  if (isDatabaseUnavailable(err))
    return new ExpectedError(503, 'DatabaseUnavailable', 'The database is not reachable', {
      headers: { 'Retry-After': '1' },
    });
  const e = err as { name?: string; type?: string; code?: string; status?: unknown; expose?: boolean };
  if (e.name && sequelizeValidationNames.has(e.name)) {
    const items = (err as SequelizeLikeValidationError).errors ?? [];
    const validation = items.map((item) => ({
      path: item.path ?? '',
      message: item.message ?? 'Invalid value',
      type: item.validatorKey ?? item.type ?? 'invalid',
    }));
    return new BadRequestError(
      e.name === 'SequelizeUniqueConstraintError' ? 'Already exists' : 'Invalid data',
      validation,
    );
  }
  if (e.name === 'SequelizeForeignKeyConstraintError') return new BadRequestError('Invalid reference');
  if (e.name === 'TokenExpiredError') return new TokenError('TokenExpired', 'Token expired');
  if (e.name === 'JsonWebTokenError' || e.name === 'NotBeforeError')
    return new TokenError('InvalidToken', 'Invalid token');
  // body-parser (http-errors with `type`) — see https://github.com/expressjs/body-parser#errors
  if (e.type === 'entity.too.large') return new PayloadTooLargeError('Request body too large');
  if (typeof e.type === 'string' && e.type.startsWith('entity.'))
    return new BadRequestError('Malformed request body');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported')
    return new BadRequestError('Unsupported body encoding');
  // multer (MulterError codes) — see https://github.com/expressjs/multer#error-handling
  if (e.name === 'MulterError') {
    if (e.code === 'LIMIT_FILE_SIZE' || e.code === 'LIMIT_FIELD_VALUE')
      return new PayloadTooLargeError('File too large');
    return new BadRequestError(`Upload refused (${e.code ?? 'invalid'})`);
  }
  // the route table (lib/routeTable.ts), like Express 5's router, marks a path parameter it cannot
  // percent-decode (`/user/%ff`) with status 400 on the URIError it rethrows: the client's URL, not a
  // fault of the server
  if (err instanceof URIError && e.status === 400)
    return new BadRequestError('Malformed percent-encoding in the URL path');
  // any other http-errors error with a 4xx (Express, router, body-parser, send): `expose` is how
  // http-errors marks the client-caused ones. The code and message come from the status only: the
  // library's message may quote the request.
  if (e.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const phrase = STATUS_CODES[e.status] ?? 'Bad Request';
    const code = phrase.replace(/[^A-Za-z]/g, '');
    return new ExpectedError(e.status, code, phrase.charAt(0) + phrase.slice(1).toLowerCase());
  }
  return undefined;
}

/**
 * Maps anything thrown to the reply both transports send. Never copies a stack, SQL, header or body
 * into the reply: unknown errors become 500 `UnexpectedError` "Unexpected error".
 */
export function toErrorReply(err: unknown): ErrorReply {
  const expected = err instanceof ExpectedError ? err : fromLibraryError(err);
  if (expected) {
    return {
      status: expected.status,
      body: expected.toJSON(),
      headers: expected.headers ?? {},
      unexpected: false,
    };
  }
  return {
    status: 500,
    body: { _error: { status: 500, code: 'UnexpectedError', message: 'Unexpected error' } },
    headers: {},
    unexpected: true,
  };
}
