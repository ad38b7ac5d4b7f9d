import { FluxError, type StatsPayload } from '@flux/client';
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { describeError } from '../errors';
import { useLive } from '../live';
import { session } from '../state';
import { Chart, type Line } from './Chart';
import { formatCount, formatMs, formatRate, formatSeconds } from './format';
import type { Sample } from './history';
import { useStats } from './useStats';
import './dashboard.css';

/** Teams drawn as lines of their own (the busiest over the charted minutes); the rest are summed. */
const TEAM_LINES = 6;
const TEAM_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#17a2b8', '#d4a017'];
const OTHER_TEAMS = '#9c755f';
const TOTAL = '#8a919c';
const AUTHENTICATED = '#a57be0';
/** Stats are late when none came for this many intervals (and at least `STALE_MIN_MS`). */
const STALE_INTERVALS = 3;
const STALE_MIN_MS = 2_000;

/**
 * The admins' dashboard (docs/stats.md): the `stats` figures of the last minutes as charts and as big
 * numbers, live. Users without `stats/read` see a sentence and nothing of the figures.
 */
export function Dashboard() {
  if (!session.can('stats/read'))
    return <p class="empty">Your team's role does not include the statistics (stats/read).</p>;
  return <StatsBoard />;
}

function StatsBoard() {
  const { history, version, error } = useStats();
  const teams = useLive('team', { sort: ['name'], limit: 1000 });
  const now = useNow(1_000);
  const samples = useMemo(() => history.samples(), [history, version]);
  const latest = samples[samples.length - 1];

  const names = useMemo(
    () => new Map(teams.items.map((team) => [String(team.id), team.name])),
    [teams.items],
  );

  if (!latest)
    return (
      <section class="dashboard" aria-labelledby="dashboard-title">
        <h1 id="dashboard-title">Dashboard</h1>
        {error ? (
          <p class="error" role="alert">
            {error instanceof FluxError && error.status === 404
              ? 'Statistics are turned off on this server (stats.intervalMs is 0).'
              : describeError(error)}
          </p>
        ) : (
          <p class="loading">Waiting for the first figures…</p>
        )}
      </section>
    );

  const stats = latest.stats;
  const staleAfter = Math.max(STALE_MIN_MS, STALE_INTERVALS * (history.interval() ?? 0));
  const age = Math.max(0, now - latest.receivedAt);
  const stale = age > staleAfter;
  const platform = stats.scope === 'platform';

  return (
    <section class={`dashboard${stale ? ' stale' : ''}`} aria-labelledby="dashboard-title">
      <header class="dashboard-head">
        <h1 id="dashboard-title">Dashboard</h1>
        <span class="badge scope" data-stat="scope" data-value={stats.scope}>
          {platform ? 'Platform · every event' : 'This event'}
        </span>
        <Freshness stale={stale} age={age} at={stats.at} />
      </header>

      <Figures stats={stats} />

      <div class="panels">
        <SocketsPanel samples={samples} names={names} />
        {stats.rates ? (
          <RatesPanel samples={samples} />
        ) : (
          <PlatformOnly id="rates" title="Requests and events per second">
            The request and event rates are the whole platform's: they would tell one event how busy the
            others are.
          </PlatformOnly>
        )}
        <LatencyPanel samples={samples} />
        {stats.jobs ? (
          <JobsPanel samples={samples} />
        ) : (
          <PlatformOnly id="jobs" title="Job queues">
            The background jobs of every event share the platform's queues.
          </PlatformOnly>
        )}
        {stats.db ? (
          <DatabasePanel samples={samples} />
        ) : (
          <PlatformOnly id="db" title="Database pool">
            Every event shares the platform's database connections.
          </PlatformOnly>
        )}
      </div>
    </section>
  );
}

/** When the figures were made, or, when they stopped coming, for how long. */
function Freshness({ stale, age, at }: { stale: boolean; age: number; at: number }) {
  return (
    <span class="freshness">
      <span role="status">
        {stale && (
          <strong class="no-data" data-stat="no-data">
            {/* announced once; the counter that follows is for the eyes */}
            <span class="visually-hidden">No new figures since {new Date(at).toLocaleTimeString()}</span>
            <span aria-hidden="true">No data for {formatSeconds(age / 1000)}</span>
          </strong>
        )}
      </span>
      {!stale && (
        <span class="updated">
          <span class="pulse" aria-hidden="true" /> Live · {new Date(at).toLocaleTimeString()}
        </span>
      )}
    </span>
  );
}

