/**
 * One load generator process (bench/load.mjs in its `--serve` mode) that runs the `http` and `socket`
 * jobs of a part one after the other. A process per job cost about 0.4 s of start-up here (Node, then
 * autocannon and socket.io-client loaded again), 50 s of a whole `npm run bench` across its 150 or so
 * phases. The process stays idle between jobs: it costs the server under test nothing, and it is still a
 * process of its own, away from the orchestrator and the servers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { root } from './child.js';

interface Running {
  onMark: (name: string) => void;
  resolve: (result: Record<string, number>) => void;
  reject: (err: Error) => void;
}

export class LoadProcess {
  private child?: ChildProcess;
  private running?: Running;
  /** The job before this one, so that jobs run one at a time whoever asks. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Runs `job` (load.mjs's JSON: `mode` `http` or `socket`) once the jobs asked before it are done;
   * `onMark` is called at each of its `mark <name>` lines, when the orchestrator samples the server.
   * @returns its `result` line, parsed
   * @throws Error when the job fails or the process exits (the next job starts a new one)
   */
  run(job: Record<string, unknown>, onMark: (name: string) => void): Promise<Record<string, number>> {
    const ran = this.queue.then(
      () =>
        new Promise<Record<string, number>>((resolve, reject) => {
          this.running = { onMark, resolve, reject };
          this.process().stdin?.write(`${JSON.stringify(job)}\n`);
        }),
    );
    this.queue = ran.catch(() => undefined);
    return ran;
  }

  /** Ends the process (waits for the job under way, if any). */
  async close(): Promise<void> {
    await this.queue;
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.stdin?.end();
    await exited;
  }

  private process(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(process.execPath, ['bench/load.mjs', '--serve'], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child = child;
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => this.line(line));
    // `close`, not `exit`: its output read to the end first (a result written just before exiting)
    child.once('close', (code) => {
      if (this.child === child) this.child = undefined;
      this.finish()?.reject(new Error(`the load process exited with ${code}`));
    });
    child.once('error', (err) => {
      if (this.child === child) this.child = undefined;
      this.finish()?.reject(err);
    });
    // a job written to a process that died meanwhile: its `close` rejects the job
    child.stdin?.on('error', () => {});
    return child;
  }

  private line(line: string): void {
    if (line.startsWith('mark ')) this.running?.onMark(line.slice(5));
    else if (line.startsWith('result ')) this.finish()?.resolve(JSON.parse(line.slice(7)));
    else if (line.startsWith('failed ')) this.finish()?.reject(new Error(`load: ${line.slice(7)}`));
  }

  private finish(): Running | undefined {
    const running = this.running;
    this.running = undefined;
    return running;
  }
}
