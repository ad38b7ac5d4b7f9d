/**
 * Child processes of the benchmark: a node script run from the repository's root, its stdout read line by
 * line (`node:readline`, which also keeps a character whose bytes arrive in two chunks whole).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository's root: where the scripts run. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Runs `script` (a path from the root) with `args` and `nodeArgs`, in this process's environment plus
 * `env`; `onLine` sees each line it prints on stdout, and its stderr goes to this process's stderr.
 */
export function runNode(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onLine?: (line: string) => void,
  nodeArgs: string[] = [],
): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (onLine) createInterface({ input: child.stdout }).on('line', onLine);
  else child.stdout.resume();
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  return child;
}
