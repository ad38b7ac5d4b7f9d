#!/usr/bin/env tsx
/**
 * The `flux` command (SPEC §15), with commander. It boots Flux without listening (config, database,
 * migrations, models), runs one command, and exits non-zero with a clear message on any error.
 * Writes go through the models, so they are published like API writes (to a running server's
 * subscribers only when both share a bus, i.e. with REDIS_URL — not yet available).
 */
import { Command } from 'commander';
import { loadDemoEvent } from '../api/services/fixtures.js';
import { Flux } from '../lib/Flux.js';

const program = new Command('flux').description('Flux command line').showHelpAfterError();

/** Runs `action` with Flux booted (quiet logs), then stops it; errors exit with code 1. */
async function withFlux(action: () => Promise<void>): Promise<void> {
  try {
    await Flux.start({
      listen: false,
      config: { log: { level: process.env.LOG_LEVEL || 'warn', dir: false } },
    });
    await action();
    await Flux.stop();
  } catch (err) {
    process.stderr.write(`flux: ${(err as Error).message}\n`);
    await Flux.stop().catch(() => undefined);
    process.exit(1);
  }
}

program
  .command('fixtures')
  .description('load the demo event (a dozen teams, users, alert buttons, alerts and messages)')
  .option('--tenant <slug>', 'tenant to load it into', 'default')
  .action((options: { tenant: string }) =>
    withFlux(async () => {
      const summary = await loadDemoEvent(options.tenant);
      if (!summary.created) {
        process.stdout.write(`The demo event is already loaded in tenant "${summary.tenant}".\n`);
        return;
      }
      process.stdout.write(
        `Loaded the demo event into tenant "${summary.tenant}": ${summary.teams} teams, ${summary.users} users, ` +
          `${summary.buttons} alert buttons, ${summary.alerts} alerts, ${summary.messages} messages.\n` +
          `Every demo user's password is "${summary.password}" (e.g. coord, bar-nord, logistics, security).\n`,
      );
    }),
  );

await program.parseAsync(process.argv);
