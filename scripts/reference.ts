/**
 * Generates the tables of docs/reference.md from the code, so that the reference cannot drift from it:
 * the route table (`config/routes.ts`), the config schemas (`coreConfigSchema` of lib/config.ts and the
 * one api/configSchema.ts registers, through zod's JSON Schema) and their environment variables, the error codes (the classes of lib/errors.ts and
 * every `ExpectedError(status, 'Code', …)` of the source), the models (`api/models/`) and the CLI
 * (`createProgram()` of cli/program.ts). Each table sits between `<!-- generated:NAME -->` and
 * `<!-- /generated:NAME -->`; the prose around them is written by hand and left alone.
 *
 * `npm run docs:reference` rewrites the file; test/unit/reference.test.ts regenerates it in memory and
 * fails when it differs. Reads only public exports and source text, never a running server.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { z } from 'zod';
import { createProgram } from '../cli/program.js';
import routeTable from '../config/routes.js';
import { coreConfigSchema, envOverrides } from '../lib/config.js';
import * as errorModule from '../lib/errors.js';
import { FluxModel } from '../lib/FluxModel.js';
import { importDir, loadConfigSchema } from '../lib/loader.js';

export const rootDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const referenceFile = path.join(rootDir, 'docs', 'reference.md');

/** A Markdown table laid out as `biome format` lays it out (cells padded, at least three wide). */
export function markdownTable(header: string[], rows: string[][]): string {
  const escapeCell = (cell: string) => cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const cells = [header, ...rows].map((row) => row.map(escapeCell));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((row) => [...row[i]].length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => cell + ' '.repeat(widths[i] - [...cell].length)).join(' | ')} |`;
  return [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

const code = (text: string) => `\`${text}\``;

// ---------------------------------------------------------------------------------------------- routes

interface RouteEntry {
  action: string;
  middlewares?: string[];
  file?: string;
  httpOnly?: boolean;
}

function routesSection(): string {
  const rows = Object.entries(routeTable as Record<string, RouteEntry>).map(([key, route]) => {
    const [method, routePath] = key.split(' ');
    const notes = [
      ...(route.file ? [`multipart field ${code(route.file)} (HTTP only)`] : []),
      ...(route.httpOnly ? ['HTTP only: 404 over a socket'] : []),
    ];
    return [
      method.toUpperCase(),
      code(routePath),
      code(route.action),
      (route.middlewares ?? []).map(code).join(', ') || '-',
      notes.join('; '),
    ];
  });
  return markdownTable(['method', 'path', 'action', 'route middlewares', 'notes'], rows);
}

// ---------------------------------------------------------------------------------------------- config

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  minItems?: number;
  format?: string;
  pattern?: string;
  required?: string[];
}

const largestSafe = Number.MAX_SAFE_INTEGER;

function typeOf(schema: JsonSchema): string {
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' or ');
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === 'array') return `${schema.items ? typeOf(schema.items) : 'any'}[]`;
  if (schema.format) return `${schema.type} (${schema.format})`;
  return Array.isArray(schema.type) ? schema.type.join(' or ') : (schema.type ?? 'any');
}

function boundsOf(schema: JsonSchema): string {
  const parts: string[] = [];
  if (schema.exclusiveMinimum !== undefined) parts.push(`> ${schema.exclusiveMinimum}`);
  if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined && schema.maximum < largestSafe) parts.push(`≤ ${schema.maximum}`);
  if (schema.minLength !== undefined && schema.minLength > 0) parts.push(`length ≥ ${schema.minLength}`);
  if (schema.minItems !== undefined && schema.minItems > 0) parts.push(`items ≥ ${schema.minItems}`);
  return parts.join(', ');
}

/**
 * `key.path` → the JSDoc of that key in a schema's source file (every top-level variable of it), best
 * effort: none when the file or the key is not found. zod keeps no comments, and JSON Schema
 * `description`s (zod's `.describe()` or `.meta()`) win over these.
 */
