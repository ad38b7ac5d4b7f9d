import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import chalk from 'chalk';

/**
 * Flux's logger (docs/reference.md#logging): `error` red, `warn` orange, `info` blue, `debug` green on the
 * console; error and warn are appended to `production.log` and `development.log`, info and debug to
 * `development.log` only. `level` filters the console; files always get their share.
 * Secrets (passwords, tokens, authorization headers) are redacted from every logged object. Control
 * characters are escaped (see {@link escapeControl}): one call writes exactly one line.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const rank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const colour: Record<LogLevel, (s: string) => string> = {
  error: chalk.red,
  warn: chalk.hex('#FFA500'),
  info: chalk.blue,
  debug: chalk.green,
};

/** Keys whose values never reach a log, compared case-insensitively. */
// `sql`, `parameters`, `original`, `parent`: Sequelize errors carry the statement and its values (hashes);
// `command`: an ioredis error carries the command and its arguments (a job's data: a mail, a CSV file)
const secretKeys =
  /^(password|newpassword|oldpassword|currentpassword|token|jwt|authorization|cookie|secret|adminpassword|x-api-key|sql|parameters|original|parent|command)$/i;
const REDACTED = '[redacted]';

/** A copy of `value` with secret-looking keys replaced, at any depth (cycles tolerated). */
export function redact(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Error) {
    const copy: Record<string, unknown> = { name: value.name, message: value.message, stack: value.stack };
    for (const [k, v] of Object.entries(value)) copy[k] = secretKeys.test(k) ? REDACTED : redact(v, seen);
    return copy;
  }
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = secretKeys.test(k) ? REDACTED : redact(v, seen);
  return out;
}

// C0 controls (tab and newline included), DEL, C1 controls, and the two Unicode line terminators
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with every control character written as an escape: `\n`, `\r`, `\t`, else `\xHH` (or `\u2028`,
 * `\u2029`). A client-supplied string (URL, header, login) can then neither start a forged log line nor
 * send terminal escape sequences to whoever reads the log.
 * @example escapeControl('a\nb\u001b[31m') // => 'a\\nb\\x1b[31m'
 */
export function escapeControl(text: string): string {
  return text.replace(
    controlCharacters,
    (c) =>
      named[c] ??
      (c.charCodeAt(0) <= 0xff
        ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
        : `\\u${c.charCodeAt(0).toString(16)}`),
  );
}

const inspectOptions = { depth: 6, compact: true, breakLength: Number.POSITIVE_INFINITY };

/** One log call, one line: strings and `inspect` output (objects, errors and their stacks) escaped. */
function format(args: unknown[]): string {
  return args
    .map((arg) => escapeControl(typeof arg === 'string' ? arg : inspect(redact(arg), inspectOptions)))
    .join(' ');
}

export interface LoggerOptions {
  level: LogLevel;
  /** Absolute folder for the two log files, or false for console only. */
  dir: string | false;
}

export class Logger {
  private level: LogLevel;
  private production?: WriteStream;
  private development?: WriteStream;

  constructor(options: LoggerOptions = { level: 'info', dir: false }) {
    // an unknown level (e.g. LOG_LEVEL=verbose before the config is validated) must not silence errors
    this.level = options.level in rank ? options.level : 'info';
    if (options.dir) this.openFiles(options.dir);
  }

  private openFiles(dir: string): void {
    mkdirSync(dir, { recursive: true });
    this.production = createWriteStream(path.join(dir, 'production.log'), { flags: 'a' });
    this.development = createWriteStream(path.join(dir, 'development.log'), { flags: 'a' });
  }

  /** Applies new options (after a config reload); reopens files when the folder changes. */
  configure(options: LoggerOptions): void {
    this.level = options.level;
    this.close();
    if (options.dir) this.openFiles(options.dir);
  }

  error = (...args: unknown[]): void => this.write('error', args);
  warn = (...args: unknown[]): void => this.write('warn', args);
  info = (...args: unknown[]): void => this.write('info', args);
  debug = (...args: unknown[]): void => this.write('debug', args);

  private write(level: LogLevel, args: unknown[]): void {
    const wantsConsole = rank[level] <= rank[this.level];
    const wantsFiles = this.development !== undefined;
    if (!wantsConsole && !wantsFiles) return;
    const text = format(args);
    if (wantsConsole) {
      const line = `${colour[level](level.padEnd(5))} ${text}\n`;
      (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line);
    }
    if (wantsFiles) {
      const line = `${new Date().toISOString()} ${level} ${text}\n`;
      this.development?.write(line);
      if (rank[level] <= rank.warn) this.production?.write(line);
    }
  }

  /** Closes the log files (pending lines are flushed by the streams). */
  close(): void {
    this.production?.end();
    this.development?.end();
    this.production = undefined;
    this.development = undefined;
  }
}
