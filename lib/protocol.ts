/**
 * Flux's wire protocol as types (docs/reference.md#socket-protocol, #authentication-and-sessions, #events;
 * docs/stats.md): the socket.io events each side sends, the virtual request and its reply, and the
 * topics the instances exchange on the bus.
 *
 * No runtime code and no Node-only import: a browser client can `import type` it. The server types its
 * socket.io `Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>` with it
 * (`lib/socket/types.ts`), a client its `Socket<ServerToClientEvents, ClientToServerEvents>`.
 *
 * @example
 * import type { ClientToServerEvents, ServerToClientEvents } from 'flux/lib/protocol.js';
 * const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth: { token } });
 * socket.on('model:alert', ({ verb, id, data }) => …);
 */

// ---- Errors (docs/reference.md#errors) ----

/** One failed check of a validation error, as in Sequelize's `ValidationErrorItem`. */
export interface ValidationIssue {
  path: string;
  message: string;
  type: string;
}

/** The JSON body of every error reply. */
export interface ErrorBody {
  _error: {
    status: number;
    code: string;
    message: string;
    validation?: ValidationIssue[];
  };
}

// ---- Virtual requests (docs/reference.md#socket-protocol) ----

/**
 * HTTP header values as a reply carries them (Node's `OutgoingHttpHeaders`, without the Node import):
 * names are lower-case.
 */
export type WireHeaders = Record<string, string | number | string[] | undefined>;

/**
 * What a client sends as `request`. The server checks every field (a payload that is not an object, or
 * without a usable `method`/`url`, is answered 400), so this is what a well-behaved client sends.
 */
export interface VirtualRequestPayload {
  /** `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD` or `OPTIONS` (any case). */
  method: string;
  /** Path and query, as over HTTP (`/alert?data=…`). */
  url: string;
  /** The JSON body (for GET, merged like `?data=<JSON>`). */
  data?: unknown;
  /** Request headers; `authorization` is honoured, addressing and framing headers are dropped. */
  headers?: Record<string, string>;
  /** Legacy clients without an ack: the reply comes as event `response-<requestId>`. */
  requestId?: string | number;
}

/** The reply of a virtual request: the ack's argument, or the payload of `response-<requestId>`. */
export interface VirtualResponse {
  statusCode: number;
  headers: WireHeaders;
  /** Exactly the JSON body HTTP would have sent (an error: `{_error: {status, code, message, data?}}`). */
  data: unknown;
}

/** The acknowledgement callback of a `request`. */
export type RequestAck = (response: VirtualResponse) => void;

// ---- Events: server → client ----

/** What a change does to an item, as a subscriber sees it (docs/reference.md#events). */
export type Verb = 'created' | 'updated' | 'destroyed';

/** The payload of `model:<model>` (`<model>` is the model's public name, e.g. `alertButton`). */
export interface ModelEventPayload {
  verb: Verb;
  id: number | string;
  /** The item's public representation (hidden attributes never appear). */
  data: unknown;
}

/** Why a socket became anonymous again (docs/reference.md#authentication-and-sessions). */
export type UnbindReason = 'revoked' | 'expired';

/** The payload of `auth:revoked` and `auth:expired`. */
export interface AuthEndedPayload {
  reason: UnbindReason;
}

/** The payload of `subscription:refresh`: what the user may read of these models changed; find them again. */
export interface SubscriptionRefreshPayload {
  models: string[];
}

/** The payload of `server:shutdown`, sent just before the server closes the connection. */
export interface ShutdownPayload {
  reason: string;
}

/** The states of a background job (docs/jobs.md). */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

/**
 * The payload of `job:progress`, sent to the sockets of the user who started a job as it runs, the last one
 * with `state` `completed` or `failed` (docs/jobs.md).
 */
export interface JobProgressPayload {
  id: string;
  name: string;
  state: JobState;
  /** 0–100. */
  progress: number;
}

/**
 * The payload of `stats` and the reply of `GET /stats` (docs/stats.md): live figures summed over every
 * instance, sent every `stats.intervalMs` to the sockets in an admins room. A platform admin's view
 * (`scope: 'platform'`) covers every tenant; a tenant's (`'tenant'`) holds only its own sockets and the
 * request latency, the operator figures (`rates`, `jobs`, `db`) being null.
 */
