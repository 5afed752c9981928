// How far a trained model is from the best possible one, measured with low variance.
//
// For any predictor f, E[(f(x_t) − v)²] = E[(f(x_t) − E[v | x_t])²] + E[Var(v | x_t)]: the loss is
// the Bayes-optimal loss plus an "excess" term. The excess only involves the exact velocity
// E[v | x_t], not the noisy target v, so it can be estimated precisely from far fewer samples
// than the loss itself.
import * as tf from '@tensorflow/tfjs';
import type { GaussianMixture } from '../math/mixture';
import type { TensorMap } from '../model/parameters';
import type { VelocityModel } from '../model/model';
import { Rng } from '../math/rng';
import type { DDPMScheduler } from '../diffusion/scheduler';
import { noiseLevel, noisySample, velocityTarget } from '../diffusion/parameterization';
import { exactVelocity, scoreFromVelocity, type VelocityPredictor } from '../diffusion/predictor';

export interface Evaluation {
  /** E[(f(x_t) − E[v | x_t])²], t uniform. */
  excess: number;
  /** Mean squared error against sampled targets v (noisy; for comparison with training losses). */
  sampledLoss: number;
  /** Excess per timestep. */
  excessPerTimestep: Float64Array;
}

/** Evaluate the model in inference mode at every timestep with `perTimestep` fresh draws each. */
export function evaluateModel(
  model: VelocityModel,
  scheduler: DDPMScheduler,
  mixture: GaussianMixture,
  {
    params,
    perTimestep = 20,
    seed = 0,
    batchRows = 8192,
  }: { params?: TensorMap; perTimestep?: number; seed?: number; batchRows?: number } = {},
): Evaluation {
  const root = new Rng(seed, 'evaluate');
  const dataRng = root.fork('data');
  const noiseRng = root.fork('noise');
  const N = scheduler.numTrainTimesteps;
  const rows = N * perTimestep;
  const t = new Int32Array(rows);
  const xt = new Float32Array(rows);
  const v = new Float32Array(rows);
  const exact = new Float64Array(rows);
  const x0 = mixture.sample(rows, dataRng);
  for (let i = 0; i < rows; i++) {
    t[i] = i % N;
    const ab = scheduler.alphasCumprod[t[i]];
    const c = noiseLevel(ab);
    const eps = noiseRng.normal();
    xt[i] = noisySample(c, x0[i], eps);
    v[i] = velocityTarget(c, x0[i], eps);
    exact[i] = exactVelocity(mixture, xt[i], ab);
  }
  const excessPerTimestep = new Float64Array(N);
  let sampled = 0;
  for (let start = 0; start < rows; start += batchRows) {
    const end = Math.min(rows, start + batchRows);
    const pred = tf.tidy(() => {
      const x = tf.tensor2d(xt.subarray(start, end), [end - start, 1]);
      const ts = tf.tensor1d(t.subarray(start, end), 'int32');
      return model.forward(x, ts, { training: false, params }).output.dataSync();
    });
    for (let i = start; i < end; i++) {
      const p = pred[i - start];
      excessPerTimestep[t[i]] += (p - exact[i]) ** 2 / perTimestep;
      sampled += (p - v[i]) ** 2;
    }
  }
  const excess = excessPerTimestep.reduce((a, b) => a + b, 0) / N;
  return { excess, sampledLoss: sampled / rows, excessPerTimestep };
}

export interface ScoreError {
  t: number;
  /** √(E_p[(ŝ − s)²] / E_p[s²]) under the noised marginal p_t. */
  relative: number;
  /** Root-mean-square error over the grid points where p_t is at least 1 % of its peak … */
  rmsHighDensity: number;
  /** … and where it is below (the gaps between modes and the tails within 4 stds). */
  rmsLowDensity: number;
}

/**
 * The predictor's score ŝ = −ε̂/√(1−ᾱ) against the exact score s of the noised mixture, at each
 * timestep, on a grid of `points` x values spanning every mode ± 4 stds. The score error is the
 * velocity error times √ᾱ/√(1−ᾱ), so the same velocity error costs 100× more at t = 0 than at
 * ᾱ = ½.
 */
export function scoreErrors(
  predictor: VelocityPredictor,
  scheduler: DDPMScheduler,
  mixture: GaussianMixture,
  timesteps: number[],
  { points = 801 }: { points?: number } = {},
): ScoreError[] {
  return timesteps.map((t) => {
    const ab = scheduler.alphasCumprod[t];
    const marginal = mixture.noised(ab);
    const [lo, hi] = marginal.span(4);
    const x = Float64Array.from({ length: points }, (_, i) => lo + ((hi - lo) * i) / (points - 1));
    const exact = marginal.scoreBatch(x);
    const model = scoreFromVelocity(predictor, scheduler, t)(x);
    const density = x.map((xi) => marginal.pdf(xi));
    const peak = Math.max(...density);
    let errWeighted = 0;
    let scoreWeighted = 0;
    const sq = { high: 0, nHigh: 0, low: 0, nLow: 0 };
    for (let i = 0; i < points; i++) {
      const err = (model[i] - exact[i]) ** 2;
      errWeighted += density[i] * err;
      scoreWeighted += density[i] * exact[i] ** 2;
      if (density[i] >= 0.01 * peak) {
        sq.high += err;
        sq.nHigh += 1;
      } else {
        sq.low += err;
        sq.nLow += 1;
      }
    }
    return {
      t,
      relative: Math.sqrt(errWeighted / scoreWeighted),
      rmsHighDensity: Math.sqrt(sq.high / Math.max(sq.nHigh, 1)),
      rmsLowDensity: sq.nLow ? Math.sqrt(sq.low / sq.nLow) : NaN,
    };
  });
}
