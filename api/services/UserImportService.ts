import { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { Op } from 'sequelize';
import { BadRequestError, ForbiddenError, toErrorReply } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import { type FluxModel, publicAttributes } from '../../lib/FluxModel.js';
import { UnrecoverableError } from '../../lib/jobs.js';
import { unstorableText } from '../../lib/limits.js';
import { Team } from '../models/Team.js';
import { User } from '../models/User.js';
import { setUnusablePassword } from './PasswordService.js';
import { assertCanGrantRole } from './PermissionService.js';

/**
 * The CSV import of users (docs/import.md): the check of a file when it is sent (`POST /import/users`)
 * and the import itself, run by the `importUsers` job (api/jobs/importUsers.ts).
 *
 * The file: UTF-8, comma-separated, a header naming the columns `login`, `name`, `team`, `email` and
 * optionally `password`, in any order (case and surrounding spaces ignored). Each line is one user of the
 * tenant, found by login: created when the login is new, else updated — only where the line differs, so a
 * second run of the same file writes nothing. An empty cell leaves the user's value as it is (an import adds
 * and corrects, it never erases). A password is set on new users only; a new user without one gets a
 * password nobody knows. The team is named, and must exist in the tenant. Every write goes through the User
 * model: its validation, its reactions (password hashing) and its published events, like any write.
 */

export const requiredColumns = ['login', 'name', 'team', 'email'] as const;
export const optionalColumns = ['password'] as const;
export type ImportColumn = (typeof requiredColumns)[number] | (typeof optionalColumns)[number];

/** Most failed lines a result lists; `failedCount` counts them all. */
export const maxListedFailures = 1000;
/** Lines whose existing users are read in one query. */
const batchSize = 200;
/** Bytes handed to the CSV parser at a time: the event loop turns between them. */
const chunkBytes = 64 * 1024;

/** csv-parse's options, the same when the file is checked and when it is imported. */
const csvOptions = {
  bom: true,
  info: true,
  // a line with too many or too few fields fails alone (the other lines still import)
  relax_column_count: true,
  // a quote inside an unquoted field (O"Brien) is kept, as spreadsheets write it
  relax_quotes: true,
  skip_empty_lines: true,
  max_record_size: 64 * 1024,
} as const;

/** One parsed line: its fields, the number of the line it starts on (the header is line 1), its end offset. */
interface CsvLine {
  fields: string[];
  line: number;
  /** Bytes of the file read up to the end of this line. */
  bytes: number;
}

/**
 * The records of `text`, streamed: csv-parse reads 64 KiB at a time. A record's `line` is the line it starts
 * on (a quoted value may span several). Records of empty values only (`,,,`, as spreadsheets append) are
 * skipped.
 * @throws CsvError for text that is not CSV (an unclosed quote, a line over 64 KiB)
 */
async function* csvLines(text: string): AsyncGenerator<CsvLine> {
  const bytes = Buffer.from(text);
  const chunks = function* () {
    for (let start = 0; start < bytes.length; start += chunkBytes)
      yield bytes.subarray(start, start + chunkBytes);
  };
  const parser = Readable.from(chunks()).pipe(parse(csvOptions));
  // csv-parse's line count (`info.lines`, at a record's end) counts a CRLF inside a quoted value as two
  // lines (each character in turn; a CRLF between records as one): those are taken off
  let crlfInValues = 0;
  for await (const { record, info } of parser as AsyncIterable<{
    record: string[];
    info: { lines: number; bytes: number };
  }>) {
    let breaks = 0;
    for (const field of record) {
      breaks += field.match(/\r\n|\r|\n/g)?.length ?? 0;
      crlfInValues += field.match(/\r\n/g)?.length ?? 0;
    }
    if (record.every((field) => field.trim() === '')) continue;
    yield { fields: record, line: info.lines - crlfInValues - breaks, bytes: info.bytes };
  }
}

/**
 * The columns of a header line, by name → field index.
 * @throws BadRequestError naming an unknown, repeated or missing column
 */
export function readHeader(fields: readonly string[]): Map<ImportColumn, number> {
  const known: readonly string[] = [...requiredColumns, ...optionalColumns];
  const expected = `the header names login, name, team, email and optionally password, separated by commas`;
  const columns = new Map<ImportColumn, number>();
  for (const [index, field] of fields.entries()) {
    const name = field.trim().toLowerCase();
    if (name === '' && fields.slice(index).every((rest) => rest.trim() === '')) break;
    if (!known.includes(name)) {
      const hint = /[;\t]/.test(field) && fields.length === 1 ? ' (columns must be separated by commas)' : '';
      throw new BadRequestError(`Unknown column "${field.slice(0, 50)}"${hint}: ${expected}`);
    }
    if (columns.has(name as ImportColumn)) throw new BadRequestError(`Column "${name}" appears twice`);
    columns.set(name as ImportColumn, index);
  }
  const missing = requiredColumns.filter((column) => !columns.has(column));
  if (missing.length) throw new BadRequestError(`Missing column ${missing.join(', ')}: ${expected}`);
  return columns;
}

/**
 * Checks a file sent to `POST /import/users` before any job is queued: UTF-8 text, CSV, a valid header,
 * at least one line after it.
 * @returns the number of user lines (blank lines not counted)
 * @throws BadRequestError (400) for an empty file, text that is not UTF-8 or not CSV (with the line of the
 *   problem), a wrong header, or a header alone
 */
export async function checkImportFile(content: Buffer): Promise<{ text: string; lines: number }> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw new BadRequestError('The file must be UTF-8 text (save it as "CSV UTF-8")');
  }
  if (text.trim() === '') throw new BadRequestError('The file is empty');
  if (unstorableText(text)) throw new BadRequestError('The file contains a NUL character');
  let header = false;
  let lines = 0;
  try {
    for await (const { fields } of csvLines(text)) {
      if (!header) readHeader(fields);
      else lines++;
      header = true;
    }
  } catch (err) {
    if (err instanceof CsvError) throw new BadRequestError(`The file is not valid CSV: ${err.message}`);
    throw err;
  }
  if (lines === 0) throw new BadRequestError('The file has no user lines after its header');
  return { text, lines };
}

