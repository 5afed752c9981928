// The two ways a training step gets its loss, gradients and BatchNorm batch moments: the
// hand-written backpropagation (model/backprop.ts) and tfjs autograd over VelocityModel.forward.
// Both draw the dropout masks from the same stream in the same order, so they differ only by
// float32 rounding.
import * as tf from '@tensorflow/tfjs';
import { velocityLossAndGrads, type BatchShard, type LossAndGrads } from '../model/backprop';
import type { BatchMoments, VelocityModel } from '../model/model';
import type { DDPMScheduler } from '../diffusion/scheduler';
import type { Rng } from '../math/rng';
import type { GradientMode } from './config';
import type { TargetFunction } from './targets';

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
  const { xt, velocity } = scheduler.noisySampleAndVelocity(rows.x0, rows.noise, rows.timesteps) as { xt: tf.Tensor2D; velocity: tf.Tensor2D };
  if (!rows.target) return { xt, target: velocity };
  velocity.dispose();
  return { xt, target: tf.tensor2d(rows.target(xt.dataSync() as Float32Array), xt.shape) };
}

/** The loss mean((v̂(x_t, t) − v)²) of `rows`, its gradient for every parameter and the batch moments. */
export type GradientFunction = (model: VelocityModel, scheduler: DDPMScheduler, rows: BatchRows, dropoutRng: Rng, shard?: BatchShard) => LossAndGrads;

/** Hand-written backpropagation; with `shard`, the loss and gradients of the whole batch. */
export function fastGradients(model: VelocityModel, scheduler: DDPMScheduler, rows: BatchRows, dropoutRng: Rng, shard?: BatchShard): LossAndGrads {
  const { xt, target } = inputAndTarget(scheduler, rows);
  const result = velocityLossAndGrads(model, { xt, target, timesteps: rows.timesteps, dropoutRng, shard });
  tf.dispose([xt, target]);
  return result;
}

/** tf.variableGrads over VelocityModel.forward: the reference for fastGradients (one thread only). */
export function autogradGradients(model: VelocityModel, scheduler: DDPMScheduler, rows: BatchRows, dropoutRng: Rng, shard?: BatchShard): LossAndGrads {
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
}

export const GRADIENT_FUNCTIONS: Record<GradientMode, GradientFunction> = { fast: fastGradients, autograd: autogradGradients };
