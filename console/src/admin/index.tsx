import { session } from '../state';

/** The administration pages, each offered when the user's permissions allow it. (Not built yet.) */
export const adminLinks = [{ page: 'admin/teams', label: 'Teams', allowed: () => session.can('team/admin') }];

export function AdminPages() {
  return <h1>Administration</h1>;
}
