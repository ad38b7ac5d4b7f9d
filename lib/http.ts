import type { NextFunction, Request, Response } from 'express';
import type { PermissionTeam, PermissionUser } from './permissions.js';
import type { FluxSocket } from './socket/types.js';

/**
 * The request and response types every Flux middleware and action sees. They extend Express's own
 * types instead of augmenting them, so an action states what it relies on.
 */

/** The tenant a request runs in: every query, room and event is scoped by its `id`. */
export interface RequestTenant {
  id: number;
  slug: string;
}

/** The session behind an authenticated request. */
export interface RequestSession {
  id: number;
}

export interface FluxRequest<
  TUser extends PermissionUser = PermissionUser,
  TTeam extends PermissionTeam = PermissionTeam,
  TSession extends RequestSession = RequestSession,
  TTenant extends RequestTenant = RequestTenant,
> extends Request {
  /**
   * Merged input (docs/reference.md#routes-and-middlewares): `?data=<JSON>` (GET), other query values, body,
   * then route params.
   */
  data: Record<string, unknown>;
  /** True for a virtual request injected from a socket.io `request` message. */
  isSocket: boolean;
  /** The socket.io socket of a virtual request. */
  ioSocket?: FluxSocket;
  /** Short id carried by the request's log lines and 500 replies. */
  requestId: string;
  user?: TUser;
  team?: TTeam;
  session?: TSession;
  tenant?: TTenant;
  /** When the credentials of an authenticated request expire (ms since epoch). */
  authExpiresAt?: number;
}

export interface FluxResponse extends Response {
  /** 200 with `data` as JSON. */
  ok(data: unknown): void;
  /** 201 with `data` as JSON. */
  created(data: unknown): void;
  /** An error reply with the error body of docs/reference.md#errors. */
  error(status: number, code: string, message: string): void;
}

/** An action: an async function of a Flux request and response; what it throws reaches `errorHandler`. */
export type Action<TReq extends FluxRequest = FluxRequest> = (
  req: TReq,
  res: FluxResponse,
) => Promise<void> | void;

/** A middleware in Flux's typed form. */
export type FluxMiddleware<TReq extends FluxRequest = FluxRequest> = (
  req: TReq,
  res: FluxResponse,
  next: NextFunction,
) => void | Promise<void>;
