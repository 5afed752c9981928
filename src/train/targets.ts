// What the network regresses onto at each training row. All three have the same expectation given
// x_t, E[v | x_t], so they train toward the same function; they differ in how noisy one row is.
//   plain:     v = √ᾱ·ε − √(1−ᾱ)·x0, the row's own velocity (Salimans & Ho 2022). Its variance
//              given x_t is what x_t cannot reveal: at large t the data's whole spread, at small t ε.
//   reference: E[v | x_t] under the empirical distribution of a reference batch of data points, the
//              row's own x0 included (Xu et al. 2023, "Stable Target Field for Reduced Variance
//              Score Estimation in Diffusion Models"). Uses data samples only, so it works
//              for real data; it tends to the exact target as the reference grows.
//   exact:     E[v | x_t] under the mixture itself, in closed form. Only possible because the data
//              distribution is known: the limit the reference target approaches.
import type { GaussianMixture } from '../math/mixture';
import { noiseLevel, velocityFromX0 } from '../diffusion/parameterization';
import type { DDPMScheduler } from '../diffusion/scheduler';

export type TargetKind = 'plain' | 'reference' | 'exact';

export const TARGET_KINDS: readonly TargetKind[] = ['plain', 'reference', 'exact'];

/** The exact E[v | x_t] of each row: x_t values and their timesteps' ᾱ. */
export function exactTargets(
  mixture: GaussianMixture,
  xt: ArrayLike<number>,
  alphaBars: ArrayLike<number>,
): Float32Array {
  const out = new Float32Array(xt.length);
  for (let i = 0; i < xt.length; i++) {
    const c = noiseLevel(alphaBars[i]);
    out[i] = velocityFromX0(c, xt[i], mixture.posteriorMean(xt[i], alphaBars[i]));
  }
  return out;
}

/** Weights below e^−40 ≈ 4e−18 of the largest are dropped: below float64's resolution of the sum. */
const NEGLIGIBLE_LOG_WEIGHT = 40;

/**
 * A reference batch sorted once, for the stable-target estimate of E[x0 | x_t]: the average of the
 * reference points x0_j weighted by p(x_t | x0_j) = N(x_t; √ᾱ·x0_j, 1−ᾱ). In x0 the weight is a
 * normal centred at x_t/√ᾱ with standard deviation √(1−ᾱ)/√ᾱ, so on the sorted points the
 * weights rise to the point nearest the centre and fall after it: summing outward from there and
 * stopping where they become negligible is exact, and at small t touches only a few points.
 */
export class ReferenceBatch {
  private readonly sorted: Float64Array;

  constructor(points: ArrayLike<number>) {
    if (points.length < 1) throw new Error('ReferenceBatch: no points');
    this.sorted = Float64Array.from(points).sort();
  }

  get size(): number {
    return this.sorted.length;
  }

  /**
   * E[x0 | x_t] under the reference points, plus `own` (the row's own x0) when given: STF's
   * reference always contains the row's own data point.
   */
  posteriorMean(xt: number, alphaBar: number, own?: number): number {
    const { sorted } = this;
    const n = sorted.length;
    const centre = xt / Math.sqrt(alphaBar);
    const scale = (0.5 * alphaBar) / (1 - alphaBar); // 1 / (2·width²)
    // the first point ≥ centre; it or its left neighbour is the nearest
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < centre) lo = mid + 1;
      else hi = mid;
    }
    let nearest = Infinity;
    if (lo < n) nearest = (sorted[lo] - centre) ** 2;
    if (lo > 0) nearest = Math.min(nearest, (sorted[lo - 1] - centre) ** 2);
    if (own !== undefined) nearest = Math.min(nearest, (own - centre) ** 2);
    // weights relative to the largest, exp(−scale·(d² − nearest)); points with d² > reach are negligible
    const reach = nearest + NEGLIGIBLE_LOG_WEIGHT / scale;
    let sum = 0;
    let weighted = 0;
    for (let j = lo - 1; j >= 0; j--) {
      const d2 = (sorted[j] - centre) ** 2;
      if (d2 > reach) break;
      const w = Math.exp(-scale * (d2 - nearest));
      sum += w;
      weighted += w * sorted[j];
    }
    for (let j = lo; j < n; j++) {
      const d2 = (sorted[j] - centre) ** 2;
      if (d2 > reach) break;
      const w = Math.exp(-scale * (d2 - nearest));
      sum += w;
      weighted += w * sorted[j];
    }
    if (own !== undefined) {
      const w = Math.exp(-scale * ((own - centre) ** 2 - nearest));
      sum += w;
      weighted += w * own;
    }
    return weighted / sum;
  }
}

/**
 * The stable-target E[v | x_t] of rows of one batch. Row i's reference is the first
 * `reference.size` rows of the batch, which contain its own x0 when firstBatchRow + i < that size, and
 * otherwise get it added.
 */
export function referenceTargets(
  reference: ReferenceBatch,
  rows: { xt: ArrayLike<number>; x0: ArrayLike<number>; alphaBars: ArrayLike<number>; firstBatchRow: number },
): Float32Array {
  const out = new Float32Array(rows.xt.length);
  for (let i = 0; i < out.length; i++) {
    const ownInside = rows.firstBatchRow + i < reference.size;
    const x0 = reference.posteriorMean(rows.xt[i], rows.alphaBars[i], ownInside ? undefined : rows.x0[i]);
    out[i] = velocityFromX0(noiseLevel(rows.alphaBars[i]), rows.xt[i], x0);
  }
  return out;
}

/** Maps rows' x_t values to their regression targets. */
export type TargetFunction = (xt: Float32Array) => Float32Array;

/**
 * How rows [start, end) of a batch get their targets from their x_t; undefined for the plain
 * velocity (the gradient step forms it with x_t). The reference is the batch's first
 * `referenceSize` rows (null: all of them).
 */
export function targetFunction(
  kind: TargetKind,
  problem: { mixture: GaussianMixture; scheduler: DDPMScheduler; referenceSize: number | null },
  batch: { x0: Float32Array; timesteps: Int32Array },
  start: number,
  end: number,
): TargetFunction | undefined {
  if (kind === 'plain') return undefined;
  const { mixture, scheduler, referenceSize } = problem;
  const alphaBars = Float64Array.from(batch.timesteps.subarray(start, end), (t) => scheduler.alphasCumprod[t]);
  if (kind === 'exact') return (xt) => exactTargets(mixture, xt, alphaBars);
  const reference = new ReferenceBatch(batch.x0.subarray(0, referenceSize ?? batch.x0.length));
  return (xt) =>
    referenceTargets(reference, { xt, x0: batch.x0.subarray(start, end), alphaBars, firstBatchRow: start });
}
