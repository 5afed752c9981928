import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { velocityLossAndGrads } from '../src/train/gradients';
import { modelVelocity } from '../src/model/folded';
import { VelocityModel } from '../src/model/model';
import type { TensorMap } from '../src/model/parameters';
import { DROPOUT_BLOCK, Rng } from '../src/math/rng';
import { plainModelVelocity } from '../src/model/predictors';
import { TUTORIAL_TRAINING, type GradientMode } from '../src/train/config';
import { Trainer } from '../src/train/trainer';
import { maxAbsDiff, toArray, trainingBatch, useBackend, tutorialProblem } from './helpers';

before(useBackend);
const { mixture, scheduler } = tutorialProblem();

/** max |a − b| / (max |b| + floor): a relative error that tolerates tiny entries. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let scale = floor;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return maxAbsDiff(a, b) / scale;
}

/** A model whose parameters and running statistics are not at their initial values. */
function perturbedModel(config: ConstructorParameters<typeof VelocityModel>[0], seed: number): VelocityModel {
  const m = new VelocityModel(config, new Rng(seed).fork('init'));
  const r = new Rng(seed).fork('perturb');
  for (const [name, p] of m.params) {
    const noise = tf.tensor(r.normals(p.size), p.shape);
    p.assign(tf.add(p, tf.mul(noise, name.includes('kernel') ? 0.02 : 0.3)));
    noise.dispose();
  }
  for (const [name, s] of m.batchStats) {
    const v = Float32Array.from(r.normals(s.size), (z) => (name.endsWith('/var') ? 0.5 + z * z : z));
    s.assign(tf.tensor(v, s.shape));
  }
  return m;
}

function autogradReference(m: VelocityModel, b: ReturnType<typeof trainingBatch>, dropoutRng?: Rng) {
  let moments = null as ReturnType<VelocityModel['forward']>['moments'] | null;
  const { value, grads } = tf.variableGrads(() => {
    const out = m.forward(b.xt, b.t, { training: true, dropoutRng });
    moments = out.moments;
    return tf.mean(tf.square(tf.sub(out.output, b.target))) as tf.Scalar;
  }, [...m.params.values()]);
  return { loss: value, grads: new Map([...m.params].map(([name, v]) => [name, grads[v.name]])), moments: moments! };
}

for (const { label, config, B } of [
  { label: 'tutorial network, dropout 0.1', config: {}, B: 300 },
  { label: 'no dropout, depth 1, width 16', config: { dropout: 0, depth: 1, width: 16 }, B: 64 },
  { label: 'depth 0', config: { depth: 0, width: 8, dropout: 0.2 }, B: 17 },
  { label: 'SiLU trunk, depth 2, width 24', config: { activation: 'silu' as const, depth: 2, width: 24 }, B: 50 },
]) {
  test(`fast gradients equal tf.variableGrads of the plain forward (${label})`, () => {
    const m = perturbedModel(config, 11);
    const b = trainingBatch(B, 2);
    const ref = autogradReference(m, b, new Rng(5).fork('dropout'));
    const rng = new Rng(5).fork('dropout');
    const fast = velocityLossAndGrads(m, { xt: b.xt, target: b.target, timesteps: b.tHost, dropoutRng: rng });
    const lossRef = ref.loss.dataSync()[0];
    assert.ok(
      Math.abs(fast.loss.dataSync()[0] - lossRef) <= 1e-5 * Math.abs(lossRef),
      `loss ${fast.loss.dataSync()[0]} vs ${lossRef}`,
    );
    assert.deepEqual([...fast.grads.keys()].sort(), [...m.params.keys()].sort());
    let largest = 0;
    for (const g of ref.grads.values()) largest = Math.max(largest, ...toArray(g).map(Math.abs));
    for (const [name, g] of ref.grads) {
      const f = fast.grads.get(name)!;
      assert.deepEqual(f.shape, g.shape, name);
      if (name === 'time/linear_2/bias') {
        // a shift applied to every row just before BatchNorm: its gradient is exactly 0, so both
        // sides are rounding noise; check that they are tiny
        assert.ok(Math.max(...toArray(f).map(Math.abs)) < 1e-5 * largest, `${name} should be ~0`);
        continue;
      }
      const e = relErr(toArray(f), toArray(g));
      assert.ok(e < 2e-4, `${name}: relative error ${e}`);
    }
    assert.deepEqual([...fast.moments.keys()], [...ref.moments.keys()]);
    for (const [name, { mean, variance }] of ref.moments) {
      const f = fast.moments.get(name)!;
      assert.ok(relErr(toArray(f.mean), toArray(mean)) < 1e-5, `${name} mean`);
      assert.ok(relErr(toArray(f.variance), toArray(variance)) < 1e-4, `${name} variance`);
    }
    // the dropout stream is left where forward() leaves it
    const after = new Rng(5).fork('dropout');
    if (m.config.dropout > 0)
      for (let i = 0; i <= m.config.depth; i++) after.dropoutMask(B * m.config.width, m.config.dropout);
    assert.equal(rng.nextUint32(), after.nextUint32());
    tf.dispose([ref.loss, fast.loss, ...ref.grads.values(), ...fast.grads.values(), b.xt, b.target, b.t]);
    for (const mm of [ref.moments, fast.moments])
      for (const { mean, variance } of mm.values()) tf.dispose([mean, variance]);
    m.dispose();
  });
}

