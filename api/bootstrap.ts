import { randomBytes } from 'node:crypto';
import type { FluxApp } from '../lib/Flux.js';
import { DEFAULT_TENANT } from './services/AuthService.js';

/**
 * First start (SPEC §1): when the database has no user, creates the tenant `default`, the team `Admin`
 * (role `admin`) and the user `admin`, whose password is `FLUX_ADMIN_PASSWORD` or a random one printed
 * once on the console.
 */
export async function bootstrap(flux: FluxApp): Promise<void> {
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
