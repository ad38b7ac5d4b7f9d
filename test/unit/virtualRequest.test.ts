import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import express from 'express';
import finalhandler from 'finalhandler';
import { describe, expect, it } from 'vitest';
import {
  type Dispatch,
  injectVirtualRequest,
  parseVirtualRequest,
  VirtualRequestError,
  type VirtualRequestInput,
  type VirtualRequestOrigin,
} from '../../lib/socket/virtualRequest.js';

const origin: VirtualRequestOrigin = {
  socketId: 'sock-1',
  remoteAddress: '10.1.2.3',
  host: 'event.example.com',
  properties: { isSocket: true },
};

const lateHeaderErrors: unknown[] = [];
/** Header values at the edges of what HTTP allows (RFC 9110 §5.5): tab, DEL, obs-text, beyond Latin-1. */
const headerValues: unknown[] = [
  undefined,
  'plain',
  'tab\tinside',
  '',
  ' ~',
  'caf\u00e9',
  '\u00ff',
  'del\u007f',
  'nul\u0000',
  'cr\rlf',
  'euro\u20ac',
  'emoji\u{1f600}',
  42,
  ['a', 'b'],
  ['a', 'b\n'],
  'unit\u001fseparator',
  'vertical\u000btab',
  '\u0100',
  'lone\ud800',
];

/** What setting each value does to a response: '' when kept, else the code of the error thrown. */
function outcomes(res: { setHeader(name: string, value: never): unknown }, values: readonly unknown[]) {
  // a name of its own for each value: a value kept for a name is not checked again when it comes back
  return values.map((value, i) => {
    try {
      res.setHeader(`X-Value-${i}`, value as never);
      return '';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code;
    }
  });
}

/** 'a', one character, 'b': for every character up to U+01FF. */
const everyCharacter = Array.from({ length: 0x200 }, (_, code) => `a${String.fromCharCode(code)}b`);
const finished: string[] = [];

function echoApp() {
  const app = express();
  app.set('trust proxy', true); // even when proxies are trusted, socket clients cannot forge addresses
  app.use(express.json());
  app.all('/echo/:id', (req, res) => {
    res.status(201).setHeader('X-Custom', 'yes');
    res.json({
      method: req.method,
      id: req.params.id,
      query: req.query,
      body: req.body ?? null,
      ip: req.ip,
      hostname: req.hostname,
      headers: req.headers,
      socketId: (req.socket as unknown as { id: string }).id,
      isSocket: (req as unknown as { isSocket: boolean }).isSocket,
    });
  });
  app.get('/text', (_req, res) => {
    res.type('text/plain').send('hello');
  });
  app.get('/stream', (_req, res) => {
    res.type('application/octet-stream');
    res.write(Buffer.from([1, 2]));
    res.end(Buffer.from([3]));
  });
  app.get('/throws', () => {
    throw new Error('boom');
  });
  app.get('/headers', (_req, res) => {
    res.setHeader('X-Gone', '1');
    res.removeHeader('X-Gone');
    res.append('Vary', 'Origin');
    res.append('Vary', 'Accept');
    res.json({ names: res.getHeaderNames(), has: res.hasHeader('vary'), vary: res.get('Vary') });
  });
  app.get('/late-header', (_req, res) => {
    res.status(202).json({ first: true });
    try {
      res.setHeader('X-Late', '1');
    } catch (err) {
      lateHeaderErrors.push((err as NodeJS.ErrnoException).code);
    }
  });
  app.get('/bad-header', (_req, res) => {
    res.setHeader('X-Bad', 'a\nb');
    res.json({});
  });
  app.get('/header-values', (_req, res) => {
    res.json({ values: outcomes(res, headerValues), characters: outcomes(res, everyCharacter) });
  });
  app.get('/odd-names', (_req, res) => {
    res.setHeader('__proto__', 'a');
    res.setHeader('Constructor', 'b');
    res.setHeader('hasOwnProperty', 'c');
    res.json({ names: res.getHeaderNames(), proto: Object.getPrototypeOf(res.getHeaders()) });
  });
  app.get('/destroyed', (_req, res) => {
    res.write('partial');
    res.destroy();
  });
  app.get('/json', (_req, res) => {
    res.json({ a: 1 });
  });
  app.get('/no-content', (_req, res) => {
    res.status(204).json({ ignored: true });
  });
  app.get('/cookies', (_req, res) => {
    res.cookie('a', 'b').cookie('c', 'd').json({});
  });
  app.get('/finish-event', (_req, res) => {
    res.on('finish', () => finished.push('finish'));
    res.on('close', () => finished.push('close'));
    res.json({ ok: true });
  });
  return app;
}