test('fast gradients: no tensor leaks, and errors for missing dropout streams and bad timesteps', () => {
  const m = perturbedModel({}, 3);
  const b = trainingBatch(32, 1);
  const before = tf.memory().numTensors;
  const r = velocityLossAndGrads(m, {
    xt: b.xt,
    target: b.target,
    timesteps: b.tHost,
    dropoutRng: new Rng(1).fork('d'),
  });
  const kept = 1 + r.grads.size + 2 * r.moments.size;
  assert.equal(tf.memory().numTensors, before + kept);
  tf.dispose([r.loss, ...r.grads.values(), ...[...r.moments.values()].flatMap((x) => [x.mean, x.variance])]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => velocityLossAndGrads(m, { xt: b.xt, target: b.target, timesteps: b.tHost }), /dropoutRng/);
  const bad = Int32Array.from(b.tHost);
  bad[3] = 1000;
  assert.throws(
    () => velocityLossAndGrads(m, { xt: b.xt, target: b.target, timesteps: bad, dropoutRng: new Rng(1).fork('d') }),
    /timestep/,
  );
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([b.xt, b.target, b.t]);
  m.dispose();
});

test('dropoutMaskPart: entries of the whole mask, leaving the same state', () => {
  const a = new Rng(9).fork('d');
  const b = new Rng(9).fork('d');
  const c = new Rng(9).fork('d');
  // three blocks: a part that starts inside the first and ends inside the third
  const n = 2 * DROPOUT_BLOCK + 185;
  const m = a.dropoutMask(n, 0.3);
  const [from, to] = [55, 2 * DROPOUT_BLOCK + 150];
  const part = b.dropoutMaskPart(n, 0.3, from, to);
  assert.equal(part.length, to - from);
  for (let i = from; i < to; i++) assert.equal(part[i - from], m[i]);
  // each mask advances the stream by its two key draws, whichever entries were drawn
  c.nextUint32();
  c.nextUint32();
  const next = a.nextUint32();
  assert.equal(b.nextUint32(), next);
  assert.equal(c.nextUint32(), next);
  assert.throws(() => b.dropoutMaskPart(n, 0.3, 5, n + 1), /not within/);
});

test('the folded predictor equals model.predict for another width, depth and activation', () => {
  const m = perturbedModel({ width: 24, depth: 2, activation: 'silu' }, 8);
  const x = tf.tensor2d(
    Float32Array.from(new Rng(3).normals(300), (z) => 4 * z),
    [300, 1],
  );
  const f = modelVelocity(m);
  for (const t of [0, 499, 999]) {
    const [want, got] = [m.predict(x, t), f.predict(x, t)];
    assert.ok(relErr(toArray(got), toArray(want)) < 1e-5, `t=${t}`);
    tf.dispose([want, got]);
  }
  f.dispose();
  tf.dispose(x);
  m.dispose();
});

test('the folded predictor equals model.predict (running statistics, EMA params), and refolds after updates', () => {
  const m = perturbedModel({}, 4);
  const xs = Float32Array.from(new Rng(2).fork('x').normals(500), (z) => 4 * z);
  const x = tf.tensor2d(xs, [500, 1]);
  const f = modelVelocity(m);
  for (const t of [0, 1, 250, 999]) {
    const want = m.predict(x, t);
    const got = f.predict(x, t);
    const e = relErr(toArray(got), toArray(want));
    assert.ok(e < 1e-5, `t=${t}: ${e}`);
    tf.dispose([want, got]);
  }
  // another parameter set (e.g. the EMA copy)
  const other: TensorMap = new Map([...m.params].map(([n, p]) => [n, tf.mul(p, 0.9)]));
  const fo = modelVelocity(m, other);
  const want = plainModelVelocity(m, other).predict(x, 500);
  const got = fo.predict(x, 500);
  assert.ok(relErr(toArray(got), toArray(want)) < 1e-5);
  // reassigning a parameter or statistic is seen
  m.params.get('block_1/dense/bias')!.assign(tf.fill([128], 0.7));
  m.batchStats.get('bn_out/var')!.assign(tf.fill([128], 2.5));
  const want2 = m.predict(x, 30);
  const got2 = f.predict(x, 30);
  assert.ok(relErr(toArray(got2), toArray(want2)) < 1e-5);
  // steady state: no tensors leak per call
  const before = tf.memory().numTensors;
  tf.dispose(f.predict(x, 7));
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => f.predict(x, 1000), /timestep/);
  tf.dispose([want, got, want2, got2, x, ...other.values()]);
  f.dispose();
  fo.dispose();
  m.dispose();
});

