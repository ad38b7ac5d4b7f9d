import { IncomingMessage, ServerResponse } from 'node:http';
import cors, { type CorsOptions } from 'cors';
import express, {
  type ErrorRequestHandler,
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import finalhandler from 'finalhandler';
import helmet from 'helmet';
import { allowedHostsMiddleware } from './allowedHosts.js';
import { BadRequestError } from './errors.js';
import type { FluxMiddleware } from './http.js';
import { maxDepth } from './limits.js';
import type { Logger } from './log.js';
import { dataParser } from './middlewares/dataParser.js';
import { errorHandler } from './middlewares/errorHandler.js';
import { extendRes, replyHelpers } from './middlewares/extendRes.js';
import { notFoundHandler } from './middlewares/notFoundHandler.js';
import type { RouteRecord } from './routes.js';
import { RouteTable } from './routeTable.js';
import type { Dispatch } from './socket/virtualRequest.js';

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
  /**
   * The classes the HTTP server builds its requests and responses with ({@link httpMessageClasses}): the
   * app makes their prototypes its own `app.request` and `app.response`.
   */
  messageClasses?: HttpMessageClasses;
}

/** Request and response classes for `http.createServer({IncomingMessage, ServerResponse})`. */
export interface HttpMessageClasses {
  IncomingMessage: typeof IncomingMessage;
  ServerResponse: typeof ServerResponse;
}

/**
 * Classes for `http.createServer({IncomingMessage, ServerResponse})` (Node's `http` docs) whose instances
 * are born with the prototypes an Express app would give them, once {@link buildExpressApp} adopted them
 * (one pair per app). Express's `app.handle` sets the prototype of every `req` and `res` to `app.request`
 * and `app.response` (`Object.setPrototypeOf`); for an object that already has that prototype, the swap
 * does nothing. Measured with the swap (docs/performance.md, "What was optimized"): 31–47 % of what a
 * server allocated survived V8's scavenges, and a bare `node:http` server doing only the swap answered
 * less than half as many requests as without it.
 */
export function httpMessageClasses(): HttpMessageClasses {
  class FluxIncomingMessage extends IncomingMessage {}
  class FluxServerResponse<
    Request extends IncomingMessage = IncomingMessage,
  > extends ServerResponse<Request> {}
  return { IncomingMessage: FluxIncomingMessage, ServerResponse: FluxServerResponse };
}

/**
 * Makes `classes`' prototypes the app's `app.request` and `app.response`: each inherits from Express's
 * request (response) prototype and carries what the app's own had (its `app` property), so that Express's
 * helpers work on the server's requests as on any.
 */
