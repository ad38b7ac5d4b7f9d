import { decodeToken, type Item } from '@flux/client';
import { useState } from 'preact/hooks';
import { ErrorMessage } from '../fields';
import { useLive } from '../live';
import { session } from '../state';
import { formatTime, ListState, PageHead, useAction } from './ui';

type Session = Item<'session'>;

/** What a session is now, as the list shows it. */
type SessionState = 'revoked' | 'expired' | 'disconnected' | 'active';

const stateLabels: Record<SessionState, string> = {
  revoked: 'Revoked',
  expired: 'Expired',
  disconnected: 'Disconnected',
  active: 'Active',
};

function stateOf(item: Session, now: number): SessionState {
  if (item.revokedAt) return 'revoked';
  if (item.expiresAt && Date.parse(item.expiresAt) <= now) return 'expired';
  return item.disconnectedAt ? 'disconnected' : 'active';
}

/**
 * Sessions (`session/read`): every sign-in of the event, live, with its device and state; `session/admin`
 * revokes any (a user may revoke their own): the device is signed out at once (docs/reference.md).
 */
export function Sessions() {
  const [showEnded, setShowEnded] = useState(false);
  const sessions = useLive('session', {
    filters: showEnded ? undefined : { revokedAt: { is: null } },
    sort: ['-createdAt'],
    limit: 300,
  });
  // the names of these sessions' users only: an event has thousands of users
  const userIds = [...new Set(sessions.items.map((item) => item.userId))].sort((a, b) => a - b);
  const users = useLive(
    'user',
    userIds.length ? { filters: { id: { in: userIds } }, limit: userIds.length } : null,
  );
  const revoke = useAction();
  const me = session.me.value!.user;
  const token = session.client.value.token;
  const current = token ? decodeToken(token)?.sessionId : undefined;
  const now = Date.now();
  const userName = (id: number) => {
    const user = users.items.find((candidate) => candidate.id === id);
    if (user) return user.name || user.login;
    return users.ready ? `User #${id}` : '…';
  };

  const end = (item: Session) => {
    const who = userName(item.userId);
    const message =
      item.id === current
        ? 'Revoke your own session? You will be signed out.'
        : `Revoke the session of ${who}? Their device is signed out at once.`;
    if (!confirm(message)) return;
    void revoke.run(() => session.client.value.service('session').remove(item.id));
  };

  return (
    <section aria-labelledby="sessions-title">
      <PageHead id="sessions-title" title="Sessions" count={sessions.items.length}>
        <label class="check">
          <input
            type="checkbox"
            checked={showEnded}
            onChange={(e) => setShowEnded(e.currentTarget.checked)}
          />
          Show revoked sessions
        </label>
      </PageHead>
      <ErrorMessage text={revoke.error} />
      <ListState ready={sessions.ready} error={sessions.error} empty={sessions.items.length === 0} />
      {sessions.items.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">State</th>
              <th scope="col">Address</th>
              <th scope="col">Device</th>
              <th scope="col">Last action</th>
              <th scope="col">Signed in</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.items.map((item) => {
              const state = stateOf(item, now);
              const mayRevoke = !item.revokedAt && (item.userId === me.id || session.can('session/admin'));
              return (
                <tr key={item.id} data-session-id={item.id} data-state={state}>
                  <th scope="row" data-label="User">
                    {userName(item.userId)}
                    {item.id === current && <span class="badge">this session</span>}
                  </th>
                  <td data-label="State">
                    <span class={`badge state ${state}`}>{stateLabels[state]}</span>
                  </td>
                  <td data-label="Address">
                    <code>{item.ip ?? '—'}</code>
                  </td>
                  <td data-label="Device" title={item.userAgent ?? undefined}>
                    {describeAgent(item.userAgent)}
                  </td>
                  <td class="time" data-label="Last action">
                    {formatTime(item.lastAction)}
                  </td>
                  <td class="time" data-label="Signed in">
                    {formatTime(item.createdAt)}
                  </td>
                  <td class="row-actions">
                    {mayRevoke && (
                      <button
                        type="button"
                        class="secondary danger"
                        aria-label={`Revoke the session of ${userName(item.userId)}`}
                        disabled={revoke.busy}
                        onClick={() => end(item)}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

const browsers: Array<[RegExp, string]> = [
  [/Edg\/(\d+)/, 'Edge'],
  [/Firefox\/(\d+)/, 'Firefox'],
  [/(?:Chrome|Chromium)\/(\d+)/, 'Chrome'],
  [/Version\/(\d+).*Safari/, 'Safari'],
  [/node|undici|curl|axios/i, 'Script'],
];
const systems: Array<[RegExp, string]> = [
  [/Android/, 'Android'],
  [/iPhone|iPad/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X/, 'macOS'],
  [/Linux/, 'Linux'],
];

/** A user agent in a few words ("Chrome 131 on Android"); the whole string is the cell's title. */
function describeAgent(agent: string | null): string {
  if (!agent) return '—';
  const browser = browsers.find(([pattern]) => pattern.test(agent));
  const system = systems.find(([pattern]) => pattern.test(agent))?.[1];
  const version = browser ? agent.match(browser[0])?.[1] : undefined;
  const name = browser ? `${browser[1]}${version ? ` ${version}` : ''}` : agent.slice(0, 40);
  return system ? `${name} on ${system}` : name;
}
