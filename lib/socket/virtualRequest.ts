import { EventEmitter } from 'node:events';
import {
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';
import type { Express } from 'express';
import { PayloadTooLargeError } from '../errors.js';
import { deeperThan } from '../limits.js';
import type { VirtualResponse } from '../protocol.js';

/**
 * Socket → Express injection: runs one socket.io `request` message through the Express app as a virtual
 * HTTP request and resolves with what HTTP would have sent (docs/reference.md#socket-protocol).
 *
 * Contract
 * - Input: `{method, url, data?, headers?}`, already checked by {@link parseVirtualRequest}; anything
 *   else is a 400 before the app is called.
 * - Request: an object built on the Express app's own request prototype (`app.request`, itself an
 *   `http.IncomingMessage` prototype), so `app.handle`'s prototype swap changes nothing and every `req`
 *   helper works. It is not a stream: it is complete and never readable (`on-finished` sees it finished,
 *   body parsers see no body to read). Its socket reports the socket.io connection's address — the TCP
 *   peer of the WebSocket, or the address a trusted proxy forwarded at the handshake — and so does
 *   `req.ip` (no forwarding header reaches a virtual request), never a client-supplied header; one such
 *   socket per origin.
 *   `data` becomes `req.body` as is (no JSON round trip), with `content-type: application/json`.
 *   `req.isSocket` is `true`, `req.socket.id` the socket id.
 * - Headers: names lower-cased; only string (or finite number) values kept; values with CR/LF dropped;
 *   `x-forwarded-*`, `forwarded`, `x-real-ip`, `host`, `content-length`, `transfer-encoding`,
 *   `connection`, `upgrade`, `cookie`, `expect`, `te` and `content-type` are dropped; `host` is the
 *   WebSocket handshake's. `authorization` is kept.
 * - Size: `data` larger than `maxBodyBytes` (as JSON) is refused with 413 `PayloadTooLarge`, like an HTTP
 *   body over the JSON parser's limit.
 * - Response: an object built on the app's response prototype (`app.response`, an `http.ServerResponse`
 *   prototype) whose header methods, `writeHead`/`write`/`end`, `json` and `destroy` are own properties
 *   (they survive the prototype swap of `app.handle`; with a dispatch that `keepsPrototypes`, they sit
 *   on a prototype derived from the app's instead) and collect the reply instead of writing to a socket.
 *   Header names and values are validated as `http.OutgoingMessage` does (`validateHeaderName`,
 *   `validateHeaderValue`), and a header set after the reply started throws `ERR_HTTP_HEADERS_SENT`, as
 *   over HTTP. `finish` and `close` are emitted after `end`. The result is `{statusCode, headers, data}`:
 *   for `res.json(value)` the value itself (socket.io turns it into the same JSON HTTP would send,
 *   `toJSON` included, when it sends the ack — so a handler must not change a value after passing it to
 *   `res.json`; the app's `json replacer`/`json spaces` settings do not apply); otherwise the parsed
 *   JSON body when the content type is JSON, the text for `text/*`, a Buffer, `null` when empty — and
 *   `null` for `HEAD` and for 204 and 304 replies, which carry no body over HTTP either.
 *   `res.destroy()` before `end` answers 500 `InternalError` (the socket's slot is freed).
 * - Errors: the app's own error handler produces error replies; this module only rejects when the app
 *   itself throws synchronously, which the caller maps with the same error mapper as HTTP.
 *
 * Why objects on the app's prototypes rather than `new IncomingMessage()`/`new ServerResponse()`: the
 * stream machinery of real ones (readable and writable state, buffers, their garbage) cost about 70 µs per
 * request, four times all the rest of the chain; a virtual request has no bytes to stream.
 *
 * Why not light-my-request: Express replaces the prototypes of `req` and `res` with its own, which drops
 * light-my-request's overridden `write`/`end` and yields empty bodies (fastify/light-my-request#155; the
 * fix #333 was reverted). Own-property capture, below, survives that prototype swap.
 */

/** A checked virtual request. */
export interface VirtualRequestInput {
  method: string;
  url: string;
  data?: unknown;
  headers: Record<string, string>;
}

/** What the ack receives (declared with the wire protocol, lib/protocol.ts). */
export type { VirtualResponse };

/**
 * Where the virtual request comes from. Keep one object per connection and pass it to each of its requests:
 * the virtual socket (`req.socket`) is created once per origin object.
 */
export interface VirtualRequestOrigin {
  /** socket.io socket id, exposed as `req.socket.id`. */
  socketId: string;
  /** TCP peer address of the WebSocket connection. */
  remoteAddress: string;
  /** Host header of the WebSocket handshake. */
  host?: string;
  encrypted?: boolean;
  /** Own properties set on the request before the app runs (e.g. `isSocket`, `ioSocket`). */
  properties?: Record<string, unknown>;
}

/**
 * What virtual requests run through: the Express app itself, or the app's handler for virtual requests
 * (`buildExpressApp`'s `dispatch`, lib/expressApp.ts), called as `dispatch(req, res)`. Its `request` and
 * `response` are the app's prototypes, which virtual requests and responses are built on.
 */
export type Dispatch = ((req: IncomingMessage, res: ServerResponse) => void) &
  Pick<Express, 'request' | 'response'> & {
    /**
     * True when the dispatch leaves the prototypes of `req` and `res` as they are (`app.handle` sets the
     * app's, which would drop any other): the virtual response's methods then live on its prototype
     * rather than on each response.
     */
    keepsPrototypes?: boolean;
  };

export const allowedMethods = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** Headers a socket client may never set: addressing, framing and cookies belong to the connection. */
export const droppedHeaders = new Set([
  'forwarded',
  'x-real-ip',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'cookie',
  'expect',
  'te',
  'content-type',
]);

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const MAX_HEADERS = 50;
const MAX_URL = 2048;

/** Why a socket payload was refused (the transport answers 400 with this message). */
export class VirtualRequestError extends Error {}

/**
 * Checks a socket `request` payload and sanitises its headers.
 * @throws VirtualRequestError when the payload is not an object, or has no usable method or url.
 * @throws PayloadTooLargeError when `data` is larger than `limits.maxBodyBytes`.
 */
export function parseVirtualRequest(
  payload: unknown,
  limits: { maxBodyBytes?: number; maxDepth?: number } = {},
): VirtualRequestInput {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || Buffer.isBuffer(payload)) {
    throw new VirtualRequestError('A request must be an object {method, url, data?, headers?}');
  }
  const { method, url, data, headers } = payload as Record<string, unknown>;
  const verb = typeof method === 'string' ? method.toUpperCase() : '';
  if (!allowedMethods.has(verb))
    throw new VirtualRequestError('A request needs a method: GET, POST, PUT, PATCH or DELETE');
  if (typeof url !== 'string' || url.length > MAX_URL || !/^\/(?!\/)[^\s#]*$/.test(url)) {
    throw new VirtualRequestError('A request needs a url: an absolute path such as /user/5');
  }
  const clean: Record<string, string> = {};
  if (headers !== undefined && headers !== null) {
    if (typeof headers !== 'object' || Array.isArray(headers))
      throw new VirtualRequestError('headers must be an object');
    let count = 0;
    for (const [rawName, rawValue] of Object.entries(headers)) {
      if (++count > MAX_HEADERS) throw new VirtualRequestError('Too many headers');
      const name = rawName.toLowerCase();
      if (!headerName.test(name) || droppedHeaders.has(name) || name.startsWith('x-forwarded-')) continue;
      const value =
        typeof rawValue === 'string'
          ? rawValue
          : typeof rawValue === 'number' && Number.isFinite(rawValue)
            ? String(rawValue)
            : undefined;
      if (value === undefined || value.length > 8192 || /[\r\n\0]/.test(value)) continue;
      clean[name] = value;
    }
  }
  if (limits.maxDepth !== undefined && deeperThan(data, limits.maxDepth)) {
    throw new VirtualRequestError(`data is nested deeper than ${limits.maxDepth} levels`);
  }
  if (limits.maxBodyBytes !== undefined && data !== undefined && data !== null) {
    // Buffers count as their size; everything else as its JSON text, as HTTP would have carried it.
    const size = Buffer.isBuffer(data) ? data.length : Buffer.byteLength(JSON.stringify(data) ?? '');
    if (size > limits.maxBodyBytes) throw new PayloadTooLargeError('Request body too large');
  }
  return { method: verb, url, data, headers: clean };
}

/**
 * The stand-in for the TCP socket of a virtual request: an address, an id, and nothing to read or write.
 * One per origin (socket.io connection), shared by its requests.
 */
class VirtualSocket extends EventEmitter {
  declare readonly readable: false;
  declare readonly writable: false;
  declare readonly remotePort: 0;
  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    readonly encrypted: boolean,
  ) {
    super();
  }
  get remoteFamily(): string {
    return this.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
  }
  destroy(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
}

// the same for every virtual socket: on the prototype, not on each (one per connection)
// (writable, as own fields were: a library that sets one gets an own property rather than a TypeError)
Object.defineProperties(VirtualSocket.prototype, {
  readable: { value: false, writable: true },
  writable: { value: false, writable: true },
  remotePort: { value: 0, writable: true },
});

const virtualSockets = new WeakMap<VirtualRequestOrigin, VirtualSocket>();

function socketOf(origin: VirtualRequestOrigin): VirtualSocket {
  let socket = virtualSockets.get(origin);
  if (!socket) {
    socket = new VirtualSocket(origin.socketId, origin.remoteAddress, origin.encrypted ?? false);
    virtualSockets.set(origin, socket);
  }
  return socket;
}

function decodeBody(headers: OutgoingHttpHeaders, body: Buffer): unknown {
  if (body.length === 0) return null;
  const type = String(headers['content-type'] ?? '');
  if (/[/+]json\b/.test(type)) {
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      return body.toString('utf8');
    }
  }
  if (type.startsWith('text/')) return body.toString('utf8');
  return body;
}

