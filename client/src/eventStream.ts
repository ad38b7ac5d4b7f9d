import { FluxError } from './FluxError.js';

/**
 * Server-Sent Events from Flux's `GET /events` (docs/protocol.md §8), for clients that only listen. Uses
 * `fetch` and a streaming body reader — Node 20 has no `EventSource`, and `EventSource` cannot send an
 * `Authorization` header anyway — so it runs in browsers, workers and Node alike. No Node import.
 */

/** One dispatched Server-Sent Event: its `event` name (`message` when unnamed) and its `data` text. */
export interface SseEvent {
  event: string;
  data: string;
  /** The last `id:` seen in the stream (Flux sends none). */
  lastEventId: string;
}

/** What {@link SseParser} reports. */
export interface SseHandlers {
  onEvent(event: SseEvent): void;
  /** A comment line (`: ping`), without its colon and the one space after it. */
  onComment?(text: string): void;
  /** A `retry:` field: the reconnection time the server asks for, ms. */
  onRetry?(ms: number): void;
}

/**
 * Default of {@link SseParser}'s `maxEventLength`: characters one event may hold, its lines together
 * (16 Mi; a Flux event holds one item).
 */
export const MAX_EVENT_LENGTH = 16 * 1024 * 1024;

/**
 * An incremental parser of the `text/event-stream` format
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation): feed it
 * decoded text in chunks of any size — a chunk may end in the middle of a line, or between the CR and the
 * LF of a CRLF — and it reports each event when its blank line arrives. Lines end with CRLF, LF or CR;
 * `data:` lines of one event are joined with LF; one space after the colon is dropped; a leading BOM is
 * ignored; fields other than `event`, `data`, `id` and `retry` are ignored; an event without `data` is not
 * dispatched; an event left incomplete at the end of the stream is discarded (as the standard says).
 * Parsing takes time in proportion to the text, however it is cut; an event (or a line) longer than
 * `maxEventLength` characters — a server sending anything but events — makes `push` throw a RangeError
 * rather than hold it in memory without bound.
 */
export class SseParser {
  /** The line being read, in the pieces it came in (none holds a line end). */
  private partial: string[] = [];
  /** Characters in {@link partial}. */
  private partialLength = 0;
  /** The previous chunk ended with CR: an LF starting the next one belongs to that line end. */
  private afterCR = false;
  private started = false;
  private eventType = '';
  private data: string[] = [];
  /** Characters in {@link data}. */
  private dataLength = 0;
  private lastEventId = '';

  constructor(
    private readonly handlers: SseHandlers,
    private readonly maxEventLength = MAX_EVENT_LENGTH,
  ) {}

  /**
   * Parses the next chunk of decoded text.
   * @throws RangeError when the event being read grows past `maxEventLength` characters
   */
  push(chunk: string): void {
    if (chunk === '') return;
    let text = chunk;
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.afterCR && text.startsWith('\n')) text = text.slice(1);
    this.afterCR = false;
    // the pieces of the line being read hold no line end: only the new text is searched, once
    const lineEnd = /[\r\n]/g; // CR or LF (a CRLF is a CR, then an LF)
    let start = 0;
    for (let match = lineEnd.exec(text); match; match = lineEnd.exec(text)) {
      const end = match.index;
      let line = text.slice(start, end);
      if (this.partial.length) {
        line = this.partial.join('') + line;
        this.partial = [];
        this.partialLength = 0;
      }
      if (text[end] === '\r') {
        if (end + 1 === text.length) {
          // maybe the first half of a CRLF split across chunks
          this.afterCR = true;
          start = end + 1;
          this.line(line);
          break;
        }
        start = text[end + 1] === '\n' ? end + 2 : end + 1;
      } else start = end + 1;
      lineEnd.lastIndex = start;
      this.line(line);
    }
    if (start < text.length) {
      this.partial.push(text.slice(start));
      this.partialLength += text.length - start;
    }
    if (this.partialLength + this.dataLength > this.maxEventLength) {
      this.end();
      throw new RangeError(`An event of the stream is longer than ${this.maxEventLength} characters`);
    }
  }

  /** The end of the stream: an event still incomplete is discarded. */
  end(): void {
    this.partial = [];
    this.partialLength = 0;
    this.afterCR = false;
    this.eventType = '';
    this.data = [];
    this.dataLength = 0;
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) {
      const text = line.slice(1);
      this.handlers.onComment?.(text.startsWith(' ') ? text.slice(1) : text);
      return;
    }
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        this.dataLength += value.length + 1;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.handlers.onRetry?.(Number(value));
        break;
    }
  }

  private dispatch(): void {
    const { eventType, data } = this;
    this.eventType = '';
    this.data = [];
    this.dataLength = 0;
    if (data.length === 0) return;
    this.handlers.onEvent({
      event: eventType || 'message',
      data: data.join('\n'),
      lastEventId: this.lastEventId,
    });
  }
}

