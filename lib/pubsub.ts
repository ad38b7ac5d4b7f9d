import { EventEmitter } from 'node:events';
import type { Group } from './permissions.js';
import type { BusTopics, ModelChange, ModelEventPayload, Verb } from './protocol.js';
import type { FluxServer, FluxSocket } from './socket/types.js';

export type { BusTopics, ModelChange, ModelEventPayload, Verb } from './protocol.js';

/**
 * Publish/subscribe of model changes (docs/reference.md#events).
 *
 * - `subscribe` joins a socket to one room per user read group: `<tenant>:model:<model>:<group>`.
 * - Every committed write is published once, from the model hooks (see `modelHooks.ts`), as a
 *   {@link ModelChange} on a {@link Bus}; every instance delivers it to its own sockets.
 * - Delivery addresses rooms, never iterates sockets, unless the item's read groups changed: then the
 *   members of the before/after rooms are split into those that lose the item (`destroyed`), gain it
 *   (`created`) or keep it (`updated`). Each socket gets each change at most once.
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

/** Longest a {@link PubSub.holdDeliveries} may hold deliveries back, ms. */
const MAX_HOLD_MS = 5_000;

export class PubSub {
  /** Counters for metrics and tests. */
  readonly stats = { published: 0, delivered: 0 };
  /** Changes waiting for the holds in place (undefined: none in place). */
  private held?: ModelChange[];
  private holds = 0;

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

  /** Joins `socket` to the rooms of `groups` for `model`, replacing an earlier subscription. */
  subscribe(socket: FluxSocket, tenantId: number, model: string, groups: readonly Group[]): string[] {
    const subscriptions = socket.data.subscriptions;
    const rooms = groups.map((group) => roomName(tenantId, model, group));
    const previous = subscriptions.get(model) ?? [];
    for (const room of previous) if (!rooms.includes(room)) socket.leave(room);
    socket.join(rooms);
    subscriptions.set(model, rooms);
    return rooms;
  }

  /** Leaves every room of `model`. Returns false when the socket was not subscribed. */
  unsubscribe(socket: FluxSocket, model: string): boolean {
    const subscriptions = socket.data.subscriptions;
    const rooms = subscriptions.get(model);
    if (!rooms) return false;
    for (const room of rooms) socket.leave(room);
    subscriptions.delete(model);
    return true;
  }

  /** Leaves every subscription room (logout, revocation, expiry). */
  unsubscribeAll(socket: FluxSocket): void {
    for (const model of [...socket.data.subscriptions.keys()]) this.unsubscribe(socket, model);
  }

  /**
   * Recomputes every subscription of `socket` after its user's groups changed (team or role change):
   * `groupsFor(model)` gives the new read groups of each subscribed model. When the rooms of some models
   * changed, the socket receives `subscription:refresh` `{models}`: what it may read changed without a
   * change to the items, so it should `find` those models again (with `subscribe: true`).
   * @returns the models whose rooms changed.
   */
  resubscribe(
    socket: FluxSocket,
    tenantId: number,
    groupsFor: (model: string) => readonly Group[],
  ): string[] {
    const subscriptions = socket.data.subscriptions;
    const changed: string[] = [];
    for (const model of this.subscribedModels(socket)) {
      const before = subscriptions.get(model) ?? [];
      const after = this.subscribe(socket, tenantId, model, groupsFor(model));
      if (!sameGroups(before, after)) changed.push(model);
    }
    if (changed.length) socket.emit('subscription:refresh', { models: changed });
    return changed;
  }

  /** Models `socket` is subscribed to. */
  subscribedModels(socket: FluxSocket): string[] {
    return [...socket.data.subscriptions.keys()];
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
    const payload = (verb: Verb): ModelEventPayload => ({
      verb,
      id: change.id,
      data: verb === 'destroyed' && change.dataBefore !== undefined ? change.dataBefore : change.data,
    });
    const local = this.io.local;
    if (
      change.verb !== 'updated' ||
      !change.groupsBefore ||
      !change.groupsAfter ||
      sameGroups(change.groupsBefore, change.groupsAfter)
    ) {
      const target = rooms(
        change.verb === 'destroyed' ? change.groupsBefore : (change.groupsAfter ?? change.groupsBefore),
      );
      if (target.length) local.to(target).emit(event, payload(change.verb));
      this.stats.delivered++;
      return;
    }
    // The read groups changed: each member of the rooms before/after gets the transition it sees.
    const before = this.members(rooms(change.groupsBefore));
    const after = this.members(rooms(change.groupsAfter));
    const created: string[] = [];
    const updated: string[] = [];
    const destroyed: string[] = [];
    for (const id of after) (before.has(id) ? updated : created).push(id);
    for (const id of before) if (!after.has(id)) destroyed.push(id);
    if (created.length) local.to(created).emit(event, payload('created'));
    if (updated.length) local.to(updated).emit(event, payload('updated'));
    if (destroyed.length) local.to(destroyed).emit(event, payload('destroyed'));
    this.stats.delivered++;
  }

  /** Ids of this instance's sockets in any of `rooms`. */
  private members(rooms: readonly string[]): Set<string> {
    const all = this.io.of('/').adapter.rooms;
    const ids = new Set<string>();
    for (const room of rooms) for (const id of all.get(room) ?? []) ids.add(id);
    return ids;
  }

  async close(): Promise<void> {
    await this.bus.close();
  }
}
