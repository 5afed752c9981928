import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';
import { timestepEmbedding } from '../src/diffusion/embedding';
import { Rng } from '../src/math/rng';
import { maxAbsDiff, toArray, useBackend } from './helpers';

before(useBackend);

// Independent float64 reference for the linear schedule.
const N = 1000;
const refBetas = Array.from({ length: N }, (_, i) => 1e-4 + (i * (0.02 - 1e-4)) / (N - 1));
const refAlphaBar: number[] = [];
refBetas.reduce((p, b, i) => (refAlphaBar[i] = p * (1 - b)), 1);

test("defaults are diffusers' FlaxDDPMScheduler defaults", () => {
  const s = new DDPMScheduler();
  assert.deepEqual(s.config, {
    numTrainTimesteps: 1000,
    betaStart: 1e-4,
    betaEnd: 0.02,
    betaSchedule: 'linear',
    clipSample: true,
    predictionType: 'epsilon',
    varianceType: 'fixed_small',
  });
  assert.equal(s.initNoiseSigma, 1);
  assert.equal(s.timesteps.length, 1000);
  assert.equal(s.timesteps[0], 999);
  assert.equal(s.timesteps[999], 0);
});

test('linear schedule: betas, alphas and ᾱ match float64 references', () => {
  const s = new DDPMScheduler(TUTORIAL_SCHEDULER);
  assert.equal(s.betas[0], 1e-4);
  assert.equal(s.betas[999], 0.02);
  for (let i = 0; i < N; i++) {
    assert.ok(Math.abs(s.betas[i] - refBetas[i]) < 1e-15);
    assert.ok(Math.abs(s.alphas[i] - (1 - refBetas[i])) < 1e-15);
    assert.ok(Math.abs(s.alphasCumprod[i] / refAlphaBar[i] - 1) < 1e-9);
  }
  // values quoted in the spec
  const quoted: [number, number][] = [
    [0, 0.9999],
    [1, 0.99978009],
    [10, 0.99780657],
    [100, 0.89514159],
    [500, 0.07779666],
    [999, 4.0358298e-5],
  ];
  for (const [t, v] of quoted) assert.ok(Math.abs(s.alphasCumprod[t] / v - 1) < 1e-7, `ᾱ_${t}`);
});

test('scaled_linear and squaredcos_cap_v2 schedules', () => {
  const sl = new DDPMScheduler({ betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 });
  const r0 = Math.sqrt(0.00085);
  const r1 = Math.sqrt(0.012);
  for (const i of [0, 1, 500, 999]) assert.ok(Math.abs(sl.betas[i] - (r0 + (i * (r1 - r0)) / 999) ** 2) < 1e-15);
  const cos = new DDPMScheduler({ betaSchedule: 'squaredcos_cap_v2' });
  const abar = (u: number) => Math.cos((((u + 0.008) / 1.008) * Math.PI) / 2) ** 2;
  for (const i of [0, 10, 500, 998])
    assert.ok(Math.abs(cos.betas[i] - Math.min(1 - abar((i + 1) / 1000) / abar(i / 1000), 0.999)) < 1e-15);
  assert.equal(cos.betas[999], 0.999); // the cap
});

test('unsupported options throw', () => {
  assert.throws(
    () => new DDPMScheduler({ varianceType: 'fixed_small_log' as never }),
    /varianceType 'fixed_small_log' is not supported/,
  );
  assert.throws(() => new DDPMScheduler({ varianceType: 'learned' as never }), /not supported/);
  assert.throws(() => new DDPMScheduler({ predictionType: 'x' as never }), /predictionType/);
  assert.throws(() => new DDPMScheduler({ betaSchedule: 'sigmoid' as never }), /betaSchedule/);
  assert.throws(() => new DDPMScheduler({ timestepSpacing: 'trailing' } as never), /unknown option 'timestepSpacing'/);
});

test('setTimesteps: (0..n−1)·(N div n), descending', () => {
  const s = new DDPMScheduler();
  s.setTimesteps(1000);
  assert.deepEqual(
    s.timesteps,
    Array.from({ length: 1000 }, (_, i) => 999 - i),
  );
  s.setTimesteps(3);
  assert.deepEqual(s.timesteps, [666, 333, 0]);
  assert.throws(() => s.setTimesteps(0), /numInferenceSteps/);
});

