import { Flux } from './lib/Flux.js';

/**
 * Entry point (docs/reference.md#layout): starts Flux; SIGTERM/SIGINT stop it and exit. The server listens
 * before its start ends (the job store opens after): a signal from then on stops it once started; one that
 * comes earlier ends the process as it always did (the signal's default action).
 */
async function main(): Promise<void> {
  let started: Promise<unknown> = Promise.resolve();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (!Flux.server?.listening) {
        // `once` removed this listener: the signal sent again takes its default action
        process.kill(process.pid, signal);
        return;
      }
      Flux.log.info(`${signal} received, stopping`);
      started.then(
        () =>
          Flux.stop().then(
            () => process.exit(0),
            (err: unknown) => {
              Flux.log.error('Flux did not stop cleanly:', err);
              process.exit(1);
            },
          ),
        () => {}, // a failed start: main() says why and exits 1
      );
    });
  }
  started = Flux.start();
  try {
    await started;
  } catch (err) {
    Flux.log.error(`Flux did not start: ${(err as Error).message}`);
    // a declaration error says all in its message; anything else gets its stack
    const declaration = ['ConfigError', 'RouteTableError', 'ModelReferenceError'];
    if (!(err instanceof Error) || !declaration.includes(err.name)) Flux.log.error(err);
    process.exit(1);
  }
}

void main();
