// DDPM noise scheduler, numerically equal to diffusers' FlaxDDPMScheduler
// (diffusers/schedulers/scheduling_ddpm_flax.py: set_timesteps, step, _get_variance; the noising
// and velocity helpers add_noise_common and get_velocity_common of scheduling_utils_flax.py; the
// same in every diffusers release from 0.13 to the last one with Flax). The schedule tables are
// computed in float64 and only the per-step coefficients are cast to float32, so results are at
// least as accurate as JAX's.
import { linspace } from '../math/grid';
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../math/rng';
import { posteriorCoefficients } from './posterior';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'sample' | 'v_prediction';
export type VarianceType = 'fixed_small' | 'fixed_large';

export interface DDPMSchedulerConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  clipSample: boolean;
  predictionType: PredictionType;
  varianceType: VarianceType;
}

/** The tutorial's scheduler: diffusers' defaults except no clipping and v-prediction. */
export const TUTORIAL_SCHEDULER: Partial<DDPMSchedulerConfig> = {
  numTrainTimesteps: 1000,
  clipSample: false,
  predictionType: 'v_prediction',
  varianceType: 'fixed_small',
};

const DEFAULTS: DDPMSchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  clipSample: true,
  predictionType: 'epsilon',
  varianceType: 'fixed_small',
};

export interface StepOptions {
  /** The standard-normal variate to add (same shape as the sample). */
  noise?: tf.Tensor;
  /** Where to draw that variate from when `noise` is not given. */
  rng?: Rng;
}

export interface StepOutput {
  prevSample: tf.Tensor;
  predOriginalSample: tf.Tensor;
}

export class DDPMScheduler {
  readonly config: DDPMSchedulerConfig;
  readonly betas: number[];
  readonly alphas: number[];
  readonly alphasCumprod: number[];
  readonly initNoiseSigma = 1.0;
  timesteps: number[];
  numInferenceSteps: number | null = null;
  private coefficientTensors: { sqrtAlphaBar: tf.Tensor1D; sqrtOneMinusAlphaBar: tf.Tensor1D } | null = null;
  private coefficientValues: { sqrtAlphaBar: Float32Array; sqrtOneMinusAlphaBar: Float32Array } | null = null;

  constructor(options: Partial<DDPMSchedulerConfig> = {}) {
    for (const key of Object.keys(options)) {
      if (!(key in DEFAULTS)) throw new Error(`DDPMScheduler: unknown option '${key}'`);
    }
    const config = { ...DEFAULTS, ...stripUndefined(options) };
    validateConfig(config);
    this.config = config;
    this.betas = makeBetas(config);
    this.alphas = this.betas.map((b) => 1 - b);
    let prod = 1;
    this.alphasCumprod = this.alphas.map((a) => (prod *= a));
    this.timesteps = descending(config.numTrainTimesteps, 1);
  }

  get numTrainTimesteps(): number {
    return this.config.numTrainTimesteps;
  }

