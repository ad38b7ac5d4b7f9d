/**
 * The commands of `flux` (docs/reference.md#cli; the executable is cli/flux.ts), runnable in this process:
 * {@link run} builds the commander program, parses the arguments and resolves with the exit code instead of
 * exiting, writing to the given output. Each command boots Flux without listening (config, database, models;
 * migrations except for `migrate` itself), runs, and stops it — closing the database and Redis — whether
 * it succeeds or fails. Writes go through the models, so they are published like API writes; a running
 * server's subscribers receive them when both share Redis (`REDIS_URL`).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { loadDemoEvent } from '../api/services/fixtures.js';
import { createTenant, makeAdmin } from '../api/services/TenantService.js';
import { Flux, type StartOptions } from '../lib/Flux.js';
import { type JobState, jobStates } from '../lib/jobs.js';

/** Where a run of `flux` writes: text as it would go to the process's stdout and stderr. */
export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The process's own streams: what the executable writes to. */
const processOutput: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** A user-facing failure: printed without a stack. */
class CliError extends Error {}

/** The readable reason of an error: Sequelize validation items, a service's invalid input, or the message. */
function reason(err: unknown): string {
  const items = (err as { errors?: Array<{ message?: string }> }).errors;
  if (Array.isArray(items) && items.length) return items.map((item) => item.message).join('; ');
  const invalid = (err as { validation?: Array<{ path: string; message: string }> }).validation;
  if (Array.isArray(invalid) && invalid.length)
    return invalid.map((item) => `${item.path}: ${item.message}`).join('; ');
  return (err as Error).message;
}

/**
 * Runs `action` with Flux booted, then stops it. A failure of the action stops Flux too and is rethrown;
 * a failed start has released what it opened, and a Flux this run did not start is left alone.
 */
async function withFlux(action: () => Promise<void>, options: StartOptions = {}): Promise<void> {
  const quiet = { log: { level: process.env.LOG_LEVEL || 'warn', dir: false } };
  await Flux.start({ listen: false, ...options, config: { ...quiet, ...options.config } });
  try {
    await action();
  } catch (err) {
    await Flux.stop().catch(() => undefined);
    throw err;
  }
  await Flux.stop();
}

/** `flux jobs` reads the job store: no first-start data is written. */
const jobStoreOnly: StartOptions = { bootstrap: false };

