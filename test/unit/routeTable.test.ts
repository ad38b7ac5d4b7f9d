import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../lib/routeTable.js';
import { type Dispatch, injectVirtualRequest, parseVirtualRequest } from '../../lib/socket/virtualRequest.js';

/**
 * The route table (lib/routeTable.ts) against its oracle: the same routes registered on an Express app one
 * by one. Every request must reach the same route with the same parameters, or fail the same way.
 */

type Method = 'get' | 'post' | 'put' | 'delete';

/** Answers which route ran and with which parameters. */
const answer =
  (name: string): RequestHandler =>
  (req, res) => {
    res.json({ route: name, params: { ...req.params }, pattern: req.route?.path });
  };
/** Steps over its route (`next('route')`) when `?skip` is set. */
const skipWhenAsked: RequestHandler = (req, _res, next) => next(req.query.skip ? 'route' : undefined);
/** Leaves the router (`next('router')`) when `?leave` is set. */
const leaveWhenAsked: RequestHandler = (req, _res, next) => next(req.query.leave ? 'router' : undefined);
const fails: RequestHandler = async () => {
  throw Object.assign(new Error('refused'), { status: 418 });
};

const ROUTES: Array<[Method, string, RequestHandler[]]> = [
  ['get', '/health', [answer('health')]],
  ['get', '/user/:id', [skipWhenAsked, answer('user by id')]],
  ['get', '/user/me', [answer('user me')]],
  ['get', '/:section/list', [leaveWhenAsked, answer('any section list')]],
  ['get', '/message/:id', [answer('message by id')]],
  ['post', '/message', [answer('create message')]],
  ['put', '/message/:id', [answer('update message')]],
  ['delete', '/message/:id', [fails]],
  ['get', '/Alert/:id/users', [answer('alert users')]],
  ['get', '/:anything', [skipWhenAsked, answer('anything')]],
  ['get', '/team', [answer('team')]],
  ['get', '/file.json', [answer('file.json')]],
];

function withTable(): express.Express {
  const app = express();
  const table = new RouteTable();
  for (const [method, path, handlers] of ROUTES) table.add(method, path, handlers);
  app.use(table.handle);
  return finish(app);
}

function withExpress(): express.Express {
  const app = express();
  for (const [method, path, handlers] of ROUTES) app[method](path, ...handlers);
  return finish(app);
}

function finish(app: express.Express): express.Express {
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ route: 'none' });
  });
  app.use((err: { status?: number; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.message });
  });
  return app;
}

const REQUESTS: Array<[string, string]> = [
  ['GET', '/health'],
  ['GET', '/health/'],
  ['GET', '/HEALTH'],
  ['HEAD', '/health'],
  ['POST', '/health'],
  ['GET', '/user/5'],
  ['GET', '/user/me'],
  ['GET', '/user/me?skip=1'],
  ['GET', '/user/5?skip=1'],
  ['GET', '/USER/abc%20def'],
  ['GET', '/user/%ff'],
  ['GET', '/user/list'],
  ['GET', '/user/list?skip=1'],
  ['GET', '/user/list?skip=1&leave=1'],
  ['GET', '/user/5/list'],
  ['GET', '/message/7'],
  ['GET', '/message/list'],
  ['POST', '/message'],
  ['POST', '/message/'],
  ['PUT', '/message/7'],
  ['DELETE', '/message/7'],
  ['PATCH', '/message/7'],
  ['GET', '/alert/3/users'],
  ['GET', '/ALERT/3/USERS'],
  ['GET', '/team'],
  ['GET', '/team?skip=1'],
  ['GET', '/elsewhere'],
  ['GET', '/elsewhere?skip=1'],
  ['GET', '/file.json'],
  ['GET', '/file.json?skip=1'],
  ['GET', '/file.json'],
  ['GET', '/file.json?skip=1'],
  ['GET', '/ümlaut'],
  ['GET', '/%C3%BC'],
  ['GET', '/\u212Aelvin'],
  ['GET', '/'],
  ['GET', '/a/b/c'],
  ['OPTIONS', '/health'],
  ['DELETE', '/elsewhere'],
];

const origin = { socketId: 's1', remoteAddress: '127.0.0.1' };
const run = (app: express.Express, method: string, url: string) =>
  injectVirtualRequest(app as unknown as Dispatch, parseVirtualRequest({ method, url }), origin);

describe('RouteTable', () => {
  it('When requests of every kind arrive, then each reaches the route Express would choose, with the same params, or fails the same way', async () => {
    const table = withTable();
    const oracle = withExpress();
    const seen = new Set<unknown>();
    for (const [method, url] of REQUESTS) {
      const [ours, theirs] = await Promise.all([run(table, method, url), run(oracle, method, url)]);
      expect({ status: ours.statusCode, data: ours.data }, `${method} ${url}`).toEqual({
        status: theirs.statusCode,
        data: theirs.data,
      });
      seen.add((ours.data as { route?: string } | null)?.route);
    }
    // the requests above reach every route (the comparison is not vacuous)
    expect(seen).toEqual(
      new Set([
        'health',
        'user by id',
        'user me',
        'any section list',
        'message by id',
        'create message',
        'update message',
        'alert users',
        'anything',
        'team',
        'file.json',
        'none',
        undefined, // HEAD (no body), the 400 and 418 errors, the final handler of next('router')
      ]),
    );
  });

  it('When a parameter cannot be percent-decoded, then the error reaches the error handlers with status 400', async () => {
    const reply = await run(withTable(), 'GET', '/user/%E0%A4%A');
    expect(reply.statusCode).toBe(400);
    expect(reply.data).toEqual({ error: "Failed to decode param '%E0%A4%A'" });
  });

  it('When a route starting with a parameter comes before literal ones, then it still wins for their paths, as in Express', async () => {
    const reply = await run(withTable(), 'GET', '/message/list');
    expect(reply.data).toMatchObject({ route: 'any section list', params: { section: 'message' } });
    const skipped = await run(withTable(), 'GET', '/team?skip=1');
    // '/:anything' steps aside, and '/team' (added after it) answers
    expect(skipped.data).toMatchObject({ route: 'team', pattern: '/team' });
  });

  it('When routes are added after requests were served, then they are found too', async () => {
    const app = express();
    const table = new RouteTable();
    table.add('get', '/first', [answer('first')]);
    app.use(table.handle);
    finish(app);
    expect((await run(app, 'GET', '/second')).statusCode).toBe(404);
    table.add('get', '/second', [answer('second')]);
    expect((await run(app, 'GET', '/second')).data).toMatchObject({ route: 'second' });
    expect((await run(app, 'GET', '/first')).data).toMatchObject({ route: 'first' });
  });
});