test('addNoise and getVelocity per example, for shapes [B] and [B, 1]', () => {
  const s = new DDPMScheduler(TUTORIAL_SCHEDULER);
  const x0 = [-5.2, 0.3, 6.1, 2.0];
  const eps = [0.4, -1.2, 0.05, 2.2];
  const ts = [0, 10, 500, 999];
  const want = ts.map((t, i) => Math.sqrt(refAlphaBar[t]) * x0[i] + Math.sqrt(1 - refAlphaBar[t]) * eps[i]);
  const wantV = ts.map((t, i) => Math.sqrt(refAlphaBar[t]) * eps[i] - Math.sqrt(1 - refAlphaBar[t]) * x0[i]);
  for (const shape of [[4], [4, 1]]) {
    const [a, n, t] = [tf.tensor(x0, shape), tf.tensor(eps, shape), tf.tensor1d(ts, 'int32')];
    const xt = s.addNoise(a, n, t);
    const v = s.getVelocity(a, n, t);
    assert.deepEqual(xt.shape, shape);
    assert.ok(maxAbsDiff(toArray(xt), want) < 1e-5);
    assert.ok(maxAbsDiff(toArray(v), wantV) < 1e-5);
    // the training step's form (host timesteps, looked up on the host) gives the same float32 values
    const both = s.noisySampleAndVelocity(a, n, Int32Array.from(ts));
    assert.deepEqual([toArray(both.xt), toArray(both.velocity)], [toArray(xt), toArray(v)]);
    tf.dispose([a, n, t, xt, v, both.xt, both.velocity]);
  }
  assert.throws(
    () => s.noisySampleAndVelocity(tf.ones([4]), tf.ones([4]), Int32Array.of(0, 1, 2, 1000)),
    /timestep 1000 out of \[0, 1000\)/,
  );
  assert.throws(() => s.noisySampleAndVelocity(tf.ones([4]), tf.ones([4]), Int32Array.of(0, 1, 2)), /3 timesteps/);
  const bad = tf.tensor1d([1, 2, 3, 4]);
  assert.throws(() => s.addNoise(tf.ones([4]), tf.ones([4]), bad), /int32/);
});

/** DDPM eq. 7 in float64, written independently of the implementation. */
function referenceStep(
  pred: 'epsilon' | 'sample' | 'v_prediction',
  variance: 'fixed_small' | 'fixed_large',
  clip: boolean,
  out: number,
  t: number,
  x: number,
  z: number,
): number {
  const ab = refAlphaBar[t];
  const abPrev = t > 0 ? refAlphaBar[t - 1] : 1;
  const beta = refBetas[t];
  let x0 =
    pred === 'epsilon'
      ? (x - Math.sqrt(1 - ab) * out) / Math.sqrt(ab)
      : pred === 'sample'
        ? out
        : Math.sqrt(ab) * x - Math.sqrt(1 - ab) * out;
  if (clip) x0 = Math.min(1, Math.max(-1, x0));
  const mean = ((Math.sqrt(abPrev) * beta) / (1 - ab)) * x0 + ((Math.sqrt(1 - beta) * (1 - abPrev)) / (1 - ab)) * x;
  const v = variance === 'fixed_small' ? Math.max(((1 - abPrev) / (1 - ab)) * beta, 1e-20) : beta;
  return t > 0 ? mean + Math.sqrt(v) * z : mean;
}

