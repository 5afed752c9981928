// What exact samples give, per mode, when samples are assigned to modes by the most-likely-mode
// rule (metrics.modeStats): the expected weight, mean and standard deviation of each mode's
// samples, and how much each statistic varies between sets of n exact samples. A sampler's
// per-mode statistics are judged against these, not against the components' own parameters:
// the rule cuts each component's tails off at the decision boundaries (the middle mode's 0.5
// becomes 0.496, the right mode's mean 6 becomes 6.032), which exact samples show too.
import type { GaussianMixture } from '../math/mixture';
import { normPartialMoments } from '../math/normal';
import { assignModes } from './metrics';

export interface ModeExpectation {
  /** Probability that an exact draw is assigned to the mode. */
  weight: number;
  /** Mean and standard deviation of the draws assigned to it. */
  mean: number;
  std: number;
  /** Their fourth central moment (for the standard error of the std). */
  centralMoment4: number;
}

/** Exact, from the truncated moments of every component over every assignment interval. */
export function expectedModeStats(mixture: GaussianMixture): ModeExpectation[] {
  const K = mixture.numComponents;
  // raw[k][p] = E[X^p · 1{X assigned to k}], p = 0 … 4
  const raw = Array.from({ length: K }, () => new Array<number>(5).fill(0));
  for (const { lo, hi, component } of mixture.assignmentIntervals()) {
    for (let j = 0; j < K; j++) {
      const [mu, sd, w] = [mixture.means[j], mixture.stds[j], mixture.weights[j]];
      const z = normPartialMoments((lo - mu) / sd, (hi - mu) / sd, 4);
      // E[(μ + σZ)^p 1{…}] = Σ_i C(p, i) μ^{p−i} σ^i M_i
      for (let p = 0; p <= 4; p++) {
        let acc = 0;
        for (let i = 0; i <= p; i++) acc += binomial(p, i) * mu ** (p - i) * sd ** i * z[i];
        raw[component][p] += w * acc;
      }
    }
  }
  return raw.map(([m0, m1, m2, m3, m4]) => {
    const mean = m1 / m0;
    const variance = m2 / m0 - mean * mean;
    const centralMoment4 = m4 / m0 - 4 * mean * (m3 / m0) + 6 * mean * mean * (m2 / m0) - 3 * mean ** 4;
    return { weight: m0, mean, std: Math.sqrt(variance), centralMoment4 };
  });
}

/**
 * The same expectations for a distribution given by equally weighted points, such as a
 * deterministic sampler's outputs for the quantiles of its starting noise: the per-mode weight,
 * mean, std and fourth central moment of the points under the same assignment rule.
 */
export function modeStatsOfPoints(points: ArrayLike<number>, mixture: GaussianMixture): ModeExpectation[] {
  const labels = assignModes(points, mixture);
  return Array.from({ length: mixture.numComponents }, (_, k) => {
    const mine = Float64Array.from(
      Array.prototype.filter.call(points, (_: number, i: number) => labels[i] === k) as number[],
    );
    const m = mine.length;
    const mean = mine.reduce((a, x) => a + x, 0) / m;
    const central = (p: number) => mine.reduce((a, x) => a + (x - mean) ** p, 0) / m;
    return { weight: m / points.length, mean, std: Math.sqrt(central(2)), centralMoment4: central(4) };
  });
}

export interface ModeStandardErrors {
  weight: number;
  mean: number;
  std: number;
}

/**
 * Standard errors of each mode's sample weight, mean and std for n exact samples: the binomial
 * error of the weight, σ/√m for the mean and √(μ₄ − σ⁴)/(2σ√m) for the std (the delta method on
 * the sample variance), with m = n·weight samples in the mode.
 */
export function modeStandardErrors(expected: ModeExpectation[], n: number): ModeStandardErrors[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`modeStandardErrors: n must be a positive integer, got ${n}`);
  return expected.map((e) => {
    const m = n * e.weight;
    return {
      weight: Math.sqrt((e.weight * (1 - e.weight)) / n),
      mean: e.std / Math.sqrt(m),
      std: Math.sqrt(Math.max(e.centralMoment4 - e.std ** 4, 0)) / (2 * e.std * Math.sqrt(m)),
    };
  });
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}
