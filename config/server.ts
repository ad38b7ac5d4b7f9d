/** HTTP server (SPEC §1, §6). `PORT` and `HOST` override `port` and `host`. */
export default {
  port: 3000,
  host: '0.0.0.0',
  /** Middlewares run on every route after `dataParser`, before the route's own. */
  middlewares: [] as string[],
  /** Largest accepted JSON body. */
  bodyLimit: '100kb',
  /** Allowed browser origins for CORS and socket.io (`true` reflects any origin). */
  cors: { origin: true as boolean | string | string[] },
  /** Express `trust proxy`: false, or the addresses of the reverse proxies in front of Flux. */
  trustProxy: false as boolean | string | string[],
};
