// Judging a set of samples the way a reader judges its histogram, mode by mode: is each mode's
// weight, mean and width what exact samples would give, within their sampling noise at this n?
//
// Each bar is Z standard errors of that statistic for n exact samples (./mode-expectations), so
// exact samples fail one such check with probability about 6e-5 (two-sided normal tail at 4),
// and the bar shrinks like 1/√n: a 10,000-sample check sees a middle mode 8 % too wide, a
// 1,000-sample check only one 27 % too wide. The KS bar has the same tail probability under
// Kolmogorov's limit law, P(√n·D > x) ≈ 2·exp(−2x²), with Stephens' finite-n correction.
//
// A mode that exact sampling leaves (nearly) empty at this n, such as a noised mixture's middle
// component once the modes have merged (it is then never the most likely one), has no mean or
// std to judge: minExpectedCount says from how many expected samples on they are judged.
import type { GaussianMixture } from '../math/mixture';
import { erfc } from '../math/normal';
import { ksStatistic, ksStatisticTo, modeStats, type ModeStats, type SampleReport } from './metrics';
import { expectedModeStats, modeStandardErrors, modeStatsOfPoints, type ModeExpectation } from './mode-expectations';

/** Standard errors a statistic of exact samples may stray. */
export const STANDARD_ERRORS = 4;

/** The two-sided normal tail beyond z standard errors. */
function normalTail(z: number): number {
  // below 2 standard errors, exact samples would fail the bars too often for them to mean anything
  if (z < 2) throw new Error(`a bar of ${z} standard errors fails exact samples too often`);
  return erfc(z / Math.SQRT2);
}

/** The KS statistic that n exact samples exceed with the tail probability of z standard errors. */
export function ksBar(n: number, z = STANDARD_ERRORS): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`ksBar: n must be a positive integer, got ${n}`);
  const x = Math.sqrt(Math.log(2 / normalTail(z)) / 2);
  const sqrtN = Math.sqrt(n);
  return x / (sqrtN + 0.12 + 0.11 / sqrtN);
}

/**
 * The fewest samples a mode must expect (n × its weight) for its mean and std to be judged:
 * ln(1/α), α the tail probability of z standard errors (9.7 at z = 4). A mode's count is about
 * Poisson, so a mode expecting m samples comes out empty, its mean and std undefined (NaN), with
 * probability e^−m: under this m, more often than exact samples may fail a bar. Such a mode is
 * judged by its weight alone, with a bar of at least this many samples: its count is far from
 * normal, and the normal bar, 4√m samples wide, fails exact samples in up to 5 % of runs at small
 * m (one stray sample at m = 0.05); with the floor, in at most 6e-4 (at m ≈ 6), about what the
 * normal bars themselves give at counts near 10.
 */
export function minExpectedCount(z = STANDARD_ERRORS): number {
  return Math.log(1 / normalTail(z));
}

export interface Judgement {
  /** What is compared, e.g. "mode 2 std". */
  name: string;
  value: number;
  expected: number;
  /** |value − expected| must not exceed it. */
  bar: number;
  /** The bar's unit: one standard error of value at this n (for KS, its bar over z, the same tail). */
  se: number;
  pass: boolean;
  /** Why part of a mode is not judged (its mean and std, under minExpectedCount). */
  note?: string;
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
  return {
    name,
    modes: modeStatsOfPoints(sorted, mixture),
    ks: (s) => ksStatisticTo(s, sorted),
    ksSlack: 1 / sorted.length,
  };
}

function judgeStats(modes: ModeStats[], ks: number, n: number, target: SampleTarget, z: number): Judgement[] {
  const errors = modeStandardErrors(target.modes, n);
  const fewest = minExpectedCount(z);
  const judge = (name: string, value: number, want: number, bar: number): Judgement => ({
    name,
    value,
    expected: want,
    bar,
    se: bar / z,
    // NaN (an empty mode) fails
    pass: Math.abs(value - want) <= bar,
  });
  return [
    ...modes.flatMap((m, k) => {
      const expected = n * target.modes[k].weight;
      const weight = judge(
        `mode ${k + 1} weight`,
        m.weight,
        target.modes[k].weight,
        Math.max(z * errors[k].weight, fewest / n),
      );
      if (expected < fewest) {
        weight.note = `mean and std not judged: ${Number(expected.toPrecision(2))} samples expected in this mode, under ${fewest.toPrecision(2)}`;
        return [weight];
      }
      return [
        weight,
        judge(`mode ${k + 1} mean`, m.mean, target.modes[k].mean, z * errors[k].mean),
        judge(`mode ${k + 1} std`, m.std, target.modes[k].std, z * errors[k].std),
      ];
    }),
    judge('KS statistic', ks, 0, ksBar(n, z) + target.ksSlack),
  ];
}

/** Every mode's weight, mean and std, and the KS statistic, against exact sampling at the report's n. */
export function judgeSamples(report: SampleReport, mixture: GaussianMixture, z = STANDARD_ERRORS): Judgement[] {
  const n = report.modes.reduce((a, m) => a + m.count, 0);
  return judgeStats(report.modes, report.ks, n, exactSampling(mixture), z);
}

/** The same judgement against any target: the bars are the target's standard errors at n. */
export function judgeSamplesAgainst(
  samples: ArrayLike<number>,
  mixture: GaussianMixture,
  target: SampleTarget,
  z = STANDARD_ERRORS,
): Judgement[] {
  return judgeStats(modeStats(samples, mixture), target.ks(samples), samples.length, target, z);
}

/**
 * The judgement farthest outside its bar, as |value − expected| ÷ bar (a NaN value counts as the
 * worst, Number.MAX_VALUE): over 1 means a failure, for checks that a broken sampler must fail.
 */
export function worstRatio(judgements: Judgement[]): { ratio: number; name: string } {
  return judgements.reduce(
    (w, j) => {
      const ratio = Math.abs(j.value - j.expected) / j.bar;
      return ratio > w.ratio || Number.isNaN(ratio)
        ? { ratio: Number.isNaN(ratio) ? Number.MAX_VALUE : ratio, name: j.name }
        : w;
    },
    { ratio: 0, name: '' },
  );
}
