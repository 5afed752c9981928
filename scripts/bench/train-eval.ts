// Train one recipe, then measure it the way the notebooks judge samples: the EMA model's excess
// loss over the Bayes-optimal loss, and for each sampling seed, DDPM samples of the trained model
// per mode (weight, mean, std against exact sampling at n, KS) and against the exact velocity on
// the same noise (the coupled distance). Used to choose and justify notebook 03's recipe.
//
//   node dist/scripts/bench/train-eval.js '{"steps": 3000, "batchSize": 4096, "learningRate": 1e-3}' ['{"dropout": 0}'] [--seeds 2] [--n 10000] [--large-n 100000] [--save DIR]
// --save keeps the trained model as a checkpoint in DIR (for notebook 04: its checkpointDir).
import { parseArgs } from 'node:util';
import { oracleVelocity } from '../../src/diffusion/predictor';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../../src/diffusion/scheduler';
import { coupledComparison } from '../../src/eval/coupled';
import { evaluateModel } from '../../src/eval/evaluate';
import { compareWithMixture } from '../../src/eval/metrics';
import { bayesOptimalVLoss } from '../../src/eval/optimal-loss';
import { judgeSamples } from '../../src/eval/sample-bars';
import { exactSamplingW1 } from '../../src/eval/tolerances';
import { GaussianMixture } from '../../src/math/mixture';
import { Rng } from '../../src/math/rng';
import { initBackend } from '../../src/runtime/backend';
import { ddpmSample } from '../../src/sample/ddpm';
import { ddpmSampleModel } from '../../src/sample/parallel/ddpm-model';
import { saveCheckpoint } from '../../src/model/checkpoint';
import { Trainer } from '../../src/train/trainer';

const round = (v: number, digits = 4) => Number(v.toFixed(digits));

async function main() {
  const { values: v, positionals: args } = parseArgs({
    allowPositionals: true,
    options: {
      seeds: { type: 'string' },
      save: { type: 'string' },
      n: { type: 'string' },
      'large-n': { type: 'string' },
    },
  });
  const seeds = Number(v.seeds ?? 2);
  const saveDir = v.save ?? null;
  const n = Number(v.n ?? 10000);
  // one more pass of the first sampling seed at a larger n (e.g. 100,000: bars √10 times tighter); 0: none
  const largeN = Number(v['large-n'] ?? 0);
  const train = JSON.parse(args[0] ?? '{}');
  const backend = await initBackend();
  const mixture = GaussianMixture.default();
  const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);
  const model = JSON.parse(args[1] ?? '{}');
  const bayes = bayesOptimalVLoss(mixture, scheduler).loss;
  const trainer = new Trainer(mixture, scheduler, { holdSteps: 0, ...train }, model);
  const start = performance.now();
  await trainer.run((log) => {
    if (log.step % (10 * trainer.config.logEvery) === 0)
      console.error(`step ${log.step} loss ${log.loss.toFixed(3)} (${log.elapsed.toFixed(0)} s)`);
  });
  const trainSeconds = (performance.now() - start) / 1000;
  const ev = evaluateModel(trainer.model, scheduler, mixture, { params: trainer.ema.values, perTimestep: 50, seed: 7 });
  if (saveDir)
    saveCheckpoint(saveDir, trainer.model, trainer.ema.values, {
      train: trainer.config,
      scheduler: scheduler.config,
      excessLoss: ev.excess,
      bayesOptimalLoss: bayes,
      trainSeconds,
      backend: backend.name,
    });
  const samples = [];
  const passes = Array.from({ length: seeds }, (_, s) => ({ seed: 100 + s, n }));
  if (largeN > 0) passes.push({ seed: 100, n: largeN });
  for (const { seed: s, n } of passes) {
    const stream = () => new Rng(s).fork('sample');
    const { samples: xs } = await ddpmSampleModel({
      model: trainer.model,
      params: trainer.ema.values,
      scheduler,
      n,
      rng: stream(),
    });
    const exact = await ddpmSample({ predictor: oracleVelocity(mixture, scheduler), scheduler, n, rng: stream() });
    const r = compareWithMixture(xs, mixture);
    const coupled = coupledComparison(xs, exact.samples);
    const judged = judgeSamples(r, mixture);
    samples.push({
      samplingSeed: s,
      n,
      weights: r.modes.map((m) => round(m.weight)),
      means: r.modes.map((m) => round(m.mean, 3)),
      stds: r.modes.map((m) => round(m.std, 3)),
      ks: round(r.ks),
      w1: round(r.w1),
      failed: judged.filter((j) => !j.pass).map((j) => j.name),
      coupledW1: round(coupled.w1),
      coupledW1Bar: round(exactSamplingW1(mixture, n)),
      coupledMeanAbs: round(coupled.meanAbs),
    });
  }
  console.log(
    JSON.stringify({
      backend: backend.name,
      train: trainer.config,
      trainSeconds: round(trainSeconds, 1),
      excessPct: round((100 * ev.excess) / bayes, 3),
      samples,
    }),
  );
  trainer.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
