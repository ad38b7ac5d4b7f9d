import type { Filter, Item } from '@flux/client';
import { useMemo, useState } from 'preact/hooks';
import { describeError } from '../errors';
import { useLive } from '../live';
import { session } from '../state';
import { AlertRow, type Names, severityLabels } from './AlertRow';
import { RaiseButtons } from './RaiseButtons';
import { raiseableButtons, type Viewer } from './rights';
import { useNow } from './time';
import './board.css';

type Alert = Item<'alert'>;
type Severity = Alert['severity'];

/** The newest alerts the board holds; older ones are in the API (`GET /alert` with an offset). */
const LIMIT = 200;
const SEVERITIES: readonly Severity[] = ['serious', 'warning', 'done'];

/** The board's filters, as the user set them. */
interface Filters {
  severities: readonly Severity[];
  /** A team's id, or null for every team. */
  team: number | null;
  side: 'either' | 'sender' | 'receiver';
  acknowledged: 'all' | 'no' | 'yes';
}

const noFilters: Filters = { severities: SEVERITIES, team: null, side: 'either', acknowledged: 'all' };

/**
 * The board's filters as the live query's `filters`: the server applies them (and the client's live
 * query by the same rules), so the list is exactly what `GET /alert` with them answers. Null when no
 * severity is chosen (nothing to ask).
 */
export function alertFilters(filters: Filters): Filter<Alert> | null {
  if (filters.severities.length === 0) return null;
  const and: Filter<Alert>[] = [];
  if (filters.severities.length < SEVERITIES.length) and.push({ severity: { in: [...filters.severities] } });
  const team = filters.team;
  if (team !== null) {
    if (filters.side === 'sender') and.push({ senderTeamId: team });
    else if (filters.side === 'receiver') and.push({ receiverTeamId: team });
    else and.push({ or: [{ senderTeamId: team }, { receiverTeamId: team }] });
  }
  if (filters.acknowledged === 'no') and.push({ acknowledgedAt: null });
  if (filters.acknowledged === 'yes') and.push({ acknowledgedAt: { not: null } });
  return and.length === 0 ? {} : and.length === 1 ? and[0]! : { and };
}

/**
 * The alert board (`/console/board`): the alert buttons the user may press, first (the bar's tablet),
 * then every alert the user may read, newest first, live, with filters by severity, team and
 * acknowledgement, and the actions the user's team may take on each.
 */
export function Board() {
  const me = session.me.value!;
  const viewer: Viewer = { team: me.team, can: (permission) => session.can(permission) };
  const [filters, setFilters] = useState<Filters>(noFilters);
  const now = useNow();
  const [openedAt] = useState(Date.now);

  const where = alertFilters(filters);
  const alerts = useLive('alert', where && { filters: where, sort: ['-createdAt', '-id'], limit: LIMIT });
  const teams = useLive('team', { sort: ['name'], limit: 1000 });
  const users = useLive('user', { sort: ['name', 'login'], limit: 1000 });
  const buttonQuery = raiseableButtons(viewer);
  const buttons = useLive('alertButton', buttonQuery && { ...buttonQuery, sort: ['category', 'title'] });

  const names = useMemo<Names>(() => {
    const teamNames = new Map(teams.items.map((team) => [team.id, team.name]));
    const userNames = new Map(users.items.map((user) => [user.id, user.name || user.login]));
    return {
      team: (id) => (id === null ? 'Nobody' : (teamNames.get(id) ?? `Team ${id}`)),
      user: (id) => userNames.get(id) ?? null,
    };
  }, [teams.items, users.items]);

  return (
    <section class="board" aria-labelledby="board-title">
      {buttonQuery && buttons.items.length > 0 && (
        <RaiseButtons
          buttons={buttons.items}
          teamName={names.team}
          collapsed={viewer.can('alertButton/admin')}
        />
      )}
      <div class="board-head">
        <h1 id="board-title">Alerts</h1>
        <Summary alerts={alerts.items} />
      </div>
      <FilterBar filters={filters} teams={teams.items} onChange={setFilters} />
      <AlertList
        alerts={alerts}
        asked={!!where}
        filtered={JSON.stringify(filters) !== JSON.stringify(noFilters)}
        viewer={viewer}
        names={names}
        users={users.items}
        now={now}
        since={openedAt}
      />
    </section>
  );
}

