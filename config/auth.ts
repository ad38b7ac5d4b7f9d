/** Passwords (docs/reference.md#authentication-and-sessions). */
export default {
  /** bcrypt cost factor (each +1 doubles the time of a login). */
  bcryptRounds: 12,
  /**
   * bcrypt operations at once per process. Each holds one of the 4 libuv pool threads (file I/O and
   * SQLite use them too) for its whole cost: 2 leaves half the pool to the database during a login storm.
   */
  hashConcurrency: 2,
  /** bcrypt operations that may wait their turn; past it 503 `Busy` with `Retry-After`. */
  hashQueueLength: 200,
  /**
   * bcrypt operations of one client address in that queue at once, and waiting behind its own (429 past
   * them): another address's login waits behind at most two operations of each address, not behind a
   * burst, and a venue's network sharing one address still has the whole queue when alone.
   */
  hashPerAddress: 2,
  hashPerAddressQueue: 4,
  /** Shortest accepted password. */
  minPasswordLength: 8,
  /** Least time between two updates of a session's `lastAction`, ms. */
  sessionTouchMs: 60_000,
  /**
   * Longest life of a session, ms from its login (0: no bound): tokens are refreshed up to it, never past
   * it; then the user logs in again. 30 days outlasts any event.
   */
  sessionMaxAgeMs: 30 * 24 * 3600_000,
  /** Lifetime of a password reset token (`POST /auth/reset`), ms. */
  resetTtlMs: 60 * 60_000,
  /**
   * The page that completes a reset, linked from the mail as `<resetUrl>#token=…` (a fragment: the token
   * stays out of server logs and Referer headers). Unset: the mail gives the token alone.
   */
  // resetUrl: 'https://flux.example.org/reset',
  /** Failed logins allowed per window, per account (tenant + login) and per address, before 429. */
  loginLimit: { windowMs: 15 * 60_000, perAccount: 10, perAddress: 100 },
};
