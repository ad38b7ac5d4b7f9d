import type { Item } from '@flux/client';

/**
 * What the board needs to know about the signed-in user to decide which actions to offer: the team and
 * `can(permission)` as `session.can` answers it (`<namespace>/admin` counts for any level).
 */
export interface Viewer {
  team: Pick<Item<'team'>, 'id' | 'group'> | null;
  can(permission: string): boolean;
}

type AlertTeams = Pick<Item<'alert'>, 'senderTeamId' | 'receiverTeamId'>;

/**
 * Whether `POST /alert/:id/acknowledge` is the viewer's to send (docs/permissions.md, "Alert"): members
 * of the receiver team whatever their alert level, `alert/nullReceiver` for alerts sent to nobody,
 * `alert/admin` for all. The sender team and `alert/read` read the alert but may not acknowledge it.
 */
export function canAcknowledge(viewer: Viewer, alert: AlertTeams): boolean {
  if (viewer.can('alert/admin')) return true;
  if (alert.receiverTeamId === null) return viewer.can('alert/nullReceiver');
  return !!viewer.team && alert.receiverTeamId === viewer.team.id;
}

/**
 * Whether the viewer may update the alert (`PATCH` its severity, `PUT /alert/:id/users`): `alert/admin`,
 * or a handler — its sender (`restrictedSender`), its receiver (`restrictedReceiver`), or
 * `nullReceiver` for an alert sent to nobody. `alert/read` alone reads but changes nothing.
 */
export function canUpdate(viewer: Viewer, alert: AlertTeams): boolean {
  if (viewer.can('alert/admin')) return true;
  const own = viewer.team?.id;
  if (own && alert.senderTeamId === own && viewer.can('alert/restrictedSender')) return true;
  if (own && alert.receiverTeamId === own && viewer.can('alert/restrictedReceiver')) return true;
  return alert.receiverTeamId === null && viewer.can('alert/nullReceiver');
}

/**
 * The buttons the viewer may press, as a live query's parameters, or null when it may press none:
 * `alertButton/admin` presses any button, `alertButton/createAlert` those of its team's group
 * (reading every button with `alertButton/read` does not let a team press them).
 */
export function raiseableButtons(viewer: Viewer): { filters?: { senderGroup: string } } | null {
  if (viewer.can('alertButton/admin')) return {};
  const group = viewer.team?.group;
  return group && viewer.can('alertButton/createAlert') ? { filters: { senderGroup: group } } : null;
}
