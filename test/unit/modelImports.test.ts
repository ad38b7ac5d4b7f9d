import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Models import no services (issue 11): services build on models, never the reverse; what a write of a
 * model sets off is registered in `api/reactions.ts`. Checked on every module a model reaches through its
 * relative imports (type-only ones too: a model that must be read with a service cannot be read alone).
 * Imports are read with the TypeScript compiler's parser: static imports, `export … from`, `import('…')`.
 */

const root = path.resolve(import.meta.dirname, '../..');
const models = path.join(root, 'api', 'models');
const services = path.join(root, 'api', 'services');

/** The files `file` imports by a relative specifier (`.js` read as the `.ts` beside it). */
function relativeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    const specifier =
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
        ? node.moduleSpecifier.text
        : ts.isCallExpression(node) &&
            node.expression.kind === ts.SyntaxKind.ImportKeyword &&
            node.arguments[0] &&
            ts.isStringLiteral(node.arguments[0])
          ? node.arguments[0].text
          : undefined;
    if (specifier?.startsWith('.'))
      found.push(path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts'));
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every import chain from `start` to a file under `services`, as `a → b → c`. */
function chainsToServices(start: string): string[] {
  const chains: string[] = [];
  const seen = new Set<string>([start]);
  const walk = (file: string, chain: string[]): void => {
    for (const target of relativeImports(file)) {
      const next = [...chain, path.relative(root, target)];
      if (target.startsWith(`${services}${path.sep}`)) chains.push(next.join(' → '));
      else if (!seen.has(target) && existsSync(target)) {
        seen.add(target);
        walk(target, next);
      }
    }
  };
  walk(start, [path.relative(root, start)]);
  return chains;
}

const modelFiles = readdirSync(models)
  .filter((name) => name.endsWith('.ts'))
  .map((name) => path.join(models, name));

describe('api/models and api/services', () => {
  it('When the parser reads a service, then it finds its imports of models and services (the check can fail)', () => {
    const reactions = relativeImports(path.join(root, 'api', 'reactions.ts'));
    expect(reactions).toContain(path.join(models, 'User.ts'));
    expect(reactions).toContain(path.join(services, 'AccountService.ts'));
    expect(chainsToServices(path.join(root, 'api', 'reactions.ts')).length).toBeGreaterThan(0);
  });

  it('When a model is read, then neither it nor anything it imports imports a service', () => {
    expect(modelFiles.length).toBeGreaterThanOrEqual(8);
    expect(modelFiles.flatMap(chainsToServices)).toEqual([]);
  });
});