/** What the `importUsers` job stores: the file while it runs, a summary once it ended. */
export interface ImportData {
  tenantId: number;
  /** Who started it: the import acts with that user's permissions, as they are when it runs. */
  userId: number;
  /** The file's text; dropped when the import ends (it may hold passwords). */
  csv?: string;
  /** Size of the file, bytes. */
  bytes: number;
  /** User lines of the file. */
  lines: number;
  /** Once ended: what the result says, in counts (the file is gone). */
  summary?: { created: number; updated: number; unchanged: number; failed: number; error?: string };
}

/** The result of an import (the job's `result`). */
export interface ImportResult {
  /** Users created. */
  created: number;
  /** Existing users changed. */
  updated: number;
  /** Existing users the line did not change. */
  unchanged: number;
  /** The lines that failed, by line number (the header is line 1), at most {@link maxListedFailures}. */
  failed: Array<{ line: number; error: string }>;
  /** Lines that failed, all of them. */
  failedCount: number;
}

/** The part of a job run (lib/jobs.ts `JobRun`) the import uses. */
export interface ImportRun {
  data: ImportData;
  signal: AbortSignal;
  progress(percent: number): Promise<void>;
  update(data: ImportData): Promise<void>;
}

/** A line's own problem: it fails alone, with this message. */
class LineError extends Error {}

/** The user acting, as they are now. */
interface Actor {
  user: User;
  team: Team;
}

/**
 * Imports the file of `run.data` (see the module's comment), reporting progress by whole percents of the
 * file read; then replaces the job's data with a summary without the file. A line's own problem (invalid
 * value, unknown team, a role the starter may not grant, a login already on an earlier line) fails that line
 * alone. What may pass on a later attempt — the database unreachable or too busy, a timeout, the signal —
 * fails the run, which the job engine retries: lines already imported are then unchanged, so a re-run
 * after a crash continues where it stopped.
 * @param lastAttempt on the job's last attempt a failure also drops the file from the job's data
 * @throws Error when the starter no longer exists or has lost `user/admin`, when the file is gone (the
 *   import ended before), or what stopped the run (`signal.reason`, a database error)
 */
