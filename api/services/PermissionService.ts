import { ForbiddenError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { PermissionTeam } from '../../lib/permissions.js';

/**
 * No escalation through administration: whoever gives a team a role, or puts a user into a team, must
 * already hold every permission of that role — itself, or `<model>/admin`, which covers every level of
 * its model. (`team/admin` and `user/admin` otherwise let a team grant itself the `admin` role.)
 * @throws ForbiddenError (403) naming the permissions the actor lacks.
 */
export function assertCanGrantRole(actor: PermissionTeam, role: string): void {
  const granted = Flux.roles.get(role);
  if (!granted) return; // an unknown role is refused by the model's validation
  const holds = (permission: string) =>
    actor.can(permission) || actor.can(`${permission.split('/')[0]}/admin`);
  const missing = [...granted].filter((permission) => !holds(permission));
  if (missing.length) {
    throw new ForbiddenError(
      `Cannot grant the role "${role}": it holds permissions you do not (${missing.slice(0, 5).join(', ')})`,
    );
  }
}
