import { Flux } from '../../lib/Flux.js';
import type { PermissionTeam } from '../../lib/permissions.js';
import type { FluxSocket } from '../../lib/socket/types.js';
import type { StatsView } from '../../lib/stats.js';
import type { Team } from '../models/Team.js';
import { authService, DEFAULT_TENANT } from './AuthService.js';

/**
 * Who sees the live statistics (docs/stats.md): a team with `stats/read` sees its tenant's figures, and,
 * with `tenant/admin` in the `default` tenant (the platform operator), every tenant's. Their sockets are
 * in the admins room of that view, from their login over the socket until the session ends or the
 * permission goes (api/services/SubscriptionService.ts recomputes it when a team or role changes).
 */

/**
 * The view of a member of `team` in `tenant`: `'platform'`, `{tenantId}`, or undefined without
 * `stats/read` (no team: undefined).
 */
export function statsView(
  team: PermissionTeam | null | undefined,
  tenant: { id: number; slug: string },
): StatsView | undefined {
  if (!team?.can('stats/read')) return undefined;
  return tenant.slug === DEFAULT_TENANT && team.can('tenant/admin') ? 'platform' : { tenantId: tenant.id };
}

/**
 * Puts a bound socket in the admins room of its user's view, or takes it out of its room when the user
 * may not see statistics (nothing when statistics are off: `stats.intervalMs` 0).
 */
export function watchStats(
  socket: FluxSocket,
  team: PermissionTeam | null | undefined,
  tenant: { id: number; slug: string },
): void {
  Flux.stats?.watch(socket, statsView(team, tenant));
}

/**
 * Recomputes the admins room of the sockets of `users` on this instance, after their team or its role
 * changed (`users` with their `team` loaded).
 */
export async function refreshStatsRooms(
  users: ReadonlyArray<{ id: number; tenantId: number; team?: Team | null }>,
): Promise<void> {
  if (!Flux.stats) return;
  for (const user of users) {
    if (Flux.sockets.socketsOfUser(user.id).length === 0) continue;
    const tenant = await authService.tenantById(user.tenantId); // cached
    if (!tenant) continue;
    for (const socket of Flux.sockets.socketsOfUser(user.id)) watchStats(socket, user.team, tenant);
  }
}
