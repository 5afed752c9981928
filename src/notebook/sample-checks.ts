// The checks a notebook publishes for a set of samples: each mode's weight, mean and std and the
// KS statistic against exact sampling at the same n, or against another target such as a
// deterministic sampler's own output (src/eval/sample-bars.ts), and a trained sampler against the
// exact one on common random numbers (src/eval/coupled.ts).
import type { CoupledComparison } from '../eval/coupled';
import type { SampleReport } from '../eval/metrics';
import { judgeSamples, STANDARD_ERRORS, worstRatio, type Judgement } from '../eval/sample-bars';
import { exactSamplingW1 } from '../eval/tolerances';
import type { GaussianMixture } from '../math/mixture';
import { check, type Check } from './checks';
import { formatNumber } from './tables';

/**
 * One check per judgement, named `${label}: mode 2 std` and so on. The value is
 * |sampled − expected|, the threshold the judgement's bar (4 standard errors of the target at
 * that n); the detail shows the sampled and expected values and what was expected, and which
 * statistics of a nearly empty mode are not judged. `trained`: the samples come from a trained
 * network (what the regression baseline allows them to move, ../../scripts/runner/baseline.ts).
 */
export function judgementChecks(
  label: string,
  judgements: Judgement[],
  target = 'exact sampling',
  trained = false,
): Check[] {
  return judgements.map((j) =>
    check(
      `${label}: ${j.name}`,
      Math.abs(j.value - j.expected),
      '<=',
      j.bar,
      `${formatNumber(j.value)} (${target}: ${formatNumber(j.expected)} ± ${formatNumber(j.bar)})${j.note ? `; ${j.note}` : ''}`,
      { se: j.se, trained },
    ),
  );
}

/** Every mode's weight, mean and std and the KS statistic against exact sampling at the report's n. */
export function modeChecks(label: string, report: SampleReport, mixture: GaussianMixture, trained = false): Check[] {
  return judgementChecks(label, judgeSamples(report, mixture), 'exact sampling', trained);
}

/**
 * For samples that must fail, such as the tutorial's plain Langevin: the worst judgement's
 * |sampled − expected| ÷ bar must exceed 1, so the failure the prose describes is one the bars
 * see at this n.
 */
export function mustFailCheck(
  label: string,
  judgements: Judgement[],
  target = 'exact sampling',
  trained = false,
): Check {
  const worst = worstRatio(judgements);
  // in units of a bar, one standard error is 1/z of one
  return check(
    `${label}: outside ${target}'s bars (worst |error| ÷ bar)`,
    worst.ratio,
    '>',
    1,
    `worst: ${worst.name}`,
    {
      se: 1 / STANDARD_ERRORS,
      trained,
    },
  );
}

/**
 * The W1 distance between a trained sampler's outputs and the exact sampler's on the same noise
 * must stay under the W1 that n exact samples lie from the mixture on average (exactSamplingW1).
 * With the sampling noise both runs share cancelled, this holds the model's own error in
 * distribution below what sampling noise alone produces at this n. Its value comes from a trained
 * network; the bar counts as z standard errors, as the other bars do.
 */
export function coupledCheck(label: string, coupled: CoupledComparison, mixture: GaussianMixture): Check {
  const floor = exactSamplingW1(mixture, coupled.n);
  return check(
    `${label}: W1 to the exact run on the same noise`,
    coupled.w1,
    '<=',
    floor,
    `bar: the mean W1 of ${coupled.n.toLocaleString('en-US')} exact samples to the mixture; pairs: mean |x_model − x_exact| ${formatNumber(coupled.meanAbs)}, median ${formatNumber(coupled.median)}`,
    { se: floor / STANDARD_ERRORS, trained: true },
  );
}
