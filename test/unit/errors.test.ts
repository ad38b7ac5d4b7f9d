import { describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ExpectedError,
  ForbiddenError,
  NotFoundError,
  TokenError,
  TooManyRequestsError,
  toErrorReply,
  UnauthorizedError,
} from '../../lib/errors.js';

describe('toErrorReply', () => {
  it.each([
    [new BadRequestError('bad'), 400, 'BadRequest'],
    [new UnauthorizedError(), 401, 'Unauthorized'],
    [new TokenError('TokenRevoked', 'revoked'), 403, 'TokenRevoked'],
    [new ForbiddenError(), 403, 'Forbidden'],
    [new NotFoundError(), 404, 'NotFound'],
    [new ExpectedError(409, 'Conflict', 'taken'), 409, 'Conflict'],
  ])('maps %s to its status and code', (error, status, code) => {
    const reply = toErrorReply(error);
    expect(reply.status).toBe(status);
    expect(reply.body).toEqual({ _error: { status, code, message: error.message } });
    expect(reply.unexpected).toBe(false);
  });

  it('carries Retry-After for 429', () => {
    const reply = toErrorReply(new TooManyRequestsError(30));
    expect(reply.status).toBe(429);
    expect(reply.headers).toEqual({ 'Retry-After': '30' });
  });

  it('maps Sequelize validation and unique errors to 400 ValidationError with the failed paths', () => {
    const reply = toErrorReply({
      name: 'SequelizeUniqueConstraintError',
      message: 'Validation error: insert into "Users" ...',
      errors: [
        {
          path: 'login',
          message: 'login must be unique',
          type: 'unique violation',
          validatorKey: 'not_unique',
        },
      ],
    });
    expect(reply.status).toBe(400);
    expect(reply.body._error.code).toBe('ValidationError');
    expect(reply.body._error.validation).toEqual([
      { path: 'login', message: 'login must be unique', type: 'not_unique' },
    ]);
    expect(JSON.stringify(reply.body)).not.toContain('insert into');
  });

  it('maps body-parser errors: malformed JSON 400, too large 413', () => {
    expect(toErrorReply({ type: 'entity.parse.failed', status: 400, body: '{bad' }).status).toBe(400);
    expect(toErrorReply({ type: 'entity.too.large', status: 413 }).body._error.code).toBe('PayloadTooLarge');
  });

  it('maps jsonwebtoken errors to 403 token codes', () => {
    expect(toErrorReply({ name: 'TokenExpiredError' }).body._error.code).toBe('TokenExpired');
    expect(toErrorReply({ name: 'JsonWebTokenError' }).body._error.code).toBe('InvalidToken');
  });

  it('never takes the status from a database error code', () => {
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint'), {
      code: '23505',
    });
    const reply = toErrorReply(pgError);
    expect(reply.status).toBe(500);
  });

  it.each([
    [
      'PostgreSQL statement_timeout (SQLSTATE 57014), wrapped by Sequelize',
      { name: 'SequelizeDatabaseError', parent: { code: '57014' } },
    ],
    [
      'SQLite interrupted, wrapped by Sequelize',
      { name: 'SequelizeDatabaseError', parent: { code: 'SQLITE_INTERRUPT' } },
    ],
    [
      'the bare pg error',
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
    ],
    [
      'the bare sqlite3 error',
      Object.assign(new Error('SQLITE_INTERRUPT: interrupted'), { code: 'SQLITE_INTERRUPT' }),
    ],
  ])('When a statement was stopped by the timeout (%s), then 503 QueryTimeout, expected', (_what, error) => {
    expect(toErrorReply(error)).toEqual({
      status: 503,
      body: { _error: { status: 503, code: 'QueryTimeout', message: 'The query took too long' } },
      headers: {},
      unexpected: false,
    });
  });

  it.each([
    ['PostgreSQL refusing connections', { name: 'SequelizeConnectionRefusedError' }],
    ['no free connection in the pool', { name: 'SequelizeConnectionAcquireTimeoutError' }],
    ['an unknown host', { name: 'SequelizeHostNotFoundError' }],
    [
      'PostgreSQL shutting down under a query (57P01)',
      { name: 'SequelizeDatabaseError', parent: { code: '57P01' } },
    ],
    ['PostgreSQL starting up (57P03)', { name: 'SequelizeDatabaseError', parent: { code: '57P03' } }],
    ['a connection exception (08006)', { name: 'SequelizeDatabaseError', parent: { code: '08006' } }],
    [
      'node-postgres losing its socket',
      { name: 'SequelizeDatabaseError', parent: { message: 'Connection terminated unexpectedly' } },
    ],
  ])(
    'When the database cannot be reached (%s), then 503 DatabaseUnavailable with Retry-After, expected',
    (_what, error) => {
      expect(toErrorReply(error)).toEqual({
        status: 503,
        body: {
          _error: { status: 503, code: 'DatabaseUnavailable', message: 'The database is not reachable' },
        },
        headers: { 'Retry-After': '1' },
        unexpected: false,
      });
    },
  );

  it('When another database error has a code, then it stays a 500', () => {
    for (const code of ['42P01', 'SQLITE_ERROR', '23505']) {
      expect(toErrorReply({ name: 'SequelizeDatabaseError', parent: { code } }).status).toBe(500);
    }
  });

  it('hides everything about unknown errors', () => {
    const reply = toErrorReply(new Error('SELECT * FROM secret; stack...'));
    expect(reply).toEqual({
      status: 500,
      body: { _error: { status: 500, code: 'UnexpectedError', message: 'Unexpected error' } },
      headers: {},
      unexpected: true,
    });
  });
});

describe('toErrorReply of the 4xx errors of Express and its libraries', () => {
  it('When the router cannot percent-decode a path parameter, then 400 BadRequest without the URL', () => {
    const err = Object.assign(new URIError("Failed to decode param '%ff'"), { status: 400, statusCode: 400 });
    expect(toErrorReply(err)).toEqual({
      status: 400,
      body: {
        _error: { status: 400, code: 'BadRequest', message: 'Malformed percent-encoding in the URL path' },
      },
      headers: {},
      unexpected: false,
    });
  });

  it('When an http-errors error is exposed with a 4xx, then it keeps its status with a code named after it', () => {
    const rangeError = Object.assign(new Error('Range Not Satisfiable: bytes=9-'), {
      status: 416,
      expose: true,
    });
    expect(toErrorReply(rangeError).body).toEqual({
      _error: { status: 416, code: 'RangeNotSatisfiable', message: 'Range not satisfiable' },
    });
    const unsupported = Object.assign(new Error('unsupported charset "X"'), { status: 415, expose: true });
    expect(toErrorReply(unsupported).body._error).toMatchObject({
      status: 415,
      code: 'UnsupportedMediaType',
    });
  });

  it('When an error carries a 4xx status but is not marked exposed (e.g. an upstream reply), then 500', () => {
    expect(toErrorReply(Object.assign(new Error('upstream said 404'), { status: 404 })).status).toBe(500);
    expect(toErrorReply(Object.assign(new URIError('URI malformed'), {})).status).toBe(500);
  });
});
