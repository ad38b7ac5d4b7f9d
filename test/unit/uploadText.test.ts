import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { textType } from '../../lib/upload.js';

/** Text files on `file` routes (lib/upload.ts `textType`): recognized on their first 64 KiB. */

const dir = mkdtempSync(path.join(tmpdir(), 'flux-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function file(content: string | Buffer): string {
  const name = path.join(dir, `f${count++}`);
  writeFileSync(name, content);
  return name;
}

const csv = ['image/png', 'text/csv'];

describe('textType', () => {
  it('When a file is UTF-8 text with tabs and line breaks, then it is the first text type of the allow-list', async () => {
    expect(await textType(file('login,name\r\nzoë,"Zoë\tZ"\n'), csv)).toBe('text/csv');
    expect(await textType(file('a,b\n'), ['text/plain', 'text/csv'])).toBe('text/plain');
    expect(await textType(file(''), csv)).toBe('text/csv');
  });

  it('When a multi-byte character straddles the 64 KiB read, then the file is still text', async () => {
    const content = Buffer.concat([Buffer.alloc(64 * 1024 - 1, 'a'), Buffer.from('€ and more')]);
    expect(await textType(file(content), csv)).toBe('text/csv');
  });

  it('When a file is not UTF-8, holds a control character or NUL, or the allow-list has no text type, then it is no text', async () => {
    expect(await textType(file(Buffer.from('ren\xe9\n', 'latin1')), csv)).toBeUndefined();
    expect(await textType(file('a\u0000b'), csv)).toBeUndefined();
    expect(await textType(file('a\u001bb'), csv)).toBeUndefined();
    expect(await textType(file('a\u007fb'), csv)).toBeUndefined();
    expect(await textType(file('login,name\n'), ['image/png'])).toBeUndefined();
  });
});
