import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger, redact } from '../../lib/log.js';

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
