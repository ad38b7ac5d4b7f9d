/** What the client reads of a Flux token (docs/protocol.md §4): it never checks the signature. */
export interface TokenClaims {
  userId?: number;
  sessionId?: number;
  tenantId?: number;
  /** Seconds since epoch. */
  iat?: number;
  /** Seconds since epoch. */
  exp?: number;
}

/** The payload of a JWT, or null when `token` is not one. Uses `atob` (browsers, Node ≥ 16), not Buffer. */
export function decodeToken(token: string): TokenClaims | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='));
    const claims: unknown = JSON.parse(json);
    return claims && typeof claims === 'object' ? (claims as TokenClaims) : null;
  } catch {
    return null;
  }
}

/**
 * When to refresh a token, ms from now: `marginMs` before its expiry, but no later than two thirds into
 * its lifetime (short-lived tokens); null when it has no `exp`.
 */
export function refreshDelay(claims: TokenClaims, now: number, marginMs: number): number | null {
  if (typeof claims.exp !== 'number') return null;
  const expires = claims.exp * 1000;
  const lifetime = typeof claims.iat === 'number' ? expires - claims.iat * 1000 : marginMs * 3;
  return Math.max(0, expires - Math.min(marginMs, lifetime / 3) - now);
}
