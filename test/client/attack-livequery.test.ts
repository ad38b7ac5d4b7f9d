import { describe, expect, it } from 'vitest';
import { type LiveFeedHandlers, LiveQueries } from '../../client/src/LiveQuery.js';

/**
 * A live query fed by hand (client/src/LiveQuery.ts): events as a socket receives them when writes made on
 * two instances reach it out of order (docs/client.md: "a late event"), after the first read returned
 * `initial`.
 */
function liveWith(initial: Array<Record<string, unknown>>, params: Record<string, unknown> = {}) {
  let handlers!: LiveFeedHandlers;
  let reads = 0;
  const queries = new LiveQueries(
    (_model, h) => {
      handlers = h;
      return {
        find: async () => {
          reads++;
          return initial;
        },
        close: () => {},
      };
    },
    () => ({ id: 'integer', title: 'string', updatedAt: 'date' }),
  );
  const live = queries.open<Record<string, unknown>>('alert', params);
  return { live, send: (e: unknown) => handlers.change(e as never), reads: () => reads };
}

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const item = (id: number, title: string, s: number) => ({ id, title, updatedAt: at(s) });

describe('attack: late events that would bring back an item', () => {
  it('When an update made before a destroy arrives after it, then the destroyed item does not come back', async () => {
    const { live, send } = liveWith([item(1, 'a', 1)]);
    await live.ready;
    send({ verb: 'destroyed', id: 1, data: item(1, 'b', 2) });
    send({ verb: 'updated', id: 1, data: item(1, 'b', 2) }); // the update that preceded the destroy, late
    send({ verb: 'updated', id: 1, data: item(1, 'a', 1) });
    expect(live.items).toEqual([]);
  });

  it('When a create arrives after the destroy of its item, then the item does not appear', async () => {
    const { live, send } = liveWith([]);
    await live.ready;
    send({ verb: 'destroyed', id: 7, data: item(7, 'x', 3) });
    send({ verb: 'created', id: 7, data: item(7, 'x', 3) });
    expect(live.items).toEqual([]);
  });

  it('When an older version that matched arrives after a newer one that does not, then the item stays out', async () => {
    const { live, send } = liveWith([], { filters: { title: 'keep' } });
    await live.ready;
    send({ verb: 'updated', id: 2, data: item(2, 'drop', 5) });
    send({ verb: 'updated', id: 2, data: item(2, 'keep', 4) }); // late
    expect(live.items).toEqual([]);
    // a newer version that matches comes in, as ever
    send({ verb: 'updated', id: 2, data: item(2, 'keep', 6) });
    expect(live.items).toEqual([item(2, 'keep', 6)]);
  });

  it('When a permission transition out of view arrives after the one back into view, then the item stays', async () => {
    const { live, send } = liveWith([]);
    await live.ready;
    send({ verb: 'created', id: 3, data: item(3, 'back', 9) }); // moved back into view at 9
    send({ verb: 'destroyed', id: 3, data: item(3, 'before', 8) }); // moved out at 9, late: data as of 8
    expect(live.items).toEqual([item(3, 'back', 9)]);
  });

  it('When the transitions arrive in order, then the item leaves and comes back', async () => {
    const { live, send } = liveWith([item(4, 'a', 1)]);
    await live.ready;
    send({ verb: 'destroyed', id: 4, data: item(4, 'a', 1) });
    expect(live.items).toEqual([]);
    send({ verb: 'created', id: 4, data: item(4, 'c', 3) });
    expect(live.items).toEqual([item(4, 'c', 3)]);
    send({ verb: 'destroyed', id: 4, data: item(4, 'c', 3) });
    expect(live.items).toEqual([]);
  });
});

describe('attack: the last item of a full window', () => {
  it('When the last item of a full window changes but not its sort keys, then it keeps its place without a read', async () => {
    const { live, send, reads } = liveWith([item(1, 'a', 1), item(2, 'b', 1)], { sort: 'id', limit: 2 });
    await live.ready;
    const lists: number[][] = [];
    live.subscribe((items) => lists.push(items.map((i) => i.id as number)));
    for (let s = 2; s < 12; s++) send({ verb: 'updated', id: 2, data: item(2, `b${s}`, s) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(live.items).toEqual([item(1, 'a', 1), item(2, 'b11', 11)]);
    // never a list without it, and no read of the server for what the events tell
    expect(lists.every((ids) => ids.join() === '1,2')).toBe(true);
    expect(reads()).toBe(1);
  });
});
