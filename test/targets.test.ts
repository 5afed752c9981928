import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { noiseLevel, noisySample, velocityTarget } from '../src/diffusion/parameterization';
import { Rng } from '../src/math/rng';
import { TUTORIAL_TRAINING } from '../src/train/config';
import { exactTargets, ReferenceBatch, referenceTargets } from '../src/train/targets';
import { Trainer } from '../src/train/trainer';
import { maxAbsDiff, toArray, tutorialProblem, useBackend } from './helpers';

before(useBackend);

const { mixture, scheduler } = tutorialProblem();

test('the exact target is the average of plain targets at the same x_t (Monte Carlo, binned)', () => {
  const rng = new Rng(11);
  let compared = 0;
  for (const t of [50, 300, 700]) {
    const alphaBar = scheduler.alphasCumprod[t];
    const c = noiseLevel(alphaBar);
    const n = 400_000;
    const x0 = mixture.sample(n, rng.fork(`x0 ${t}`));
    const eps = rng.fork(`eps ${t}`).normals(n);
    // bins of x_t of width 0.1 at a few places; the plain targets' mean in a bin against the exact target at its centre
    for (const centre of [-4, -0.5, 0, 0.4, 3, 5.5]) {
      let sum = 0;
      let sumSq = 0;
      let count = 0;
      for (let i = 0; i < n; i++) {
        const xt = noisySample(c, x0[i], eps[i]);
        if (Math.abs(xt - centre) > 0.02) continue;
        const v = velocityTarget(c, x0[i], eps[i]);
        sum += v;
        sumSq += v * v;
        count += 1;
      }
      if (count < 200) continue;
      const mean = sum / count;
      const se = Math.sqrt((sumSq / count - mean * mean) / count);
      // the target varies across the bin: allow its slope over half a bin on top of 5 standard errors
      const [exact, left, right] = exactTargets(
        mixture,
        [centre, centre - 0.02, centre + 0.02],
        [alphaBar, alphaBar, alphaBar],
      );
      const tolerance = 5 * se + Math.abs(right - left) / 2;
      assert.ok(
        Math.abs(mean - exact) < tolerance,
        `t ${t}, x_t ${centre}: binned mean ${mean} vs exact ${exact} (±${tolerance}, ${count} rows)`,
      );
      compared += 1;
    }
  }
  assert.ok(compared >= 12, `only ${compared} bins held enough rows`);
});

test('ReferenceBatch sums outward from the nearest point and stops where weights vanish: equal to the full sum', () => {
  const rng = new Rng(3);
  const points = mixture.sample(500, rng.fork('ref'));
  const reference = new ReferenceBatch(points);
  const fullSum = (xt: number, alphaBar: number, own?: number) => {
    const all = own === undefined ? [...points] : [...points, own];
    const logs = all.map((x) => -((xt - Math.sqrt(alphaBar) * x) ** 2) / (2 * (1 - alphaBar)));
    const top = Math.max(...logs);
    const w = logs.map((l) => Math.exp(l - top));
    return w.reduce((a, wi, i) => a + wi * all[i], 0) / w.reduce((a, b) => a + b, 0);
  };
  const probes = rng
    .fork('probe')
    .normals(60)
    .map((z) => 6 * z);
  for (const t of [0, 1, 20, 150, 500, 999]) {
    const alphaBar = scheduler.alphasCumprod[t];
    for (const xt of probes) {
      const want = fullSum(xt, alphaBar);
      assert.ok(
        Math.abs(reference.posteriorMean(xt, alphaBar) - want) <= 1e-9 * (1 + Math.abs(want)),
        `t ${t}, x_t ${xt}`,
      );
      const withOwn = fullSum(xt, alphaBar, 0.25);
      assert.ok(
        Math.abs(reference.posteriorMean(xt, alphaBar, 0.25) - withOwn) <= 1e-9 * (1 + Math.abs(withOwn)),
        `own, t ${t}, x_t ${xt}`,
      );
    }
  }
  assert.throws(() => new ReferenceBatch([]), /no points/);
});

