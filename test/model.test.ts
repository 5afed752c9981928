import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { geluTanh } from '../src/model/activations';
import { lecunNormal, VelocityModel } from '../src/model/model';
import { Rng } from '../src/math/rng';
import { maxAbsDiff, toArray, useBackend } from './helpers';

before(useBackend);

test('the tutorial network has 57,219 parameters', () => {
  const m = new VelocityModel({}, new Rng(0).fork('init'));
  assert.equal(m.parameterCount, 57219);
  const small = new VelocityModel({ width: 16, depth: 1 }, new Rng(0).fork('init'));
  // time MLP 2·(32·32+32) + BN(33) 66 + Dense 33·16+16 + block (BN 32 + 16·16+16) + BN 32 + Dense 17
  assert.equal(small.parameterCount, 2112 + 66 + 544 + 304 + 32 + 17);
  m.dispose();
  small.dispose();
});

test('lecun-normal init: std √(1/fan_in) (JAX truncation correction), truncated at 2/0.88·√(1/fan_in)', () => {
  const w = toArray(lecunNormal(128, 512, new Rng(4).fork('init')));
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(Math.abs(std / Math.sqrt(1 / 128) - 1) < 0.01, `std ratio ${std / Math.sqrt(1 / 128)}`);
  const bound = (2 / 0.8796256610342398) * Math.sqrt(1 / 128);
  assert.ok(w.every((v) => Math.abs(v) <= bound * (1 + 1e-6)));
});

test('GELU is the tanh approximation', () => {
  const xs = [-3, -1, 0, 0.5, 2];
  const want = xs.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
  assert.ok(maxAbsDiff(toArray(geluTanh(tf.tensor1d(xs))), want) < 1e-6);
});

/** The network in float64, written out independently from the parameter arrays. */
function referenceForward(m: VelocityModel, x: number[], ts: number[], training: boolean): number[] {
  const P = (n: string) => toArray(m.params.get(n)!);
  const S = (n: string) => toArray(m.batchStats.get(n)!);
  const dense = (h: number[][], name: string) => {
    const W = P(`${name}/kernel`);
    const b = P(`${name}/bias`);
    const out = b.length;
    return h.map((row) => Array.from({ length: out }, (_, j) => row.reduce((s, v, i) => s + v * W[i * out + j], b[j])));
  };
  const bn = (h: number[][], name: string) => {
    const F = h[0].length;
    let mean: number[];
    let variance: number[];
    if (training) {
      mean = Array.from({ length: F }, (_, j) => h.reduce((s, r) => s + r[j], 0) / h.length);
      variance = Array.from({ length: F }, (_, j) => h.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / h.length);
    } else {
      mean = S(`${name}/mean`);
      variance = S(`${name}/var`);
    }
    const scale = P(`${name}/scale`);
    const bias = P(`${name}/bias`);
    return h.map((r) => r.map((v, j) => ((v - mean[j]) / Math.sqrt(variance[j] + 1e-5)) * scale[j] + bias[j]));
  };
  const gelu = (h: number[][]) =>
    h.map((r) => r.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))));
  const emb = ts.map((t) => {
    const f = Array.from({ length: 16 }, (_, k) => Math.exp((-k * Math.log(1e4)) / 15));
    return [...f.map((fk) => Math.sin(t * fk)), ...f.map((fk) => Math.cos(t * fk))];
  });
  const silu = (h: number[][]) => h.map((r) => r.map((v) => v / (1 + Math.exp(-v))));
  const temb = dense(silu(dense(emb, 'time/linear_1')), 'time/linear_2');
  let h = x.map((xi, b) => [xi, ...temb[b]]);
  h = gelu(dense(bn(h, 'bn_in'), 'dense_in'));
  for (let i = 0; i < m.config.depth; i++) {
    const inner = gelu(dense(bn(h, `block_${i}/bn`), `block_${i}/dense`));
    h = h.map((r, b) => r.map((v, j) => v + inner[b][j]));
  }
  return dense(bn(h, 'bn_out'), 'dense_out').map((r) => r[0]);
}

test('forward equals an independent float64 implementation, in training and inference mode', () => {
  const m = new VelocityModel({ dropout: 0 }, new Rng(3).fork('init'));
  const xs = [-5.5, -0.2, 0.4, 3.3, 7.9, 12.0];
  const ts = [0, 3, 250, 500, 801, 999];
  const x = tf.tensor2d(xs, [6, 1]);
  const t = tf.tensor1d(ts, 'int32');
  const train = m.forward(x, t, { training: true });
  const want = referenceForward(m, xs, ts, true);
  assert.ok(maxAbsDiff(toArray(train.output), want) < 1e-4 * Math.max(1, ...want.map(Math.abs)));
  // fold the batch moments in, then inference uses the running statistics
  m.updateBatchStats(train.moments);
  const meanIn = toArray(m.batchStats.get('bn_in/mean')!);
  const batchMeanIn = toArray(train.moments.get('bn_in')!.mean);
  assert.ok(
    maxAbsDiff(
      meanIn,
      batchMeanIn.map((v) => 0.01 * v),
    ) < 1e-6,
    'ra = 0.99·0 + 0.01·batch mean',
  );
  const infer = m.forward(x, t, { training: false }).output;
  const wantInfer = referenceForward(m, xs, ts, false);
  assert.ok(maxAbsDiff(toArray(infer), wantInfer) < 1e-4 * Math.max(1, ...wantInfer.map(Math.abs)));
  assert.ok(
    maxAbsDiff(
      toArray(m.predict(x, 250)),
      referenceForward(
        m,
        xs,
        xs.map(() => 250),
        false,
      ),
    ) < 1e-3,
  );
  m.dispose();
});

test('dropout: training output depends on the dropout stream, inference does not use it', () => {
  const m = new VelocityModel({}, new Rng(3).fork('init'));
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [8, 1]);
  const t = tf.tensor1d([5, 50, 500, 900, 1, 2, 3, 4], 'int32');
  const run = (seed: number) =>
    toArray(m.forward(x, t, { training: true, dropoutRng: new Rng(seed).fork('dropout') }).output);
  assert.deepEqual(run(1), run(1));
  assert.ok(maxAbsDiff(run(1), run(2)) > 1e-3);
  assert.throws(() => m.forward(x, t, { training: true }), /dropoutRng/);
  const a = toArray(m.forward(x, t, { training: false }).output);
  const b = toArray(m.forward(x, t, { training: false }).output);
  assert.deepEqual(a, b);
  assert.throws(() => new VelocityModel({ dropout: 1 }, new Rng(0)), /dropout must be in \[0, 1\)/);
  m.dispose();
});