type WriteCallback = (error?: Error | null) => void;
type HeaderValue = number | string | string[];

/**
 * A response's header store: no prototype (a header named `__proto__` or `constructor` is a header like any
 * other), yet with V8's fast properties. `Object.create(null)` makes a dictionary-mode object, which every
 * reply then pays for twice on its way out: socket.io-parser walks it for binary data, then
 * `JSON.stringify` takes its slow path (together about 0.3 µs per reply, measured in a loop).
 */
function emptyHeaders(): Record<string, HeaderValue> {
  return Object.setPrototypeOf({}, null) as Record<string, HeaderValue>;
}

/** What a virtual response collects; kept in one own property so the methods below can be shared. */
interface Capture {
  /**
   * Lower-cased name → value, without a prototype (as `getHeaders()` returns them: the names are sent
   * lower-cased); once the reply ends, this very object is its `headers`.
   */
  headers: Record<string, HeaderValue>;
  chunks: Buffer[];
  /** Whether `res.json(value)` was called, and the value. */
  hasJson: boolean;
  json: unknown;
  resolve: (response: VirtualResponse) => void;
}

/** A virtual response: Express's response prototype, with these own methods and fields. */
interface VirtualServerResponse extends ServerResponse {
  _capture: Capture;
  _header: string | null;
}

