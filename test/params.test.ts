// The runner's parameter files and the limits the parameters cells declare (scripts/runner/params.ts).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from '../scripts/runner/options';
import { declaredParameters, loadParams, overrideProblems } from '../scripts/runner/params';
import type { NotebookJson } from '../scripts/runner/notebook-file';
import { REPO_ROOT } from '../src/runtime/paths';

const read = (name: string): NotebookJson =>
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'notebooks', `${name}.ipynb`), 'utf8'));
const problems = (name: string, values: Record<string, unknown>) =>
  overrideProblems(name, declaredParameters(read(name)), values);

test('a params file with a prototype key is refused, naming the file and where the key is; what is read has no prototypes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-params-'));
  const file = path.join(dir, 'p.json');
  const load = (text: string) => {
    fs.writeFileSync(file, text);
    return loadParams(parseArgs(['--params', file]), ['04-sampling']);
  };
  const at = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.throws(
    () => load('{"__proto__": {"04-sampling": {"nSamples": 3}}}'),
    new RegExp(
      `^Error: ${at}: key "__proto__" at the top level is not allowed \\(it names an object's prototype, not a notebook or a parameter\\): remove it$`,
    ),
  );
  assert.throws(
    () => load('{"04-sampling": {"nSamples": 1000, "constructor": {"x": 1}}}'),
    new RegExp(`^Error: ${at}: key "constructor" inside "04-sampling" is not allowed`),
  );
  assert.throws(
    () => load('{"05-langevin": {"longerLangevin": [1, {"prototype": 2}]}}'),
    new RegExp(`^Error: ${at}: key "prototype" inside "05-langevin" > "longerLangevin" > "1" is not allowed`),
  );
  // an ordinary file still loads, into objects without a prototype
  const { params } = load('{"04-sampling": {"nSamples": 1000, "seed": 7}, "toString": {}}');
  assert.equal(Object.getPrototypeOf(params), null);
  assert.equal(Object.getPrototypeOf(params['04-sampling']), null);
  assert.deepEqual(Object.entries(params['04-sampling']), [
    ['nSamples', 1000],
    ['seed', 7],
  ]);
  assert.deepEqual(Object.keys(params), ['04-sampling', 'toString']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('range comments take 2^k bounds and a bound by another parameter of the cell', () => {
  const cell = (lines: string[]): NotebookJson =>
    ({
      cells: [{ cell_type: 'code', metadata: { tags: ['parameters'] }, source: lines.join('\n') }],
    }) as unknown as NotebookJson;
  const nb = cell([
    'let seed = 1; // integer in [0, 2^32)',
    'let batchSize = 8; // integer >= 2',
    'let workers: number | null = null; // integer in [1, 16] and <= batchSize',
  ]);
  const declared = declaredParameters(nb)!;
  assert.deepEqual(declared.get('seed')!.range, {
    text: 'integer in [0, 2^32)',
    integer: true,
    low: { value: 0, inclusive: true },
    high: { value: 2 ** 32, inclusive: false },
  });
  assert.equal(declared.get('workers')!.range!.atMost, 'batchSize');
  assert.deepEqual(overrideProblems('nb', declared, { seed: 2 ** 32 - 1, workers: 8 }), []);
  assert.deepEqual(overrideProblems('nb', declared, { seed: 2 ** 32, workers: 9 }), [
    'nb: parameter "seed" = 4294967296 must be integer in [0, 2^32) (declared `let seed = 1; // integer in [0, 2^32)`)',
    'nb: parameter "workers" = 9 must be at most batchSize = 8 (declared `let workers: number | null = null; // integer in [1, 16] and <= batchSize`)',
  ]);
  // the bound applies when only the other parameter changes, and not to a null (default) value
  assert.deepEqual(overrideProblems('nb', declared, { batchSize: 2 }), []);
  const fixed = declaredParameters(
    cell(['let batchSize = 8; // integer >= 2', 'let workers = 4; // integer in [1, 16] and <= batchSize']),
  );
  assert.deepEqual(overrideProblems('nb', fixed, { batchSize: 2 }), [
    'nb: parameter "workers" = 4 must be at most batchSize = 2 (declared `let workers = 4; // integer in [1, 16] and <= batchSize`)',
  ]);
});

test("the chapters' parameters cells declare the limits the code enforces: seeds below 2^32, workers at most the batch, sample counts at most 1,000,000", () => {
  for (const name of [
    '01-data',
    '02-forward-process',
    '03-training',
    '04-sampling',
    '05-langevin',
    '06-score-sde',
    '07-key-reuse',
    '08-samplers',
  ]) {
    const declared = declaredParameters(read(name))!;
    for (const d of declared.values())
      if (d.range?.atMost)
        assert.ok(declared.has(d.range.atMost), `${name}: ${d.source} names no parameter of the cell`);
    for (const seed of ['seed', 'trainSeed'].filter((s) => declared.has(s))) {
      assert.deepEqual(problems(name, { [seed]: 2 ** 32 - 1 }), [], `${name} ${seed}`);
      assert.match(
        problems(name, { [seed]: 2 ** 32 }).join('\n'),
        new RegExp(`"${seed}" = 4294967296 must be integer in \\[0, 2\\^32\\)`),
        name,
      );
    }
    for (const count of ['nSamples', 'nModelSamples', 'nPaths', 'gateSamples'].filter((s) => declared.has(s))) {
      assert.deepEqual(problems(name, { [count]: 1_000_000 }), [], `${name} ${count}`);
      assert.match(
        problems(name, { [count]: 1_000_001 }).join('\n'),
        new RegExp(`"${count}" = 1000001 must be integer in \\[\\d+, 1_000_000\\]`),
        name,
      );
    }
    if (declared.has('evalPerTimestep'))
      assert.match(problems(name, { evalPerTimestep: 1001 }).join('\n'), /must be integer in \[1, 1000\]/, name);
  }
  for (const name of ['03-training', '07-key-reuse']) {
    assert.deepEqual(problems(name, { batchSize: 16, workers: 16 }), [], name);
    assert.match(
      problems(name, { batchSize: 4, workers: 8 }).join('\n'),
      new RegExp(`^${name}: parameter "workers" = 8 must be at most batchSize = 4 \\(declared`),
      name,
    );
    assert.deepEqual(problems(name, { batchSize: 2 }), [], `${name}: workers null takes the default, at most 2`);
  }
});