function schemaComments(file: string, comments = new Map<string, string>()): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return comments;
  }
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node, prefix: string[]): void => {
    if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))) {
      const keyPath = [...prefix, node.name.text];
      const doc = ts
        .getJSDocCommentsAndTags(node)
        .filter(ts.isJSDoc)
        .map((jsdoc) => ts.getTextOfJSDocComment(jsdoc.comment) ?? '')
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim();
      if (doc) comments.set(keyPath.join('.'), doc);
      ts.forEachChild(node.initializer, (child) => visit(child, keyPath));
      return;
    }
    ts.forEachChild(node, (child) => visit(child, prefix));
  };
  source.forEachChild((statement) => {
    if (!ts.isVariableStatement(statement)) return;
    for (const declaration of statement.declarationList.declarations) {
      if (declaration.initializer) visit(declaration.initializer, []);
    }
  });
  return comments;
}

/** The framework's schema and environment variables, and those the application registers. */
async function configSchemas(): Promise<{
  schemas: Array<{ owner: string; schema: z.ZodType }>;
  env: Array<[string, readonly string[]]>;
}> {
  const registered = await loadConfigSchema(path.join(rootDir, 'api'));
  return {
    schemas: [
      { owner: 'lib', schema: coreConfigSchema },
      ...(registered.schema ? [{ owner: 'api', schema: registered.schema }] : []),
    ],
    env: [...Object.entries(envOverrides), ...Object.entries(registered.env ?? {})],
  };
}

async function configSection(): Promise<string> {
  const { schemas, env } = await configSchemas();
  const comments = schemaComments(path.join(rootDir, 'lib', 'config.ts'));
  schemaComments(path.join(rootDir, 'api', 'configSchema.ts'), comments);
  const envByKey = new Map(env.map(([name, keyPath]) => [keyPath.join('.'), name]));
  const rows: string[][] = [];
  let owner = '';
  const walk = (node: JsonSchema, prefix: string[]): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const keyPath = [...prefix, key];
      const name = keyPath.join('.');
      if (child.type === 'object' && child.properties) {
        walk(child, keyPath);
        continue;
      }
      const env = envByKey.get(name);
      const description = [child.description ?? comments.get(name) ?? '', env ? `Env ${code(env)}.` : '']
        .filter(Boolean)
        .join(' ');
      rows.push([
        code(name),
        owner,
        typeOf(child),
        child.default === undefined ? '-' : code(JSON.stringify(child.default)),
        boundsOf(child),
        description,
      ]);
    }
  };
  for (const entry of schemas) {
    owner = entry.owner;
    walk(z.toJSONSchema(entry.schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema, []);
  }
  return markdownTable(['key', 'schema', 'type', 'default', 'bounds', 'meaning'], rows);
}

async function envSection(): Promise<string> {
  const { env } = await configSchemas();
  const rows = env.map(([name, keyPath]) => [code(name), code(keyPath.join('.'))]);
  return markdownTable(['variable', 'sets'], rows);
}

// ---------------------------------------------------------------------------------------------- errors

/** What each code means to a client; a code found in the source but missing here is listed as such. */
const errorMeanings: Record<string, string> = {
  BadRequest:
    'Malformed input: JSON, a non-object body or socket payload, a bad filter, sort, limit or `:id`, ' +
    'a socket-only action over HTTP, or a domain refusal such as destroying a referenced row.',
  ValidationError:
    'Fields of the body do not validate (types, unique values, references, filter bounds); ' +
    'carries `_error.validation: [{path, message, type}]`.',
  Unauthorized: 'No credentials on a route that needs them, or wrong login and password.',
  InvalidToken: 'A token was presented and is malformed, badly signed or of an unknown session.',
  TokenExpired: 'A token was presented and has expired, or its session is older than `auth.sessionMaxAgeMs`.',
  TokenRevoked: 'A token was presented and its session was revoked (logout, `DELETE /session/:id`).',
  Forbidden: 'Authenticated, but the team lacks the permission for this write or action.',
  NotFound:
    'Unknown route (or an HTTP-only route over a socket), a missing or unreadable item, an unknown tenant.',
  PayloadTooLarge: 'The body, socket `data` or uploaded file is over its limit.',
  TooManyRequests:
    'A rate limit, a login limit, a queue of one client, the socket in-flight cap or the event streams per user; `Retry-After`.',
  Busy: 'A bounded queue of the server (bcrypt, images, expensive reads) is full; `Retry-After`.',
  QueryTimeout: 'An SQL statement ran past `database.statementTimeoutMs`.',
  DatabaseUnavailable: 'The database cannot be reached; `Retry-After: 1`.',
  NotReady: '`GET /ready` only: the database or Redis is not reachable, or the server is stopping.',
  ShuttingDown:
    'A socket request, or a new event stream, while the server is stopping; reconnect (to another instance).',
  InvalidResetToken:
    '`POST /auth/reset/confirm`: the token is unknown, already used, replaced by a newer one, or expired.',
  UnexpectedError: 'Anything else. The message is always "Unexpected error"; details only in the server log.',
  InternalError: 'Socket only: the reply of a virtual request was aborted before it was complete.',
};