function collect(capture: Capture, chunk: unknown, encoding?: unknown): void {
  if (chunk === undefined || chunk === null) return;
  capture.chunks.push(
    Buffer.isBuffer(chunk)
      ? chunk
      : typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk as Uint8Array),
  );
}

/**
 * Header names already validated: the same few names are set on every response, and a name's validity
 * never changes. Bounded, so that handlers setting ever new names cannot grow it.
 */
const validHeaderNames = new Set<string>();
const MAX_VALID_NAMES = 256;
/**
 * The first valid value seen for each such name, not checked again when it comes back: most responses set
 * the same `Content-Type` (a value's validity never changes either). Never replaced, so a name whose values
 * all differ (`X-Request-Id`) costs one entry and no write per response.
 */
const firstValidValues = new Map<string, HeaderValue>();
/**
 * What Node's `validateHeaderValue` refuses in a string: anything but tab, visible ASCII, space and
 * obs-text (Node's rule, node:_http_common `checkInvalidHeaderChar`; `test/unit/virtualRequest.test.ts`
 * compares it with Node's own response for every character up to U+01FF).
 */
const invalidHeaderChar = /[^\t\x20-\x7e\x80-\xff]/;
/** Node's validator, typed as Node calls it: for any value (numbers and arrays pass, `undefined` throws). */
const validateAnyHeaderValue = validateHeaderValue as (name: string, value: unknown) => void;

