import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction } from 'express';
import multer from 'multer';
import { afterEach, describe, expect, it } from 'vitest';
import { buildExpressApp, type HttpMessageClasses, httpMessageClasses } from '../../lib/expressApp.js';
import type { FluxMiddleware, FluxRequest, FluxResponse } from '../../lib/http.js';
import { Logger } from '../../lib/log.js';
import { injectVirtualRequest, parseVirtualRequest } from '../../lib/socket/virtualRequest.js';

/**
 * The Express chain (docs/reference.md#routes-and-middlewares) without a database: order, errors, 404, and
 * the same replies to sockets.
 */

const calls: string[] = [];
const logged: unknown[][] = [];

class RecordingLogger extends Logger {
  constructor() {
    super({ level: 'error', dir: false });
    this.error = (...args: unknown[]) => {
      logged.push(args);
    };
  }
}

const track =
  (name: string): FluxMiddleware =>
  (_req: FluxRequest, _res: FluxResponse, next: NextFunction) => {
    calls.push(name);
    next();
  };

function app(messageClasses?: HttpMessageClasses) {
  return buildExpressApp({
    messageClasses,
    routes: [
      {
        key: 'get /echo/:id',
        method: 'get',
        path: '/echo/:id',
        controller: 'C',
        action: 'echo',
        middlewares: ['routeOne', 'routeTwo'],
      },
      { key: 'get /boom', method: 'get', path: '/boom', controller: 'C', action: 'boom', middlewares: [] },
      {
        key: 'get /half',
        method: 'get',
        path: '/half',
        controller: 'C',
        action: 'half',
        middlewares: [],
      },
      { key: 'post /made', method: 'post', path: '/made', controller: 'C', action: 'made', middlewares: [] },
      {
        key: 'get /ops',
        method: 'get',
        path: '/ops',
        controller: 'C',
        action: 'ops',
        middlewares: ['routeOne'],
        httpOnly: true,
      },
      {
        key: 'post /upload',
        method: 'post',
        path: '/upload',
        controller: 'C',
        action: 'upload',
        middlewares: [],
        file: 'doc',
      },
    ],
    controllers: {
      C: {
        async half(_req: FluxRequest, res: FluxResponse) {
          res.write('partial');
          throw new Error('failed after the first chunk');
        },
        async echo(req: FluxRequest, res: FluxResponse) {
          calls.push('action');
          res.ok({ data: req.data, isSocket: req.isSocket });
        },
        async boom() {
          throw new Error('SELECT password FROM "Users" -- internal detail');
        },
        async made(_req: FluxRequest, res: FluxResponse) {
          res.created({ made: true });
        },
        async ops(_req: FluxRequest, res: FluxResponse) {
          calls.push('ops');
          res.ok({ ops: true });
        },
        async upload(
          req: FluxRequest & { file?: { originalname: string; size: number } },
          res: FluxResponse,
        ) {
          res.ok({ name: req.file?.originalname, size: req.file?.size });
        },
      },
    },
    middlewares: { global: track('global'), routeOne: track('routeOne'), routeTwo: track('routeTwo') },
    routeMiddlewares: ['global'],
    bodyLimit: '1kb',
    corsOrigin: true,
    trustProxy: false,
    maxDepth: 8,
    mounts: [['/panel', [(_req, res) => void res.status(200).send('panel')], { httpOnly: true }]],
    upload: (field) => multer({ storage: multer.memoryStorage(), limits: { fileSize: 1000 } }).single(field),
    log: new RecordingLogger(),
  });
}

let close: (() => void) | undefined;
afterEach(() => {
  close?.();
  calls.length = 0;
  logged.length = 0;
});

