import { describe, expect, it } from 'vitest';
import {
  type EventStreamOptions,
  openEventStream,
  type SseEvent,
  SseParser,
} from '../../client/src/eventStream.js';
import type { FluxError } from '../../client/src/FluxError.js';

/**
 * The client's Server-Sent Events reader (client/src/eventStream.ts): the parser on the format's corner
 * cases, however the text is cut into chunks, and `openEventStream` on a fake `fetch`.
 */

function parse(chunks: string[]): { events: SseEvent[]; comments: string[]; retries: number[] } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = new SseParser({
    onEvent: (event) => events.push(event),
    onComment: (text) => comments.push(text),
    onRetry: (ms) => retries.push(ms),
  });
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return { events, comments, retries };
}

/** Every way of cutting `text` in two, and one character at a time. */
function cuts(text: string): string[][] {
  const all: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) all.push([text.slice(0, i), text.slice(i)]);
  return all;
}

const stream =
  ': ping\r\n' +
  'event: model:alert\r\n' +
  'data: {"verb":"created",\r\n' +
  'data: "id":1}\r\n' +
  '\r\n' +
  ':no space comment\n' +
  'retry: 3000\r' +
  'event: ready\r' +
  'data: {}\r' +
  '\r' +
  'data:first\n' +
  'data\n' +
  'id: 42\n' +
  'unknown: ignored\n' +
  '\n' +
  'event: no-data\n' +
  '\n' +
  'event: cut off\n' +
  'data: never dispatched';

const expected = {
  events: [
    { event: 'model:alert', data: '{"verb":"created",\n"id":1}', lastEventId: '' },
    { event: 'ready', data: '{}', lastEventId: '' },
    { event: 'message', data: 'first\n', lastEventId: '42' },
  ],
  comments: ['ping', 'no space comment'],
  retries: [3000],
};

describe('SseParser', () => {
  it('parses CRLF, CR and LF line ends, multi-line data, comments, retry and id, and drops an event cut off by the end', () => {
    expect(parse([stream])).toEqual(expected);
  });

  it('gives the same result however the text is cut into chunks, in the middle of a line or of a CRLF', () => {
    for (const chunks of cuts(stream)) expect(parse(chunks), JSON.stringify(chunks)).toEqual(expected);
  });

  it('does not take an LF after a CR that ended the previous chunk for a blank line', () => {
    const { events } = parse(['data: a\r', '\ndata: b\r', '\n\r', '\n']);
    expect(events).toEqual([{ event: 'message', data: 'a\nb', lastEventId: '' }]);
  });

  it('ignores a leading byte order mark and keeps spaces after the first one', () => {
    const { events } = parse(['\ufeffdata:  two spaces\n\n']);
    expect(events).toEqual([{ event: 'message', data: ' two spaces', lastEventId: '' }]);
  });
});

/** A `fetch` answering one response whose body is `chunks`, as bytes (UTF-8 split anywhere). */
function fakeFetch(status: number, chunks: string[], requests: Array<{ url: string; init: RequestInit }>) {
  return (async (url: string, init: RequestInit) => {
    requests.push({ url, init });
    const bytes = chunks.map((chunk) => new TextEncoder().encode(chunk));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of bytes) controller.enqueue(part);
        controller.close();
      },
    });
    return new Response(body, {
      status,
      headers: { 'content-type': status === 200 ? 'text/event-stream' : 'application/json' },
    });
  }) as unknown as typeof fetch;
}

/** A stream opened on `fetch` (a fake): the events it hands over, when it was ready, and how it ended. */
function openWith(fetch: typeof globalThis.fetch, options: Partial<EventStreamOptions> = {}) {
  const events: Array<[string, unknown]> = [];
  let readyAt = -1;
  const ended = new Promise<FluxError | undefined>((resolve) => {
    openEventStream({
      url: 'https://flux.example.com/',
      token: 'a.b.c',
      models: ['alert', 'message'],
      onEvent: (name, payload) => events.push([name, payload]),
      onReady: () => {
        readyAt = events.length;
      },
      onEnd: resolve,
      fetch,
      ...options,
    });
  });
  return { events, ended, readyAt: () => readyAt };
}

/** A stream opened on a fake server answering `status` and `chunks`; `requests` records what it asked. */
function open(status: number, chunks: string[]) {
  const requests: Array<{ url: string; init: RequestInit }> = [];
  return { requests, ...openWith(fakeFetch(status, chunks, requests)) };
}

