// DDPM ancestral sampling through the scheduler (Ho et al. 2020, Algorithm 2), driven by any
// VelocityPredictor: the trained model or the exact mixture (the oracle), so the sampler can be
// tested apart from training.
import * as tf from '@tensorflow/tfjs';
import type { VelocityPredictor } from '../diffusion/predictor';
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
  /** Checked before every step: once aborted, sampling stops with an error. */
  signal?: { readonly aborted: boolean };
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
  let x = tf.tidy(() => tf.mul(tf.tensor2d(rng.normals(n), [n, 1]), scheduler.initNoiseSigma)) as tf.Tensor2D;
  const steps = scheduler.timesteps;
  const every = o.progressEvery ?? 50;
  for (let i = 0; i < steps.length; i++) {
    const t = steps[i];
    if (o.signal?.aborted) {
      x.dispose();
      throw new Error(`ddpmSample: stopped before step ${i + 1} of ${steps.length}`);
    }
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
