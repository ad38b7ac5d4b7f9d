import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TokenError } from './errors.js';

/**
 * HS256 JSON Web Tokens (RFC 7519) with jsonwebtoken. The secret is held as a `KeyObject`, parsed once:
 * with a plain string, jsonwebtoken re-creates the key on every verify.
 */
export class JwtCodec<TPayload extends object> {
  private readonly key: KeyObject;

  constructor(
    secret: string,
    private readonly expiresIn: number | string,
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
   * Verifies signature, algorithm and expiry.
   * @throws TokenError `TokenExpired` (403) or `InvalidToken` (403).
   */
  verify(token: string): TPayload & { exp: number; iat: number } {
    try {
      return jwt.verify(token, this.key, { algorithms: ['HS256'] }) as TPayload & {
        exp: number;
        iat: number;
      };
    } catch (err) {
      if ((err as Error).name === 'TokenExpiredError') throw new TokenError('TokenExpired', 'Token expired');
      throw new TokenError('InvalidToken', 'Invalid token');
    }
  }
}