function adoptMessageClasses(app: Express, classes: HttpMessageClasses): void {
  const adopt = (prototype: object, appOwn: object): object => {
    Object.setPrototypeOf(prototype, Object.getPrototypeOf(appOwn));
    Object.defineProperties(prototype, Object.getOwnPropertyDescriptors(appOwn));
    return prototype;
  };
  app.request = adopt(classes.IncomingMessage.prototype, app.request) as typeof app.request;
  app.response = adopt(classes.ServerResponse.prototype, app.response) as typeof app.response;
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
 * Runs virtual requests as the app would, without the layers they step over: the app's global handlers
 * for virtual requests in order, then `onError` for an error; whatever none answers ends in Express's
 * final handler (finalhandler, as `app.handle` does). The same rules as Express's router (router 2): a
 * handler that throws or whose promise rejects passes its error on, error handlers (four arguments) run
 * only for an error and the others only without one, `next('route')` is no error at this level, and
 * `next('router')` ends the chain. It also sets what `app.handle` sets (`req.res`, `req.next`,
 * `res.locals`); the prototypes of `req` and `res` are the app's already (lib/socket/virtualRequest.ts).
 */
function virtualDispatch(
  app: Express,
  handlers: RequestHandler[],
  onError: ErrorRequestHandler,
  log: Logger,
): Dispatch {
  const layers: Array<RequestHandler | ErrorRequestHandler> = [...handlers, onError];
  const env = app.get('env') as string;
  const onerror = (err: unknown): void => log.error('virtual request failed after its error handler:', err);
  function dispatch(req: Request, res: Response): void {
    req.res = res;
    if (!res.locals) res.locals = Object.create(null);
    let index = 0;
    const next = (err?: unknown): void => {
      if (err === 'route') err = undefined;
      if (err === 'router') index = layers.length;
      while (index < layers.length) {
        const layer = layers[index++];
        if (err ? layer.length !== 4 : layer.length > 3) continue;
        try {
          const result: unknown = err
            ? (layer as ErrorRequestHandler)(err, req, res, next)
            : (layer as RequestHandler)(req, res, next);
          if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function')
            (result as PromiseLike<unknown>).then(undefined, (rejected: unknown) =>
              next(rejected || new Error('Rejected promise')),
            );
        } catch (thrown) {
          next(thrown);
        }
        return;
      }
      finalhandler(req, res, { env, onerror })(err === 'router' ? undefined : err);
    };
    req.next = next;
    next();
  }
  return Object.assign(dispatch as unknown as (req: IncomingMessage, res: ServerResponse) => void, {
    request: app.request,
    response: app.response,
    keepsPrototypes: true,
  });
}

/** The app of {@link buildExpressApp}, and how virtual requests run through it. */
export interface FluxApps {
  /** The Express app: HTTP requests (`app(req, res)` as the HTTP server's listener). */
  app: Express;
  /**
   * Virtual requests (lib/socket/virtualRequest.ts): the same global handlers, routes, 404 and error
   * handler as the app, without the HTTP-only layers (or the app itself when a mount serves them too).
   */
  dispatch: Dispatch;
}

/**
 * Builds the one Express app that serves HTTP and socket virtual requests
 * (docs/reference.md#routes-and-middlewares). Order: `first`; for HTTP helmet headers, CORS, the rate
 * limiter, JSON body parser (size- and depth-limited), for virtual requests the rate limiter only;
 * `extendRes`; mounts (HTTP only for `httpOnly` ones); the routes (lib/routeTable.ts), each running
 * (HTTP only for `httpOnly` routes) `dataParser`, `server.middlewares`, the route's middlewares, multer
 * (for `file` routes), the action; then `notFoundHandler` and `errorHandler`.
 */
export function buildExpressApp(options: ExpressAppOptions): FluxApps {
  const app = express();
  if (options.messageClasses) adoptMessageClasses(app, options.messageClasses);
  // res.ok, res.created, res.error for every response of the app, HTTP and virtual (extendRes)
  Object.assign(app.response, replyHelpers);
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy);
  app.set('etag', false);
  // what virtual requests run, in the app's order, without the layers they step over
  const virtual: RequestHandler[] = [];
  for (const middleware of options.first ?? []) {
    app.use(middleware);
    virtual.push(middleware);
  }
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
  if (options.rateLimiter) virtual.push(options.rateLimiter);
  app.use(extendRes as unknown as RequestHandler);
  virtual.push(extendRes as unknown as RequestHandler);

  // each mount is one layer (a router of its handlers): requests elsewhere step over it once
  let mountedForSockets = false;
  for (const [path, handlers, mount] of options.mounts ?? []) {
    const router = express.Router().use(handlers);
    app.use(path, mount?.httpOnly ? byTransport(router, undefined) : router);
    if (!mount?.httpOnly) mountedForSockets = true;
  }
  const named = (name: string): RequestHandler => options.middlewares[name] as unknown as RequestHandler;
  const routes = new RouteTable();
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
    routes.add(route.method, route.path, chain);
  }
  app.use(routes.handle);
  app.use(notFoundHandler);
  const onError = errorHandler(options.log) as unknown as ErrorRequestHandler;
  app.use(onError);
  virtual.push(routes.handle, notFoundHandler);
  // a mount that serves virtual requests needs Express's router (paths, prefixes): they go through the app
  const dispatch = mountedForSockets ? app : virtualDispatch(app, virtual, onError, options.log);
  return { app, dispatch };
}
