import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenError } from '../../lib/errors.js';
import { JwtCodec } from '../../lib/jwt.js';

/**
 * lib/jwt.ts: HS256 tokens, and the verified tokens a codec keeps — a kept token must verify exactly as
 * jsonwebtoken would verify it again (expiry included), and nothing that failed is ever kept.
 */

const SECRET = 'a-test-secret-of-enough-length-0123456789';
type Payload = { userId: number; sessionId: number };

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TokenError);
    return (err as TokenError).code;
  }
}

describe('JwtCodec', () => {
  it('When a token is verified again, then jsonwebtoken does not decode it again and the same frozen payload comes back', () => {
    const codec = new JwtCodec<Payload>(SECRET, 3600);
    const { token } = codec.sign({ userId: 1, sessionId: 2 });
    const verify = vi.spyOn(jwt, 'verify');
    const first = codec.verify(token);
    const second = codec.verify(token);
    expect(verify).toHaveBeenCalledTimes(1);
    expect(second).toBe(first);
    expect(first).toMatchObject({ userId: 1, sessionId: 2 });
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('When a kept token reaches its expiry, then TokenExpired, as jsonwebtoken decides, and it stays refused', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-30T10:00:00.000Z'));
    const codec = new JwtCodec<Payload>(SECRET, 60);
    const { token, expiresAt } = codec.sign({ userId: 1, sessionId: 2 });
    expect(codeOf(() => codec.verify(token))).toBeUndefined();
    // one millisecond before the second of `exp`: still valid, for both
    vi.setSystemTime(expiresAt - 1);
    expect(codeOf(() => codec.verify(token))).toBeUndefined();
    expect(codeOf(() => jwt.verify(token, SECRET, { algorithms: ['HS256'] }))).toBeUndefined();
    vi.setSystemTime(expiresAt);
    expect(() => jwt.verify(token, SECRET, { algorithms: ['HS256'] })).toThrow(jwt.TokenExpiredError);
    expect(codeOf(() => codec.verify(token))).toBe('TokenExpired');
    expect(codeOf(() => codec.verify(token))).toBe('TokenExpired');
  });

  it('When a token fails (another secret, a changed signature or payload, garbage), then InvalidToken every time and nothing is kept', () => {
    const codec = new JwtCodec<Payload>(SECRET, 3600);
    const { token } = codec.sign({ userId: 1, sessionId: 2 });
    codec.verify(token);
    const [header, body, signature] = token.split('.');
    const otherBody = Buffer.from(JSON.stringify({ userId: 99, sessionId: 2, exp: 4102444800 })).toString(
      'base64url',
    );
    const forged = [
      new JwtCodec<Payload>('another-secret-of-enough-length-0123456789', 3600).sign({
        userId: 1,
        sessionId: 2,
      }).token,
      `${header}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`,
      `${header}.${otherBody}.${signature}`,
      `${token}x`,
      'a.b.c',
    ];
    const verify = vi.spyOn(jwt, 'verify');
    for (const bad of forged) {
      expect(codeOf(() => codec.verify(bad))).toBe('InvalidToken');
      expect(codeOf(() => codec.verify(bad))).toBe('InvalidToken');
    }
    // each bad token went to jsonwebtoken both times: none was kept
    expect(verify).toHaveBeenCalledTimes(forged.length * 2);
  });

  it('When a token has no expiry, then it is verified anew each time; when more tokens than maxVerified verified, then the oldest is verified anew', () => {
    const codec = new JwtCodec<Payload>(SECRET, 3600, 2);
    const endless = jwt.sign({ userId: 1, sessionId: 2 }, SECRET, { algorithm: 'HS256' });
    const tokens = [1, 2, 3].map((sessionId) => codec.sign({ userId: 1, sessionId }).token);
    const verify = vi.spyOn(jwt, 'verify');
    codec.verify(endless);
    codec.verify(endless);
    expect(verify).toHaveBeenCalledTimes(2);
    verify.mockClear();
    for (const token of tokens) codec.verify(token);
    expect(verify).toHaveBeenCalledTimes(3);
    codec.verify(tokens[2]);
    codec.verify(tokens[1]);
    expect(verify).toHaveBeenCalledTimes(3);
    codec.verify(tokens[0]);
    expect(verify).toHaveBeenCalledTimes(4);
  });

  it('When another codec (another secret) gets a token kept by the first, then InvalidToken', () => {
    const first = new JwtCodec<Payload>(SECRET, 3600);
    const { token } = first.sign({ userId: 1, sessionId: 2 });
    first.verify(token);
    const second = new JwtCodec<Payload>('another-secret-of-enough-length-0123456789', 3600);
    expect(codeOf(() => second.verify(token))).toBe('InvalidToken');
  });
});
