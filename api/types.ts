import type { FluxRequest } from '../lib/http.js';
import type { Session } from './models/Session.js';
import type { Team } from './models/Team.js';
import type { Tenant } from './models/Tenant.js';
import type { User } from './models/User.js';

/** A request as the application's actions see it, after the `auth` middleware. */
export type AppRequest = FluxRequest<User, Team, Session, Tenant> & {
  /** Why a presented token was refused (`requireAuth` answers with it instead of 401). */
  authError?: Error;
};
