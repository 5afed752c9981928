// Prose printed from the run: a chapter's sentences and formulas that state a number depending
// on the mixture, the parameters or the samples are built from those values and shown with
// showMarkdown (./display), so the text cannot disagree with the outputs around it.
import { worstRatio, type Judgement } from '../eval/sample-bars';
import type { GaussianMixture } from '../math/mixture';
import { formatNumber } from './tables';

/** The mixture's parameters in TeX: w = (0.3,\ 0.1,\ 0.6),\quad \mu = (…),\quad \sigma = (…). */
export function mixtureTex(mixture: GaussianMixture): string {
  const tuple = (values: readonly number[]) => `(${values.map((v) => formatNumber(v)).join(',\\ ')})`;
  return `w = ${tuple(mixture.weights)},\\quad \\mu = ${tuple(mixture.means)},\\quad \\sigma = ${tuple(mixture.stds)}`;
}

/**
 * What a set of judgements found, for a sentence: "passes all 10 bars (worst: the mode 2 std, at
 * 0.63 of its bar)" or "fails 2 of 3 bars (worst: the mode 1 weight, at 4.7 times its bar)".
 */
export function judgementSummary(judgements: Judgement[]): string {
  const failed = judgements.filter((j) => !j.pass).length;
  const worst = worstRatio(judgements);
  const ratio = worst.ratio === Number.MAX_VALUE ? 'an empty mode' : formatNumber(worst.ratio, 2);
  return failed === 0
    ? `passes all ${judgements.length} bars (worst: the ${worst.name}, at ${ratio} of its bar)`
    : `fails ${failed} of ${judgements.length} bars (worst: the ${worst.name}, at ${ratio} times its bar)`;
}