test('step matches DDPM eq. 7 for every prediction and variance type', () => {
  const xs = [-4.5, -0.2, 0.0, 1.3, 5.9];
  const outs = [0.7, -1.1, 0.3, 2.4, -0.6];
  const zs = [0.1, -0.3, 1.5, -2.0, 0.8];
  for (const pred of ['epsilon', 'sample', 'v_prediction'] as const) {
    for (const variance of ['fixed_small', 'fixed_large'] as const) {
      for (const clip of [false, true]) {
        const s = new DDPMScheduler({ predictionType: pred, varianceType: variance, clipSample: clip });
        for (const t of [0, 1, 10, 250, 500, 999]) {
          const [x, o, z] = [tf.tensor2d(xs, [5, 1]), tf.tensor2d(outs, [5, 1]), tf.tensor2d(zs, [5, 1])];
          const { prevSample, predOriginalSample } = s.step(o, t, x, { noise: z });
          const want = xs.map((xi, i) => referenceStep(pred, variance, clip, outs[i], t, xi, zs[i]));
          const got = toArray(prevSample);
          // spec tolerances: float32 cancellation in 1 − ᾱ near t = 0
          const tol = t <= 10 ? 2e-3 : 1e-4;
          got.forEach((g, i) =>
            assert.ok(
              Math.abs(g - want[i]) <= tol * Math.max(1, Math.abs(want[i])),
              `${pred}/${variance}/clip=${clip} t=${t}: ${g} vs ${want[i]}`,
            ),
          );
          if (clip) assert.ok(toArray(predOriginalSample).every((v) => v >= -1 && v <= 1));
          tf.dispose([x, o, z, prevSample, predOriginalSample]);
        }
      }
    }
  }
});

test('v-prediction round trip: the true velocity recovers x0, and t = 0 adds no noise', () => {
  const s = new DDPMScheduler(TUTORIAL_SCHEDULER);
  const x0 = tf.tensor2d([-5, 0.5, 6.5], [3, 1]);
  const eps = tf.tensor2d([0.3, -0.7, 1.1], [3, 1]);
  for (const t of [0, 300, 999]) {
    const ts = tf.tensor1d([t, t, t], 'int32');
    const xt = s.addNoise(x0, eps, ts);
    const v = s.getVelocity(x0, eps, ts);
    const { prevSample, predOriginalSample } = s.step(v, t, xt, { noise: tf.zeros([3, 1]) });
    assert.ok(maxAbsDiff(toArray(predOriginalSample), [-5, 0.5, 6.5]) < 1e-3, `t=${t}`);
    if (t === 0) assert.ok(maxAbsDiff(toArray(prevSample), [-5, 0.5, 6.5]) < 1e-3);
    tf.dispose([ts, xt, v, prevSample, predOriginalSample]);
  }
  // at t = 0 the noise is ignored, even a huge one
  const { prevSample } = s.step(tf.zeros([3, 1]), 0, x0, { noise: tf.fill([3, 1], 100) });
  assert.ok(toArray(prevSample).every((v) => Math.abs(v) < 10));
});

test('step noise: injected, or drawn from a seeded stream (reproducible); never implicit', () => {
  const s = new DDPMScheduler(TUTORIAL_SCHEDULER);
  const x = tf.zeros([100, 1]);
  const run = () => toArray(s.step(tf.zeros([100, 1]), 500, x, { rng: new Rng(9).fork('step') }).prevSample);
  assert.deepEqual(run(), run());
  assert.throws(() => s.step(tf.zeros([100, 1]), 500, x), /noise.*rng/);
  assert.throws(() => s.step(tf.zeros([100, 1]), 1000, x, { rng: new Rng(1) }), /timestep/);
  assert.throws(() => s.step(tf.zeros([50, 1]), 5, x, { rng: new Rng(1) }), /shape/);
});

test('timestepEmbedding equals FlaxTimesteps defaults (sines first, frequencies down to 1e-4)', () => {
  const ts = [0, 1, 17, 500, 999];
  const emb = timestepEmbedding(tf.tensor1d(ts, 'int32'));
  assert.deepEqual(emb.shape, [5, 32]);
  const got = toArray(emb);
  for (let b = 0; b < ts.length; b++) {
    for (let k = 0; k < 16; k++) {
      const f = 1e-4 ** (k / 15); // exp(−k·ln(1e4)/15)
      assert.ok(Math.abs(got[b * 32 + k] - Math.sin(ts[b] * f)) < 1e-4);
      assert.ok(Math.abs(got[b * 32 + 16 + k] - Math.cos(ts[b] * f)) < 1e-4);
    }
  }
  assert.deepEqual(got.slice(0, 32), [...new Array(16).fill(0), ...new Array(16).fill(1)]);
  assert.deepEqual(timestepEmbedding([3], 8).shape, [1, 8]);
  assert.throws(() => timestepEmbedding([1], 7), /even/);
});
