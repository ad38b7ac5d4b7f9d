import { Flux } from './lib/Flux.js';

/** Entry point (docs/reference.md#layout): starts Flux; SIGTERM/SIGINT stop it and exit. */
async function main(): Promise<void> {
  try {
    await Flux.start();
  } catch (err) {
    Flux.log.error(`Flux did not start: ${(err as Error).message}`);
    // a declaration error says all in its message; anything else gets its stack
    const declaration = ['ConfigError', 'RouteTableError', 'ModelReferenceError'];
    if (!(err instanceof Error) || !declaration.includes(err.name)) Flux.log.error(err);
    process.exit(1);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      Flux.log.info(`${signal} received, stopping`);
      Flux.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          Flux.log.error('Flux did not stop cleanly:', err);
          process.exit(1);
        },
      );
    });
  }
}

void main();
