import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventStreams, type EventStreamsOptions, type StreamAuth, sseFrame } from '../../lib/eventStreams.js';
import type { FluxModelClass } from '../../lib/FluxModel.js';
import { type Bus, PubSub } from '../../lib/pubsub.js';

/**
 * The event streams of one instance (lib/eventStreams.ts) on fake responses: deliveries and transitions
 * as PubSub gives them to sockets, the revocation memory, expiry, the slow-client bound, shutdown.
 */

const bus: Bus = { publish: () => {}, subscribe: () => {}, close: async () => {} };

interface FakeResponse {
  res: ServerResponse;
  /** Everything written, in order. */
  text(): string;
  /** The dispatched events, as [event, data] pairs. */
  events(): Array<[string, unknown]>;
  ended(): boolean;
  destroyed(): boolean;
  /** The client goes away. */
  disconnect(): void;
  setBuffered(bytes: number): void;
}

function fakeResponse({ gone = false } = {}): FakeResponse {
  const emitter = new EventEmitter();
  let written = '';
  let ended = false;
  let destroyed = false;
  let buffered = 0;
  const close = () => emitter.emit('close');
  // getters stay live (Object.assign would copy their values once)
  const res = Object.defineProperties(emitter, {
    destroyed: { get: () => destroyed },
    writableLength: { get: () => buffered },
  }) as EventEmitter & Record<string, unknown>;
  Object.assign(res, {
    socket: gone ? null : { destroyed: false, setNoDelay: () => {} },
    writeHead: (status: number) => {
      written += `HTTP ${status}\n`;
      return res;
    },
    write: (text: string) => {
      written += text;
      return true;
    },
    end: () => {
      ended = true;
      close();
    },
    destroy: () => {
      destroyed = true;
      close();
    },
  });
  return {
    res: res as unknown as ServerResponse,
    text: () => written,
    events: () =>
      [...written.matchAll(/event: (.+)\ndata: (.*)\n\n/g)].map(([, event, data]) => [
        event,
        JSON.parse(data),
      ]),
    ended: () => ended,
    destroyed: () => destroyed,
    disconnect: close,
    setBuffered: (bytes) => {
      buffered = bytes;
    },
  };
}

function setup(options: Partial<EventStreamsOptions> = {}) {
  const pubsub = new PubSub(new Server(), bus);
  const warnings: string[] = [];
  const streams = new EventStreams({
    pubsub,
    log: { warn: (...args: unknown[]) => warnings.push(String(args[0])) },
    heartbeatMs: 1000,
    maxStreamsPerUser: 0,
    models: new Map<string, FluxModelClass>(),
    ...options,
  });
  const open = (auth: StreamAuth, groups: string[], model = 'user') => {
    const fake = fakeResponse();
    streams.open(fake.res, auth, [{ model, groups }]);
    return fake;
  };
  return { pubsub, streams, open, warnings };
}

const auth = (sessionId: number, userId = sessionId): StreamAuth => ({ sessionId, userId, tenantId: 1 });

afterEach(() => {
  vi.useRealTimers();
});

describe('EventStreams: deliveries', () => {
  it('When a stream opens, then it gets the headers, then ready, once in its rooms', () => {
    const { streams, pubsub, open } = setup();
    const fake = open(auth(1), ['team:2']);
    expect(fake.text()).toBe('HTTP 200\nevent: ready\ndata: {"heartbeatMs":1000}\n\n');
    expect(streams.size).toBe(1);
    expect(pubsub.streamsInRooms).toBe(1);
  });

  it('When an item moves between read groups, then each stream gets the transition it sees, once, with the state it could read', () => {
    const { pubsub, open } = setup();
    const from = open(auth(1), ['team:2']);
    const to = open(auth(2), ['team:3']);
    const both = open(auth(3), ['team:2', 'team:3', 'all']);
    const neither = open(auth(4), ['team:4']);
    pubsub.deliver({
      tenantId: 1,
      model: 'user',
      verb: 'updated',
      id: 7,
      data: { id: 7, teamId: 3 },
      dataBefore: { id: 7, teamId: 2 },
      groupsBefore: ['all', 'team:2'],
      groupsAfter: ['all', 'team:3'],
    });
    expect(from.events().slice(1)).toEqual([
      ['model:user', { verb: 'destroyed', id: 7, data: { id: 7, teamId: 2 } }],
    ]);
    expect(to.events().slice(1)).toEqual([
      ['model:user', { verb: 'created', id: 7, data: { id: 7, teamId: 3 } }],
    ]);
    expect(both.events().slice(1)).toEqual([
      ['model:user', { verb: 'updated', id: 7, data: { id: 7, teamId: 3 } }],
    ]);
    expect(neither.events().slice(1)).toEqual([]);
  });

  it('When a change is in several rooms of a stream, then it is sent once; another tenant or model sends nothing', () => {
    const { pubsub, open } = setup();
    const fake = open(auth(1), ['all', 'team:2']);
    pubsub.deliver({
      tenantId: 1,
      model: 'user',
      verb: 'created',
      id: 1,
      data: {},
      groupsAfter: ['all', 'team:2'],
    });
    pubsub.deliver({ tenantId: 2, model: 'user', verb: 'created', id: 2, data: {}, groupsAfter: ['all'] });
    pubsub.deliver({ tenantId: 1, model: 'team', verb: 'created', id: 3, data: {}, groupsAfter: ['all'] });
    expect(fake.events().slice(1)).toEqual([['model:user', { verb: 'created', id: 1, data: {} }]]);
  });

  it('When the groups of its user change, then the stream is resubscribed and told subscription:refresh', () => {
    const { pubsub, streams, open } = setup();
    const fake = open(auth(1, 9), ['team:2']);
    const [stream] = streams.streamsOfUser(9);
    expect(pubsub.resubscribe(stream, 1, () => ['team:3'])).toEqual(['user']);
    pubsub.deliver({ tenantId: 1, model: 'user', verb: 'created', id: 1, data: {}, groupsAfter: ['team:2'] });
    pubsub.deliver({ tenantId: 1, model: 'user', verb: 'created', id: 2, data: {}, groupsAfter: ['team:3'] });
    expect(fake.events().slice(1)).toEqual([
      ['subscription:refresh', { models: ['user'] }],
      ['model:user', { verb: 'created', id: 2, data: {} }],
    ]);
  });

  it('When the client disconnects, then the stream leaves its rooms and gives its place back', () => {
    const { streams, pubsub, open } = setup({ maxStreamsPerUser: 1 });
    const fake = open(auth(1), ['all']);
    expect(() => open(auth(2, 1), ['all'])).toThrow(/At most 1 event streams/);
    fake.disconnect();
    expect(streams.size).toBe(0);
    expect(pubsub.streamsInRooms).toBe(0);
    expect(streams.streamsOfUser(1)).toEqual([]);
    open(auth(2, 1), ['all']);
    expect(streams.size).toBe(1);
  });

  it('When the client was gone before the stream opened, then nothing is kept', () => {
    const { streams, pubsub } = setup();
    const fake = fakeResponse({ gone: true });
    expect(streams.open(fake.res, auth(1), [{ model: 'user', groups: ['all'] }])).toBeUndefined();
    expect(streams.size).toBe(0);
    expect(pubsub.streamsInRooms).toBe(0);
  });
});