  /** Inference timesteps: (0..n-1)·(N div n), descending. Flax's step still moves to t − 1. */
  setTimesteps(numInferenceSteps: number): void {
    const N = this.config.numTrainTimesteps;
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > N) {
      throw new Error(`setTimesteps: numInferenceSteps must be an integer in [1, ${N}], got ${numInferenceSteps}`);
    }
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = descending(numInferenceSteps, Math.floor(N / numInferenceSteps));
  }

  /** √ᾱ_t·x0 + √(1−ᾱ_t)·noise, per example. */
  addNoise(x0: tf.Tensor, noise: tf.Tensor, timesteps: tf.Tensor): tf.Tensor {
    return tf.tidy(() => noisySample(this.gatherCoefficients(timesteps, x0), x0, noise));
  }

  /** The v-prediction target √ᾱ_t·noise − √(1−ᾱ_t)·x0. */
  getVelocity(x0: tf.Tensor, noise: tf.Tensor, timesteps: tf.Tensor): tf.Tensor {
    return tf.tidy(() => velocityTarget(this.gatherCoefficients(timesteps, x0), x0, noise));
  }

  /**
   * addNoise and getVelocity of the same examples (a training step's inputs), with the timesteps
   * as host integers: the coefficients are looked up once, on the host, with the same float32
   * values addNoise gathers.
   */
  noisySampleAndVelocity(
    x0: tf.Tensor,
    noise: tf.Tensor,
    timesteps: Int32Array,
  ): { xt: tf.Tensor; velocity: tf.Tensor } {
    return tf.tidy(() => {
      const c = this.lookUpCoefficients(timesteps, x0);
      return { xt: noisySample(c, x0, noise), velocity: velocityTarget(c, x0, noise) };
    });
  }

  /** One reverse step x_t → x_{t−1} (t is one integer timestep for the whole batch). */
  step(modelOutput: tf.Tensor, t: number, sample: tf.Tensor, options: StepOptions = {}): StepOutput {
    const N = this.config.numTrainTimesteps;
    if (!Number.isInteger(t) || t < 0 || t >= N)
      throw new Error(`step: timestep must be an integer in [0, ${N}), got ${t}`);
    if (!tf.util.arraysEqual(modelOutput.shape, sample.shape)) {
      throw new Error(`step: modelOutput shape [${modelOutput.shape}] differs from sample shape [${sample.shape}]`);
    }
    const c = this.stepCoefficients(t);
    let noise: tf.Tensor | null = null;
    if (t > 0) {
      if (options.noise) {
        if (!tf.util.arraysEqual(options.noise.shape, sample.shape)) {
          throw new Error(`step: noise shape [${options.noise.shape}] differs from sample shape [${sample.shape}]`);
        }
        noise = options.noise;
      } else if (options.rng) {
        noise = tf.tensor(options.rng.normals(sample.size), sample.shape, 'float32');
      } else {
        throw new Error('step: pass { noise } or a seeded { rng } for t > 0');
      }
    }
    const out = tf.tidy(() => {
      let x0: tf.Tensor;
      const { predictionType } = this.config;
      if (predictionType === 'epsilon')
        x0 = tf.div(tf.sub(sample, tf.mul(c.sqrtBetaProd, modelOutput)), c.sqrtAlphaBar);
      else if (predictionType === 'sample') x0 = tf.clone(modelOutput);
      else x0 = tf.sub(tf.mul(c.sqrtAlphaBar, sample), tf.mul(c.sqrtBetaProd, modelOutput));
      if (this.config.clipSample) x0 = tf.clipByValue(x0, -1, 1);
      let prev = tf.add(tf.mul(c.coefX0, x0), tf.mul(c.coefXt, sample));
      if (noise) prev = tf.add(prev, tf.mul(c.std, noise));
      return { prevSample: prev, predOriginalSample: x0 };
    });
    if (noise && !options.noise) noise.dispose();
    return out;
  }

  /** Scalar coefficients of step(t), in float64. */
  stepCoefficients(t: number): {
    sqrtAlphaBar: number;
    sqrtBetaProd: number;
    coefX0: number;
    coefXt: number;
    std: number;
  } {
    const alphaBar = this.alphasCumprod[t];
    const alphaBarPrev = t > 0 ? this.alphasCumprod[t - 1] : 1.0;
    const beta = this.betas[t];
    const posterior = posteriorCoefficients(alphaBar, alphaBarPrev, beta, this.alphas[t]);
    const variance = this.config.varianceType === 'fixed_small' ? Math.max(posterior.variance, 1e-20) : beta;
    return {
      sqrtAlphaBar: Math.sqrt(alphaBar),
      sqrtBetaProd: Math.sqrt(1 - alphaBar),
      coefX0: posterior.coefX0,
      coefXt: posterior.coefXt,
      std: t > 0 ? Math.sqrt(variance) : 0,
    };
  }

  /** Free the cached coefficient tensors. */
  dispose(): void {
    if (this.coefficientTensors) {
      tf.dispose(this.coefficientTensors);
      this.coefficientTensors = null;
    }
  }

  /** √ᾱ_t and √(1−ᾱ_t) per example, shaped [B, 1, …] to broadcast against x. */
  private gatherCoefficients(timesteps: tf.Tensor, x: tf.Tensor): [tf.Tensor, tf.Tensor] {
    if (timesteps.rank !== 1 || timesteps.shape[0] !== x.shape[0]) {
      throw new Error(
        `timesteps must have shape [${x.shape[0]}] to match x of shape [${x.shape}], got [${timesteps.shape}]`,
      );
    }
    if (timesteps.dtype !== 'int32') throw new Error(`timesteps must be int32, got ${timesteps.dtype}`);
    if (!this.coefficientTensors || this.coefficientTensors.sqrtAlphaBar.isDisposed) {
      const v = this.coefficientTable();
      this.coefficientTensors = tf.tidy(() => ({
        sqrtAlphaBar: tf.keep(tf.tensor1d(v.sqrtAlphaBar)),
        sqrtOneMinusAlphaBar: tf.keep(tf.tensor1d(v.sqrtOneMinusAlphaBar)),
      }));
    }
    const { sqrtAlphaBar, sqrtOneMinusAlphaBar } = this.coefficientTensors;
    const shape = broadcastShape(x);
    return [
      tf.gather(sqrtAlphaBar, timesteps).reshape(shape),
      tf.gather(sqrtOneMinusAlphaBar, timesteps).reshape(shape),
    ];
  }

  /** As gatherCoefficients, for timesteps held on the host (no gather kernel, no index upload). */
  private lookUpCoefficients(timesteps: Int32Array, x: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const n = x.shape[0];
    if (timesteps.length !== n) throw new Error(`${timesteps.length} timesteps for x of shape [${x.shape}]`);
    const v = this.coefficientTable();
    const N = this.config.numTrainTimesteps;
    const a = new Float32Array(n);
    const s = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const t = timesteps[i];
      if (!(t >= 0 && t < N)) throw new Error(`timestep ${t} out of [0, ${N})`);
      a[i] = v.sqrtAlphaBar[t];
      s[i] = v.sqrtOneMinusAlphaBar[t];
    }
    const shape = broadcastShape(x);
    return [tf.tensor(a, shape), tf.tensor(s, shape)];
  }

  /** √ᾱ_t and √(1−ᾱ_t) of every timestep, as float32 (cached). */
  private coefficientTable(): { sqrtAlphaBar: Float32Array; sqrtOneMinusAlphaBar: Float32Array } {
    this.coefficientValues ??= {
      sqrtAlphaBar: Float32Array.from(this.alphasCumprod, Math.sqrt),
      sqrtOneMinusAlphaBar: Float32Array.from(this.alphasCumprod, (a) => Math.sqrt(1 - a)),
    };
    return this.coefficientValues;
  }
}

