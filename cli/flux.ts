#!/usr/bin/env tsx
/**
 * The `flux` command (docs/reference.md#cli), with commander; the commands live in cli/program.ts. Each
 * command boots Flux without listening, runs, and exits: 0 on success, 1 with a clear message on any error.
 *
 *   npx flux migrate [up|down|status]      npx flux routes
 *   npx flux user:create --login bob --password … --team Bar [--name Bob] [--tenant default]
 *   npx flux user:make-admin -u bob [--tenant default]
 *   npx flux team:create --name Bar --role bar [--group bars] [--location …] [--tenant default]
 *   npx flux fixtures [--tenant default]   npx flux config:check
 */
import { run } from './program.js';

// the exit code, not process.exit(): the process ends once its output is written
process.exitCode = await run(process.argv.slice(2));
