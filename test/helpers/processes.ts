import { type ChildProcess, spawn } from 'node:child_process';
import { Flux } from '../../lib/Flux.js';

/** A TypeScript entry point of the project running in its own Node process (through tsx). */
export interface NodeProcess {
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Sends SIGTERM (or `signal`) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `node --import tsx <script> …args` (plain `node` with `tsx: false`, e.g. for the build output) in
 * the project folder (or `cwd`) with `env` over the current one.
 */
export function startNode(
  script: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  { tsx = true, cwd = Flux.rootdir }: { tsx?: boolean; cwd?: string } = {},
): NodeProcess {
  const child = spawn(process.execPath, [...(tsx ? ['--import', 'tsx'] : []), script, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a script to completion: its exit code and its separate outputs. */
export async function runNode(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: Flux.rootdir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) =>
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
}

/** Resolves with the first match of `pattern` in the output; rejects on exit or after `timeoutMs`. */
export function waitForOutput(
  proc: NodeProcess,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const match = pattern.exec(proc.output());
      if (match) {
        clearInterval(timer);
        resolve(match);
      } else if (proc.child.exitCode !== null || Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`no ${pattern} in the output: ${proc.output().slice(-2000)}`));
      }
    }, 20);
  });
}
