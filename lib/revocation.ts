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

/**
 * How long a revoked session stays refused by {@link RecentRevocations} without asking the revocation
 * list: longer than any request can take between its authentication and the moment it binds a socket
 * or opens an event stream (ms).
 */
export const REVOKED_MEMORY_MS = 10 * 60_000;
/** Most revoked sessions remembered at once (a mass revocation forgets its oldest first). */
const MAX_REVOKED_REMEMBERED = 100_000;

/**
 * The sessions this instance was told were revoked in the last {@link REVOKED_MEMORY_MS}, kept in memory
 * so that a request authenticated just before a revocation cannot attach a live channel (a socket
 * binding, an event stream) after the revocation ended the session's channels here. Synchronous: the
 * check and the attachment happen in the same turn of the event loop.
 */
export class RecentRevocations {
  /** Session id → when it was remembered (ms since epoch), oldest first. */
  private readonly revoked = new Map<number, number>();

  constructor(
    private readonly memoryMs = REVOKED_MEMORY_MS,
    private readonly max = MAX_REVOKED_REMEMBERED,
  ) {}

  /** Remembers `sessionId` as revoked from now on, for `memoryMs`. */
  remember(sessionId: number): void {
    const now = Date.now();
    this.revoked.delete(sessionId);
    this.revoked.set(sessionId, now);
    // oldest first (insertion order): forget those past the memory, and never more than the cap
    for (const [id, at] of this.revoked) {
      if (now - at < this.memoryMs && this.revoked.size <= this.max) break;
      this.revoked.delete(id);
    }
  }

  /** True when `sessionId` was remembered less than `memoryMs` ago. */
  has(sessionId: number): boolean {
    const at = this.revoked.get(sessionId);
    return at !== undefined && Date.now() - at < this.memoryMs;
  }
}
