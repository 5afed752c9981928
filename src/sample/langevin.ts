// Langevin dynamics with a given score: the tutorial's plain (unadjusted) Langevin, and annealed
// Langevin over a ladder of noise levels (Song & Ermon 2019, Algorithm 1).
import type { ScoreFn } from '../diffusion/predictor';
import { GaussianMixture } from '../math/mixture';
import type { Rng } from '../math/rng';

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
  if (!Number.isInteger(o.steps) || o.steps < 0)
    throw new Error(`langevin: steps must be an integer ≥ 0, got ${o.steps}`);
  const x = Float64Array.from(o.init);
  const noiseScale = Math.sqrt(2 * o.stepSize);
  // A chain that has diverged (inf or NaN) cannot come back, so the score is evaluated only on
  // the live ones; every chain still draws its noise, so the live chains' numbers do not depend
  // on which others diverged.
  let live: Int32Array | null = null; // null: all chains
  for (let s = 0; s < o.steps; s++) {
    if (s % 100 === 0 && s > 0) {
      const finite = Int32Array.from(x.keys()).filter((i) => Number.isFinite(x[i]));
      if (finite.length === 0) break;
      live = finite.length === x.length ? null : finite;
    }
    const g = live === null ? o.score(x) : scatter(live, o.score(Float64Array.from(live, (i) => x[i])), x.length);
    for (let i = 0; i < x.length; i++) x[i] += o.stepSize * g[i] + noiseScale * o.rng.normal();
  }
  return x;
}

/** `values` placed at `indices` of an array of `length`, NaN elsewhere. */
function scatter(indices: Int32Array, values: ArrayLike<number>, length: number): Float64Array {
  const out = new Float64Array(length).fill(NaN);
  for (let k = 0; k < indices.length; k++) out[indices[k]] = values[k];
  return out;
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
  if (!(max > min && min > 0) || !Number.isInteger(n) || n < 2)
    throw new Error('geometricSigmas: need max > min > 0 and n ≥ 2');
  return Array.from({ length: n }, (_, i) => max * (min / max) ** (i / (n - 1)));
}
