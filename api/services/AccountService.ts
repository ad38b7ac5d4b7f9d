import { afterCommit } from '../../lib/modelHooks.js';
import type { User } from '../models/User.js';
import { authService } from './AuthService.js';

/**
 * The rules of a user's sessions that every write path obeys — HTTP and socket requests, the CLI, jobs,
 * services (docs/reference.md#authentication-and-sessions):
 * - a new password ends the user's other sessions, all of them when it was not the user's own session
 *   that changed it, and every session the user opened as someone else (`/auth/as`). It runs from the
 *   User model's reactions (`api/reactions.ts`), so no path can skip it; a request changing its own
 *   user's password only names the session to keep ({@link passwordChangedFrom});
 * - a user about to be destroyed is logged out everywhere first ({@link endSessions}).
 */

/** The session changing its own user's password, by the user row being saved. */
const changingSessions = new WeakMap<User, number>();

/**
 * Notes that `sessionId`, a session of `user` itself, is changing `user`'s password in the save to come:
 * that session stays open when the new password ends the others. Without it (an admin, the CLI, a job),
 * the new password ends every session of the user.
 */
export function passwordChangedFrom(user: User, sessionId: number): void {
  changingSessions.set(user, sessionId);
}

/**
 * After `user`'s password changed, whatever wrote it: ends the user's sessions but the one that changed
 * it ({@link passwordChangedFrom}), and the sessions the user opened as someone else — once the write
 * commits, before it is acknowledged (see `afterCommit`).
 */
export function endSessionsAfterPasswordChange(
  user: User,
  options: Parameters<typeof afterCommit>[0],
): void | Promise<void> {
  const keep = changingSessions.get(user);
  changingSessions.delete(user);
  return afterCommit(options, () => endSessions(user.id, keep));
}

/**
 * Revokes every session of `userId` but `keepSessionId` (their tokens answer 403 `TokenRevoked`, their
 * sockets are unbound, on every instance), and every session the user opened as someone else
 * (`/auth/as`), `keepSessionId`'s included.
 */
export async function endSessions(userId: number, keepSessionId?: number): Promise<void> {
  await authService.revokeOtherSessions(userId, keepSessionId);
  await authService.revokeSessionsActedBy(userId);
}