function parseJobState(value: string): JobState {
  if (!(jobStates as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${jobStates.join(', ')}`);
  return value as JobState;
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new InvalidArgumentError('expected a whole number from 1 to 1000');
  return limit;
}

async function tenantId(slug: string): Promise<number> {
  const tenant = await Flux.Tenant.findOne({ where: { slug } });
  if (!tenant) throw new CliError(`no tenant "${slug}"`);
  return tenant.id;
}

async function findUser(tenant: string, login: string) {
  const user = await Flux.User.findOne({ where: { tenantId: await tenantId(tenant), login } });
  if (!user) throw new CliError(`no user "${login}" in tenant "${tenant}"`);
  return user;
}

/**
 * The `flux` commander program writing to `output`. Usage errors, `--help` and the like throw a
 * `CommanderError` carrying the exit code (`exitOverride`) once commander has written its message; a
 * command's failure rejects `parseAsync` with its error. A program parses once: build one per run.
 */
export function createProgram(output: CliOutput = processOutput): Command {
  const print = (line: string) => output.stdout(`${line}\n`);
  // set before the commands are added: each copies the output and exit settings of its parent
  const program = new Command('flux')
    .description('Flux command line: migrations, users and teams, demo data, route table, config check')
    .configureOutput({ writeOut: output.stdout, writeErr: output.stderr })
    .showHelpAfterError()
    .exitOverride();

  program
    .command('migrate')
    .description('apply pending migrations (up), revert the latest (down), or list them (status)')
    .argument(
      '[action]',
      'up, down or status',
      (value) => {
        if (!['up', 'down', 'status'].includes(value))
          throw new InvalidArgumentError('expected up, down or status');
        return value;
      },
      'up',
    )
    .action((action: 'up' | 'down' | 'status') =>
      withFlux(
        async () => {
          const migrator = Flux.migrator();
          if (action === 'status') {
            for (const m of await migrator.executed()) print(`up       ${m.name}`);
            for (const m of await migrator.pending()) print(`pending  ${m.name}`);
            return;
          }
          // not while an instance starting on the same database migrates
          const release = await Flux.startupLock();
          try {
            if (action === 'up') {
              const applied = await migrator.up();
              print(applied.length ? `applied ${applied.map((m) => m.name).join(', ')}` : 'nothing to apply');
            } else {
              const reverted = await migrator.down();
              if (!reverted.length) throw new CliError('no migration to revert');
              print(`reverted ${reverted.map((m) => m.name).join(', ')}`);
            }
          } finally {
            await release?.();
          }
        },
        { migrate: false, bootstrap: false },
      ),
    );

  program
    .command('user:create')
    .description('create a user in a team')
    .requiredOption('--login <login>', 'login, unique in the tenant')
    .requiredOption('--password <password>', 'password (see auth.minPasswordLength)')
    .requiredOption('--team <name>', 'name of an existing team')
    .option('--name <name>', 'display name')
    .option('--tenant <slug>', 'tenant', 'default')
    .action((options: { login: string; password: string; team: string; name?: string; tenant: string }) =>
      withFlux(async () => {
        const tenant = await tenantId(options.tenant);
        const team = await Flux.Team.findOne({ where: { tenantId: tenant, name: options.team } });
        if (!team) throw new CliError(`no team "${options.team}" in tenant "${options.tenant}"`);
        const user = await Flux.User.create({
          tenantId: tenant,
          login: options.login,
          name: options.name ?? options.login,
          password: options.password,
          teamId: team.id,
          ip: null,
        });
        print(`created user ${user.login} (#${user.id}) in team ${team.name} (${team.role})`);
      }),
    );

  program
    .command('user:password')
    .description("set a user's password; the user's sessions end (logged out everywhere)")
    .requiredOption('-u, --user <login>', 'login of the user')
    .requiredOption('--password <password>', 'the new password (see auth.minPasswordLength)')
    .option('--tenant <slug>', 'tenant', 'default')
    .action((options: { user: string; password: string; tenant: string }) =>
      withFlux(async () => {
        const user = await findUser(options.tenant, options.user);
        // the User model's reactions end its sessions (api/services/AccountService.ts)
        user.password = options.password;
        await user.save();
        print(`${user.login} has a new password; their sessions are ended`);
      }),
    );

  program
    .command('user:make-admin')
    .description("move a user into the tenant's Admin team (role admin), creating the team if needed")
    .requiredOption('-u, --user <login>', 'login of the user')
    .option('--tenant <slug>', 'tenant', 'default')
    .action((options: { user: string; tenant: string }) =>
      withFlux(async () => {
        const user = await findUser(options.tenant, options.user);
        await makeAdmin(user);
        print(`${user.login} is now in the team Admin (role admin)`);
      }),
    );

  program
    .command('tenant:create')
    .description('create a tenant with its team Admin (role admin) and its first admin, as POST /tenant does')
    .requiredOption('--name <name>', 'name of the event')
    .requiredOption('--slug <slug>', 'lower-case letters, digits and dashes (X-Tenant, sub-domain)')
    .requiredOption('--admin <login>', "login of the tenant's first admin")
    .requiredOption('--password <password>', "the admin's password (see auth.minPasswordLength)")
    .action((options: { name: string; slug: string; admin: string; password: string }) =>
      withFlux(async () => {
        const { tenant, team, admin } = await createTenant({
          name: options.name,
          slug: options.slug,
          admin: { login: options.admin, password: options.password },
        });
        print(
          `created tenant ${tenant.slug} (#${tenant.id}) with team ${team.name} (${team.role}) and user ${admin.login}`,
        );
      }),
    );

  program
    .command('team:create')
    .description('create a team')
    .requiredOption('--name <name>', 'name, unique in the tenant')
    .requiredOption('--role <role>', 'a role of config/roles.ts')
    .option('--group <group>', 'group of teams (alert buttons, group channel)')
    .option('--location <location>', 'where the team is')
    .option('--tenant <slug>', 'tenant', 'default')
    .action((options: { name: string; role: string; group?: string; location?: string; tenant: string }) =>
      withFlux(async () => {
        const team = await Flux.Team.create({
          tenantId: await tenantId(options.tenant),
          name: options.name,
          role: options.role,
          group: options.group ?? null,
          location: options.location ?? null,
        });
        print(`created team ${team.name} (#${team.id}, role ${team.role})`);
      }),
    );

  program
    .command('fixtures')
    .description('load the demo event (a dozen teams, users, alert buttons, alerts and messages)')
    .option('--tenant <slug>', 'tenant to load it into', 'default')
    .option('--force', 'load it even with NODE_ENV=production (the demo users share a published password)')
    .action((options: { tenant: string; force?: boolean }) =>
      withFlux(async () => {
        if (Flux.env === 'production' && !options.force) {
          throw new CliError(
            'refusing to load demo users with a published password in production (use --force)',
          );
        }
        const summary = await loadDemoEvent(options.tenant);
        if (!summary.created) {
          print(`The demo event is already loaded in tenant "${summary.tenant}".`);
          return;
        }
        print(
          `Loaded the demo event into tenant "${summary.tenant}": ${summary.teams} teams, ${summary.users} users, ` +
            `${summary.buttons} alert buttons, ${summary.alerts} alerts, ${summary.messages} messages.\n` +
            `Every demo user's password is "${summary.password}" (e.g. coord, bar-nord, logistics, security).`,
        );
      }),
    );

  program
    .command('routes')
    .description('print the route table with the middlewares of each route, in order')
    .action(() =>
      withFlux(
        async () => {
          const global = ['dataParser', ...Flux.config.server.middlewares];
          const rows = Flux.routes.map((route) => [
            route.method.toUpperCase(),
            route.path,
            `${route.controller}.${route.action}`,
            [...global, ...route.middlewares, ...(route.file ? [`upload(${route.file})`] : [])].join(', '),
          ]);
          const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length)));
          for (const row of rows)
            print(row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell)).join('  '));
        },
        { migrate: false, bootstrap: false, config: { database: { url: undefined, storage: ':memory:' } } },
      ),
    );

  const jobs = program
    .command('jobs')
    .description(
      'list the background jobs in a state (default: failed), retry or remove one (docs/jobs.md); on the ' +
        'embedded store (PGlite) only while the server is stopped',
    )
    .option('--state <state>', `one of ${jobStates.join(', ')}`, parseJobState, 'failed')
    .option('--limit <n>', 'at most this many, newest first', parseLimit, 50)
    .action((options: { state: JobState; limit: number }) =>
      withFlux(async () => {
        const found = await Flux.jobs.list(options.state, { limit: options.limit });
        if (found.length === 0) print(`No ${options.state} job.`);
        for (const job of found) {
          const error = job.error ? `  ${job.error}` : '';
          print(
            `${job.id}  ${job.state}  attempts ${job.attempts}  ${job.progress}%  ${job.createdAt}${error}`,
          );
        }
      }, jobStoreOnly),
    );
  jobs
    .command('retry <id>')
    .description('run a failed job again (its attempts start over)')
    .action((id: string) =>
      withFlux(async () => {
        if (!(await Flux.jobs.retry(id))) throw new CliError(`no failed job ${id}`);
        print(`Job ${id} is waiting to run again.`);
      }, jobStoreOnly),
    );
  jobs
    .command('remove <id>')
    .description('remove a job that is not running (e.g. a failed one you have dealt with)')
    .action((id: string) =>
      withFlux(async () => {
        if (!(await Flux.jobs.remove(id))) throw new CliError(`no job ${id}, or it is running`);
        print(`Job ${id} removed.`);
      }, jobStoreOnly),
    );

  program
    .command('config:check')
    .description('load and validate the configuration, roles and route table, without touching the database')
    .action(() => {
      // what the environment configures, before the command swaps the services for in-memory ones
      const configured = { database: !!process.env.DATABASE_URL, redis: !!process.env.REDIS_URL };
      return withFlux(
        async () => {
          print(
            `Configuration OK (${Flux.env}): ${Flux.routes.length} routes, ${Flux.roles.size} roles, ` +
              `${Object.keys(Flux.models).length} models; database ${configured.database ? 'PostgreSQL' : 'SQLite'}` +
              `${configured.redis ? ', Redis' : ''} (not contacted)`,
          );
        },
        {
          migrate: false,
          bootstrap: false,
          config: { database: { url: undefined, storage: ':memory:' }, redis: { url: undefined } },
        },
      );
    });

  return program;
}

/**
 * Runs `flux` with `args` (the arguments after the command name, e.g. `['migrate', 'status']`) in this
 * process, writing to `output`; resolves with the exit code: 0 on success, 1 with `flux: <reason>` on
 * stderr when a command fails, commander's code after a usage error or `--help`. Never exits the process.
 * One run at a time, and not while this process's Flux is started (a server): a command boots and stops
 * the Flux singleton.
 */
export async function run(args: readonly string[], output: CliOutput = processOutput): Promise<number> {
  try {
    await createProgram(output).parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    // commander has written its message (and the help) already
    if (err instanceof CommanderError) return err.exitCode;
    output.stderr(`flux: ${reason(err)}\n`);
    if (!(err instanceof CliError) && process.env.FLUX_DEBUG) output.stderr(`${(err as Error).stack}\n`);
    return 1;
  }
}
