import type { Model, ModelStatic, Sequelize, Transaction } from 'sequelize';
import { Flux } from '../lib/Flux.js';
import { afterCommit } from '../lib/modelHooks.js';
import { Alert } from './models/Alert.js';
import { Session } from './models/Session.js';
import { Team } from './models/Team.js';
import { Tenant } from './models/Tenant.js';
import { User } from './models/User.js';
import { endSessionsAfterPasswordChange } from './services/AccountService.js';
import { announceSeriousAlert } from './services/AlertMailService.js';
import { scheduleEscalation } from './services/AlertService.js';
import { authService, type IdentityChange } from './services/AuthService.js';
import { cancelPasswordReset } from './services/PasswordResetService.js';
import { hashPassword, isUnusablePassword } from './services/PasswordService.js';
import { announceGroupChange, announceTeamGroupChange } from './services/SubscriptionService.js';

/**
 * What the application does when its rows are written, by model class: the one place for reactions to
 * writes. Each runs as a Sequelize hook of its model, so it follows every write path alike — HTTP and
 * socket requests, the CLI, jobs, services. Models import no service; controllers add no reaction (their
 * hooks only check a request). Publishing each change to subscribers is the framework's
 * (`lib/modelHooks.ts`), and runs after these.
 *
 * A reaction that acts outside the row (the bus, other rows) waits for the write's commit
 * (`afterCommit`); what it returns is awaited by the write, so it is done before the write is
 * acknowledged.
 */

/** The moments of a row's write a reaction may follow (Sequelize's per-row hooks). */
export type WriteMoment = 'beforeSave' | 'afterCreate' | 'afterUpdate' | 'afterDestroy';

/** The write's options as its hooks see them. */
export interface WriteOptions {
  transaction?: Transaction | null;
}

/** A reaction to the write of one row of model `M`. */
export type Reaction<M extends Model> = (row: M, write: WriteOptions) => void | Promise<void>;

/** One entry of {@link reactions}: what `model`'s rows do at `moment`, and why (`name`, the hook's name). */
export interface ReactionEntry {
  model: ModelStatic<Model>;
  moment: WriteMoment;
  name: string;
  react: Reaction<Model>;
}

/** The entry of `react` for `model`'s rows at `moment`, typed by the model class. */
export function on<M extends Model>(
  model: ModelStatic<M>,
  moment: WriteMoment,
  name: string,
  react: Reaction<M>,
): ReactionEntry {
  return { model: model as ModelStatic<Model>, moment, name, react: react as Reaction<Model> };
}

/**
 * Cached identities built from `model`'s rows are dropped, on every instance, when a row changes
 * (`matters`, default: any change) or goes (see `AuthService.identityChanged`).
 */
function dropsIdentities<M extends Model & { id: number }>(
  model: ModelStatic<M>,
  changed: (id: number) => IdentityChange,
  matters: (row: M) => boolean = () => true,
): ReactionEntry[] {
  const name = 'drop the cached identities built from it';
  return [
    on(model, 'afterUpdate', name, (row, write) =>
      matters(row) ? authService.identityChanged(changed(row.id), write) : undefined,
    ),
    on(model, 'afterDestroy', name, (row, write) => authService.identityChanged(changed(row.id), write)),
  ];
}

const couldNotAnnounce = (err: unknown) => Flux.log.error('could not announce new read groups:', err);
const couldNotSchedule = (alertId: number) => (err: unknown) =>
  Flux.log.warn(`could not schedule the escalation of alert ${alertId} (the sweep will escalate it):`, err);

/** Every reaction to writes, in the order they run for one model and moment. */
export const reactions: readonly ReactionEntry[] = [
  // runs on the clear password after validation (its length is checked on it), before the row is written;
  // a password nobody knows (setUnusablePassword) is a hash already
  on(User, 'beforeSave', 'store the password hashed', async (user) => {
    if (user.changed('password') && !isUnusablePassword(user))
      user.password = await hashPassword(user.password);
  }),
  on(User, 'afterUpdate', 'a new password ends the other sessions', (user, write) =>
    user.changed('password') ? endSessionsAfterPasswordChange(user, write) : undefined,
  ),
  // a token mailed to a former address, or asked for before a new password, must not work after it
  on(User, 'afterUpdate', 'a new e-mail or password cancels a pending password reset', (user, write) =>
    user.changed('email') || user.changed('password')
      ? afterCommit(write, () => cancelPasswordReset(user.id))
      : undefined,
  ),
  // announced before the write is acknowledged: a change published after the reply reaches every
  // instance after the announcement, so the sockets' rooms are recomputed first
  on(User, 'afterUpdate', 'a new team gives new read groups', (user, write) =>
    user.changed('teamId')
      ? afterCommit(write, () => announceGroupChange([user.id]).catch(couldNotAnnounce))
      : undefined,
  ),
  // role and group both feed the read groups of the team's members
  on(Team, 'afterUpdate', 'a new role or group gives its members new read groups', (team, write) =>
    team.changed('role') || team.changed('group')
      ? afterCommit(write, () => announceTeamGroupChange(team.id).catch(couldNotAnnounce))
      : undefined,
  ),
  // a session's activity, socket or expiry changes nothing its cached identity holds; a revocation does
  ...dropsIdentities(
    Session,
    (id) => ({ sessionIds: [id] }),
    (session) => session.changed('revokedAt'),
  ),
  ...dropsIdentities(User, (id) => ({ userIds: [id] })),
  ...dropsIdentities(Team, (id) => ({ teamIds: [id] })),
  ...dropsIdentities(Tenant, (id) => ({ tenantIds: [id] })),
  on(Tenant, 'afterCreate', 'a new tenant is resolved at once', () => authService.forgetTenants()),
  // scheduled once the alert is committed, without holding up the write: a slow or unreachable job store
  // must not stop alerts from being raised (the repeatable sweep escalates what was not scheduled)
  on(Alert, 'afterCreate', 'a warning escalates unless acknowledged in time', (alert, write) =>
    alert.severity === 'warning'
      ? afterCommit(write, () => {
          Flux.waitUntil(scheduleEscalation(alert).catch(couldNotSchedule(alert.id)));
        })
      : undefined,
  ),
  // queued once committed, without holding up the write either (announceSeriousAlert logs its failures);
  // any change of severity to serious counts, escalation included
  on(Alert, 'afterCreate', 'a serious alert is e-mailed to its receiver team', (alert, write) =>
    alert.severity === 'serious'
      ? afterCommit(write, () => {
          Flux.waitUntil(announceSeriousAlert(alert));
        })
      : undefined,
  ),
  on(Alert, 'afterUpdate', 'an alert made serious is e-mailed to its receiver team', (alert, write) =>
    alert.changed('severity') && alert.severity === 'serious'
      ? afterCommit(write, () => {
          Flux.waitUntil(announceSeriousAlert(alert));
        })
      : undefined,
  ),
];

/** The databases whose models have their reactions: each start initializes the models afresh. */
const wired = new WeakSet<Sequelize>();

/**
 * Adds every reaction to its model, once per database the models are initialized on. Flux calls it at
 * each start right after loading the models (`lib/loader.ts` `loadReactions`), however it was started.
 */
export function wireReactions(sequelize: Sequelize): void {
  if (wired.has(sequelize)) return;
  wired.add(sequelize);
  for (const { model, moment, name, react } of reactions) {
    (
      model as unknown as { addHook(moment: WriteMoment, name: string, react: Reaction<Model>): void }
    ).addHook(moment, name, react);
  }
}
