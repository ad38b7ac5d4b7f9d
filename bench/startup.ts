/**
 * The start-up part of `npm run bench` (`BENCH_ONLY=startup`; also alone: `npx tsx bench/startup.ts`): how
 * long `npm start` takes to serve, on an existing SQLite database (docs/performance.md, "Start-up").
 *
 * In a temporary folder (`FLUX_ROOT`, so the project's own `data/` is left alone), one first start creates
 * the database (migrations, the first admin, the job store) and is timed once for information; then
 * BENCH_STARTUP_RUNS warm starts (default 7) of `npm start` on that database. Each start is timed from the
 * spawn to the `Flux listening` line, to the first 200 of `GET /health` (asked as soon as the line gives
 * the port: `PORT=0`) and to the first 200 of `GET /ready` (the server listens before its job store is
 * open; `/ready` answers once it is). The CPU of the started processes (npm, its shell, node: user + system,
 * from /proc on Linux) is read at the listening line and at `/ready`: on a shared machine wall-clock times
 * vary with the load, CPU much less. Each start is stopped (SIGTERM to its process group) once `/ready`
 * answers, and waited for before the next.
 *
 * BENCH_STARTUP_COMMAND: `npm` (default, `npm start`: the build when it matches the sources, which
 * `npm run bench` builds first, else the sources through tsx; each start's line and the result say which),
 * `tsx` (`node --import tsx app.ts`, the sources without npm) or `build` (`node dist/app.js`, after
 * `npm run build`); several, comma-separated, run in alternation. BENCH_STARTUP_COMPARE=<folder> starts
 * another checkout of Flux (e.g. a `git worktree` of the commit before a change, with its node_modules)
 * in alternation with this one, each on its own database. Reports, per checkout and command, the median
 * and min–max of the runs; prints a `result {…}` line on stdout for bench/run.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUNNING_BUILD } from '../scripts/sources.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 7);
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`BENCH_STARTUP_RUNS: a whole number ≥ 1, not "${process.env.BENCH_STARTUP_RUNS}"`);
const commands = {
  npm: ['npm', 'start'],
  tsx: [process.execPath, '--import', 'tsx', 'app.ts'],
  build: [process.execPath, 'dist/app.js'],
} as const;
type Command = keyof typeof commands;
const COMMANDS = (process.env.BENCH_STARTUP_COMMAND ?? 'npm').split(',').map((name) => name.trim());
for (const name of COMMANDS)
  if (!(name in commands))
    throw new Error(`BENCH_STARTUP_COMMAND: unknown "${name}" (${Object.keys(commands).join(', ')})`);
const checkouts = [
  root,
  ...(process.env.BENCH_STARTUP_COMPARE ? [path.resolve(process.env.BENCH_STARTUP_COMPARE)] : []),
];
/** Longest wait for one start, ms. */
const TIMEOUT_MS = 60_000;

interface StartSample {
  /** Spawn → the `Flux listening` line, ms. */
  listeningMs: number;
  /** Spawn → the first 200 of `GET /health`, ms. */
  healthMs: number;
  /** Spawn → the first 200 of `GET /ready` (started: the job store open too), ms. */
  readyMs: number;
  /** CPU of the started processes at the listening line (user + system), ms; undefined without /proc. */
  cpuMs?: number;
  /** The same at the first 200 of `GET /ready`. */
  readyCpuMs?: number;
  /** Whether the start said it ran the build (`npm start`, scripts/start.js) rather than the sources. */
  ranBuild: boolean;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** CPU (user + system, ms) of `pid` and its descendants, from /proc; undefined where there is none. */
function treeCpuMs(pid: number): number | undefined {
  const tick = 10; // USER_HZ is 100 on Linux
  let total = 0;
  const pending = [pid];
  try {
    while (pending.length) {
      const current = pending.pop() as number;
      const stat = readFileSync(`/proc/${current}/stat`, 'utf8');
      // the fields after the command name (in parentheses, which may hold spaces): utime, stime are 14, 15
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * tick;
      for (const task of readdirSync(`/proc/${current}/task`)) {
        const children = readFileSync(`/proc/${current}/task/${task}/children`, 'utf8').trim();
        if (children) pending.push(...children.split(' ').map(Number));
      }
    }
  } catch {
    return undefined;
  }
  return total;
}

/** Stops a start (its whole process group: npm, its shell, node) and waits for its exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-(child.pid as number), 'SIGTERM');
  const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** One start of `command` in `checkout` on the application root `fluxRoot`, timed, then stopped. */
async function startOnce(checkout: string, command: Command, fluxRoot: string): Promise<StartSample> {
  const [file, ...args] = commands[command];
  const started = performance.now();
  const child = spawn(file, args, {
    cwd: checkout,
    env: { ...process.env, FLUX_ROOT: fluxRoot, PORT: '0', FLUX_ADMIN_PASSWORD: 'bench-startup-password' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, stopped as one
  });
  let output = '';
  try {
    const { port, listeningMs, cpuMs } = await new Promise<{
      port: number;
      listeningMs: number;
      cpuMs?: number;
    }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no listening line after ${TIMEOUT_MS} ms`)),
        TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /Flux listening on http:\/\/\S+:(\d+)/.exec(output);
        if (!match) return;
        const listeningMs = performance.now() - started;
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve({ port: Number(match[1]), listeningMs, cpuMs: treeCpuMs(child.pid as number) });
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code}`));
      });
    });
    const healthMs = await firstOk(`http://127.0.0.1:${port}/health`, started);
    const readyMs = await firstOk(`http://127.0.0.1:${port}/ready`, started);
    const ranBuild = output.includes(RUNNING_BUILD);
    return { listeningMs, healthMs, readyMs, cpuMs, readyCpuMs: treeCpuMs(child.pid as number), ranBuild };
  } catch (err) {
    throw new Error(`${commands[command].join(' ')} in ${checkout}: ${(err as Error).message}\n${output}`);
  } finally {
    await stop(child);
  }
}

