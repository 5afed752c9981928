// What a training run is configured with: the TrainConfig fields, the presets, the log entries a
// run reports, and the validation of a configuration.
import { DEFAULT_MODEL_CONFIG, type VelocityModelConfig } from '../model/network';
import type { LinearScheduleOptions } from './optim';
import { TARGET_KINDS, type TargetKind } from './targets';

export type GradientMode = 'fast' | 'autograd';

export interface TrainConfig {
  steps: number;
  batchSize: number;
  seed: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Learning rate at the end of the run. */
  endLearningRate: number;
  warmupSteps: number;
  /** Steps held at the peak before the decay starts. */
  holdSteps: number;
  /** Steps of the linear decay to endLearningRate; null: to the end of the run. */
  decaySteps: number | null;
  emaDecay: number;
  weightDecay: number;
  clipNorm: number;
  /** Report (and read the loss back from the device) every this many steps. */
  logEvery: number;
  /**
   * How gradients are computed: 'fast' (hand-written backpropagation, src/model/training-pass.ts) or
   * 'autograd' (tf.variableGrads over VelocityModel.forward). Same mathematics and the same random
   * streams; results agree within float32 rounding.
   */
  gradients: GradientMode;
  /**
   * Worker threads for data-parallel training (src/train/parallel/coordinator.ts): each takes a
   * block of every batch, and batch statistics and gradients are summed across them, so the
   * mathematics is that of one thread. 1 trains on this thread. Needs the 'fast' gradients.
   */
  workers: number;
  /**
   * Where the diffusion noise comes from: 'independent' (its own stream), or 'data-draw', the
   * tutorial's key reuse, where the noise is the standard normal that drew x0
   * (src/eval/key-reuse.ts). Only for demonstrating that bug.
   */
  diffusionNoise: 'independent' | 'data-draw';
  /**
   * What each row regresses onto (./targets): its own velocity ('plain'), the stable-target average
   * over a reference batch ('reference'), or the mixture's exact E[v | x_t] ('exact').
   */
  target: TargetKind;
  /** Rows of each batch that form the reference of the 'reference' target (1 … batchSize); null: the whole batch. */
  referenceSize: number | null;
}

/**
 * The recipe this project recommends, and the Trainer's default (notebook 03 explains it and
 * measures it): the exact target E[v | x_t], batch 4096, 4,800 steps (19.7 M samples), learning rate
 * 3e-3 after 100 warm-up steps decaying linearly to 0, EMA 0.998. Train it with RECOMMENDED_MODEL.
 * (`workers` is the default on 2 cores; a Trainer given no `workers` uses runtime/backend's
 * defaultWorkers().)
 */
export const RECOMMENDED_TRAINING: TrainConfig = {
  steps: 4800,
  batchSize: 4096,
  seed: 1,
  learningRate: 3e-3,
  endLearningRate: 0,
  warmupSteps: 100,
  holdSteps: 0,
  decaySteps: null,
  emaDecay: 0.998,
  weightDecay: 1e-4,
  clipNorm: 1,
  logEvery: 50,
  gradients: 'fast',
  workers: 2,
  diffusionNoise: 'independent',
  target: 'exact',
  referenceSize: null,
};

/**
 * The model RECOMMENDED_TRAINING trains, and the Trainer's default: the tutorial's network
 * (DEFAULT_MODEL_CONFIG) without dropout. Dropout thins the activations the BatchNorms normalise in
 * training but not at inference, and with fresh data every step there is nothing to overfit.
 */
export const RECOMMENDED_MODEL: VelocityModelConfig = { ...DEFAULT_MODEL_CONFIG, dropout: 0 };

/**
 * The tutorial's recipe as its code has it: 5000 steps on batches of 2^18 = 262,144 rows
 * (make_sharded_data(key, (1 << 18, 1))), optax.linear_schedule(3e-4, 0, 5000, 500), which holds
 * 3e-4 for 500 steps and then decays over the next 5000, so the last step still has 3e-5; EMA 0.9;
 * the network with dropout 0.1 (DEFAULT_MODEL_CONFIG). 1.3 billion samples: hours on two cores.
 */
