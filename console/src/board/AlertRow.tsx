import type { Item } from '@flux/client';
import { useState } from 'preact/hooks';
import { describeError } from '../errors';
import { session } from '../state';
import { AssignDialog } from './AssignDialog';
import { canAcknowledge, canUpdate, type Viewer } from './rights';
import { ago, clockTime, fullTime } from './time';

type Alert = Item<'alert'>;

export const severityLabels: Record<Alert['severity'], string> = {
  serious: 'Serious',
  warning: 'Warning',
  done: 'Done',
};

/** Names the board shows for ids: teams and users the viewer may read. */
export interface Names {
  team(id: number | null): string;
  /** Null when the user is not readable by the viewer. */
  user(id: number): string | null;
}

/**
 * One alert: severity (and "escalated"), title, message, sender → receiver, time, assigned users,
 * acknowledgement, and the actions the viewer may take on it (acknowledge, assign users, mark done).
 * A row on a desk, a card on a phone (board.css).
 */
export function AlertRow({
  alert,
  viewer,
  names,
  users,
  now,
  since,
}: {
  alert: Alert;
  viewer: Viewer;
  names: Names;
  users: readonly Item<'user'>[];
  now: number;
  /** When the board opened: what happens after it (a new alert, an escalation) flashes once. */
  since: number;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [assigning, setAssigning] = useState(false);
  const titleId = `alert-${alert.id}-title`;

  const act = async (what: string, request: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await request();
      return true;
    } catch (caught) {
      setError(`Could not ${what}: ${describeError(caught)}`);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const client = session.client.value;
  const acknowledge = () =>
    void act('acknowledge', () => client.request('POST', `/alert/${alert.id}/acknowledge`));
  const markDone = () =>
    void act('mark it done', () => client.service('alert').patch(alert.id, { severity: 'done' }));
  const assign = async (ids: number[]) => {
    if (await act('assign', () => client.request('PUT', `/alert/${alert.id}/users`, { users: ids })))
      setAssigning(false);
  };

  const handler = canUpdate(viewer, alert);
  const escalated = !!alert.escalatedAt;
  const fresh = Date.parse(alert.createdAt) > since;
  const acknowledger = alert.acknowledgedById === null ? null : names.user(alert.acknowledgedById);

  return (
    <li
      class={`alert-row sev-${alert.severity}${escalated ? ' escalated' : ''}${fresh ? ' fresh' : ''}`}
      data-alert-id={alert.id}
      data-severity={alert.severity}
      data-acknowledged={alert.acknowledgedAt ? 'true' : 'false'}
      data-escalated={escalated ? 'true' : 'false'}
      aria-labelledby={titleId}
    >
      <div class="alert-severity">
        <span class="severity-badge">{severityLabels[alert.severity]}</span>
        {escalated && (
          <span
            class={`escalated-badge${Date.parse(alert.escalatedAt!) > since ? ' fresh' : ''}`}
            title={`Escalated ${fullTime(alert.escalatedAt!)}`}
          >
            Escalated
          </span>
        )}
      </div>
      <div class="alert-main">
        <h3 id={titleId} class="alert-title">
          {alert.title}
        </h3>
        {alert.message && <p class="alert-message">{alert.message}</p>}
      </div>
      <p class="alert-route">
        {names.team(alert.senderTeamId)} →{' '}
        {alert.receiverTeamId === null ? <em>nobody in particular</em> : names.team(alert.receiverTeamId)}
      </p>
      <p class="alert-time">
        <time dateTime={alert.createdAt} title={fullTime(alert.createdAt)}>
          {clockTime(alert.createdAt)}
        </time>{' '}
        <span class="muted ago">{ago(alert.createdAt, now)}</span>
        {escalated && <span class="escalated-at">escalated {clockTime(alert.escalatedAt!)}</span>}
      </p>
      <div class="alert-people">
        <p class="alert-assigned">
          {alert.users.length === 0 ? (
            <span class="muted">Nobody assigned</span>
          ) : (
            <>
              <span class="visually-hidden">Assigned: </span>
              {alert.users.map((id) => (
                <span key={id} class="person">
                  {names.user(id) ?? `User ${id}`}
                </span>
              ))}
            </>
          )}
        </p>
        <p class="alert-ack">
          {alert.acknowledgedAt ? (
            <span class="acknowledged" title={fullTime(alert.acknowledgedAt)}>
              ✓ Acknowledged {clockTime(alert.acknowledgedAt)}
              {acknowledger && <span class="ack-by"> by {acknowledger}</span>}
            </span>
          ) : (
            <span class="unacknowledged">Not acknowledged</span>
          )}
        </p>
      </div>
      <div class="alert-actions">
        {!alert.acknowledgedAt && alert.severity !== 'done' && canAcknowledge(viewer, alert) && (
          <button type="button" disabled={busy} aria-describedby={titleId} onClick={acknowledge}>
            Acknowledge
          </button>
        )}
        {handler && (
          <button
            type="button"
            class="secondary"
            disabled={busy}
            aria-describedby={titleId}
            onClick={() => setAssigning(true)}
          >
            Assign…
          </button>
        )}
        {handler && alert.severity !== 'done' && (
          <button
            type="button"
            class="secondary"
            disabled={busy}
            aria-describedby={titleId}
            onClick={markDone}
          >
            Mark done
          </button>
        )}
      </div>
      {error && !assigning && (
        <p class="error alert-error" role="alert">
          {error}
        </p>
      )}
      {assigning && (
        <AssignDialog
          alert={alert}
          users={users}
          teamName={names.team}
          busy={busy}
          error={error}
          onSave={(ids) => void assign(ids)}
          onClose={() => {
            setAssigning(false);
            setError(null);
          }}
        />
      )}
    </li>
  );
}