/** Counts of the list as shown: how many, how many serious, how many nobody acknowledged yet. */
function Summary({ alerts }: { alerts: readonly Alert[] }) {
  const serious = alerts.filter((alert) => alert.severity === 'serious').length;
  const open = alerts.filter((alert) => !alert.acknowledgedAt && alert.severity !== 'done').length;
  return (
    <p class="board-summary" aria-live="polite">
      <span>
        {alerts.length === LIMIT ? `newest ${LIMIT}` : alerts.length} alert{alerts.length === 1 ? '' : 's'}
      </span>
      {serious > 0 && <span class="count-serious">{serious} serious</span>}
      {open > 0 && <span class="count-open">{open} to acknowledge</span>}
    </p>
  );
}

function FilterBar({
  filters,
  teams,
  onChange,
}: {
  filters: Filters;
  teams: readonly Item<'team'>[];
  onChange(filters: Filters): void;
}) {
  // open on a desk, folded on a phone where the buttons and the alerts come first
  const [wide] = useState(() => matchMedia('(min-width: 48rem)').matches);
  const active =
    (filters.severities.length < SEVERITIES.length ? 1 : 0) +
    (filters.team !== null ? 1 : 0) +
    (filters.acknowledged !== 'all' ? 1 : 0);
  const set = (change: Partial<Filters>) => onChange({ ...filters, ...change });
  return (
    <details class="filters" open={wide}>
      <summary>Filters{active > 0 ? ` (${active})` : ''}</summary>
      <form class="filter-bar" aria-label="Filter alerts" onSubmit={(event) => event.preventDefault()}>
        <fieldset class="severity-filter">
          <legend>Severity</legend>
          {SEVERITIES.map((severity) => (
            <label key={severity} class={`chip sev-${severity}`}>
              <input
                type="checkbox"
                checked={filters.severities.includes(severity)}
                onChange={(event) =>
                  set({
                    severities: SEVERITIES.filter((s) =>
                      s === severity ? event.currentTarget.checked : filters.severities.includes(s),
                    ),
                  })
                }
              />
              {severityLabels[severity]}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="filter-team">Team</label>
          <select
            id="filter-team"
            value={filters.team ?? ''}
            onChange={(event) => {
              const value = event.currentTarget.value;
              set({ team: value ? Number(value) : null });
            }}
          >
            <option value="">Every team</option>
            {teams.map((team) => (
              <option key={team.id} value={team.id}>
                {team.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-side">As</label>
          <select
            id="filter-side"
            value={filters.side}
            disabled={filters.team === null}
            onChange={(event) => set({ side: event.currentTarget.value as Filters['side'] })}
          >
            <option value="either">Sender or receiver</option>
            <option value="sender">Sender</option>
            <option value="receiver">Receiver</option>
          </select>
        </div>
        <div class="field">
          <label for="filter-acknowledged">Acknowledged</label>
          <select
            id="filter-acknowledged"
            value={filters.acknowledged}
            onChange={(event) => set({ acknowledged: event.currentTarget.value as Filters['acknowledged'] })}
          >
            <option value="all">All</option>
            <option value="no">Not acknowledged</option>
            <option value="yes">Acknowledged</option>
          </select>
        </div>
        {active > 0 && (
          <button type="button" class="secondary" onClick={() => onChange(noFilters)}>
            Clear filters
          </button>
        )}
      </form>
    </details>
  );
}

function AlertList({
  alerts,
  asked,
  filtered,
  viewer,
  names,
  users,
  now,
  since,
}: {
  alerts: { items: readonly Alert[]; ready: boolean; error: unknown };
  asked: boolean;
  filtered: boolean;
  viewer: Viewer;
  names: Names;
  users: readonly Item<'user'>[];
  now: number;
  since: number;
}) {
  if (!asked) return <p class="empty">Choose at least one severity.</p>;
  if (alerts.error && alerts.items.length === 0)
    return (
      <p class="error" role="alert">
        The alerts cannot be read: {describeError(alerts.error)}
      </p>
    );
  if (!alerts.ready) return <p class="loading">Loading alerts…</p>;
  if (alerts.items.length === 0)
    return <p class="empty">{filtered ? 'No alert matches these filters.' : 'No alerts. All quiet.'}</p>;
  return (
    <>
      <div class="alert-columns" aria-hidden="true">
        <span>Severity</span>
        <span>Alert</span>
        <span>From → to</span>
        <span>Raised</span>
        <span>Handling</span>
        <span />
      </div>
      <ol class="alert-list" aria-label="Alerts, newest first">
        {alerts.items.map((alert) => (
          <AlertRow
            key={alert.id}
            alert={alert}
            viewer={viewer}
            names={names}
            users={users}
            now={now}
            since={since}
          />
        ))}
      </ol>
    </>
  );
}
