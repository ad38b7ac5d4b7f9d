import { useEffect } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { AdminPages, adminLinks } from './admin';
import { Board } from './board/Board';
import { Chat } from './chat/Chat';
import { Dashboard } from './dashboard/Dashboard';
import { ResetPassword } from './pages/ResetPassword';
import { SignIn } from './pages/SignIn';
import { BASE, to } from './paths';
import { type Connection, session } from './state';

/** A page of the navigation, offered only when the user's permissions allow it. */
interface NavLink {
  page: string;
  label: string;
  allowed(): boolean;
}

const links: NavLink[] = [
  { page: 'board', label: 'Alerts', allowed: () => session.can('alert/read') || hasAlertRight() },
  { page: 'chat', label: 'Chat', allowed: () => hasMessageRight() },
  { page: 'dashboard', label: 'Dashboard', allowed: () => session.can('stats/read') },
  ...adminLinks,
];

function hasAlertRight(): boolean {
  return [...session.permissions.value].some((p) => p.startsWith('alert/') || p.startsWith('alertButton/'));
}

function hasMessageRight(): boolean {
  return [...session.permissions.value].some((p) => p.startsWith('message/'));
}

/** The console: the sign-in page while signed out, else the header and the page of the address. */
export function App() {
  return (
    <LocationProvider scope={BASE}>
      <Shell />
    </LocationProvider>
  );
}

function Shell() {
  const me = session.me.value;
  // the page of a reset e-mail's link, signed in or not
  if (useLocation().path === to('reset')) return <ResetPassword />;
  if (me === undefined) return <Loading />;
  if (me === null) return <SignIn />;
  const allowed = links.filter((link) => link.allowed());
  return (
    <div class="shell">
      <Header links={allowed} />
      <main id="main">
        <Router>
          <Route path={to('board')} component={Board} />
          <Route path={to('chat')} component={Chat} />
          <Route path={to('dashboard')} component={Dashboard} />
          <Route path={to('admin')} component={AdminPages} />
          <Route path={to('admin/*')} component={AdminPages} />
          <Route default component={() => <Home first={allowed[0]?.page} />} />
        </Router>
      </main>
    </div>
  );
}

/** `/console` and unknown addresses: the first page the user may see. */
function Home({ first }: { first?: string }) {
  const { route } = useLocation();
  useEffect(() => {
    if (first) route(to(first), true);
  }, [first]);
  return first ? null : <p class="empty">Your team has no permission this console can use.</p>;
}

function Header({ links }: { links: NavLink[] }) {
  const { path } = useLocation();
  const me = session.me.value!;
  return (
    <header class="header">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <strong class="brand">{me.tenant.name}</strong>
      <nav aria-label="Pages">
        {links.map((link) => (
          <a
            key={link.page}
            href={to(link.page)}
            aria-current={path.startsWith(to(link.page)) ? 'page' : undefined}
          >
            {link.label}
          </a>
        ))}
      </nav>
      <ConnectionBadge state={session.connection.value} />
      <span class="who" title={me.team ? `${me.team.name} (${me.team.role})` : undefined}>
        {me.user.name || me.user.login}
      </span>
      <button type="button" class="secondary" onClick={() => void session.logout()}>
        Sign out
      </button>
    </header>
  );
}

const connectionLabels: Record<Connection, string> = {
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

/** The socket's state: live, reconnecting (socket.io retries), offline (no network). */
export function ConnectionBadge({ state }: { state: Connection }) {
  return (
    <span class={`badge connection ${state}`} role="status" data-connection={state}>
      {connectionLabels[state]}
    </span>
  );
}

/** Before `/auth/me` answers: "Loading…", or why it has not yet, with a way to try again now. */
function Loading() {
  const error = session.loadError.value;
  if (!error) return <p class="loading">Loading…</p>;
  return (
    <main class="sign-in" id="main">
      <div class="card" role="alert">
        <h1>Not connected yet</h1>
        <p>{error}</p>
        <p class="muted">The console keeps trying, and goes on by itself as soon as the server answers.</p>
        <button type="button" onClick={() => session.retry()}>
          Retry now
        </button>
      </div>
    </main>
  );
}