describe('openEventStream', () => {
  it('requests /events with the token and the models, calls onReady, hands each event with its JSON parsed, and onEnd() when the server ends', async () => {
    const body =
      'event: ready\ndata: {}\n\n: ping\n\nevent: model:alert\ndata: {"verb":"created","id":1,"data":{"title":"Bière"}}\n\nevent: auth:revoked\ndata: {"reason":"revoked"}\n\n';
    const s = open(200, [body.slice(0, 30), body.slice(30)]); // cut in the middle of the ping
    expect(await s.ended).toBeUndefined();
    expect(s.requests[0].url).toBe('https://flux.example.com/events?models=alert%2Cmessage');
    expect((s.requests[0].init.headers as Record<string, string>).authorization).toBe('Bearer a.b.c');
    expect(s.readyAt()).toBe(0);
    expect(s.events).toEqual([
      ['model:alert', { verb: 'created', id: 1, data: { title: 'Bière' } }],
      ['auth:revoked', { reason: 'revoked' }],
    ]);
  });

  it('decodes UTF-8 characters split between two chunks of bytes', async () => {
    const body = new TextEncoder().encode('event: model:x\ndata: "Bière"\n\n');
    const cut = 22; // inside "è"
    const fetchBytes = (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(body.slice(0, cut));
            controller.enqueue(body.slice(cut));
            controller.close();
          },
        }),
        { status: 200 },
      )) as unknown as typeof fetch;
    const s = openWith(fetchBytes);
    await s.ended;
    expect(s.events.map(([, payload]) => payload)).toEqual(['Bière']);
  });

  it('ends with the FluxError of the reply when the stream is refused', async () => {
    const s = open(429, [
      '{"_error":{"status":429,"code":"TooManyRequests","message":"At most 10 event streams"}}',
    ]);
    const error = await s.ended;
    expect([error?.status, error?.code, error?.message]).toEqual([
      429,
      'TooManyRequests',
      'At most 10 event streams',
    ]);
    expect(s.events).toEqual([]);
  });

  it('ends with a NetworkError when fetch fails, and not at all once closed', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    const error = await openWith(failing).ended;
    expect([error?.status, error?.code]).toEqual([0, 'NetworkError']);

    let ends = 0;
    const never = ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) =>
        init.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      )) as unknown as typeof fetch;
    const handle = openEventStream({
      url: 'http://x',
      token: 't',
      models: ['x'],
      onEvent: () => {},
      onEnd: () => ends++,
      fetch: never,
    });
    handle.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(ends).toBe(0);
  });

  it('ends with a Timeout when nothing arrives for idleTimeoutMs', async () => {
    const silent = ((_url: string, init: RequestInit) =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('event: ready\ndata: {}\n\n'));
              init.signal?.addEventListener('abort', () => controller.error(new Error('aborted')));
            },
          }),
          { status: 200 },
        ),
      )) as unknown as typeof fetch;
    const s = openWith(silent, { idleTimeoutMs: 50 });
    const error = await s.ended;
    expect(s.readyAt()).toBe(0);
    expect([error?.status, error?.code]).toEqual([0, 'Timeout']);
  });
});

describe('SseParser and openEventStream against a server that sends too much', () => {
  it('parses in time proportional to the text: a burst of events in one chunk, and a long line in many chunks', () => {
    const event = `event: model:alert\ndata: ${JSON.stringify({ verb: 'updated', id: 1, data: { title: 'x'.repeat(100) } })}\n\n`;
    let events = 0;
    const burst = new SseParser({ onEvent: () => events++ });
    let started = performance.now();
    burst.push(event.repeat(16_000)); // 2.7 MB at once, as a client that was busy reads it
    const burstMs = performance.now() - started;
    expect(events).toBe(16_000);

    let length = 0;
    const long = new SseParser({ onEvent: (e) => (length = e.data.length) });
    const piece = 'y'.repeat(16 * 1024);
    started = performance.now();
    long.push('data: ');
    for (let i = 0; i < 512; i++) long.push(piece); // one 8 MiB line in 16 KiB chunks
    long.push('\n\n');
    const longMs = performance.now() - started;
    expect(length).toBe(8 * 1024 * 1024);
    // linear: a few ms each (quadratic, it was 0.7 s and 1.4 s)
    expect(burstMs).toBeLessThan(250);
    expect(longMs).toBeLessThan(250);
  });

  it('throws a RangeError for an event longer than its bound, its lines or a line without end alike', () => {
    const parser = new SseParser({ onEvent: () => {} }, 100);
    parser.push(`data: ${'a'.repeat(60)}\n`);
    expect(() => parser.push(`data: ${'b'.repeat(60)}\n`)).toThrow(RangeError);
    const line = new SseParser({ onEvent: () => {} }, 100);
    line.push('x'.repeat(60));
    expect(() => line.push('x'.repeat(60))).toThrow(RangeError);
    // within the bound, events of any number pass
    let events = 0;
    const fine = new SseParser({ onEvent: () => events++ }, 100);
    for (let i = 0; i < 1000; i++) fine.push(`data: ${'c'.repeat(80)}\n\n`);
    expect(events).toBe(1000);
  });

  it('ends with a NetworkError, rather than buffer without bound, when the server sends text without line ends', async () => {
    let sent = 0;
    const garbage = ((_url: string, init: RequestInit) =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              // 64 KiB of text without a line end, for as long as it is read (up to 64 MiB)
              if (init.signal?.aborted || sent >= 64 * 1024 * 1024) controller.close();
              else {
                controller.enqueue(new TextEncoder().encode('x'.repeat(64 * 1024)));
                sent += 64 * 1024;
              }
            },
          }),
          { status: 200, headers: { 'content-type': 'text/event-stream' } },
        ),
      )) as unknown as typeof fetch;
    const error = await openWith(garbage).ended;
    expect([error?.status, error?.code]).toEqual([0, 'NetworkError']);
    expect(sent).toBeLessThan(20 * 1024 * 1024);
  });
});
