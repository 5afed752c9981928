// The fused kernels of src/runtime/fused-kernels.cc on native TensorFlow: bit-identical to
// the tfjs op chains they replace (so training and every recorded result reproduce exactly), and
// the training step equal bit for bit with them on and off.
import test, { before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../src/runtime/backend';
import { fusedKernelsError, fusedOps, setFusedKernelsEnabled } from '../src/runtime/fused-kernels';
import { gelu, GELU_SIGMOID_CUBIC as C1, GELU_SIGMOID_LINEAR as C2 } from '../src/model/activations';
import { LAYER_INPUT_GRAD } from '../src/model/norm-dense';
import { velocityLossAndGrads } from '../src/train/gradients';
import { modelVelocity } from '../src/model/folded';
import { VelocityModel } from '../src/model/model';
import { Rng } from '../src/math/rng';
import { TUTORIAL_TRAINING } from '../src/train/config';
import { Trainer } from '../src/train/trainer';
import { skipUnlessCI, trainingBatch, tutorialProblem, useBackend } from './helpers';

let backend = '';
before(async () => {
  backend = await useBackend();
});

/** Indices where a and b differ as floats (−0 and +0 count as equal, NaN equals NaN). */
function differences(a: tf.Tensor, b: tf.Tensor): number[] {
  const x = a.dataSync();
  const y = b.dataSync();
  assert.equal(x.length, y.length);
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) out.push(i);
  return out;
}

/**
 * The kernels, or null after skipping the test where native TensorFlow is not the backend; under
 * CI (which builds it) that is a failure instead, as are kernels that did not load.
 */
function kernels(t: TestContext) {
  const missing =
    backend === 'tensorflow' ? false : `the backend is ${backend}, not native TensorFlow (scripts/native-backend.sh)`;
  if (skipUnlessCI(missing)) {
    t.skip(missing as string);
    return null;
  }
  assert.equal(backend, 'tensorflow', 'these tests need the native TensorFlow backend (scripts/native-backend.sh)');
  const k = fusedOps();
  assert.ok(k, `fused kernels unavailable: ${fusedKernelsError()}`);
  return k;
}

// The op chains of the GELU's plain form (activations.ts), written out independently.
function opsForward(z: tf.Tensor, mask: tf.Tensor | null, residual: tf.Tensor | null) {
  const q = tf.square(z);
  const sg = tf.sigmoid(tf.mul(tf.add(tf.mul(q, C1), C2), z));
  const g = tf.mul(z, sg);
  const y = mask ? tf.mul(g, mask) : g;
  return { y: residual ? tf.add(residual, y) : y, sg, q, g };
}
function opsBackward(dy: tf.Tensor, c: { sg: tf.Tensor; q: tf.Tensor; g: tf.Tensor }, mask: tf.Tensor | null) {
  const dg = mask ? tf.mul(dy, mask) : dy;
  return tf.mul(dg, tf.add(c.sg, tf.mul(tf.mul(c.g, tf.sub(1, c.sg)), tf.add(tf.mul(c.q, 3 * C1), C2))));
}

