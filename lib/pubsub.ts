import { EventEmitter } from 'node:events';
import type { Group } from './permissions.js';
import type { BusTopics, ModelChange, ModelEventPayload, Verb } from './protocol.js';
import type { FluxServer, FluxSocket } from './socket/types.js';

export type { BusTopics, ModelChange, ModelEventPayload, Verb } from './protocol.js';

/**
 * Publish/subscribe of model changes (docs/reference.md#events).
 *
 * - `subscribe` joins a subscriber to one room per user read group: `<tenant>:model:<model>:<group>`. A
 *   subscriber is a socket.io socket, or a {@link StreamSubscriber} (a Server-Sent Events stream,
 *   lib/eventStreams.ts) whose rooms PubSub keeps in a registry of its own.
 * - Every committed write is published once, from the model hooks (see `modelHooks.ts`), as a
 *   {@link ModelChange} on a {@link Bus}; every instance delivers it to its own subscribers.
 * - Delivery addresses rooms, never iterates sockets, unless the item's read groups changed: then the
 *   members of the before/after rooms are split into those that lose the item (`destroyed`), gain it
 *   (`created`) or keep it (`updated`). Each subscriber gets each change at most once. Streams get exactly
 *   what a socket in the same rooms gets, split by the same rule ({@link splitTransitions}).
 */

/** A topic name of `Topics` (the keys of a topic → message map such as {@link BusTopics}). */
export type Topic<Topics> = keyof Topics & string;

/**
 * Carries messages to every instance, this one included: committed model changes (`model:change`) and
 * the application's own topics (e.g. a revoked session), each topic with its message type in `Topics`
 * (default {@link BusTopics}). In-process by default; Redis when several instances run (`lib/redis.ts`).
 * Delivery is asynchronous, in publish order per topic.
 */
export interface Bus<Topics = BusTopics> {
  publish<T extends Topic<Topics>>(topic: T, message: Topics[T]): Promise<void> | void;
  subscribe<T extends Topic<Topics>>(topic: T, handler: (message: Topics[T]) => void): void;
  close(): Promise<void>;
}