/** Options of {@link openEventStream}. */
export interface EventStreamOptions {
  /** The server's base URL, e.g. `https://flux.example.com` (`/events` is appended). */
  url: string;
  /** The JWT of the session (`Authorization: Bearer <token>`). */
  token: string;
  /** The models to stream, by public name (`['alert', 'message']`); at least one. */
  models: readonly string[];
  /**
   * Every event but `ready`, with its JSON payload parsed: `model:<name>` `{verb, id, data}`,
   * `subscription:refresh` `{models}` (find those models again), and the last one when the server ends
   * the stream: `auth:revoked` / `auth:expired` `{reason}`, `server:shutdown` `{reason}`.
   */
  onEvent(name: string, payload: unknown): void;
  /**
   * The stream is in its rooms: `find` now, and apply the events received from here on. `info` is the
   * `ready` payload: `{heartbeatMs}`, the server's interval between `: ping` comments.
   */
  onReady?(info: unknown): void;
  /**
   * The stream is over, once, unless {@link EventStreamHandle.close} ended it first. Without `error` the
   * server ended it (its last event said why; none: a restart, a proxy — reconnect). With a
   * {@link FluxError}: refused before it started (`status` ≥ 400 with the server's `code`: 401, 403
   * `TokenRevoked`…, 400, 429), or lost (`status` 0: `NetworkError`, `Timeout`; `NetworkError` too for a
   * reply that is no event stream: an event or line longer than {@link MAX_EVENT_LENGTH} characters).
   */
  onEnd?(error?: FluxError): void;
  /**
   * Ends the stream with a `Timeout` error when nothing at all (not even a `: ping`) arrives for this long,
   * ms: a connection that died silently. Set it above the server's heartbeat (15 s by default), e.g.
   * 45000. 0 or unset: never.
   */
  idleTimeoutMs?: number;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

/** An open event stream. */
export interface EventStreamHandle {
  /** Closes the stream (aborts the request); `onEnd` is not called. Idempotent. */
  close(): void;
}

/**
 * Opens `GET <url>/events?models=…` with the token and reports its events as they arrive. Never throws:
 * every failure reaches `onEnd`. Does not reconnect by itself: after `onEnd`, open a new stream (with a
 * fresh token if the session ended) and `find` again once `onReady` is called.
 *
 * @example
 * const stream = openEventStream({
 *   url: 'https://flux.example.com',
 *   token,
 *   models: ['alert'],
 *   onReady: () => void reload(),
 *   onEvent: (name, payload) => name === 'model:alert' && apply(payload as ModelEventPayload),
 *   onEnd: (error) => console.log('stream over', error?.code),
 * });
 */
export function openEventStream(options: EventStreamOptions): EventStreamHandle {
  const controller = new AbortController();
  let finished = false;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const finish = (error?: FluxError) => {
    if (finished) return;
    finished = true;
    clearTimeout(idleTimer);
    controller.abort();
    options.onEnd?.(error);
  };
  const touch = () => {
    if (!options.idleTimeoutMs || finished) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(
      () => finish(new FluxError(0, 'Timeout', `No data for ${options.idleTimeoutMs} ms`)),
      options.idleTimeoutMs,
    );
  };
  const parser = new SseParser({
    onEvent: ({ event, data }) => {
      if (finished) return;
      let payload: unknown = data;
      try {
        payload = JSON.parse(data);
      } catch {
        // not JSON: handed over as text
      }
      if (event === 'ready') options.onReady?.(payload);
      else options.onEvent(event, payload);
    },
  });

  const run = async () => {
    const doFetch = options.fetch ?? fetch;
    const query = encodeURIComponent(options.models.join(','));
    touch();
    const response = await doFetch(`${options.url.replace(/\/+$/, '')}/events?models=${query}`, {
      headers: { authorization: `Bearer ${options.token}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // a proxy's page: FluxError.fromReply keeps the text
      }
      finish(FluxError.fromReply(response.status, body));
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (finished) return;
      touch();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
    finish();
  };
  run().catch((err: unknown) => {
    if (!finished) finish(new FluxError(0, 'NetworkError', (err as Error)?.message ?? String(err)));
  });
  return {
    close() {
      finished = true;
      clearTimeout(idleTimer);
      controller.abort();
    },
  };
}
