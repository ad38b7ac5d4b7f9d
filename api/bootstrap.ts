import { randomBytes } from 'node:crypto';
import type { Model, Transaction } from 'sequelize';
import type { FluxApp } from '../lib/Flux.js';
import { afterCommit } from '../lib/modelHooks.js';
import { AUTH_CHANGED, authService, DEFAULT_TENANT, SESSION_REVOKED } from './services/AuthService.js';
import { refreshUserSockets, USER_GROUPS_CHANGED } from './services/SubscriptionService.js';

/**
 * Wires the application into the framework at start: what every instance does when told over the bus,
 * the sessions' socket bookkeeping and clean-up, then the first-start data.
 */
export async function bootstrap(flux: FluxApp): Promise<void> {
  flux.bus.subscribe(SESSION_REVOKED, (message) => {
    const { sessionId } = message as { sessionId: number };
    authService.forgetContexts({ sessionIds: [sessionId] });
    flux.sockets.unbindSession(sessionId, 'revoked');
  });
  // Authenticated requests use cached {session, user, team, tenant}: every change to those rows, from any
  // write path on any instance, drops the contexts built from them.
  flux.bus.subscribe(AUTH_CHANGED, (message) =>
    authService.forgetContexts(message as Parameters<typeof authService.forgetContexts>[0]),
  );
  const announce = (instance: Model, options: { transaction?: Transaction | null }) => {
    const model = instance.constructor.name;
    const id = instance.get('id') as number;
    const changed =
      model === 'Session'
        ? { sessionIds: [id] }
        : model === 'User'
          ? { userIds: [id] }
          : model === 'Team'
            ? { teamIds: [id] }
            : model === 'Tenant'
              ? { tenantIds: [id] }
              : null;
    if (!changed) return;
    authService.forgetContexts(changed); // here at once, elsewhere through the bus
    // announced before the write is acknowledged: once the client has the reply, the announcement is
    // on its way to every instance, which may use the old identity (e.g. a team's old role) for no
    // longer than the bus takes to carry it
    return afterCommit(options, () =>
      flux.waitUntil(
        Promise.resolve(flux.bus.publish(AUTH_CHANGED, changed)).catch((err: unknown) =>
          flux.log.error('could not announce a change:', err),
        ),
      ),
    );
  };
  flux.sequelize.addHook('afterUpdate', (instance: Model, options: { transaction?: Transaction | null }) => {
    // a session's activity, socket or expiry changes nothing its cached context holds; a revocation does
    if (instance.constructor.name === 'Session' && !instance.changed('revokedAt' as never)) return;
    return announce(instance, options);
  });
  flux.sequelize.addHook('afterDestroy', announce);
  flux.bus.subscribe(USER_GROUPS_CHANGED, (message) => {
    refreshUserSockets((message as { userIds: number[] }).userIds).catch((err: unknown) =>
      flux.log.error('could not refresh subscriptions:', err),
    );
  });
  flux.sockets.on('disconnect', (socketId: string, sessionId: number) => {
    flux.waitUntil(
      flux.models.Session.update({ disconnectedAt: new Date(), socketId: null } as never, {
        where: { id: sessionId, socketId },
      }).catch((err: unknown) => flux.log.warn('could not record a disconnection:', err)),
    );
  });
  const { sessionCleanupMs } = flux.config.auth;
  if (sessionCleanupMs) {
    const timer = setInterval(() => {
      authService
        .cleanupExpiredSessions()
        .catch((err: unknown) => flux.log.warn('session clean-up failed:', err));
    }, sessionCleanupMs);
    timer.unref();
    flux.onStop(() => clearInterval(timer));
  }
  await createFirstAdmin(flux);
}

/**
 * First start (SPEC §1): when the database has no user, creates the tenant `default`, the team `Admin`
 * (role `admin`) and the user `admin`, whose password is `FLUX_ADMIN_PASSWORD` or a random one printed
 * once on the console.
 */
async function createFirstAdmin(flux: FluxApp): Promise<void> {
  const { Tenant, Team, User } = flux.models as unknown as {
    Tenant: typeof import('./models/Tenant.js').Tenant;
    Team: typeof import('./models/Team.js').Team;
    User: typeof import('./models/User.js').User;
  };
  const [tenant] = await Tenant.findOrCreate({
    where: { slug: DEFAULT_TENANT },
    defaults: { name: 'Default', slug: DEFAULT_TENANT },
  });
  if ((await User.count()) > 0) return;
  const configured = (flux.config.bootstrap as { adminPassword?: string } | undefined)?.adminPassword;
  const password = configured || randomBytes(12).toString('base64url');
  await flux.sequelize.transaction(async (transaction) => {
    const [team] = await Team.findOrCreate({
      where: { tenantId: tenant.id, name: 'Admin' },
      defaults: { tenantId: tenant.id, name: 'Admin', role: 'admin', group: null, location: null },
      transaction,
    });
    await User.create(
      { tenantId: tenant.id, login: 'admin', name: 'Administrator', password, teamId: team.id, ip: null },
      { transaction },
    );
  });
  if (configured) {
    flux.log.info('Created the bootstrap user "admin" with the password from FLUX_ADMIN_PASSWORD.');
  } else {
    // Printed once, on purpose, straight to the console: it is never written to a log file.
    process.stdout.write(
      `\n  Created the bootstrap user "admin" with password: ${password}\n  (set FLUX_ADMIN_PASSWORD to choose it)\n\n`,
    );
  }
}
