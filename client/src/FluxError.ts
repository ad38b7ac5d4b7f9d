import type { FluxResponse } from './FluxClient.js';
import type { ErrorBody, ValidationIssue } from './generated/protocol.js';

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
  /**
   * The reply as it came, when one came (not for status 0): its status, headers (lower-case names, e.g.
   * `retry-after` of a 429) and body.
   */
  readonly response?: FluxResponse;

  constructor(
    status: number,
    code: string,
    message: string,
    validation?: ValidationIssue[],
    response?: FluxResponse,
  ) {
    super(message);
    this.status = status;
    this.code = code;
    if (validation) this.validation = validation;
    if (response) this.response = response;
  }

  /**
   * The error of a reply: its `_error` body, or a generic one when the body is not Flux's (a proxy's 502).
   * With `headers`, the error keeps the whole reply as {@link FluxError.response}.
   */
  static fromReply(statusCode: number, data: unknown, headers?: Record<string, string>): FluxError {
    const response = headers ? { statusCode, headers, data } : undefined;
    const body = (data as Partial<ErrorBody> | null)?._error;
    if (body && typeof body === 'object' && typeof body.code === 'string') {
      return new FluxError(
        body.status ?? statusCode,
        body.code,
        String(body.message),
        body.validation,
        response,
      );
    }
    return new FluxError(
      statusCode,
      'HttpError',
      typeof data === 'string' && data ? data : `HTTP ${statusCode}`,
      undefined,
      response,
    );
  }

  /** True for the 403 codes that mean "drop this token and log in again" (not `Forbidden`). */
  get isTokenError(): boolean {
    return this.code === 'InvalidToken' || this.code === 'TokenExpired' || this.code === 'TokenRevoked';
  }
}
