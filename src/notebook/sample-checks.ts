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
 * The W1 distance between a trained sampler's outputs and the exact sampler's on the same noise
 * must stay under the W1 distance that n exact samples have from the mixture on average: the
 * model's error in distribution, with the shared sampling noise cancelled, is then smaller than
 * what sampling noise alone hides at this n.
 */
export function coupledCheck(label: string, coupled: CoupledComparison, mixture: GaussianMixture): Check {
  const bar = exactSamplingW1(mixture, coupled.n);
  return check(
    `${label}: W1 to the exact run on the same noise`,
    coupled.w1,
    '<=',
    bar,
    `pairs: mean |x_model − x_exact| ${formatNumber(coupled.meanAbs)}, median ${formatNumber(coupled.median)}; the bar is the mean W1 of ${coupled.n.toLocaleString('en-US')} exact samples to the mixture`,
  );
}
