/** HTTP server (SPEC §1, §6). `PORT` and `HOST` override `port` and `host`. */
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
  /** Express `trust proxy`: false, or the addresses of the reverse proxies in front of Flux. */
  trustProxy: false as boolean | string | string[],
  /** Deepest nesting of objects and arrays in a body or socket `data` (400 beyond). */
  maxDepth: 32,
  /** On SIGTERM, how long in-flight HTTP and socket requests may take to finish, ms. */
  shutdownTimeoutMs: 8_000,
};
