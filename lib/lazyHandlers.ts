import express, { type RequestHandler } from 'express';

/**
 * A handler whose chain is made on the first request it sees, for what costs a start to load and few
 * requests use (the API explorer at `/docs`: docs/performance.md); that request and every later one then
 * run the chain. A chain that cannot be made fails each request that needs it (`next(err)`).
 * @example app.use('/docs', lazyHandlers(async () => (await import('./docs.js')).handlers()))
 */
export function lazyHandlers(make: () => Promise<RequestHandler[]>): RequestHandler {
  let chain: Promise<RequestHandler> | undefined;
  return function lazyHandlers(req, res, next) {
    chain ??= make().then((handlers) => express.Router().use(handlers));
    chain.then((handler) => handler(req, res, next), next);
  };
}