// The network's shape and activation are configuration (src/model/network.ts): another width,
// depth or activation trains through the fast path, on one thread and on two workers, and agrees
// with autograd.
for (const { label, model } of [
  { label: 'the tutorial network', model: { dropout: 0.1 } },
  { label: 'width 24, depth 2, SiLU', model: { dropout: 0.1, width: 24, depth: 2, activation: 'silu' as const } },
  { label: 'width 48, depth 1', model: { dropout: 0.1, width: 48, depth: 1 } },
]) {
  test(`a few trainer steps (${label}): fast gradients, on one thread and two workers, give autograd's parameters, statistics and losses`, async () => {
    const run = async (gradients: GradientMode, workers: number) => {
      const tr = new Trainer(
        mixture,
        scheduler,
        {
          ...TUTORIAL_TRAINING,
          steps: 8,
          batchSize: 256,
          logEvery: 4,
          learningRate: 2e-3,
          holdSteps: 0,
          seed: 7,
          gradients,
          workers,
        },
        model,
      );
      const losses = (await tr.run()).map((l) => l.loss);
      // training-mode outputs (batch statistics: invariant to the null direction) on a fixed batch
      const x = tf.tensor2d([-6, -1, 0, 0.5, 3, 8], [6, 1]);
      const t = tf.tensor1d([0, 10, 200, 500, 800, 999], 'int32');
      const out = tr.model.forward(x, t, { training: true, dropoutRng: new Rng(1).fork('d') });
      const outputs = toArray(out.output);
      tf.dispose([x, t, out.output, ...[...out.moments.values()].flatMap((v) => [v.mean, v.variance])]);
      const state = new Map(
        [
          ...tr.model.params,
          ...tr.model.batchStats,
          ...[...tr.ema.values].map(([n, v]) => [`ema/${n}`, v] as const),
        ].map(([n, v]) => [n, toArray(v)]),
      );
      tr.dispose();
      return { losses, state, outputs };
    };
    const auto = await run('autograd', 1);
    for (const workers of [1, 2]) {
      const fast = await run('fast', workers);
      const where = `${workers} thread(s)`;
      assert.deepEqual([...fast.state.keys()], [...auto.state.keys()]);
      for (let i = 0; i < fast.losses.length; i++)
        assert.ok(Math.abs(fast.losses[i] - auto.losses[i]) < 1e-4 * auto.losses[i], `${where}: loss ${i}`);
      // time/linear_2/bias shifts every row just before BatchNorm, so its exact gradient is 0 and
      // both paths feed Adam pure rounding noise, which Adam normalises to steps of up to ~lr: that
      // parameter (and bn_in's running mean, which tracks it) follow noise in either path. Compare
      // everything else, and the trained networks' outputs.
      const nullDirection = /^(ema\/)?time\/linear_2\/bias$|^bn_in\/mean$/;
      // Adam also turns rounding differences in small gradients into steps of up to lr each: 8 steps
      // of lr 2e-3 could drift 1.6e-2 apart on noise alone. The bar is 1/32 of that (native
      // TensorFlow, which sums in another order than autograd's ops, reached 1.4e-4); a wrong
      // gradient moves a parameter by about lr at its first step.
      for (const [name, v] of auto.state) {
        if (nullDirection.test(name)) continue;
        const d = maxAbsDiff(fast.state.get(name)!, v);
        assert.ok(d < 5e-4, `${where}, ${name}: max |Δ| ${d}`);
      }
      assert.ok(relErr(fast.outputs, auto.outputs) < 1e-4, `${where}: outputs ${fast.outputs} vs ${auto.outputs}`);
    }
  });
}

test('a bad gradients mode or activation is refused', () => {
  assert.throws(() => new Trainer(mixture, scheduler, { gradients: 'x' as never }), /gradients/);
  assert.throws(
    () => new VelocityModel({ activation: 'relu' as never }, new Rng(1)),
    /activation must be one of gelu, silu, got relu/,
  );
});
