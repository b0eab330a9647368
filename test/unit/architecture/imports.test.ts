// The import rules of STYLE.md "Dependencies point inward", checked over the source tree: every
// static import and re-export (type-only ones too: a cycle of types is still two modules that
// cannot be understood apart) of every .ts file under the source folders, resolved to files.
// Fails on any import cycle, naming its files in order, and on any forbidden edge, naming both
// ends. Dynamic import() is not an edge (it is how a CLI loads a command lazily).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
/** The folders whose .ts files make the graph (tests and node_modules are not in it). */
const SOURCE_FOLDERS = ['proto', 'common', 'nameserver', 'broker', 'client', 'cli', 'deploy', 'tools', 'scripts'];

/** An import edge: `from` imports `to`, both repository-relative with '/' separators; npm packages and node builtins as `pkg:<name>`. */
type Graph = Map<string, Set<string>>;

interface Rule {
  /** What the rule says, in the words of STYLE.md. */
  readonly why: string;
  readonly from: string;
  /** Forbidden targets: folder prefixes ('broker/'), files, or `pkg:<name>`. */
  readonly to: readonly string[];
  /** For a rule stated as "only these": every target outside these prefixes is forbidden. */
  readonly onlyTo?: readonly string[];
}

const RULES: readonly Rule[] = [
  { why: 'the client library shares only proto/ and common/ with the processes', from: 'client/', to: ['broker/', 'nameserver/'] },
  { why: 'the store does no RPC: it never reaches the services, replication or gRPC', from: 'broker/store/', to: ['broker/services/', 'broker/replication/', 'common/grpc.ts', 'pkg:@grpc/grpc-js'] },
  { why: 'common/ is shared by everyone, so it depends on nothing of theirs', from: 'common/', to: [], onlyTo: ['common/', 'proto/', 'pkg:'] },
  { why: 'the nameserver knows no broker internals and no client', from: 'nameserver/', to: ['broker/', 'client/'] },
  { why: 'the broker never depends on the client library or the nameserver (they share proto/ and common/)', from: 'broker/', to: ['client/', 'nameserver/'] },
  { why: 'the published library knows nothing of the command, the launcher or the tools built on it', from: 'client/', to: ['cli/', 'deploy/', 'tools/'] },
  { why: 'the processes know nothing of the command, the launcher or the tools', from: 'broker/', to: ['cli/', 'deploy/', 'tools/'] },
  { why: 'the processes know nothing of the command, the launcher or the tools', from: 'nameserver/', to: ['cli/', 'deploy/', 'tools/'] },
  { why: 'the command reaches the processes over the wire, through the library', from: 'cli/', to: ['broker/', 'nameserver/'] },
  { why: 'the local launcher starts processes through bin/conveyor.js and is a command of cli/, not a user of it', from: 'deploy/', to: ['broker/', 'nameserver/', 'client/', 'cli/', 'tools/'] },
  { why: 'the tools are commands of cli/, not users of it', from: 'tools/', to: ['cli/'] },
];

/**
 * Edges that break a rule today, each with the reason it stays for now. Keep it short: an entry
 * is a debt with a named way out, not a second rule book.
 */
const ALLOWED: ReadonlyArray<{ from: string; to: string; why: string }> = [];

function sourceFiles(folder: string): string[] {
  const absolute = path.join(ROOT, folder);
  if (!existsSync(absolute)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(absolute)) {
    const child = path.join(folder, entry);
    if (statSync(path.join(ROOT, child)).isDirectory()) found.push(...sourceFiles(child));
    else if (entry.endsWith('.ts')) found.push(child.split(path.sep).join('/'));
  }
  return found;
}

/** The module specifiers of a file's static imports and re-exports. */
function staticImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, false);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if ((ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier !== undefined && ts.isStringLiteral(statement.moduleSpecifier)) {
      specifiers.push(statement.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(statement) && ts.isExternalModuleReference(statement.moduleReference) && ts.isStringLiteral(statement.moduleReference.expression)) {
      specifiers.push(statement.moduleReference.expression.text);
    }
  }
  return specifiers;
}

