// The training loss mean((v̂ − v)²), its gradient for every parameter and the BatchNorm batch
// moments, computed two ways: by the network's hand-written training pass
// (src/model/training-pass.ts), also across worker threads, and by tfjs autograd over
// VelocityModel.forward. Both draw the dropout masks from the same stream in the same order, so
// they differ only by float32 rounding.
import * as tf from '@tensorflow/tfjs';
import type { VelocityModel } from '../model/model';
import { velocityNetwork, type VelocityModelConfig } from '../model/network';
import type { BatchMoments } from '../model/norm-dense';
import type { TensorMap } from '../model/parameters';
import { exchangeSizes, trainingPass } from '../model/training-pass';
import type { DDPMScheduler } from '../diffusion/scheduler';
import type { Rng } from '../math/rng';
import type { GradientMode } from './config';
import type { TargetFunction } from './targets';

/** Data-parallel training: which rows of the whole batch this thread holds, and how to sum over threads. */
export interface BatchShard {
  /** These rows are rows [start, start + B) of the whole batch. */
  start: number;
  /** Rows of the whole batch. */
  total: number;
  /** Each array summed over the workers, all in one exchange. */
  allReduce: (xs: Float32Array[]) => Float32Array[];
}

export interface LossAndGrads {
  /** mean((v̂ − v)²), the training loss. */
  loss: tf.Scalar;
  /** d loss / d parameter, keyed by the model's parameter names. */
  grads: Map<string, tf.Tensor>;
  /** The batch moments each BatchNorm used (as forward's `moments`). */
  moments: BatchMoments;
}

export interface FastGradInputs {
  /** x_t, [B, 1]. */
  xt: tf.Tensor2D;
  /** The B integer timesteps, as host data. */
  timesteps: ArrayLike<number>;
  /** The v-target, [B, 1]. */
  target: tf.Tensor2D;
  /** Dropout stream; required when the model's dropout > 0. */
  dropoutRng?: Rng;
  /** Parameters to use instead of the model's own. */
  params?: TensorMap;
  /** Data-parallel training: the loss, every batch statistic and every gradient are then the whole batch's. */
  shard?: BatchShard;
}

/**
 * The training loss mean((v̂(x_t, t) − target)²) over the whole batch, by the training pass: its
 * gradient d loss / d v̂ = 2·(v̂ − target)/n goes backward, and the loss's sum rides in the pass's
 * last exchange.
 */
export function velocityLossAndGrads(model: VelocityModel, inputs: FastGradInputs): LossAndGrads {
  const { xt, target, shard } = inputs;
  const B = xt.shape[0];
  const total = shard?.total ?? B;
  if (target.size !== B) throw new Error(`velocityLossAndGrads: target has ${target.size} values for ${B} rows`);
  let grads = new Map<string, tf.Tensor>();
  let moments: BatchMoments = new Map();
  const loss = tf.tidy(() => {
    const rows = shard && { start: shard.start, total: shard.total };
    const pass = trainingPass(model, {
      xt,
      timesteps: inputs.timesteps,
      dropoutRng: inputs.dropoutRng,
      params: inputs.params,
      rows,
      reduce: shard?.allReduce,
    });
    moments = pass.moments;
    const diff = tf.sub(pass.output, target.reshape([B, 1])) as tf.Tensor2D;
    const back = pass.backward(tf.mul(diff, 2 / total) as tf.Tensor2D, [tf.sum(tf.square(diff))]);
    grads = back.grads;
    return tf.scalar(back.sums[0][0] / total);
  });
  return { loss, grads, moments };
}

/** The most floats one exchange of a data-parallel step carries (to size the shared buffers). */
export function largestExchange(config: VelocityModelConfig): number {
  const sizes = exchangeSizes(velocityNetwork(config));
  sizes[sizes.length - 1] += 1; // the loss's sum
  return Math.max(...sizes);
}

/** This thread's rows of one batch. */
export interface BatchRows {
  /** Clean data, [B, 1]. */
  x0: tf.Tensor2D;
  /** Diffusion noise, [B, 1]. */
  noise: tf.Tensor2D;
  /** Timesteps, [B], as host data. */
  timesteps: Int32Array;
  /** The rows' regression targets from their x_t values (./targets); absent: the plain velocity. */
  target?: TargetFunction;
}

/** The network's input x_t and its regression target for `rows`, [B, 1] each. */
function inputAndTarget(scheduler: DDPMScheduler, rows: BatchRows): { xt: tf.Tensor2D; target: tf.Tensor2D } {
  const { xt, velocity } = scheduler.noisySampleAndVelocity(rows.x0, rows.noise, rows.timesteps) as {
    xt: tf.Tensor2D;
    velocity: tf.Tensor2D;
  };
  if (!rows.target) return { xt, target: velocity };
  velocity.dispose();
  return { xt, target: tf.tensor2d(rows.target(xt.dataSync() as Float32Array), xt.shape) };
}

/** The loss mean((v̂(x_t, t) − v)²) of `rows`, its gradient for every parameter and the batch moments. */
export type GradientFunction = (
  model: VelocityModel,
  scheduler: DDPMScheduler,
  rows: BatchRows,
  dropoutRng: Rng,
  shard?: BatchShard,
) => LossAndGrads;

/** Hand-written backpropagation; with `shard`, the loss and gradients of the whole batch. */
export const fastGradients: GradientFunction = (model, scheduler, rows, dropoutRng, shard) => {
  const { xt, target } = inputAndTarget(scheduler, rows);
  const result = velocityLossAndGrads(model, { xt, target, timesteps: rows.timesteps, dropoutRng, shard });
  tf.dispose([xt, target]);
  return result;
};

/** tf.variableGrads over VelocityModel.forward: the reference for fastGradients (one thread only). */
export const autogradGradients: GradientFunction = (model, scheduler, rows, dropoutRng, shard) => {
  if (shard) throw new Error("autograd gradients: data-parallel training needs gradients: 'fast'");
  let moments: BatchMoments | null = null;
  const t = tf.tensor1d(rows.timesteps, 'int32');
  const { xt, target } = inputAndTarget(scheduler, rows);
  const vg = tf.variableGrads(() => {
    const out = model.forward(xt, t, { training: true, dropoutRng });
    moments = out.moments;
    return tf.mean(tf.square(tf.sub(out.output, target))) as tf.Scalar;
  }, [...model.params.values()]);
  tf.dispose([t, xt, target]);
  // variableGrads keys gradients by tfjs's internal variable names; map them to ours
  const grads = new Map([...model.params].map(([name, v]) => [name, vg.grads[v.name]]));
  return { loss: vg.value, grads, moments: moments! };
};

export const GRADIENT_FUNCTIONS: Record<GradientMode, GradientFunction> = {
  fast: fastGradients,
  autograd: autogradGradients,
};
