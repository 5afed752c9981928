import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Rng } from '../src/math/rng';
import { VelocityModel } from '../src/model/model';
import { modelVelocity } from '../src/model/folded';
import { predictVelocity } from '../src/diffusion/predictor';
import { parallelModelVelocity } from '../src/sample/parallel/predictor';
import { REPO_ROOT } from '../src/runtime/paths';
import { useBackend } from './helpers';

before(useBackend);

/** A model with non-trivial BatchNorm statistics, so that folding them matters. */
function someModel(): VelocityModel {
  const model = new VelocityModel({ width: 32, depth: 2, dropout: 0 }, new Rng(3).fork('init'));
  for (const [name, v] of model.batchStats) {
    const values = new Rng(name.length).normals(v.size).map((z) => (name.endsWith('var') ? 0.5 + z * z : z));
    v.assign(v.add(0).mul(0).add(Array.from(values)).reshape(v.shape));
  }
  return model;
}

test('split over 2 or 3 threads, every prediction equals the single-threaded one exactly', () => {
  const model = someModel();
  const single = modelVelocity(model);
  for (const threads of [2, 3]) {
    const parallel = parallelModelVelocity(model, undefined, { threads });
    // below 2,048 rows a call stays on this thread; above 2 · 2¹⁸ rows it is done in pieces
    for (const n of [1, 2047, 2048, 2049, 9001, ...(threads === 2 ? [(1 << 19) + 3] : [])]) {
      const x = Float32Array.from(new Rng(n).normals(n), (z) => 5 * z);
      for (const t of n > 10_000 ? [431] : [0, 431, 999]) {
        assert.deepEqual(
          predictVelocity(parallel, x, t),
          predictVelocity(single, x, t),
          `threads ${threads}, n ${n}, t ${t}`,
        );
      }
    }
    parallel.dispose();
  }
  single.dispose();
  model.dispose();
});

test('a call after the parameters were reassigned is refused; a bad timestep is refused as by modelVelocity', () => {
  const model = someModel();
  const parallel = parallelModelVelocity(model, undefined, { threads: 2 });
  const x = new Float32Array(3000).fill(0.5);
  assert.throws(() => predictVelocity(parallel, x, 1000), /timestep must be an integer in \[0, 1000\)/);
  predictVelocity(parallel, x, 3);
  const [name, v] = [...model.params][0];
  v.assign(v.add(1));
  assert.throws(
    () => predictVelocity(parallel, x, 3),
    /reassigned after this predictor was made; make a new one/,
    name,
  );
  parallel.dispose();
  model.dispose();
});

test('a helper that cannot start says why at the first call', () => {
  const model = new VelocityModel({ width: 16, depth: 1, dropout: 0 }, new Rng(1).fork('init'));
  const other = new VelocityModel({ width: 8, depth: 1, dropout: 0 }, new Rng(1).fork('init'));
  // parameters of another shape: the helper's model cannot take them
  const parallel = parallelModelVelocity(model, other.params, { threads: 2 });
  assert.throws(() => predictVelocity(parallel, new Float32Array(3000), 10), /a helper thread failed: .*shape/s);
  parallel.dispose();
  model.dispose();
  other.dispose();
});

test('helpers never keep the process alive, even when the predictor is not disposed', () => {
  const script = `
    const td = require('./dist/src/index');
    td.initBackend().then(() => {
      const model = new td.VelocityModel({ width: 16, depth: 1, dropout: 0 }, new td.Rng(1));
      const p = td.parallelModelVelocity(model, undefined, { threads: 2 });
      td.predictVelocity(p, new Float32Array(3000), 5);
      console.log('predicted');
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /predicted/);
});
