// The checks a notebook publishes for a set of samples: each mode's weight, mean and std and the
// KS statistic against exact sampling at the same n (src/eval/sample-bars.ts), and a trained
// sampler against the exact one on common random numbers (src/eval/coupled.ts).
import type { CoupledComparison } from '../eval/coupled';
import type { SampleReport } from '../eval/metrics';
import { judgeSamples } from '../eval/sample-bars';
import { exactSamplingW1 } from '../eval/tolerances';
import type { GaussianMixture } from '../math/mixture';
import { check, type Check } from './checks';
import { formatNumber } from './tables';

/**
 * One check per mode statistic and one for KS, named `${label}: mode 2 std` and so on. The value
 * is |sampled − expected|, the threshold the bar of 4 standard errors of exact sampling at the
 * report's n; the detail shows the sampled and expected values.
 */
export function modeChecks(label: string, report: SampleReport, mixture: GaussianMixture): Check[] {
  return judgeSamples(report, mixture).map((j) =>
    check(`${label}: ${j.name}`, Math.abs(j.value - j.expected), '<=', j.bar, `${formatNumber(j.value)} (exact sampling: ${formatNumber(j.expected)} ± ${formatNumber(j.bar)})`),
  );
}

/**
 * The mean distance between a trained sampler's outputs and the exact sampler's on the same noise
 * must stay under the W1 distance that n exact samples have from the mixture on average. The mean
 * distance bounds the W1 distance between the two samplers' output distributions, so the model
 * then moves its samples less than the sampling noise of n exact draws.
 */
export function coupledCheck(label: string, coupled: CoupledComparison, mixture: GaussianMixture): Check {
  const bar = exactSamplingW1(mixture, coupled.n);
  return check(
    `${label}: mean |x_model − x_exact| on the same noise`,
    coupled.meanAbs,
    '<=',
    bar,
    `median ${formatNumber(coupled.median)}, 99th percentile ${formatNumber(coupled.p99)}; the bar is the mean W1 of ${coupled.n.toLocaleString('en-US')} exact samples`,
  );
}
