// What the bench measures on the current tfjs backend: training steps (one thread and data-
// parallel), inference, DDPM passes, and a kernel profile of one training step.
import * as tf from '@tensorflow/tfjs';
import type { VelocityPredictor } from '../../src/diffusion/predictor';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../../src/diffusion/scheduler';
import { GaussianMixture } from '../../src/math/mixture';
import { Rng } from '../../src/math/rng';
import { modelVelocity } from '../../src/model/folded';
import { plainModelVelocity } from '../../src/model/predictors';
import { ddpmSample } from '../../src/sample/ddpm';
import { ddpmSampleModel } from '../../src/sample/parallel/ddpm-model';
import type { BackendName } from '../../src/runtime/backend';
import { Trainer } from '../../src/train/trainer';
import { TUTORIAL_TRAINING, type GradientMode, type TrainConfig } from '../../src/train/config';
import { DEFAULT_MODEL_CONFIG } from '../../src/model/network';
import type { Options } from './options';
import { notePeak, peak, resetPeak, timeIt } from './timing';

/** Everything measured in one bench run, over all backends. */
export interface BenchResults {
  backends: { name: BackendName; ok: boolean; error?: string }[];
  train: TrainResult[];
  trainParallel: TrainParallelResult[];
  infer: InferResult[];
  /** wasm only: a full DDPM pass on worker threads. */
  parallelDdpm: ParallelDdpmResult[];
  /** The first backend measured, unless --no-profile or --quick. */
  profile?: ProfileResult;
  /** The first backend measured: the step with each regression target. */
  regressionTargets?: TargetStepResult[];
}

const mixture = GaussianMixture.default();
const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);

/** The network and step that scripts/bench/bench_torch.py times too: the tutorial's (dropout 0.1), on one thread unless `workers` says otherwise. */
function benchTrainer(config: Partial<TrainConfig>): Trainer {
  return new Trainer(mixture, scheduler, { ...TUTORIAL_TRAINING, ...config }, DEFAULT_MODEL_CONFIG);
}

export interface TrainResult {
  backend: string;
  batch: number;
  gradients: GradientMode;
  steps: number;
  msPerStep: number;
  samplesPerS: number;
  peakRssMB: number;
  peakTfMB: number;
}

export function benchTrain(
  backend: string,
  B: number,
  gradients: GradientMode,
  o: Options,
  slow: boolean,
): TrainResult {
  resetPeak();
  const tr = benchTrainer({ batchSize: B, steps: 1_000_000, gradients, logEvery: 1_000_000 });
  const autograd = gradients === 'autograd';
  const { n, ms } = timeIt(
    () => {
      tr.trainStep();
      tr.model.params.get('dense_out/bias')!.dataSync(); // wait for the step (wasm/cpu are synchronous anyway)
    },
    {
      warmup: autograd || slow ? 1 : 3,
      minSteps: autograd || slow ? 2 : 5,
      minSeconds: autograd || slow ? Math.min(o.seconds, 2) : o.seconds,
      maxSeconds: slow ? 8 : 20,
    },
  );
  tr.dispose();
  return {
    backend,
    batch: B,
    gradients,
    steps: n,
    msPerStep: ms,
    samplesPerS: (B * 1000) / ms,
    peakRssMB: peak.rss / 2 ** 20,
    peakTfMB: peak.tfBytes / 2 ** 20,
  };
}

export interface TrainParallelResult {
  backend: string;
  batch: number;
  workers: number;
  steps: number;
  msPerStep: number;
  samplesPerS: number;
}

/** The fast step on `workers` threads (data-parallel, src/train/parallel), timed between logs so start-up is excluded. */
export async function benchTrainParallel(
  backend: string,
  B: number,
  workers: number,
  config: Partial<TrainConfig> = {},
): Promise<TrainParallelResult> {
  // fresh workers start on baseline-compiled wasm and JS; the optimising tiers need some steps
  const steps = B <= 1024 ? 80 : B <= 4096 ? 40 : 10;
  const warm = B <= 1024 ? 40 : B <= 4096 ? 20 : 5;
  const tr = benchTrainer({ ...config, batchSize: B, steps: warm + steps, logEvery: warm, workers });
  let startedAt = 0;
  await tr.run((log) => {
    if (log.step === warm) startedAt = log.elapsed;
  });
  const last = tr.history[tr.history.length - 1];
  const msPerStep = (1000 * (last.elapsed - startedAt)) / (last.step - warm);
  tr.dispose();
  return { backend, batch: B, workers, steps, msPerStep, samplesPerS: (B * 1000) / msPerStep };
}

export interface TargetStepResult {
  backend: string;
  batch: number;
  /** 'plain', 'exact' or 'reference (R = …)'. */
  target: string;
  msPerStep: number;
}

/** The 2-worker step with each regression target (src/train/targets.ts): what a variance-reduced target costs. */
export async function benchRegressionTargets(backend: string, B: number): Promise<TargetStepResult[]> {
  const variants: Partial<TrainConfig>[] = [
    { target: 'plain' },
    { target: 'exact' },
    { target: 'reference', referenceSize: Math.min(512, B) },
    { target: 'reference', referenceSize: B },
  ];
  const out: TargetStepResult[] = [];
  for (const v of variants) {
    const r = await benchTrainParallel(backend, B, 2, v);
    out.push({
      backend,
      batch: B,
      target: v.target === 'reference' ? `reference (R = ${v.referenceSize})` : v.target!,
      msPerStep: r.msPerStep,
    });
  }
  return out;
}

export interface InferResult {
  backend: string;
  predictor: 'plain' | 'folded';
  rows: number;
  msPerCall: number;
  rowsPerS: number;
  /** Seconds of a DDPM pass of `ddpmRows` samples × 1,000 steps. */
  ddpmSeconds: number;
  ddpmRows: number;
  /** Steps actually run; < 1000 means ddpmSeconds is extrapolated. */
  ddpmStepsMeasured: number;
}

