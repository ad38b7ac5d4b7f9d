import { useEffect, useState } from 'preact/hooks';
import { session } from '../state';

/** Role name → its permissions, as `GET /auth/roles` answers. */
export type Roles = Record<string, string[]>;

/** The roles table (`GET /auth/roles`), read once per page; `{}` until it is in. */
export function useRoles(): Roles {
  const [roles, setRoles] = useState<Roles>({});
  const client = session.client.value;
  useEffect(() => {
    let gone = false;
    client.request<Roles>('GET', '/auth/roles').then(
      ({ data }) => !gone && setRoles(data),
      () => undefined, // the role list stays empty; saving still names the refusal
    );
    return () => {
      gone = true;
    };
  }, [client]);
  return roles;
}

/**
 * True when the user's team holds every permission of `role`, which the server requires to give a team
 * that role, or to change a team or a user of it (docs/permissions.md). `tenant/admin` is left out: /auth/me
 * lists it only in the operator's tenant, while a tenant's `admin` role still holds it.
 */
export function canGrant(roles: Roles, role: string): boolean {
  const permissions = roles[role];
  if (!permissions) return false;
  return permissions.every((permission) => permission === 'tenant/admin' || session.can(permission));
}