/** [B, 1, …]: per-example coefficients that broadcast against x. */
function broadcastShape(x: tf.Tensor): number[] {
  return [x.shape[0], ...new Array<number>(x.rank - 1).fill(1)];
}

/** √ᾱ_t·x0 + √(1−ᾱ_t)·noise, from the gathered [√ᾱ_t, √(1−ᾱ_t)] (diffusers' add_noise). */
function noisySample([a, s]: [tf.Tensor, tf.Tensor], x0: tf.Tensor, noise: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(a, x0), tf.mul(s, noise));
}

/** √ᾱ_t·noise − √(1−ᾱ_t)·x0, from the gathered [√ᾱ_t, √(1−ᾱ_t)] (diffusers' get_velocity). */
function velocityTarget([a, s]: [tf.Tensor, tf.Tensor], x0: tf.Tensor, noise: tf.Tensor): tf.Tensor {
  return tf.sub(tf.mul(a, noise), tf.mul(s, x0));
}

function makeBetas(c: DDPMSchedulerConfig): number[] {
  const N = c.numTrainTimesteps;
  switch (c.betaSchedule) {
    case 'linear':
      return linspace(c.betaStart, c.betaEnd, N);
    case 'scaled_linear':
      return linspace(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), N).map((b) => b * b);
    case 'squaredcos_cap_v2': {
      const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      return Array.from({ length: N }, (_, i) => Math.min(1 - f((i + 1) / N) / f(i / N), 0.999));
    }
  }
}

function validateConfig(c: DDPMSchedulerConfig): void {
  if (!Number.isInteger(c.numTrainTimesteps) || c.numTrainTimesteps < 2) {
    throw new Error(`DDPMScheduler: numTrainTimesteps must be an integer ≥ 2, got ${c.numTrainTimesteps}`);
  }
  if (!['linear', 'scaled_linear', 'squaredcos_cap_v2'].includes(c.betaSchedule)) {
    throw new Error(
      `DDPMScheduler: betaSchedule '${c.betaSchedule}' is not supported (linear, scaled_linear, squaredcos_cap_v2)`,
    );
  }
  if (!['epsilon', 'sample', 'v_prediction'].includes(c.predictionType)) {
    throw new Error(
      `DDPMScheduler: predictionType '${c.predictionType}' is not supported (epsilon, sample, v_prediction)`,
    );
  }
  if (!['fixed_small', 'fixed_large'].includes(c.varianceType)) {
    // Flax's *_log variants take the square root of a log (NaN) and 'learned*' need a split output.
    throw new Error(`DDPMScheduler: varianceType '${c.varianceType}' is not supported (fixed_small, fixed_large)`);
  }
  if (!(c.betaStart > 0 && c.betaEnd > c.betaStart && c.betaEnd < 1)) {
    throw new Error(`DDPMScheduler: need 0 < betaStart < betaEnd < 1, got ${c.betaStart}, ${c.betaEnd}`);
  }
  if (typeof c.clipSample !== 'boolean') throw new Error('DDPMScheduler: clipSample must be a boolean');
}

function descending(count: number, stride: number): number[] {
  return Array.from({ length: count }, (_, i) => (count - 1 - i) * stride);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
