import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/math/rng';
import { VelocityModel } from '../src/model/model';
import { gradientNoise } from '../src/train/gradient-noise';
import { autogradGradients } from '../src/train/gradients';
import { targetFunction } from '../src/train/targets';
import { tutorialProblem, useBackend } from './helpers';

before(useBackend);

const { mixture, scheduler } = tutorialProblem();

test('gradientNoise equals the spread of autograd gradients over the same mini-batches, computed in two passes', () => {
  const model = new VelocityModel({ width: 16, depth: 1, dropout: 0 }, new Rng(5).fork('init'));
  const edges = [0, 300, 1000];
  const batches = 5;
  const rows = 64;
  for (const kind of ['plain', 'exact'] as const) {
    const bands = gradientNoise(model, scheduler, mixture, { target: kind, edges, batches, rows, seed: 11 });
    bands.forEach((band, b) => {
      // the same rows as gradientNoise draws them: one stream per band, forked per mini-batch
      const rng = new Rng(11, 'gradient noise').fork(`band ${b}`);
      const grads = Array.from({ length: batches }, (_, k) => {
        const x0 = mixture.sample(rows, rng.fork(`data ${k}`));
        const noise = rng.fork(`noise ${k}`).normals(rows);
        const timesteps = Int32Array.from(rng.fork(`t ${k}`).ints(rows, band.to - band.from), (t) => t + band.from);
        const target = targetFunction(kind, { mixture, scheduler, referenceSize: null }, { x0, timesteps }, 0, rows);
        const x0t = tf.tensor2d(x0, [rows, 1]);
        const noiset = tf.tensor2d(noise, [rows, 1]);
        const r = autogradGradients(
          model,
          scheduler,
          { x0: x0t, noise: noiset, timesteps, target },
          rng.fork(`dropout ${k}`),
        );
        const flat = Float64Array.from([...r.grads.values()].flatMap((g) => Array.from(g.dataSync())));
        tf.dispose([x0t, noiset, r.loss, ...r.grads.values()]);
        return flat;
      });
      const mean = grads[0].map((_, i) => grads.reduce((a, g) => a + g[i], 0) / batches);
      const noiseSq = grads.reduce((a, g) => a + g.reduce((s, gi, i) => s + (gi - mean[i]) ** 2, 0), 0) / (batches - 1);
      const signal = Math.sqrt(Math.max(mean.reduce((a, m) => a + m * m, 0) - noiseSq / batches, 0));
      assert.equal(band.from, edges[b]);
      assert.equal(band.to, edges[b + 1]);
      assert.ok(
        Math.abs(band.noise - Math.sqrt(noiseSq)) < 1e-3 * Math.sqrt(noiseSq),
        `${kind} band ${b} noise ${band.noise} vs ${Math.sqrt(noiseSq)}`,
      );
      assert.ok(
        Math.abs(band.signal - signal) < 1e-3 * Math.sqrt(noiseSq) + 1e-3 * signal,
        `${kind} band ${b} signal ${band.signal} vs ${signal}`,
      );
    });
  }
  model.dispose();
});

test("at large t the exact target removes most of the plain target's gradient noise", () => {
  const model = new VelocityModel({ width: 16, depth: 1, dropout: 0 }, new Rng(5).fork('init'));
  const options = { edges: [0, 900, 1000], batches: 8, rows: 128, seed: 2 };
  const [plain, exact] = (['plain', 'exact'] as const).map((target) =>
    gradientNoise(model, scheduler, mixture, { ...options, target }),
  );
  assert.ok(exact[1].noise < plain[1].noise / 2, `t ≥ 900: exact ${exact[1].noise}, plain ${plain[1].noise}`);
  model.dispose();
});

test('gradientNoise refuses bad bands and sizes', () => {
  const model = new VelocityModel({ width: 8, depth: 1, dropout: 0 }, new Rng(1).fork('init'));
  const ok = { target: 'plain' as const, edges: [0, 1000], batches: 2, rows: 2 };
  assert.throws(
    () => gradientNoise(model, scheduler, mixture, { ...ok, edges: [0, 500] }),
    /edges must rise from 0 to 1000/,
  );
  assert.throws(
    () => gradientNoise(model, scheduler, mixture, { ...ok, edges: [0, 500, 500, 1000] }),
    /edges must rise/,
  );
  assert.throws(
    () => gradientNoise(model, scheduler, mixture, { ...ok, batches: 1 }),
    /batches must be an integer ≥ 2/,
  );
  assert.throws(() => gradientNoise(model, scheduler, mixture, { ...ok, rows: 1.5 }), /rows must be an integer ≥ 2/);
  model.dispose();
});
