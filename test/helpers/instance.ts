/**
 * A Flux instance in its own process, for multi-instance tests: starts with the JSON config of
 * `FLUX_TEST_CONFIG`, prints `listening <port>` once ready, stops on SIGTERM.
 */
import { Flux } from '../../lib/Flux.js';

const config = JSON.parse(process.env.FLUX_TEST_CONFIG ?? '{}') as Record<string, unknown>;
const address = await Flux.start({ config });
process.stdout.write(`listening ${address.port}\n`);
process.once('SIGTERM', () => {
  void Flux.stop().then(() => process.exit(0));
});