/** The bus of a single instance: delivery happens in this process, on the next tick. */
export class LocalBus<Topics = BusTopics> implements Bus<Topics> {
  private readonly emitter = new EventEmitter();
  publish<T extends Topic<Topics>>(topic: T, message: Topics[T]): void {
    process.nextTick(() => this.emitter.emit(topic, message));
  }
  subscribe<T extends Topic<Topics>>(topic: T, handler: (message: Topics[T]) => void): void {
    // a failing handler must not take the process down (it runs outside any request)
    this.emitter.on(topic, (message: Topics[T]) => {
      try {
        handler(message);
      } catch (err) {
        process.emitWarning(`bus handler of ${topic} failed: ${(err as Error).message}`);
      }
    });
  }
  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/** The bus topic of committed model changes. */
export const CHANGE_TOPIC = 'model:change' satisfies Topic<BusTopics>;

/** The room of one read group of one model in one tenant. */
export function roomName(tenantId: number, model: string, group: Group): string {
  return `${tenantId}:model:${model}:${group}`;
}

/** True when both lists hold the same groups, in any order. */
export function sameGroups(a: readonly Group[], b: readonly Group[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((g) => set.has(g));
}

/**
 * A subscriber of this instance that is not a socket.io socket: a Server-Sent Events stream
 * (lib/eventStreams.ts). PubSub keeps its rooms in a registry of its own and sends it, through `send`,
 * exactly what a socket in the same rooms receives: `model:<model>` {@link ModelEventPayload}s (each change
 * at most once, only when readable, with the same transitions) and `subscription:refresh` `{models}`.
 */
export interface StreamSubscriber {
  /** Tells it apart from a socket. */
  readonly kind: 'stream';
  /** Unique among this instance's stream subscribers (for logs). */
  readonly id: string;
  /** Rooms joined per subscribed model; written by PubSub only. */
  readonly subscriptions: Map<string, string[]>;
  /**
   * Sends one event. Called synchronously during a delivery, with the same payload object for every
   * subscriber of that delivery (serialize it once); must not throw.
   */
  send(event: string, payload: unknown): void;
}

/** What PubSub subscribes to rooms: a socket.io socket or a {@link StreamSubscriber}. */
export type Subscriber = FluxSocket | StreamSubscriber;

function isStream(subscriber: Subscriber): subscriber is StreamSubscriber {
  return (subscriber as Partial<StreamSubscriber>).kind === 'stream';
}

/**
 * The transition each member of the rooms an item was in (`before`) and is in (`after`) sees when its read
 * groups change: `created` if only after, `updated` if both, `destroyed` if only before. One rule for
 * sockets (by id) and streams alike.
 */
export function splitTransitions<T>(
  before: ReadonlySet<T>,
  after: ReadonlySet<T>,
): { created: T[]; updated: T[]; destroyed: T[] } {
  const created: T[] = [];
  const updated: T[] = [];
  const destroyed: T[] = [];
  for (const member of after) (before.has(member) ? updated : created).push(member);
  for (const member of before) if (!after.has(member)) destroyed.push(member);
  return { created, updated, destroyed };
}

/** The verbs of a transition, in the order their events are sent. */
const VERBS = ['created', 'updated', 'destroyed'] as const satisfies readonly Verb[];

/** Longest a {@link PubSub.holdDeliveries} may hold deliveries back, ms. */
const MAX_HOLD_MS = 5_000;

export class PubSub {
  /** Counters for metrics and tests. */
  readonly stats = { published: 0, delivered: 0 };
  /** Changes waiting for the holds in place (undefined: none in place). */
  private held?: ModelChange[];
  private holds = 0;
  /** The stream subscribers of this instance in each room (rooms without any are removed). */
  private readonly streamRooms = new Map<string, Set<StreamSubscriber>>();

  /**
   * `onError`: a change that could not be sent (its write is committed; only its live event is lost).
   * `waitUntil`: given each send in flight, so that the owner's stop can wait for it (`Flux.waitUntil`).
   */
  constructor(
    private readonly io: FluxServer,
    private readonly bus: Bus,
    private readonly options: {
      onError?: (err: unknown) => void;
      waitUntil?: (sent: Promise<void>) => void;
    } = {},
  ) {
    bus.subscribe(CHANGE_TOPIC, (change) => this.deliver(change));
  }

  /**
   * Joins `subscriber` (a socket or a stream) to the rooms of `groups` for `model` in `tenantId`, replacing
   * an earlier subscription of that model. Synchronous: a change delivered after it returns reaches the
   * subscriber.
   * @returns the rooms joined (`<tenantId>:model:<model>:<group>`), none for no group
   */
  subscribe(subscriber: Subscriber, tenantId: number, model: string, groups: readonly Group[]): string[] {
    const subscriptions = this.subscriptionsOf(subscriber);
    const rooms = groups.map((group) => roomName(tenantId, model, group));
    const previous = subscriptions.get(model) ?? [];
    for (const room of previous) if (!rooms.includes(room)) this.leave(subscriber, room);
    this.join(subscriber, rooms);
    subscriptions.set(model, rooms);
    return rooms;
  }

  /** Leaves every room of `model`. Returns false when the subscriber was not subscribed to it. */
  unsubscribe(subscriber: Subscriber, model: string): boolean {
    const subscriptions = this.subscriptionsOf(subscriber);
    const rooms = subscriptions.get(model);
    if (!rooms) return false;
    for (const room of rooms) this.leave(subscriber, room);
    subscriptions.delete(model);
    return true;
  }

  /** Leaves every subscription room (logout, revocation, expiry, a stream that closed). */
  unsubscribeAll(subscriber: Subscriber): void {
    for (const model of [...this.subscriptionsOf(subscriber).keys()]) this.unsubscribe(subscriber, model);
  }

  /**
   * Recomputes every subscription of `subscriber` after its user's groups changed (team or role change):
   * `groupsFor(model)` gives the new read groups of each subscribed model. When the rooms of some models
   * changed, the subscriber receives `subscription:refresh` `{models}`: what it may read changed without a
   * change to the items, so it should `find` those models again (a socket with `subscribe: true`).
   * @returns the models whose rooms changed.
   */
  resubscribe(
    subscriber: Subscriber,
    tenantId: number,
    groupsFor: (model: string) => readonly Group[],
  ): string[] {
    const subscriptions = this.subscriptionsOf(subscriber);
    const changed: string[] = [];
    for (const model of this.subscribedModels(subscriber)) {
      const before = subscriptions.get(model) ?? [];
      const after = this.subscribe(subscriber, tenantId, model, groupsFor(model));
      if (!sameGroups(before, after)) changed.push(model);
    }
    if (changed.length) {
      const payload = { models: changed };
      if (isStream(subscriber)) subscriber.send('subscription:refresh', payload);
      else subscriber.emit('subscription:refresh', payload);
    }
    return changed;
  }

  /** Models `subscriber` is subscribed to. */
  subscribedModels(subscriber: Subscriber): string[] {
    return [...this.subscriptionsOf(subscriber).keys()];
  }

  /** How many stream subscribers are in at least one room of this instance (tests, diagnostics). */
  get streamsInRooms(): number {
    const streams = new Set<StreamSubscriber>();
    for (const members of this.streamRooms.values()) for (const stream of members) streams.add(stream);
    return streams.size;
  }

  private subscriptionsOf(subscriber: Subscriber): Map<string, string[]> {
    return isStream(subscriber) ? subscriber.subscriptions : subscriber.data.subscriptions;
  }

  private join(subscriber: Subscriber, rooms: string[]): void {
    if (!isStream(subscriber)) {
      subscriber.join(rooms);
      return;
    }
    for (const room of rooms) {
      const members = this.streamRooms.get(room);
      if (members) members.add(subscriber);
      else this.streamRooms.set(room, new Set([subscriber]));
    }
  }

  private leave(subscriber: Subscriber, room: string): void {
    if (!isStream(subscriber)) {
      subscriber.leave(room);
      return;
    }
    const members = this.streamRooms.get(room);
    members?.delete(subscriber);
    if (members?.size === 0) this.streamRooms.delete(room);
  }

  /** Sends a committed change to every instance. */
  publish(change: ModelChange): void {
    this.stats.published++;
    const sent = Promise.resolve(this.bus.publish(CHANGE_TOPIC, change)).catch((err: unknown) => {
      // the write is committed; only its live event is lost (clients re-sync with find)
      this.options.onError?.(err);
    });
    this.options.waitUntil?.(sent);
  }

  /**
   * Holds back the delivery of changes on this instance until `work` settles (at most `maxMs`), then
   * delivers them in order. For work that changes rooms after a permission change — the recomputation
   * of some users' subscriptions: called when the announcement of the change arrives, it makes every
   * change published after it wait for the new rooms, so a demoted socket never receives what it may no
   * longer read. Holds nest; deliveries resume when the last one is released.
   */
  holdDeliveries(work: Promise<unknown>, maxMs = MAX_HOLD_MS): void {
    this.holds++;
    this.held ??= [];
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      if (--this.holds > 0) return;
      const held = this.held ?? [];
      this.held = undefined;
      for (const change of held) this.deliverNow(change);
    };
    // a recomputation that hangs (database down) must not stop every live event of the instance
    const timer = setTimeout(release, maxMs);
    timer.unref();
    work.then(release, release);
  }

  /** Delivers a change to this instance's subscribers (after the holds in place, if any). */
  deliver(change: ModelChange): void {
    if (this.held) this.held.push(change);
    else this.deliverNow(change);
  }

  private deliverNow(change: ModelChange): void {
    const event = `model:${change.model}` as const;
    const rooms = (groups: readonly Group[] | undefined) =>
      (groups ?? []).map((group) => roomName(change.tenantId, change.model, group));
    // one payload object per verb, shared by every stream of this delivery (each serializes it once)
    const payloads: Partial<Record<Verb, ModelEventPayload>> = {};
    const payload = (verb: Verb): ModelEventPayload =>
      (payloads[verb] ??= {
        verb,
        id: change.id,
        data: verb === 'destroyed' && change.dataBefore !== undefined ? change.dataBefore : change.data,
      });
    const local = this.io.local;
    const streams = this.streamRooms.size > 0;
    if (
      change.verb !== 'updated' ||
      !change.groupsBefore ||
      !change.groupsAfter ||
      sameGroups(change.groupsBefore, change.groupsAfter)
    ) {
      const target = rooms(
        change.verb === 'destroyed' ? change.groupsBefore : (change.groupsAfter ?? change.groupsBefore),
      );
      if (target.length) {
        local.to(target).emit(event, payload(change.verb));
        if (streams)
          for (const stream of this.streamMembers(target)) stream.send(event, payload(change.verb));
      }
      this.stats.delivered++;
      return;
    }
    // The read groups changed: each member of the rooms before/after gets the transition it sees, by the
    // same rule for sockets and streams.
    const before = rooms(change.groupsBefore);
    const after = rooms(change.groupsAfter);
    const sockets = splitTransitions(this.members(before), this.members(after));
    for (const verb of VERBS) if (sockets[verb].length) local.to(sockets[verb]).emit(event, payload(verb));
    if (streams) {
      const split = splitTransitions(this.streamMembers(before), this.streamMembers(after));
      for (const verb of VERBS) for (const stream of split[verb]) stream.send(event, payload(verb));
    }
    this.stats.delivered++;
  }

  /** Ids of this instance's sockets in any of `rooms`. */
  private members(rooms: readonly string[]): Set<string> {
    const all = this.io.of('/').adapter.rooms;
    const ids = new Set<string>();
    for (const room of rooms) for (const id of all.get(room) ?? []) ids.add(id);
    return ids;
  }

  /** This instance's stream subscribers in any of `rooms`, each once. */
  private streamMembers(rooms: readonly string[]): Set<StreamSubscriber> {
    const streams = new Set<StreamSubscriber>();
    for (const room of rooms) for (const stream of this.streamRooms.get(room) ?? []) streams.add(stream);
    return streams;
  }

  async close(): Promise<void> {
    await this.bus.close();
  }
}
