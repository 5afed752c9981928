// Samplers: DDPM ancestral sampling through the scheduler, and Langevin dynamics (plain and
// annealed) with a given score. Each runs on the trained model or on the exact mixture (the
// oracle), so a sampler can be tested apart from training.
import * as tf from '@tensorflow/tfjs';
import type { ScoreFn, VelocityPredictor } from '../diffusion/predictor';
import { GaussianMixture } from '../math/mixture';
import type { Rng } from '../math/rng';
import type { DDPMScheduler } from '../diffusion/scheduler';

export interface DDPMSampleOptions {
  predictor: VelocityPredictor;
  scheduler: DDPMScheduler;
  n: number;
  /** Stream for the initial noise and every step's noise (only its `normals` is used). */
  rng: Pick<Rng, 'normals'>;
  /** Timesteps at which to keep a copy of x_t (taken before the step at t). */
  snapshotAt?: number[];
  /** Called every `progressEvery` steps with the number of steps done. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
}

export interface DDPMSampleResult {
  samples: Float32Array;
  /** x_t at each requested timestep. */
  snapshots: Map<number, Float32Array>;
  seconds: number;
}

/**
 * Ancestral sampling: x_T ~ N(0, initNoiseSigma²), then x_{t−1} = step(v̂(x_t, t), t, x_t) for
 * every t in scheduler.timesteps. Only v-prediction models are supported here.
 */
export async function ddpmSample(o: DDPMSampleOptions): Promise<DDPMSampleResult> {
  const { scheduler, predictor, n, rng } = o;
  if (scheduler.config.predictionType !== 'v_prediction') {
    throw new Error(`ddpmSample: the scheduler must use v_prediction, got ${scheduler.config.predictionType}`);
  }
  if (!Number.isInteger(n) || n < 1) throw new Error(`ddpmSample: n must be a positive integer, got ${n}`);
  const start = performance.now();
  const wanted = new Set(o.snapshotAt ?? []);
  const snapshots = new Map<number, Float32Array>();
  let x = tf.mul(tf.tensor2d(rng.normals(n), [n, 1]), scheduler.initNoiseSigma) as tf.Tensor2D;
  const steps = scheduler.timesteps;
  const every = o.progressEvery ?? 50;
  for (let i = 0; i < steps.length; i++) {
    const t = steps[i];
    if (wanted.has(t)) snapshots.set(t, Float32Array.from(x.dataSync()));
    const v = predictor.predict(x, t);
    const noise = t > 0 ? tf.tensor2d(rng.normals(n), [n, 1]) : undefined;
    const { prevSample, predOriginalSample } = scheduler.step(v, t, x, { noise });
    tf.dispose([x, v, noise, predOriginalSample].filter((z): z is tf.Tensor => z !== undefined));
    x = prevSample as tf.Tensor2D;
    if (o.onProgress && ((i + 1) % every === 0 || i + 1 === steps.length)) {
      o.onProgress(i + 1, steps.length);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const samples = Float32Array.from(x.dataSync());
  x.dispose();
  return { samples, snapshots, seconds: (performance.now() - start) / 1000 };
}

/** The exact score d/dx log p of a mixture, batched. */
export function mixtureScore(mixture: GaussianMixture): ScoreFn {
  return (x) => mixture.scoreBatch(x);
}

export interface LangevinOptions {
  score: ScoreFn;
  /** ε in x ← x + ε·∇log p(x) + √(2ε)·z. */
  stepSize: number;
  steps: number;
  init: ArrayLike<number>;
  rng: Rng;
}

/** Unadjusted Langevin dynamics, as in the tutorial: x ← x + ε·score(x) + √(2ε)·z. */
export function langevin(o: LangevinOptions): Float64Array {
  if (!(o.stepSize > 0)) throw new Error(`langevin: stepSize must be > 0, got ${o.stepSize}`);
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new Error(`langevin: steps must be an integer ≥ 0, got ${o.steps}`);
  const x = Float64Array.from(o.init);
  const noiseScale = Math.sqrt(2 * o.stepSize);
  for (let s = 0; s < o.steps; s++) {
    // once every chain has diverged (inf or NaN) no step can bring one back
    if (s % 100 === 0 && s > 0 && x.every((v) => !Number.isFinite(v))) break;
    const g = o.score(x);
    for (let i = 0; i < x.length; i++) x[i] += o.stepSize * g[i] + noiseScale * o.rng.normal();
  }
  return x;
}

export interface AnnealedLangevinOptions {
  /** Score at noise level σ (for the mixture: the score of p convolved with N(0, σ²)). */
  scoreAt: (sigma: number) => ScoreFn;
  /** Decreasing noise levels σ_1 > … > σ_L. */
  sigmas: number[];
  stepsPerLevel: number;
  /** Step size at the smallest level; level ℓ uses ε·σ_ℓ²/σ_L² (Song & Ermon 2019). */
  stepSize: number;
  init: ArrayLike<number>;
  rng: Rng;
}

/**
 * Annealed Langevin dynamics: run Langevin at each noise level from large to small. At large σ
 * the smoothed density has no low-density gaps, so samples move between modes in proportion to
 * their weights before the small levels sharpen them.
 */
export function annealedLangevin(o: AnnealedLangevinOptions): Float64Array {
  const sigmas = o.sigmas;
  if (sigmas.length === 0 || sigmas.some((s, i) => !(s > 0) || (i > 0 && s >= sigmas[i - 1]))) {
    throw new Error('annealedLangevin: sigmas must be positive and strictly decreasing');
  }
  const last = sigmas[sigmas.length - 1];
  let x: ArrayLike<number> = o.init;
  for (const sigma of sigmas) {
    x = langevin({
      score: o.scoreAt(sigma),
      stepSize: (o.stepSize * sigma * sigma) / (last * last),
      steps: o.stepsPerLevel,
      init: x,
      rng: o.rng,
    });
  }
  return Float64Array.from(x);
}

/** The score of the mixture smoothed by N(0, σ²): a mixture with stds √(σ_k² + σ²). */
export function smoothedMixtureScore(mixture: GaussianMixture, sigma: number): ScoreFn {
  const smoothed = new GaussianMixture({
    weights: [...mixture.weights],
    means: [...mixture.means],
    stds: mixture.stds.map((s) => Math.sqrt(s * s + sigma * sigma)),
  });
  return mixtureScore(smoothed);
}

/** A geometric ladder of n noise levels from `max` down to `min`. */
export function geometricSigmas(max: number, min: number, n: number): number[] {
  if (!(max > min && min > 0) || !Number.isInteger(n) || n < 2) throw new Error('geometricSigmas: need max > min > 0 and n ≥ 2');
  return Array.from({ length: n }, (_, i) => max * (min / max) ** (i / (n - 1)));
}
