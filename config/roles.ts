/**
 * Roles (docs/reference.md#permissions-and-models; docs/permissions.md): role name → permissions
 * `<model>/<level>`. A team has one role; its members act with the role's permissions. Checked at start: an
 * unknown model or level stops the server. See docs/permissions.md for what each permission lets a team read
 * and write.
 */
export default {
  /** Runs the platform (in the `default` tenant) or an event: everything. */
  admin: [
    'tenant/admin',
    'auth/as',
    'team/admin',
    'user/admin',
    'session/read',
    'session/admin',
    'upload/admin',
    'alert/admin',
    'alertButton/admin',
    'message/admin',
    'job/admin',
    'stats/read',
  ],
  /** The coordination desk: sees and handles every alert and channel, manages teams, users and buttons. */
  coord: ['team/admin', 'user/admin', 'session/read', 'alert/admin', 'alertButton/admin', 'message/admin'],
  /** Organisers: read everything of the event, talk in every public and group channel. */
  orga: [
    'team/read',
    'user/read',
    'alert/read',
    'alertButton/read',
    'alertButton/createAlert',
    'message/public',
    'message/group',
    'message/private',
  ],
  /** A bar: raises alerts from its group's buttons, sees its own alerts, talks in its own channel. */
  bar: ['team/read', 'user/team', 'alert/restrictedSender', 'alertButton/createAlert', 'message/oneChannel'],
  /** Logistics: receives and handles the alerts sent to it (beer, ice, cups), raises its own. */
  logistics: [
    'team/read',
    'user/team',
    'alert/restrictedSender',
    'alert/restrictedReceiver',
    'alertButton/createAlert',
    'message/public',
    'message/group',
    'message/private',
  ],
  /** Security: handles the alerts sent to it and those sent to nobody in particular. */
  security: [
    'team/read',
    'user/read',
    'alert/restrictedSender',
    'alert/restrictedReceiver',
    'alert/nullReceiver',
    'alertButton/createAlert',
    'message/public',
    'message/private',
  ],
};