/** The current figures, big: what an operator reads from across the room. */
function Figures({ stats }: { stats: StatsPayload }) {
  const { sockets, rates, latencyMs, jobs, db } = stats;
  return (
    <dl class="figures">
      <Figure stat="sockets" label="Sockets" value={sockets.total} text={formatCount(sockets.total)}>
        <span data-stat="authenticated" data-value={sockets.authenticated}>
          {formatCount(sockets.authenticated)}
        </span>{' '}
        signed in
      </Figure>
      {rates && (
        <Figure
          stat="requests"
          label="Requests / s"
          value={rates.http + rates.socket}
          text={formatRate(rates.http + rates.socket)}
        >
          HTTP{' '}
          <span data-stat="http-rate" data-value={rates.http}>
            {formatRate(rates.http)}
          </span>{' '}
          · socket{' '}
          <span data-stat="socket-rate" data-value={rates.socket}>
            {formatRate(rates.socket)}
          </span>
        </Figure>
      )}
      {rates && (
        <Figure stat="events" label="Events / s" value={rates.events} text={formatRate(rates.events)}>
          model changes published
        </Figure>
      )}
      <Figure stat="p50" label="Latency p50" value={latencyMs.p50} text={formatMs(latencyMs.p50)} unit="ms">
        p99{' '}
        <span data-stat="p99" data-value={latencyMs.p99}>
          {formatMs(latencyMs.p99)}
        </span>{' '}
        ms
      </Figure>
      {jobs && (
        <Figure
          stat="jobs-waiting"
          label="Jobs waiting"
          value={jobs.waiting}
          text={formatCount(jobs.waiting)}
        >
          <span data-stat="jobs-active" data-value={jobs.active}>
            {formatCount(jobs.active)}
          </span>{' '}
          running ·{' '}
          <span class={jobs.failed ? 'failed' : undefined} data-stat="jobs-failed" data-value={jobs.failed}>
            {formatCount(jobs.failed)} failed
          </span>
        </Figure>
      )}
      {db && (
        <Figure
          stat="db-used"
          label="Database pool"
          value={db.poolUsed}
          text={`${formatCount(db.poolUsed)} / ${formatCount(db.poolSize)}`}
        >
          in use / open
        </Figure>
      )}
      <Figure stat="instances" label="Instances" value={stats.instances} text={formatCount(stats.instances)}>
        reporting
      </Figure>
      {!rates && (
        <div class="figure unavailable">
          <dt>Rates, jobs, database</dt>
          <dd>
            <span class="value">—</span>
            <span class="detail">platform only</span>
          </dd>
        </div>
      )}
    </dl>
  );
}

interface FigureProps {
  stat: string;
  label: string;
  value: number;
  text: string;
  unit?: string;
  children?: ComponentChildren;
}

function Figure({ stat, label, value, text, unit, children }: FigureProps) {
  return (
    <div class="figure">
      <dt>{label}</dt>
      <dd>
        <span class="value" data-stat={stat} data-value={value}>
          {text}
        </span>
        {unit && <span class="unit"> {unit}</span>}
        <span class="detail">{children}</span>
      </dd>
    </div>
  );
}

/** The x column of the charts: arrival times in seconds (uPlot's time unit). */
function times(samples: Sample[]): number[] {
  return samples.map((sample) => sample.receivedAt / 1000);
}

/** A team's name, from the live team list (a platform admin also sees other events' teams: by id). */
function nameOf(names: Map<string, string>, id: string): string {
  return names.get(id) ?? `Team ${id}`;
}

