import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { type MatchFunction, match } from 'path-to-regexp';

/**
 * The routes of the app, indexed by method and first path segment: one Express middleware that finds a
 * request's route without walking the others (docs/reference.md#routes-and-middlewares).
 *
 * Express's router tries its layers one by one, a regular expression each, until one matches: the routes
 * of `/message` came after 40 others. Here each route is one of a short list — those of its method whose
 * first path segment is the request's, plus those whose first segment is a parameter — tried in the order
 * the routes were added, so the first route that matches is the one Express would have chosen.
 *
 * What stays Express's: each route's chain is an Express `Route` (`express.Route`) and runs through its
 * `dispatch` — errors thrown or rejected go to the error handlers, `next('route')` moves on to the next
 * matching route, `next('router')` leaves the app's router, `HEAD` runs a `GET` route. Paths match as with
 * Express's defaults (path-to-regexp 8 with the options of Express's router: case-insensitive, an optional
 * trailing slash, parameters percent-decoded; a parameter that cannot be decoded is a 400 error, passed
 * to `next`). `req.params` is the matched route's parameters, `req.route` its `Route` (`req.route.path`
 * is the route's pattern). A request no route matches goes on with `next()` (to the 404 handler).
 *
 * Not supported (Flux's route table has none): regular-expression paths, `app.param` callbacks, automatic
 * `OPTIONS` replies (the 404 handler answers those, as it did when the routes were Express's).
 */

/** What `express.Route` offers beyond its typings: its handlers are run by `dispatch`. */
interface DispatchableRoute {
  path: string;
  dispatch(req: Request, res: Response, done: (err?: unknown) => void): void;
}
type RouteConstructor = new (path: string) => DispatchableRoute & Record<string, unknown>;
/** `express.Route` (Express 5 exports the router's `Route`; @types/express does not declare it). */
const Route = (express as unknown as { Route: RouteConstructor }).Route;

interface Entry {
  route: DispatchableRoute;
  matches: MatchFunction<Record<string, string>>;
}

/** The routes of one method: by lower-cased first path segment, and for any other segment. */
interface MethodIndex {
  bySegment: Map<string, Entry[]>;
  other: Entry[];
}

/** A first path segment that is plain ASCII text (not a parameter): the routes indexed by it. */
const literalSegment = /^[A-Za-z0-9_.~-]*$/;

/** As Express's router decodes a parameter: a malformed escape is a 400 error (router 2, lib/layer.js). */
function decodeParam(value: string): string {
  if (value.length === 0 || !value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch (err) {
    if (err instanceof URIError) {
      err.message = `Failed to decode param '${value}'`;
      Object.assign(err, { status: 400, statusCode: 400 });
    }
    throw err;
  }
}

/** The first segment of a path (`/message/5` → `message`), or undefined when it may not be looked up. */
function firstSegment(path: string): string | undefined {
  const slash = path.indexOf('/', 1);
  const segment = slash === -1 ? path.slice(1) : path.slice(1, slash);
  // ASCII only: the matchers compare case-insensitively without Unicode case folding, as toLowerCase does
  // for ASCII; any other segment is tried against every route of the method
  return literalSegment.test(segment) ? segment.toLowerCase() : undefined;
}

export class RouteTable {
  /** Routes in the order they were added: [method, first segment or undefined for a parameter, entry]. */
  private readonly added: Array<[string, string | undefined, Entry]> = [];
  private readonly methods = new Map<string, MethodIndex>();

  /**
   * Adds a route: `handlers` run in order, as `app[method](path, ...handlers)` would run them.
   * @param method an HTTP method, lower-case (`get`, `post`, `put`, `patch`, `delete`)
   * @param path an Express path (`/user/:id`); its first segment is text or one parameter
   */
  add(method: string, path: string, handlers: RequestHandler[]): void {
    const route = new Route(path);
    (route[method] as (...handlers: RequestHandler[]) => void)(...handlers);
    const head = path.slice(1).split('/', 1)[0];
    const segment = literalSegment.test(head) ? head.toLowerCase() : undefined;
    const matches = match<Record<string, string>>(path.replace(/\/+$/, '') || '/', {
      sensitive: false,
      end: true,
      trailing: true,
      decode: decodeParam,
    });
    this.added.push([method.toUpperCase(), segment, { route, matches }]);
    this.methods.clear(); // rebuilt on the next request
  }

  /** The middleware: runs the first route that matches, or `next()` when none does. */
  readonly handle = (req: Request, res: Response, next: NextFunction): void => {
    const path = req.path;
    const candidates = this.candidates(req.method, path);
    let index = 0;
    // a route's `dispatch` calls back with nothing (`next('route')` included: try the next route), an
    // error, or 'router'; the last two leave the table
    const done = (err?: unknown): void => {
      if (err) next(err);
      else advance();
    };
    const advance = (): void => {
      while (index < candidates.length) {
        const entry = candidates[index++];
        let found: ReturnType<Entry['matches']>;
        try {
          found = entry.matches(path);
        } catch (err) {
          next(err);
          return;
        }
        if (!found) continue;
        req.params = found.params;
        entry.route.dispatch(req, res, done);
        return;
      }
      next();
    };
    advance();
  };

  /** The routes a request to `path` may match, in the order they were added. */
  private candidates(method: string, path: string): readonly Entry[] {
    const index = this.indexOf(method === 'HEAD' ? 'GET' : method);
    if (!index) return [];
    const segment = firstSegment(path);
    return (segment !== undefined && index.bySegment.get(segment)) || index.other;
  }

  private indexOf(method: string): MethodIndex | undefined {
    if (this.methods.size === 0) this.build();
    return this.methods.get(method);
  }

  /**
   * Indexes the routes: for each method, each first segment's list holds the routes with that segment and
   * those starting with a parameter, in the order they were added; `other` holds the latter only.
   */
  private build(): void {
    for (const [method] of this.added)
      if (!this.methods.has(method)) this.methods.set(method, { bySegment: new Map(), other: [] });
    for (const [method, segment, entry] of this.added) {
      const index = this.methods.get(method) as MethodIndex;
      if (segment === undefined) {
        index.other.push(entry);
        for (const list of index.bySegment.values()) list.push(entry);
      } else {
        let list = index.bySegment.get(segment);
        if (!list) {
          list = [...index.other];
          index.bySegment.set(segment, list);
        }
        list.push(entry);
      }
    }
  }
}