/** Serves the app over HTTP as Flux does: requests and responses born with the app's prototypes. */
async function serve(): Promise<string> {
  const classes = httpMessageClasses();
  const server = createServer(classes, app(classes).app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => server.close();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('buildExpressApp', () => {
  it('runs dataParser, server.middlewares, the route middlewares, then the action, with merged data', async () => {
    const base = await serve();
    const response = await fetch(`${base}/echo/5?data=${encodeURIComponent('{"a":1,"id":"x"}')}&b=2`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { a: 1, b: '2', id: '5' }, isSocket: false });
    expect(calls).toEqual(['global', 'routeOne', 'routeTwo', 'action']);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("When the server builds its messages with httpMessageClasses, then they are born with the app's prototypes and every Express helper works", async () => {
    const classes = httpMessageClasses();
    const built = app(classes);
    const server = createServer(classes, built.app);
    // before Express's app.handle sets the prototypes (which then changes nothing)
    const born: boolean[] = [];
    server.prependListener('request', (req, res) => {
      born.push(
        Object.getPrototypeOf(req) === built.app.request,
        Object.getPrototypeOf(res) === built.app.response,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = () => server.close();
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const response = await fetch(`${base}/echo/7?b=2`, { headers: { 'x-request-id': 'abc-1' } });
    expect(born).toEqual([true, true]);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { b: '2', id: '7' }, isSocket: false });
    expect(response.headers.get('x-request-id')).toBe('abc-1');
    // Express's request and response helpers and its `app` link, on the prototypes the app adopted
    expect(built.app.request).toBeInstanceOf(IncomingMessage);
    expect(built.app.response).toBeInstanceOf(ServerResponse);
    expect((built.app.request as { app?: unknown }).app).toBe(built.app);
    expect((built.app.response as { app?: unknown }).app).toBe(built.app);
    for (const helper of ['get', 'accepts', 'is'] as const)
      expect(typeof built.app.request[helper]).toBe('function');
    for (const helper of ['json', 'status', 'set', 'send'] as const)
      expect(typeof built.app.response[helper]).toBe('function');
    // virtual requests are built on the same prototypes and get the same reply
    const overSocket = await injectVirtualRequest(
      built.dispatch,
      parseVirtualRequest({ method: 'GET', url: '/echo/7', data: { b: '2' } }),
      { socketId: 's1', remoteAddress: '127.0.0.1', properties: { isSocket: true } },
    );
    expect(overSocket).toMatchObject({
      statusCode: 200,
      data: { data: { b: '2', id: '7' }, isSocket: true },
    });
  });

  it('answers 500 "Unexpected error" and logs the details, never sending them', async () => {
    const base = await serve();
    const response = await fetch(`${base}/boom`);
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      _error: { status: 500, code: 'UnexpectedError', message: 'Unexpected error' },
    });
    expect(text).not.toContain('SELECT');
    // the reply carries the request id that the log line names, to find the details
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged).toHaveLength(1);
    expect(String(logged[0][0])).toContain(requestId);
    expect(String((logged[0][1] as Error).message)).toContain('SELECT password');
  });

  it('cuts off a response that fails after its first bytes: HTTP sees the connection end, a socket a 500', async () => {
    const base = await serve();
    // over HTTP the body is cut short: the client sees an error instead of a complete reply
    await expect(fetch(`${base}/half`).then((response) => response.text())).rejects.toThrow();
    const overSocket = await injectVirtualRequest(
      app().dispatch,
      parseVirtualRequest({ method: 'GET', url: '/half' }),
      { socketId: 's1', remoteAddress: '127.0.0.1', properties: { isSocket: true } },
    );
    expect(overSocket).toMatchObject({ statusCode: 500, data: { _error: { code: 'InternalError' } } });
    expect(logged).toHaveLength(2);
  });

  it('answers 404 NotFound for an unknown route, 400 for malformed JSON, 413 for a large body', async () => {
    const base = await serve();
    const missing = await fetch(`${base}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      _error: { status: 404, code: 'NotFound', message: 'Unknown route' },
    });
    const malformed = await fetch(`${base}/made`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await malformed.json()) as { _error: { code: string } })._error.code).toBe('BadRequest');
    const large = await fetch(`${base}/made`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'x'.repeat(5000) }),
    });
    expect(large.status).toBe(413);
    expect(((await large.json()) as { _error: { code: string } })._error.code).toBe('PayloadTooLarge');
    const notObject = await fetch(`${base}/made`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[1,2]',
    });
    expect(notObject.status).toBe(400);
    expect(logged).toHaveLength(0);
  });

  it('gives a virtual request the same replies, with isSocket set', async () => {
    const express = app().dispatch;
    const origin = { socketId: 's1', remoteAddress: '127.0.0.1', properties: { isSocket: true } };
    const ok = await injectVirtualRequest(
      express,
      parseVirtualRequest({ method: 'GET', url: '/echo/5', data: { a: 1 } }),
      origin,
    );
    expect(ok.statusCode).toBe(200);
    expect(ok.data).toEqual({ data: { a: 1, id: '5' }, isSocket: true });
    const boom = await injectVirtualRequest(
      express,
      parseVirtualRequest({ method: 'GET', url: '/boom' }),
      origin,
    );
    expect(boom).toMatchObject({
      statusCode: 500,
      data: { _error: { code: 'UnexpectedError', message: 'Unexpected error' } },
    });
    const made = await injectVirtualRequest(
      express,
      parseVirtualRequest({ method: 'POST', url: '/made', data: {} }),
      origin,
    );
    expect(made).toMatchObject({ statusCode: 201, data: { made: true } });
    const notObject = await injectVirtualRequest(
      express,
      parseVirtualRequest({ method: 'POST', url: '/made', data: 'text' }),
      origin,
    );
    expect(notObject.statusCode).toBe(400);
  });

  it('When a route or a mount is httpOnly, then HTTP reaches it and a virtual request gets the 404 of an unknown route, running none of its chain', async () => {
    const base = await serve();
    const overHttp = await fetch(`${base}/ops`);
    expect(overHttp.status).toBe(200);
    expect(await overHttp.json()).toEqual({ ops: true });
    expect(calls).toEqual(['global', 'routeOne', 'ops']);
    const panel = await fetch(`${base}/panel/`);
    expect(panel.status).toBe(200);
    expect(await panel.text()).toBe('panel');

    calls.length = 0;
    const express = app().dispatch;
    const origin = { socketId: 's1', remoteAddress: '127.0.0.1', properties: { isSocket: true } };
    const unknown = await injectVirtualRequest(
      express,
      parseVirtualRequest({ method: 'GET', url: '/nowhere' }),
      origin,
    );
    expect(unknown.statusCode).toBe(404);
    for (const url of ['/ops', '/panel/', '/panel']) {
      const reply = await injectVirtualRequest(express, parseVirtualRequest({ method: 'GET', url }), origin);
      expect(reply.statusCode, url).toBe(404);
      expect(reply.data, url).toEqual({
        _error: { status: 404, code: 'NotFound', message: 'Unknown route' },
      });
      expect(reply.data, url).toEqual(unknown.data);
    }
    expect(calls).toEqual([]);
  });

  it('When a virtual request runs through the dispatch instead of the whole app, then it gets the same reply and runs the same middlewares', async () => {
    const apps = app();
    const origin = { socketId: 's1', remoteAddress: '127.0.0.1', properties: { isSocket: true } };
    const requests: Array<[string, string, unknown?]> = [
      ['GET', '/echo/5?b=2', { a: 1 }],
      ['HEAD', '/echo/5'],
      ['GET', '/ECHO/5/'],
      ['GET', '/echo/%ff'],
      ['GET', '/boom'],
      ['GET', '/half'],
      ['POST', '/made', {}],
      ['POST', '/made', 'text'],
      ['GET', '/made'],
      ['GET', '/ops'],
      ['GET', '/panel/'],
      ['POST', '/upload', {}],
      ['GET', '/nowhere'],
      ['OPTIONS', '/echo/5'],
    ];
    // every request gets a fresh id (none, when its response was destroyed)
    const withoutId = ({ 'x-request-id': id, ...headers }: Record<string, unknown>) => ({
      ...headers,
      hasId: id !== undefined,
    });
    for (const [method, url, data] of requests) {
      const input = parseVirtualRequest({ method, url, data });
      calls.length = 0;
      const overApp = await injectVirtualRequest(apps.app, input, origin);
      const appCalls = [...calls];
      calls.length = 0;
      const overDispatch = await injectVirtualRequest(apps.dispatch, input, origin);
      expect(apps.dispatch).not.toBe(apps.app);
      expect(overDispatch.statusCode, `${method} ${url}`).toBe(overApp.statusCode);
      expect(overDispatch.data, `${method} ${url}`).toEqual(overApp.data);
      expect(withoutId(overDispatch.headers), `${method} ${url}`).toEqual(withoutId(overApp.headers));
      expect(calls, `${method} ${url}`).toEqual(appCalls);
    }
  });

  it('When a mount serves virtual requests too, then they run through the whole app', () => {
    const apps = buildExpressApp({
      routes: [],
      controllers: {},
      middlewares: {},
      routeMiddlewares: [],
      bodyLimit: '1kb',
      corsOrigin: true,
      trustProxy: false,
      maxDepth: 8,
      mounts: [['/shared', [(_req, res) => void res.status(200).send('shared')]]],
      upload: () => [],
      log: new RecordingLogger(),
    });
    expect(apps.dispatch).toBe(apps.app);
  });

  it('takes a file route through multer over HTTP, and refuses it over a socket naming the HTTP route', async () => {
    const base = await serve();
    const form = new FormData();
    form.append('doc', new Blob(['hello']), 'hello.txt');
    const response = await fetch(`${base}/upload`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ name: 'hello.txt', size: 5 });

    const big = new FormData();
    big.append('doc', new Blob(['x'.repeat(5000)]), 'big.txt');
    const tooBig = await fetch(`${base}/upload`, { method: 'POST', body: big });
    expect(tooBig.status).toBe(413);

    const origin = { socketId: 's1', remoteAddress: '127.0.0.1', properties: { isSocket: true } };
    const overSocket = await injectVirtualRequest(
      app().dispatch,
      parseVirtualRequest({ method: 'POST', url: '/upload', data: {} }),
      origin,
    );
    expect(overSocket.statusCode).toBe(400);
    expect((overSocket.data as { _error: { message: string } })._error.message).toContain('POST /upload');
  });
});