export async function importUsers(
  run: ImportRun,
  { lastAttempt }: { lastAttempt: boolean },
): Promise<ImportResult> {
  const { data } = run;
  const result: ImportResult = { created: 0, updated: 0, unchanged: 0, failed: [], failedCount: 0 };
  if (typeof data.csv !== 'string')
    throw new UnrecoverableError('The file of this import is gone (the import ended before)');
  const end = (error?: string) =>
    run.update({
      tenantId: data.tenantId,
      userId: data.userId,
      bytes: data.bytes,
      lines: data.lines,
      summary: {
        created: result.created,
        updated: result.updated,
        unchanged: result.unchanged,
        failed: result.failedCount,
        ...(error ? { error } : {}),
      },
    });
  try {
    await new Import(run, data.csv, result, await actorOf(data)).run();
  } catch (err) {
    const permanent = err instanceof ForbiddenError;
    if (lastAttempt || permanent) await end(err instanceof Error ? err.message : String(err)).catch(() => {});
    // a starter without user/admin will not get it back by retrying
    if (permanent) throw new UnrecoverableError((err as Error).message);
    throw err;
  }
  await end();
  return result;
}

/**
 * The starter, who must still be a user of the tenant with `user/admin`.
 * @throws ForbiddenError otherwise
 */
async function actorOf(data: ImportData): Promise<Actor> {
  const user = await User.findOne({ where: { id: data.userId, tenantId: data.tenantId } });
  const team = user?.teamId
    ? await Team.findOne({ where: { id: user.teamId, tenantId: data.tenantId } })
    : null;
  if (!user || !team || !User.teamCan(team, 'admin'))
    throw new ForbiddenError('The user who started this import no longer has user/admin');
  return { user, team };
}

/** One run over one file. */
class Import {
  private readonly tenantId: number;
  private readonly teamsByName = new Map<string, Team>();
  private readonly teamsById = new Map<number, Team>();
  /** Login → the line it was first seen on. */
  private readonly seen = new Map<string, number>();
  private readonly total: number;
  private reported = -1;
  private columns?: Map<ImportColumn, number>;

  constructor(
    private readonly job: ImportRun,
    private readonly text: string,
    private readonly result: ImportResult,
    private readonly actor: Actor,
  ) {
    this.tenantId = job.data.tenantId;
    this.total = Math.max(1, Buffer.byteLength(text));
  }

  async run(): Promise<void> {
    for (const team of await Team.findAll({ where: { tenantId: this.tenantId } })) {
      this.teamsByName.set(team.name, team);
      this.teamsById.set(team.id, team);
    }
    await this.report(0);
    let batch: CsvLine[] = [];
    for await (const line of csvLines(this.text)) {
      this.stopIfAborted();
      if (!this.columns) {
        this.columns = readHeader(line.fields);
        continue;
      }
      batch.push(line);
      if (batch.length >= batchSize) {
        await this.importBatch(batch);
        batch = [];
      }
    }
    await this.importBatch(batch);
    await this.report(this.total);
  }

  private stopIfAborted(): void {
    if (this.job.signal.aborted) throw this.job.signal.reason ?? new Error('Import stopped');
  }

  /** Reports the progress when it reached a new whole percent. */
  private async report(bytes: number): Promise<void> {
    const percent = Math.min(100, Math.floor((bytes * 100) / this.total));
    if (percent <= this.reported) return;
    this.reported = percent;
    await this.job.progress(percent);
  }

  private async importBatch(lines: CsvLine[]): Promise<void> {
    if (!lines.length) return;
    const logins = [...new Set(lines.map((line) => this.value(line, 'login')).filter((login) => login))];
    const existing = new Map(
      (await User.findAll({ where: { tenantId: this.tenantId, login: { [Op.in]: logins } } })).map((user) => [
        user.login,
        user,
      ]),
    );
    for (const line of lines) {
      this.stopIfAborted();
      try {
        this.result[await this.importLine(line, existing)]++;
      } catch (err) {
        this.fail(line.line, describe(err));
      }
      await this.report(line.bytes);
    }
  }

  private fail(line: number, error: string): void {
    this.result.failedCount++;
    if (this.result.failed.length < maxListedFailures) this.result.failed.push({ line, error });
  }

  /** The trimmed value of `column` on `line`, '' when absent (passwords are not trimmed). */
  private value(line: CsvLine, column: ImportColumn): string {
    const index = this.columns?.get(column);
    const raw = index === undefined ? '' : (line.fields[index] ?? '');
    return column === 'password' ? raw : raw.trim();
  }

