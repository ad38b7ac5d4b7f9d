import type { Sequelize } from 'sequelize';
import type { FluxModelClass, ModelContext } from './FluxModel.js';
import type { FairQueue } from './fairQueue.js';
import type { PubSub } from './pubsub.js';
import type { ReferenceRules } from './references.js';
import type { SocketTransport } from './socket/transport.js';

/**
 * The collaborators the framework hands the application's controllers at load time (`setup(app)`, as
 * Feathers hands a service its `app`), so that `lib/` never reaches for the application's singleton. In
 * a running server it is the `Flux` object itself; a test may hand any object of this shape.
 *
 * Read its members when serving, not in a constructor: some are made later in the start (the pub/sub and
 * the socket transport come after the controllers are loaded).
 */
export interface FluxContext extends ModelContext {
  /** Every loaded model, by class name (`'Team'`). */
  readonly models: Readonly<Record<string, FluxModelClass>>;
  /** The models' declared references and their rules on delete (lib/references.ts). */
  readonly references: ReferenceRules;
  /** The database every model is initialized on. */
  readonly sequelize: Sequelize;
  /** Rooms and events of model changes (docs/reference.md#events). */
  readonly pubsub: PubSub;
  /** The socket.io side: binds a socket to the session of the request that subscribes it. */
  readonly sockets: SocketTransport;
  /** Admission of expensive reads (`config.query.expensive`). */
  readonly queryGate: FairQueue;
}
