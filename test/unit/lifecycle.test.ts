import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../lib/lifecycle.js';

describe('Lifecycle', () => {
  it('When a server starts, runs, drains and stops, then it is ready, leaving and accepting in turn', () => {
    const lifecycle = new Lifecycle();
    const seen: Array<[string, boolean, boolean]> = [];
    const look = () => seen.push([lifecycle.state, lifecycle.leaving, lifecycle.acceptsRequests]);
    look();
    for (const state of ['starting', 'running', 'draining', 'stopping', 'stopped'] as const) {
      lifecycle.to(state);
      look();
    }
    expect(seen).toEqual([
      ['stopped', false, false],
      ['starting', false, true],
      ['running', false, true],
      ['draining', true, true],
      ['stopping', true, false],
      ['stopped', false, false],
    ]);
  });

  it('When a move does not follow the state, then it throws and the state stays', () => {
    const lifecycle = new Lifecycle();
    expect(() => lifecycle.to('running')).toThrow('Cannot go from stopped to running');
    lifecycle.to('starting');
    expect(() => lifecycle.to('starting')).toThrow();
    expect(lifecycle.state).toBe('starting');
  });

  it('When requests are in flight, then settled waits for them, at most until the deadline', async () => {
    const lifecycle = new Lifecycle('running');
    lifecycle.requestStarted();
    lifecycle.requestStarted();
    expect(lifecycle.inFlight).toBe(2);
    expect(await lifecycle.settled(Date.now() + 30)).toBe(false);
    setTimeout(() => lifecycle.requestEnded(), 5);
    setTimeout(() => lifecycle.requestEnded(), 15);
    expect(await lifecycle.settled(Date.now() + 2000)).toBe(true);
    expect(lifecycle.inFlight).toBe(0);
  });
});
