import { createHash, randomBytes } from 'node:crypto';
import {
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
  Model,
  type ModelStatic,
  Op,
  QueryTypes,
  type Sequelize,
} from 'sequelize';
import { ExpectedError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import { resetPassword } from '../mail/resetPassword.js';
import type { Tenant } from '../models/Tenant.js';
import type { User } from '../models/User.js';
import { DEFAULT_TENANT } from './AuthService.js';
import { type AttemptOutcome, beginPasswordAttempt, clearAccountAttempts } from './LoginLimitService.js';
import { sendMail } from './MailService.js';

/**
 * Password reset by e-mail (docs/mail.md "Password reset"): `POST /auth/reset {login}` mails a one-time
 * token to the user's e-mail; `POST /auth/reset/confirm {token, password}` spends it, sets the password,
 * and so ends every session of the user (the User reactions, api/services/AccountService.ts).
 * - No enumeration: a request answers the same (202) once the user was read, whether the login exists,
 *   has an e-mail, or not; the token's write and the mail's queueing go on after the answer, so that its
 *   time does not tell either. It never checks a password.
 * - The token is 32 random bytes (base64url, 43 characters); only its SHA-256 is stored (table
 *   `PasswordResets`, one row per user: a new request replaces the previous token), valid
 *   `auth.resetTtlMs`, spent by one atomic `DELETE`: of two confirmations at once, exactly one succeeds.
 *   A new e-mail or password of the user cancels it ({@link cancelPasswordReset}).
 * - Both count against the login limits (api/services/LoginLimitService.ts): every request keeps its point
 *   for the account and the address, a confirmation with a wrong, used or expired token keeps its point for
 *   the address. Past a limit: 429 with `Retry-After`.
 */

/** The token, as a confirmation must carry it. */
export const resetTokenPattern = /^[A-Za-z0-9_-]{43}$/;

/** A pending reset: a row of `PasswordResets` (not a model of the application: no route, no event). */
class PasswordReset extends Model<InferAttributes<PasswordReset>, InferCreationAttributes<PasswordReset>> {
  declare userId: number;
  declare tenantId: number;
  declare tokenHash: string;
  declare expiresAt: Date;
  declare createdAt: Date;
}

/** The table's class on each database (Flux opens a new one at each start). */
const tables = new WeakMap<Sequelize, ModelStatic<PasswordReset>>();

function resets(): ModelStatic<PasswordReset> {
  const sequelize = Flux.sequelize;
  let table = tables.get(sequelize);
  if (!table) {
    // a subclass per database: Model.init binds a class to one Sequelize instance
    table = class extends PasswordReset {};
    table.init(
      {
        userId: { type: DataTypes.INTEGER, primaryKey: true },
        tenantId: { type: DataTypes.INTEGER, allowNull: false },
        tokenHash: { type: DataTypes.STRING(64), allowNull: false },
        expiresAt: { type: DataTypes.DATE, allowNull: false },
        createdAt: { type: DataTypes.DATE, allowNull: false },
      },
      { sequelize, modelName: 'PasswordReset', tableName: 'PasswordResets', timestamps: false },
    );
    tables.set(sequelize, table);
  }
  return table;
}

/** The stored form of a token: lower-case hex SHA-256. */
export function hashResetToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The refusal of a token that is unknown, spent, replaced or expired (one answer for all). */
function invalidResetToken(): ExpectedError {
  return new ExpectedError(
    400,
    'InvalidResetToken',
    'This reset token is invalid, used or expired: ask for a new one',
  );
}

/** Who asks, for the login limits. */
export interface ResetClient {
  /** The client's address (`req.ip`). */
  address: string | undefined;
}

/**
 * `POST /auth/reset`: when `login` is a user of `tenant` with an e-mail, replaces their pending reset with
 * a new token and queues the mail holding it (api/mail/resetPassword.ts); otherwise does nothing more.
 * Resolves once the user was read, the same way in every case: storing the token and queueing the mail
 * go on after it (see {@link issueResetToken}), so that neither the answer nor its time tells which logins
 * have an e-mail.
 * @throws TooManyRequestsError (429) past the login limits of the account or the address.
 */
export async function requestPasswordReset(
  tenant: Tenant,
  login: string,
  client: ResetClient,
): Promise<void> {
  const attempt = await beginPasswordAttempt({ tenantId: tenant.id, login, address: client.address });
  try {
    const user = await Flux.User.findOne({ where: { tenantId: tenant.id, login } });
    // a row write and a queued job cost a few ms that a client could time: not awaited by the reply
    Flux.waitUntil(issueResetToken(tenant, user?.email ? user : null));
  } finally {
    // every request keeps its point: resets are limited like failed logins (mail bombing, guessing)
    await attempt.end('failed').catch((err: unknown) => Flux.log.warn('login limiter:', err));
  }
}

/**
 * The work of a reset request after its answer: deletes the expired tokens and, for `user` (null: an
 * unknown login or a user without an e-mail), stores a new token and queues its mail. A token whose mail
 * cannot be queued is deleted again: nobody got it, and it must not stay usable. Never rejects: failures
 * are logged.
 */
async function issueResetToken(tenant: Tenant, user: User | null): Promise<void> {
  const now = new Date();
  await resets()
    .destroy({ where: { expiresAt: { [Op.lt]: now } } })
    .catch((err: unknown) => Flux.log.warn('password reset: could not delete the expired tokens:', err));
  if (!user?.email) return;
  const token = randomBytes(32).toString('base64url');
  const tokenHash = hashResetToken(token);
  const ttlMs = Flux.config.auth.resetTtlMs;
  try {
    await resets().upsert({
      userId: user.id,
      tenantId: tenant.id,
      tokenHash,
      expiresAt: new Date(now.getTime() + ttlMs),
      createdAt: now,
    });
  } catch (err) {
    Flux.log.error(`password reset: could not store the token of user ${user.id}:`, err);
    return;
  }
  try {
    await sendMail({
      key: `reset-${user.id}-${tokenHash.slice(0, 16)}`,
      to: user.email,
      secret: true,
      ...resetPassword({
        name: user.name || user.login,
        login: user.login,
        tenant: tenant.name,
        token,
        link: resetLink(token, tenant),
        validMinutes: Math.round(ttlMs / 60_000),
      }),
    });
  } catch (err) {
    // nobody will get this token: it must not stay usable (the user asks again)
    Flux.log.error(`password reset: could not queue the mail of user ${user.id}:`, err);
    await resets()
      .destroy({ where: { userId: user.id, tokenHash } })
      .catch((dropError: unknown) =>
        Flux.log.warn('password reset: could not delete a token whose mail was not queued:', dropError),
      );
  }
}

/**
 * Cancels the pending reset of `userId`, if any: its token no longer works. Run when the user's e-mail or
 * password changes (api/reactions.ts): a token mailed to a former address, or asked for before a new
 * password, must not be spent after it. Never rejects: a failure is logged.
 */
export async function cancelPasswordReset(userId: number): Promise<void> {
  await resets()
    .destroy({ where: { userId } })
    .catch((err: unknown) =>
      Flux.log.error(`password reset: could not cancel the pending reset of user ${userId}:`, err),
    );
}

/**
 * `POST /auth/reset/confirm`: spends `token` (of a user of `tenant`) and sets that user's `password`,
 * which ends every session of the user before this resolves. A password the User model refuses leaves
 * the token unspent.
 * @throws SequelizeValidationError (400 `ValidationError`) for a password the User model refuses;
 *   ExpectedError 400 `InvalidResetToken` for an unknown, spent or expired token; TooManyRequestsError (429) past
 *   the login limits of the address.
 */
export async function confirmPasswordReset(
  tenant: Tenant,
  token: string,
  password: string,
  client: ResetClient,
): Promise<void> {
  // the password's own rules (length, bcrypt's 72 bytes) before the token is looked at
  await Flux.User.build({ tenantId: tenant.id, login: 'reset', password }).validate({ fields: ['password'] });
  const attempt = await beginPasswordAttempt({ tenantId: tenant.id, login: '', address: client.address });
  let outcome: AttemptOutcome = 'failed';
  try {
    const tokenHash = hashResetToken(token);
    const reset = await resets().findOne({ where: { tenantId: tenant.id, tokenHash } });
    if (!reset || reset.expiresAt.getTime() <= Date.now()) throw invalidResetToken();
    // one statement spends it: of two confirmations at once, one deletes the row, the other nothing
    const spent = await Flux.sequelize.query(
      'DELETE FROM "PasswordResets" WHERE "userId" = $1 AND "tokenHash" = $2 RETURNING "userId"',
      { bind: [reset.userId, tokenHash], type: QueryTypes.SELECT },
    );
    if (spent.length !== 1) throw invalidResetToken();
    outcome = 'neutral';
    const user = await Flux.User.findOne({ where: { id: reset.userId, tenantId: tenant.id } });
    if (!user) throw invalidResetToken();
    user.password = password;
    try {
      // hashed and followed by the end of every session of the user (api/reactions.ts)
      await user.save();
    } catch (err) {
      // not changed: the token stays usable (unless a new request replaced it meanwhile)
      await resets()
        .bulkCreate([reset.get({ plain: true })], { ignoreDuplicates: true })
        .catch((restoreError: unknown) =>
          Flux.log.warn('password reset: could not restore a token after a failed change:', restoreError),
        );
      throw err;
    }
    // the failed logins that locked the account (perhaps someone else's) no longer hold its owner out
    await clearAccountAttempts(tenant.id, user.login).catch((err: unknown) =>
      Flux.log.warn('login limiter:', err),
    );
  } finally {
    await attempt.end(outcome).catch((err: unknown) => Flux.log.warn('login limiter:', err));
  }
}

/**
 * What start-up says about `auth.resetUrl` (api/bootstrap.ts): in production an `http://` page would carry
 * reset tokens in clear over the network, and whoever reads one sets the password. `undefined`: nothing
 * to say.
 */
export function resetUrlWarning(resetUrl: string | undefined, env: string | undefined): string | undefined {
  if (env !== 'production' || !resetUrl || !/^http:/i.test(resetUrl)) return undefined;
  return 'auth.resetUrl is http://: reset links would carry their tokens in clear; use https://';
}

/** The page of `auth.resetUrl` with the token (and the tenant outside the default one) in its fragment. */
function resetLink(token: string, tenant: Tenant): string | undefined {
  const base = Flux.config.auth.resetUrl;
  if (!base) return undefined;
  const url = new URL(base);
  const fragment = new URLSearchParams({ token });
  if (tenant.slug !== DEFAULT_TENANT) fragment.set('tenant', tenant.slug);
  url.hash = fragment.toString();
  return url.toString();
}
