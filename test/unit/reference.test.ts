import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectedReference, generateSections, referenceFile, rootDir } from '../../scripts/reference.js';

/** Table rows with their padding removed: `biome format` may lay out a table differently. */
function normalizeTables(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split(/(?<!\\)\|/)
            .map((cell) => cell.trim().replace(/^-{3,}$/, '---'))
            .join('|')
        : line,
    )
    .join('\n');
}

describe('docs/reference.md', () => {
  it('when the route table, config schema, error codes, models or CLI change, then the reference is regenerated', async () => {
    const current = readFileSync(referenceFile, 'utf8');
    const expected = await expectedReference();
    // on failure: npm run docs:reference, and review the diff of docs/reference.md
    expect(normalizeTables(current)).toBe(normalizeTables(expected));
  });

  it('has every generated section filled', async () => {
    const sections = await generateSections();
    for (const [name, table] of Object.entries(sections)) {
      expect(table.split('\n').length, name).toBeGreaterThan(3);
      expect(table, name).not.toContain('not described yet');
    }
  });
});

describe('citations', () => {
  // the contract's text is not in the repository: comments and docs point at docs/ instead
  const citation = ['SPEC', '§'].join(' ');

  it('when a file of the repository cites a section of the out-of-tree spec, then it is listed', () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: rootDir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    })
      .split('\0')
      .filter(Boolean);
    const citing = files.filter((file) => {
      try {
        return readFileSync(path.join(rootDir, file), 'utf8').includes(citation);
      } catch {
        return false; // deleted in the working tree
      }
    });
    expect(citing).toEqual([]);
  });
});
