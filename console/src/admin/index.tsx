import type { ComponentType } from 'preact';
import { useEffect } from 'preact/hooks';
import { Route, Router, useLocation } from 'preact-iso';
import { to } from '../paths';
import { session } from '../state';
import { AlertButtons } from './AlertButtons';
import { Import } from './Import';
import { Jobs } from './Jobs';
import { Sessions } from './Sessions';
import { Teams } from './Teams';
import { Tenants } from './Tenants';
import { Users } from './Users';
import './admin.css';

/** An administration page, offered only when the user's permissions allow it (/auth/me). */
interface AdminPage {
  /** Under `/console/admin/`. */
  path: string;
  label: string;
  allowed(): boolean;
  component: ComponentType;
}

const pages: AdminPage[] = [
  { path: 'teams', label: 'Teams', allowed: () => session.can('team/admin'), component: Teams },
  { path: 'users', label: 'Users', allowed: () => session.can('user/admin'), component: Users },
  {
    path: 'buttons',
    label: 'Alert buttons',
    allowed: () => session.can('alertButton/admin'),
    component: AlertButtons,
  },
  { path: 'sessions', label: 'Sessions', allowed: () => session.can('session/read'), component: Sessions },
  { path: 'import', label: 'Import users', allowed: () => session.can('user/admin'), component: Import },
  { path: 'jobs', label: 'Jobs', allowed: () => session.can('job/admin'), component: Jobs },
  // listed by /auth/me only in the operator's own tenant (`default`)
  { path: 'tenants', label: 'Events', allowed: () => session.can('tenant/admin'), component: Tenants },
];

/**
 * The header's entry for the administration: one "Admin" link when at least one page is allowed; the
 * pages themselves are listed beside them (a phone's header has no room for seven more links).
 */
export const adminLinks = [
  { page: 'admin', label: 'Admin', allowed: () => pages.some((page) => page.allowed()) },
];

/** `/console/admin/*`: the allowed pages' navigation and the page of the address. */
export function AdminPages() {
  const allowed = pages.filter((page) => page.allowed());
  const { path } = useLocation();
  return (
    <div class="admin">
      <nav class="admin-nav" aria-label="Administration">
        {allowed.map((page) => (
          <a
            key={page.path}
            href={to(`admin/${page.path}`)}
            aria-current={path.startsWith(to(`admin/${page.path}`)) ? 'page' : undefined}
          >
            {page.label}
          </a>
        ))}
      </nav>
      <div class="admin-page">
        <Router>
          {[
            ...allowed.map((page) => (
              <Route key={page.path} path={`/${page.path}`} component={page.component} />
            )),
            <Route key="default" default component={() => <FirstPage first={allowed[0]?.path} />} />,
          ]}
        </Router>
      </div>
    </div>
  );
}

/** `/console/admin` and pages the user may not open: the first allowed page instead. */
function FirstPage({ first }: { first?: string }) {
  const { route } = useLocation();
  useEffect(() => {
    if (first) route(to(`admin/${first}`), true);
  }, [first]);
  return first ? null : <p class="empty">Your team has no administration permission.</p>;
}
