import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * `lib/` is a framework you can lift out (STYLE "The house"): it imports nothing of the application
 * (`api/`, `config/`), does not reach for the `Flux` singleton's value (only `lib/Flux.ts`, which builds
 * it, may; type-only imports are erased and allowed), and has no import cycle. Imports are read with the
 * TypeScript compiler's parser: static imports, `export … from`, and `import('…')` with a literal.
 */

const root = path.resolve(import.meta.dirname, '../..');
const lib = path.join(root, 'lib');

interface Import {
  /** Absolute path of the imported file (`.ts` for a relative `.js` specifier), or the bare specifier. */
  target: string;
  /** True for `import type …` or an import whose every name is `type`: erased at runtime. */
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

function resolve(from: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return path.resolve(path.dirname(from), specifier).replace(/\.js$/, '.ts');
}

/** Every import of `file`, as the compiler parses it. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const everyNameTyped =
        !!clause &&
        !clause.name &&
        !!named &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((element) => element.isTypeOnly);
      found.push({
        target: resolve(file, node.moduleSpecifier.text),
        typeOnly: !!clause?.isTypeOnly || everyNameTyped,
      });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push({ target: resolve(file, node.moduleSpecifier.text), typeOnly: node.isTypeOnly });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push({ target: resolve(file, node.arguments[0].text), typeOnly: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The cycles of a graph (one per strongly connected component of more than one node, or a self-loop). */
function cycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's strongly connected components
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (node: string): void => {
    indices.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indices.get(next)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.includes(node)) components.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) connect(node);
  return components;
}

const relative = (file: string) => path.relative(root, file);
const files = sourceFiles(lib);
const imports = new Map(files.map((file) => [file, importsOf(file)]));

/** The graph of lib/'s imports between its own files, by relative path. */
function graphOf(keep: (entry: Import) => boolean): Map<string, string[]> {
  return new Map(
    files.map((file) => [
      relative(file),
      imports
        .get(file)!
        .filter((entry) => keep(entry) && entry.target.startsWith(`${lib}${path.sep}`))
        .map((entry) => relative(entry.target)),
    ]),
  );
}

describe('lib/ as a framework', () => {
  it('When the import parser reads a file, then it tells type-only imports from the others', () => {
    const found = importsOf(path.join(lib, 'Flux.ts'));
    expect(found.length).toBeGreaterThan(10);
    expect(found).toContainEqual({ target: path.join(lib, 'config.ts'), typeOnly: false });
    expect(found).toContainEqual({ target: path.join(lib, 'http.ts'), typeOnly: true });
    expect(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
          ['c', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b']]);
  });

  it('When lib/ imports, then it never imports the application (api/, config/)', () => {
    const offending = files.flatMap((file) =>
      imports
        .get(file)!
        .filter((entry) => ['api', 'config'].some((dir) => entry.target.startsWith(path.join(root, dir, ''))))
        .map((entry) => `${relative(file)} → ${relative(entry.target)}`),
    );
    expect(offending).toEqual([]);
  });

  it('When lib/ imports, then only lib/Flux.ts holds the Flux singleton (others import its types at most)', () => {
    const singleton = path.join(lib, 'Flux.ts');
    const offending = files
      .filter((file) => file !== singleton)
      .filter((file) => imports.get(file)!.some((entry) => entry.target === singleton && !entry.typeOnly))
      .map(relative);
    expect(offending).toEqual([]);
  });

  it('When lib/ modules import each other, then no import cycle forms', () => {
    // the runtime graph first: a cycle there makes a module see another half-initialized
    expect(cycles(graphOf((entry) => !entry.typeOnly))).toEqual([]);
    // type-only imports too: a module that can only be read together with another cannot be lifted alone
    expect(cycles(graphOf(() => true))).toEqual([]);
  });
});
