import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { escapeControl, Logger, redact } from '../../lib/log.js';

afterEach(() => {
  vi.restoreAllMocks();
});

async function flushed(logger: Logger): Promise<void> {
  logger.close();
  await new Promise((r) => setTimeout(r, 50));
}

describe('Logger', () => {
  it('writes error and warn to both files, info and debug to development.log only', async () => {
    vi.spyOn(process.stdout, 'write').mockReturnValue(true);
    vi.spyOn(process.stderr, 'write').mockReturnValue(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'flux-log-'));
    const logger = new Logger({ level: 'error', dir });
    logger.error('an error');
    logger.warn('a warning');
    logger.info('some info');
    logger.debug('a detail');
    await flushed(logger);
    const production = readFileSync(path.join(dir, 'production.log'), 'utf8');
    const development = readFileSync(path.join(dir, 'development.log'), 'utf8');
    expect(production).toMatch(/error an error\n.*warn a warning\n$/);
    expect(production).not.toContain('some info');
    for (const text of ['an error', 'a warning', 'some info', 'a detail'])
      expect(development).toContain(text);
  });

  it('filters the console by level, errors and warnings on stderr', () => {
    const out = vi.spyOn(process.stdout, 'write').mockReturnValue(true);
    const err = vi.spyOn(process.stderr, 'write').mockReturnValue(true);
    const logger = new Logger({ level: 'warn', dir: false });
    logger.error('e');
    logger.warn('w');
    logger.info('i');
    logger.debug('d');
    expect(err).toHaveBeenCalledTimes(2);
    expect(out).not.toHaveBeenCalled();
  });

  it('never logs secrets', async () => {
    vi.spyOn(process.stdout, 'write').mockReturnValue(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'flux-log-'));
    const logger = new Logger({ level: 'debug', dir });
    logger.info('login', {
      login: 'bob',
      password: 'hunter22',
      headers: { Authorization: 'Bearer abc.def.ghi' },
      jwt: 'x.y.z',
    });
    await flushed(logger);
    const development = readFileSync(path.join(dir, 'development.log'), 'utf8');
    expect(development).toContain('bob');
    expect(development).not.toMatch(/hunter22|abc\.def\.ghi|x\.y\.z/);
  });
});

describe('redact', () => {
  it('replaces secret keys at any depth and tolerates cycles', () => {
    const value: Record<string, unknown> = { a: { token: 't', list: [{ Password: 'p' }] } };
    value.self = value;
    expect(redact(value)).toEqual({
      a: { token: '[redacted]', list: [{ Password: '[redacted]' }] },
      self: '[circular]',
    });
  });
});

describe('control characters', () => {
  it('When a string holds C0, DEL, C1 or Unicode line separators, then escapeControl writes them as escapes', () => {
    expect(escapeControl('a\nb\rc\td')).toBe('a\\nb\\rc\\td');
    expect(escapeControl('\u0000\u001b[31m\u007f\u0085\u009b')).toBe('\\x00\\x1b[31m\\x7f\\x85\\x9b');
    expect(escapeControl('x\u2028y\u2029z')).toBe('x\\u2028y\\u2029z');
    expect(escapeControl('plain ascii, é and 日本 stay')).toBe('plain ascii, é and 日本 stay');
  });

  it('When a log call carries client strings, objects and an error, then the file gets exactly one line, escaped', async () => {
    vi.spyOn(process.stdout, 'write').mockReturnValue(true);
    vi.spyOn(process.stderr, 'write').mockReturnValue(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'flux-log-'));
    const logger = new Logger({ level: 'error', dir });
    const forged = '/user\n2026-01-01T00:00:00.000Z error [admin] forged\u001b[2J\u2028';
    logger.error(`[id] GET ${forged} failed:`, new Error('two\nlines'), {
      url: forged,
      list: Array.from({ length: 40 }, (_, i) => `item ${i}`),
    });
    logger.warn('next call');
    await flushed(logger);
    const lines = readFileSync(path.join(dir, 'development.log'), 'utf8').split('\n');
    expect(lines).toHaveLength(3); // two lines and the final newline
    expect(lines[0]).toContain(
      'GET /user\\n2026-01-01T00:00:00.000Z error [admin] forged\\x1b[2J\\u2028 failed:',
    );
    expect(lines[0]).toContain("message: 'two\\nlines'");
    expect(lines[0]).toContain("'item 39'");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may be left
    expect(lines[0]).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(lines[1]).toMatch(/warn next call$/);
  });

  it('When the console gets a line, then it is escaped the same way', () => {
    const err = vi.spyOn(process.stderr, 'write').mockReturnValue(true);
    new Logger({ level: 'warn', dir: false }).warn('a\nb');
    expect(String(err.mock.calls[0][0])).toMatch(/a\\nb\n$/);
  });
});