function SocketsPanel({ samples, names }: { samples: Sample[]; names: Map<string, string> }) {
  const latest = samples[samples.length - 1]!.stats.sockets;
  const { lines, data } = useMemo(() => socketSeries(samples, names), [samples, names]);
  const online = Object.entries(latest.byTeam).sort(
    ([a, x], [b, y]) => y - x || nameOf(names, a).localeCompare(nameOf(names, b)),
  );
  return (
    <Panel id="sockets" title="Sockets per team" lines={lines} data={data} format={formatCount} integer wide>
      <h3 class="teams-title">Teams online now</h3>
      {online.length ? (
        <ul class="teams">
          {online.map(([id, count]) => (
            <li key={id} data-stat="team-sockets" data-team-id={id} data-value={count}>
              <span>{nameOf(names, id)}</span> <strong>{formatCount(count)}</strong>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No team has a socket open.</p>
      )}
    </Panel>
  );
}

/**
 * The lines of the sockets chart: total and signed in, the busiest teams over the charted minutes (by
 * their peak, then by id, so that the colours stay put), the other teams summed.
 */
function socketSeries(
  samples: Sample[],
  names: Map<string, string>,
): { lines: Line[]; data: uPlot.AlignedData } {
  const peaks = new Map<string, number>();
  for (const { stats } of samples)
    for (const [id, count] of Object.entries(stats.sockets.byTeam))
      peaks.set(id, Math.max(peaks.get(id) ?? 0, count));
  const ranked = [...peaks].sort(([a, x], [b, y]) => y - x || Number(a) - Number(b)).map(([id]) => id);
  const charted = ranked.slice(0, TEAM_LINES);
  const others = ranked.length > TEAM_LINES;
  const lines: Line[] = [
    { label: 'Total', color: TOTAL, dashed: true },
    { label: 'Signed in', color: AUTHENTICATED, dashed: true },
    ...charted.map((id, i) => ({ label: nameOf(names, id), color: TEAM_COLORS[i]! })),
    ...(others ? [{ label: 'Other teams', color: OTHER_TEAMS }] : []),
  ];
  const data: uPlot.AlignedData = [
    times(samples),
    samples.map(({ stats }) => stats.sockets.total),
    samples.map(({ stats }) => stats.sockets.authenticated),
    ...charted.map((id) => samples.map(({ stats }) => stats.sockets.byTeam[id] ?? 0)),
    ...(others
      ? [
          samples.map(({ stats }) =>
            Object.entries(stats.sockets.byTeam)
              .filter(([id]) => !charted.includes(id))
              .reduce((sum, [, count]) => sum + count, 0),
          ),
        ]
      : []),
  ];
  return { lines, data };
}

function RatesPanel({ samples }: { samples: Sample[] }) {
  const lines: Line[] = [
    { label: 'HTTP', color: '#4e79a7' },
    { label: 'Socket', color: '#f28e2b' },
    { label: 'Events', color: '#59a14f' },
  ];
  const data = useMemo<uPlot.AlignedData>(
    () => [
      times(samples),
      samples.map(({ stats }) => stats.rates?.http ?? null),
      samples.map(({ stats }) => stats.rates?.socket ?? null),
      samples.map(({ stats }) => stats.rates?.events ?? null),
    ],
    [samples],
  );
  return (
    <Panel id="rates" title="Requests and events per second" lines={lines} data={data} format={formatRate} />
  );
}

function LatencyPanel({ samples }: { samples: Sample[] }) {
  const lines: Line[] = [
    { label: 'p50', color: '#4e79a7' },
    { label: 'p99', color: '#e15759' },
  ];
  const data = useMemo<uPlot.AlignedData>(
    () => [
      times(samples),
      samples.map(({ stats }) => stats.latencyMs.p50),
      samples.map(({ stats }) => stats.latencyMs.p99),
    ],
    [samples],
  );
  return <Panel id="latency" title="Request latency (ms)" lines={lines} data={data} format={formatMs} />;
}

function JobsPanel({ samples }: { samples: Sample[] }) {
  const lines: Line[] = [
    { label: 'Waiting', color: '#d4a017' },
    { label: 'Running', color: '#4e79a7' },
    { label: 'Failed', color: '#e15759' },
  ];
  const data = useMemo<uPlot.AlignedData>(
    () => [
      times(samples),
      samples.map(({ stats }) => stats.jobs?.waiting ?? null),
      samples.map(({ stats }) => stats.jobs?.active ?? null),
      samples.map(({ stats }) => stats.jobs?.failed ?? null),
    ],
    [samples],
  );
  return <Panel id="jobs" title="Job queues" lines={lines} data={data} format={formatCount} integer />;
}

function DatabasePanel({ samples }: { samples: Sample[] }) {
  const lines: Line[] = [
    { label: 'In use', color: '#f28e2b' },
    { label: 'Open', color: TOTAL, dashed: true },
  ];
  const data = useMemo<uPlot.AlignedData>(
    () => [
      times(samples),
      samples.map(({ stats }) => stats.db?.poolUsed ?? null),
      samples.map(({ stats }) => stats.db?.poolSize ?? null),
    ],
    [samples],
  );
  return (
    <Panel
      id="db"
      title="Database pool (connections)"
      lines={lines}
      data={data}
      format={formatCount}
      integer
    />
  );
}

interface PanelProps {
  id: string;
  title: string;
  lines: Line[];
  data: uPlot.AlignedData;
  format: (value: number) => string;
  integer?: boolean;
  /** Spans two columns on a wide screen. */
  wide?: boolean;
  children?: ComponentChildren;
}

/** A chart with its title and a legend that reads the latest values, or those under the pointer. */
function Panel({ id, title, lines, data, format, integer, wide, children }: PanelProps) {
  const [hovered, setHovered] = useState<number | null>(null);
  const count = data[0].length;
  const index = hovered !== null && hovered < count ? hovered : count - 1;
  return (
    <section class={`panel${wide ? ' wide' : ''}`} aria-labelledby={`${id}-title`} data-chart={id}>
      <header class="panel-head">
        <h2 id={`${id}-title`}>{title}</h2>
        {hovered !== null && (
          <span class="muted">{new Date(data[0][index]! * 1000).toLocaleTimeString()}</span>
        )}
      </header>
      <ul class="legend">
        {lines.map((line, i) => {
          const value = data[i + 1]![index];
          return (
            <li key={line.label}>
              <span class={`swatch${line.dashed ? ' dashed' : ''}`} style={`--swatch: ${line.color}`} />
              {line.label} <strong>{value == null ? '–' : format(value)}</strong>
            </li>
          );
        })}
      </ul>
      <Chart label={title} lines={lines} data={data} format={format} integer={integer} onHover={setHovered} />
      {children}
    </section>
  );
}

/** A panel of an operator figure, in a tenant's view: said so, rather than an empty chart. */
function PlatformOnly({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section class="panel platform-only" aria-labelledby={`${id}-title`} data-chart={id} data-platform-only>
      <header class="panel-head">
        <h2 id={`${id}-title`}>{title}</h2>
        <span class="badge">Platform only</span>
      </header>
      <p class="muted">{children} Only the platform's administrators see it.</p>
    </section>
  );
}

/** The current time, renewed every `ms`. */
function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
