/**
 * HTTP server (docs/reference.md#running, #routes-and-middlewares). `PORT` and `HOST` override `port` and
 * `host`.
 */
export default {
  port: 3000,
  host: '0.0.0.0',
  /** Middlewares run on every route after `dataParser`, before the route's own. */
  middlewares: [] as string[],
  /** Largest accepted JSON body. */
  bodyLimit: '100kb',
  /**
   * Browser origins allowed by CORS and socket.io: a list, `true` for any (development default), `false`
   * for none. Native apps and scripts send no `Origin` and are not concerned. Any origin would let a web
   * page open in a kiosk's browser call `/auth/ip` and read the kiosk's token: list your front ends.
   */
  cors: { origin: false as boolean | string | string[] },
  /**
   * Host names served (the `Host` of requests and socket handshakes): `true` any, or a list such as
   * `['flux.example.org', '.flux.example.org']` (a leading dot includes subdomains). A list stops DNS
   * rebinding: a page of another site made to resolve to this server (from a kiosk's browser, it could
   * call `/auth/ip`).
   */
  allowedHosts: true as true | string[],
  /** Express `trust proxy`: false, or the addresses of the reverse proxies in front of Flux. */
  trustProxy: false as boolean | string | string[],
  /** Deepest nesting of objects and arrays in a body or socket `data` (400 beyond). */
  maxDepth: 32,
  /** On SIGTERM, how long in-flight HTTP and socket requests may take to finish, ms. */
  shutdownTimeoutMs: 8_000,
  /**
   * On SIGTERM, how long to keep serving before closing the port, ms (env `FLUX_DRAIN_DELAY_MS`): `/ready`
   * answers 503 meanwhile, and after it the connections still open are left to their clients to close
   * (docs/operations.md §8). Set it behind any load balancer or proxy (deploy/: 3000); 0 closes at once.
   */
  drainDelayMs: 0,
};