test('fused GELU forward and backward equal the op chains bit for bit, with and without mask and residual', (t) => {
  if (!kernels(t)) return;
  tf.tidy(() => {
    const r = new Rng(3);
    const n = 515 * 64; // not a multiple of 8: the scalar tail runs too
    // wide z (|u| up to ~600, where σ under- and overflows), ordinary z, and special values
    const special = [0, -0, 1e-30, -1e-30, 1e-40, -88, -104.5, 88, 100, -1e4, 1e4, Infinity, -Infinity, NaN];
    const zv = Float32Array.from(r.normals(n), (x, i) => (i < special.length ? special[i] : i % 3 === 0 ? 6 * x : x));
    const z = tf.tensor2d(zv, [515, 64]);
    const residual = tf.tensor2d(r.normals(n), [515, 64]);
    const dy = tf.tensor2d(r.normals(n), [515, 64]);
    const mask = tf.tensor2d(r.dropoutMask(n, 0.1), [515, 64]);
    for (const [m, res] of [
      [null, null],
      [mask, null],
      [null, residual],
      [mask, residual],
    ] as const) {
      const label = `mask ${m ? 'yes' : 'no'}, residual ${res ? 'yes' : 'no'}`;
      const ops = opsForward(z, m, res);
      const fused = gelu.forward(z, m, res);
      assert.deepEqual(fused.y.shape, [515, 64]);
      assert.deepEqual(fused.cache.kept, [], 'the fused op keeps no intermediate values');
      assert.deepEqual(differences(fused.cache.sg, ops.sg), [], `σ(u), ${label}`);
      assert.deepEqual(differences(fused.y, ops.y), [], `forward, ${label}`);
      const back = gelu.backward(dy, fused.cache);
      assert.deepEqual(differences(back, opsBackward(dy, ops, m)), [], `backward, ${label}`);
    }
    assert.throws(() => gelu.forward(z, tf.ones([3, 3]), null), /differ in size/);
    assert.throws(() => gelu.forward(tf.ones([4, 1], 'int32'), null, null), /float/);
  });
});

test('the fused layer input gradient equals bias add, multiply and addN bit for bit, with and without residual', (t) => {
  const found = kernels(t);
  if (!found) return;
  const k = found;
  tf.tidy(() => {
    const r = new Rng(8);
    const [rows, cols] = [515, 33];
    const p = tf.tensor2d(r.normals(rows * cols), [rows, cols]);
    const h = tf.tensor2d(
      Float32Array.from(r.normals(rows * cols), (x) => 5 * x),
      [rows, cols],
    );
    const residual = tf.tensor2d(r.normals(rows * cols), [rows, cols]);
    const gamma = tf.tensor1d(r.normals(cols));
    const beta = tf.tensor1d(Float32Array.from(r.normals(cols), (x) => 1e-3 * x));
    for (const res of [null, residual]) {
      const terms = [tf.add(p, gamma), tf.mul(h, beta)];
      const ops = tf.addN(res ? [...terms, res] : terms);
      const [fused] = k.run(LAYER_INPUT_GRAD, { p, gamma, h, beta, residual: res });
      assert.deepEqual(differences(fused, ops), [], `residual ${res ? 'yes' : 'no'}`);
    }
    assert.throws(
      () => k.run(LAYER_INPUT_GRAD, { p, gamma: tf.ones([cols + 1]), h, beta, residual: null }),
      /differ in size/,
    );
    assert.throws(
      () => k.run({ ...LAYER_INPUT_GRAD, attrs: ['scale'] }, { p, gamma, h, beta, residual: null }),
      /attribute 'scale' is missing/,
    );
  });
});

test('the training step gives the same loss, gradients and moments bit for bit with the fused kernels on and off', (ctx) => {
  if (!kernels(ctx)) return;
  const m = new VelocityModel({ dropout: 0.1 }, new Rng(4).fork('init'));
  const { xt, target, t, tHost: timesteps } = trainingBatch(512, 9);
  const run = (on: boolean) => {
    setFusedKernelsEnabled(on);
    try {
      return velocityLossAndGrads(m, { xt, target, timesteps, dropoutRng: new Rng(5).fork('dropout') });
    } finally {
      setFusedKernelsEnabled(true);
    }
  };
  const fused = run(true);
  const ops = run(false);
  assert.deepEqual(differences(fused.loss, ops.loss), []);
  for (const [name, g] of ops.grads) assert.deepEqual(differences(fused.grads.get(name)!, g), [], name);
  for (const [name, { mean, variance }] of ops.moments) {
    assert.deepEqual(differences(fused.moments.get(name)!.mean, mean), [], `${name} mean`);
    assert.deepEqual(differences(fused.moments.get(name)!.variance, variance), [], `${name} variance`);
  }
  for (const out of [fused, ops])
    tf.dispose([out.loss, ...out.grads.values(), ...[...out.moments.values()].flatMap((v) => [v.mean, v.variance])]);
  tf.dispose([t, xt, target]);
  m.dispose();
});

