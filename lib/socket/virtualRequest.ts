import { EventEmitter } from 'node:events';
import { IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { PayloadTooLargeError } from '../errors.js';
import { deeperThan } from '../limits.js';

/**
 * Socket → Express injection: runs one socket.io `request` message through the Express app as a virtual
 * HTTP request and resolves with what HTTP would have sent (SPEC §8).
 *
 * Contract
 * - Input: `{method, url, data?, headers?}`, already checked by {@link parseVirtualRequest}; anything
 *   else is a 400 before the app is called.
 * - Request: a real `http.IncomingMessage` whose socket reports the socket.io connection's address, so
 *   `req.ip` is the TCP peer of the WebSocket (never a client-supplied header). `data` becomes `req.body`
 *   as is (no JSON round trip; the JSON body parser sees no `content-length` and leaves it), with
 *   `content-type: application/json`. `req.isSocket` is `true`, `req.socket.id` the socket id.
 * - Headers: names lower-cased; only string (or finite number) values kept; values with CR/LF dropped;
 *   `x-forwarded-*`, `forwarded`, `x-real-ip`, `host`, `content-length`, `transfer-encoding`,
 *   `connection`, `upgrade`, `cookie`, `expect`, `te` and `content-type` are dropped; `host` is the
 *   WebSocket handshake's. `authorization` is kept.
 * - Size: `data` larger than `maxBodyBytes` (as JSON) is refused with 413 `PayloadTooLarge`, like an HTTP
 *   body over the JSON parser's limit.
 * - Response: a real `http.ServerResponse` whose `write`/`end`/`writeHead` collect the body instead of
 *   writing to a socket. The result is `{statusCode, headers, data}`: for `res.json(value)` the value
 *   itself (socket.io turns it into the same JSON HTTP would send, `toJSON` included); otherwise the
 *   parsed JSON body when the content type is JSON, the text for `text/*`, a Buffer, `null` when empty.
 * - Errors: the app's own error handler produces error replies; this module only rejects when the app
 *   itself throws synchronously, which the caller maps with the same error mapper as HTTP.
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

/** What the ack receives. */
export interface VirtualResponse {
  statusCode: number;
  headers: OutgoingHttpHeaders;
  data: unknown;
}

/** Where the virtual request comes from. */
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

/** A request handler such as an Express app. */
export type Dispatch = (req: IncomingMessage, res: ServerResponse) => void;

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

/** The stand-in for the TCP socket of a virtual request: an address, an id, and nothing to read or write. */
class VirtualSocket extends EventEmitter {
  readonly readable = false;
  readonly writable = false;
  readonly remotePort = 0;
  readonly remoteFamily: string;
  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    readonly encrypted: boolean,
  ) {
    super();
    this.remoteFamily = remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
  }
  destroy(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
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
    const socket = new VirtualSocket(origin.socketId, origin.remoteAddress, origin.encrypted ?? false);
    const req = new IncomingMessage(socket as never);
    req.method = input.method;
    req.url = input.url;
    req.httpVersion = '1.1';
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    const headers: Record<string, string> = { ...input.headers };
    if (origin.host) headers.host = origin.host;
    const hasBody = input.data !== undefined && input.data !== null;
    if (hasBody) headers['content-type'] = 'application/json';
    req.headers = headers;
    if (hasBody) (req as IncomingMessage & { body?: unknown }).body = input.data;
    req.complete = true;
    req.push(null);
    if (origin.properties) Object.assign(req, origin.properties);

    const res = new ServerResponse(req);
    const chunks: Buffer[] = [];
    let headersSent = false;
    let ended = false;
    const collect = (chunk: unknown, encoding?: BufferEncoding): void => {
      if (chunk === undefined || chunk === null) return;
      chunks.push(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string | Uint8Array as string, encoding),
      );
    };
    // Own properties: Express swaps the prototype of `res`, own properties survive that.
    Object.defineProperties(res, {
      headersSent: { get: () => headersSent, configurable: true },
      writableEnded: { get: () => ended, configurable: true },
      finished: { get: () => ended, configurable: true },
    });
    // `res.json(value)`: the ack carries the value itself. socket.io serializes it to JSON on the wire, so
    // the client receives what HTTP would have sent, without a stringify/parse round trip here.
    let jsonValue: { value: unknown } | undefined;
    (res as ServerResponse & { json(value: unknown): ServerResponse }).json = function json(
      this: ServerResponse,
      value: unknown,
    ) {
      if (!this.hasHeader('Content-Type')) this.setHeader('Content-Type', 'application/json; charset=utf-8');
      jsonValue = { value: value === undefined ? null : value };
      return this.end();
    };
    res.writeHead = function writeHead(this: ServerResponse, statusCode: number, ...rest: unknown[]) {
      this.statusCode = statusCode;
      const extra = rest.find((arg) => typeof arg === 'object' && arg !== null) as
        | OutgoingHttpHeaders
        | undefined;
      if (extra)
        for (const [name, value] of Object.entries(extra))
          if (value !== undefined) this.setHeader(name, value);
      headersSent = true;
      return this;
    } as ServerResponse['writeHead'];
    res.write = function write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      headersSent = true;
      collect(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
      const cb = (typeof encoding === 'function' ? encoding : callback) as WriteCallback | undefined;
      if (cb) process.nextTick(cb);
      return true;
    } as ServerResponse['write'];
    res.end = function end(this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) {
      if (ended) return this;
      if (typeof chunk === 'function') callback = chunk;
      else collect(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
      if (typeof encoding === 'function') callback = encoding;
      headersSent = true;
      ended = true;
      const responseHeaders = this.getHeaders();
      resolve({
        statusCode: this.statusCode,
        headers: responseHeaders,
        data: jsonValue ? jsonValue.value : decodeBody(responseHeaders, Buffer.concat(chunks)),
      });
      process.nextTick(() => {
        this.emit('prefinish');
        this.emit('finish');
        this.emit('close');
        if (typeof callback === 'function') (callback as WriteCallback)();
      });
      return this;
    } as ServerResponse['end'];

    try {
      dispatch(req, res);
    } catch (err) {
      reject(err);
    }
  });
}