export const TUTORIAL_TRAINING: TrainConfig = {
  steps: 5000,
  batchSize: 1 << 18,
  seed: 1,
  learningRate: 3e-4,
  endLearningRate: 0,
  warmupSteps: 0,
  holdSteps: 500,
  decaySteps: 5000,
  emaDecay: 0.9,
  weightDecay: 1e-4,
  clipNorm: 1.0,
  logEvery: 50,
  gradients: 'fast',
  workers: 1,
  diffusionNoise: 'independent',
  target: 'plain',
  referenceSize: null,
};

export interface TrainLog {
  step: number;
  /** Mean training loss over the steps since the previous log. */
  loss: number;
  learningRate: number;
  /** Seconds since the run started. */
  elapsed: number;
  /** Estimated seconds left at the current pace. */
  remaining: number;
}

/** The learning-rate schedule a configuration describes: warm-up, hold, then linear decay to the end. */
export function learningRateSchedule(c: TrainConfig): LinearScheduleOptions {
  return {
    peak: c.learningRate,
    end: c.endLearningRate,
    warmupSteps: c.warmupSteps,
    holdSteps: c.holdSteps,
    decaySteps: c.decaySteps ?? Math.max(c.steps - c.warmupSteps - c.holdSteps, 0),
  };
}

export function validateTrainConfig(c: TrainConfig): void {
  const positiveInt = ['steps', 'batchSize', 'logEvery'] as const;
  for (const k of positiveInt) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`TrainConfig: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.decaySteps !== null && !(Number.isInteger(c.decaySteps) && c.decaySteps >= 0))
    throw new Error(`TrainConfig: decaySteps must be an integer ≥ 0 or null, got ${c.decaySteps}`);
  for (const k of ['warmupSteps', 'holdSteps', 'seed'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) throw new Error(`TrainConfig: ${k} must be an integer ≥ 0, got ${c[k]}`);
  }
  for (const k of ['learningRate', 'endLearningRate', 'weightDecay', 'clipNorm'] as const) {
    if (!(Number.isFinite(c[k]) && c[k] >= 0))
      throw new Error(`TrainConfig: ${k} must be a finite number ≥ 0, got ${c[k]}`);
  }
  if (!(c.emaDecay >= 0 && c.emaDecay < 1))
    throw new Error(`TrainConfig: emaDecay must be in [0, 1), got ${c.emaDecay}`);
  if (c.gradients !== 'fast' && c.gradients !== 'autograd')
    throw new Error(`TrainConfig: gradients must be 'fast' or 'autograd', got ${c.gradients}`);
  if (!Number.isInteger(c.workers) || c.workers < 1)
    throw new Error(`TrainConfig: workers must be a positive integer, got ${c.workers}`);
  if (c.workers > 1 && c.gradients !== 'fast') throw new Error("TrainConfig: workers > 1 needs gradients: 'fast'");
  if (c.diffusionNoise !== 'independent' && c.diffusionNoise !== 'data-draw') {
    throw new Error(`TrainConfig: diffusionNoise must be 'independent' or 'data-draw', got ${c.diffusionNoise}`);
  }
  if (!TARGET_KINDS.includes(c.target))
    throw new Error(`TrainConfig: target must be one of ${TARGET_KINDS.join(', ')}, got ${c.target}`);
  if (c.target !== 'plain' && c.diffusionNoise !== 'independent')
    throw new Error("TrainConfig: the key-reuse demonstration (diffusionNoise 'data-draw') trains on target 'plain'");
  if (
    c.target === 'reference' &&
    c.referenceSize !== null &&
    !(Number.isInteger(c.referenceSize) && c.referenceSize >= 1 && c.referenceSize <= c.batchSize)
  ) {
    throw new Error(
      `TrainConfig: referenceSize must be an integer in [1, batchSize = ${c.batchSize}], got ${c.referenceSize}`,
    );
  }
  if (c.workers > c.batchSize) throw new Error(`TrainConfig: ${c.workers} workers for a batch of ${c.batchSize}`);
}