test('the reference target tends to the exact one as the reference batch grows', () => {
  const rng = new Rng(5);
  const rows = 2000;
  const t = rng.fork('t').ints(rows, scheduler.numTrainTimesteps);
  const alphaBars = Float64Array.from(t, (ti) => scheduler.alphasCumprod[ti]);
  const x0 = mixture.sample(rows, rng.fork('x0'));
  const eps = rng.fork('eps').normals(rows);
  const xt = Float32Array.from(x0, (x, i) => noisySample(noiseLevel(alphaBars[i]), x, eps[i]));
  const exact = exactTargets(mixture, xt, alphaBars);
  const plainError =
    x0.reduce((a, x, i) => a + (velocityTarget(noiseLevel(alphaBars[i]), x, eps[i]) - exact[i]) ** 2, 0) / rows;
  const errors = [16, 256, 4096].map((size) => {
    const points = new Float32Array(size);
    points.set(mixture.sample(size, rng.fork(`points ${size}`)));
    // rows are not part of this reference: each brings its own x0, as batch rows past referenceSize do
    const ref = referenceTargets(new ReferenceBatch(points), { xt, x0, alphaBars, firstBatchRow: size });
    return ref.reduce((a, v, i) => a + (v - exact[i]) ** 2, 0) / rows;
  });
  // each step of 16x more points cuts the mean squared distance to the exact target several-fold,
  // and even 16 points are far closer to it than the plain target (mean squared distance ~12)
  assert.ok(errors[0] < plainError / 4, `R 16: ${errors[0]} vs plain ${plainError}`);
  assert.ok(errors[1] < errors[0] / 4 && errors[2] < errors[1] / 4, `errors ${errors}`);
});

test('training on each target: the variance-reduced targets leave far less loss; 2 workers follow 1 for the reference target', async () => {
  const config = {
    ...TUTORIAL_TRAINING,
    steps: 10,
    batchSize: 300,
    logEvery: 10,
    learningRate: 1e-3,
    holdSteps: 0,
    seed: 4,
  };
  const model = { width: 32, depth: 1, dropout: 0 };
  const losses: Record<string, number> = {};
  for (const target of ['plain', 'reference', 'exact'] as const) {
    const tr = new Trainer(mixture, scheduler, { ...config, target, workers: 1 }, model);
    losses[target] = (await tr.run())[0].loss;
    tr.dispose();
  }
  // the plain loss holds E Var(v | x_t) ≈ 12; the others only the network's error and, for the reference, its estimate's
  assert.ok(losses.reference < losses.plain / 2 && losses.exact < losses.plain / 2, JSON.stringify(losses));

  const serial = new Trainer(
    mixture,
    scheduler,
    { ...config, target: 'reference', referenceSize: 100, workers: 1 },
    model,
  );
  await serial.run();
  const parallel = new Trainer(
    mixture,
    scheduler,
    { ...config, target: 'reference', referenceSize: 100, workers: 2 },
    model,
  );
  await parallel.run();
  assert.ok(Math.abs(serial.history[0].loss - parallel.history[0].loss) < 1e-4 * serial.history[0].loss, 'loss');
  for (const [name, p] of serial.model.params) {
    if (name === 'time/linear_2/bias') continue; // exact gradient 0: both runs follow rounding noise (see parallel-train.test.ts)
    assert.ok(maxAbsDiff(toArray(p), toArray(parallel.model.params.get(name)!)) < 2e-3, `param ${name}`);
  }
  serial.dispose();
  parallel.dispose();
});

test('target settings are validated', () => {
  assert.throws(
    () => new Trainer(mixture, scheduler, { target: 'mean' as never }),
    /target must be one of plain, reference, exact/,
  );
  assert.throws(
    () => new Trainer(mixture, scheduler, { batchSize: 64, target: 'reference', referenceSize: 65 }),
    /referenceSize/,
  );
  assert.throws(() => new Trainer(mixture, scheduler, { target: 'reference', referenceSize: 0 }), /referenceSize/);
  assert.throws(
    () => new Trainer(mixture, scheduler, { target: 'exact', diffusionNoise: 'data-draw' }),
    /target 'plain'/,
  );
});
