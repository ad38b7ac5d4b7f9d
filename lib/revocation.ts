import type { Redis } from 'ioredis';

/**
 * Revoked session ids, each kept until the last token of its session would have expired anyway.
 * Checked before anything else so that a logged-out token is refused at once. In-process always; shared
 * through Redis when it is configured, so that every instance refuses the token at once. The database
 * (`Session.revokedAt`) stays the reference: callers check it when this list says "not revoked".
 */
export class RevocationList {
  private readonly revoked = new Map<number, number>();

  constructor(
    private readonly redis?: Redis,
    private readonly prefix = 'flux:',
  ) {}

  private key(sessionId: number): string {
    return `${this.prefix}revoked:${sessionId}`;
  }

  /** Marks `sessionId` revoked until `until` (ms since epoch), here and in Redis. */
  async revoke(sessionId: number, until: number): Promise<void> {
    this.revoked.set(sessionId, until);
    if (this.revoked.size % 1024 === 0) this.prune();
    if (this.redis && until > Date.now()) await this.redis.set(this.key(sessionId), '1', 'PXAT', until);
  }

  /**
   * True when the session is revoked, known here or (a cache miss) in Redis.
   * @throws the Redis client's error when Redis cannot answer: the caller falls back to the database.
   */
  async isRevoked(sessionId: number): Promise<boolean> {
    const until = this.revoked.get(sessionId);
    if (until !== undefined) {
      if (until >= Date.now()) return true;
      this.revoked.delete(sessionId);
    }
    if (!this.redis) return false;
    const ttl = await this.redis.pttl(this.key(sessionId));
    if (ttl <= 0) return false;
    this.revoked.set(sessionId, Date.now() + ttl);
    return true;
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, until] of this.revoked) if (until < now) this.revoked.delete(id);
  }
}
