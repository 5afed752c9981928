// What a sampler needs from a model: a velocity predictor v̂(x_t, t). The trained network
// (src/model) and the exact answer for the mixture both implement it, so every sampler runs on
// either, and everything else a sampler may want (ε̂, the score) follows from v̂ by the
// conversions of ./parameterization.
import * as tf from '@tensorflow/tfjs';
import type { GaussianMixture } from '../math/mixture';
import { epsFromVelocity, noiseLevel, scoreFromEps, velocityFromX0 } from './parameterization';
import type { DDPMScheduler } from './scheduler';

/** Predicts the v-target for a batch x_t of shape [B, 1] at one timestep. */
export interface VelocityPredictor {
  predict(xt: tf.Tensor2D, t: number): tf.Tensor2D;
}

/** A score function evaluated on a batch (values in place are not modified). */
export type ScoreFn = (x: Float64Array) => Float64Array;

/** A predictor from a closed-form velocity v(x_t, ᾱ_t), evaluated row by row on the host. */
export function closedFormVelocity(
  scheduler: DDPMScheduler,
  velocity: (x: number, alphaBar: number) => number,
): VelocityPredictor {
  return {
    predict(xt, t) {
      const alphaBar = scheduler.alphasCumprod[t];
      const v = Float32Array.from(xt.dataSync(), (x) => velocity(x, alphaBar));
      return tf.tensor2d(v, xt.shape as [number, number]);
    },
  };
}

/** The exact E[v | x_t] of the mixture: the velocity implied by the exact E[x0 | x_t]. */
export function exactVelocity(mixture: GaussianMixture, xt: number, alphaBar: number): number {
  return velocityFromX0(noiseLevel(alphaBar), xt, mixture.posteriorMean(xt, alphaBar));
}

/** The exact E[v | x_t] as a predictor: what a perfect network would predict. */
export function oracleVelocity(mixture: GaussianMixture, scheduler: DDPMScheduler): VelocityPredictor {
  return closedFormVelocity(scheduler, (x, alphaBar) => exactVelocity(mixture, x, alphaBar));
}

/** v̂(x, t) for a plain array of rows. */
export function predictVelocity(predictor: VelocityPredictor, x: ArrayLike<number>, t: number): Float32Array {
  const xt = tf.tensor2d(Float32Array.from(x), [x.length, 1]);
  const v = predictor.predict(xt, t);
  const out = v.dataSync() as Float32Array;
  tf.dispose([xt, v]);
  return out;
}

/** ε̂(x, t) from v̂(x, t). */
export function predictNoise(
  predictor: VelocityPredictor,
  scheduler: DDPMScheduler,
  x: ArrayLike<number>,
  t: number,
): Float64Array {
  const v = predictVelocity(predictor, x, t);
  const c = noiseLevel(scheduler.alphasCumprod[t]);
  return Float64Array.from(v, (vi, i) => epsFromVelocity(c, x[i], vi));
}

/** The score of the noised marginal at timestep t, ∇log p_t(x) = −ε̂/√(1−ᾱ_t), from a velocity predictor. */
export function scoreFromVelocity(predictor: VelocityPredictor, scheduler: DDPMScheduler, t: number): ScoreFn {
  const c = noiseLevel(scheduler.alphasCumprod[t]);
  return (x) => predictNoise(predictor, scheduler, x, t).map((e) => scoreFromEps(c, e));
}

/**
 * The score of the data smoothed by N(0, σ²) (what annealed Langevin needs, chapter 5) from a
 * velocity predictor. x_t = √ᾱ·(x0 + σ_t·ε) with σ_t = √(1−ᾱ_t)/√ᾱ_t, so the smoothed density at
 * σ_t is p_t seen through y = x_t/√ᾱ, and its score at y is √ᾱ·∇log p_t(√ᾱ·y). Uses the
 * timestep whose σ_t is nearest σ (in ratio).
 */
export function smoothedScoreFromVelocity(
  predictor: VelocityPredictor,
  scheduler: DDPMScheduler,
  sigma: number,
): ScoreFn {
  const ratio = (t: number) =>
    Math.abs(Math.log(Math.sqrt((1 - scheduler.alphasCumprod[t]) / scheduler.alphasCumprod[t]) / sigma));
  let t = 0;
  for (let u = 1; u < scheduler.numTrainTimesteps; u++) if (ratio(u) < ratio(t)) t = u;
  const a = Math.sqrt(scheduler.alphasCumprod[t]);
  const score = scoreFromVelocity(predictor, scheduler, t);
  return (y) => score(y.map((v) => a * v)).map((g) => a * g);
}
