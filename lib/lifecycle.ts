/**
 * Where a server is in its life, and the requests it is serving (HTTP and socket virtual requests
 * alike): what `/ready`, the socket transport and the graceful stop ask.
 *
 * `stopped → starting → running → draining → stopping → stopped`; a start that fails goes
 * `starting → stopping → stopped` (or straight back to `stopped` when nothing was opened yet), a stop
 * that fails while draining straight to `stopped`.
 * - `draining`: still serving, but `/ready` fails so that the load balancer moves away
 *   (`server.drainDelayMs`); then the port closes, and the HTTP connections still open are left to
 *   close;
 * - `stopping`: no new connection nor socket request; the requests in flight finish.
 */
export type LifecycleState = 'starting' | 'running' | 'draining' | 'stopping' | 'stopped';

/** The states each state may move to. */
const transitions: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  stopped: ['starting'],
  starting: ['running', 'stopping', 'stopped'],
  running: ['draining', 'stopping'],
  draining: ['stopping', 'stopped'],
  stopping: ['stopped'],
};

export class Lifecycle {
  private current: LifecycleState;
  private requests = 0;

  constructor(initial: LifecycleState = 'stopped') {
    this.current = initial;
  }

  get state(): LifecycleState {
    return this.current;
  }

  /**
   * Moves to `next`.
   * @throws Error when `next` does not follow the current state (e.g. starting a running server).
   */
  to(next: LifecycleState): void {
    if (!transitions[this.current].includes(next))
      throw new Error(`Cannot go from ${this.current} to ${next}`);
    this.current = next;
  }

  /** True while the server is leaving (`draining` or `stopping`): `/ready` fails. */
  get leaving(): boolean {
    return this.current === 'draining' || this.current === 'stopping';
  }

  /** True until the stop proper begins: new socket requests are served (refused 503 once false). */
  get acceptsRequests(): boolean {
    return this.current === 'starting' || this.current === 'running' || this.current === 'draining';
  }

  /** Requests being served, HTTP and socket alike. */
  get inFlight(): number {
    return this.requests;
  }

  /** A request arrived (see `requestLifecycle`). */
  requestStarted(): void {
    this.requests++;
  }

  /** A request counted by {@link requestStarted} is over. */
  requestEnded(): void {
    this.requests--;
  }

  /**
   * Waits until no request is in flight, at most until `deadline` (ms since epoch).
   * @returns true when none is left
   */
  async settled(deadline: number): Promise<boolean> {
    while (this.requests > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    return this.requests === 0;
  }
}
