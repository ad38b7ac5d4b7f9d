import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TokenError } from './errors.js';

/** Verified tokens a codec keeps by default (about 0.5 KB each). */
const MAX_VERIFIED = 10_000;

/** A verified token's payload: frozen, as it is shared by every verification of the same token. */
type Verified<TPayload> = Readonly<TPayload & { exp: number; iat: number }>;

/**
 * HS256 JSON Web Tokens (RFC 7519) with jsonwebtoken. The secret is held as a `KeyObject`, parsed once:
 * with a plain string, jsonwebtoken re-creates the key on every verify. A token that verified is kept
 * (the whole token string, at most `maxVerified`, the oldest dropped first) until it expires: the same
 * token verifies again by a lookup and its expiry, without decoding it or computing its HMAC (8–13 µs of
 * each HTTP request, which carries its token every time). Only a token with an `exp` and no `nbf` is kept;
 * a codec keeps its own (a new secret makes a new codec). Revocation is not a token's business: callers
 * check the session on every use.
 */
export class JwtCodec<TPayload extends object> {
  private readonly key: KeyObject;
  private readonly verified = new Map<string, Verified<TPayload>>();

  constructor(
    secret: string,
    private readonly expiresIn: number | string,
    private readonly maxVerified = MAX_VERIFIED,
  ) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /**
   * Signs `payload` for the configured lifetime, or until `notAfter` (ms since epoch) when that comes
   * first; returns the token and its expiry (`exp`, RFC 7519 §4.1.4, in ms since epoch).
   */
  sign(payload: TPayload, notAfter?: number): { token: string; expiresAt: number } {
    const token = jwt.sign(payload, this.key, {
      algorithm: 'HS256',
      expiresIn: this.expiresIn as jwt.SignOptions['expiresIn'],
    });
    const { exp } = jwt.decode(token) as { exp: number };
    if (notAfter === undefined || exp * 1000 <= notAfter) return { token, expiresAt: exp * 1000 };
    const capped = Math.floor(notAfter / 1000);
    return {
      token: jwt.sign({ ...payload, exp: capped }, this.key, { algorithm: 'HS256' }),
      expiresAt: capped * 1000,
    };
  }

  /**
   * Verifies signature, algorithm and expiry; returns the payload (frozen when the token is kept).
   * @throws TokenError `TokenExpired` (403) or `InvalidToken` (403).
   */
  verify(token: string): Verified<TPayload> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      // jsonwebtoken's rule (verify.js, no clock tolerance): expired once the current second reaches `exp`
      if (Math.floor(Date.now() / 1000) < known.exp) return known;
      this.verified.delete(token);
      throw new TokenError('TokenExpired', 'Token expired');
    }
    let payload: Verified<TPayload>;
    try {
      payload = jwt.verify(token, this.key, { algorithms: ['HS256'] }) as Verified<TPayload>;
    } catch (err) {
      if ((err as Error).name === 'TokenExpiredError') throw new TokenError('TokenExpired', 'Token expired');
      throw new TokenError('InvalidToken', 'Invalid token');
    }
    const keep = this.maxVerified > 0 && typeof payload === 'object' && typeof payload.exp === 'number';
    if (keep && !('nbf' in payload)) {
      if (this.verified.size >= this.maxVerified)
        this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(token, Object.freeze(payload));
    }
    return payload;
  }
}