/** The predictor, noting peak memory at each call (once per DDPM step). */
function notingPeak(predictor: VelocityPredictor): VelocityPredictor {
  return {
    predict(xt, t) {
      notePeak();
      return predictor.predict(xt, t);
    },
  };
}

/** Seconds of ddpmSample over the first `steps` of the scheduler's timesteps (a full pass has 1,000). */
async function ddpmPassSeconds(predictor: VelocityPredictor, n: number, steps: number): Promise<number> {
  // step() depends only on t, so a scheduler with the first timesteps runs the start of a full pass.
  const partial = new DDPMScheduler(TUTORIAL_SCHEDULER);
  partial.timesteps = scheduler.timesteps.slice(0, steps);
  const r = await ddpmSample({
    predictor: notingPeak(predictor),
    scheduler: partial,
    n,
    rng: new Rng(1).fork('bench-sample'),
  });
  return r.seconds;
}

/** DDPM steps to time: the folded predictor's full pass with --full; the plain one's full pass would take minutes. */
function ddpmStepsToMeasure(which: 'plain' | 'folded', o: Options, slow: boolean): number {
  if (o.full && !slow && which === 'folded') return scheduler.timesteps.length;
  return slow ? 3 : which === 'plain' ? 10 : o.quick ? 30 : 100;
}

export async function benchInfer(
  backend: string,
  which: 'plain' | 'folded',
  o: Options,
  slow: boolean,
): Promise<InferResult> {
  const rows = 10_000;
  const tr = benchTrainer({ batchSize: 256, steps: 10 });
  for (let i = 0; i < 3; i++) tr.trainStep(); // running statistics away from their initial values
  const folded = which === 'folded' ? modelVelocity(tr.model, tr.ema.values) : null;
  const predictor = folded ?? plainModelVelocity(tr.model, tr.ema.values);
  const x = tf.randomNormal([rows, 1]) as tf.Tensor2D;
  let t = 0;
  const { ms } = timeIt(
    () => {
      t = (t + 37) % 1000;
      const v = predictor.predict(x, t);
      v.dataSync();
      v.dispose();
    },
    { warmup: slow ? 1 : 3, minSteps: slow ? 2 : 10, minSeconds: slow ? 1 : Math.min(o.seconds, 2), maxSeconds: 10 },
  );
  x.dispose();
  const stepsMeasured = ddpmStepsToMeasure(which, o, slow);
  const ddpmSeconds =
    (await ddpmPassSeconds(predictor, rows, stepsMeasured)) * (scheduler.timesteps.length / stepsMeasured);
  folded?.dispose();
  tr.dispose();
  return {
    backend,
    predictor: which,
    rows,
    msPerCall: ms,
    rowsPerS: (rows * 1000) / ms,
    ddpmSeconds,
    ddpmRows: rows,
    ddpmStepsMeasured: stepsMeasured,
  };
}

export interface ParallelDdpmResult {
  backend: string;
  workers: number;
  seconds: number;
}

/** A real 10,000 × 1,000-step DDPM pass split by rows over worker threads (src/sample/parallel). */
export async function benchParallelDdpm(backend: string, workers: number): Promise<ParallelDdpmResult> {
  const tr = benchTrainer({ batchSize: 256, steps: 10 });
  for (let i = 0; i < 3; i++) tr.trainStep();
  const r = await ddpmSampleModel({
    model: tr.model,
    params: tr.ema.values,
    scheduler,
    n: 10_000,
    rng: new Rng(1).fork('bench-sample'),
    workers,
  });
  tr.dispose();
  return { backend, workers, seconds: r.seconds };
}

export interface ProfileResult {
  backend: string;
  batch: number;
  kernelMs: number;
  byKernel: { name: string; ms: number; calls: number }[];
  /** The largest matMuls: shapes and achieved GFLOP/s. */
  matMuls: { a: number[]; b: number[]; ms: number; gflops: number }[];
}

export async function profileFastStep(backend: string, B: number): Promise<ProfileResult> {
  const tr = benchTrainer({ batchSize: B, steps: 1000 });
  for (let i = 0; i < 3; i++) tr.trainStep();
  const prof = await tf.profile(() => {
    tr.trainStep();
  });
  tr.dispose();
  // tf.fused.matMul also appears as the op 'fusedMatMul__op' wrapping its _FusedMatMul kernel: count kernels only
  const kernels = prof.kernels.filter((k) => !k.name.endsWith('__op'));
  const agg = new Map<string, { ms: number; calls: number }>();
  for (const k of kernels) {
    const a = agg.get(k.name) ?? { ms: 0, calls: 0 };
    a.ms += k.kernelTimeMs as number;
    a.calls += 1;
    agg.set(k.name, a);
  }
  const byKernel = [...agg].map(([name, v]) => ({ name, ...v })).sort((a, b) => b.ms - a.ms);
  const matMuls = kernels
    .filter((k) => k.name === 'BatchMatMul' || k.name === '_FusedMatMul')
    .map((k) => {
      // _FusedMatMul's operands are [1, M, K] and [1, K, N]
      const [a, b] = (k.inputShapes as number[][]).slice(0, 2).map((shape) => shape.slice(-2));
      const flops = 2 * a[0] * a[1] * b[1];
      return { a, b, ms: k.kernelTimeMs as number, gflops: flops / (k.kernelTimeMs as number) / 1e6 };
    })
    .filter((m) => m.ms > 0.5)
    .sort((x, y) => y.ms - x.ms);
  return { backend, batch: B, kernelMs: byKernel.reduce((s, k) => s + k.ms, 0), byKernel, matMuls };
}