// The header methods of `http.OutgoingMessage`, on the capture instead of a socket (same validation,
// same errors: a header set after the response started throws ERR_HTTP_HEADERS_SENT, as over HTTP).
function setHeader(this: VirtualServerResponse, name: string, value: HeaderValue): VirtualServerResponse {
  if (this._header)
    throw Object.assign(new Error('Cannot set headers after they are sent to the client'), {
      code: 'ERR_HTTP_HEADERS_SENT',
    });
  if (!validHeaderNames.has(name)) {
    validateHeaderName(name);
    if (validHeaderNames.size < MAX_VALID_NAMES) validHeaderNames.add(name);
  }
  // a string seen valid for this name, or of valid characters, passes Node's check as is; anything else —
  // `undefined` included, which a name without a kept value would otherwise match — gets Node's own check
  if (typeof value !== 'string') validateAnyHeaderValue(name, value);
  else if (firstValidValues.get(name) !== value) {
    if (invalidHeaderChar.test(value)) validateHeaderValue(name, value);
    if (validHeaderNames.has(name) && !firstValidValues.has(name)) firstValidValues.set(name, value);
  }
  this._capture.headers[name.toLowerCase()] = value;
  return this;
}
function appendHeader(this: VirtualServerResponse, name: string, value: HeaderValue): VirtualServerResponse {
  const current = this._capture.headers[name.toLowerCase()];
  if (current === undefined) return setHeader.call(this, name, value);
  return setHeader.call(this, name, [current, value].flat().map(String));
}
function getHeader(this: VirtualServerResponse, name: string): HeaderValue | undefined {
  return this._capture.headers[name.toLowerCase()];
}
function hasHeader(this: VirtualServerResponse, name: string): boolean {
  return this._capture.headers[name.toLowerCase()] !== undefined;
}
function removeHeader(this: VirtualServerResponse, name: string): void {
  if (this._header)
    throw Object.assign(new Error('Cannot remove headers after they are sent to the client'), {
      code: 'ERR_HTTP_HEADERS_SENT',
    });
  delete this._capture.headers[name.toLowerCase()];
}
function getHeaderNames(this: VirtualServerResponse): string[] {
  return Object.keys(this._capture.headers);
}
/** A copy, without a prototype, as Node's `getHeaders()`. */
function getHeaders(this: VirtualServerResponse): OutgoingHttpHeaders {
  return Object.assign(emptyHeaders(), this._capture.headers) as OutgoingHttpHeaders;
}
function writeHead(
  this: VirtualServerResponse,
  statusCode: number,
  ...rest: unknown[]
): VirtualServerResponse {
  this.statusCode = statusCode;
  const extra = rest.find((arg) => typeof arg === 'object' && arg !== null) as
    | OutgoingHttpHeaders
    | undefined;
  if (extra)
    for (const name of Object.keys(extra)) if (extra[name] !== undefined) this.setHeader(name, extra[name]);
  this._header = 'virtual';
  return this;
}
function flushHeaders(this: VirtualServerResponse): void {
  this._header = 'virtual';
}
function write(this: VirtualServerResponse, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
  this._header = 'virtual';
  collect(this._capture, chunk, encoding);
  const cb = (typeof encoding === 'function' ? encoding : callback) as WriteCallback | undefined;
  if (cb) process.nextTick(cb);
  return true;
}
function end(
  this: VirtualServerResponse,
  chunk?: unknown,
  encoding?: unknown,
  callback?: unknown,
): VirtualServerResponse {
  if (this.finished) return this;
  if (typeof chunk === 'function') callback = chunk;
  else collect(this._capture, chunk, encoding);
  if (typeof encoding === 'function') callback = encoding;
  this._header = 'virtual';
  this.finished = true;
  const capture = this._capture;
  // no copy: once the reply started, setting or removing a header throws
  const headers = capture.headers as OutgoingHttpHeaders;
  const status = this.statusCode;
  // as over HTTP, where Node sends no body for these (RFC 9110 §9.3.2, §15.3.5, §15.4.5)
  const bodiless = this.req.method === 'HEAD' || status === 204 || status === 304;
  capture.resolve({
    statusCode: status,
    headers,
    data: bodiless
      ? null
      : capture.hasJson
        ? capture.json
        : decodeBody(headers, Buffer.concat(capture.chunks)),
  });
  process.nextTick(emitFinish, this, callback);
  return this;
}
function emitFinish(res: VirtualServerResponse, callback: unknown): void {
  res.emit('prefinish');
  res.emit('finish');
  res.emit('close');
  if (typeof callback === 'function') (callback as WriteCallback)();
}
/**
 * `res.json(value)`: the ack carries the value itself. socket.io serializes it to JSON on the wire, so the
 * client receives what HTTP would have sent (`toJSON` included), without a stringify/parse round trip here.
 */