/** Source files of the server (tests excluded), relative to the root. */
function serverSources(): string[] {
  const files: string[] = ['app.ts'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(rootDir, dir), { withFileTypes: true })) {
      const relative = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(relative);
      else if (/\.ts$/.test(entry.name) && !/\.(test|d)\.ts$/.test(entry.name)) files.push(relative);
    }
  };
  for (const dir of ['lib', 'api', 'cli', 'config']) walk(dir);
  return files.sort();
}

function errorsSection(): string {
  const errors: Record<string, unknown> = errorModule;
  const Base = errorModule.ExpectedError;
  const found = new Map<string, { statuses: Set<number>; raisedBy: Set<string> }>();
  const add = (status: number, errorCode: string, by: string) => {
    const entry = found.get(errorCode) ?? { statuses: new Set(), raisedBy: new Set() };
    entry.statuses.add(status);
    entry.raisedBy.add(by);
    found.set(errorCode, entry);
  };
  // the classes of lib/errors.ts, and those whose constructor takes the code (TokenError) with every
  // code the source passes them
  const classes = Object.entries(errors).filter(
    (entry): entry is [string, new (...args: unknown[]) => { status: number; code: string }] =>
      typeof entry[1] === 'function' && entry[1].prototype instanceof Base,
  );
  const sources = serverSources().map((file) => [file, readFileSync(path.join(rootDir, file), 'utf8')]);
  for (const [name, ErrorClass] of classes) {
    const plain = new ErrorClass();
    if (plain.code !== undefined && plain.code !== 'undefined') add(plain.status, plain.code, code(name));
    const withValidation = new ErrorClass('m', []);
    if (withValidation.code !== plain.code && /^[A-Z]\w+$/.test(withValidation.code ?? ''))
      add(withValidation.status, withValidation.code, code(name));
    const codeFirst = new RegExp(`new\\s+${name}\\(\\s*'([A-Z]\\w*)'`, 'g');
    for (const [, text] of sources) {
      for (const match of text.matchAll(codeFirst)) {
        const made = new ErrorClass(match[1], 'm');
        if (made.code === match[1]) add(made.status, made.code, code(name));
      }
    }
  }
  for (const [file, text] of sources) {
    for (const match of text.matchAll(/new\s+ExpectedError\(\s*(\d{3})\s*,\s*'([A-Z]\w*)'/g))
      add(Number(match[1]), match[2], file);
    for (const match of text.matchAll(/status:\s*(\d{3})\s*,\s*code:\s*'([A-Z]\w*)'/g))
      add(Number(match[1]), match[2], file);
  }
  const rows = [...found.entries()]
    .sort(([a, x], [b, y]) => Math.min(...x.statuses) - Math.min(...y.statuses) || a.localeCompare(b))
    .map(([errorCode, entry]) => [
      [...entry.statuses].sort().join(', '),
      code(errorCode),
      errorMeanings[errorCode] ?? '(not described yet: add it to errorMeanings in scripts/reference.ts)',
      [...entry.raisedBy].sort().join(', '),
    ]);
  return markdownTable(['status', 'code', 'meaning', 'raised by'], rows);
}

// ---------------------------------------------------------------------------------------------- models

interface ModelClass {
  name: string;
  publicName: string;
  permissionLevels: readonly string[];
  writableAttributes: readonly string[];
  hiddenAttributes: readonly string[];
  readGroupRules: Record<string, unknown>;
  references: Record<string, { model: string; onDelete: string }>;
  tenantScoped: boolean;
}

async function modelsSection(): Promise<string> {
  const rows: string[][] = [];
  for (const [name, exports] of await importDir(path.join(rootDir, 'api', 'models'))) {
    const exported = exports[name];
    if (typeof exported !== 'function' || !(exported.prototype instanceof FluxModel)) continue;
    const model = exported as unknown as ModelClass;
    const list = (items: readonly string[]) => items.map(code).join(', ') || '-';
    rows.push([
      code(model.name),
      code(`model:${model.publicName}`),
      list(model.permissionLevels.map((level) => `${model.publicName}/${level}`)),
      list(['all', ...Object.keys(model.readGroupRules).map((group) => `${group}:…`)]),
      list(model.writableAttributes),
      list(model.hiddenAttributes),
      Object.entries(model.references)
        .map(([attribute, reference]) => `${code(attribute)} → ${reference.model} (${reference.onDelete})`)
        .join(', ') || '-',
    ]);
  }
  return markdownTable(
    ['model', 'event', 'permissions', 'item read groups', 'writable', 'hidden', 'references (on delete)'],
    rows,
  );
}

// ---------------------------------------------------------------------------------------------- CLI

function cliSection(): string {
  const silent = { stdout: () => undefined, stderr: () => undefined };
  const rows = createProgram(silent).commands.map((command) => {
    const args = command.registeredArguments.map((argument) => {
      const shown = argument.required ? `<${argument.name()}>` : `[${argument.name()}]`;
      const fallback =
        argument.defaultValue === undefined ? '' : ` (default ${JSON.stringify(argument.defaultValue)})`;
      return `${code(shown)}: ${argument.description}${fallback}`;
    });
    const options = command.options.map((option) => {
      const fallback =
        option.defaultValue === undefined ? '' : ` (default ${JSON.stringify(option.defaultValue)})`;
      return `${code(option.flags)}${option.mandatory ? ' (required)' : ''}: ${option.description}${fallback}`;
    });
    return [code(`flux ${command.name()}`), command.description(), [...args, ...options].join('; ') || '-'];
  });
  return markdownTable(['command', 'what it does', 'arguments and options'], rows);
}

// ---------------------------------------------------------------------------------------------- file

/** Every generated section, by marker name. */
export async function generateSections(): Promise<Record<string, string>> {
  return {
    routes: routesSection(),
    config: await configSection(),
    env: await envSection(),
    errors: errorsSection(),
    models: await modelsSection(),
    cli: cliSection(),
  };
}

/**
 * `markdown` with the content between each pair of markers replaced by its section.
 * @throws Error when a section has no markers in `markdown`.
 */
export function applySections(markdown: string, sections: Record<string, string>): string {
  let result = markdown;
  for (const [name, content] of Object.entries(sections)) {
    const pattern = new RegExp(`(<!-- generated:${name} -->)[\\s\\S]*?(<!-- /generated:${name} -->)`);
    if (!pattern.test(result)) throw new Error(`docs/reference.md has no generated:${name} markers`);
    result = result.replace(
      pattern,
      (_all, open: string, close: string) => `${open}\n\n${content}\n\n${close}`,
    );
  }
  return result;
}

/** What docs/reference.md should hold now. */
export async function expectedReference(): Promise<string> {
  return applySections(readFileSync(referenceFile, 'utf8'), await generateSections());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const current = readFileSync(referenceFile, 'utf8');
  const next = await expectedReference();
  if (next === current) console.log('docs/reference.md is up to date');
  else {
    writeFileSync(referenceFile, next);
    console.log('docs/reference.md rewritten');
  }
}
