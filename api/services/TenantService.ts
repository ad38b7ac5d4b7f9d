import type { Transaction } from 'sequelize';
import { z } from 'zod';
import { BadRequestError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import { validate } from '../../lib/validate.js';
import type { Team } from '../models/Team.js';
import type { Tenant } from '../models/Tenant.js';
import type { User } from '../models/User.js';
import { DEFAULT_TENANT } from './AuthService.js';

/**
 * What every tenant starts with (docs/reference.md#running, #tenants): the team `Admin` (role `admin`) and a
 * first user in it. One home for it, used by the first start (`api/bootstrap.ts`), `POST /tenant` and the CLI
 * (`tenant:create`, `user:make-admin`).
 */

/** The team of a tenant's administrators. */
export const ADMIN_TEAM = { name: 'Admin', role: 'admin' } as const;

/** `POST /tenant`'s body and `flux tenant:create`'s options: the tenant and its first admin. */
export const newTenantSchema = z.object({
  name: z.string().min(1).max(200),
  slug: z.string().regex(/^[a-z0-9-]{1,63}$/, 'slug must be lower-case letters, digits and dashes'),
  admin: z.object({ login: z.string().min(1).max(100).regex(/^\S+$/), password: z.string().min(1).max(200) }),
});

/** A tenant's first admin: login, clear password (hashed when stored), display name (default: the login). */
export interface AdminAccount {
  login: string;
  password: string;
  name?: string;
}

/** A tenant as it starts: the tenant, its `Admin` team and its first admin. */
export interface StartedTenant {
  tenant: Tenant;
  team: Team;
  admin: User;
}

/** Runs `work` in `transaction`, or in a transaction of its own without one. */
function inTransaction<T>(transaction: Transaction | undefined, work: (t: Transaction) => Promise<T>) {
  return transaction ? work(transaction) : Flux.sequelize.transaction(work);
}

/**
 * Creates a tenant with its team `Admin` (role `admin`) and its first admin, in one transaction: all three
 * or none. The admin logs in with `X-Tenant: <slug>`.
 * @param input `{name, slug, admin: {login, password}}`, unchecked (a request body, CLI options).
 * @throws BadRequestError 400 `ValidationError` for malformed input; Sequelize's validation errors (400
 *   through the error mapper) for a taken slug or a password too short.
 */
export async function createTenant(input: unknown): Promise<StartedTenant> {
  const { name, slug, admin } = validate(newTenantSchema, input);
  return Flux.sequelize.transaction(async (transaction) => {
    const tenant = await Flux.Tenant.create({ name, slug, settings: {} }, { transaction });
    return { tenant, ...(await createAdmin(tenant, admin, transaction)) };
  });
}

/**
 * The tenant's team `Admin`, created (role `admin`) when it has none.
 * @throws BadRequestError when the tenant's team named `Admin` has another role.
 */
export async function adminTeam(tenantId: number, transaction?: Transaction): Promise<Team> {
  const [team] = await Flux.Team.findOrCreate({
    where: { tenantId, name: ADMIN_TEAM.name },
    defaults: { tenantId, ...ADMIN_TEAM, group: null, location: null },
    transaction,
  });
  if (team.role !== ADMIN_TEAM.role)
    throw new BadRequestError(`the team "${ADMIN_TEAM.name}" of this tenant does not have the role admin`);
  return team;
}

/**
 * Creates `account` as an admin of `tenant`, in its team `Admin` (created when missing), in one
 * transaction (`transaction`'s, when given).
 */
export function createAdmin(
  tenant: Tenant,
  account: AdminAccount,
  transaction?: Transaction,
): Promise<{ team: Team; admin: User }> {
  return inTransaction(transaction, async (t) => {
    const team = await adminTeam(tenant.id, t);
    const admin = await Flux.User.create(
      {
        tenantId: tenant.id,
        login: account.login,
        name: account.name ?? account.login,
        password: account.password,
        teamId: team.id,
        ip: null,
      },
      { transaction: t },
    );
    return { team, admin };
  });
}

/** Moves `user` into its tenant's team `Admin` (created when missing). @throws as {@link adminTeam}. */
export async function makeAdmin(user: User): Promise<Team> {
  const team = await adminTeam(user.tenantId);
  user.teamId = team.id;
  await user.save();
  return team;
}

/**
 * First start (docs/reference.md#running): the tenant `default` (the platform operator's) always exists;
 * while the database has no user at all, its admin `admin` (named Administrator) is created with `password`.
 * @returns the created admin, or undefined when there were users already.
 */
export async function provideFirstAdmin(password: string): Promise<User | undefined> {
  const [tenant] = await Flux.Tenant.findOrCreate({
    where: { slug: DEFAULT_TENANT },
    defaults: { name: 'Default', slug: DEFAULT_TENANT },
  });
  if ((await Flux.User.count()) > 0) return undefined;
  return (await createAdmin(tenant, { login: 'admin', name: 'Administrator', password })).admin;
}
