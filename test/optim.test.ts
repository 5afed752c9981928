import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { AdamW, learningRateAt, ParameterEMA } from '../src/train/optim';
import { maxAbsDiff, toArray, useBackend } from './helpers';

before(useBackend);

test("linear schedule: the tutorial's optax.linear_schedule(3e-4, 0, 5000, 500)", () => {
  const o = { peak: 3e-4, end: 0, warmupSteps: 0, holdSteps: 500, decaySteps: 5000 };
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-15;
  assert.ok(close(learningRateAt(0, o), 3e-4));
  assert.ok(close(learningRateAt(500, o), 3e-4));
  assert.ok(close(learningRateAt(3000, o), 1.5e-4));
  assert.ok(close(learningRateAt(4999, o), 3e-4 * (1 - 4499 / 5000)));
  assert.ok(close(learningRateAt(6000, o), 0));
  const warm = { peak: 1e-3, end: 0, warmupSteps: 100, holdSteps: 0, decaySteps: 900 };
  assert.ok(close(learningRateAt(0, warm), 0));
  assert.ok(close(learningRateAt(50, warm), 5e-4));
  assert.ok(close(learningRateAt(100, warm), 1e-3));
  assert.ok(close(learningRateAt(550, warm), 5e-4));
});

test('AdamW with global-norm clipping matches optax formulas written in float64', () => {
  const init = { a: [1.5, -2.0, 0.5], b: [3.0] };
  const params = new Map(Object.entries(init).map(([k, v]) => [k, tf.variable(tf.tensor1d(v))]));
  const opt = new AdamW(params, { weightDecay: 0.01 });
  // reference state
  const theta: Record<string, number[]> = { a: [...init.a], b: [...init.b] };
  const m: Record<string, number[]> = { a: [0, 0, 0], b: [0] };
  const v: Record<string, number[]> = { a: [0, 0, 0], b: [0] };
  for (let step = 1; step <= 5; step++) {
    // gradient of Σ c·θ² with a large c so that the clip (norm > 1) is active
    const grad = (k: string) => theta[k].map((x) => 2 * 3 * x);
    const g = { a: grad('a'), b: grad('b') };
    const norm = Math.sqrt([...g.a, ...g.b].reduce((s, x) => s + x * x, 0));
    const scale = norm > 1 ? 1 / norm : 1;
    const lr = 0.1 / step;
    for (const k of ['a', 'b']) {
      theta[k] = theta[k].map((x, i) => {
        const gi = g[k as 'a' | 'b'][i] * scale;
        m[k][i] = 0.9 * m[k][i] + 0.1 * gi;
        v[k][i] = 0.999 * v[k][i] + 0.001 * gi * gi;
        const mh = m[k][i] / (1 - 0.9 ** step);
        const vh = v[k][i] / (1 - 0.999 ** step);
        return x - lr * (mh / (Math.sqrt(vh) + 1e-8) + 0.01 * x);
      });
    }
    const grads = new Map([...params].map(([k, p]) => [k, tf.mul(6, p)]));
    const n = opt.apply(params, grads, lr);
    assert.ok(Math.abs(n - norm) < 1e-4 * norm);
  }
  assert.ok(maxAbsDiff(toArray(params.get('a')!), theta.a) < 1e-5);
  assert.ok(maxAbsDiff(toArray(params.get('b')!), theta.b) < 1e-5);
});

test('EMA: ema ← d·ema + (1 − d)·θ', () => {
  const p = new Map([['w', tf.variable(tf.tensor1d([1, 2]))]]);
  const ema = new ParameterEMA(p, 0.9);
  p.get('w')!.assign(tf.tensor1d([3, 4]));
  ema.update(p);
  assert.ok(maxAbsDiff(toArray(ema.values.get('w')!), [1.2, 2.2]) < 1e-6);
  assert.throws(() => new ParameterEMA(p, 1), /decay/);
});