function json(this: VirtualServerResponse, value: unknown): VirtualServerResponse {
  if (!this.hasHeader('Content-Type')) this.setHeader('Content-Type', 'application/json; charset=utf-8');
  this._capture.hasJson = true;
  this._capture.json = value === undefined ? null : value;
  return this.end();
}
/** A destroyed response (a handler gave up on it) still answers: 500, so the socket's slot is freed. */
function destroy(this: VirtualServerResponse): VirtualServerResponse {
  if (this.finished) return this;
  const capture = this._capture;
  capture.headers = emptyHeaders();
  capture.chunks.length = 0;
  capture.hasJson = true;
  capture.json = { _error: { status: 500, code: 'InternalError', message: 'The response was aborted' } };
  this.statusCode = 500;
  return this.end();
}
/** `res.setTimeout`: a virtual response has no connection to time out. */
function ignoreTimeout(this: VirtualServerResponse): VirtualServerResponse {
  return this;
}

/** The methods of a virtual response: own properties of each, or of its prototype (see `keepsPrototypes`). */
const responseMethods = {
  setHeader,
  appendHeader,
  getHeader,
  hasHeader,
  removeHeader,
  getHeaderNames,
  getHeaders,
  writeHead,
  flushHeaders,
  write,
  end,
  json,
  destroy,
  setTimeout: ignoreTimeout,
};

type Fields = Record<string, unknown>;
interface Constructors {
  Request: new (input: VirtualRequestInput, origin: VirtualRequestOrigin) => IncomingMessage & Fields;
  Response: new (req: IncomingMessage, resolve: Capture['resolve']) => VirtualServerResponse;
}

/**
 * Constructors of virtual requests and responses whose instances have `prototypes` as their own prototypes
 * (so Express's prototype swap is a no-op), and declare up front every field Express and Flux set during
 * a request: all virtual requests share one object shape, which keeps the code that reads them fast.
 */
