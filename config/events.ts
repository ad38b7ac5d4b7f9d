/** Server-Sent Events streams of model events, `GET /events` (docs/protocol.md §8). */
export default {
  /**
   * A `: ping` comment line on every open stream this often, ms, so that proxies and clients do not take
   * a quiet stream for a dead one: keep it under every idle timeout on the way (nginx `proxy_read_timeout`).
   */
  heartbeatMs: 15_000,
  /** Streams one user (all its sessions together) may hold open at once on each instance; more get 429. */
  maxStreamsPerUser: 10,
};