/** Asks `url` every 5 ms until it answers 200: the time since `started`, ms. */
async function firstOk(url: string, started: number): Promise<number> {
  for (;;) {
    const response = await fetch(url).catch(() => undefined);
    if (response?.status === 200) return performance.now() - started;
    if (performance.now() - started > TIMEOUT_MS) throw new Error(`${url} never answered 200`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Median and range of `values`, rounded to ms. */
function spread(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return {
    median: Math.round(median),
    min: Math.round(sorted[0]),
    max: Math.round(sorted[sorted.length - 1]),
  };
}

const show = ({ median, min, max }: { median: number; min: number; max: number }) =>
  `${(median / 1000).toFixed(2)} s (${(min / 1000).toFixed(2)}–${(max / 1000).toFixed(2)})`;

async function main(): Promise<void> {
  const temporary = mkdtempSync(path.join(os.tmpdir(), 'flux-startup-'));
  try {
    const contenders = checkouts.flatMap((checkout, index) =>
      COMMANDS.map((command) => ({
        checkout,
        command: command as Command,
        fluxRoot: path.join(temporary, String(index)),
        samples: [] as StartSample[],
      })),
    );
    const firstStarts: Record<string, number> = {};
    for (const [index, checkout] of checkouts.entries()) {
      const first = await startOnce(checkout, COMMANDS[0] as Command, path.join(temporary, String(index)));
      firstStarts[checkout] = Math.round(first.listeningMs);
      log(
        `startup: first start of ${checkout} (creates the database): ${(first.listeningMs / 1000).toFixed(2)} s`,
      );
    }
    for (let run = 1; run <= RUNS; run++) {
      for (const contender of contenders) {
        const sample = await startOnce(contender.checkout, contender.command, contender.fluxRoot);
        contender.samples.push(sample);
        log(
          `startup run ${run}/${RUNS}, ${contender.command} in ${contender.checkout}: listening ${Math.round(sample.listeningMs)} ms, ` +
            `/health ${Math.round(sample.healthMs)} ms, /ready ${Math.round(sample.readyMs)} ms, CPU ${sample.cpuMs ?? '?'} ms (at /ready ${sample.readyCpuMs ?? '?'} ms)${sample.ranBuild ? ', ran the build' : ''}`,
        );
      }
    }
    const result = {
      runs: RUNS,
      cpus: os.cpus().length,
      loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
      starts: contenders.map(({ checkout, command, samples }) => {
        const cpu = samples.flatMap(({ cpuMs }) => (cpuMs === undefined ? [] : [cpuMs]));
        const readyCpu = samples.flatMap(({ readyCpuMs }) => (readyCpuMs === undefined ? [] : [readyCpuMs]));
        return {
          checkout: path.relative(root, checkout) || '.',
          command: commands[command].join(' ').replace(process.execPath, 'node'),
          // what `npm start` ran (scripts/start.js says when it runs the build), in how many of the starts
          ...(command === 'npm'
            ? { npmStartRanBuild: samples.filter(({ ranBuild }) => ranBuild).length }
            : {}),
          firstStartMs: firstStarts[checkout],
          listeningMs: spread(samples.map(({ listeningMs }) => listeningMs)),
          healthMs: spread(samples.map(({ healthMs }) => healthMs)),
          readyMs: spread(samples.map(({ readyMs }) => readyMs)),
          ...(cpu.length ? { cpuMs: spread(cpu), readyCpuMs: spread(readyCpu) } : {}),
        };
      }),
    };
    for (const start of result.starts) {
      log(
        `startup, ${start.command}${start.npmStartRanBuild === undefined ? '' : ` (ran the build ${start.npmStartRanBuild} times of ${RUNS})`} (${start.checkout}): listening ${show(start.listeningMs)}, /health ${show(start.healthMs)}, /ready ${show(start.readyMs)}` +
          (start.cpuMs && start.readyCpuMs
            ? `, CPU ${show(start.cpuMs)} (at /ready ${show(start.readyCpuMs)})`
            : '') +
          ` — median (min–max) of ${RUNS}, load average ${result.loadAverage.join(' ')} on ${result.cpus} cores`,
      );
    }
    process.stdout.write(`result ${JSON.stringify(result)}\n`);
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  log(`bench/startup: ${(err as Error).stack}`);
  process.exit(1);
});
