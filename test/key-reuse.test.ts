import test from 'node:test';
import assert from 'node:assert/strict';
import { keyReuseMarginal, keyReuseOptimalLoss, keyReuseVelocityMoments } from '../src/eval/key-reuse';
import { bayesOptimalVLoss } from '../src/eval/optimal-loss';
import { ksStatistic } from '../src/eval/metrics';
import { Rng } from '../src/math/rng';
import { Trainer } from '../src/train/trainer';
import { tutorialProblem } from './helpers';

const { mixture, scheduler } = tutorialProblem();

/** Key-reuse training pairs at one ᾱ, simulated directly: ε is the data's own normal draw. */
function simulate(n: number, alphaBar: number, seed: number) {
  const z = new Float32Array(n);
  const x0 = mixture.sample(n, new Rng(seed).fork('data'), z);
  const [a, s] = [Math.sqrt(alphaBar), Math.sqrt(1 - alphaBar)];
  return { xt: x0.map((x, i) => a * x + s * z[i]), v: x0.map((x, i) => a * z[i] - s * x) };
}

test("key-reuse optimum: 9.651, the tutorial's plateau, far below the true 12.19", () => {
  // reference: the same integral computed independently in float64 (per-mode quadrature over x0)
  const { loss, perTimestep } = keyReuseOptimalLoss(mixture, scheduler, { points: 1001 });
  assert.ok(Math.abs(loss - 9.651) < 0.002, String(loss));
  // the corrupted problem is easier at every timestep
  const intended = bayesOptimalVLoss(mixture, scheduler, { points: 1001 }).perTimestep;
  assert.ok(perTimestep.every((l, t) => l < intended[t]));
});

test('key-reuse closed form agrees with simulation: marginal, optimal predictor, per-t loss', () => {
  const t = 400;
  const ab = scheduler.alphasCumprod[t];
  const n = 40000;
  const { xt, v } = simulate(n, ab, 11);
  assert.ok(ksStatistic(xt, keyReuseMarginal(mixture, ab)) < 1.6 / Math.sqrt(n), 'x_t follows the key-reuse marginal');
  const predicted = Array.from(xt, (x) => keyReuseVelocityMoments(mixture, x, ab).mean);
  const mse = (shift: number) => predicted.reduce((acc, p, i) => acc + (p + shift - v[i]) ** 2, 0) / n;
  const optimum = keyReuseOptimalLoss(mixture, scheduler, { points: 1001 }).perTimestep[t];
  assert.ok(Math.abs(mse(0) - optimum) < 0.05 * optimum + 0.02, `simulated ${mse(0)} vs closed form ${optimum}`);
  assert.ok(mse(0.2) > mse(0) + 0.03, 'moving off the optimal predictor costs loss');
});

test('Trainer with diffusionNoise "data-draw" uses the data draw as noise; "independent" does not', () => {
  const config = { steps: 1, batchSize: 256, seed: 3, target: 'plain' as const };
  const reuse = new Trainer(mixture, scheduler, { ...config, diffusionNoise: 'data-draw' }).drawBatch();
  const plain = new Trainer(mixture, scheduler, config).drawBatch();
  const isOwnDraw = (x: number, z: number) =>
    mixture.means.some((m, k) => Math.abs(m + mixture.stds[k] * z - x) < 1e-5);
  assert.ok(Array.from(reuse.x0).every((x, i) => isOwnDraw(x, reuse.noise[i])));
  assert.deepEqual(Array.from(reuse.x0), Array.from(plain.x0), 'the data stream is the same either way');
  assert.ok(Array.from(plain.x0).filter((x, i) => isOwnDraw(x, plain.noise[i])).length < 10);
  assert.throws(
    () => new Trainer(mixture, scheduler, { ...config, diffusionNoise: 'shared' as 'independent' }),
    /diffusionNoise must be/,
  );
});
