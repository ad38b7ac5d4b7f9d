/**
 * `@flux/client`: Flux's typed client (docs/client.md). Browser-safe: socket.io-client is its one runtime
 * dependency; the server's protocol and model types are imported type-only.
 */
export { type EventStreamOptions, openEventStream, SseParser } from './eventStream.js';
export {
  type AuthEvent,
  type AuthEventType,
  type ClientOptions,
  createClient,
  FluxClient,
  type FluxResponse,
  type LoginReply,
  type Service,
} from './FluxClient.js';
export { FluxError } from './FluxError.js';
/** The wire protocol's types: socket events, payloads, the error body (docs/protocol.md). */
export type * from './generated/protocol.js';
export { decodeToken, type TokenClaims } from './jwt.js';
export type { LiveChange, LiveListener, LiveParams, LiveQuery } from './LiveQuery.js';
export type {
  CreateInput,
  Filter,
  FindParams,
  Input,
  Item,
  ModelName,
  Operators,
  SortKey,
} from './models.js';
export { type AttributeKind, type AttributeKinds, compileFilter, compileSort } from './query.js';
export { memoryStorage, type TokenStorage, type WebStorageLike, webStorage } from './storage.js';
