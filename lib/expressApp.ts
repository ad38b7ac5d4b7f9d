import cors, { type CorsOptions } from 'cors';
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import helmet from 'helmet';
import { allowedHostsMiddleware } from './allowedHosts.js';
import { BadRequestError } from './errors.js';
import type { FluxMiddleware } from './http.js';
import { maxDepth } from './limits.js';
import type { Logger } from './log.js';
import { dataParser } from './middlewares/dataParser.js';
import { errorHandler } from './middlewares/errorHandler.js';
import { extendRes } from './middlewares/extendRes.js';
import { notFoundHandler } from './middlewares/notFoundHandler.js';
import type { RouteRecord } from './routes.js';

export interface ExpressAppOptions {
  routes: RouteRecord[];
  controllers: Readonly<Record<string, object>>;
  /** Every named middleware a route or `server.middlewares` may use. */
  middlewares: Readonly<Record<string, FluxMiddleware>>;
  /** `config.server.middlewares`: run on every route after `dataParser`. */
  routeMiddlewares: string[];
  bodyLimit: number | string;
  corsOrigin: CorsOptions['origin'];
  /** Whether a `Host` header is served (`server.allowedHosts`, lib/allowedHosts.ts); HTTP only. */
  allowedHost?: (host: string | undefined) => boolean;
  trustProxy: boolean | string | string[];
  /** Global middlewares run before everything else (e.g. request metrics). */
  first?: RequestHandler[];
  /**
   * Sub-apps mounted before the routes (e.g. the API docs UI at `/docs`). With `{httpOnly: true}`,
   * socket virtual requests step over the mount (and end as 404 `NotFound`, like an unknown path).
   */
  mounts?: Array<[string, RequestHandler[], MountOptions?]>;
  /** Global rate limiter (counts HTTP and socket virtual requests alike). */
  rateLimiter?: RequestHandler;
  /** Deepest accepted nesting of a JSON body. */
  maxDepth: number;
  /** Builds the upload chain (multer and content checks) of a `file` route. */
  upload: (field: string) => RequestHandler | RequestHandler[];
  log: Logger;
}

/** Options of one entry of {@link ExpressAppOptions.mounts}. */
export interface MountOptions {
  /** Serve HTTP requests only: a socket virtual request steps over the mount. */
  httpOnly?: boolean;
}

/** The core middlewares (docs/reference.md#routes-and-middlewares), by name, for the route table's checks. */
export const coreMiddlewares = { dataParser, extendRes, notFoundHandler } as const;

/** Sends HTTP requests through `http` and virtual socket requests through `socket` (or on, if none). */
function byTransport(http: RequestHandler, socket: RequestHandler | undefined): RequestHandler {
  return function byTransport(req, res, next) {
    if (!(req as { isSocket?: boolean }).isSocket) http(req, res, next);
    else if (socket) socket(req, res, next);
    else next();
  };
}

/**
 * First handler of an `httpOnly` route: a virtual request leaves the route (`next('route')`) as if its
 * path had not matched, so it gets whatever a request to an unknown route gets — the 404 of
 * `notFoundHandler` — and nothing of the route's chain runs.
 */
function httpOnlyRoute(req: Request, _res: Response, next: NextFunction): void {
  if (!(req as { isSocket?: boolean }).isSocket) {
    next();
    return;
  }
  // unmatched in the request metrics too, like any unknown route
  req.route = undefined;
  next('route');
}

/** Refuses uploads on a socket: files only travel over HTTP multipart. */
function httpOnlyUpload(route: RouteRecord): RequestHandler {
  const message = `File uploads need HTTP: send multipart/form-data with field "${route.file}" to ${route.method.toUpperCase()} ${route.path}`;
  return function httpOnlyUpload(req, _res, next) {
    if ((req as { isSocket?: boolean }).isSocket) throw new BadRequestError(message);
    next();
  };
}

/**
 * Builds the one Express app that serves HTTP and socket virtual requests
 * (docs/reference.md#routes-and-middlewares). Order: `first`; for HTTP helmet headers, CORS, the rate
 * limiter, JSON body parser (size- and depth-limited), for virtual requests the rate limiter only;
 * `extendRes`; mounts (HTTP only for `httpOnly` ones); per route (HTTP only for `httpOnly` routes)
 * `dataParser`, `server.middlewares`, the route's middlewares, multer (for `file` routes), the action; then
 * `notFoundHandler` and `errorHandler`.
 */
export function buildExpressApp(options: ExpressAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy);
  app.set('etag', false);
  for (const middleware of options.first ?? []) app.use(middleware);
  // Browser-security headers, CORS and body parsing concern HTTP framing only: a virtual request has no
  // browser page, no origin and an already-parsed body, so it skips them (and the rest of the chain runs).
  // The rate limiter counts both. One layer: HTTP goes through its framing chain, a virtual request
  // straight to the rate limiter.
  const http = express.Router();
  // a virtual request's host is its socket's handshake's, checked when the socket opened
  if (options.allowedHost) http.use(allowedHostsMiddleware(options.allowedHost));
  http.use(
    helmet(),
    cors({
      origin: options.corsOrigin,
      exposedHeaders: ['X-Total-Count', 'X-Total-Count-Capped', 'X-Request-Id', 'Retry-After'],
    }),
  );
  if (options.rateLimiter) http.use(options.rateLimiter);
  http.use(express.json({ limit: options.bodyLimit }));
  // socket `data` is depth-checked before injection (lib/socket/virtualRequest.ts): HTTP bodies only here
  http.use(maxDepth(options.maxDepth));
  app.use(byTransport(http, options.rateLimiter));
  app.use(extendRes as unknown as RequestHandler);

  // each mount is one layer (a router of its handlers): requests elsewhere step over it once
  for (const [path, handlers, mount] of options.mounts ?? []) {
    const router = express.Router().use(handlers);
    app.use(path, mount?.httpOnly ? byTransport(router, undefined) : router);
  }
  const named = (name: string): RequestHandler => options.middlewares[name] as unknown as RequestHandler;
  for (const route of options.routes) {
    const controller = options.controllers[route.controller] as Record<
      string,
      (...args: unknown[]) => unknown
    >;
    const action = controller[route.action].bind(controller) as RequestHandler;
    Object.defineProperty(action, 'name', { value: `${route.controller}.${route.action}` });
    const chain: RequestHandler[] = [
      ...(route.httpOnly ? [httpOnlyRoute] : []),
      dataParser as unknown as RequestHandler,
      ...options.routeMiddlewares.map(named),
      ...route.middlewares.map(named),
      ...(route.file ? [httpOnlyUpload(route), options.upload(route.file)].flat() : []),
      action,
    ];
    app[route.method](route.path, ...chain);
  }
  app.use(notFoundHandler);
  app.use(errorHandler(options.log) as unknown as express.ErrorRequestHandler);
  return app;
}
