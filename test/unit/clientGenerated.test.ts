import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientGenerated, generatedDir } from '../../scripts/clientGenerate.js';

/** `text` as `biome format` lays it out (the npm script formats what it writes). */
function formatted(text: string, name: string): string {
  const biome = spawnSync('npx', ['biome', 'format', `--stdin-file-path=${name}`], {
    input: text,
    encoding: 'utf8',
  });
  expect(biome.status, biome.stderr).toBe(0);
  return biome.stdout;
}

describe('client/src/generated/', () => {
  it('holds the protocol, model types and attribute kinds of the current server (run `npm run client:generate` after changing them)', async () => {
    const files = await clientGenerated();
    expect(Object.keys(files).sort()).toEqual(['models.ts', 'protocol.ts', 'schema.ts']);
    for (const [name, text] of Object.entries(files)) {
      expect(readFileSync(path.join(generatedDir, name), 'utf8'), name).toBe(formatted(text, name));
    }
    // not vacuous: the model types are printed member by member, the kinds tell dates and JSON apart
    expect(files['models.ts']).toMatch(
      /export type AlertItem = \{[^}]*severity: "done" \| "warning" \| "serious";/s,
    );
    expect(files['models.ts']).toMatch(/export type UserCreate = \{[^}]*password: string;/s);
    expect(files['models.ts']).not.toMatch(/UserItem \{[^}]*password/s);
    expect(files['schema.ts']).toMatch(/alert: \{[^}]*users: 'json'[^}]*createdAt: 'date'/s);
  }, 60_000);
});