function constructorsFor(
  prototypes: { request: object; response: object },
  keepsPrototypes: boolean,
): Constructors {
  function VirtualRequest(this: Fields, input: VirtualRequestInput, origin: VirtualRequestOrigin) {
    this.method = input.method;
    this.url = input.url;
    this.originalUrl = input.url;
    this.httpVersion = '1.1';
    this.httpVersionMajor = 1;
    this.httpVersionMinor = 1;
    this.complete = true;
    this.socket = socketOf(origin);
    const headers: Record<string, string> = { ...input.headers };
    if (origin.host) headers.host = origin.host;
    const hasBody = input.data !== undefined && input.data !== null;
    if (hasBody) headers['content-type'] = 'application/json';
    this.headers = headers;
    this.rawHeaders = [];
    this.body = hasBody ? input.data : undefined;
    // set later by Express (router, app.handle) and by Flux: the fields of `FluxRequest` (lib/http.ts)
    this.res = undefined;
    this.next = undefined;
    this.baseUrl = '';
    this.params = undefined;
    this.route = undefined;
    this._parsedUrl = undefined;
    this.data = undefined;
    this.requestId = undefined;
    this.user = undefined;
    this.team = undefined;
    this.session = undefined;
    this.tenant = undefined;
    this.authExpiresAt = undefined;
    const properties = origin.properties;
    if (properties) for (const key in properties) this[key] = properties[key];
  }
  VirtualRequest.prototype = prototypes.request;

  function VirtualResponse(this: Fields, req: IncomingMessage, resolve: Capture['resolve']) {
    this.req = req;
    this.locals = undefined;
    this.statusCode = 200;
    this.statusMessage = '';
    this.finished = false;
    this.socket = null;
    this._header = null;
    this._capture = { headers: emptyHeaders(), chunks: [], hasJson: false, json: undefined, resolve };
    // Flux's reply helpers (extendRes) are the app's: on its response prototype, or set by extendRes
    if (keepsPrototypes) return;
    this.setHeader = setHeader;
    this.appendHeader = appendHeader;
    this.getHeader = getHeader;
    this.hasHeader = hasHeader;
    this.removeHeader = removeHeader;
    this.getHeaderNames = getHeaderNames;
    this.getHeaders = getHeaders;
    this.writeHead = writeHead;
    this.flushHeaders = flushHeaders;
    this.write = write;
    this.end = end;
    this.json = json;
    this.destroy = destroy;
    this.setTimeout = ignoreTimeout;
  }
  VirtualResponse.prototype = keepsPrototypes
    ? Object.create(prototypes.response, Object.getOwnPropertyDescriptors(responseMethods))
    : prototypes.response;
  return { Request: VirtualRequest, Response: VirtualResponse } as unknown as Constructors;
}

const constructorsByApp = new WeakMap<Dispatch, Constructors>();

/** The app of the latest lookup and its constructors: a server has one app (a WeakMap lookup less). */
let lastDispatch: Dispatch | undefined;
let lastConstructors: Constructors | undefined;

/** The constructors of virtual requests for the Express app `dispatch`, built once per app. */
function constructorsOf(dispatch: Dispatch): Constructors {
  if (dispatch === lastDispatch && lastConstructors) return lastConstructors;
  let constructors = constructorsByApp.get(dispatch);
  if (!constructors) {
    constructors = constructorsFor(
      { request: dispatch.request, response: dispatch.response },
      dispatch.keepsPrototypes === true,
    );
    constructorsByApp.set(dispatch, constructors);
  }
  lastDispatch = dispatch;
  lastConstructors = constructors;
  return constructors;
}

/**
 * Runs `input` through `dispatch` as a virtual request.
 * @returns the status, headers and decoded body the app sent.
 */
export function injectVirtualRequest(
  dispatch: Dispatch,
  input: VirtualRequestInput,
  origin: VirtualRequestOrigin,
): Promise<VirtualResponse> {
  return new Promise<VirtualResponse>((resolve, reject) => {
    runVirtualRequest(dispatch, input, origin, resolve, reject);
  });
}

/**
 * {@link injectVirtualRequest} with callbacks instead of a promise (the socket's request pump: one
 * promise and a microtask less per request): `resolve` with the reply, `reject` when the app throws
 * synchronously. Unlike a promise's, both may be called (a reply can still come after the throw): keep the
 * first.
 */
export function runVirtualRequest(
  dispatch: Dispatch,
  input: VirtualRequestInput,
  origin: VirtualRequestOrigin,
  resolve: (response: VirtualResponse) => void,
  reject: (err: unknown) => void,
): void {
  const { Request, Response } = constructorsOf(dispatch);
  const req = new Request(input, origin);
  const res = new Response(req, resolve);
  try {
    dispatch(req, res);
  } catch (err) {
    reject(err);
  }
}
