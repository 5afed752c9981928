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
export function gradientNoise(model: VelocityModel, scheduler: DDPMScheduler, mixture: GaussianMixture, o: GradientNoiseOptions): GradientNoiseBand[] {
  const { edges, batches, rows } = o;
  if (!(Number.isInteger(batches) && batches >= 2)) throw new Error(`gradientNoise: batches must be an integer ≥ 2, got ${batches}`);
  if (!(Number.isInteger(rows) && rows >= 2)) throw new Error(`gradientNoise: rows must be an integer ≥ 2, got ${rows}`);
  if (edges[0] !== 0 || edges[edges.length - 1] !== scheduler.numTrainTimesteps || edges.some((e, i) => i > 0 && !(e > edges[i - 1]))) {
    throw new Error(`gradientNoise: edges must rise from 0 to ${scheduler.numTrainTimesteps}, got [${edges}]`);
  }
  const root = new Rng(o.seed ?? 0, 'gradient noise');
  const problem = { mixture, scheduler, referenceSize: o.referenceSize ?? null };
  return edges.slice(0, -1).map((from, band) => {
    const to = edges[band + 1];
    const rng = root.fork(`band ${band}`);
    const grads: Float64Array[] = [];
    for (let k = 0; k < batches; k++) {
      const x0 = mixture.sample(rows, rng.fork(`data ${k}`));
      const noise = rng.fork(`noise ${k}`).normals(rows);
      const timesteps = Int32Array.from(rng.fork(`t ${k}`).ints(rows, to - from), (t) => t + from);
      const target = targetFunction(o.target, problem, { x0, timesteps }, 0, rows);
      const x0t = tf.tensor2d(x0, [rows, 1]);
      const noiset = tf.tensor2d(noise, [rows, 1]);
      const result = fastGradients(model, scheduler, { x0: x0t, noise: noiset, timesteps, target }, rng.fork(`dropout ${k}`));
      const flat = [...result.grads.values()].flatMap((g) => Array.from(g.dataSync()));
      grads.push(Float64Array.from(flat));
      tf.dispose([x0t, noiset, result.loss, ...result.grads.values()]);
      disposeMoments(result.moments);
    }
    const P = grads[0].length;
    const mean = new Float64Array(P);
    for (const g of grads) for (let i = 0; i < P; i++) mean[i] += g[i] / batches;
    let spread = 0;
    for (const g of grads) for (let i = 0; i < P; i++) spread += (g[i] - mean[i]) ** 2;
    const noiseSq = spread / (batches - 1);
    const meanSq = mean.reduce((a, m) => a + m * m, 0);
    return { from, to, signal: Math.sqrt(Math.max(meanSq - noiseSq / batches, 0)), noise: Math.sqrt(noiseSq) };
  });
}