describe('EventStreams: ends', () => {
  it('When a session is revoked, then its streams end with auth:revoked, and a stream of it authenticated before cannot open after', () => {
    vi.useFakeTimers();
    const { streams, open } = setup();
    const fake = open(auth(1), ['all']);
    const other = open(auth(2), ['all']);
    expect(streams.endSession(1, 'revoked')).toBe(1);
    expect(fake.events().at(-1)).toEqual(['auth:revoked', { reason: 'revoked' }]);
    expect(fake.ended()).toBe(true);
    expect(other.ended()).toBe(false);
    expect(() => open(auth(1), ['all'])).toThrow(
      expect.objectContaining({ status: 403, code: 'TokenRevoked' }),
    );
    // an expiry is no revocation
    expect(streams.endSession(2, 'expired')).toBe(1);
    expect(other.events().at(-1)).toEqual(['auth:expired', { reason: 'expired' }]);
    open(auth(2), ['all']);
    // the memory passes
    vi.advanceTimersByTime(10 * 60_000);
    open(auth(1), ['all']);
    expect(streams.size).toBe(2);
  });

  it('When the token expires, then the stream ends with auth:expired at that moment; a ping comes every heartbeat before', () => {
    vi.useFakeTimers();
    const { streams, open } = setup({ heartbeatMs: 400 });
    const fake = open({ ...auth(1), expiresAt: Date.now() + 1000 }, ['all']);
    vi.advanceTimersByTime(999);
    expect(fake.text().match(/: ping\n\n/g)).toHaveLength(2);
    expect(fake.ended()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(fake.events().at(-1)).toEqual(['auth:expired', { reason: 'expired' }]);
    expect(fake.ended()).toBe(true);
    expect(streams.size).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(fake.text().match(/: ping\n\n/g)).toHaveLength(2);
  });

  it('When a client does not read, then its stream is cut off once its buffer passes the bound', () => {
    const { streams, pubsub, open, warnings } = setup({ maxBufferedBytes: 100 });
    const fake = open(auth(1), ['all']);
    fake.setBuffered(101);
    pubsub.deliver({ tenantId: 1, model: 'user', verb: 'created', id: 1, data: {}, groupsAfter: ['all'] });
    expect(fake.destroyed()).toBe(true);
    expect(fake.events()).toHaveLength(1); // ready only
    expect(streams.size).toBe(0);
    expect(warnings[0]).toMatch(/over 100 bytes unsent/);
  });

  it('When the server stops, then every stream ends with server:shutdown and new ones are refused with 503', () => {
    const { streams, open } = setup();
    const fakes = [open(auth(1), ['all']), open(auth(2), ['all'])];
    expect(streams.closeAll()).toBe(2);
    for (const fake of fakes) {
      expect(fake.events().at(-1)).toEqual(['server:shutdown', { reason: 'Server shutting down' }]);
      expect(fake.ended()).toBe(true);
    }
    expect(() => open(auth(3), ['all'])).toThrow(
      expect.objectContaining({ status: 503, code: 'ShuttingDown' }),
    );
  });
});

describe('sseFrame', () => {
  it('writes one data line per line, then the blank line', () => {
    expect(sseFrame('model:user', '{"a":1}')).toBe('event: model:user\ndata: {"a":1}\n\n');
    expect(sseFrame('x', 'a\nb\r\nc')).toBe('event: x\ndata: a\ndata: b\ndata: c\n\n');
  });
});