  private async importLine(
    line: CsvLine,
    existing: Map<string, User>,
  ): Promise<'created' | 'updated' | 'unchanged'> {
    const columns = this.columns?.size ?? 0;
    if (line.fields.length < columns || line.fields.slice(columns).some((field) => field.trim() !== ''))
      throw new LineError(`${columns} fields expected, ${line.fields.length} found`);
    const login = this.value(line, 'login');
    const name = this.value(line, 'name');
    const email = this.value(line, 'email');
    const password = this.value(line, 'password');
    if (!login) throw new LineError('login is required');
    const first = this.seen.get(login);
    if (first !== undefined) throw new LineError(`login "${login}" is already on line ${first}`);
    this.seen.set(login, line.line);
    checkLengths({ login, name, email });
    const team = this.team(this.value(line, 'team'));

    const user = existing.get(login);
    if (!user) {
      if (team) assertCanGrantRole(this.actor.team, team.role);
      const created = User.build({
        tenantId: this.tenantId,
        login,
        name: name || null,
        email: email || null,
        teamId: team?.id ?? null,
        ip: null,
        password,
      });
      // an import is not how passwords are given to existing users, nor a password a user must know
      if (!password) setUnusablePassword(created);
      await created.save();
      return 'created';
    }
    const changes: { name?: string; email?: string; teamId?: number } = {};
    if (name && name !== user.name) changes.name = name;
    if (email && email !== user.email) changes.email = email;
    if (team && team.id !== user.teamId) changes.teamId = team.id;
    if (!Object.keys(changes).length) return 'unchanged';
    this.checkCanChange(user);
    if (team && changes.teamId !== undefined) assertCanGrantRole(this.actor.team, team.role);
    user.set(changes);
    await user.save();
    return 'updated';
  }

  /** The team named `name` in the tenant; undefined for an empty name. @throws LineError for an unknown one */
  private team(name: string): Team | undefined {
    if (!name) return undefined;
    const team = this.teamsByName.get(name);
    if (team) return team;
    const similar = [...this.teamsByName.keys()].find((known) => known.toLowerCase() === name.toLowerCase());
    throw new LineError(`no team named "${name}"${similar ? ` (there is "${similar}")` : ''}`);
  }

  /**
   * Acting on another user is acting on their role (as `PUT /user/:id`): only on users whose team's role the
   * starter holds entirely. @throws ForbiddenError
   */
  private checkCanChange(user: User): void {
    if (user.id === this.actor.user.id || user.teamId === null) return;
    const team = this.teamsById.get(user.teamId);
    if (!team) return;
    try {
      assertCanGrantRole(this.actor.team, team.role);
    } catch {
      throw new ForbiddenError(`not allowed to change a user of the role "${team.role}"`);
    }
  }
}

/** The User model's length bounds (its column sizes), as the API checks them. @throws LineError */
function checkLengths(values: Record<string, string>): void {
  const attributes = publicAttributes(User as unknown as typeof FluxModel);
  for (const [name, value] of Object.entries(values)) {
    const max = attributes.get(name)?.maxLength;
    if (max !== undefined && value.length > max)
      throw new LineError(`${name} must have at most ${max} characters`);
  }
}

/**
 * A failed line's message: its own problem, a validation's or a permission's message. A problem that may
 * pass later (503: the database unreachable, a statement timeout, the bcrypt queue full) is thrown again: it
 * fails the run, which is retried.
 */
function describe(err: unknown): string {
  if (err instanceof LineError) return err.message;
  const { status, body, unexpected } = toErrorReply(err);
  if (status === 503) throw err;
  if (unexpected) {
    Flux.log.error('import: a line could not be written:', err);
    return 'could not be written (see the server log)';
  }
  const fields = (err as { fields?: unknown }).fields;
  if ((err as { name?: string }).name === 'SequelizeUniqueConstraintError' && fields) {
    const names = Array.isArray(fields) ? fields : Object.keys(fields as object);
    if (names.includes('email')) return 'email belongs to another user of the tenant';
    if (names.includes('login')) return 'login already exists';
  }
  const issues = body._error.validation;
  return issues?.length ? issues.map((issue) => issue.message).join('; ') : body._error.message;
}
