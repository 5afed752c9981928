// The library's layout is part of its design: modules depend on lower layers only, there are no
// import cycles (type-only imports included), worker entry files are imported by nobody, and no
// module grows past what one reader takes in at once.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', 'src');
/** Lower layers first; a module may import from its own folder or from a lower layer. */
const LAYERS = ['runtime', 'math', 'diffusion', 'model', 'train|eval', 'sample', 'notebook'];
const MAX_LINES = 350;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports and re-exports of a file, type-only ones included, resolved to files. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*'(\.[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((s) => {
    const base = path.resolve(path.dirname(file), s);
    const found = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
    assert.ok(found, `${path.relative(SRC, file)} imports ${s}, which does not exist`);
    return found!;
  });
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string) => path.relative(SRC, f);
const layerOf = (f: string) => {
  const top = rel(f).split(path.sep)[0];
  return LAYERS.findIndex((l) => l.split('|').includes(top));
};

test('every module under src/ lies in a layer folder (index.ts excepted)', () => {
  const stray = files.filter((f) => rel(f) !== 'index.ts' && layerOf(f) < 0).map(rel);
  assert.deepEqual(stray, []);
});

test('modules import only from their own folder or from lower layers', () => {
  const wrong: string[] = [];
  for (const [file, deps] of graph) {
    if (rel(file) === 'index.ts') continue;
    for (const dep of deps) {
      const sameFolder = rel(file).split(path.sep)[0] === rel(dep).split(path.sep)[0];
      if (!sameFolder && !(layerOf(dep) < layerOf(file))) wrong.push(`${rel(file)} -> ${rel(dep)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import cycles under src/, type-only imports included', () => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...stack.slice(stack.indexOf(f)), f].map(rel).join(' -> '));
      return;
    }
    state.set(f, 'open');
    for (const d of graph.get(f) ?? []) visit(d, [...stack, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('worker entry files are imported by no module', () => {
  const importers = [...graph]
    .filter(([, deps]) => deps.some((d) => path.basename(d) === 'worker.ts'))
    .map(([f]) => rel(f));
  assert.deepEqual(importers, []);
});

test(`no module under src/ is longer than ${MAX_LINES} lines`, () => {
  const long = files
    .map((f) => [rel(f), fs.readFileSync(f, 'utf8').split('\n').length] as const)
    .filter(([, n]) => n > MAX_LINES);
  assert.deepEqual(long, []);
});