describe('parseVirtualRequest', () => {
  it.each([null, 'GET /user', 42, [], Buffer.from('x')])('refuses the non-object payload %j', (payload) => {
    expect(() => parseVirtualRequest(payload)).toThrow(VirtualRequestError);
  });

  it.each([
    [{ url: '/user' }],
    [{ method: 'FETCH', url: '/user' }],
    [{ method: 5, url: '/user' }],
    [{ method: 'get' }],
    [{ method: 'get', url: 'user' }],
    [{ method: 'get', url: 'http://evil.example/user' }],
    [{ method: 'get', url: '//evil.example/user' }],
    [{ method: 'get', url: '/user with space' }],
    [{ method: 'get', url: `/${'x'.repeat(3000)}` }],
    [{ method: 'get', url: '/user', headers: 'x' }],
  ])('refuses %j without a usable method or url', (payload) => {
    expect(() => parseVirtualRequest(payload)).toThrow(VirtualRequestError);
  });

  it('upper-cases the method and keeps data', () => {
    expect(parseVirtualRequest({ method: 'post', url: '/user?x=1', data: { a: 1 } })).toEqual({
      method: 'POST',
      url: '/user?x=1',
      data: { a: 1 },
      headers: {},
    });
  });

  it('drops addressing, framing and cookie headers, keeps authorization', () => {
    const { headers } = parseVirtualRequest({
      method: 'GET',
      url: '/',
      headers: {
        Authorization: 'Bearer abc',
        'X-Forwarded-For': '1.1.1.1',
        'x-forwarded-host': 'evil',
        Forwarded: 'for=1.1.1.1',
        'X-Real-IP': '1.1.1.1',
        Host: 'evil',
        'Content-Length': '5',
        'Transfer-Encoding': 'chunked',
        Cookie: 'a=b',
        'X-Tenant': 'bar',
        'x-number': 5,
        'x-object': { a: 1 },
        'x-crlf': 'a\r\nb',
        'bad name': 'x',
      },
    });
    expect(headers).toEqual({ authorization: 'Bearer abc', 'x-tenant': 'bar', 'x-number': '5' });
  });
});

/**
 * A dispatch that leaves the prototypes of `req` and `res` alone (as `buildExpressApp`'s does): it runs the
 * app's router without `app.handle`, and virtual responses then carry their methods on a prototype.
 */
function keepingPrototypes(app: express.Express): Dispatch {
  const router = (app as unknown as { router: { handle(req: unknown, res: unknown, done: unknown): void } })
    .router;
  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    (req as IncomingMessage & { res?: unknown }).res = res;
    (res as ServerResponse & { locals?: unknown }).locals = Object.create(null);
    if (app.enabled('x-powered-by')) res.setHeader('X-Powered-By', 'Express'); // as app.handle
    router.handle(req, res, finalhandler(req, res));
  };
  return Object.assign(dispatch, { request: app.request, response: app.response, keepsPrototypes: true });
}

