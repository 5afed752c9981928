// The checks a notebook publishes for a set of samples: each mode's weight, mean and std and the
// KS statistic against exact sampling at the same n (src/eval/sample-bars.ts), and a trained
// sampler against the exact one on common random numbers (src/eval/coupled.ts).
import type { CoupledComparison } from '../eval/coupled';
import type { SampleReport } from '../eval/metrics';
import { judgeSamples } from '../eval/sample-bars';
import { exactSamplingW1, samplingTolerances } from '../eval/tolerances';
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
 * The W1 distance between a trained sampler's outputs and the exact sampler's on the same noise
 * must stay under the W1 bar that n exact samples pass (samplingTolerances: above the largest W1
 * to the mixture that exact samples reached over 20 seeds). With the sampling noise both runs
 * share cancelled, this holds the model's own error in distribution to what sampling noise alone
 * can produce at this n, the standard the per-mode bars set.
 */
export function coupledCheck(label: string, coupled: CoupledComparison, mixture: GaussianMixture): Check {
  return check(
    `${label}: W1 to the exact run on the same noise`,
    coupled.w1,
    '<=',
    samplingTolerances(coupled.n).w1,
    `pairs: mean |x_model − x_exact| ${formatNumber(coupled.meanAbs)}, median ${formatNumber(coupled.median)}; for scale, ${coupled.n.toLocaleString('en-US')} exact samples lie a W1 of ${formatNumber(exactSamplingW1(mixture, coupled.n))} from the mixture on average`,
  );
}