/** The graph node a specifier of `from` names: a repository file, or `pkg:<package>` (undefined for a generated .js with no .ts). */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) {
    const parts = specifier.split('/');
    return `pkg:${specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]}`;
  }
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const stem = target.replace(/\.js$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}.d.ts`, `${stem}/index.ts`]) if (existsSync(path.join(ROOT, candidate))) return candidate;
  if (existsSync(path.join(ROOT, target))) return undefined;
  throw new Error(`${from}: cannot resolve import '${specifier}'`);
}

function buildGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of SOURCE_FOLDERS.flatMap(sourceFiles)) {
    const edges = new Set<string>();
    for (const specifier of staticImports(file)) {
      const to = resolve(file, specifier);
      if (to !== undefined) edges.add(to);
    }
    graph.set(file, edges);
  }
  return graph;
}

/**
 * Every cycle, as `a → b → a`: one concrete cycle per strongly connected component (plus
 * self-imports), followed by the component's other files when it has more.
 */
function findCycles(graph: Graph): string[] {
  // Tarjan's strongly connected components, iterative enough for a source tree (recursion depth = longest import chain).
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    indexOf.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!indexOf.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, indexOf.get(next)!));
    }
    if (low.get(node) === indexOf.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node) === true) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indexOf.has(node)) visit(node);
  return components.map((component) => {
    const cycle = cycleWithin(graph, new Set(component));
    const others = component.filter((file) => !cycle.includes(file)).sort();
    return cycle.join(' → ') + (others.length > 0 ? ` (the same knot also holds ${others.join(', ')})` : '');
  });
}

/** One concrete cycle through a component's smallest file: the shortest way back to it (breadth first). */
function cycleWithin(graph: Graph, component: Set<string>): string[] {
  const start = [...component].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let at = 0; at < queue.length; at++) {
    const node = queue[at]!;
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (!component.has(next)) continue;
      if (next === start) {
        const cycle = [node];
        while (cycle[0] !== start) cycle.unshift(cameFrom.get(cycle[0]!)!);
        return [...cycle, start];
      }
      if (!cameFrom.has(next)) {
        cameFrom.set(next, node);
        queue.push(next);
      }
    }
  }
  throw new Error(`no cycle through ${start}`);
}

/** The edges that break a rule and are not allowed explicitly, as `from → to (why)`. */
function forbiddenEdges(graph: Graph, rules: readonly Rule[], allowed: typeof ALLOWED): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      for (const rule of rules) {
        if (!from.startsWith(rule.from)) continue;
        const hit = rule.to.some((prefix) => to.startsWith(prefix)) || (rule.onlyTo !== undefined && !rule.onlyTo.some((prefix) => to.startsWith(prefix)));
        if (hit && !allowed.some((a) => a.from === from && a.to === to)) found.push(`${from} → ${to} (${rule.why})`);
      }
    }
  }
  return found.sort();
}

/** Edges from outside `folder` to a file of it other than its index.ts, as `from → to`. */
function facadeBypasses(graph: Graph, folder: string): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph) {
    if (from.startsWith(folder)) continue;
    for (const to of targets) if (to.startsWith(folder) && to !== `${folder}index.ts`) found.push(`${from} → ${to}`);
  }
  return found.sort();
}

describe('import rules of the source tree', () => {
  const graph = buildGraph();

  it('reads the whole tree (a broken walk would pass every rule)', () => {
    expect(graph.size).toBeGreaterThan(150);
    expect(graph.get('client/producer/producer.ts')).toContain('common/errors.ts');
    expect(graph.get('broker/broker.ts')).toContain('pkg:@grpc/grpc-js');
    expect(graph.get('cli/main.ts')).toContain('deploy/local/command.ts');
    expect(graph.get('tools/bench/bench-suite.ts')).toContain('deploy/local/index.ts');
  });

  it('has no import cycle', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('has no edge against the dependency rules', () => {
    expect(forbiddenEdges(graph, RULES, ALLOWED)).toEqual([]);
  });

  it('reaches replication only through its facade, broker/replication/index.ts', () => {
    expect(facadeBypasses(graph, 'broker/replication/')).toEqual([]);
  });

  it('allows only edges that exist and break a rule (a stale allowance is removed)', () => {
    for (const a of ALLOWED) {
      expect(graph.get(a.from), `${a.from} → ${a.to}`).toContain(a.to);
      expect(forbiddenEdges(new Map([[a.from, new Set([a.to])]]), RULES, []), `${a.from} → ${a.to}`).toHaveLength(1);
    }
  });
});

describe('the checks themselves', () => {
  it('name a cycle file by file, from its smallest file, and the rest of its knot', () => {
    const graph: Graph = new Map([
      ['b.ts', new Set(['c.ts'])],
      ['c.ts', new Set(['a.ts', 'pkg:x', 'f.ts'])],
      ['a.ts', new Set(['b.ts'])],
      ['d.ts', new Set(['d.ts'])],
      ['e.ts', new Set(['a.ts'])],
      ['f.ts', new Set(['b.ts'])],
    ]);
    expect(findCycles(graph).sort()).toEqual(['a.ts → b.ts → c.ts → a.ts (the same knot also holds f.ts)', 'd.ts → d.ts']);
  });

  it('find a forbidden edge, and an "only" rule catches any other folder', () => {
    const graph: Graph = new Map([
      ['client/x.ts', new Set(['common/y.ts', 'broker/z.ts'])],
      ['common/y.ts', new Set(['proto/index.ts', 'pkg:node:fs', 'nameserver/w.ts'])],
    ]);
    expect(forbiddenEdges(graph, RULES, [])).toEqual([
      `client/x.ts → broker/z.ts (${RULES[0]!.why})`,
      `common/y.ts → nameserver/w.ts (${RULES[2]!.why})`,
    ]);
    expect(forbiddenEdges(graph, RULES, [{ from: 'client/x.ts', to: 'broker/z.ts', why: 'test' }])).toHaveLength(1);
  });

  it('find an import past a facade', () => {
    const graph: Graph = new Map([
      ['broker/broker.ts', new Set(['broker/replication/index.ts', 'broker/replication/roles.ts'])],
      ['broker/replication/index.ts', new Set(['broker/replication/roles.ts'])],
    ]);
    expect(facadeBypasses(graph, 'broker/replication/')).toEqual(['broker/broker.ts → broker/replication/roles.ts']);
  });
});