export interface StatsPayload {
  /** ms since epoch. */
  at: number;
  scope: 'platform' | 'tenant';
  /** Instances that reported within the last two intervals. */
  instances: number;
  /**
   * Connected sockets; `authenticated` those bound to a session, `byTeam` those by the team of their user
   * (team id → count). In a tenant's view `total` equals `authenticated`: an anonymous socket belongs to
   * no tenant.
   */
  sockets: { total: number; authenticated: number; byTeam: Record<string, number> };
  /**
   * Per second over the last `stats.windowMs`: requests answered over HTTP and over sockets (virtual
   * requests), model changes published.
   */
  rates: { http: number; socket: number; events: number } | null;
  /** Request durations over the last `stats.windowMs`, ms (0 without requests). */
  latencyMs: { p50: number; p99: number };
  /** Background jobs of every queue: ready to run (not delayed), running, failed. */
  jobs: { waiting: number; active: number; failed: number } | null;
  /** Database connections: open (`poolSize`) and in use (`poolUsed`). */
  db: { poolUsed: number; poolSize: number } | null;
}

/** Events the server emits to a socket (socket.io `ServerToClientEvents`). */
export interface ServerToClientEvents {
  /** A committed change of an item the socket may read, in a model it subscribed to. */
  [event: `model:${string}`]: (change: ModelEventPayload) => void;
  /** The reply of a legacy `request` that carried `requestId` and no ack. */
  [event: `response-${string}`]: (response: VirtualResponse) => void;
  /** The socket's session was logged out or revoked: it is anonymous again and left every room. */
  'auth:revoked': (payload: AuthEndedPayload) => void;
  /** The socket's token expired: it is anonymous again and left every room. */
  'auth:expired': (payload: AuthEndedPayload) => void;
  'subscription:refresh': (payload: SubscriptionRefreshPayload) => void;
  'server:shutdown': (payload: ShutdownPayload) => void;
  'job:progress': (payload: JobProgressPayload) => void;
  stats: (payload: StatsPayload) => void;
}

// ---- Events: client → server ----

/** Events a client emits (socket.io `ClientToServerEvents`). */
export interface ClientToServerEvents {
  /**
   * A virtual request (docs/reference.md#socket-protocol); without `ack`, the reply comes as
   * `response-<requestId>`.
   */
  request: (payload: VirtualRequestPayload, ack?: RequestAck) => void;
}

/** Events between instances through the socket.io adapter (`serverSideEmit`): none. */
// biome-ignore lint/suspicious/noEmptyInterface: socket.io's generic slot, empty on purpose
export interface InterServerEvents {}

// ---- Bus topics (between instances) ----

/** One committed change, as it travels between instances on `model:change`. */
export interface ModelChange {
  tenantId: number;
  /** Public model name (`alertButton`). */
  model: string;
  verb: Verb;
  id: number | string;
  /** The public representation of the item (after the change; before it for `destroyed`). */
  data: unknown;
  /**
   * The item as it was before an update that changed its read groups: subscribers who lose the item get
   * this in their `destroyed` event, never the state they may no longer read.
   */
  dataBefore?: unknown;
  /** Read groups before an update (or of the destroyed item). */
  groupsBefore?: string[];
  /** Read groups after a create or update. */
  groupsAfter?: string[];
}

/**
 * The bus topics and their messages (JSON between instances). `model:change` is the framework's; the
 * others are the authentication's: rows behind cached auth contexts changed, a session was revoked
 * (every instance unbinds its sockets), users' read groups changed (their sockets' rooms are recomputed).
 */
export interface BusTopics {
  'model:change': ModelChange;
  'auth:changed': { sessionIds?: number[]; userIds?: number[]; teamIds?: number[]; tenantIds?: number[] };
  'session:revoked': { sessionId: number };
  'user:groups': { userIds: number[] };
  /** A job's progress, for the sockets of its starter wherever they are connected. */
  'job:progress': { userId: number; event: JobProgressPayload };
  /** One instance's figures, every `stats.intervalMs` (lib/stats.ts sums the latest of each instance). */
  'stats:report': StatsReport;
  /** An instance stopped: its figures drop out at once. */
  'stats:gone': { instance: string };
}

/**
 * What one instance reports on `stats:report`: its own sockets, counters and pool, and the job counts when
 * it is the instance that reads them (one at a time: the queues are shared).
 */
export interface StatsReport {
  /** Unique per running instance. */
  instance: string;
  /** The instance's `stats.intervalMs`: its report is dropped once two of them pass without a new one. */
  intervalMs: number;
  sockets: {
    total: number;
    authenticated: number;
    /** Tenant id → its authenticated sockets, and those by team id. */
    tenants: Record<string, { authenticated: number; byTeam: Record<string, number> }>;
  };
  /**
   * What the last `ms` milliseconds saw (the window, shorter just after a start): requests answered by
   * transport, model changes published, request durations as a log-scale histogram (lib/latencyHistogram.ts).
   */
  window: { ms: number; http: number; socket: number; events: number; latency: Array<[number, number]> };
  /** Job counts summed over the queues, read at `at` (ms since epoch). */
  jobs?: { waiting: number; active: number; failed: number; at: number };
  db: { poolUsed: number; poolSize: number };
}
