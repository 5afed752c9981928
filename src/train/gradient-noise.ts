// Where a training step's information goes: for mini-batches whose timesteps lie in one band, how
// large is the gradient they agree on (the signal) against how far one mini-batch's gradient
// strays from it (the noise)? With the plain v-target most of the loss is the target's own
// variance (src/eval/optimal-loss.ts), and it shows up as gradient noise, most of all at large t; the
// variance-reduced targets (./targets) remove it.
import * as tf from '@tensorflow/tfjs';
import type { DDPMScheduler } from '../diffusion/scheduler';
import type { GaussianMixture } from '../math/mixture';
import { Rng } from '../math/rng';
import { disposeMoments, type VelocityModel } from '../model/model';
import { fastGradients } from './gradients';
import { targetFunction, type TargetKind } from './targets';

export interface GradientNoiseBand {
  /** Timesteps [from, to). */
  from: number;
  to: number;
  /** ‖E g‖ over mini-batches of the band (debiased: ‖ḡ‖² less the noise's share of it). */
  signal: number;
  /** √E‖g − E g‖²: how far one mini-batch's gradient strays. */
  noise: number;
}

export interface GradientNoiseOptions {
  target: TargetKind;
  /** Band edges in timesteps, increasing, from 0 to numTrainTimesteps. */
  edges: number[];
  /** Mini-batches per band (≥ 2) and rows per mini-batch. */
  batches: number;
  rows: number;
  /** Rows of the reference for the 'reference' target (null: the mini-batch). */
  referenceSize?: number | null;
  seed?: number;
}

/** Signal and noise of the mini-batch gradient (all parameters as one vector) in each band of t. */
export function gradientNoise(
  model: VelocityModel,
  scheduler: DDPMScheduler,
  mixture: GaussianMixture,
  o: GradientNoiseOptions,
): GradientNoiseBand[] {
  const { edges, batches, rows } = o;
  if (!(Number.isInteger(batches) && batches >= 2))
    throw new Error(`gradientNoise: batches must be an integer ≥ 2, got ${batches}`);
  if (!(Number.isInteger(rows) && rows >= 2))
    throw new Error(`gradientNoise: rows must be an integer ≥ 2, got ${rows}`);
  if (
    edges[0] !== 0 ||
    edges[edges.length - 1] !== scheduler.numTrainTimesteps ||
    edges.some((e, i) => i > 0 && !(e > edges[i - 1]))
  ) {
    throw new Error(`gradientNoise: edges must rise from 0 to ${scheduler.numTrainTimesteps}, got [${edges}]`);
  }
  const root = new Rng(o.seed ?? 0, 'gradient noise');
  const problem = { mixture, scheduler, referenceSize: o.referenceSize ?? null };
  return edges.slice(0, -1).map((from, band) => {
    const to = edges[band + 1];
    const rng = root.fork(`band ${band}`);
    // Σ_k g_k and Σ_k ‖g_k‖² over the mini-batches, accumulated as each gradient is read
    let sum: Float64Array | null = null;
    let sumSq = 0;
    for (let k = 0; k < batches; k++) {
      const x0 = mixture.sample(rows, rng.fork(`data ${k}`));
      const noise = rng.fork(`noise ${k}`).normals(rows);
      const timesteps = Int32Array.from(rng.fork(`t ${k}`).ints(rows, to - from), (t) => t + from);
      const target = targetFunction(o.target, problem, { x0, timesteps }, 0, rows);
      const x0t = tf.tensor2d(x0, [rows, 1]);
      const noiset = tf.tensor2d(noise, [rows, 1]);
      const result = fastGradients(
        model,
        scheduler,
        { x0: x0t, noise: noiset, timesteps, target },
        rng.fork(`dropout ${k}`),
      );
      const parts = [...result.grads.values()].map((g) => g.dataSync());
      sum ??= new Float64Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const part of parts) {
        for (let i = 0; i < part.length; i++) {
          sum[offset + i] += part[i];
          sumSq += part[i] * part[i];
        }
        offset += part.length;
      }
      tf.dispose([x0t, noiset, result.loss, ...result.grads.values()]);
      disposeMoments(result.moments);
    }
    // Σ‖g_k − ḡ‖² = Σ‖g_k‖² − B‖ḡ‖²
    const meanSq = sum!.reduce((a, s) => a + (s / batches) ** 2, 0);
    const noiseSq = Math.max(sumSq - batches * meanSq, 0) / (batches - 1);
    return { from, to, signal: Math.sqrt(Math.max(meanSq - noiseSq / batches, 0)), noise: Math.sqrt(noiseSq) };
  });
}
