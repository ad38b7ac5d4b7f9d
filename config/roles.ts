/**
 * Roles (SPEC §10, §17): role name → permissions `<model>/<level>`. A team has one role; its members
 * act with the role's permissions. Checked at start: an unknown model or level stops the server.
 *
 * - `admin`   runs the platform or the event: administers everything, may act as another user.
 * - `coord`   the coordination desk: reads everything, administers teams and users of the event.
 * - `orga`    organisers: read teams and users.
 * - `bar`, `logistics`, `security`: field teams: read teams, and the users of their own team.
 */
export default {
  admin: ['tenant/admin', 'team/admin', 'user/admin', 'session/read', 'session/admin', 'auth/as'],
  coord: ['team/admin', 'user/admin', 'session/read'],
  orga: ['team/read', 'user/read'],
  bar: ['team/read', 'user/team'],
  logistics: ['team/read', 'user/team'],
  security: ['team/read', 'user/team'],
};
