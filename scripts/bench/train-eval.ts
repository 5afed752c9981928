// Train one recipe, then measure it the way the notebooks do: the EMA model's excess loss over the
// Bayes-optimal loss, and DDPM samples (mode weights, W1) for a few sampling seeds. Used to choose
// and justify the training recipe of notebook 03.
//
//   node dist/scripts/bench/train-eval.js '{"steps": 3000, "batchSize": 4096, "learningRate": 1e-3}' ['{"dropout": 0}'] [--seeds 2] [--n 10000]
import { initBackend } from '../../src/runtime/backend';
import { evaluateModel } from '../../src/eval/evaluate';
import { bayesOptimalVLoss } from '../../src/eval/optimal-loss';
import { compareWithMixture } from '../../src/eval/metrics';
import { GaussianMixture } from '../../src/math/mixture';
import { Rng } from '../../src/math/rng';
import { ddpmSampleModel } from '../../src/sample/parallel/coordinator';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../../src/diffusion/scheduler';
import { Trainer } from '../../src/train/trainer';

async function main() {
  const args = process.argv.slice(2);
  const flag = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args.splice(i, 2)[1]) : dflt;
  };
  const seeds = flag('--seeds', 2);
  const n = flag('--n', 10000);
  const train = JSON.parse(args[0] ?? '{}');
  const model = JSON.parse(args[1] ?? '{}');
  const backend = await initBackend();
  const mixture = GaussianMixture.default();
  const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);
  const bayes = bayesOptimalVLoss(mixture, scheduler).loss;
  const trainer = new Trainer(mixture, scheduler, { holdSteps: 0, ...train }, model);
  const start = performance.now();
  await trainer.run((log) => {
    if (log.step % (10 * trainer.config.logEvery) === 0) console.error(`step ${log.step} loss ${log.loss.toFixed(3)} (${log.elapsed.toFixed(0)} s)`);
  });
  const trainSeconds = (performance.now() - start) / 1000;
  const ev = evaluateModel(trainer.model, scheduler, mixture, { params: trainer.ema.values, perTimestep: 50, seed: 7 });
  const samples = [];
  for (let s = 0; s < seeds; s++) {
    const { samples: xs } = await ddpmSampleModel({ model: trainer.model, params: trainer.ema.values, scheduler, n, rng: new Rng(100 + s).fork('sample') });
    const r = compareWithMixture(xs, mixture);
    samples.push({ weights: r.modes.map((m) => +m.weight.toFixed(4)), maxWeightError: +r.maxWeightError.toFixed(4), w1: +r.w1.toFixed(4) });
  }
  console.log(JSON.stringify({
    backend: backend.name,
    train: trainer.config,
    model: trainer.model.config,
    trainSeconds: +trainSeconds.toFixed(1),
    excess: +ev.excess.toFixed(4),
    excessPct: +((100 * ev.excess) / bayes).toFixed(3),
    samples,
  }));
  trainer.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