test('a few trainer steps on two worker threads give the same parameters with the fused kernels on and off', async (t) => {
  if (!kernels(t)) return;
  const { mixture, scheduler } = tutorialProblem();
  const train = async (fused: string) => {
    const saved = process.env.TSDIFFUSION_FUSED;
    process.env.TSDIFFUSION_FUSED = fused; // the workers read it when they start
    try {
      const tr = new Trainer(
        mixture,
        scheduler,
        { ...TUTORIAL_TRAINING, steps: 6, batchSize: 512, logEvery: 3, seed: 3, workers: 2 },
        { dropout: 0.1 },
      );
      const losses = (await tr.run()).map((l) => l.loss);
      const params = new Map([...tr.model.params].map(([n, v]) => [n, Array.from(v.dataSync())]));
      tr.dispose();
      return { losses, params };
    } finally {
      if (saved === undefined) delete process.env.TSDIFFUSION_FUSED;
      else process.env.TSDIFFUSION_FUSED = saved;
    }
  };
  const on = await train('1');
  const off = await train('0');
  assert.deepEqual(on.losses, off.losses);
  for (const [name, v] of off.params) assert.deepEqual(on.params.get(name), v, name);
});

test('worker threads that load the kernels can come and go: a second set of workers does not register the ops again', (t) => {
  if (!kernels(t)) return;
  // A fresh process whose main thread never loads the addon: each Trainer's workers load it and
  // exit (Node then unloads a worker's addons unless they are marked nodelete).
  const script = `
    const { initBackend } = require('./dist/src/runtime/backend');
    const { Trainer } = require('./dist/src/train/trainer');
    const { TUTORIAL_TRAINING } = require('./dist/src/train/config');
    const { GaussianMixture } = require('./dist/src/math/mixture');
    const { DDPMScheduler, TUTORIAL_SCHEDULER } = require('./dist/src/diffusion/scheduler');
    (async () => {
      await initBackend('tensorflow');
      for (let i = 0; i < 2; i++) {
        const tr = new Trainer(GaussianMixture.default(), new DDPMScheduler(TUTORIAL_SCHEDULER), { ...TUTORIAL_TRAINING, steps: 2, batchSize: 64, logEvery: 1, workers: 2 });
        await tr.run();
        tr.dispose();
      }
      console.log('two sets of workers trained');
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], {
    cwd: path.resolve(__dirname, '..', '..'),
    encoding: 'utf8',
    env: { ...process.env, TSDIFFUSION_FUSED: '1' },
  });
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr.slice(-500)}`);
  assert.match(r.stdout, /two sets of workers trained/);
});

test('the folded predictor (DDPM sampling) gives the same velocities bit for bit with the fused kernels on and off', (t) => {
  if (!kernels(t)) return;
  const m = new VelocityModel({}, new Rng(6).fork('init'));
  const x = tf.tensor2d(
    Float32Array.from(new Rng(2).normals(2000), (v) => 4 * v),
    [2000, 1],
  );
  const predict = (on: boolean, step: number) => {
    setFusedKernelsEnabled(on);
    try {
      const predictor = modelVelocity(m);
      const v = predictor.predict(x, step);
      predictor.dispose();
      return v;
    } finally {
      setFusedKernelsEnabled(true);
    }
  };
  for (const step of [0, 500, 999]) {
    const [on, off] = [predict(true, step), predict(false, step)];
    assert.deepEqual(differences(on, off), [], `t = ${step}`);
    tf.dispose([on, off]);
  }
  tf.dispose(x);
  m.dispose();
});

test('the backend line that every chapter prints says whether the fused kernels are on', async (t) => {
  if (!kernels(t)) return;
  const info = await initBackend();
  assert.match(describeBackend(info), /backend: tensorflow \(native TensorFlow; fused kernels[;)]/);
  setFusedKernelsEnabled(false);
  try {
    assert.match(describeBackend(info), /fused kernels off: turned off \(TSDIFFUSION_FUSED=0\)/);
  } finally {
    setFusedKernelsEnabled(true);
  }
});
