// Comparing samples with the exact mixture: histograms, per-mode statistics, the 1-Wasserstein
// distance and the Kolmogorov-Smirnov statistic.
import type { GaussianMixture } from '../math/mixture';

export interface Histogram {
  /** bins + 1 edges. */
  edges: number[];
  counts: number[];
  /** counts / (n · bin width): comparable with a pdf. Values outside the range still count in n. */
  density: number[];
}

export function histogram(values: ArrayLike<number>, opts: { bins: number; range?: [number, number] }): Histogram {
  const { bins } = opts;
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`histogram: bins must be a positive integer, got ${bins}`);
  if (values.length === 0) throw new Error('histogram: no values');
  let [lo, hi] = opts.range ?? [Infinity, -Infinity];
  if (!opts.range) {
    for (let i = 0; i < values.length; i++) {
      if (values[i] < lo) lo = values[i];
      if (values[i] > hi) hi = values[i];
    }
    if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  }
  if (!(hi > lo)) throw new Error(`histogram: empty range [${lo}, ${hi}]`);
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v <= hi)) continue;
    counts[Math.min(Math.floor((v - lo) / width), bins - 1)] += 1;
  }
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  const density = counts.map((c) => c / (values.length * width));
  return { edges, counts, density };
}

export interface ModeStats {
  /** Fraction of samples assigned to the mode. */
  weight: number;
  mean: number;
  std: number;
  count: number;
}

/** Assign each sample to the component with the highest posterior responsibility. */
export function assignModes(samples: ArrayLike<number>, mixture: GaussianMixture): Int32Array {
  const out = new Int32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = mixture.mostLikelyComponent(samples[i]);
  return out;
}

/** Per-mode weight, mean and std of samples, by most-likely-component assignment. */
export function modeStats(samples: ArrayLike<number>, mixture: GaussianMixture): ModeStats[] {
  const labels = assignModes(samples, mixture);
  const K = mixture.numComponents;
  const n = new Array<number>(K).fill(0);
  const sum = new Array<number>(K).fill(0);
  const sumSq = new Array<number>(K).fill(0);
  for (let i = 0; i < samples.length; i++) {
    const k = labels[i];
    n[k] += 1;
    sum[k] += samples[i];
  }
  const means = sum.map((s, k) => (n[k] ? s / n[k] : NaN));
  for (let i = 0; i < samples.length; i++) sumSq[labels[i]] += (samples[i] - means[labels[i]]) ** 2;
  return means.map((mean, k) => ({
    weight: n[k] / samples.length,
    mean,
    std: n[k] > 1 ? Math.sqrt(sumSq[k] / (n[k] - 1)) : NaN,
    count: n[k],
  }));
}

/**
 * The largest deviation of sampled mode weights from what exact samples would give under the
 * same assignment rule (mixture.assignmentProbabilities(), e.g. 0.3000/0.1033/0.5967).
 */
export function maxWeightError(stats: ModeStats[], mixture: GaussianMixture): number {
  const expected = mixture.assignmentProbabilities();
  return Math.max(...stats.map((s, k) => Math.abs(s.weight - expected[k])));
}

function sortedCopy(samples: ArrayLike<number>): Float64Array {
  const s = Float64Array.from(samples);
  if (s.some((v) => !Number.isFinite(v))) throw new Error('samples contain NaN or infinite values');
  return s.sort();
}

/**
 * W1 = ∫|F_n(x) − F(x)| dx, computed exactly: between consecutive samples F_n is constant, and
 * ∫F has a closed form, so each piece is integrated analytically (splitting where F crosses F_n).
 */
export function wasserstein1(samples: ArrayLike<number>, mixture: GaussianMixture): number {
  const x = sortedCopy(samples);
  const n = x.length;
  if (n === 0) throw new Error('wasserstein1: no samples');
  const G = (v: number) => mixture.cdfIntegral(v);
  let total = G(x[0]) + mixture.survivalIntegral(x[n - 1]);
  for (let i = 0; i + 1 < n; i++) {
    const [a, b] = [x[i], x[i + 1]];
    if (b === a) continue;
    const c = (i + 1) / n;
    const Fa = mixture.cdf(a);
    const Fb = mixture.cdf(b);
    if (Fa >= c) total += G(b) - G(a) - c * (b - a);
    else if (Fb <= c) total += c * (b - a) - (G(b) - G(a));
    else {
      // F crosses c inside (a, b): bisect for the crossing point
      let [lo, hi] = [a, b];
      for (let it = 0; it < 60 && hi - lo > 1e-13 * (1 + Math.abs(lo)); it++) {
        const mid = 0.5 * (lo + hi);
        if (mixture.cdf(mid) < c) lo = mid;
        else hi = mid;
      }
      const m = 0.5 * (lo + hi);
      total += c * (m - a) - (G(m) - G(a)) + (G(b) - G(m)) - c * (b - m);
    }
  }
  return total;
}

/** Kolmogorov-Smirnov statistic sup |F_n − F|. */
export function ksStatistic(samples: ArrayLike<number>, mixture: GaussianMixture): number {
  const x = sortedCopy(samples);
  const n = x.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const F = mixture.cdf(x[i]);
    d = Math.max(d, (i + 1) / n - F, F - i / n);
  }
  return d;
}

/** Two-sample Kolmogorov-Smirnov statistic sup |F_n − G|, with G the empirical CDF of `reference`. */
export function ksStatisticTo(samples: ArrayLike<number>, reference: ArrayLike<number>): number {
  const x = sortedCopy(samples);
  const r = sortedCopy(reference);
  let [i, j, d] = [0, 0, 0];
  // walk both sorted sets; at each distinct value compare the two CDFs just after it
  while (i < x.length && j < r.length) {
    const v = Math.min(x[i], r[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < r.length && r[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / r.length));
  }
  return Math.max(d, 1 - j / r.length, 1 - i / x.length);
}

export interface SampleReport {
  modes: ModeStats[];
  maxWeightError: number;
  w1: number;
  ks: number;
}

/** Everything we compare a set of samples on. */
export function compareWithMixture(samples: ArrayLike<number>, mixture: GaussianMixture): SampleReport {
  const modes = modeStats(samples, mixture);
  return {
    modes,
    maxWeightError: maxWeightError(modes, mixture),
    w1: wasserstein1(samples, mixture),
    ks: ksStatistic(samples, mixture),
  };
}
