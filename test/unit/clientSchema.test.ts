import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientSchema, schemaFile } from '../../scripts/clientSchema.js';

describe('client/src/schema.ts', () => {
  it('holds the attribute kinds of the current models (run `npm run client:schema` after changing one)', async () => {
    const current = readFileSync(schemaFile, 'utf8');
    expect(current).toBe(await clientSchema());
    // the generator is not vacuous: dates, strings and JSON attributes are told apart
    expect(current).toMatch(/alert: \{[^}]*createdAt: 'date'[^}]*\}/s);
    expect(current).toMatch(/alert: \{[^}]*users: 'json'[^}]*\}/s);
  });
});
