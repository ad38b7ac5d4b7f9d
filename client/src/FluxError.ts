import type { ErrorBody, ValidationIssue } from '../../lib/errors.js';

/**
 * The one error a Flux client throws: every reply ≥ 400, over the socket or HTTP alike, with the server's
 * `_error` body (docs/reference.md#errors). Failures without a reply have status 0: `NetworkError` (fetch
 * failed), `Timeout` (no socket ack in time).
 */
export class FluxError extends Error {
  override readonly name = 'FluxError';
  readonly status: number;
  readonly code: string;
  /** The fields a `ValidationError` refused. */
  readonly validation?: ValidationIssue[];

  constructor(status: number, code: string, message: string, validation?: ValidationIssue[]) {
    super(message);
    this.status = status;
    this.code = code;
    if (validation) this.validation = validation;
  }

  /** The error of a reply: its `_error` body, or a generic one when the body is not Flux's (a proxy's 502). */
  static fromReply(statusCode: number, data: unknown): FluxError {
    const body = (data as Partial<ErrorBody> | null)?._error;
    if (body && typeof body === 'object' && typeof body.code === 'string') {
      return new FluxError(body.status ?? statusCode, body.code, String(body.message), body.validation);
    }
    return new FluxError(
      statusCode,
      'HttpError',
      typeof data === 'string' && data ? data : `HTTP ${statusCode}`,
    );
  }

  /** True for the 403 codes that mean "drop this token and log in again" (not `Forbidden`). */
  get isTokenError(): boolean {
    return this.code === 'InvalidToken' || this.code === 'TokenExpired' || this.code === 'TokenRevoked';
  }
}