describe.each([
  ['the Express app', (app: express.Express): Dispatch => app],
  ['a dispatch that keeps prototypes', keepingPrototypes],
])('injectVirtualRequest through %s', (_name, dispatchOf) => {
  const inject = (app: express.Express, input: VirtualRequestInput, from: VirtualRequestOrigin) =>
    injectVirtualRequest(dispatchOf(app), input, from);

  it('runs through Express and returns status, headers and the parsed JSON body', async () => {
    const input = parseVirtualRequest({
      method: 'put',
      url: '/echo/7?q=1',
      data: { hello: 'world' },
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-tenant': 'bar' },
    });
    const reply = await inject(echoApp(), input, origin);
    expect(reply.statusCode).toBe(201);
    expect(reply.headers['x-custom']).toBe('yes');
    expect(reply.headers['content-type']).toMatch(/application\/json/);
    expect(reply.data).toMatchObject({
      method: 'PUT',
      id: '7',
      query: { q: '1' },
      body: { hello: 'world' },
      ip: '10.1.2.3',
      hostname: 'event.example.com',
      socketId: 'sock-1',
      isSocket: true,
    });
    const headers = (reply.data as { headers: Record<string, string> }).headers;
    expect(headers['x-forwarded-for']).toBeUndefined();
    expect(headers['x-tenant']).toBe('bar');
  });

  it('passes no body for a request without data', async () => {
    const reply = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/echo/1' }), origin);
    expect((reply.data as { body: unknown }).body).toBeNull();
  });

  it('decodes text and binary bodies, including streamed writes', async () => {
    const text = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/text' }), origin);
    expect(text.data).toBe('hello');
    const binary = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/stream' }), origin);
    expect(binary.data).toEqual(Buffer.from([1, 2, 3]));
  });

  it("returns Express's own 404 and error replies", async () => {
    const missing = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/nope' }), origin);
    expect(missing.statusCode).toBe(404);
    const failed = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/throws' }), origin);
    expect(failed.statusCode).toBe(500);
  });

  it('runs concurrent requests independently', async () => {
    const app = echoApp();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        inject(app, parseVirtualRequest({ method: 'POST', url: `/echo/${i}`, data: { i } }), origin),
      ),
    );
    replies.forEach((reply, i) => {
      expect(reply.data).toMatchObject({ id: String(i), body: { i } });
    });
  });

  it('keeps headers like http.OutgoingMessage: append, remove, names, case-insensitive reads', async () => {
    const reply = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/headers' }), origin);
    expect(reply.data).toEqual({ names: ['x-powered-by', 'vary'], has: true, vary: ['Origin', 'Accept'] });
    expect(reply.headers.vary).toEqual(['Origin', 'Accept']);
    expect(reply.headers['x-gone']).toBeUndefined();
  });

  it('refuses a header set after the reply started (ERR_HTTP_HEADERS_SENT) and keeps the reply', async () => {
    lateHeaderErrors.length = 0;
    const reply = await inject(
      echoApp(),
      parseVirtualRequest({ method: 'GET', url: '/late-header' }),
      origin,
    );
    expect(reply.statusCode).toBe(202);
    expect(reply.headers['x-late']).toBeUndefined();
    expect(lateHeaderErrors).toEqual(['ERR_HTTP_HEADERS_SENT']);
  });

  it('validates header values as HTTP does: a newline in a value is an error reply', async () => {
    const reply = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/bad-header' }), origin);
    expect(reply.statusCode).toBe(500);
    expect(reply.headers['x-bad']).toBeUndefined();
  });

  it("accepts and refuses exactly the header values Node's HTTP response does, with its error codes", async () => {
    const reply = await inject(
      echoApp(),
      parseVirtualRequest({ method: 'GET', url: '/header-values' }),
      origin,
    );
    const http = () => new ServerResponse(new IncomingMessage(new Socket()));
    const values = outcomes(http(), headerValues);
    const characters = outcomes(http(), everyCharacter);
    // the lists do test refusals: 11 of the values; the controls but tab, DEL, and everything past U+00FF
    expect(values.filter((code) => code !== '')).toHaveLength(11);
    expect(values[0]).toBe('ERR_HTTP_INVALID_HEADER_VALUE');
    expect(characters.filter((code) => code !== '')).toHaveLength(31 + 1 + 0x100);
    expect(reply.data).toEqual({ values, characters });
  });

  it('keeps headers named like Object.prototype members as headers, in a store without a prototype', async () => {
    const reply = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/odd-names' }), origin);
    expect(reply.data).toEqual({
      names: ['x-powered-by', '__proto__', 'constructor', 'hasownproperty'],
      proto: null,
    });
    expect(Object.getPrototypeOf(reply.headers)).toBeNull();
    expect(Object.hasOwn(reply.headers, '__proto__')).toBe(true);
    expect(reply.headers.constructor).toBe('b');
  });

  it('answers 500 when a handler destroys the response instead of ending it', async () => {
    const reply = await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/destroyed' }), origin);
    expect(reply.statusCode).toBe(500);
    expect(reply.data).toMatchObject({ _error: { status: 500, code: 'InternalError' } });
  });

  it('emits finish then close after the reply', async () => {
    finished.length = 0;
    await inject(echoApp(), parseVirtualRequest({ method: 'GET', url: '/finish-event' }), origin);
    await new Promise((resolve) => setImmediate(resolve));
    expect(finished).toEqual(['finish', 'close']);
  });

  it('gives the requests of one origin the same socket, and other origins their own', async () => {
    const app = express();
    const sockets: unknown[] = [];
    app.get('/s', (req, res) => {
      sockets.push(req.socket);
      res.json({ ip: req.ip });
    });
    const other: VirtualRequestOrigin = { ...origin, socketId: 'sock-2', remoteAddress: '10.9.9.9' };
    await inject(app, parseVirtualRequest({ method: 'GET', url: '/s' }), origin);
    await inject(app, parseVirtualRequest({ method: 'GET', url: '/s' }), origin);
    const reply = await inject(app, parseVirtualRequest({ method: 'GET', url: '/s' }), other);
    expect(sockets[0]).toBe(sockets[1]);
    expect(sockets[2]).not.toBe(sockets[0]);
    expect(reply.data).toEqual({ ip: '10.9.9.9' });
  });

  it("answers req.ip with its socket's address, whatever the trust and the forged headers", async () => {
    // the rate limiter reads the socket's address of a virtual request instead of req.ip (lib/limits.ts)
    for (const trust of [false, true, 'loopback', ['10.0.0.0/8', '::1']]) {
      const app = express();
      app.set('trust proxy', trust);
      app.get('/ip', (req, res) => {
        res.json({ ip: req.ip, socket: req.socket.remoteAddress, ips: req.ips });
      });
      for (const remoteAddress of ['10.1.2.3', '127.0.0.1', '::1', '::ffff:10.0.0.1', '2001:db8::7']) {
        const input = parseVirtualRequest({
          method: 'GET',
          url: '/ip',
          headers: {
            'x-forwarded-for': '6.6.6.6, 7.7.7.7',
            forwarded: 'for=6.6.6.6',
            'x-real-ip': '6.6.6.6',
          },
        });
        const reply = await inject(app, input, { ...origin, remoteAddress });
        expect(reply.data).toEqual({ ip: remoteAddress, socket: remoteAddress, ips: [] });
      }
    }
  });

  it('sends no body for HEAD, 204 and 304, as HTTP does', async () => {
    const head = await inject(echoApp(), parseVirtualRequest({ method: 'HEAD', url: '/json' }), origin);
    expect(head).toMatchObject({ statusCode: 200, data: null });
    expect(head.headers['content-type']).toMatch(/application\/json/);
    const noContent = await inject(
      echoApp(),
      parseVirtualRequest({ method: 'GET', url: '/no-content' }),
      origin,
    );
    expect(noContent).toMatchObject({ statusCode: 204, data: null });
  });

  it("keeps Express's reply helpers: redirects, OPTIONS, appended cookies", async () => {
    const app = echoApp();
    const options = await inject(app, parseVirtualRequest({ method: 'OPTIONS', url: '/json' }), origin);
    expect(options).toMatchObject({ statusCode: 200, headers: { allow: 'GET, HEAD' }, data: 'GET, HEAD' });
    const cookies = await inject(app, parseVirtualRequest({ method: 'GET', url: '/cookies' }), origin);
    expect(cookies.headers['set-cookie']).toEqual(['a=b; Path=/', 'c=d; Path=/']);
  });
});
