import { randomBytes } from 'node:crypto';
import type { FluxApp } from '../lib/Flux.js';
import { AUTH_CHANGED, authService, type IdentityChange, SESSION_REVOKED } from './services/AuthService.js';
import { resetUrlWarning } from './services/PasswordResetService.js';
import { sessionActivity } from './services/SessionActivityService.js';
import { refreshUserSockets, USER_GROUPS_CHANGED } from './services/SubscriptionService.js';
import { provideFirstAdmin } from './services/TenantService.js';

/**
 * Wires the application into the framework at start (Flux itself adds the reactions to writes of
 * `api/reactions.ts`, also when it starts without this file): what every instance does when told over the bus, the sessions' socket bookkeeping, then the
 * first-start data. Ended sessions are deleted by a repeatable job (`api/jobs/cleanEndedSessions.ts`).
 */
export async function bootstrap(flux: FluxApp): Promise<void> {
  authService.forgetAll();
  flux.bus.subscribe(SESSION_REVOKED, (message) => {
    const { sessionId } = message as { sessionId: number };
    authService.forgetContexts({ sessionIds: [sessionId] });
    flux.sockets.unbindSession(sessionId, 'revoked');
    flux.eventStreams.endSession(sessionId, 'revoked');
  });
  // Authenticated requests use cached {session, user, team, tenant}: every change to those rows, from any
  // write path on any instance, drops the contexts built from them (the writing instance's reactions
  // announce it).
  flux.bus.subscribe(AUTH_CHANGED, (message) => authService.forgetContexts(message as IdentityChange));
  flux.bus.subscribe(USER_GROUPS_CHANGED, (message) => {
    refreshUserSockets((message as { userIds: number[] }).userIds).catch((err: unknown) =>
      flux.log.error('could not refresh subscriptions:', err),
    );
  });
  // written in batches (a server stopping with thousands of sockets): see SessionActivityService
  flux.sockets.on('disconnect', (socketId: string, sessionId: number) => {
    flux.waitUntil(sessionActivity.disconnected(sessionId, socketId));
  });
  const warning = resetUrlWarning(flux.config.auth.resetUrl, flux.env);
  if (warning) flux.log.warn(warning);
  await createFirstAdmin(flux);
}

/**
 * First start (docs/reference.md#running): when the database has no user, creates the tenant `default`, the
 * team `Admin` (role `admin`) and the user `admin` (api/services/TenantService.ts), whose password is
 * `FLUX_ADMIN_PASSWORD` or a random one printed once on the console.
 */
async function createFirstAdmin(flux: FluxApp): Promise<void> {
  const configured = (flux.config.bootstrap as { adminPassword?: string } | undefined)?.adminPassword;
  const password = configured || randomBytes(12).toString('base64url');
  if (!(await provideFirstAdmin(password))) return;
  if (configured) {
    flux.log.info('Created the bootstrap user "admin" with the password from FLUX_ADMIN_PASSWORD.');
  } else {
    // Printed once, on purpose, straight to the console: it is never written to a log file.
    process.stdout.write(
      `\n  Created the bootstrap user "admin" with password: ${password}\n  (set FLUX_ADMIN_PASSWORD to choose it)\n\n`,
    );
  }
}
