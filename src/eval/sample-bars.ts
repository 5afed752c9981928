// Judging a set of samples the way a reader judges its histogram, mode by mode: is each mode's
// weight, mean and width what exact samples would give, within their sampling noise at this n?
//
// Each bar is Z standard errors of that statistic for n exact samples (./mode-expectations), so
// exact samples fail one such check with probability about 6e-5 (two-sided normal tail at 4),
// and the bar shrinks like 1/√n: a 10,000-sample check sees a middle mode 8 % too wide, a
// 1,000-sample check only one 27 % too wide. The KS bar has the same tail probability under
// Kolmogorov's limit law, P(√n·D > x) ≈ 2·exp(−2x²), with Stephens' finite-n correction.
import type { GaussianMixture } from '../math/mixture';
import { ksStatistic, ksStatisticTo, modeStats, type ModeStats, type SampleReport } from './metrics';
import { expectedModeStats, modeStandardErrors, modeStatsOfPoints, type ModeExpectation } from './mode-expectations';

/** Standard errors a statistic of exact samples may stray. */
export const STANDARD_ERRORS = 4;

/** The two-sided normal tail beyond z standard errors. */
function normalTail(z: number): number {
  // erfc(z/√2) by its continued fraction is plenty for z ≥ 2; below, the bars are not meant to be used
  if (z < 2) throw new Error(`a bar of ${z} standard errors fails exact samples too often`);
  let k = z;
  for (let n = 60; n >= 1; n--) k = z + n / k;
  return (2 * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI) / k;
}

/** The KS statistic that n exact samples exceed with the tail probability of z standard errors. */
export function ksBar(n: number, z = STANDARD_ERRORS): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`ksBar: n must be a positive integer, got ${n}`);
  const x = Math.sqrt(Math.log(2 / normalTail(z)) / 2);
  const sqrtN = Math.sqrt(n);
  return x / (sqrtN + 0.12 + 0.11 / sqrtN);
}

export interface Judgement {
  /** What is compared, e.g. "mode 2 std". */
  name: string;
  value: number;
  expected: number;
  /** |value − expected| must not exceed it. */
  bar: number;
  pass: boolean;
}

/**
 * What a set of samples is judged against: exact sampling from the mixture, or the output
 * distribution of a deterministic sampler, given by its outputs for the quantiles of its noise.
 */
export interface SampleTarget {
  /** For messages: "exact sampling", "DDIM 50 steps with the exact score", … */
  name: string;
  modes: ModeExpectation[];
  /** The KS statistic of samples against the target. */
  ks: (samples: ArrayLike<number>) => number;
  /** Extra room for KS: how far the target's own CDF may be off (1/N for N points). */
  ksSlack: number;
}

export function exactSampling(mixture: GaussianMixture): SampleTarget {
  return { name: 'exact sampling', modes: expectedModeStats(mixture), ks: (s) => ksStatistic(s, mixture), ksSlack: 0 };
}

/** A distribution given by equally weighted points (which must cover it: thousands at least). */
export function pointsTarget(name: string, points: ArrayLike<number>, mixture: GaussianMixture): SampleTarget {
  const sorted = Float64Array.from(points).sort();
  return { name, modes: modeStatsOfPoints(sorted, mixture), ks: (s) => ksStatisticTo(s, sorted), ksSlack: 1 / sorted.length };
}

function judgeStats(modes: ModeStats[], ks: number, n: number, target: SampleTarget, z: number): Judgement[] {
  const errors = modeStandardErrors(target.modes, n);
  const judge = (name: string, value: number, want: number, bar: number): Judgement => ({
    name,
    value,
    expected: want,
    bar,
    // NaN (an empty mode) fails
    pass: Math.abs(value - want) <= bar,
  });
  return [
    ...modes.flatMap((m, k) => [
      judge(`mode ${k + 1} weight`, m.weight, target.modes[k].weight, z * errors[k].weight),
      judge(`mode ${k + 1} mean`, m.mean, target.modes[k].mean, z * errors[k].mean),
      judge(`mode ${k + 1} std`, m.std, target.modes[k].std, z * errors[k].std),
    ]),
    judge('KS statistic', ks, 0, ksBar(n, z) + target.ksSlack),
  ];
}

/** Every mode's weight, mean and std, and the KS statistic, against exact sampling at the report's n. */
export function judgeSamples(report: SampleReport, mixture: GaussianMixture, z = STANDARD_ERRORS): Judgement[] {
  const n = report.modes.reduce((a, m) => a + m.count, 0);
  return judgeStats(report.modes, report.ks, n, exactSampling(mixture), z);
}

/** The same judgement against any target: the bars are the target's standard errors at n. */
export function judgeSamplesAgainst(samples: ArrayLike<number>, mixture: GaussianMixture, target: SampleTarget, z = STANDARD_ERRORS): Judgement[] {
  return judgeStats(modeStats(samples, mixture), target.ks(samples), samples.length, target, z);
}
